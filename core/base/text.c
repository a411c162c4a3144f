/* core/base/text.c: a growing string and whole-file helpers (text.h). */
#define _XOPEN_SOURCE 700 /* fileno, fsync, mkdir, access, strtok_r, getpid */
#include "core/base/text.h"

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

/* ---- files ----------------------------------------------------------------------------------- */

int sg_mkdirs(const char *dir, sg_err *err) {
    char tmp[4096];
    if (!*dir) return sg_errf(err, "cannot create a folder with an empty name");
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return sg_errf(err, "cannot create the folder %s: path too long (at most %zu bytes)", dir,
                       sizeof tmp - 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return sg_errf(err, "cannot create the folder %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return sg_errf(err, "cannot create the folder %s: %s", tmp, strerror(errno));
    return 0;
}

int sg_write_text_atomic(const char *path, const char *text, size_t len, sg_err *err) {
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return sg_errf(err, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(errno));
    int bad = fwrite(text, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    int e = errno;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        remove(tmp);
        return sg_errf(err, "%s: write failed: %s", path, strerror(e));
    }
    return 0;
}

int sg_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int sg_find_program(const char *name, char *found, size_t cap) {
    if (strchr(name, '/')) {
        snprintf(found, cap, "%s", name);
        return access(name, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path) return 0;
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(found, cap, "%s/%s", *d ? d : ".", name);
        if (access(found, X_OK) == 0) return 1;
    }
    return 0;
}
