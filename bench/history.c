/* bench/history.c: the history database, ingestion, the series and regression detection
 * (history.h). The static site is in history_html.c. */
#define _XOPEN_SOURCE 700 /* strdup, gmtime_r */
#include "bench/history.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/history_db.h"
#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/hash.h"
#include "core/base/stats.h"

/* 'SGHI': marks the file as a stopgrad history for anyone who opens it (sqlite3's .dbinfo). */
#define HISTORY_APPLICATION_ID 0x53474849

static const char *const schema_sql =
    "CREATE TABLE files(\n"
    "  content_hash TEXT PRIMARY KEY,  -- FNV-1a 64 of the file's bytes and its size\n"
    "  path TEXT NOT NULL, kind TEXT NOT NULL, added_utc TEXT NOT NULL,\n"
    "  runs_added INTEGER NOT NULL, values_added INTEGER NOT NULL);\n"
    "CREATE TABLE machines(\n"
    "  machine_id TEXT PRIMARY KEY, cpu_model TEXT NOT NULL, packages INTEGER, cores INTEGER,\n"
    "  pus INTEGER, numa_nodes INTEGER, l1d_bytes INTEGER, l2_bytes INTEGER, l3_bytes INTEGER,\n"
    "  memory_bytes INTEGER, accelerator TEXT NOT NULL);\n"
    "CREATE TABLE commits(git_commit TEXT PRIMARY KEY, first_utc TEXT NOT NULL);\n"
    "CREATE TABLE runs(\n"
    "  run_id TEXT PRIMARY KEY, source TEXT NOT NULL, suite TEXT NOT NULL,\n"
    "  backend TEXT NOT NULL, machine_id TEXT NOT NULL, threads INTEGER NOT NULL,\n"
    "  git_commit TEXT NOT NULL REFERENCES commits, time_utc TEXT NOT NULL,\n"
    "  os TEXT NOT NULL, compiler TEXT NOT NULL, build_flags TEXT NOT NULL,\n"
    "  build_type TEXT NOT NULL, openblas_config TEXT NOT NULL, openblas_parallel TEXT NOT NULL,\n"
    "  file_hash TEXT NOT NULL REFERENCES files);\n"
    "CREATE TABLE results(\n"
    "  run_id TEXT NOT NULL REFERENCES runs, kind TEXT NOT NULL, config TEXT NOT NULL,\n"
    "  name TEXT NOT NULL, shape TEXT NOT NULL, metric TEXT NOT NULL, unit TEXT NOT NULL,\n"
    "  higher_is_better INTEGER NOT NULL, value REAL NOT NULL,\n"
    "  samples TEXT NOT NULL,  -- ';'-separated: repetition times, or the value itself\n"
    "  flops REAL, bytes REAL,  -- of one call (kernel suites)\n"
    "  PRIMARY KEY(run_id, kind, config, name, shape, metric));\n";

struct sg_history {
    sqlite3 *db;
    char path[4096];
};

sqlite3 *sg_history_db(sg_history *h) { return h->db; }
const char *sg_history_path(const sg_history *h) { return h->path; }

int sg_hdb_errf(sg_history *h, sg_err *err, const char *what) {
    return sg_errf(err, "%s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
}

static int exec(sg_history *h, const char *sql, sg_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sg_errf(err, "%s: %.200s: %s", h->path, sql, msg ? msg : sqlite3_errmsg(h->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int pragma_int(sg_history *h, const char *sql, int *v, sg_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sg_hdb_errf(h, err, sql);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return sg_hdb_errf(h, err, sql);
    return 0;
}

void sg_history_close(sg_history *h) {
    if (!h) return;
    sqlite3_close(h->db);
    free(h);
}

/* Creates the schema, or checks it, in one IMMEDIATE transaction: two processes creating the
 * same new file serialise here, and the second finds the first's schema. */
static int schema_check_or_create(sg_history *h, sg_err *err) {
    if (exec(h, "BEGIN IMMEDIATE", err)) return -1;
    int version = 0, app = 0, tables = 0;
    if (pragma_int(h, "PRAGMA user_version", &version, err) ||
        pragma_int(h, "PRAGMA application_id", &app, err) ||
        pragma_int(h, "SELECT count(*) FROM sqlite_schema", &tables, err))
        goto fail;
    if (version == 0 && app == 0 && tables == 0) {
        char sql[160];
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
                 HISTORY_APPLICATION_ID, SG_HISTORY_SCHEMA_VERSION);
        if (exec(h, schema_sql, err) || exec(h, sql, err)) goto fail;
    } else if (app != HISTORY_APPLICATION_ID) {
        sg_errf(err,
                "%s: not a stopgrad history database (SQLite application_id %d, expected %d; "
                "%d table(s)); give another --db",
                h->path, app, HISTORY_APPLICATION_ID, tables);
        goto fail;
    } else if (version > SG_HISTORY_SCHEMA_VERSION) {
        sg_errf(err,
                "%s: history schema version %d is newer than this stopgrad's (%d): it was "
                "written by a newer stopgrad; use that one",
                h->path, version, SG_HISTORY_SCHEMA_VERSION);
        goto fail;
    } else if (version < 1) {
        sg_errf(err, "%s: history schema version %d is not valid (expected 1..%d)", h->path,
                version, SG_HISTORY_SCHEMA_VERSION);
        goto fail;
    }
    return exec(h, "COMMIT", err);
fail:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int sg_history_open(sg_history **out, const char *path, int create, sg_err *err) {
    *out = NULL;
    if (!path || !*path) return sg_errf(err, "--db: empty path; expected a history database file");
    if (!create && !sg_file_exists(path))
        return sg_errf(err,
                       "%s: no history database there; `stopgrad history add FILE.csv` "
                       "creates it",
                       path);
    if (create && sg_mkdirs_for(path, err)) return -1;
    sg_history *h = calloc(1, sizeof *h);
    SG_CHECK(h != NULL, "out of memory");
    snprintf(h->path, sizeof h->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &h->db, flags, NULL) != SQLITE_OK) {
        sg_errf(err, "%s: cannot open the history database: %s", path,
                h->db ? sqlite3_errmsg(h->db) : "out of memory");
        sg_history_close(h);
        return -1;
    }
    /* Concurrent writers (CI jobs) wait for each other instead of failing with SQLITE_BUSY;
     * WAL lets readers (history html) go on while one writes. */
    sqlite3_busy_timeout(h->db, 60000);
    if (exec(h, "PRAGMA foreign_keys = ON", err) || schema_check_or_create(h, err) ||
        exec(h, "PRAGMA journal_mode = WAL", err)) {
        sg_history_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

/* ---- ingestion ------------------------------------------------------------------------------ */

static void now_utc(char *buf, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The file's bytes and size, hashed. */
static int content_hash(const char *path, char out[17], sg_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return sg_errf(err, "%s: cannot open: %s", path, strerror(errno));
    uint64_t h = SG_FNV1A64_INIT;
    unsigned long long size = 0;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        h = sg_fnv1a64(h, buf, n);
        size += n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) return sg_errf(err, "%s: read failed", path);
    h = sg_fnv1a64(h, &size, sizeof size);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

typedef enum { SRC_BENCH = 0, SRC_TRAIN, SRC_CHECK } source_kind;
static const char *const source_names[] = {"kernel-suite", "training-results", "check"};

static const char *const machine_cols[] = {
    "machine_id", "cpu_model",         "packages", "cores",       "pus",       "numa_nodes",
    "l1d_bytes",  "l2_bytes",          "l3_bytes", "memory_bytes", "os",       "compiler",
    "build_flags", "build_type",       "openblas_config", "openblas_parallel", "threads",
    "accelerator"};
enum {
    M_ID,
    M_CPU,
    M_PACKAGES,
    M_CORES,
    M_PUS,
    M_NUMA,
    M_L1,
    M_L2,
    M_L3,
    M_MEM,
    M_OS,
    M_COMPILER,
    M_FLAGS,
    M_BUILD,
    M_BLAS,
    M_BLAS_PAR,
    M_THREADS,
    M_ACC,
    M_N
};

typedef struct {
    const char *path;
    sg_csv_table t;
    int mcol[M_N];
} in_file;

static size_t line_of(size_t r) { return r + 2; } /* the header is line 1 */

static int need_cols(const in_file *f, const char *kind, const char *const *names, int n, int *cols,
                     sg_err *err) {
    for (int i = 0; i < n; i++) {
        cols[i] = sg_csv_col(&f->t, names[i]);
        if (cols[i] < 0)
            return sg_errf(err,
                           "%s: a %s CSV without the column '%s' (results/README.md lists "
                           "the columns this kind of file has)",
                           f->path, kind, names[i]);
    }
    return 0;
}

static int parse_double(const in_file *f, size_t r, const char *col, const char *s, double *v,
                        sg_err *err) {
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return sg_errf(err, "%s: line %zu, column %s: '%s' is not a number; expected a finite "
                            "float",
                       f->path, line_of(r), col, s);
    *v = d;
    return 0;
}

static int parse_int(const in_file *f, size_t r, const char *col, const char *s, long long *v,
                     sg_err *err) {
    char *end;
    errno = 0;
    long long d = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return sg_errf(err, "%s: line %zu, column %s: '%s' is not an integer", f->path, line_of(r),
                       col, s);
    *v = d;
    return 0;
}

/* ';'-separated positive seconds (rep_times_s): checked, kept as text. */
static int check_samples(const in_file *f, size_t r, const char *s, sg_err *err) {
    const char *p = s;
    for (int i = 1; *p; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end != ';' && *end) || !isfinite(v) || v <= 0) {
            size_t len = strcspn(p, ";");
            return sg_errf(err,
                           "%s: line %zu, column rep_times_s: repetition %d is '%.*s'; expected "
                           "positive seconds separated by ';'",
                           f->path, line_of(r), i, (int)(len > 64 ? 64 : len), p);
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

typedef struct {
    sg_history *h;
    const char *file_hash;
    sqlite3_stmt *ins_machine, *ins_commit, *ins_run, *ins_result;
    /* the runs of this file seen so far: whether each is new (its rows are added) */
    char **run_ids;
    int *run_new;
    int nruns, cap;
    sg_history_add_result *res;
} add_ctx;

static int bind_text(sqlite3_stmt *st, int i, const char *s) {
    return sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

static int step_done(add_ctx *c, sqlite3_stmt *st, const char *what, sg_err *err) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return sg_hdb_errf(c->h, err, what);
    return 0;
}

/* Machine columns of row r of a table (f->mcol), into the machines table. */
static int add_machine(add_ctx *c, const in_file *f, size_t r, sg_err *err) {
    const char *id = sg_csv_cell(&f->t, r, f->mcol[M_ID]);
    if (!*id) return 0;
    sqlite3_stmt *st = c->ins_machine;
    bind_text(st, 1, id);
    bind_text(st, 2, sg_csv_cell(&f->t, r, f->mcol[M_CPU]));
    const int ints[] = {M_PACKAGES, M_CORES, M_PUS, M_NUMA, M_L1, M_L2, M_L3, M_MEM};
    for (int i = 0; i < 8; i++) {
        const char *s = sg_csv_cell(&f->t, r, f->mcol[ints[i]]);
        long long v = 0;
        if (!*s) {
            sqlite3_bind_null(st, 3 + i);
            continue;
        }
        if (parse_int(f, r, machine_cols[ints[i]], s, &v, err)) return -1;
        sqlite3_bind_int64(st, 3 + i, v);
    }
    bind_text(st, 11, sg_csv_cell(&f->t, r, f->mcol[M_ACC]));
    return step_done(c, st, "adding a machine", err);
}

/* Registers run_id (first time it is seen in this file): *is_new says whether its rows go in. */
static int add_run(add_ctx *c, const char *run_id, source_kind src, const char *suite,
                   const char *backend, const in_file *mf, size_t mr, const char *commit,
                   const char *time_utc, int *is_new, sg_err *err) {
    for (int i = c->nruns - 1; i >= 0; i--)
        if (!strcmp(c->run_ids[i], run_id)) {
            *is_new = c->run_new[i];
            return 0;
        }
    if (c->nruns == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->run_ids = realloc(c->run_ids, (size_t)c->cap * sizeof *c->run_ids);
        c->run_new = realloc(c->run_new, (size_t)c->cap * sizeof *c->run_new);
        SG_CHECK(c->run_ids && c->run_new, "out of memory");
    }
    long long threads = 0;
    const char *th = mf ? sg_csv_cell(&mf->t, mr, mf->mcol[M_THREADS]) : "";
    if (*th && parse_int(mf, mr, "threads", th, &threads, err)) return -1;
    if (mf && add_machine(c, mf, mr, err)) return -1;
    sqlite3_stmt *st = c->ins_commit;
    bind_text(st, 1, commit);
    bind_text(st, 2, time_utc);
    if (step_done(c, st, "adding a commit", err)) return -1;
    st = c->ins_run;
    bind_text(st, 1, run_id);
    bind_text(st, 2, source_names[src]);
    bind_text(st, 3, suite);
    bind_text(st, 4, backend);
    bind_text(st, 5, mf ? sg_csv_cell(&mf->t, mr, mf->mcol[M_ID]) : "");
    sqlite3_bind_int64(st, 6, threads);
    bind_text(st, 7, commit);
    bind_text(st, 8, time_utc);
    const int text_cols[] = {M_OS, M_COMPILER, M_FLAGS, M_BUILD, M_BLAS, M_BLAS_PAR};
    for (int i = 0; i < 6; i++) bind_text(st, 9 + i, mf ? sg_csv_cell(&mf->t, mr, mf->mcol[text_cols[i]]) : "");
    bind_text(st, 15, c->file_hash);
    if (step_done(c, st, "adding a run", err)) return -1;
    *is_new = sqlite3_changes(c->h->db) == 1;
    c->run_ids[c->nruns] = strdup(run_id);
    SG_CHECK(c->run_ids[c->nruns] != NULL, "out of memory");
    c->run_new[c->nruns++] = *is_new;
    if (*is_new)
        c->res->runs_added++;
    else
        c->res->runs_present++;
    return 0;
}

typedef struct {
    const char *kind, *config, *name, *shape, *metric, *unit;
    int higher_is_better;
    double value;
    const char *samples; /* NULL: the value alone */
    double flops, bytes; /* NaN: none */
} result_row;

static int add_result(add_ctx *c, const in_file *f, size_t r, const char *run_id,
                      const result_row *x, sg_err *err) {
    sqlite3_stmt *st = c->ins_result;
    char one[40];
    snprintf(one, sizeof one, "%.17g", x->value);
    bind_text(st, 1, run_id);
    bind_text(st, 2, x->kind);
    bind_text(st, 3, x->config);
    bind_text(st, 4, x->name);
    bind_text(st, 5, x->shape);
    bind_text(st, 6, x->metric);
    bind_text(st, 7, x->unit);
    sqlite3_bind_int(st, 8, x->higher_is_better);
    sqlite3_bind_double(st, 9, x->value);
    bind_text(st, 10, x->samples && *x->samples ? x->samples : one);
    if (isnan(x->flops))
        sqlite3_bind_null(st, 11);
    else
        sqlite3_bind_double(st, 11, x->flops);
    if (isnan(x->bytes))
        sqlite3_bind_null(st, 12);
    else
        sqlite3_bind_double(st, 12, x->bytes);
    int rc = sqlite3_step(st);
    int ext = sqlite3_extended_errcode(c->h->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_CONSTRAINT && ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return sg_errf(err,
                       "%s: line %zu: run %s has %s %s '%s' %s %s twice; expected one row per "
                       "benchmark and metric in a run",
                       f->path, line_of(r), run_id, x->kind, x->config, x->name, x->shape,
                       x->metric);
    if (rc != SQLITE_DONE) return sg_hdb_errf(c->h, err, "adding a result");
    c->res->values_added++;
    return 0;
}

static int machine_cols_of(in_file *f, const char *kind, sg_err *err) {
    return need_cols(f, kind, machine_cols, M_N, f->mcol, err);
}

static int nonempty(const in_file *f, size_t r, int col, const char *name, const char *what,
                    sg_err *err) {
    if (*sg_csv_cell(&f->t, r, col)) return 0;
    return sg_errf(err, "%s: line %zu, column %s: empty; expected %s", f->path, line_of(r), name,
                   what);
}

static int add_bench(add_ctx *c, in_file *f, sg_err *err) {
    static const char *const names[] = {"run_id", "time_utc", "backend", "suite",       "kind",
                                        "config", "kernel",   "shape",   "flops",       "bytes",
                                        "status", "median_s", "rep_times_s", "git_commit"};
    enum { RUN, TIME, BACKEND, SUITE, KIND, CONFIG, KERNEL, SHAPE, FLOPS, BYTES, STATUS, MEDIAN,
           REPS, GIT, N };
    int col[N];
    if (need_cols(f, "kernel-suite", names, N, col, err) || machine_cols_of(f, "kernel-suite", err))
        return -1;
    for (size_t r = 0; r < f->t.nrows; r++) {
        const char *run_id = sg_csv_cell(&f->t, r, col[RUN]);
        if (nonempty(f, r, col[RUN], "run_id", "the run's id", err) ||
            nonempty(f, r, col[TIME], "time_utc", "when the run finished", err) ||
            nonempty(f, r, col[GIT], "git_commit", "the commit the binary was built from", err))
            return -1;
        int is_new;
        if (add_run(c, run_id, SRC_BENCH, sg_csv_cell(&f->t, r, col[SUITE]),
                    sg_csv_cell(&f->t, r, col[BACKEND]), f, r, sg_csv_cell(&f->t, r, col[GIT]),
                    sg_csv_cell(&f->t, r, col[TIME]), &is_new, err))
            return -1;
        if (!is_new) continue;
        const char *med = sg_csv_cell(&f->t, r, col[MEDIAN]);
        if (strcmp(sg_csv_cell(&f->t, r, col[STATUS]), "ok") != 0 || !*med) {
            c->res->rows_unmeasured++;
            continue;
        }
        result_row x = {.kind = sg_csv_cell(&f->t, r, col[KIND]),
                        .config = sg_csv_cell(&f->t, r, col[CONFIG]),
                        .name = sg_csv_cell(&f->t, r, col[KERNEL]),
                        .shape = sg_csv_cell(&f->t, r, col[SHAPE]),
                        .metric = "median_s",
                        .unit = "s",
                        .higher_is_better = 0,
                        .samples = sg_csv_cell(&f->t, r, col[REPS]),
                        .flops = NAN,
                        .bytes = NAN};
        if (parse_double(f, r, "median_s", med, &x.value, err)) return -1;
        if (!(x.value > 0))
            return sg_errf(err, "%s: line %zu, column median_s: %s; expected positive seconds",
                           f->path, line_of(r), med);
        if (check_samples(f, r, x.samples, err)) return -1;
        const char *fl = sg_csv_cell(&f->t, r, col[FLOPS]), *by = sg_csv_cell(&f->t, r, col[BYTES]);
        if (*fl && parse_double(f, r, "flops", fl, &x.flops, err)) return -1;
        if (*by && parse_double(f, r, "bytes", by, &x.bytes, err)) return -1;
        if (add_result(c, f, r, run_id, &x, err)) return -1;
    }
    return 0;
}

/* The setting without its trainer.seed=N entry: what the seeds of one configuration share. */
static void setting_without_seed(const char *setting, char *out, size_t cap) {
    size_t at = 0;
    out[0] = 0;
    for (const char *p = setting; *p;) {
        size_t len = strcspn(p, ";");
        if (!(len >= 13 && !strncmp(p, "trainer.seed=", 13)) && at + len + 2 < cap) {
            if (at) out[at++] = ';';
            memcpy(out + at, p, len);
            at += len;
            out[at] = 0;
        }
        p += len;
        if (*p == ';') p++;
    }
}

static int add_train(add_ctx *c, in_file *f, sg_err *err) {
    static const char *const names[] = {"run_id",  "finished_utc", "git_commit", "dataset",
                                        "setting", "tag",          "backend",    "probe_best",
                                        "knn_acc", "img_per_s"};
    enum { RUN, TIME, GIT, DATASET, SETTING, TAG, BACKEND, PROBE, KNN, IMGS, N };
    int col[N];
    if (need_cols(f, "training-results", names, N, col, err) ||
        machine_cols_of(f, "training-results", err))
        return -1;
    static const struct {
        int col;
        const char *metric, *unit;
    } metrics[] = {{PROBE, "probe_best", "%"}, {KNN, "knn_acc", "%"}, {IMGS, "img_per_s", "img/s"}};
    for (size_t r = 0; r < f->t.nrows; r++) {
        const char *run_id = sg_csv_cell(&f->t, r, col[RUN]);
        if (nonempty(f, r, col[RUN], "run_id", "the run's id", err) ||
            nonempty(f, r, col[TIME], "finished_utc", "when the run finished", err) ||
            nonempty(f, r, col[GIT], "git_commit", "the commit the binary was built from", err))
            return -1;
        const char *tag = sg_csv_cell(&f->t, r, col[TAG]);
        char name[2048];
        if (*tag)
            snprintf(name, sizeof name, "%s", tag);
        else
            setting_without_seed(sg_csv_cell(&f->t, r, col[SETTING]), name, sizeof name);
        /* a suite's tag is SUITE/RUN: the suite is what `history show` lists */
        char suite[256];
        snprintf(suite, sizeof suite, "%.*s", (int)strcspn(tag, "/"), tag);
        int is_new;
        if (add_run(c, run_id, SRC_TRAIN, *suite ? suite : sg_csv_cell(&f->t, r, col[DATASET]),
                    sg_csv_cell(&f->t, r, col[BACKEND]), f, r, sg_csv_cell(&f->t, r, col[GIT]),
                    sg_csv_cell(&f->t, r, col[TIME]), &is_new, err))
            return -1;
        if (!is_new) continue;
        for (int m = 0; m < 3; m++) {
            const char *s = sg_csv_cell(&f->t, r, col[metrics[m].col]);
            result_row x = {.kind = "train",
                            .config = sg_csv_cell(&f->t, r, col[DATASET]),
                            .name = name,
                            .shape = "",
                            .metric = metrics[m].metric,
                            .unit = metrics[m].unit,
                            .higher_is_better = 1,
                            .flops = NAN,
                            .bytes = NAN};
            if (!*s) {
                c->res->rows_unmeasured++;
                continue;
            }
            if (parse_double(f, r, metrics[m].metric, s, &x.value, err)) return -1;
            /* an untrained baseline run has no speed */
            if (m == 2 && !(x.value > 0)) {
                c->res->rows_unmeasured++;
                continue;
            }
            if (add_result(c, f, r, run_id, &x, err)) return -1;
        }
    }
    return 0;
}

static int add_check(add_ctx *c, in_file *f, const sg_history_add_opts *o, sg_err *err) {
    static const char *const names[] = {"ref_id", "table", "setting", "metric", "rule", "ours_mean"};
    enum { REF, TABLE, SETTING, METRIC, RULE, OURS, N };
    int col[N];
    if (need_cols(f, "check", names, N, col, err)) return -1;
    if (!o || !o->commit || !*o->commit)
        return sg_errf(err,
                       "%s: a check CSV names no git commit; give the commit of the runs it "
                       "checked with --commit COMMIT (and their machine with --machine "
                       "MACHINE.csv)",
                       f->path);
    in_file mf = {.path = o->machine_csv};
    int have_machine = 0, rc = -1;
    if (o->machine_csv) {
        if (sg_csv_read(o->machine_csv, &mf.t, err)) return -1;
        have_machine = 1;
        if (machine_cols_of(&mf, "machine", err)) goto done;
        if (mf.t.nrows != 1) {
            sg_errf(err, "%s: %zu rows; expected the one row of `stopgrad machine --csv`",
                    o->machine_csv, mf.t.nrows);
            goto done;
        }
    }
    char when[32];
    if (o->time_utc)
        snprintf(when, sizeof when, "%s", o->time_utc);
    else
        now_utc(when, sizeof when);
    char run_id[256];
    snprintf(run_id, sizeof run_id, "check-%s-%s", o->commit, c->file_hash);
    int is_new;
    if (add_run(c, run_id, SRC_CHECK, "check", "", have_machine ? &mf : NULL, 0, o->commit, when,
                &is_new, err))
        goto done;
    for (size_t r = 0; is_new && r < f->t.nrows; r++) {
        const char *s = sg_csv_cell(&f->t, r, col[OURS]);
        if (!*s) {
            c->res->rows_unmeasured++;
            continue;
        }
        /* a `collapse` row passes when ours collapses too: there a rise is the worsening */
        result_row x = {.kind = "check",
                        .config = sg_csv_cell(&f->t, r, col[TABLE]),
                        .name = sg_csv_cell(&f->t, r, col[REF]),
                        .shape = sg_csv_cell(&f->t, r, col[SETTING]),
                        .metric = sg_csv_cell(&f->t, r, col[METRIC]),
                        .unit = "%",
                        .higher_is_better = strcmp(sg_csv_cell(&f->t, r, col[RULE]), "collapse") != 0,
                        .flops = NAN,
                        .bytes = NAN};
        if (parse_double(f, r, "ours_mean", s, &x.value, err)) goto done;
        if (add_result(c, f, r, run_id, &x, err)) goto done;
    }
    rc = 0;
done:
    if (have_machine) sg_csv_table_free(&mf.t);
    return rc;
}

static int detect_kind(const in_file *f, source_kind *k, sg_err *err) {
    const sg_csv_table *t = &f->t;
    if (sg_csv_col(t, "kernel") >= 0 && sg_csv_col(t, "median_s") >= 0)
        *k = SRC_BENCH;
    else if (sg_csv_col(t, "probe_best") >= 0 && sg_csv_col(t, "config_hash") >= 0)
        *k = SRC_TRAIN;
    else if (sg_csv_col(t, "ref_id") >= 0 && sg_csv_col(t, "verdict") >= 0)
        *k = SRC_CHECK;
    else
        return sg_errf(err,
                       "%s: unknown kind of CSV (header starts '%s,%s,...'); expected a "
                       "kernel-suite CSV of `stopgrad bench` (kernel, median_s, ...), a "
                       "training-results CSV (run_id, config_hash, probe_best, ...) or a check "
                       "CSV of `stopgrad check` (ref_id, verdict, ...)",
                       f->path, t->ncols > 0 ? t->header[0] : "",
                       t->ncols > 1 ? t->header[1] : "");
    return 0;
}

int sg_history_add(sg_history *h, const char *path, const sg_history_add_opts *o,
                   sg_history_add_result *res, sg_err *err) {
    memset(res, 0, sizeof *res);
    char hash[17];
    if (content_hash(path, hash, err)) return -1;
    in_file f = {.path = path};
    if (sg_csv_read(path, &f.t, err)) return -1;
    source_kind kind = SRC_BENCH;
    if (detect_kind(&f, &kind, err)) {
        sg_csv_table_free(&f.t);
        return -1;
    }
    res->kind = source_names[kind];
    add_ctx c = {.h = h, .file_hash = hash, .res = res};
    sqlite3_stmt *ins_file = NULL;
    sqlite3_stmt **sts[] = {&c.ins_machine, &c.ins_commit, &c.ins_run, &c.ins_result};
    int rc = -1;
    if (exec(h, "BEGIN IMMEDIATE", err)) goto out;
    sqlite3_stmt *seen;
    if (sqlite3_prepare_v2(h->db, "SELECT 1 FROM files WHERE content_hash = ?", -1, &seen, NULL)) {
        sg_hdb_errf(h, err, "looking up the file");
        goto rollback;
    }
    bind_text(seen, 1, hash);
    int step = sqlite3_step(seen);
    sqlite3_finalize(seen);
    if (step == SQLITE_ROW) {
        res->already = 1;
        rc = exec(h, "ROLLBACK", err);
        goto out;
    }
    if (step != SQLITE_DONE) {
        sg_hdb_errf(h, err, "looking up the file");
        goto rollback;
    }
    static const char *const sql[] = {
        "INSERT OR IGNORE INTO machines VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        /* a commit's place in the order is its earliest result */
        "INSERT INTO commits VALUES (?1, ?2) ON CONFLICT(git_commit) DO UPDATE SET "
        "first_utc = min(first_utc, excluded.first_utc)",
        "INSERT OR IGNORE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"};
    char added[32];
    now_utc(added, sizeof added);
    for (int i = 0; i < 4; i++)
        if (sqlite3_prepare_v2(h->db, sql[i], -1, sts[i], NULL) != SQLITE_OK) {
            sg_hdb_errf(h, err, sql[i]);
            goto rollback;
        }
    /* the file row first: runs refer to it */
    if (sqlite3_prepare_v2(h->db, "INSERT INTO files VALUES (?,?,?,?,0,0)", -1, &ins_file, NULL) !=
        SQLITE_OK) {
        sg_hdb_errf(h, err, "adding the file");
        goto rollback;
    }
    bind_text(ins_file, 1, hash);
    bind_text(ins_file, 2, path);
    bind_text(ins_file, 3, res->kind);
    bind_text(ins_file, 4, added);
    if (step_done(&c, ins_file, "adding the file", err)) goto rollback;
    int bad = kind == SRC_BENCH   ? add_bench(&c, &f, err)
              : kind == SRC_TRAIN ? add_train(&c, &f, err)
                                  : add_check(&c, &f, o, err);
    if (bad) goto rollback;
    char upd[200];
    snprintf(upd, sizeof upd,
             "UPDATE files SET runs_added = %d, values_added = %d WHERE content_hash = '%s'",
             res->runs_added, res->values_added, hash);
    if (exec(h, upd, err) || exec(h, "COMMIT", err)) goto rollback;
    rc = 0;
    goto out;
rollback:
    sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    memset(res, 0, sizeof *res);
    res->kind = source_names[kind];
out:
    sqlite3_finalize(ins_file);
    for (int i = 0; i < 4; i++) sqlite3_finalize(*sts[i]);
    for (int i = 0; i < c.nruns; i++) free(c.run_ids[i]);
    free(c.run_ids);
    free(c.run_new);
    sg_csv_table_free(&f.t);
    return rc;
}

/* ---- show ------------------------------------------------------------------------------------ */

static const char *col_text(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

typedef void (*row_printer)(sqlite3_stmt *st, FILE *out);

static int print_query(sg_history *h, const char *sql, row_printer pr, FILE *out, int *count,
                       sg_err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sg_hdb_errf(h, err, sql);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        pr(st, out);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sg_hdb_errf(h, err, sql);
    if (count) *count = n;
    return 0;
}

static void print_machine(sqlite3_stmt *st, FILE *out) {
    fprintf(out, "  %-16s  %s", col_text(st, 0), col_text(st, 1));
    if (*col_text(st, 6)) fprintf(out, "; %s", col_text(st, 6));
    fprintf(out, "\n  %16s  %lld package(s), %lld cores, %lld PUs, %lld NUMA node(s), L1d %lld KiB, "
                 "L2 %lld KiB, L3 %lld MiB, %.1f GiB; %d run(s)\n",
            "", sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
            sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5),
            sqlite3_column_int64(st, 7) >> 10, sqlite3_column_int64(st, 8) >> 10,
            sqlite3_column_int64(st, 9) >> 20, (double)sqlite3_column_int64(st, 10) / (1 << 30),
            sqlite3_column_int(st, 11));
}

static void print_suite(sqlite3_stmt *st, FILE *out) {
    fprintf(out, "  %-16s  %-28s  %-5s  %4d run(s)  %6d value(s)  %s .. %s\n", col_text(st, 0),
            col_text(st, 1), *col_text(st, 2) ? col_text(st, 2) : "-", sqlite3_column_int(st, 3),
            sqlite3_column_int(st, 4), col_text(st, 5), col_text(st, 6));
}

static void print_commit(sqlite3_stmt *st, FILE *out) {
    fprintf(out, "  %4d  %-20s  %s  %3d run(s)  %s\n", sqlite3_column_int(st, 0), col_text(st, 1),
            col_text(st, 2), sqlite3_column_int(st, 3), col_text(st, 4));
}

int sg_history_show(sg_history *h, FILE *out, sg_err *err) {
    int nm = 0, ns = 0, nc = 0;
    fprintf(out, "history %s (schema version %d)\n\nmachines:\n", h->path,
            SG_HISTORY_SCHEMA_VERSION);
    if (print_query(h,
                    "SELECT m.machine_id, m.cpu_model, m.packages, m.cores, m.pus, m.numa_nodes, "
                    "m.accelerator, m.l1d_bytes, m.l2_bytes, m.l3_bytes, m.memory_bytes, "
                    "(SELECT count(*) FROM runs r WHERE r.machine_id = m.machine_id) "
                    "FROM machines m ORDER BY m.machine_id",
                    print_machine, out, &nm, err))
        return -1;
    if (!nm) fprintf(out, "  (none)\n");
    fprintf(out, "\nsuites and sources:\n  %-16s  %-28s  %-5s\n", "source", "suite", "backend");
    if (print_query(h,
                    "SELECT r.source, r.suite, r.backend, count(DISTINCT r.run_id), "
                    "(SELECT count(*) FROM results x JOIN runs q USING(run_id) WHERE "
                    "q.source = r.source AND q.suite = r.suite AND q.backend = r.backend), "
                    "min(r.time_utc), max(r.time_utc) FROM runs r "
                    "GROUP BY r.source, r.suite, r.backend ORDER BY r.source, r.suite, r.backend",
                    print_suite, out, &ns, err))
        return -1;
    if (!ns) fprintf(out, "  (none)\n");
    fprintf(out, "\ncommits, oldest first (by their first result):\n");
    if (print_query(h,
                    "SELECT row_number() OVER (ORDER BY c.first_utc, c.git_commit), c.git_commit, "
                    "c.first_utc, count(r.run_id), group_concat(DISTINCT r.source) FROM commits c "
                    "LEFT JOIN runs r USING(git_commit) GROUP BY c.git_commit "
                    "ORDER BY c.first_utc, c.git_commit",
                    print_commit, out, &nc, err))
        return -1;
    if (!nc) fprintf(out, "  (none)\n");
    fprintf(out, "\n%d machine(s), %d suite(s) or source(s), %d commit(s)\n", nm, ns, nc);
    return 0;
}

/* ---- the series ------------------------------------------------------------------------------ */

static char *dup(const char *s) {
    char *d = strdup(s ? s : "");
    SG_CHECK(d != NULL, "out of memory");
    return d;
}

void sg_hist_data_free(sg_hist_data *d) {
    for (int i = 0; i < d->ncommits; i++) {
        free(d->commits[i].commit);
        free(d->commits[i].first_utc);
    }
    free(d->commits);
    for (int i = 0; i < d->nseries; i++) {
        sg_hist_series *s = &d->series[i];
        char *strs[] = {s->machine_id, s->backend, s->kind, s->config,
                        s->name,       s->shape,   s->metric, s->unit};
        for (int k = 0; k < 8; k++) free(strs[k]);
        for (int p = 0; p < s->npts; p++) free(s->pts[p].samples);
        free(s->pts);
    }
    free(d->series);
    memset(d, 0, sizeof *d);
}

/* Appends the ';'-separated numbers of text to the point's samples (checked at ingestion). */
static void append_samples(sg_hist_point *p, const char *text) {
    int n = 1;
    for (const char *q = text; *q; q++) n += *q == ';';
    p->samples = realloc(p->samples, (size_t)(p->n + n) * sizeof *p->samples);
    SG_CHECK(p->samples != NULL, "out of memory");
    for (const char *q = text; *q;) {
        char *end;
        double v = strtod(q, &end);
        if (end == q) break;
        p->samples[p->n++] = v;
        q = *end ? end + 1 : end;
    }
}

int sg_hist_find_commit(const sg_hist_data *d, const char *name, sg_err *err) {
    int found = -1, matches = 0;
    size_t n = strlen(name);
    for (int i = 0; i < d->ncommits; i++) {
        if (!strcmp(d->commits[i].commit, name)) return i;
        if (n && !strncmp(d->commits[i].commit, name, n)) found = i, matches++;
    }
    if (matches == 1) return found;
    if (matches > 1)
        return sg_errf(err, "commit '%s' is ambiguous: %d commits of the history start with it",
                       name, matches);
    return sg_errf(err,
                   "commit '%s' is not in the history (%d commit(s); `stopgrad history show` "
                   "lists them)",
                   name, d->ncommits);
}

int sg_history_load(sg_history *h, sg_hist_data *d, sg_err *err) {
    memset(d, 0, sizeof *d);
    sqlite3_stmt *st;
    const char *csql = "SELECT git_commit, first_utc FROM commits ORDER BY first_utc, git_commit";
    if (sqlite3_prepare_v2(h->db, csql, -1, &st, NULL) != SQLITE_OK)
        return sg_hdb_errf(h, err, csql);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (d->ncommits == cap) {
            cap = cap ? 2 * cap : 64;
            d->commits = realloc(d->commits, (size_t)cap * sizeof *d->commits);
            SG_CHECK(d->commits != NULL, "out of memory");
        }
        d->commits[d->ncommits].commit = dup(col_text(st, 0));
        d->commits[d->ncommits++].first_utc = dup(col_text(st, 1));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sg_hist_data_free(d);
        return sg_hdb_errf(h, err, csql);
    }
    const char *sql =
        "SELECT r.machine_id, r.backend, r.threads, x.kind, x.config, x.name, x.shape, x.metric, "
        "x.unit, x.higher_is_better, r.git_commit, x.samples FROM results x JOIN runs r "
        "USING(run_id) JOIN commits c USING(git_commit) ORDER BY r.machine_id, r.backend, "
        "r.threads, x.kind, x.config, x.name, x.shape, x.metric, c.first_utc, c.git_commit";
    if (sqlite3_prepare_v2(h->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sg_hist_data_free(d);
        return sg_hdb_errf(h, err, sql);
    }
    int scap = 0, ccur = 0;
    sg_hist_series *s = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key[] = {col_text(st, 0), col_text(st, 1), col_text(st, 3), col_text(st, 4),
                             col_text(st, 5), col_text(st, 6), col_text(st, 7)};
        int threads = sqlite3_column_int(st, 2);
        int same = s && s->threads == threads;
        if (same) {
            const char *have[] = {s->machine_id, s->backend, s->kind,  s->config,
                                  s->name,       s->shape,   s->metric};
            for (int k = 0; k < 7 && same; k++) same = !strcmp(have[k], key[k]);
        }
        if (!same) {
            if (d->nseries == scap) {
                scap = scap ? 2 * scap : 256;
                d->series = realloc(d->series, (size_t)scap * sizeof *d->series);
                SG_CHECK(d->series != NULL, "out of memory");
            }
            s = &d->series[d->nseries++];
            memset(s, 0, sizeof *s);
            s->machine_id = dup(key[0]);
            s->backend = dup(key[1]);
            s->threads = threads;
            s->kind = dup(key[2]);
            s->config = dup(key[3]);
            s->name = dup(key[4]);
            s->shape = dup(key[5]);
            s->metric = dup(key[6]);
            s->unit = dup(col_text(st, 8));
            s->higher_is_better = sqlite3_column_int(st, 9);
            ccur = 0;
        }
        /* the commits come in order: advance to this row's */
        const char *commit = col_text(st, 10);
        while (ccur < d->ncommits && strcmp(d->commits[ccur].commit, commit)) ccur++;
        SG_CHECK(ccur < d->ncommits, "commit %s of a result is not in the commits table", commit);
        if (!s->npts || s->pts[s->npts - 1].commit != ccur) {
            s->pts = realloc(s->pts, (size_t)(s->npts + 1) * sizeof *s->pts);
            SG_CHECK(s->pts != NULL, "out of memory");
            memset(&s->pts[s->npts], 0, sizeof *s->pts);
            s->pts[s->npts++].commit = ccur;
        }
        append_samples(&s->pts[s->npts - 1], col_text(st, 11));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        sg_hist_data_free(d);
        return sg_hdb_errf(h, err, sql);
    }
    for (int i = 0; i < d->nseries; i++)
        for (int p = 0; p < d->series[i].npts; p++)
            d->series[i].pts[p].level = sg_median(d->series[i].pts[p].samples, d->series[i].pts[p].n);
    return 0;
}

const char *sg_hist_display_unit(const sg_hist_series *s, double *scale) {
    *scale = 1.0;
    if (!strcmp(s->unit, "s")) {
        *scale = 1e3;
        return "ms";
    }
    return s->unit;
}

/* ---- regressions ------------------------------------------------------------------------------ */

void sg_regress_defaults(sg_regress_opts *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.10;
    o->points = 1.5;
    o->alpha = 0.01;
    o->window = 8;
}

static const char *const change_names[] = {"REGRESSION", "accepted", "regression, not the latest",
                                           "improvement"};

const char *sg_change_verdict_name(sg_change_verdict v) {
    return v >= 0 && v <= SG_CHANGE_IMPROVEMENT ? change_names[v] : "?";
}

void sg_regress_result_free(sg_regress_result *r) {
    free(r->changes);
    memset(r, 0, sizeof *r);
}

static int is_points(const sg_hist_series *s) { return !strcmp(s->unit, "%"); }

/* The smallest one-sided p the test can give between n and m values: 1 / C(n + m, n). */
static double min_p_levels(int n, int m) {
    double c = 1.0;
    for (int i = 1; i <= n; i++) c = c * (double)(m + i) / (double)i;
    return 1.0 / c;
}

/* The levels' median and the pooled samples of points [a, b). */
static double window(const sg_hist_series *s, int a, int b, double *lv, double **pool, int *npool) {
    int n = 0;
    for (int i = a; i < b; i++) {
        lv[i - a] = s->pts[i].level;
        n += s->pts[i].n;
    }
    *pool = malloc((size_t)(n ? n : 1) * sizeof **pool);
    SG_CHECK(*pool != NULL, "out of memory");
    *npool = 0;
    for (int i = a; i < b; i++) {
        memcpy(*pool + *npool, s->pts[i].samples, (size_t)s->pts[i].n * sizeof **pool);
        *npool += s->pts[i].n;
    }
    return sg_median(lv, b - a);
}

typedef struct {
    int k;
    double before, after, change, p;
    int worse, by_commits;
} candidate;

/* Is `a` a better representative of a change than `b`? Tested over the commits (the p-values
 * of the two tests do not compare: pooled samples give far smaller ones), then smaller p, then
 * larger change, then earlier. */
static int better_candidate(const sg_hist_series *s, const candidate *a, const candidate *b) {
    if (a->by_commits != b->by_commits) return a->by_commits;
    if (a->p != b->p) return a->p < b->p;
    double ea = is_points(s) ? fabs(a->change) : fabs(log(a->change));
    double eb = is_points(s) ? fabs(b->change) : fabs(log(b->change));
    if (ea != eb) return ea > eb;
    return a->k < b->k;
}

/* The candidate at point k, if the change there is large and significant. */
static int test_split(const sg_hist_series *s, int k, const sg_regress_opts *o, candidate *c) {
    int a = k - o->window < 0 ? 0 : k - o->window;
    int b = k + o->window > s->npts ? s->npts : k + o->window;
    double *lvl = malloc((size_t)o->window * sizeof *lvl);
    double *lvr = malloc((size_t)o->window * sizeof *lvr);
    SG_CHECK(lvl && lvr, "out of memory");
    double *left, *right;
    int nl, nr;
    double before = window(s, a, k, lvl, &left, &nl);
    double after = window(s, k, b, lvr, &right, &nr);
    int found = 0;
    double change = is_points(s) ? after - before : after / before;
    int up = after > before;
    int large = is_points(s) ? fabs(change) > o->points
                             : (change > 1 + o->threshold || change < 1 / (1 + o->threshold));
    /* a ratio needs positive levels; a difference in points does not */
    if (large && (is_points(s) || (before > 0 && after > 0))) {
        /* The commits are the independent units: repetitions of one run share its conditions
         * and pooling them overstates the evidence when runs differ. So the test is over the
         * commits' medians whenever those can reach alpha, and over the pooled samples (what
         * `stopgrad compare` does between two runs) only near the newest commit, where too few
         * commits follow. */
        int by_commits = min_p_levels(k - a, b - k) < o->alpha;
        double *x = by_commits ? lvl : left, *y = by_commits ? lvr : right;
        int nx = by_commits ? k - a : nl, ny = by_commits ? b - k : nr;
        double p = up ? sg_mann_whitney_p_greater(x, nx, y, ny)
                      : sg_mann_whitney_p_greater(y, ny, x, nx);
        c->by_commits = by_commits;
        if (p < o->alpha) {
            c->k = k;
            c->before = before;
            c->after = after;
            c->change = change;
            c->p = p;
            c->worse = s->higher_is_better ? !up : up;
            found = 1;
        }
    }
    free(left);
    free(right);
    free(lvl);
    free(lvr);
    return found;
}

int sg_history_regress(const sg_hist_data *d, const sg_regress_opts *o, sg_regress_result *r,
                       sg_err *err) {
    memset(r, 0, sizeof *r);
    if (!(o->threshold >= 0 && o->threshold <= 100))
        return sg_errf(err, "--threshold: %g is out of range; expected a relative change in "
                            "[0, 100] (0.10 = 10%%)",
                       o->threshold);
    if (!(o->points >= 0 && o->points <= 100))
        return sg_errf(err, "--points: %g is out of range; expected accuracy points in [0, 100]",
                       o->points);
    if (!(o->alpha > 0 && o->alpha < 1))
        return sg_errf(err, "--alpha: %g is out of range; expected a significance level in (0, 1)",
                       o->alpha);
    if (o->window < 1 || o->window > 1000)
        return sg_errf(err, "--window: %d is out of range; expected 1..1000 commits", o->window);
    int since = -1;
    if (o->since && (since = sg_hist_find_commit(d, o->since, err)) < 0) return -1;
    int cap = 0;
    for (int si = 0; si < d->nseries; si++) {
        const sg_hist_series *s = &d->series[si];
        if (s->npts <= o->window) continue;
        r->tested_series++;
        int first = r->nchanges;
        candidate best = {0}, c;
        int have = 0, last_k = -1;
        /* a change needs a full window before it: fewer commits do not establish a level */
        for (int k = o->window; k <= s->npts; k++) {
            int found = k < s->npts && test_split(s, k, o, &c);
            /* a cluster ends when no candidate came within `window` commits */
            if (have && (k == s->npts || k - last_k > o->window)) {
                if (r->nchanges == cap) {
                    cap = cap ? 2 * cap : 64;
                    r->changes = realloc(r->changes, (size_t)cap * sizeof *r->changes);
                    SG_CHECK(r->changes != NULL, "out of memory");
                }
                sg_change *ch = &r->changes[r->nchanges++];
                ch->series = si;
                ch->at = best.k;
                ch->commit = s->pts[best.k].commit;
                ch->prev = s->pts[best.k - 1].commit;
                ch->before = best.before;
                ch->after = best.after;
                ch->change = best.change;
                ch->p = best.p;
                ch->worse = best.worse;
                ch->by_commits = best.by_commits;
                have = 0;
            }
            if (found) {
                if (!have || better_candidate(s, &c, &best)) best = c;
                have = 1;
                last_k = k;
            }
        }
        for (int i = first; i < r->nchanges; i++) {
            sg_change *ch = &r->changes[i];
            if (!ch->worse)
                ch->verdict = SG_CHANGE_IMPROVEMENT;
            else if (i < r->nchanges - 1)
                ch->verdict = SG_CHANGE_EARLIER;
            else if (since >= 0 && ch->commit <= since)
                ch->verdict = SG_CHANGE_ACCEPTED;
            else
                ch->verdict = SG_CHANGE_REGRESSION;
            r->regressions += ch->verdict == SG_CHANGE_REGRESSION;
            r->accepted += ch->verdict == SG_CHANGE_ACCEPTED;
            r->earlier += ch->verdict == SG_CHANGE_EARLIER;
            r->improvements += ch->verdict == SG_CHANGE_IMPROVEMENT;
        }
    }
    return 0;
}

static void fmt_level(const sg_hist_series *s, double v, char *buf, size_t cap) {
    double scale;
    const char *unit = sg_hist_display_unit(s, &scale);
    snprintf(buf, cap, "%.4g %s", v * scale, unit);
}

void sg_hist_fmt_change(const sg_hist_series *s, double change, char *buf, size_t cap) {
    if (is_points(s))
        snprintf(buf, cap, "%+.2f points", change);
    else
        snprintf(buf, cap, "%+.1f%%", 100.0 * (change - 1.0));
}

void sg_regress_print(const sg_hist_data *d, const sg_regress_opts *o, const sg_regress_result *r,
                      FILE *out) {
    int machines = 0;
    for (int i = 0; i < d->nseries; i++)
        if (!i || strcmp(d->series[i].machine_id, d->series[i - 1].machine_id)) machines++;
    fprintf(out,
            "%d series over %d commit(s) (%d with more commits than the window, tested); window %d "
            "commit(s) each side, threshold %g%% (times, rates) or %g points (accuracies), "
            "alpha %g\n",
            d->nseries, d->ncommits, r->tested_series, o->window, 100.0 * o->threshold, o->points,
            o->alpha);
    if (r->nchanges) {
        fprintf(out, "\n%-16s  %-7s  %-10s  %-20s  %-10s  %-22s  %-11s  %-12s  %-12s  %9s  %8s  %s\n",
                "machine", "backend", "kind", "config", "metric", "benchmark", "began at",
                "before", "after", "change", "p", "verdict");
    }
    for (int i = 0; i < r->nchanges; i++) {
        const sg_change *c = &r->changes[i];
        const sg_hist_series *s = &d->series[c->series];
        char before[48], after[48], ch[48], bench[600];
        fmt_level(s, c->before, before, sizeof before);
        fmt_level(s, c->after, after, sizeof after);
        sg_hist_fmt_change(s, c->change, ch, sizeof ch);
        snprintf(bench, sizeof bench, "%s%s%s", s->name, *s->shape ? " " : "", s->shape);
        fprintf(out, "%-16s  %-7s  %-10s  %-20s  %-10s  %-22s  %-11.11s  %-12s  %-12s  %9s  %8.2g  %s\n",
                *s->machine_id ? s->machine_id : "-", *s->backend ? s->backend : "-", s->kind,
                *s->config ? s->config : "-", s->metric, bench, d->commits[c->commit].commit,
                before, after, ch, c->p, sg_change_verdict_name(c->verdict));
        fprintf(out, "%16s  commits %s..%s (the last before the change, the first after); tested "
                     "over %s\n",
                "", d->commits[c->prev].commit, d->commits[c->commit].commit,
                c->by_commits ? "the commits' medians" : "the pooled repetitions or seeds");
    }
    fprintf(out,
            "\nregress: %d change(s): %d regression(s) open at the newest commit, %d accepted "
            "(--since), %d earlier regression(s) followed by another change, %d "
            "improvement(s): %s\n",
            r->nchanges, r->regressions, r->accepted, r->earlier, r->improvements,
            r->regressions ? "FAIL" : "PASS");
}

int sg_regress_write_csv(const sg_hist_data *d, const sg_regress_result *r, const char *path,
                         sg_err *err) {
    static const char *const hdr[] = {
        "machine_id", "backend", "threads", "kind",    "config",          "name",
        "shape",      "metric",  "unit",    "commit",  "previous_commit", "before",
        "after",      "change",  "p_value", "verdict"};
    int nc = (int)(sizeof hdr / sizeof hdr[0]);
    sg_csv_row *rows = calloc((size_t)(r->nchanges ? r->nchanges : 1), sizeof *rows);
    SG_CHECK(rows != NULL, "out of memory");
    for (int i = 0; i < r->nchanges; i++) {
        const sg_change *c = &r->changes[i];
        const sg_hist_series *s = &d->series[c->series];
        sg_csv_row *w = &rows[i];
        sg_csv_row_init(w);
        sg_csv_row_str(w, s->machine_id);
        sg_csv_row_str(w, s->backend);
        sg_csv_row_int(w, s->threads);
        sg_csv_row_str(w, s->kind);
        sg_csv_row_str(w, s->config);
        sg_csv_row_str(w, s->name);
        sg_csv_row_str(w, s->shape);
        sg_csv_row_str(w, s->metric);
        sg_csv_row_str(w, s->unit);
        sg_csv_row_str(w, d->commits[c->commit].commit);
        sg_csv_row_str(w, d->commits[c->prev].commit);
        sg_csv_row_double(w, c->before);
        sg_csv_row_double(w, c->after);
        sg_csv_row_double(w, c->change);
        sg_csv_row_double(w, c->p);
        sg_csv_row_str(w, sg_change_verdict_name(c->verdict));
    }
    int rc = sg_csv_write_atomic(path, nc, hdr, rows, (size_t)r->nchanges, err);
    for (int i = 0; i < r->nchanges; i++) sg_csv_row_free(&rows[i]);
    free(rows);
    return rc;
}
