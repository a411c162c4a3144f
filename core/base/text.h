/* core/base/text.h: a growing string (the report writers build their files in one), the line
 * reader of the text-file parsers and the lookup of a program on PATH. Whole-file writes are in core/base/file.h. */
#pragma once
#include <stddef.h>
#include <stdio.h>

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

/* Reads line `lineno` of text file path from f, without its '\n' (a '\r' before it stays), into
 * *buf (grown as needed, NUL-terminated; free it when done). Returns 1 for a line, 0 at the end
 * of the file, -1 with "path:lineno: ..." in err for a line longer than max characters, a line
 * holding a NUL byte (not text), or a read error. Nothing is ever cut silently. */
int sg_read_line(FILE *f, char **buf, size_t *cap, size_t max, const char *path, long lineno,
                 sg_err *err);

/* The next statement of a line-oriented data file (a suite or bench file): the next line
 * (sg_read_line, at most max characters) without its '#' comment and surrounding space, empty
 * ones skipped. 1 with *stmt pointing into *buf and *lineno its line; 0 at the end; -1 with err. */
int sg_next_statement(FILE *f, char **buf, size_t *cap, size_t max, const char *path,
                      int *lineno, char **stmt, sg_err *err);

/* s without leading and trailing whitespace, in place: the spaces after it are cut (a NUL
 * written), the returned pointer skips those before it. */
char *sg_trim(char *s);

/* 1 when s is a name the suite and bench files accept (runs, configs, tags): non-empty, only
 * letters, digits, '_' and '-', so it is safe in file names and CSV cells. */
int sg_is_name(const char *s);

/* Appends word to the space-separated list in buf[cap] (a space before it unless buf is empty);
 * 0, or -1 with buf unchanged when it would not fit: a setting cut in the middle would silently
 * mean something else. */
int sg_append_word(char *buf, size_t cap, const char *word);
