/* core/base/text.h: a growing string (the report writers build their files in one) and the
 * lookup of a program on PATH. Whole-file writes are in core/base/file.h. */
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

/* An executable (gnuplot): name itself when it has a '/', else name in the first PATH entry
 * that has it executable. Writes that path to found[cap]; returns 1 when found, 0 when not. */
int sg_find_program(const char *name, char *found, size_t cap);
