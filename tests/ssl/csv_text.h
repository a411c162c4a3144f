/* tests/ssl/csv_text.h: a CSV written by training, as text without the columns that hold wall
 * clock or machine (seconds, img_per_s, data_wait_*, wall_s, run_id, finished_utc, machine*,
 * hostname), for the tests that compare two runs' files bit for bit. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/csv.h"

static inline int tu_csv_clock_column(const char *h) {
    return !strcmp(h, "seconds") || !strcmp(h, "img_per_s") || !strncmp(h, "data_wait", 9) ||
           !strcmp(h, "wall_s") || !strcmp(h, "run_id") || !strcmp(h, "finished_utc") ||
           !strncmp(h, "machine", 7) || !strcmp(h, "hostname");
}

/* The cells of path's rows, comma-joined, clock columns left out; NULL (the reason on stderr)
 * when it cannot be read. rows and len (either may be NULL) get its row count and text length.
 * The caller frees the text. */
static inline char *tu_csv_text(const char *path, size_t *rows, size_t *len) {
    sg_csv_table t;
    sg_err err;
    if (sg_csv_read(path, &t, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    size_t cap = 1 << 20, at = 0;
    char *out = calloc(1, cap);
    for (size_t r = 0; r < t.nrows && out; r++)
        for (int col = 0; col < t.ncols && at < cap; col++)
            if (!tu_csv_clock_column(t.header[col]))
                at += (size_t)snprintf(out + at, cap - at, "%s,", sg_csv_cell(&t, r, col));
    if (rows) *rows = t.nrows;
    if (len) *len = at < cap ? at : cap - 1;
    sg_csv_table_free(&t);
    return out;
}
