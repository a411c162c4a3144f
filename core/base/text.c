/* core/base/text.c: a growing string and the lookup of a program on PATH (text.h). */
#define _XOPEN_SOURCE 700 /* fileno, fsync, mkdir, access, strtok_r, getpid */
#include "core/base/text.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a growing string ------------------------------------------------------------------------ */

void sg_sbuf_printf(sg_sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        SG_CHECK(n >= 0, "format error");
        if (b->s && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        SG_CHECK(s != NULL, "out of memory");
        b->s = s;
        b->cap = cap;
    }
}

void sg_sbuf_free(sg_sbuf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- lines of text files ---------------------------------------------------------------------- */

int sg_read_line(FILE *f, char **buf, size_t *cap, size_t max, const char *path, long lineno,
                 sg_err *err) {
    size_t n = 0;
    int ch, nul = 0;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n == max) {
            /* the memory a line may take is bounded: /dev/zero-like input ends here */
            return sg_errf(err, "%s:%ld: line longer than %zu characters", path, lineno, max);
        }
        if (n + 1 >= *cap) {
            size_t c = *cap ? 2 * *cap : 256;
            char *b = realloc(*buf, c);
            SG_CHECK(b != NULL, "out of memory (a line of %zu bytes)", c);
            *buf = b;
            *cap = c;
        }
        nul |= ch == 0;
        (*buf)[n++] = (char)ch;
    }
    if (ch == EOF && ferror(f))
        return sg_errf(err, "%s:%ld: read error: %s", path, lineno, strerror(errno));
    if (ch == EOF && n == 0) return 0;
    if (nul) return sg_errf(err, "%s:%ld: a NUL byte in the line; expected text", path, lineno);
    if (!*buf) {
        *buf = malloc(1);
        SG_CHECK(*buf != NULL, "out of memory");
        *cap = 1;
    }
    (*buf)[n] = '\0';
    return 1;
}

/* ---- programs ------------------------------------------------------------------------------- */

int sg_find_program(const char *name, char *found, size_t cap) {
    if (strchr(name, '/')) {
        int n = snprintf(found, cap, "%s", name);
        return n >= 0 && (size_t)n < cap && access(name, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *buf = strdup(path), *save = NULL; /* every entry of a PATH of any length */
    SG_CHECK(buf != NULL, "out of memory");
    int ok = 0;
    for (char *d = strtok_r(buf, ":", &save); d && !ok; d = strtok_r(NULL, ":", &save)) {
        int n = snprintf(found, cap, "%s/%s", *d ? d : ".", name);
        /* a name that does not fit is not tried: its cut form could be another program */
        ok = n >= 0 && (size_t)n < cap && access(found, X_OK) == 0;
    }
    free(buf);
    return ok;
}

char *sg_trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

int sg_is_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

int sg_append_word(char *buf, size_t cap, const char *word) {
    size_t at = strlen(buf), n = strlen(word);
    if (at + (at ? 1 : 0) + n >= cap) return -1;
    snprintf(buf + at, cap - at, "%s%s", at ? " " : "", word);
    return 0;
}

int sg_next_statement(FILE *f, char **buf, size_t *cap, size_t max, const char *path,
                      int *lineno, char **stmt, sg_err *err) {
    for (;;) {
        int got = sg_read_line(f, buf, cap, max, path, *lineno + 1, err);
        if (got <= 0) return got;
        ++*lineno;
        char *hash = strchr(*buf, '#');
        if (hash) *hash = 0;
        *stmt = sg_trim(*buf);
        if (**stmt) return 1;
    }
}
