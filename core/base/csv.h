/* core/base/csv.h: CSV files over libcsv (RFC 4180 quoting: commas, quotes, newlines in fields).
 *
 * Three ways to write, all whole-row safe:
 *  - sg_csv_write_atomic: a whole file (temporary file + fsync + rename).
 *  - sg_csv_append: add rows to a results file shared by many runs. Under an exclusive lock
 *    (flock on PATH.lock) it checks the existing header, writes old content + new rows to a
 *    temporary file and renames it in: a killed process leaves the old or the new file, never a
 *    half row; two writers never interleave.
 *  - sg_csv_stream: long logs written row by row (per-step CSV): each row leaves in a single
 *    write(2) on an O_APPEND descriptor; opening an existing file checks its header.
 * Reading: sg_csv_read parses with libcsv and checks that every row has the header's width;
 * errors name the file and the line.
 */
#pragma once
#include <stddef.h>

#include "core/base/err.h"

/* One row being built: fields are quoted as needed and joined with commas. */
typedef struct {
    char *buf;
    size_t len, cap;
    int nfields;
} sg_csv_row;

void sg_csv_row_init(sg_csv_row *r);
void sg_csv_row_clear(sg_csv_row *r); /* keeps the buffer */
void sg_csv_row_free(sg_csv_row *r);
void sg_csv_row_str(sg_csv_row *r, const char *s);
void sg_csv_row_int(sg_csv_row *r, long long v);
/* %.9g for floats (round-trips a float32), %.17g for doubles; NaN/Inf as nan/inf/-inf. */
void sg_csv_row_float(sg_csv_row *r, float v);
void sg_csv_row_double(sg_csv_row *r, double v);

int sg_csv_write_atomic(const char *path, int ncols, const char *const *header,
                        const sg_csv_row *rows, size_t nrows, sg_err *err);
int sg_csv_append(const char *path, int ncols, const char *const *header, const sg_csv_row *rows,
                  size_t nrows, sg_err *err);
/* A column a writer added after its files were first written, and the value its older rows
 * take (what they computed without the column's choice). */
typedef struct {
    const char *name;
    const char *old_value;
} sg_csv_later_col;
/* sg_csv_append, where an existing file may also be an older form of header: header without
 * some of the `later` columns, the others in the same order. Its rows are rewritten with those
 * columns at their old values, in the same locked replacement that adds the new rows, so a
 * results file keeps growing across a schema change. Any other header is refused as by
 * sg_csv_append. */
int sg_csv_append_upgrade(const char *path, int ncols, const char *const *header,
                          const sg_csv_later_col *later, int nlater, const sg_csv_row *rows,
                          size_t nrows, sg_err *err);

typedef struct {
    int fd;
    int ncols;
    char path[4096];
} sg_csv_stream;

/* Creates the file with its header, or opens an existing one whose header must match. */
int sg_csv_stream_open(sg_csv_stream *s, const char *path, int ncols, const char *const *header,
                       sg_err *err);
int sg_csv_stream_write(sg_csv_stream *s, const sg_csv_row *row, sg_err *err);
void sg_csv_stream_close(sg_csv_stream *s);

/* A parsed file: header[ncols], cell(t, r, c) for r < nrows. */
typedef struct {
    int ncols;
    size_t nrows;
    char **header;
    char **cells; /* nrows * ncols, row-major */
} sg_csv_table;

int sg_csv_read(const char *path, sg_csv_table *t, sg_err *err);
void sg_csv_table_free(sg_csv_table *t);
/* Whether t's header is header[ncols] or an older form of it (as sg_csv_append_upgrade takes):
 * 1, with from[c] (when from != NULL) the column of t holding header[c], or -1 - k where
 * header[c] is later[k], absent from t; else 0. */
int sg_csv_header_older_form(const sg_csv_table *t, int ncols, const char *const *header,
                             const sg_csv_later_col *later, int nlater, int *from);
/* A cache file of measured choices (conv.algo=auto's, cuDNN's), which is never trusted blindly:
 * 1 with t read when path exists and reads with the columns header_ok wants; 0 otherwise (no
 * file, or one that cannot be read or has other columns: a warning naming `what` and the file,
 * and *writable set to 0 so the caller leaves that file as it is). */
int sg_csv_read_cache(const char *path, const char *what, int (*header_ok)(const sg_csv_table *),
                      sg_csv_table *t, int *writable);
/* Column index of `name`, or -1. */
int sg_csv_col(const sg_csv_table *t, const char *name);
static inline const char *sg_csv_cell(const sg_csv_table *t, size_t r, int c) {
    return t->cells[r * (size_t)t->ncols + (size_t)c];
}
