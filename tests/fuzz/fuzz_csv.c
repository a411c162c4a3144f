/* tests/fuzz/fuzz_csv.c: the CSV reader every command uses (core/base/csv.c) and its writer.
 * Input: a CSV file. Whatever the reader accepts, written back by sg_csv_write_atomic and read
 * again, must give the same header and cells: the writer quotes whatever the reader would
 * otherwise take differently (spaces, commas, quotes, line breaks). */
#include "fuzz.h"

#include "core/base/csv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512], again[512];
    fz_write("in.csv", data, size, path, sizeof path);
    fz_path(again, sizeof again, "again.csv");
    sg_csv_table t, u;
    sg_err err;
    if (sg_csv_read(path, &t, &err) != 0) return 0;
    FZ_ASSERT(t.ncols >= 1, "%d columns", t.ncols);
    sg_csv_row *rows = calloc(t.nrows ? t.nrows : 1, sizeof *rows);
    if (!rows) abort();
    for (size_t r = 0; r < t.nrows; r++) {
        sg_csv_row_init(&rows[r]);
        for (int c = 0; c < t.ncols; c++) sg_csv_row_str(&rows[r], sg_csv_cell(&t, r, c));
    }
    FZ_ASSERT(sg_csv_write_atomic(again, t.ncols, (const char *const *)t.header, rows, t.nrows,
                                  &err) == 0,
              "writing it back: %s", err.msg);
    FZ_ASSERT(sg_csv_read(again, &u, &err) == 0, "what was written does not read back: %s",
              err.msg);
    FZ_ASSERT(u.ncols == t.ncols && u.nrows == t.nrows, "%d x %zu read back as %d x %zu", t.ncols,
              t.nrows, u.ncols, u.nrows);
    for (int c = 0; c < t.ncols; c++)
        FZ_ASSERT(!strcmp(t.header[c], u.header[c]), "header %d: '%s' read back as '%s'", c,
                  t.header[c], u.header[c]);
    for (size_t r = 0; r < t.nrows; r++)
        for (int c = 0; c < t.ncols; c++)
            FZ_ASSERT(!strcmp(sg_csv_cell(&t, r, c), sg_csv_cell(&u, r, c)),
                      "row %zu column %d: '%s' read back as '%s'", r, c, sg_csv_cell(&t, r, c),
                      sg_csv_cell(&u, r, c));
    for (size_t r = 0; r < t.nrows; r++) sg_csv_row_free(&rows[r]);
    free(rows);
    sg_csv_table_free(&t);
    sg_csv_table_free(&u);
    return 0;
}
