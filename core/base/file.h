/* core/base/file.h: folders and whole-file writes, the one implementation every writer uses
 * (results, CSVs, checkpoints, datasets, figures, machine descriptions); opening inputs, the one
 * implementation every reader uses; paths built into fixed buffers.
 *
 * A file is written whole or not at all: under a temporary name beside it (same folder, so the
 * rename is atomic), fsynced, then renamed over the path, and the folder is fsynced so the rename
 * survives a crash. A failure at any step removes the temporary file. Every writer creates the
 * folders it writes into (mkdir -p), so no command depends on a folder that a fresh clone lacks.
 * Errors are sg_err messages that name the path and the step that failed. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* ---- inputs ------------------------------------------------------------------------------------
 * Every file stopgrad reads (datasets, config, suite and bench files, CSVs, checkpoints) is opened
 * here, and only when it is a regular file (or a symlink to one). Anything else is refused by
 * type before a byte is read: a FIFO would block the reader forever, /dev/zero never ends, a
 * folder is not data. The message names the path and says what is wrong with it:
 *   "P does not exist", "P is a folder, expected a regular file",
 *   "P is a FIFO, expected a regular file" (also a character device, a block device, a socket),
 *   "P: permission denied", "P: too many levels of symbolic links (a symlink loop?)". */

/* Opens path read-only (close-on-exec). Returns the descriptor and *size (size may be NULL), or
 * -1 with the message in err; errno is then ENOENT or ENOTDIR when nothing is at path, so a
 * caller can add how to get the missing file. Never blocks, whatever is at path. */
int sg_open_regular(const char *path, int64_t *size, sg_err *err);

/* The same as a stdio stream opened "rb"; NULL on failure. */
FILE *sg_fopen_regular(const char *path, int64_t *size, sg_err *err);

/* A data file of the suites folder, given as NAME (dir/NAME.ext) or as a path (anything with a
 * '/' or ending in ext): opened with sg_fopen_regular; its path into path[path_cap] and its name
 * (the file name without ext) into name[name_cap]. Errors say kind ("suite", "bench suite")
 * and, when nothing is there, "not found". */
FILE *sg_open_named_file(const char *kind, const char *name_or_path, const char *dir,
                         const char *ext, char *path, size_t path_cap, char *name,
                         size_t name_cap, sg_err *err);

/* 0 when path is a folder (or a symlink to one), else -1 with the same kinds of messages
 * ("P is a regular file, expected a folder") and errno as sg_open_regular leaves it. */
int sg_check_folder(const char *path, sg_err *err);

/* What a stat mode is, in words: "a regular file", "a folder", "a FIFO", "a character device",
 * "a block device", "a socket", "a symbolic link", or "not a regular file". */
const char *sg_file_kind(unsigned mode);

/* ---- paths into fixed buffers ------------------------------------------------------------------ */

/* snprintf for a path: 0, or -1 with "path too long: <the start of it>... (more than N
 * characters)" when it does not fit in out[cap], so that no file is ever read or written under
 * a name cut short. */
int sg_path_printf(char *out, size_t cap, sg_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
