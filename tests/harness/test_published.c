/* tests/harness/test_published.c: `stopgrad check` (core/harness/published.h) on synthetic inputs written in
 * SG_TEST_TMP: results CSVs with the real header (sg_train_results_header, machine columns
 * "fixed"), a suite file with `answers` and a reference file in published.csv's format.
 * Checked: (a) an exact match passes; (b) a clear miss (10 points) fails and the command exits 1,
 * while the same check without that run exits 0; (c) missing seeds are flagged PARTIAL-SEEDS and
 * still judged; (d) a mapped row without results is NOT RUN, never PASS; (e) an unmapped row is
 * UNMAPPED and --list-unmapped prints exactly it; (f) a collapse row passes with a collapsed run
 * (by probe or by collapse_std) and fails with a healthy one; (g) a results CSV missing a column
 * is an input error naming the file and the column (exit 2). Also: SETUP-DIFFERS, NO METRIC for
 * top-5, a repeated (run, seed), an unknown ref_id in a suite, the written check.csv / check.md,
 * refusing to overwrite without force, a missing gnuplot (CSV and markdown written, exit 1), the
 * PNG signature when gnuplot is installed, and the project's own published.csv and suites. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid, access, strtok_r */
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/base/machine.h"
#include "core/harness/published.h"
#include "core/ssl/train.h"
#include "test_util.h"

static char tmp[1024];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp, name);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    SG_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = tu_alloc(1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

/* One results row: tag, seed, dataset, epochs, probe_best, collapse_std. */
typedef struct {
    const char *tag;
    int seed;
    const char *dataset;
    int epochs;
    const char *probe, *cstd;
} res;

/* A results CSV with the real header; `drop` names a column to leave out (or NULL). */
/* probe_top5 of every row write_results writes ("": not measured, as results before it) */
static const char *g_top5 = "";
/* probe_protocol and probe (the held-out-chosen accuracy) of every row ("": as before them) */
static const char *g_protocol = "", *g_held = "";

static void write_results(const char *path, const res *rows, int n, const char *drop) {
    int nc = sg_train_results_ncols(), nm = sg_machine_ncols();
    const char *const *h = sg_train_results_header();
    const char *hdr[256];
    int keep = 0;
    for (int c = 0; c < nc; c++)
        if (!drop || strcmp(h[c], drop)) hdr[keep++] = h[c];
    sg_csv_row *out = tu_alloc((size_t)(n ? n : 1) * sizeof *out);
    for (int i = 0; i < n; i++) {
        sg_csv_row_init(&out[i]);
        const res *r = &rows[i];
        char id[200], seed[16], ep[16];
        snprintf(id, sizeof id, "%s-s%d", r->tag, r->seed);
        for (char *p = id; *p; p++)
            if (*p == '/') *p = '-';
        snprintf(seed, sizeof seed, "%d", r->seed);
        snprintf(ep, sizeof ep, "%d", r->epochs);
        for (int c = 0; c < nc; c++) {
            const char *k = h[c], *v = "";
            if (drop && !strcmp(k, drop)) continue;
            if (!strcmp(k, "run_id"))
                v = id;
            else if (!strcmp(k, "tag"))
                v = r->tag;
            else if (!strcmp(k, "seed"))
                v = seed;
            else if (!strcmp(k, "dataset"))
                v = r->dataset;
            else if (!strcmp(k, "epochs"))
                v = ep;
            else if (!strcmp(k, "probe_best"))
                v = r->probe;
            else if (!strcmp(k, "probe_top5"))
                v = g_top5;
            else if (!strcmp(k, "probe_protocol"))
                v = g_protocol;
            else if (!strcmp(k, "probe"))
                v = g_held;
            else if (!strcmp(k, "collapse_std"))
                v = r->cstd;
            else if (!strcmp(k, "method"))
                v = "byol";
            else if (!strcmp(k, "probe_final"))
                v = "1";
            else if (c >= nc - nm)
                v = "fixed";
            sg_csv_row_str(&out[i], v);
        }
    }
    sg_err err;
    if (sg_csv_write_atomic(path, keep, hdr, out, (size_t)n, &err)) {
        fprintf(stderr, "cannot write %s: %s\n", path, err.msg);
        exit(2);
    }
    for (int i = 0; i < n; i++) sg_csv_row_free(&out[i]);
    free(out);
}

static const char *const REFERENCE =
    "ref_id,source,table,dataset,backbone,epochs,setting,metric,mean,std,seeds,eval,"
    "higher_is_better,rule,note\r\n"
    "t-exact,test,TA,stl10,resnet18,100,exact match,top1,77.86,0.16,3,probe,1,within,\r\n"
    "t-miss,test,TA,stl10,resnet18,100,clear miss,top1,70.00,0.50,3,probe,1,within,\r\n"
    "t-partial,test,TA,stl10,resnet18,100,partial seeds,top1,75.00,1.00,5,probe,1,within,"
    "\"a note, with a comma\"\r\n"
    "t-notrun,test,TA,stl10,resnet18,100,not run,top1,74.00,0.30,5,probe,1,within,\r\n"
    "t-unmapped,test,TA,stl10,resnet18,100,unmapped,top1,73.00,0.30,5,probe,1,within,\r\n"
    "t-setup,test,TA,stl10,resnet18,100,other data,top1,60.00,,,probe,1,within,\r\n"
    "t-collapse-a,test,TB,imagenet,resnet50,100,collapsed probe,top1,0.1,,,lin,1,collapse,\r\n"
    "t-collapse-b,test,TB,imagenet,resnet50,100,healthy,top1,0.1,,,lin,1,collapse,\r\n"
    "t-collapse-c,test,TB,imagenet,resnet50,100,collapsed std,top1,0.2,,,lin,1,collapse,\r\n"
    "t-top5,test,TB,imagenet,resnet50,100,top five,top5,85.8,,,lin,1,within,\r\n";

static const char *const SUITE = "# the test's suite\n"
                                 "base = data.dataset=stl10 trainer.epochs=100\n"
                                 "run exact = predictor.kind=directpred\n"
                                 "answers exact = t-exact\n"
                                 "run miss = predictor.kind=linear\n"
                                 "answers miss = t-miss\n"
                                 "run partial = predictor.kind=mlp\n"
                                 "answers partial = t-partial\n"
                                 "run notrun = predictor.kind=mlp\n"
                                 "answers notrun = t-notrun\n"
                                 "run setup = data.dataset=fashion_mnist\n"
                                 "answers setup = t-setup\n"
                                 "run collapsed = method.stop_gradient=false\n"
                                 "run healthy = method.name=simsiam\n"
                                 "run stdonly = method.stop_gradient=false\n"
                                 "answers collapsed = t-collapse-a\n"
                                 "answers healthy = t-collapse-b\n"
                                 "answers stdonly = t-collapse-c t-top5\n"
                                 "seeds = 1 2 3\n";

static const res ROWS[] = {
    {"repro/exact", 1, "stl10", 100, "77.76", "0.08"},
    {"repro/exact", 2, "stl10", 100, "77.86", "0.08"},
    {"repro/exact", 3, "stl10", 100, "77.96", "0.08"},
    {"repro/miss", 1, "stl10", 100, "80.00", "0.08"},
    {"repro/miss", 2, "stl10", 100, "80.10", "0.08"},
    {"repro/miss", 3, "stl10", 100, "79.90", "0.08"},
    {"repro/partial", 1, "stl10", 100, "75.20", "0.08"},
    {"repro/partial", 2, "stl10", 100, "74.80", "0.08"},
    {"repro/setup", 1, "fashion_mnist", 2, "60.00", "0.07"},
    {"repro/collapsed", 1, "imagenet", 100, "0.10", "0.0004"},
    {"repro/healthy", 1, "imagenet", 100, "60.00", "0.08"},
    {"repro/stdonly", 1, "imagenet", 100, "30.00", "0.002"},
    {"other/unrelated", 1, "stl10", 100, "50.00", "0.08"},
    {"", 4, "stl10", 100, "50.00", "0.08"},
};
enum { NROWS = sizeof ROWS / sizeof ROWS[0] };

static const sg_published_row *find(const sg_published *c, const char *id) {
    for (int i = 0; i < c->nrows; i++)
        if (!strcmp(c->rows[i].ref_id, id)) return &c->rows[i];
    fprintf(stderr, "no row %s\n", id);
    exit(2);
}

/* sg_published_run with its stdout and stderr captured into *out / *errs (freed by the caller). */
static int run_cmd(const sg_published_opts *o, char **out, char **errs) {
    char po[1200], pe[1200];
    path_of(po, sizeof po, "run.out");
    path_of(pe, sizeof pe, "run.err");
    FILE *fo = fopen(po, "w"), *fe = fopen(pe, "w");
    SG_CHECK(fo && fe, "cannot open %s", po);
    int rc = sg_published_run(o, fo, fe);
    fclose(fo);
    fclose(fe);
    *out = slurp(po);
    *errs = slurp(pe);
    return rc;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/check_%d", tu_tmpdir(), (int)getpid());
    mkdir(tmp, 0777);
    char suites[1200], empty_suites[1200], ref[1200], results[1200], ok_results[1200], nocol[1200],
        dup[1200], out_dir[1200], path[1400];
    path_of(suites, sizeof suites, "suites");
    path_of(empty_suites, sizeof empty_suites, "no-suites");
    mkdir(suites, 0777);
    mkdir(empty_suites, 0777);
    snprintf(path, sizeof path, "%s/repro.suite", suites);
    write_text(path, SUITE);
    snprintf(path, sizeof path, "%s/kernels.bench", suites); /* not a suite: ignored */
    write_text(path, "whatever\n");
    path_of(ref, sizeof ref, "published.csv");
    write_text(ref, REFERENCE);
    path_of(results, sizeof results, "results.csv");
    write_results(results, ROWS, NROWS, NULL);

    const char *inputs[2] = {results, NULL};
    sg_published_inputs in = {inputs, 1, suites, ref};
    sg_published c;
    sg_err err;
    int rc = sg_published_compute(&in, &c, &err);
    CHECK(rc == 0, "compute: %s", err.msg);
    if (rc) return test_finish();
    CHECK(c.nrows == 10 && c.nsuites == 1 && c.nfiles == 1, "%d rows, %d suites, %d files", c.nrows,
          c.nsuites, c.nfiles);
    CHECK(c.nresult_rows == NROWS && c.nignored == 2, "%ld result rows, %ld ignored",
          c.nresult_rows, c.nignored);

    /* (a) exact match */
    const sg_published_row *r = find(&c, "t-exact");
    CHECK(r->verdict == SG_PUB_PASS && r->n == 3 && fabs(r->ours_mean - 77.86) < 1e-9 &&
              fabs(r->ours_std - 0.1) < 1e-9 && fabs(r->diff) < 1e-9 &&
              fabs(r->tolerance - 1.5) < 1e-12 && !r->partial_seeds && !r->setup_differs,
          "exact: %s n %d mean %.4f std %.4f diff %.2g tol %.3f", sg_published_verdict_name(r->verdict),
          r->n, r->ours_mean, r->ours_std, r->diff, r->tolerance);
    CHECK(!strcmp(r->runs, "repro/exact") && !strcmp(r->ours_setup, "stl10, 100 epochs"),
          "runs '%s', setup '%s'", r->runs, r->ours_setup);
    /* (b) a clear miss */
    r = find(&c, "t-miss");
    CHECK(r->verdict == SG_PUB_FAIL && fabs(r->diff - 10.0) < 1e-9, "miss: %s diff %.4f",
          sg_published_verdict_name(r->verdict), r->diff);
    /* (c) missing seeds: flagged, still judged */
    r = find(&c, "t-partial");
    CHECK(r->verdict == SG_PUB_PASS && r->partial_seeds && r->n == 2 && r->pub_seeds == 5 &&
              fabs(r->tolerance - 2.0) < 1e-12,
          "partial: %s flag %d n %d of %d, tol %.3f", sg_published_verdict_name(r->verdict),
          r->partial_seeds, r->n, r->pub_seeds, r->tolerance);
    CHECK(!strcmp(r->note, "a note, with a comma"), "note read: '%s'", r->note);
    /* (d) mapped, no results: NOT RUN, never PASS */
    r = find(&c, "t-notrun");
    CHECK(r->verdict == SG_PUB_NOT_RUN && r->n == 0 && isnan(r->ours_mean) && !r->partial_seeds,
          "notrun: %s", sg_published_verdict_name(r->verdict));
    /* (e) unmapped */
    r = find(&c, "t-unmapped");
    CHECK(r->verdict == SG_PUB_UNMAPPED && r->nruns == 0 && !r->runs[0], "unmapped: %s",
          sg_published_verdict_name(r->verdict));
    /* setup differs (flag, still judged); no std published: the 1.5 floor */
    r = find(&c, "t-setup");
    CHECK(r->verdict == SG_PUB_PASS && r->setup_differs && !r->partial_seeds &&
              fabs(r->tolerance - 1.5) < 1e-12 && strstr(r->ours_setup, "fashion_mnist, 2 epochs"),
          "setup: %s flag %d setup '%s'", sg_published_verdict_name(r->verdict), r->setup_differs,
          r->ours_setup);
    /* (f) collapse rows: ImageNet chance 0.1% -> threshold 5.1 */
    r = find(&c, "t-collapse-a");
    CHECK(r->verdict == SG_PUB_PASS && r->collapsed && fabs(r->tolerance - 5.1) < 1e-9,
          "collapsed run: %s threshold %.3f", sg_published_verdict_name(r->verdict), r->tolerance);
    r = find(&c, "t-collapse-b");
    CHECK(r->verdict == SG_PUB_FAIL && !r->collapsed, "healthy run on a collapse row: %s",
          sg_published_verdict_name(r->verdict));
    r = find(&c, "t-collapse-c");
    CHECK(r->verdict == SG_PUB_PASS && r->collapsed && fabs(r->ours_collapse_std - 0.002) < 1e-12,
          "collapsed by collapse_std: %s", sg_published_verdict_name(r->verdict));
    /* top-5: results without it (these rows' probe_top5 is empty) have no top-5 to compare */
    r = find(&c, "t-top5");
    CHECK(r->verdict == SG_PUB_NO_METRIC && isnan(r->diff), "top5: %s",
          sg_published_verdict_name(r->verdict));
    {
        /* with it, the top-5 row is judged on probe_top5 (86.0 against 85.8: within) */
        char r5[1300];
        path_of(r5, sizeof r5, "results-top5.csv");
        g_top5 = "86.00";
        write_results(r5, ROWS, NROWS, NULL);
        g_top5 = "";
        const char *in5[2] = {r5, NULL};
        sg_published_inputs i5 = {in5, 1, suites, ref};
        sg_published c5;
        CHECK(sg_published_compute(&i5, &c5, &err) == 0, "top-5 compute: %s", err.msg);
        const sg_published_row *t5 = find(&c5, "t-top5");
        CHECK(t5->verdict == SG_PUB_PASS && fabs(t5->ours_mean - 86.0) < 1e-9,
              "top-5 judged on probe_top5: %s, ours %.2f", sg_published_verdict_name(t5->verdict),
              t5->ours_mean);
        sg_published_free(&c5);
    }
    {
        /* BYOL's evaluation chooses on a held-out split: its rows are judged on `probe` (70.0,
         * a PASS against 70.00), never on probe_best (80.0, a FAIL); the reference protocol's
         * rows keep probe_best whatever `probe` says */
        char rb[1300];
        path_of(rb, sizeof rb, "results-byol.csv");
        const char *protos[2] = {"byol: sgd nesterov lr=0.4x1024/256 select=holdout(0.1)",
                                 "reference: adam lr=0.0003 epochs=50"};
        for (int k = 0; k < 2; k++) {
            g_protocol = protos[k];
            g_held = "70.00";
            write_results(rb, ROWS, NROWS, NULL);
            g_protocol = g_held = "";
            const char *inb[2] = {rb, NULL};
            sg_published_inputs ib = {inb, 1, suites, ref};
            sg_published cb;
            CHECK(sg_published_compute(&ib, &cb, &err) == 0, "protocol compute: %s", err.msg);
            const sg_published_row *tm = find(&cb, "t-miss");
            const double want = k == 0 ? 70.0 : 80.0;
            CHECK(tm->verdict == (k == 0 ? SG_PUB_PASS : SG_PUB_FAIL) &&
                      fabs(tm->ours_mean - want) < 1e-9,
                  "%.9s rows judged on %s: %s, ours %.2f", protos[k],
                  k == 0 ? "probe" : "probe_best", sg_published_verdict_name(tm->verdict),
                  tm->ours_mean);
            sg_published_free(&cb);
        }
    }
    CHECK(c.count[SG_PUB_PASS] == 5 && c.count[SG_PUB_FAIL] == 2 &&
              c.count[SG_PUB_NOT_RUN] == 1 && c.count[SG_PUB_UNMAPPED] == 1 &&
              c.count[SG_PUB_NO_METRIC] == 1 && c.npartial == 1 && c.nsetup == 1,
          "counts %d %d %d %d %d, partial %d setup %d", c.count[0], c.count[1], c.count[2],
          c.count[3], c.count[4], c.npartial, c.nsetup);

    /* the written outputs; a missing gnuplot leaves the CSV and markdown and says what is needed */
    path_of(out_dir, sizeof out_dir, "out");
    sg_published_out_opts wo = {out_dir, 0, "/nonexistent/gnuplot", NULL};
    sg_published_written w;
    rc = sg_published_write(&c, &wo, &w, &err);
    CHECK(rc == 1 && strstr(err.msg, "gnuplot-nox") && strstr(err.msg, "check.png"),
          "no gnuplot: rc %d, %s", rc, err.msg);
    sg_csv_table t;
    CHECK(sg_csv_read(w.csv_path, &t, &err) == 0, "check.csv readable: %s", err.msg);
    if (t.ncols) {
        int cid = sg_csv_col(&t, "ref_id"), cv = sg_csv_col(&t, "verdict"),
            cf = sg_csv_col(&t, "flags"), cd = sg_csv_col(&t, "diff");
        CHECK(t.nrows == 10 && cid >= 0 && cv >= 0 && cf >= 0 && cd >= 0, "check.csv: %zu rows",
              t.nrows);
        for (size_t i = 0; cid >= 0 && cv >= 0 && i < t.nrows; i++) {
            const char *id = sg_csv_cell(&t, i, cid), *v = sg_csv_cell(&t, i, cv);
            if (!strcmp(id, "t-miss"))
                CHECK(!strcmp(v, "FAIL") && !strcmp(sg_csv_cell(&t, i, cd), "10.0000"),
                      "csv t-miss: %s diff %s", v, sg_csv_cell(&t, i, cd));
            if (!strcmp(id, "t-partial"))
                CHECK(!strcmp(v, "PASS") && !strcmp(sg_csv_cell(&t, i, cf), "PARTIAL-SEEDS"),
                      "csv t-partial: %s %s", v, sg_csv_cell(&t, i, cf));
            if (!strcmp(id, "t-notrun")) CHECK(!strcmp(v, "NOT RUN"), "csv t-notrun: %s", v);
            if (!strcmp(id, "t-unmapped")) CHECK(!strcmp(v, "UNMAPPED"), "csv t-unmapped: %s", v);
        }
        sg_csv_table_free(&t);
    }
    char *md = slurp(w.md_path);
    CHECK(md && strstr(md, "## test, table TA") && strstr(md, "## test, table TB") &&
              strstr(md, "| t-miss | clear miss | stl10 | 100 | top1 | 70.00 ± 0.50 (3 seeds) | "
                         "80.00 ± 0.10 (3 seeds) | +10.00 | \\|diff\\| <= 1.50 | **FAIL** | "
                         "repro/miss |"),
          "markdown row of t-miss:\n%s", md ? md : "(none)");
    CHECK(md && strstr(md, "**PASS PARTIAL-SEEDS**") && strstr(md, "**NOT RUN**") &&
              strstr(md, "**UNMAPPED**") && strstr(md, "**PASS SETUP-DIFFERS**"),
          "markdown verdicts");
    free(md);
    /* existing outputs are refused without force, replaced with it */
    rc = sg_published_write(&c, &wo, &w, &err);
    CHECK(rc == -1 && strstr(err.msg, "already exists") && strstr(err.msg, "--force"),
          "refuse: rc %d, %s", rc, err.msg);
    if (tu_have_program("gnuplot")) {
        wo.force = 1;
        wo.gnuplot = NULL;
        rc = sg_published_write(&c, &wo, &w, &err);
        CHECK(rc == 0 && w.png && tu_is_png(w.png_path) && w.charted == 10,
              "PNG: rc %d (%s), png %d, %d rows charted", rc, rc ? err.msg : "", w.png, w.charted);
    } else {
        printf("gnuplot not installed: check.png's PNG signature not checked\n");
    }
    sg_published_free(&c);

    /* the command's exit status: 1 with a FAIL ... */
    sg_published_opts o;
    memset(&o, 0, sizeof o);
    o.in = in;
    char cmd_out[1200];
    path_of(cmd_out, sizeof cmd_out, "cmd-out");
    o.out.out_dir = cmd_out;
    o.out.gnuplot = tu_have_program("gnuplot") ? NULL : "/nonexistent/gnuplot";
    char *so, *se;
    rc = run_cmd(&o, &so, &se);
    CHECK(rc == 1, "exit status with a FAIL: %d", rc);
    CHECK(so && strstr(so, "t-miss") && strstr(so, "FAIL") &&
              strstr(so, "check: 10 reference rows: 5 PASS, 2 FAIL, 1 NOT RUN, 1 UNMAPPED, 1 NO "
                         "METRIC; 1 PARTIAL-SEEDS, 1 SETUP-DIFFERS"),
          "printed summary:\n%s", so ? so : "(none)");
    CHECK(so && strstr(so, "77.86 ± 0.16 (3 seeds)") && strstr(so, "77.86 ± 0.10 (3 seeds)"),
          "printed published and ours");
    free(so);
    free(se);
    /* ... 0 without the failing runs (their rows become NOT RUN, never PASS) */
    res good[NROWS];
    int ng = 0;
    for (int i = 0; i < NROWS; i++)
        if (strcmp(ROWS[i].tag, "repro/miss") && strcmp(ROWS[i].tag, "repro/healthy"))
            good[ng++] = ROWS[i];
    path_of(ok_results, sizeof ok_results, "results-ok.csv");
    write_results(ok_results, good, ng, NULL);
    inputs[0] = ok_results;
    o.out.force = 1;
    rc = run_cmd(&o, &so, &se);
    CHECK(rc == 0, "exit status without a FAIL: %d (%s)", rc, se ? se : "");
    CHECK(so && strstr(so, "5 PASS, 0 FAIL, 3 NOT RUN"), "printed:\n%s", so ? so : "(none)");
    free(so);
    free(se);
    /* two files are pooled; the same (run, seed) twice is an error naming both places */
    path_of(dup, sizeof dup, "results-dup.csv");
    const res extra[] = {{"repro/partial", 3, "stl10", 100, "75.00", "0.08"}};
    write_results(dup, extra, 1, NULL);
    const char *two[2] = {ok_results, dup};
    sg_published_inputs in2 = {two, 2, suites, ref};
    rc = sg_published_compute(&in2, &c, &err);
    CHECK(rc == 0 && find(&c, "t-partial")->n == 3 && c.nfiles == 2, "pooled files: rc %d n %d", rc,
          rc ? -1 : find(&c, "t-partial")->n);
    sg_published_free(&c);
    write_results(dup, ROWS + 6, 1, NULL); /* repro/partial seed 1, already in ok_results */
    rc = sg_published_compute(&in2, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, ok_results) && strstr(err.msg, dup) &&
              strstr(err.msg, "repro/partial, seed 1 twice"),
          "duplicate: %s", err.msg);
    sg_published_free(&c);

    /* (e) --list-unmapped prints exactly the unmapped ids */
    o.list_unmapped = 1;
    rc = run_cmd(&o, &so, &se);
    CHECK(rc == 1 && so && !strcmp(so, "t-unmapped\n") && se &&
              strstr(se, "1 of 10 reference rows are unmapped"),
          "list-unmapped: rc %d out '%s' err '%s'", rc, so ? so : "", se ? se : "");
    free(so);
    free(se);
    o.list_unmapped = 0;

    /* (g) a results CSV missing a column: error naming the file and the column; exit 2 */
    path_of(nocol, sizeof nocol, "results-nocol.csv");
    write_results(nocol, ROWS, 3, "probe_best");
    inputs[0] = nocol;
    rc = sg_published_compute(&in, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, nocol) && strstr(err.msg, "no column 'probe_best'"),
          "missing column: %s", err.msg);
    sg_published_free(&c);
    rc = run_cmd(&o, &so, &se);
    CHECK(rc == 2 && se && strstr(se, "stopgrad check: ") && strstr(se, "'probe_best'"),
          "missing column: exit %d, '%s'", rc, se ? se : "");
    free(so);
    free(se);
    /* a bad cell names file, line and column */
    res bad = ROWS[0];
    bad.probe = "high";
    write_results(nocol, &bad, 1, NULL);
    rc = sg_published_compute(&in, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, nocol) && strstr(err.msg, "line 2, column probe_best") &&
              strstr(err.msg, "'high'"),
          "bad cell: %s", err.msg);
    sg_published_free(&c);
    inputs[0] = results;

    /* a suite naming a ref_id the reference does not have */
    char bad_suites[1200];
    path_of(bad_suites, sizeof bad_suites, "bad-suites");
    mkdir(bad_suites, 0777);
    snprintf(path, sizeof path, "%s/typo.suite", bad_suites);
    write_text(path, "run a = method.name=byol\nanswers a = t-exact t-exakt\n");
    sg_published_inputs in3 = {inputs, 1, bad_suites, ref};
    rc = sg_published_compute(&in3, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, "typo.suite") && strstr(err.msg, "'t-exakt'") &&
              strstr(err.msg, ref),
          "unknown ref_id: %s", err.msg);
    sg_published_free(&c);
    /* a reference row with an unknown rule */
    char bad_ref[1200];
    path_of(bad_ref, sizeof bad_ref, "bad-published.csv");
    write_text(bad_ref, "ref_id,source,table,dataset,epochs,setting,metric,mean,std,seeds,rule\n"
                        "x,s,T,stl10,100,a,top1,70,1,5,near\n");
    sg_published_inputs in4 = {inputs, 1, empty_suites, bad_ref};
    rc = sg_published_compute(&in4, &c, &err);
    CHECK(rc == -1 && strstr(err.msg, "line 2, column rule") && strstr(err.msg, "'near'"),
          "unknown rule: %s", err.msg);
    sg_published_free(&c);

    /* the project's own reference file and suites: read by the strict reader, every rule known,
     * every number below 5% judged as a collapse, every suite loads and names real ref_ids */
    const char *src = getenv("SG_SOURCE_DIR");
    if (src && *src) {
        char real_ref[1200], real_suites[1200];
        snprintf(real_ref, sizeof real_ref, "%s/results/reference/published.csv", src);
        snprintf(real_suites, sizeof real_suites, "%s/suites", src);
        sg_published_inputs rin = {NULL, 0, empty_suites, real_ref};
        rc = sg_published_compute(&rin, &c, &err);
        CHECK(rc == 0 && c.nrows >= 100 && c.count[SG_PUB_UNMAPPED] == c.nrows,
              "published.csv: rc %d (%s), %d rows", rc, rc ? err.msg : "", c.nrows);
        int ncollapse = 0, wrong = 0, noeval = 0;
        for (int i = 0; i < c.nrows; i++) {
            const sg_published_row *x = &c.rows[i];
            int is_collapse = !strcmp(x->rule, "collapse");
            ncollapse += is_collapse;
            wrong += is_collapse != (x->pub_mean < 5);
            noeval += !*x->eval;
        }
        CHECK(ncollapse == 6 && wrong == 0 && noeval == 0,
              "published.csv: %d collapse rows, %d with the wrong rule, %d without eval", ncollapse,
              wrong, noeval);
        sg_published_free(&c);
        sg_published_inputs sin = {NULL, 0, real_suites, real_ref};
        rc = sg_published_compute(&sin, &c, &err);
        CHECK(rc == 0 && c.nsuites >= 1 && c.count[SG_PUB_PASS] == 0,
              "the project's suites against published.csv: %s", rc ? err.msg : "ok");
        sg_published_free(&c);
    } else {
        printf("SG_SOURCE_DIR not set: the project's published.csv not checked\n");
    }
    return test_finish();
}
