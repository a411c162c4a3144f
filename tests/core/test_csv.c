/* tests/core/test_csv.c: quoting round trips, the three writers, strict reading errors,
 * concurrent appends from several processes and float formatting. */
#define _DEFAULT_SOURCE /* fork, mkdir, opendir with -std=c11 */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "test_util.h"

static char dir[1024];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_raw(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *read_raw(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *s = tu_alloc(cap);
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            s = realloc(s, cap);
        }
    }
    s[len] = '\0';
    fclose(f);
    return s;
}

static int count_substr(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) n++;
    return n;
}

/* Any leftover temporary file from the atomic writers is a bug. */
static int count_tmp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void remove_dir(void) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[2048];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

static const char *const tricky[] = {
    "plain",       "a,b",       "say \"hi\"",     "line1\nline2", "cr\r\nlf",  "  lead",
    "trail  ",     "\ttab",     "",               "ünïcödé ✓ 日本", "\"",        ",",
    "\n",          " ",         "\"\"quoted\"\"", "x",            "-1.5e-05", "a, \"b\"\n, c",
};
#define NTRICKY ((int)(sizeof tricky / sizeof tricky[0]))

static void test_quoting_round_trip(void) {
    /* the exact text of one row */
    sg_csv_row r;
    sg_csv_row_init(&r);
    sg_csv_row_str(&r, "a,b");
    sg_csv_row_str(&r, "say \"hi\"");
    sg_csv_row_str(&r, "");
    sg_csv_row_str(&r, "plain");
    sg_csv_row_str(&r, " pad");
    sg_csv_row_int(&r, -42);
    CHECK(r.nfields == 6, "nfields %d", r.nfields);
    CHECK(strcmp(r.buf, "\"a,b\",\"say \"\"hi\"\"\",,plain,\" pad\",-42") == 0, "row text [%s]",
          r.buf);
    sg_csv_row_clear(&r);
    CHECK(r.nfields == 0 && r.len == 0, "clear: %d fields, %zu bytes", r.nfields, r.len);

    /* every tricky field in every column position, header included */
    enum { NC = 4 };
    const char *header[NC] = {"id", "a,b", "say \"x\"", "multi\nline"};
    const int nrows = NTRICKY;
    sg_csv_row rows[NTRICKY];
    for (int i = 0; i < nrows; i++) {
        sg_csv_row_init(&rows[i]);
        sg_csv_row_int(&rows[i], i);
        for (int c = 1; c < NC; c++) sg_csv_row_str(&rows[i], tricky[(i + c) % NTRICKY]);
    }
    char path[1100];
    path_of(path, sizeof path, "roundtrip.csv");
    sg_err err = {{0}};
    int rc = sg_csv_write_atomic(path, NC, header, rows, (size_t)nrows, &err);
    CHECK(rc == 0, "write_atomic: %s", err.msg);
    CHECK(count_tmp_files() == 0, "temporary files left behind");
    sg_csv_table t;
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (rc == 0) {
        CHECK(t.ncols == NC && t.nrows == (size_t)nrows, "shape %d x %zu", t.ncols, t.nrows);
        for (int c = 0; c < NC && c < t.ncols; c++)
            CHECK(strcmp(t.header[c], header[c]) == 0, "header %d [%s]", c, t.header[c]);
        CHECK(sg_csv_col(&t, "say \"x\"") == 2, "col index %d", sg_csv_col(&t, "say \"x\""));
        CHECK(sg_csv_col(&t, "absent") == -1, "absent column found");
        int bad = 0;
        for (size_t i = 0; i < t.nrows && t.ncols == NC; i++) {
            char id[32];
            snprintf(id, sizeof id, "%zu", i);
            if (strcmp(sg_csv_cell(&t, i, 0), id) != 0) bad++;
            for (int c = 1; c < NC; c++) {
                const char *want = tricky[((int)i + c) % NTRICKY];
                if (strcmp(sg_csv_cell(&t, i, c), want) != 0) {
                    bad++;
                    fprintf(stderr, "  row %zu col %d: got [%s] want [%s]\n", i, c,
                            sg_csv_cell(&t, i, c), want);
                }
            }
        }
        CHECK(bad == 0, "%d cells differ after the round trip", bad);
        sg_csv_table_free(&t);
    }
    for (int i = 0; i < nrows; i++) sg_csv_row_free(&rows[i]);

    /* one column holding an empty field must not turn into a skipped blank line */
    const char *one[1] = {"only"};
    sg_csv_row e[2];
    sg_csv_row_init(&e[0]);
    sg_csv_row_init(&e[1]);
    sg_csv_row_str(&e[0], "");
    sg_csv_row_str(&e[1], "v");
    path_of(path, sizeof path, "onecol.csv");
    rc = sg_csv_write_atomic(path, 1, one, e, 2, &err);
    CHECK(rc == 0, "write onecol: %s", err.msg);
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0, "read onecol: %s", err.msg);
    if (rc == 0) {
        CHECK(t.nrows == 2 && strcmp(sg_csv_cell(&t, 0, 0), "") == 0 &&
                  strcmp(sg_csv_cell(&t, 1, 0), "v") == 0,
              "onecol: %zu rows", t.nrows);
        sg_csv_table_free(&t);
    }
    sg_csv_row_free(&e[0]);
    sg_csv_row_free(&e[1]);
    sg_csv_row_free(&r);
}

static const char *const hdr3[3] = {"run", "loss", "note"};

static void make_row(sg_csv_row *r, int run, double loss, const char *note) {
    sg_csv_row_clear(r);
    sg_csv_row_int(r, run);
    sg_csv_row_double(r, loss);
    sg_csv_row_str(r, note);
}

static void test_append(void) {
    char path[1100];
    path_of(path, sizeof path, "append.csv");
    sg_err err = {{0}};
    sg_csv_row rows[3];
    for (int i = 0; i < 3; i++) sg_csv_row_init(&rows[i]);
    make_row(&rows[0], 0, 0.5, "first, with comma");
    make_row(&rows[1], 1, 0.25, "second\nwith newline");
    int rc = sg_csv_append(path, 3, hdr3, rows, 2, &err);
    CHECK(rc == 0, "append 1: %s", err.msg);
    make_row(&rows[0], 2, 0.125, "third");
    make_row(&rows[1], 3, 1e-300, "");
    make_row(&rows[2], 4, -7.0, "\"q\"");
    rc = sg_csv_append(path, 3, hdr3, rows, 3, &err);
    CHECK(rc == 0, "append 2: %s", err.msg);
    CHECK(count_tmp_files() == 0, "temporary files left behind");

    char *raw = read_raw(path);
    CHECK(raw && count_substr(raw, "run,loss,note\n") == 1, "header should appear once:\n%s",
          raw ? raw : "(null)");
    sg_csv_table t;
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (rc == 0) {
        CHECK(t.nrows == 5, "rows %zu", t.nrows);
        const char *notes[5] = {"first, with comma", "second\nwith newline", "third", "", "\"q\""};
        for (size_t i = 0; i < t.nrows && i < 5; i++) {
            CHECK(atoi(sg_csv_cell(&t, i, 0)) == (int)i, "run %s", sg_csv_cell(&t, i, 0));
            CHECK(strcmp(sg_csv_cell(&t, i, 2), notes[i]) == 0, "note [%s]", sg_csv_cell(&t, i, 2));
        }
        CHECK(strtod(sg_csv_cell(&t, 3, 1), NULL) == 1e-300, "loss %s", sg_csv_cell(&t, 3, 1));
        sg_csv_table_free(&t);
    }

    /* a different header: refused, naming the file and the first differing column */
    const char *other[3] = {"run", "accuracy", "note"};
    memset(&err, 0, sizeof err);
    rc = sg_csv_append(path, 3, other, rows, 1, &err);
    CHECK(rc == -1, "append with another header should fail");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "column 2") && strstr(err.msg, "'accuracy'") &&
              strstr(err.msg, "'loss'"),
          "message: %s", err.msg);
    /* fewer columns than the file */
    memset(&err, 0, sizeof err);
    rc = sg_csv_append(path, 2, hdr3, rows, 0, &err);
    CHECK(rc == -1 && strstr(err.msg, path) && strstr(err.msg, "column 3") &&
              strstr(err.msg, "'note'"),
          "message: %s", err.msg);
    char *raw2 = read_raw(path);
    CHECK(raw && raw2 && strcmp(raw, raw2) == 0, "a refused append changed the file");
    free(raw);
    free(raw2);

    /* an existing file whose last line lacks its newline is not extended */
    path_of(path, sizeof path, "append_trunc.csv");
    write_raw(path, "run,loss,note\n1,2,x");
    memset(&err, 0, sizeof err);
    rc = sg_csv_append(path, 3, hdr3, rows, 1, &err);
    CHECK(rc == -1 && strstr(err.msg, path) && strstr(err.msg, "truncated"), "message: %s",
          err.msg);
    for (int i = 0; i < 3; i++) sg_csv_row_free(&rows[i]);
}

/* A file written before a column existed grows on: its rows take the column's old value. */
static void test_append_upgrade(void) {
    char path[1100];
    path_of(path, sizeof path, "upgrade.csv");
    write_raw(path, "run,loss,note\n1,0.5,\"a, b\"\n2,0.25,c\n");
    const char *hdr5[5] = {"run", "loss", "graph", "note", "mode"};
    const sg_csv_later_col later[] = {{"graph", "false"}, {"mode", "eager"}};
    sg_csv_row r;
    sg_csv_row_init(&r);
    sg_csv_row_int(&r, 3);
    sg_csv_row_double(&r, 0.125);
    sg_csv_row_str(&r, "true");
    sg_csv_row_str(&r, "d");
    sg_csv_row_str(&r, "graph");
    sg_err err = {{0}};
    int rc = sg_csv_append_upgrade(path, 5, hdr5, later, 2, &r, 1, &err);
    CHECK(rc == 0, "upgrade append: %s", err.msg);
    sg_csv_table t;
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0 && t.ncols == 5 && t.nrows == 3, "read: %s", err.msg);
    if (rc == 0 && t.ncols == 5 && t.nrows == 3) {
        const char *want[3][5] = {{"1", "0.5", "false", "a, b", "eager"},
                                  {"2", "0.25", "false", "c", "eager"},
                                  {"3", "0.125", "true", "d", "graph"}};
        for (int i = 0; i < 3; i++)
            for (int c = 0; c < 5; c++)
                CHECK(!strcmp(sg_csv_cell(&t, (size_t)i, c), want[i][c]), "row %d col %d: %s", i,
                      c, sg_csv_cell(&t, (size_t)i, c));
        for (int c = 0; c < 5; c++) CHECK(!strcmp(t.header[c], hdr5[c]), "header %d", c);
    }
    if (rc == 0) sg_csv_table_free(&t);
    CHECK(count_tmp_files() == 0, "temporary files left behind");
    /* a header that is not an older form (a column neither there nor later) is refused, and
     * the file is left as it was */
    path_of(path, sizeof path, "upgrade_other.csv");
    write_raw(path, "run,accuracy,note\n1,0.5,x\n");
    memset(&err, 0, sizeof err);
    rc = sg_csv_append_upgrade(path, 5, hdr5, later, 2, &r, 1, &err);
    char *raw = read_raw(path);
    CHECK(rc == -1 && strstr(err.msg, "column 2") && strstr(err.msg, "'accuracy'") && raw &&
              !strcmp(raw, "run,accuracy,note\n1,0.5,x\n"),
          "another header: rc %d, %s", rc, err.msg);
    free(raw);
    /* nor is a file with the columns in another order */
    path_of(path, sizeof path, "upgrade_order.csv");
    write_raw(path, "loss,run,note\n0.5,1,x\n");
    memset(&err, 0, sizeof err);
    rc = sg_csv_append_upgrade(path, 5, hdr5, later, 2, &r, 1, &err);
    CHECK(rc == -1 && strstr(err.msg, "column 1"), "columns reordered: rc %d, %s", rc, err.msg);
    sg_csv_row_free(&r);
}

static void test_stream(void) {
    char path[1100];
    path_of(path, sizeof path, "stream.csv");
    sg_err err = {{0}};
    sg_csv_stream s;
    sg_csv_row r;
    sg_csv_row_init(&r);
    int rc = sg_csv_stream_open(&s, path, 3, hdr3, &err);
    CHECK(rc == 0, "open new: %s", err.msg);
    for (int i = 0; i < 3 && rc == 0; i++) {
        make_row(&r, i, 1.0 / (i + 1), i == 1 ? "two\nlines" : "ok");
        CHECK(sg_csv_stream_write(&s, &r, &err) == 0, "write: %s", err.msg);
    }
    sg_csv_stream_close(&s);
    CHECK(s.fd == -1, "closed stream keeps fd %d", s.fd);

    rc = sg_csv_stream_open(&s, path, 3, hdr3, &err);
    CHECK(rc == 0, "reopen: %s", err.msg);
    for (int i = 3; i < 5 && rc == 0; i++) {
        make_row(&r, i, 0.5, "again");
        CHECK(sg_csv_stream_write(&s, &r, &err) == 0, "write: %s", err.msg);
    }
    sg_csv_stream_close(&s);

    char *raw = read_raw(path);
    CHECK(raw && count_substr(raw, "run,loss,note\n") == 1, "header once:\n%s", raw ? raw : "");
    free(raw);
    sg_csv_table t;
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (rc == 0) {
        CHECK(t.nrows == 5, "rows %zu", t.nrows);
        for (size_t i = 0; i < t.nrows; i++)
            CHECK(atoi(sg_csv_cell(&t, i, 0)) == (int)i, "row %zu run %s", i,
                  sg_csv_cell(&t, i, 0));
        if (t.nrows > 1)
            CHECK(strcmp(sg_csv_cell(&t, 1, 2), "two\nlines") == 0, "note [%s]",
                  sg_csv_cell(&t, 1, 2));
        sg_csv_table_free(&t);
    }

    const char *other[3] = {"run", "loss", "comment"};
    memset(&err, 0, sizeof err);
    rc = sg_csv_stream_open(&s, path, 3, other, &err);
    CHECK(rc == -1 && s.fd == -1, "reopen with another header should fail");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "column 3") && strstr(err.msg, "'comment'") &&
              strstr(err.msg, "'note'"),
          "message: %s", err.msg);
    sg_csv_row_free(&r);
}

/* Reads `text` from a file and expects an error containing every string in want[]. */
static void expect_read_error(const char *name, const char *text, const char *const *want,
                              int nwant) {
    char path[1100];
    path_of(path, sizeof path, name);
    write_raw(path, text);
    sg_csv_table t;
    sg_err err = {{0}};
    int rc = sg_csv_read(path, &t, &err);
    CHECK(rc == -1, "%s: read should fail", name);
    CHECK(strstr(err.msg, path) != NULL, "%s: message lacks the path: %s", name, err.msg);
    for (int i = 0; i < nwant; i++)
        CHECK(strstr(err.msg, want[i]) != NULL, "%s: message lacks '%s': %s", name, want[i],
              err.msg);
    CHECK(t.header == NULL && t.cells == NULL, "%s: table not freed on error", name);
    if (rc == 0) sg_csv_table_free(&t);
}

static void test_malformed(void) {
    const char *unterminated[] = {"line 3:", "unterminated quoted field"};
    expect_read_error("unterminated.csv", "a,b\n1,2\n3,\"x\n4,5\n", unterminated, 2);
    const char *width[] = {"line 3:", "expected 3 fields", "found 2"};
    expect_read_error("width.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n", width, 3);
    const char *wide[] = {"line 2:", "expected 2 fields", "found 3"};
    expect_read_error("wide.csv", "a,b\n1,2,3\n", wide, 3);
    /* a row spanning two lines still counts lines the way an editor does */
    const char *width_ml[] = {"line 4:", "expected 2 fields", "found 3"};
    expect_read_error("width_ml.csv", "a,b\n\"x\ny\",1\n1,2,3\n", width_ml, 3);
    const char *empty[] = {"empty file"};
    expect_read_error("empty.csv", "", empty, 1);
    const char *truncated[] = {"line 3:", "truncated last line"};
    expect_read_error("truncated.csv", "a,b\n1,2\n3,4", truncated, 2);
    const char *stray[] = {"line 2:", "malformed"};
    expect_read_error("stray.csv", "a,b\n1,x\"y\n", stray, 2);
    const char *after[] = {"line 3:", "malformed"};
    expect_read_error("after_quote.csv", "a,b\n1,2\n\"q\"z,2\n", after, 2);

    /* a missing file names its path */
    char path[1100];
    path_of(path, sizeof path, "does_not_exist.csv");
    sg_csv_table t;
    sg_err err = {{0}};
    int rc = sg_csv_read(path, &t, &err);
    CHECK(rc == -1 && strstr(err.msg, path) && strstr(err.msg, "does not exist"), "missing: %s",
          err.msg);

    /* accepted: header only; CRLF line ends; blank lines between rows */
    path_of(path, sizeof path, "header_only.csv");
    write_raw(path, "a,b\n");
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0 && t.ncols == 2 && t.nrows == 0, "header only: %s", err.msg);
    if (rc == 0) sg_csv_table_free(&t);
    path_of(path, sizeof path, "crlf.csv");
    write_raw(path, "a,b\r\n1,\"x\"\r\n\r\n2,y\r\n");
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0 && t.nrows == 2, "crlf: %s", err.msg);
    if (rc == 0) {
        CHECK(strcmp(sg_csv_cell(&t, 0, 1), "x") == 0 && strcmp(sg_csv_cell(&t, 1, 1), "y") == 0,
              "crlf cells [%s] [%s]", sg_csv_cell(&t, 0, 1), sg_csv_cell(&t, 1, 1));
        sg_csv_table_free(&t);
    }
}

/* Four processes append 50 rows each, one call per row, to one file. */
static void test_concurrent_append(void) {
    enum { NPROC = 4, NPER = 50 };
    char path[1100];
    path_of(path, sizeof path, "concurrent.csv");
    const char *header[3] = {"proc", "i", "payload"};
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        pids[p] = fork();
        if (pids[p] < 0) {
            CHECK(0, "fork failed");
            continue;
        }
        if (pids[p] == 0) {
            sg_csv_row r;
            sg_csv_row_init(&r);
            int status = 0;
            for (int i = 0; i < NPER; i++) {
                char payload[64];
                snprintf(payload, sizeof payload, "p%d, \"row\" %d\nend", p, i);
                sg_csv_row_clear(&r);
                sg_csv_row_int(&r, p);
                sg_csv_row_int(&r, i);
                sg_csv_row_str(&r, payload);
                sg_err err;
                if (sg_csv_append(path, 3, header, &r, 1, &err) != 0) {
                    fprintf(stderr, "child %d: %s\n", p, err.msg);
                    status = 1;
                    break;
                }
            }
            sg_csv_row_free(&r);
            _exit(status);
        }
    }
    for (int p = 0; p < NPROC; p++) {
        if (pids[p] <= 0) continue;
        int st = 0;
        waitpid(pids[p], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %d", p, st);
    }
    sg_csv_table t;
    sg_err err = {{0}};
    int rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (rc != 0) return;
    CHECK(t.nrows == NPROC * NPER, "rows %zu, want %d", t.nrows, NPROC * NPER);
    int next[NPROC] = {0};
    int bad = 0;
    for (size_t r = 0; r < t.nrows; r++) {
        int p = atoi(sg_csv_cell(&t, r, 0)), i = atoi(sg_csv_cell(&t, r, 1));
        char payload[64];
        snprintf(payload, sizeof payload, "p%d, \"row\" %d\nend", p, i);
        /* each process's rows arrive complete and in its own order */
        if (p < 0 || p >= NPROC || i != next[p] || strcmp(sg_csv_cell(&t, r, 2), payload) != 0)
            bad++;
        else
            next[p]++;
    }
    CHECK(bad == 0, "%d rows out of order or damaged", bad);
    for (int p = 0; p < NPROC; p++) CHECK(next[p] == NPER, "process %d: %d rows", p, next[p]);
    sg_csv_table_free(&t);
    CHECK(count_tmp_files() == 0, "temporary files left behind");
}

static void test_numbers(void) {
    sg_csv_row r;
    sg_csv_row_init(&r);
    sg_rng rng;
    sg_rng_init(&rng, 20240611, 7, 0, 0);
    int fbad = 0, dbad = 0;
    for (int k = 0; k < 2000; k++) {
        /* random bit patterns cover every exponent, subnormals and both signs */
        uint32_t bits = sg_rng_u32(&rng);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (isnan(f)) continue;
        sg_csv_row_clear(&r);
        sg_csv_row_float(&r, f);
        float g = strtof(r.buf, NULL);
        uint32_t gbits;
        memcpy(&gbits, &g, sizeof g);
        if (gbits != bits) fbad++;

        uint64_t dbits = ((uint64_t)sg_rng_u32(&rng) << 32) | sg_rng_u32(&rng);
        double d;
        memcpy(&d, &dbits, sizeof d);
        if (isnan(d)) continue;
        sg_csv_row_clear(&r);
        sg_csv_row_double(&r, d);
        double e = strtod(r.buf, NULL);
        uint64_t ebits;
        memcpy(&ebits, &e, sizeof e);
        if (ebits != dbits) dbad++;
    }
    CHECK(fbad == 0, "%d floats did not round-trip", fbad);
    CHECK(dbad == 0, "%d doubles did not round-trip", dbad);

    sg_csv_row_clear(&r);
    sg_csv_row_float(&r, NAN);
    sg_csv_row_float(&r, -NAN);
    sg_csv_row_float(&r, INFINITY);
    sg_csv_row_float(&r, -INFINITY);
    sg_csv_row_double(&r, (double)NAN);
    sg_csv_row_double(&r, -(double)INFINITY);
    sg_csv_row_float(&r, 0.1f);
    sg_csv_row_double(&r, 0.1);
    CHECK(strcmp(r.buf, "nan,nan,inf,-inf,nan,-inf,0.100000001,0.10000000000000001") == 0,
          "text [%s]", r.buf);
    sg_csv_row_free(&r);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/test_csv_%ld", tu_tmpdir(), (long)getpid());
    if (mkdir(dir, 0777) != 0) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 2;
    }
    test_quoting_round_trip();
    test_append();
    test_append_upgrade();
    test_stream();
    test_malformed();
    test_concurrent_append();
    test_numbers();
    remove_dir();
    return test_finish();
}
