/* core/base/file.h: folders and whole-file writes, the one implementation every writer uses
 * (results, CSVs, checkpoints, datasets, figures, machine descriptions).
 *
 * A file is written whole or not at all: under a temporary name beside it (same folder, so the
 * rename is atomic), fsynced, then renamed over the path, and the folder is fsynced so the rename
 * survives a crash. A failure at any step removes the temporary file. Every writer creates the
 * folders it writes into (mkdir -p), so no command depends on a folder that a fresh clone lacks.
 * Errors are sg_err messages that name the path and the step that failed. */
#pragma once
#include <stddef.h>

#include "core/base/err.h"

/* Creates dir and its parents (mode 0777 & ~umask); folders that exist already are fine; a file
 * (or anything else) in the way is an error naming it. 0, or -1. */
int sg_mkdirs(const char *dir, sg_err *err);

/* sg_mkdirs of the folder that holds path (nothing to do for a name without a '/'). */
int sg_mkdirs_for(const char *path, sg_err *err);

/* A file being written under a temporary name. */
typedef struct {
    int fd;     /* -1 once handed over (sg_atomic_release_fd) or closed */
    char *path; /* the final name */
    char *tmp;  /* "path.tmp.<pid>.<n>": unique within the process and across processes */
} sg_atomic_file;

/* Creates the folders of path and a fresh temporary file beside it. mode < 0: 0666 minus the
 * umask; otherwise exactly that mode (an append keeps the mode of the file it replaces). */
int sg_atomic_open(sg_atomic_file *f, const char *path, int mode, sg_err *err);

/* Writes all of data (retrying short writes). On failure the file is aborted. */
int sg_atomic_write(sg_atomic_file *f, const void *data, size_t bytes, sg_err *err);

/* For writers that need the descriptor itself (gzdopen) or only the name (hwloc's export, a
 * gnuplot terminal): the caller owns the descriptor from now on and must close it before
 * sg_atomic_commit, which then syncs the file by name. Returns the descriptor. */
int sg_atomic_release_fd(sg_atomic_file *f);

/* fsync, close, rename over path, fsync the folder. On failure the temporary file is removed.
 * f is freed either way. */
int sg_atomic_commit(sg_atomic_file *f, sg_err *err);

/* Closes and removes the temporary file; f is freed. Safe on an already freed f. */
void sg_atomic_abort(sg_atomic_file *f);

/* The whole of path from one buffer (open + write + commit). */
int sg_write_file_atomic(const char *path, const void *data, size_t bytes, sg_err *err);

/* 1 when path names something (file, folder, ...) that stat can see, else 0. */
int sg_file_exists(const char *path);
