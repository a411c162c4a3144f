/* tests/data/files.h: file helpers the reader tests share. Include after defining
 * _DEFAULT_SOURCE (opendir, rmdir, unlink with -std=c11). */
#pragma once
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Removes a file or a folder tree. */
static inline void rm_rf(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char sub[4096];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            size_t a = strlen(path), b = strlen(e->d_name);
            if (a + b + 2 > sizeof sub) continue; /* deeper than any test makes */
            memcpy(sub, path, a);
            sub[a] = '/';
            memcpy(sub + a + 1, e->d_name, b + 1);
            rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Writes (mode "wb") or appends ("ab") n bytes, or exits: a test that cannot write its input has
 * nothing to check. */
static inline void write_bytes_mode(const char *path, const void *data, size_t n,
                                    const char *mode) {
    FILE *f = fopen(path, mode);
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static inline void write_bytes(const char *path, const void *data, size_t n) {
    write_bytes_mode(path, data, n, "wb");
}
