/* core/base/csv.c: CSV rows, atomic/locked/streamed writers and a strict reader over libcsv.
 *
 * Dialect: fields separated by ',', rows end with '\n' (a '\r' before it is tolerated on read),
 * quoting per RFC 4180. libcsv trims unquoted spaces and tabs, so the writer quotes any field
 * that starts or ends with one (and any field holding ',', '"', '\r' or '\n').
 * The reader treats only '\n' as a row terminator, so every '\n' outside quotes is one line and
 * the line numbers in error messages are the line numbers an editor shows. */
#define _DEFAULT_SOURCE /* flock, fsync, getpid with -std=c11 */
#include "core/base/csv.h"

#include "core/base/file.h"
#include "core/base/log.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static void *xrealloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    SG_CHECK(q != NULL, "out of memory (%zu bytes)", bytes);
    return q;
}

static char *xstrndup(const char *s, size_t n) {
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- a growable byte buffer ------------------------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void buf_put(buf_t *b, const void *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* ---- rows ------------------------------------------------------------------------------------ */

void sg_csv_row_init(sg_csv_row *r) {
    r->buf = NULL;
    r->len = r->cap = 0;
    r->nfields = 0;
}

void sg_csv_row_clear(sg_csv_row *r) {
    r->len = 0;
    r->nfields = 0;
    if (r->buf) r->buf[0] = '\0';
}

void sg_csv_row_free(sg_csv_row *r) {
    free(r->buf);
    sg_csv_row_init(r);
}

static int is_csv_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }
static int is_csv_term(unsigned char c) { return c == '\n'; }

static int needs_quotes(const char *s, size_t n) {
    if (n == 0) return 0;
    if (is_csv_space((unsigned char)s[0]) || is_csv_space((unsigned char)s[n - 1])) return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
    return 0;
}

/* Keeps buf NUL-terminated (one spare byte) so a row can be printed while debugging. */
static void row_reserve(sg_csv_row *r, size_t extra) {
    if (r->len + extra + 1 <= r->cap) return;
    size_t cap = r->cap ? r->cap : 128;
    while (cap < r->len + extra + 1) cap *= 2;
    r->buf = xrealloc(r->buf, cap);
    r->cap = cap;
}

void sg_csv_row_str(sg_csv_row *r, const char *s) {
    size_t n = strlen(s);
    /* worst case: separator + two quotes + every byte doubled */
    row_reserve(r, 2 * n + 3);
    if (r->nfields > 0) r->buf[r->len++] = ',';
    if (needs_quotes(s, n)) {
        size_t w = csv_write(r->buf + r->len, r->cap - r->len, s, n);
        SG_CHECK(w >= 2 && w <= 2 * n + 2, "csv_write returned %zu for a %zu-byte field", w, n);
        r->len += w;
    } else {
        memcpy(r->buf + r->len, s, n);
        r->len += n;
    }
    r->buf[r->len] = '\0';
    r->nfields++;
}

void sg_csv_row_int(sg_csv_row *r, long long v) {
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    sg_csv_row_str(r, s);
}

static void row_real(sg_csv_row *r, double v, int digits) {
    char s[48];
    if (isnan(v))
        sg_csv_row_str(r, "nan"); /* the sign of a NaN carries no meaning: always "nan" */
    else if (isinf(v))
        sg_csv_row_str(r, v > 0 ? "inf" : "-inf");
    else {
        snprintf(s, sizeof s, "%.*g", digits, v);
        sg_csv_row_str(r, s);
    }
}

void sg_csv_row_float(sg_csv_row *r, float v) { row_real(r, (double)v, 9); }
void sg_csv_row_double(sg_csv_row *r, double v) { row_real(r, v, 17); }

/* A row as it goes into a file: its fields, then '\n'. A row holding one empty field would be a
 * blank line, which readers skip, so it is written as "". */
static void put_row(buf_t *b, const sg_csv_row *r, int ncols) {
    SG_CHECK(r->nfields == ncols, "row has %d fields, the file has %d columns", r->nfields, ncols);
    if (r->len == 0)
        buf_put(b, "\"\"", 2);
    else
        buf_put(b, r->buf, r->len);
    buf_put(b, "\n", 1);
}

static void put_header(buf_t *b, int ncols, const char *const *header) {
    SG_CHECK(ncols >= 1, "a CSV file needs at least one column (ncols = %d)", ncols);
    sg_csv_row r;
    sg_csv_row_init(&r);
    for (int c = 0; c < ncols; c++) sg_csv_row_str(&r, header[c]);
    put_row(b, &r, ncols);
    sg_csv_row_free(&r);
}

/* ---- files ----------------------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The whole file in memory. Returns 0, or -1 with errno set (ENOENT for a missing file). */
static int read_all_fd(int fd, buf_t *b) {
    for (;;) {
        buf_reserve(b, 65536);
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) return 0;
        b->len += (size_t)n;
    }
}

/* parts[] as the whole of path, through core/base/file's temporary-file-and-rename writer. */
static int write_file_atomic(const char *path, const buf_t *parts, int nparts, int mode,
                             sg_err *err) {
    sg_atomic_file f;
    if (sg_atomic_open(&f, path, mode, err)) return -1;
    for (int i = 0; i < nparts; i++)
        if (parts[i].len && sg_atomic_write(&f, parts[i].p, parts[i].len, err)) return -1;
    return sg_atomic_commit(&f, err);
}

int sg_csv_write_atomic(const char *path, int ncols, const char *const *header,
                        const sg_csv_row *rows, size_t nrows, sg_err *err) {
    buf_t b = {0};
    put_header(&b, ncols, header);
    for (size_t i = 0; i < nrows; i++) put_row(&b, &rows[i], ncols);
    int rc = write_file_atomic(path, &b, 1, -1, err);
    free(b.p);
    return rc;
}

/* ---- the reader ------------------------------------------------------------------------------ */

/* libcsv calls back once per field (on_field) and once per row end (on_row); this state turns
 * those calls into a table and remembers where each row started for error messages. */
typedef struct {
    struct csv_parser parser;
    const char *path;
    sg_err *err;
    int failed;
    int header_only; /* stop after the header row */
    int done;
    long line;       /* 1-based line of the bytes being fed */
    long row_line;   /* line where the current row started */
    int at_row_start;
    int last_row_open; /* the final row ended at end of file, not at '\n' */
    char **fields;     /* the current row */
    int nfields, fields_cap;
    sg_csv_table *t;
    size_t cells_cap;
} reader;

static void on_field(void *s, size_t n, void *data) {
    reader *rd = data;
    if (rd->failed || rd->done) return;
    if (memchr(s, '\0', n)) {
        rd->failed = 1;
        sg_errf(rd->err, "%s: line %ld: a field holds a NUL byte", rd->path, rd->row_line);
        return;
    }
    if (rd->nfields == rd->fields_cap) {
        rd->fields_cap = rd->fields_cap ? 2 * rd->fields_cap : 16;
        rd->fields = xrealloc(rd->fields, (size_t)rd->fields_cap * sizeof(char *));
    }
    rd->fields[rd->nfields++] = xstrndup(s, n);
}

static void drop_fields(reader *rd) {
    for (int i = 0; i < rd->nfields; i++) free(rd->fields[i]);
    rd->nfields = 0;
}

static void on_row(int c, void *data) {
    reader *rd = data;
    rd->at_row_start = 1;
    if (rd->failed || rd->done) {
        drop_fields(rd);
        return;
    }
    if (c == -1) {
        /* csv_fini closed a row that had no '\n': the caller reports the truncated line. */
        rd->last_row_open = 1;
        drop_fields(rd);
        return;
    }
    sg_csv_table *t = rd->t;
    if (!t->header) {
        t->ncols = rd->nfields;
        t->header = xrealloc(NULL, (size_t)rd->nfields * sizeof(char *));
        memcpy(t->header, rd->fields, (size_t)rd->nfields * sizeof(char *));
        rd->nfields = 0;
        if (rd->header_only) rd->done = 1;
        return;
    }
    if (rd->nfields != t->ncols) {
        rd->failed = 1;
        sg_errf(rd->err, "%s: line %ld: expected %d fields (as in the header), found %d", rd->path,
                rd->row_line, t->ncols, rd->nfields);
        drop_fields(rd);
        return;
    }
    size_t need = (t->nrows + 1) * (size_t)t->ncols;
    if (need > rd->cells_cap) {
        rd->cells_cap = rd->cells_cap ? 2 * rd->cells_cap : 64 * (size_t)t->ncols;
        if (rd->cells_cap < need) rd->cells_cap = need;
        t->cells = xrealloc(t->cells, rd->cells_cap * sizeof(char *));
    }
    memcpy(t->cells + t->nrows * (size_t)t->ncols, rd->fields, (size_t)t->ncols * sizeof(char *));
    t->nrows++;
    rd->nfields = 0;
}

static void reader_init(reader *rd, const char *path, sg_csv_table *t, int header_only,
                        sg_err *err) {
    memset(rd, 0, sizeof *rd);
    memset(t, 0, sizeof *t);
    int rc = csv_init(&rd->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    SG_CHECK(rc == 0, "csv_init failed");
    csv_set_space_func(&rd->parser, is_csv_space);
    csv_set_term_func(&rd->parser, is_csv_term);
    rd->path = path;
    rd->err = err;
    rd->header_only = header_only;
    rd->t = t;
    rd->line = 1;
    rd->row_line = 1;
    rd->at_row_start = 1;
}

/* Feeds one piece of a line (it ends at its '\n', if it has one). */
static void reader_feed_piece(reader *rd, const char *s, size_t n) {
    if (rd->at_row_start) {
        /* libcsv skips blank lines between rows; the row starts at the first line with text */
        for (size_t i = 0; i < n; i++)
            if (!is_csv_space((unsigned char)s[i]) && s[i] != '\n') {
                rd->at_row_start = 0;
                rd->row_line = rd->line;
                break;
            }
    }
    size_t used = csv_parse(&rd->parser, s, n, on_field, on_row, rd);
    if (used != n && !rd->failed) {
        rd->failed = 1;
        if (csv_error(&rd->parser) == CSV_EPARSE)
            sg_errf(rd->err,
                    "%s: line %ld: malformed field: a quote inside an unquoted field or text "
                    "after a closing quote",
                    rd->path, rd->line);
        else
            sg_errf(rd->err, "%s: line %ld: %s", rd->path, rd->line,
                    csv_strerror(csv_error(&rd->parser)));
    }
}

/* Feeds a chunk of the file, splitting it at line ends so errors know their line. */
static void reader_feed(reader *rd, const char *s, size_t n) {
    while (n > 0 && !rd->failed && !rd->done) {
        const char *nl = memchr(s, '\n', n);
        size_t k = nl ? (size_t)(nl - s) + 1 : n;
        reader_feed_piece(rd, s, k);
        if (nl) rd->line++;
        s += k;
        n -= k;
    }
}

/* End of input: reports an unterminated quoted field, a missing final '\n' and an empty file. */
static int reader_finish(reader *rd, int ended_with_newline) {
    if (!rd->failed && !rd->done) {
        if (csv_fini(&rd->parser, on_field, on_row, rd) != 0) {
            rd->failed = 1;
            sg_errf(rd->err,
                    "%s: line %ld: unterminated quoted field (the quote opened in the row starting "
                    "here is never closed)",
                    rd->path, rd->row_line);
        } else if (!rd->failed && !rd->t->header && !rd->last_row_open) {
            rd->failed = 1;
            sg_errf(rd->err, "%s: empty file (expected a header line)", rd->path);
        } else if (!rd->failed && (rd->last_row_open || !ended_with_newline)) {
            rd->failed = 1;
            sg_errf(rd->err, "%s: line %ld: truncated last line (no newline at end of file)",
                    rd->path, rd->line);
        }
    }
    csv_free(&rd->parser);
    drop_fields(rd);
    free(rd->fields);
    rd->fields = NULL;
    if (rd->failed) {
        sg_csv_table_free(rd->t);
        return -1;
    }
    return 0;
}

static int parse_buffer(const char *path, const char *s, size_t n, sg_csv_table *t,
                        int header_only, sg_err *err) {
    reader rd;
    reader_init(&rd, path, t, header_only, err);
    reader_feed(&rd, s, n);
    return reader_finish(&rd, n > 0 && s[n - 1] == '\n');
}

int sg_csv_read(const char *path, sg_csv_table *t, sg_err *err) {
    memset(t, 0, sizeof *t);
    int fd = sg_open_regular(path, NULL, err);
    if (fd < 0) {
        /* the file first, as in every message of this reader: "P: cannot open: is a FIFO, ..." */
        char why[sizeof err->msg];
        size_t pl = strlen(path);
        const char *w = err->msg;
        if (!strncmp(w, path, pl)) w += pl + (w[pl] == ':') + (w[pl] == ':' || w[pl] == ' ');
        snprintf(why, sizeof why, "%s", w);
        return sg_errf(err, "%s: cannot open: %s", path, why);
    }
    buf_t b = {0};
    if (read_all_fd(fd, &b) != 0) {
        int e = errno;
        close(fd);
        free(b.p);
        return sg_errf(err, "%s: read failed: %s", path, strerror(e));
    }
    close(fd);
    int rc = parse_buffer(path, b.p, b.len, t, 0, err);
    free(b.p);
    return rc;
}

int sg_csv_read_cache(const char *path, const char *what, int (*header_ok)(const sg_csv_table *),
                      sg_csv_table *t, int *writable) {
    memset(t, 0, sizeof *t);
    if (!path || !path[0] || !sg_file_exists(path)) return 0;
    sg_err e;
    if (sg_csv_read(path, t, &e)) {
        sg_warn("%s: the cache cannot be read, measuring instead: %s", what, e.msg);
        *writable = 0;
        return 0;
    }
    if (!header_ok(t)) {
        sg_warn("%s: %s is not such a cache (its columns differ), measuring instead and leaving "
                "it as it is", what, path);
        sg_csv_table_free(t);
        *writable = 0;
        return 0;
    }
    return 1;
}

void sg_csv_table_free(sg_csv_table *t) {
    if (t->header)
        for (int c = 0; c < t->ncols; c++) free(t->header[c]);
    if (t->cells)
        for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->header);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

int sg_csv_col(const sg_csv_table *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->header[c], name) == 0) return c;
    return -1;
}

/* Compares a file's header (already parsed) with the one this run writes; names the first
 * differing column. */
static int check_header(const char *path, const sg_csv_table *found, int ncols,
                        const char *const *header, sg_err *err) {
    int n = found->ncols > ncols ? found->ncols : ncols;
    for (int c = 0; c < n; c++) {
        const char *want = c < ncols ? header[c] : NULL;
        const char *got = c < found->ncols ? found->header[c] : NULL;
        if (want && got && strcmp(want, got) == 0) continue;
        if (!got)
            return sg_errf(err,
                           "%s: header differs at column %d: expected '%s', found no column "
                           "(the file has %d columns, this run writes %d)",
                           path, c + 1, want, found->ncols, ncols);
        if (!want)
            return sg_errf(err,
                           "%s: header differs at column %d: expected no column, found '%s' "
                           "(the file has %d columns, this run writes %d)",
                           path, c + 1, got, found->ncols, ncols);
        return sg_errf(err, "%s: header differs at column %d: expected '%s', found '%s'", path,
                       c + 1, want, got);
    }
    return 0;
}

/* The existing content of a file we are about to extend: its header must match, and its last
 * line must be complete (or the first new row would be glued onto it). */
static int check_existing(const char *path, const char *s, size_t n, int ncols,
                          const char *const *header, sg_err *err) {
    sg_csv_table t;
    if (parse_buffer(path, s, n, &t, 1, err) != 0) return -1;
    int rc = check_header(path, &t, ncols, header, err);
    sg_csv_table_free(&t);
    if (rc == 0 && s[n - 1] != '\n')
        rc = sg_errf(err, "%s: truncated last line (no newline at end of file); not appending",
                     path);
    return rc;
}

int sg_csv_header_older_form(const sg_csv_table *t, int ncols, const char *const *header,
                             const sg_csv_later_col *later, int nlater, int *from) {
    int j = 0;
    for (int c = 0; c < ncols; c++) {
        int at = 0, found = 0;
        if (j < t->ncols && !strcmp(header[c], t->header[j])) {
            at = j++, found = 1;
        } else {
            for (int k = 0; k < nlater && !found; k++)
                if (!strcmp(header[c], later[k].name)) at = -1 - k, found = 1;
        }
        if (!found) return 0; /* neither in the file here nor a later column */
        if (from) from[c] = at;
    }
    return j == t->ncols;
}

/* The existing content old[0..n) of path, an older form of header (header without some of the
 * later columns, the rest in order, ending in a newline), rewritten into *out with header and
 * each later column filled by its old value. 0; -1 (err untouched) when it is not such a form. */
static int upgrade_existing(const char *path, const char *old, size_t n, int ncols,
                            const char *const *header, const sg_csv_later_col *later,
                            int nlater, buf_t *out) {
    sg_csv_table t;
    sg_err ignored;
    if (n == 0 || old[n - 1] != '\n' || parse_buffer(path, old, n, &t, 0, &ignored) != 0)
        return -1;
    int *from = xrealloc(NULL, (size_t)ncols * sizeof(int));
    const int ok = sg_csv_header_older_form(&t, ncols, header, later, nlater, from);
    if (ok) {
        put_header(out, ncols, header);
        sg_csv_row r;
        sg_csv_row_init(&r);
        for (size_t i = 0; i < t.nrows; i++) {
            sg_csv_row_clear(&r);
            for (int c = 0; c < ncols; c++)
                sg_csv_row_str(&r, from[c] >= 0 ? sg_csv_cell(&t, i, from[c])
                                                : later[-1 - from[c]].old_value);
            put_row(out, &r, ncols);
        }
        sg_csv_row_free(&r);
    }
    free(from);
    sg_csv_table_free(&t);
    return ok ? 0 : -1;
}

/* ---- locked append --------------------------------------------------------------------------- */

int sg_csv_append(const char *path, int ncols, const char *const *header, const sg_csv_row *rows,
                  size_t nrows, sg_err *err) {
    return sg_csv_append_upgrade(path, ncols, header, NULL, 0, rows, nrows, err);
}

int sg_csv_append_upgrade(const char *path, int ncols, const char *const *header,
                          const sg_csv_later_col *later, int nlater, const sg_csv_row *rows,
                          size_t nrows, sg_err *err) {
    if (sg_mkdirs_for(path, err)) return -1;
    size_t llen = strlen(path) + 6;
    char *lockpath = xrealloc(NULL, llen);
    snprintf(lockpath, llen, "%s.lock", path);
    int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (lfd < 0) {
        int e = errno;
        sg_errf(err, "%s: cannot open lock file %s: %s", path, lockpath, strerror(e));
        free(lockpath);
        return -1;
    }
    int rc;
    while ((rc = flock(lfd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        int e = errno;
        sg_errf(err, "%s: cannot lock %s: %s", path, lockpath, strerror(e));
        close(lfd);
        free(lockpath);
        return -1;
    }
    free(lockpath);

    buf_t parts[2] = {{0}, {0}}; /* [0] the old content, [1] what this call adds */
    int mode = -1;
    rc = 0;
    int fd = -1;
    if (sg_file_exists(path) || errno != ENOENT) {
        /* a file of the wrong kind (a FIFO would block the read) is an error, not a new file */
        fd = sg_open_regular(path, NULL, err);
        if (fd < 0) rc = -1;
    }
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0) mode = (int)(st.st_mode & 07777);
        if (read_all_fd(fd, &parts[0]) != 0)
            rc = sg_errf(err, "%s: read failed: %s", path, strerror(errno));
        close(fd);
        if (rc == 0 && parts[0].len > 0) {
            rc = check_existing(path, parts[0].p, parts[0].len, ncols, header, err);
            buf_t up = {0};
            if (rc != 0 && nlater > 0 &&
                upgrade_existing(path, parts[0].p, parts[0].len, ncols, header, later, nlater,
                                 &up) == 0) {
                free(parts[0].p);
                parts[0] = up;
                rc = 0;
            } else {
                free(up.p);
            }
        }
    }
    if (rc == 0) {
        /* A file that does not exist yet, or exists but is empty, gets the header first. */
        if (parts[0].len == 0) put_header(&parts[1], ncols, header);
        for (size_t i = 0; i < nrows; i++) put_row(&parts[1], &rows[i], ncols);
        rc = write_file_atomic(path, parts, 2, mode, err);
    }
    free(parts[0].p);
    free(parts[1].p);
    close(lfd); /* releases the lock */
    return rc;
}

/* ---- streams --------------------------------------------------------------------------------- */

int sg_csv_stream_open(sg_csv_stream *s, const char *path, int ncols, const char *const *header,
                       sg_err *err) {
    s->fd = -1;
    s->ncols = ncols;
    if (sg_mkdirs_for(path, err)) return -1;
    size_t plen = strlen(path);
    if (plen >= sizeof s->path)
        return sg_errf(err, "%s: path too long (%zu bytes, at most %zu)", path, plen,
                       sizeof s->path - 1);
    memcpy(s->path, path, plen + 1);

    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return sg_errf(err, "%s: cannot open for appending: %s", path, strerror(errno));
    /* Two processes opening the same new log must not both write a header. */
    int rc;
    while ((rc = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        rc = sg_errf(err, "%s: cannot lock: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sg_errf(err, "%s: stat failed: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = sg_errf(err, "%s is %s, expected a regular file", path,
                     sg_file_kind((unsigned)st.st_mode));
    } else if (st.st_size == 0) {
        buf_t b = {0};
        put_header(&b, ncols, header);
        if (write_all(fd, b.p, b.len) != 0)
            rc = sg_errf(err, "%s: writing the header failed: %s", path, strerror(errno));
        free(b.p);
    } else {
        buf_t b = {0};
        if (read_all_fd(fd, &b) != 0)
            rc = sg_errf(err, "%s: read failed: %s", path, strerror(errno));
        else
            rc = check_existing(path, b.p, b.len, ncols, header, err);
        free(b.p);
    }
    flock(fd, LOCK_UN);
    if (rc != 0) {
        close(fd);
        return -1;
    }
    s->fd = fd;
    return 0;
}

int sg_csv_stream_write(sg_csv_stream *s, const sg_csv_row *row, sg_err *err) {
    SG_CHECK(s->fd >= 0, "sg_csv_stream_write on a stream that is not open");
    buf_t b = {0};
    put_row(&b, row, s->ncols);
    /* One write(2) on an O_APPEND descriptor: concurrent writers and readers see whole rows. */
    ssize_t w;
    while ((w = write(s->fd, b.p, b.len)) < 0 && errno == EINTR) {
    }
    int rc = 0;
    if (w < 0)
        rc = sg_errf(err, "%s: write failed: %s", s->path, strerror(errno));
    else if ((size_t)w != b.len) {
        /* Only a full disk or a file size limit cuts a regular-file write short: finish the row
         * so the file stays parseable, and report it. */
        int e = write_all(s->fd, b.p + w, b.len - (size_t)w) != 0 ? errno : 0;
        rc = sg_errf(err, "%s: short write (%zd of %zu bytes)%s%s", s->path, w, b.len,
                     e ? ": " : "", e ? strerror(e) : "");
    }
    free(b.p);
    return rc;
}

void sg_csv_stream_close(sg_csv_stream *s) {
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}
