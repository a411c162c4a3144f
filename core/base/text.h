/* core/base/text.h: a growing string and the whole-file helpers of the report writers
 * (bench/report.c, core/ssl/check.c, core/theory/figures.c).
 * Errors are sg_err messages that name the path. */
#pragma once
#include <stddef.h>

#include "core/base/err.h"

/* A growing string; {0} is the empty one. s is NUL-terminated once anything was printed (NULL
 * before). Running out of memory aborts (SG_CHECK). */
typedef struct {
    char *s;
    size_t len, cap;
} sg_sbuf;

/* Appends printf-style text. */
void sg_sbuf_printf(sg_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the text and leaves b empty ({0}), ready to be used again. */
void sg_sbuf_free(sg_sbuf *b);

/* Creates dir and its parents (mode 0777 & ~umask); folders that exist already are fine.
 * 0, or -1 naming the folder that could not be made. */
int sg_mkdirs(const char *dir, sg_err *err);

/* Writes text[0..len) as the whole of path: through a temporary file beside it (same folder,
 * so the rename is atomic), fsync and rename, so a reader sees the old file or the new one,
 * never half of it. 0, or -1 naming path. */
int sg_write_text_atomic(const char *path, const char *text, size_t len, sg_err *err);

/* 1 when path names something (file, folder, ...) that stat can see, else 0. */
int sg_file_exists(const char *path);

/* An executable (gnuplot): name itself when it has a '/', else name in the first PATH entry
 * that has it executable. Writes that path to found[cap]; returns 1 when found, 0 when not. */
int sg_find_program(const char *name, char *found, size_t cap);
