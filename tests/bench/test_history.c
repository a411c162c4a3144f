/* tests/bench/test_history.c: the results history (bench/history.h).
 *
 * A history built from the committed measurements (results/measured/: the CPU and H200
 * kernel-suite runs, the Fashion-MNIST results) plus a synthetic history of 30 commits on
 * another machine (history_synth.h) with a slowdown planted at commit 18 in one kernel (+30%)
 * and an accuracy drop planted at commit 20 (-3 points) in a training setting; the other series
 * are noise only, one with 12% spread between repetitions. Checked:
 *   - ingestion counts, and idempotency: the same file twice adds nothing, a results CSV that
 *     grew adds only its new runs;
 *   - regress names commit 18 for the kernel and commit 20 for the accuracy, with the commit
 *     range, and finds nothing in the noise-only series; both are open regressions (exit status
 *     1 of the command); --since accepts them; after the kernel recovers, its slowdown is an
 *     earlier regression followed by an improvement;
 *   - a noise-only history (no planted change) gives no change at all;
 *   - bad input names the file (and line, column): missing, truncated, unknown kind, missing
 *     column, bad number, a check CSV without a commit; a failed add adds nothing;
 *   - a database of a newer schema version and a foreign SQLite file are refused;
 *   - four processes adding at once to one new database all land (WAL, busy timeout);
 *   - the static site: index and one page per benchmark, SVG charts, the planted regression
 *     listed; an unwritable --out is an error naming the path. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid, fork, waitpid */
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/history.h"
#include "core/base/text.h"
#include "history_synth.h"
#include "test_util.h"

static char tmp[1024];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp, name);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = tu_alloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static int add(sg_history *h, const char *path, sg_history_add_result *r) {
    sg_err err;
    int rc = sg_history_add(h, path, NULL, r, &err);
    if (rc) fprintf(stderr, "add %s: %s\n", path, err.msg);
    return rc;
}

/* The changes found in the series of (name, metric). */
static int changes_of(const sg_hist_data *d, const sg_regress_result *r, const char *name,
                      const char *metric, const sg_change **first) {
    int n = 0;
    *first = NULL;
    for (int i = 0; i < r->nchanges; i++) {
        const sg_hist_series *s = &d->series[r->changes[i].series];
        if (!strcmp(s->name, name) && !strcmp(s->metric, metric)) {
            if (!n) *first = &r->changes[i];
            n++;
        }
    }
    return n;
}

static long long count_values(const char *db) {
    sqlite3 *s;
    long long n = -1;
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s, "SELECT count(*) FROM results", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(s);
    return n;
}

static void measured(char *out, size_t cap, const char *rel) {
    const char *src = getenv("SG_SOURCE_DIR");
    snprintf(out, cap, "%s/results/measured/%s", src && *src ? src : ".", rel);
}

static void test_measured_and_planted(const char *db) {
    sg_history *h;
    sg_err err;
    int rc = sg_history_open(&h, db, 1, &err);
    CHECK(rc == 0, "open %s: %s", db, err.msg);
    if (rc) return;
    sg_history_add_result r;
    char p[2048];
    measured(p, sizeof p, "h200-2026-11-29/bench-kernels-gpu-check-run1.csv");
    CHECK(add(h, p, &r) == 0 && !r.already && r.runs_added == 1 && r.values_added == 316 &&
              r.rows_unmeasured == 6 && !strcmp(r.kind, "kernel-suite"),
          "H200 run: %d runs, %d values, %d unmeasured", r.runs_added, r.values_added,
          r.rows_unmeasured);
    CHECK(add(h, p, &r) == 0 && r.already && r.values_added == 0, "the same file twice adds nothing");
    const char *cpu[] = {"cpu-2026-11-29/bench-kernels-cpu-stl10.csv",
                         "cpu-2026-11-29/bench-kernels-ci-2threads-A.csv",
                         "cpu-2026-11-29/bench-kernels-ci-2threads-B.csv",
                         "cpu-2026-11-29/bench-kernels-ci-1thread-C.csv"};
    for (int i = 0; i < 4; i++) {
        measured(p, sizeof p, cpu[i]);
        CHECK(add(h, p, &r) == 0 && r.runs_added == 1 && r.values_added >= 158, "%s: %d values",
              cpu[i], r.values_added);
    }
    measured(p, sizeof p, "fmnist-ablations-reduced-2026-11-29/results.csv");
    /* 13 runs x 3 metrics, less the untrained network's speed */
    CHECK(add(h, p, &r) == 0 && r.runs_added == 13 && r.values_added == 38 &&
              !strcmp(r.kind, "training-results"),
          "results.csv: %d runs, %d values", r.runs_added, r.values_added);

    /* the synthetic history: 30 commits, a slowdown planted at 18, an accuracy drop at 20 */
    for (int k = 0; k < 30; k++) {
        char name[64];
        snprintf(name, sizeof name, "syn-bench-%02d.csv", k);
        path_of(p, sizeof p, name);
        syn_write_bench(p, k, 18, 1.30, 42);
        CHECK(add(h, p, &r) == 0 && r.runs_added == 1 && r.values_added == SYN_NBENCH,
              "commit %d: %d values", k, r.values_added);
    }
    /* a results file that grows: the second add takes only the new runs */
    path_of(p, sizeof p, "syn-results.csv");
    syn_write_results(p, 0, 20, 20, 3.0, 7);
    CHECK(add(h, p, &r) == 0 && r.runs_added == 60 && r.values_added == 180,
          "results, 20 commits: %d runs, %d values", r.runs_added, r.values_added);
    syn_write_results(p, 0, 30, 20, 3.0, 7);
    CHECK(add(h, p, &r) == 0 && !r.already && r.runs_added == 30 && r.runs_present == 60 &&
              r.values_added == 90,
          "grown results: %d added, %d present, %d values", r.runs_added, r.runs_present,
          r.values_added);

    sg_hist_data d;
    rc = sg_history_load(h, &d, &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (rc) {
        sg_history_close(h);
        return;
    }
    /* measured: 3 commits; synthetic: 30 */
    CHECK(d.ncommits == 33, "%d commits", d.ncommits);
    sg_regress_opts o;
    sg_regress_defaults(&o);
    sg_regress_result rr;
    rc = sg_history_regress(&d, &o, &rr, &err);
    CHECK(rc == 0, "regress: %s", err.msg);
    const sg_change *c;
    int n = changes_of(&d, &rr, "conv2d_fwd", "median_s", &c);
    /* conv2d_fwd's series on the synthetic machine; the measured ones have no change */
    CHECK(n == 1 && c && !strcmp(d.series[c->series].machine_id, SYN_MACHINE),
          "conv2d_fwd: %d change(s)", n);
    if (n == 1 && c) {
        CHECK(!strcmp(d.commits[c->commit].commit, "c0ffee0018") &&
                  !strcmp(d.commits[c->prev].commit, "c0ffee0017"),
              "planted at c0ffee0018, found at %s (after %s)", d.commits[c->commit].commit,
              d.commits[c->prev].commit);
        CHECK(c->verdict == SG_CHANGE_REGRESSION && c->worse && c->p < o.alpha &&
                  fabs(c->change - 1.30) < 0.06,
              "verdict %s, change %.3f, p %.3g", sg_change_verdict_name(c->verdict), c->change,
              c->p);
    }
    n = changes_of(&d, &rr, "syn-suite/byol_mlp", "probe_best", &c);
    CHECK(n == 1 && c && !strcmp(d.commits[c->commit].commit, "c0ffee0020") &&
              c->verdict == SG_CHANGE_REGRESSION && fabs(c->change + 3.0) < 0.8,
          "accuracy drop at c0ffee0020: %d change(s), at %s, change %.2f", n,
          c ? d.commits[c->commit].commit : "-", c ? c->change : NAN);
    /* everything else is noise: the noisy kernel, the step, the ceilings, the speed */
    const char *quiet[][2] = {{"relu_fwd", "median_s"}, {"step", "median_s"},
                              {"sgemm", "median_s"},    {"copy", "median_s"},
                              {"syn-suite/byol_mlp", "img_per_s"}};
    for (int i = 0; i < 5; i++)
        CHECK(changes_of(&d, &rr, quiet[i][0], quiet[i][1], &c) == 0, "%s %s: a change found",
              quiet[i][0], quiet[i][1]);
    CHECK(rr.nchanges == 3 && rr.regressions == 3,
          "%d changes, %d regressions (conv2d_fwd, probe_best and knn_acc, which drops with it)",
          rr.nchanges, rr.regressions);
    sg_sbuf txt = {0};
    FILE *mem = tmpfile();
    if (mem) {
        sg_regress_print(&d, &o, &rr, mem);
        rewind(mem);
        char line[1024];
        while (fgets(line, sizeof line, mem)) sg_sbuf_printf(&txt, "%s", line);
        fclose(mem);
    }
    printf("%s", txt.s ? txt.s : "");
    CHECK(txt.s && strstr(txt.s, "commits c0ffee0017..c0ffee0018") &&
              strstr(txt.s, "3 regression(s) open at the newest commit") && strstr(txt.s, "FAIL"),
          "regress output");
    sg_sbuf_free(&txt);
    char csv[1100];
    path_of(csv, sizeof csv, "regress.csv");
    CHECK(sg_regress_write_csv(&d, &rr, csv, &err) == 0, "regress csv: %s", err.msg);
    char *ctext = slurp(csv);
    CHECK(ctext && strstr(ctext, "conv2d_fwd") && strstr(ctext, "c0ffee0018,c0ffee0017"),
          "regress.csv:\n%s", ctext ? ctext : "(none)");
    free(ctext);
    sg_regress_result_free(&rr);

    /* accepted: the changes began at or before --since */
    o.since = "c0ffee0020";
    rc = sg_history_regress(&d, &o, &rr, &err);
    CHECK(rc == 0 && rr.regressions == 0 && rr.accepted == 3, "--since c0ffee0020: %d, %d",
          rr.regressions, rr.accepted);
    sg_regress_result_free(&rr);
    o.since = "c0ffee";
    CHECK(sg_history_regress(&d, &o, &rr, &err) == -1 && strstr(err.msg, "ambiguous"),
          "ambiguous --since: %s", err.msg);
    o.since = "deadbeef";
    CHECK(sg_history_regress(&d, &o, &rr, &err) == -1 && strstr(err.msg, "'deadbeef'") &&
              strstr(err.msg, "not in the history"),
          "unknown --since: %s", err.msg);
    o.since = NULL;
    o.alpha = 1.5;
    CHECK(sg_history_regress(&d, &o, &rr, &err) == -1 && strstr(err.msg, "--alpha"), "bad alpha: %s",
          err.msg);
    o.alpha = 0.01;
    sg_hist_data_free(&d);

    /* the kernel recovers at commit 36: the slowdown becomes an earlier regression */
    for (int k = 30; k < 42; k++) {
        char name[64];
        snprintf(name, sizeof name, "syn-bench-%02d.csv", k);
        path_of(p, sizeof p, name);
        syn_write_bench(p, k, 18, k < 36 ? 1.30 : 1.0, 42);
        CHECK(add(h, p, &r) == 0 && r.runs_added == 1, "commit %d", k);
    }
    if (sg_history_load(h, &d, &err) == 0) {
        CHECK(sg_history_regress(&d, &o, &rr, &err) == 0, "regress: %s", err.msg);
        n = changes_of(&d, &rr, "conv2d_fwd", "median_s", &c);
        CHECK(n == 2 && c && c->verdict == SG_CHANGE_EARLIER && c[1].verdict == SG_CHANGE_IMPROVEMENT &&
                  !strcmp(d.commits[c[1].commit].commit, "c0ffee0036"),
              "recovery: %d change(s), then %s at %s", n, n == 2 ? sg_change_verdict_name(c[1].verdict) : "-",
              n == 2 ? d.commits[c[1].commit].commit : "-");
        sg_regress_result_free(&rr);
        sg_hist_data_free(&d);
    }

    /* the static site */
    char site[1100];
    path_of(site, sizeof site, "site");
    sg_history_html_opts ho = {.out_dir = site};
    sg_regress_defaults(&ho.regress);
    sg_history_html_summary hs;
    char exe[4200];
    int have_gnuplot = sg_find_program("gnuplot", exe, sizeof exe);
    rc = sg_history_html(h, &ho, &hs, &err);
    if (!have_gnuplot) {
        printf("note: gnuplot is not on PATH: the site was not checked (scripts/setup.sh installs "
               "gnuplot-nox)\n");
        CHECK(rc == 1 && strstr(err.msg, "gnuplot-nox"), "no gnuplot: %d %s", rc, err.msg);
    } else {
        CHECK(rc == 0, "html: %s", err.msg);
        /* benchmarks: 544 measured pages, 5 synthetic kernels, 1 training setting */
        CHECK(hs.pages == 544 + SYN_NBENCH + 1 && hs.rooflines == 5 && hs.charts > hs.pages,
              "%d pages, %d rooflines, %d charts", hs.pages, hs.rooflines, hs.charts);
        char *index = slurp(hs.index_path);
        CHECK(index && strstr(index, "<h2>Roofline</h2>") && strstr(index, "roofline-5.svg") &&
                  strstr(index, "Synthetic CPU 9000") && strstr(index, "NVIDIA H200") &&
                  strstr(index, "c0ffee0018"),
              "index.html");
        CHECK(index && strstr(index, ">regression, not the latest<") && strstr(index, ">improvement<") &&
                  strstr(index, ">REGRESSION<"),
              "index lists the changes");
        free(index);
        char svg[1300];
        snprintf(svg, sizeof svg, "%s/roofline-1.svg", site);
        char *sv = slurp(svg);
        CHECK(sv && strstr(sv, "<svg") && strstr(sv, "</svg>"), "%s is an SVG", svg);
        free(sv);
    }
    /* --out under a file */
    char blocker[1100], bad_out[1200];
    path_of(blocker, sizeof blocker, "a-file");
    FILE *bf = fopen(blocker, "w");
    if (bf) fclose(bf);
    snprintf(bad_out, sizeof bad_out, "%s/site", blocker);
    ho.out_dir = bad_out;
    rc = sg_history_html(h, &ho, &hs, &err);
    if (have_gnuplot)
        CHECK(rc == -2 && strstr(err.msg, blocker), "unwritable --out: %d %s", rc, err.msg);
    ho.out_dir = site;
    ho.baseline = "nosuchcommit";
    rc = sg_history_html(h, &ho, &hs, &err);
    if (have_gnuplot)
        CHECK(rc == -1 && strstr(err.msg, "nosuchcommit"), "bad baseline: %d %s", rc, err.msg);
    sg_history_close(h);
}

static void test_noise_only(const char *db) {
    sg_history *h;
    sg_err err;
    if (sg_history_open(&h, db, 1, &err)) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    sg_history_add_result r;
    for (int k = 0; k < 40; k++) {
        char name[64], p[1100];
        snprintf(name, sizeof name, "noise-%02d.csv", k);
        path_of(p, sizeof p, name);
        syn_write_bench(p, k, 1000, 1.0, 99);
        CHECK(add(h, p, &r) == 0 && r.values_added == SYN_NBENCH, "noise commit %d", k);
    }
    char p[1100];
    path_of(p, sizeof p, "noise-results.csv");
    syn_write_results(p, 0, 40, 1000, 0.0, 99);
    CHECK(add(h, p, &r) == 0 && r.runs_added == 120, "noise results");
    sg_hist_data d;
    if (sg_history_load(h, &d, &err) == 0) {
        sg_regress_opts o;
        sg_regress_defaults(&o);
        sg_regress_result rr;
        CHECK(sg_history_regress(&d, &o, &rr, &err) == 0, "regress: %s", err.msg);
        CHECK(rr.tested_series == SYN_NBENCH + 3 && rr.nchanges == 0,
              "noise only: %d series tested, %d change(s) found", rr.tested_series, rr.nchanges);
        for (int i = 0; i < rr.nchanges; i++)
            fprintf(stderr, "  found: %s %s at %s\n", d.series[rr.changes[i].series].name,
                    d.series[rr.changes[i].series].metric, d.commits[rr.changes[i].commit].commit);
        sg_regress_result_free(&rr);
        sg_hist_data_free(&d);
    }
    sg_history_close(h);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) syn_die(path, "fopen");
    fclose(f);
}

/* Sets one cell of a CSV (row r, column col) and writes the file again. */
static void rewrite_cell(const char *path, size_t r, const char *col, const char *value) {
    sg_csv_table t;
    sg_err err;
    if (sg_csv_read(path, &t, &err)) syn_die(path, err.msg);
    int c = sg_csv_col(&t, col);
    sg_csv_row *rows = tu_alloc(t.nrows * sizeof *rows);
    for (size_t i = 0; i < t.nrows; i++) {
        sg_csv_row_init(&rows[i]);
        for (int k = 0; k < t.ncols; k++)
            sg_csv_row_str(&rows[i], i == r && k == c ? value : sg_csv_cell(&t, i, k));
    }
    if (sg_csv_write_atomic(path, t.ncols, (const char *const *)t.header, rows, t.nrows, &err))
        syn_die(path, err.msg);
    for (size_t i = 0; i < t.nrows; i++) sg_csv_row_free(&rows[i]);
    free(rows);
    sg_csv_table_free(&t);
}

static void test_bad_input(const char *db) {
    sg_history *h;
    sg_err err;
    if (sg_history_open(&h, db, 1, &err)) {
        CHECK(0, "open: %s", err.msg);
        return;
    }
    sg_history_add_result r;
    char p[1100];
    path_of(p, sizeof p, "good.csv");
    syn_write_bench(p, 1, 1000, 1.0, 5);
    CHECK(add(h, p, &r) == 0 && r.values_added == SYN_NBENCH, "good file");
    long long before = count_values(db);
    CHECK(sg_history_add(h, "/nonexistent/x.csv", NULL, &r, &err) == -1 &&
              strstr(err.msg, "/nonexistent/x.csv") && strstr(err.msg, "cannot open"),
          "missing: %s", err.msg);
    char sc[2048];
    measured(sc, sizeof sc, "h200-2026-11-29/selfcheck-cuda.csv");
    CHECK(sg_history_add(h, sc, NULL, &r, &err) == -1 && strstr(err.msg, "selfcheck-cuda.csv") &&
              strstr(err.msg, "unknown kind of CSV") && strstr(err.msg, "kernel-suite"),
          "unknown kind: %s", err.msg);
    path_of(p, sizeof p, "truncated.csv");
    write_text(p, "run_id,kind,kernel,median_s\nr1,kernel,k,0.1");
    CHECK(sg_history_add(h, p, NULL, &r, &err) == -1 && strstr(err.msg, "truncated.csv") &&
              strstr(err.msg, "truncated"),
          "truncated: %s", err.msg);
    path_of(p, sizeof p, "nocol.csv");
    write_text(p, "run_id,kind,kernel,median_s\nr1,kernel,k,0.1\n");
    CHECK(sg_history_add(h, p, NULL, &r, &err) == -1 && strstr(err.msg, "nocol.csv") &&
              strstr(err.msg, "kernel-suite CSV without the column 'time_utc'"),
          "missing column: %s", err.msg);
    /* a bad number in the middle of a good file: nothing of it lands */
    path_of(p, sizeof p, "badnum.csv");
    syn_write_bench(p, 2, 1000, 1.0, 5);
    rewrite_cell(p, 3, "median_s", "fast");
    CHECK(sg_history_add(h, p, NULL, &r, &err) == -1 && strstr(err.msg, "badnum.csv: line 5") &&
              strstr(err.msg, "'fast"),
          "bad number: %s", err.msg);
    char ck[2048];
    measured(ck, sizeof ck, "fmnist-ablations-reduced-2026-11-29/check.csv");
    CHECK(sg_history_add(h, ck, NULL, &r, &err) == -1 && strstr(err.msg, "check.csv") &&
              strstr(err.msg, "--commit"),
          "check without commit: %s", err.msg);
    CHECK(count_values(db) == before, "a failed add adds nothing: %lld then %lld values", before,
          count_values(db));
    sg_history_add_opts ao = {.commit = "c0ffee0001", .time_utc = "2027-01-01T05:00:00Z"};
    CHECK(sg_history_add(h, ck, &ao, &r, &err) == 0 && !strcmp(r.kind, "check") &&
              r.runs_added == 1 && r.rows_unmeasured == 101,
          "check with --commit: %s", err.msg);
    sg_history_close(h);

    /* newer schema version, a foreign SQLite file, not SQLite at all */
    sqlite3 *s;
    if (sqlite3_open(db, &s) == SQLITE_OK) {
        sqlite3_exec(s, "PRAGMA user_version = 7", NULL, NULL, NULL);
        sqlite3_close(s);
    }
    CHECK(sg_history_open(&h, db, 0, &err) == -1 && strstr(err.msg, "schema version 7 is newer") &&
              strstr(err.msg, "(1)"),
          "newer schema: %s", err.msg);
    path_of(p, sizeof p, "foreign.sqlite");
    if (sqlite3_open(p, &s) == SQLITE_OK) {
        sqlite3_exec(s, "CREATE TABLE t(x)", NULL, NULL, NULL);
        sqlite3_close(s);
    }
    CHECK(sg_history_open(&h, p, 1, &err) == -1 && strstr(err.msg, "not a stopgrad history"),
          "foreign database: %s", err.msg);
    path_of(p, sizeof p, "good.csv");
    CHECK(sg_history_open(&h, p, 0, &err) == -1 && strstr(err.msg, "good.csv"),
          "a CSV as the database: %s", err.msg);
    CHECK(sg_history_open(&h, "/nonexistent/h.sqlite", 0, &err) == -1 &&
              strstr(err.msg, "stopgrad history add"),
          "missing database: %s", err.msg);
}

static void test_concurrent(const char *db) {
    char files[4][1100];
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "conc-%d.csv", i);
        path_of(files[i], sizeof files[i], name);
        syn_write_bench(files[i], 100 + i, 1000, 1.0, 11);
    }
    fflush(NULL);
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            sg_history *h;
            sg_err err;
            sg_history_add_result r;
            int ok = sg_history_open(&h, db, 1, &err) == 0;
            if (!ok) fprintf(stderr, "child %d: %s\n", i, err.msg);
            if (ok && sg_history_add(h, files[i], NULL, &r, &err) != 0) {
                fprintf(stderr, "child %d: %s\n", i, err.msg);
                ok = 0;
            }
            if (ok) sg_history_close(h);
            _exit(ok ? 0 : 1);
        }
    }
    int all_ok = 1;
    for (int i = 0; i < 4; i++) {
        int st = 1;
        all_ok &= pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) &&
                  WEXITSTATUS(st) == 0;
    }
    CHECK(all_ok, "every concurrent writer succeeded");
    CHECK(count_values(db) == 4 * SYN_NBENCH, "concurrent writers: %lld values, expected %d",
          count_values(db), 4 * SYN_NBENCH);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/history_%d", tu_tmpdir(), (int)getpid());
    if (mkdir(tmp, 0777) != 0) {
        fprintf(stderr, "cannot create %s\n", tmp);
        return 2;
    }
    char db[1100];
    path_of(db, sizeof db, "planted.sqlite");
    test_measured_and_planted(db);
    path_of(db, sizeof db, "noise.sqlite");
    test_noise_only(db);
    path_of(db, sizeof db, "bad.sqlite");
    test_bad_input(db);
    path_of(db, sizeof db, "concurrent.sqlite");
    test_concurrent(db);
    return test_finish();
}
