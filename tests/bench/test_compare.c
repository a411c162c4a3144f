/* tests/bench/test_compare.c: `stopgrad compare` (bench/compare.h) and the Mann-Whitney test
 * under it (core/base/stats.h).
 *
 * Statistics: the exact p of fully separated samples (1/C(n+m, n)), the dynamic programme
 * against a brute-force enumeration of every assignment of ranks, exact against the normal
 * approximation on 9x9 samples, the choice of method (ties or large samples: normal).
 * Comparison: synthetic kernel-suite CSVs with the real header (sg_kb_header) and 9 repetitions
 * drawn from the project RNG: (a) one kernel 1.5x slower is the one REGRESSION, exit status 1;
 * (b) noise only passes; (c) a kernel missing from NEW is MISSING and fails; (d) a significant
 * 5% slowdown under the 10% threshold passes; plus the eigen-update compared by medians only,
 * NEW-only and failed benchmarks, 3 repetitions that cannot reach alpha, the machine warning,
 * the CSV output and the input errors (each naming the file, line and column). */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid */
#include <sys/stat.h>
#include <unistd.h>

#include "bench/compare.h"
#include "bench/kbench.h"
#include "core/base/csv.h"
#include "core/base/machine.h"
#include "core/base/stats.h"
#include "test_util.h"

/* ---- the Mann-Whitney test ------------------------------------------------------------------- */

/* P(U >= U_obs) by enumerating every way to give nx of the n+m (distinct) pooled values to x. */
static double brute_p(const double *x, int nx, const double *y, int ny) {
    int n = nx + ny;
    double pooled[32];
    for (int i = 0; i < nx; i++) pooled[i] = x[i];
    for (int j = 0; j < ny; j++) pooled[nx + j] = y[j];
    double u_obs = sg_mann_whitney_u(x, nx, y, ny);
    long hits = 0, total = 0;
    for (unsigned mask = 0; mask < (1u << n); mask++) {
        if (__builtin_popcount(mask) != nx) continue;
        double u = 0;
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                if ((mask >> a & 1) && !(mask >> b & 1) && pooled[b] > pooled[a]) u += 1;
        total++;
        hits += u >= u_obs - 1e-9;
    }
    return (double)hits / (double)total;
}

static void draw(sg_rng *r, double *v, int n, double mean, double rel_sd) {
    for (int i = 0; i < n; i++) v[i] = mean * (1.0 + rel_sd * sg_rng_normal(r));
}

static void test_mann_whitney(void) {
    const double a[] = {1, 2, 3}, b[] = {4, 5, 6};
    sg_mw_method used;
    double p = sg_mann_whitney_p_greater_method(a, 3, b, 3, SG_MW_AUTO, &used);
    CHECK(fabs(p - 0.05) < 1e-12 && used == SG_MW_EXACT,
          "{1,2,3} < {4,5,6}: p %.15g (1/20), "
          "method %d",
          p, (int)used);
    p = sg_mann_whitney_p_greater(b, 3, a, 3);
    CHECK(fabs(p - 1.0) < 1e-12, "y all smaller: p %.15g, expected 1", p);
    const double c[] = {1, 2, 3, 4}, d[] = {5, 6, 7, 8};
    p = sg_mann_whitney_p_greater(c, 4, d, 4);
    CHECK(fabs(p - 1.0 / 70.0) < 1e-12, "4 vs 4 separated: p %.15g, expected 1/70", p);
    const double e[] = {1}, f[] = {2, 3, 4, 5, 6, 7, 8};
    p = sg_mann_whitney_p_greater(e, 1, f, 7);
    CHECK(fabs(p - 1.0 / 8.0) < 1e-12, "1 vs 7 separated: p %.15g, expected 1/8", p);

    /* interleaved: U = nm/2, p a little over 1/2 */
    const double xi[] = {1, 4, 5, 8}, yi[] = {2, 3, 6, 7};
    p = sg_mann_whitney_p_greater(xi, 4, yi, 4);
    double bp = brute_p(xi, 4, yi, 4);
    CHECK(sg_mann_whitney_u(xi, 4, yi, 4) == 8.0, "interleaved U %g, expected 8",
          sg_mann_whitney_u(xi, 4, yi, 4));
    CHECK(p > 0.5 && p < 0.7 && fabs(p - bp) < 1e-12, "interleaved: p %.15g (brute force %.15g)", p,
          bp);

    /* the recursion against brute force on random samples of several shapes, both orders */
    const int shapes[][2] = {{5, 6}, {3, 7}, {7, 3}, {2, 9}, {6, 6}, {1, 4}};
    sg_rng r;
    sg_rng_init(&r, 2024, 7, 0, 0);
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
        int nx = shapes[s][0], ny = shapes[s][1];
        for (int rep = 0; rep < 4; rep++) {
            double x[16], y[16];
            draw(&r, x, nx, 1.0, 0.05);
            draw(&r, y, ny, 1.0 + 0.02 * rep, 0.05);
            double pe = sg_mann_whitney_p_greater_method(x, nx, y, ny, SG_MW_EXACT, NULL);
            double pb = brute_p(x, nx, y, ny);
            CHECK(fabs(pe - pb) < 1e-12, "%dx%d draw %d: exact %.15g, brute force %.15g", nx, ny,
                  rep, pe, pb);
        }
    }

    /* 9x9: the normal approximation (continuity-corrected) within 0.02 of the exact p */
    double worst = 0;
    for (int rep = 0; rep < 20; rep++) {
        double x[9], y[9];
        draw(&r, x, 9, 1.0, 0.05);
        draw(&r, y, 9, 1.0 + 0.004 * rep, 0.05);
        double pe = sg_mann_whitney_p_greater_method(x, 9, y, 9, SG_MW_EXACT, NULL);
        double pn = sg_mann_whitney_p_greater_method(x, 9, y, 9, SG_MW_NORMAL, &used);
        CHECK(used == SG_MW_NORMAL, "forced normal ran method %d", (int)used);
        if (fabs(pe - pn) > worst) worst = fabs(pe - pn);
    }
    CHECK(worst < 0.02, "9x9: exact and normal p differ by up to %.4f (want < 0.02)", worst);
    /* the normal approximation's own value, computed by hand: x = 1..9, y = 10..18, U = 81,
     * z = (81 - 40.5 - 0.5) / sqrt(81 * 19 / 12) */
    double sep[18];
    for (int i = 0; i < 18; i++) sep[i] = i + 1;
    p = sg_mann_whitney_p_greater_method(sep, 9, sep + 9, 9, SG_MW_NORMAL, NULL);
    CHECK(fabs(p - 2.0614740103084555e-4) < 1e-12, "9x9 separated, normal: p %.17g", p);
    p = sg_mann_whitney_p_greater(sep, 9, sep + 9, 9);
    CHECK(fabs(p - 1.0 / 48620.0) < 1e-15, "9x9 separated, exact: p %.17g (1/C(18,9))", p);

    /* ties: the normal approximation with the tie correction */
    const double tx[] = {1, 2, 2, 3}, ty[] = {2, 3, 3, 4};
    p = sg_mann_whitney_p_greater_method(tx, 4, ty, 4, SG_MW_AUTO, &used);
    /* U = 13, tie groups of sizes 1, 3, 3, 1: variance 16/12 (9 - 48/56) */
    CHECK(used == SG_MW_NORMAL && fabs(p - 0.086016854460911480) < 1e-12,
          "ties: method %d, p %.17g", (int)used, p);
    /* every value equal: no evidence */
    const double ex[] = {2, 2, 2}, ey[] = {2, 2};
    p = sg_mann_whitney_p_greater(ex, 3, ey, 2);
    CHECK(p == 1.0, "all equal: p %.6g, expected 1", p);

    /* large samples: normal; a 2% shift with 1% noise over 60 repetitions is very significant */
    double lx[60], ly[60];
    draw(&r, lx, 60, 1.0, 0.01);
    draw(&r, ly, 60, 1.02, 0.01);
    p = sg_mann_whitney_p_greater_method(lx, 60, ly, 60, SG_MW_AUTO, &used);
    CHECK(used == SG_MW_NORMAL && p < 1e-6, "60x60 shifted: method %d, p %.3g", (int)used, p);
    p = sg_mann_whitney_p_greater(ly, 60, lx, 60);
    CHECK(p > 0.999, "60x60 shifted the other way: p %.6g", p);

    CHECK(isnan(sg_mann_whitney_p_greater(a, 0, b, 3)), "empty x: NaN expected");
    const double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
    CHECK(sg_median(odd, 3) == 3.0 && sg_median(even, 4) == 2.5, "median %g %g", sg_median(odd, 3),
          sg_median(even, 4));
}

/* ---- synthetic kernel-suite CSVs ------------------------------------------------------------ */

typedef struct {
    const char *kind, *config, *kernel, *shape, *status;
    double median; /* NaN: empty cell; when reps are given, their median */
    double reps[16];
    int nreps;
} syn_row;

typedef struct {
    const char *machine_id, *backend, *cpu, *accelerator;
} syn_machine;

static const syn_machine MACHINE_A = {"aaaaaaaaaaaaaaaa", "cpu", "Test CPU 9000", ""};
static const syn_machine MACHINE_B = {"bbbbbbbbbbbbbbbb", "cpu", "Other CPU 1", ""};

static char tmp[1024];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp, name);
}

/* Writes rows with the exact header of `stopgrad bench`; machine columns hold fixed text. */
static void write_suite(const char *path, const syn_machine *m, const syn_row *rows, int n) {
    int nc = sg_kb_ncols(), nm = sg_machine_ncols();
    const char *const *h = sg_kb_header();
    sg_csv_row *out = tu_alloc((size_t)n * sizeof *out);
    for (int i = 0; i < n; i++) {
        const syn_row *r = &rows[i];
        sg_csv_row_init(&out[i]);
        for (int c = 0; c < nc; c++) {
            const char *name = h[c];
            char buf[1024] = "";
            if (!strcmp(name, "kind"))
                snprintf(buf, sizeof buf, "%s", r->kind);
            else if (!strcmp(name, "config"))
                snprintf(buf, sizeof buf, "%s", r->config);
            else if (!strcmp(name, "kernel"))
                snprintf(buf, sizeof buf, "%s", r->kernel);
            else if (!strcmp(name, "shape"))
                snprintf(buf, sizeof buf, "%s", r->shape);
            else if (!strcmp(name, "status"))
                snprintf(buf, sizeof buf, "%s", r->status ? r->status : "ok");
            else if (!strcmp(name, "backend"))
                snprintf(buf, sizeof buf, "%s", m->backend);
            else if (!strcmp(name, "suite"))
                snprintf(buf, sizeof buf, "synthetic");
            else if (!strcmp(name, "reps"))
                snprintf(buf, sizeof buf, "%d", r->nreps);
            else if (!strcmp(name, "median_s") && !isnan(r->median))
                snprintf(buf, sizeof buf, "%.17g", r->median);
            else if (!strcmp(name, "rep_times_s")) {
                size_t at = 0;
                for (int k = 0; k < r->nreps; k++)
                    at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%.9g", k ? ";" : "",
                                           r->reps[k]);
            } else if (!strcmp(name, "machine_id"))
                snprintf(buf, sizeof buf, "%s", m->machine_id);
            else if (!strcmp(name, "cpu_model"))
                snprintf(buf, sizeof buf, "%s", m->cpu);
            else if (!strcmp(name, "accelerator"))
                snprintf(buf, sizeof buf, "%s", m->accelerator);
            else if (c >= nc - nm)
                snprintf(buf, sizeof buf, "fixed");
            sg_csv_row_str(&out[i], buf);
        }
    }
    sg_err err;
    if (sg_csv_write_atomic(path, nc, h, out, (size_t)n, &err)) {
        fprintf(stderr, "cannot write %s: %s\n", path, err.msg);
        exit(2);
    }
    for (int i = 0; i < n; i++) sg_csv_row_free(&out[i]);
    free(out);
}

#define NK 5
static const char *const KERNELS[NK][2] = {
    {"conv2d_fwd", "N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1"},
    {"batchnorm_fwd_train", "N=64,C=8,HW=400,affine=1,running=1"},
    {"relu_fwd", "n=204800,inplace=1"},
    {"linear_fwd", "N=64,In=64,Out=512,bias=1"},
    {"sgd_step", "n=406408,groups=2"}};
static const double BASE_S[NK] = {1.2e-3, 8.6e-5, 5.1e-5, 4.7e-5, 1.5e-4};

/* A suite: NK kernels, the eigen-update (no repetitions) and the step, nreps repetitions with
 * relative noise rel_sd; factor[k] scales kernel k's time; stream picks independent draws. */
static int make_suite(syn_row *rows, uint32_t stream, const double *factor, double rel_sd,
                      int nreps, double eig_factor) {
    sg_rng r;
    sg_rng_init(&r, 99, stream, 0, 0);
    int n = 0;
    for (int k = 0; k < NK; k++) {
        syn_row *w = &rows[n++];
        *w = (syn_row){"kernel", "fmnist", KERNELS[k][0], KERNELS[k][1], "ok", 0, {0}, nreps};
        draw(&r, w->reps, nreps, BASE_S[k] * (factor ? factor[k] : 1.0), rel_sd);
        w->median = sg_median(w->reps, nreps);
    }
    rows[n++] = (syn_row){"eigen_update",
                          "fmnist",
                          "directpred_eigen_update",
                          "D=128",
                          "ok",
                          3.3e-5 * eig_factor,
                          {0},
                          0};
    syn_row *st = &rows[n++];
    *st = (syn_row){"step", "fmnist", "step", "batch=64", "ok", 0, {0}, nreps};
    draw(&r, st->reps, nreps, 0.139, rel_sd);
    st->median = sg_median(st->reps, nreps);
    rows[n++] =
        (syn_row){"step_overhead", "fmnist", "outside_kernels", "batch=64", "ok", 0.0079, {0}, 0};
    rows[n++] = (syn_row){"augment", "fmnist", "aug_hflip",        "C=3,H=20,W=20,inplace=1",
                          "ok",      2e-7,     {2e-7, 2e-7, 2e-7}, 3};
    return n;
}

static const sg_compare_row *find_row(const sg_compare_summary *s, const char *kind,
                                      const char *kernel) {
    for (int i = 0; i < s->nrows; i++)
        if (!strcmp(s->rows[i].kind, kind) && !strcmp(s->rows[i].kernel, kernel))
            return &s->rows[i];
    return NULL;
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

/* Runs the comparison with the table printed into a file; returns the status, *text the output. */
static int run_compare(const char *base, const char *new_csv, sg_compare_opts *o,
                       sg_compare_summary *s, char **text, sg_err *err) {
    char out[1100];
    path_of(out, sizeof out, "compare.out");
    FILE *f = fopen(out, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", out);
        exit(2);
    }
    o->out = f;
    int rc = sg_compare_files(base, new_csv, o, s, err);
    fclose(f);
    o->out = NULL;
    *text = slurp(out);
    return rc;
}

static void test_compare(void) {
    syn_row base[16], cur[16];
    char pb[1100], pn[1100];
    path_of(pb, sizeof pb, "base.csv");
    path_of(pn, sizeof pn, "new.csv");
    int nb = make_suite(base, 1, NULL, 0.01, 9, 1.0);
    write_suite(pb, &MACHINE_A, base, nb);
    sg_compare_opts o;
    sg_compare_defaults(&o);
    sg_compare_summary s;
    sg_err err;
    char *text = NULL;

    /* (a) conv2d_fwd 1.5x slower */
    const double slow[NK] = {1.5, 1, 1, 1, 1};
    int nn = make_suite(cur, 2, slow, 0.01, 9, 1.0);
    write_suite(pn, &MACHINE_A, cur, nn);
    int rc = run_compare(pb, pn, &o, &s, &text, &err);
    CHECK(rc == 1, "(a) 1.5x slowdown: rc %d (%s)", rc, rc < 0 ? err.msg : "");
    if (rc >= 0) {
        CHECK(s.count[SG_CMP_REGRESSION] == 1 && s.failures == 1, "(a) regressions %d failures %d",
              s.count[SG_CMP_REGRESSION], s.failures);
        const sg_compare_row *w = &s.rows[0];
        CHECK(w->verdict == SG_CMP_REGRESSION && !strcmp(w->kernel, "conv2d_fwd") &&
                  w->ratio > 1.4 && w->ratio < 1.6 && w->p < 1e-4 && w->base_reps == 9,
              "(a) worst row: %s %s ratio %.3f p %.3g", sg_compare_verdict_name(w->verdict),
              w->kernel, w->ratio, w->p);
        CHECK(s.matched == NK + 2 && s.tested == NK + 1 && s.median_only == 1 && s.same_machine,
              "(a) matched %d tested %d median only %d same machine %d", s.matched, s.tested,
              s.median_only, s.same_machine);
        CHECK(s.nrows == NK + 2,
              "(a) %d rows: step_overhead and augment are not compared by "
              "default",
              s.nrows);
        CHECK(text && strstr(text, "REGRESSION") && strstr(text, "1 regression(s)") &&
                  strstr(text, ": FAIL") && !strstr(text, "hardware differs"),
              "(a) output:\n%s", text ? text : "(none)");
        const sg_compare_row *e = find_row(&s, "eigen_update", "directpred_eigen_update");
        CHECK(e && e->verdict == SG_CMP_OK && isnan(e->p) && strstr(e->note, "median only"),
              "(a) eigen_update by median only: %s", e ? e->note : "absent");
        CHECK(text && strstr(text, "medians only, without a test"), "(a) the median-only note");
        sg_compare_summary_free(&s);
    }
    free(text);

    /* (b) noise only: new draws of the same distributions, 3% noise */
    int nb3 = make_suite(base, 3, NULL, 0.03, 9, 1.0);
    write_suite(pb, &MACHINE_A, base, nb3);
    nn = make_suite(cur, 4, NULL, 0.03, 9, 1.0);
    write_suite(pn, &MACHINE_A, cur, nn);
    rc = run_compare(pb, pn, &o, &s, &text, &err);
    CHECK(rc == 0, "(b) noise only: rc %d (%s)", rc, rc < 0 ? err.msg : "");
    if (rc >= 0) {
        CHECK(s.failures == 0 && s.count[SG_CMP_REGRESSION] == 0, "(b) failures %d", s.failures);
        for (int i = 0; i < s.nrows; i++)
            CHECK(fabs(s.rows[i].ratio - 1) < 0.1, "(b) %s ratio %.3f", s.rows[i].kernel,
                  s.rows[i].ratio);
        CHECK(text && strstr(text, ": PASS"), "(b) output:\n%s", text ? text : "(none)");
        sg_compare_summary_free(&s);
    }
    free(text);

    /* (c) relu_fwd missing from NEW, and a kernel only in NEW */
    nb = make_suite(base, 1, NULL, 0.01, 9, 1.0);
    write_suite(pb, &MACHINE_A, base, nb);
    nn = make_suite(cur, 2, NULL, 0.01, 9, 1.0);
    cur[2] = cur[--nn]; /* relu_fwd replaced by the last row */
    cur[nn++] = (syn_row){"kernel", "fmnist", "ema_update",           "n=274696",
                          "ok",     7e-5,     {7e-5, 7.1e-5, 6.9e-5}, 3};
    write_suite(pn, &MACHINE_A, cur, nn);
    rc = run_compare(pb, pn, &o, &s, &text, &err);
    CHECK(rc == 1, "(c) missing kernel: rc %d (%s)", rc, rc < 0 ? err.msg : "");
    if (rc >= 0) {
        const sg_compare_row *m = find_row(&s, "kernel", "relu_fwd");
        CHECK(m && m->verdict == SG_CMP_MISSING && s.count[SG_CMP_MISSING] == 1 &&
                  s.failures == 1 && s.rows[0].verdict == SG_CMP_MISSING,
              "(c) relu_fwd: %s, failures %d", m ? sg_compare_verdict_name(m->verdict) : "absent",
              s.failures);
        const sg_compare_row *a = find_row(&s, "kernel", "ema_update");
        CHECK(a && a->verdict == SG_CMP_NEW && s.count[SG_CMP_NEW] == 1 &&
                  s.rows[s.nrows - 1].verdict == SG_CMP_NEW,
              "(c) ema_update only in NEW: %s", a ? sg_compare_verdict_name(a->verdict) : "absent");
        CHECK(text && strstr(text, "MISSING (not in NEW)") && strstr(text, "1 missing"),
              "(c) output:\n%s", text ? text : "(none)");
        sg_compare_summary_free(&s);
    }
    free(text);

    /* (d) 5% slower everywhere with 1% noise: significant, but under the 10% threshold */
    const double five[NK] = {1.05, 1.05, 1.05, 1.05, 1.05};
    nn = make_suite(cur, 2, five, 0.01, 9, 1.05);
    write_suite(pn, &MACHINE_A, cur, nn);
    rc = run_compare(pb, pn, &o, &s, &text, &err);
    CHECK(rc == 0, "(d) 5%% slowdown: rc %d (%s)", rc, rc < 0 ? err.msg : "");
    if (rc >= 0) {
        const sg_compare_row *w = find_row(&s, "kernel", "conv2d_fwd");
        CHECK(w && w->verdict == SG_CMP_OK && w->p < o.alpha && w->ratio > 1.02 && w->ratio < 1.08,
              "(d) conv2d_fwd: %s ratio %.3f p %.3g", w ? sg_compare_verdict_name(w->verdict) : "-",
              w ? w->ratio : NAN, w ? w->p : NAN);
        CHECK(s.failures == 0, "(d) failures %d", s.failures);
        sg_compare_summary_free(&s);
    }
    free(text);
    /* the same files with a 2% threshold: now regressions */
    sg_compare_opts o2 = o;
    o2.threshold = 0.02;
    rc = run_compare(pb, pn, &o2, &s, &text, &err);
    CHECK(rc == 1, "(d) 5%% slowdown, 2%% threshold: rc %d", rc);
    if (rc >= 0) {
        CHECK(s.count[SG_CMP_REGRESSION] >= NK - 1, "(d) threshold 2%%: %d regressions",
              s.count[SG_CMP_REGRESSION]);
        const sg_compare_row *e = find_row(&s, "eigen_update", "directpred_eigen_update");
        CHECK(e && e->verdict == SG_CMP_SLOWER_UNTESTED, "(d) eigen_update 5%% slower: %s",
              e ? sg_compare_verdict_name(e->verdict) : "absent");
        sg_compare_summary_free(&s);
    }
    free(text);

    /* conv2d_fwd twice as fast: "faster", no failure, sorted after the unchanged ones */
    const double fast[NK] = {0.5, 1, 1, 1, 1};
    nn = make_suite(cur, 2, fast, 0.01, 9, 1.0);
    write_suite(pn, &MACHINE_A, cur, nn);
    rc = run_compare(pb, pn, &o, &s, &text, &err);
    CHECK(rc == 0, "2x faster: rc %d", rc);
    if (rc >= 0) {
        const sg_compare_row *w = find_row(&s, "kernel", "conv2d_fwd");
        CHECK(w && w->verdict == SG_CMP_FASTER && w->p > 0.99 && w == &s.rows[s.nrows - 1],
              "2x faster: %s p %.3g", w ? sg_compare_verdict_name(w->verdict) : "-",
              w ? w->p : NAN);
        sg_compare_summary_free(&s);
    }
    free(text);

    /* different machine, a failed kernel in NEW, a skipped one in BASE, --csv, --kinds */
    nn = make_suite(cur, 2, NULL, 0.01, 9, 1.0);
    cur[3].status = "mismatch";
    cur[3].median = NAN;
    cur[3].nreps = 0;
    base[4].status = "error";
    write_suite(pb, &MACHINE_A, base, nb);
    write_suite(pn, &MACHINE_B, cur, nn);
    char pcsv[1100];
    path_of(pcsv, sizeof pcsv, "cmp.csv");
    sg_compare_opts o3 = o;
    o3.csv_out = pcsv;
    o3.kinds = "kernel,step_overhead";
    rc = run_compare(pb, pn, &o3, &s, &text, &err);
    CHECK(rc == 1, "failed kernel: rc %d (%s)", rc, rc < 0 ? err.msg : "");
    if (rc >= 0) {
        const sg_compare_row *f = find_row(&s, "kernel", "linear_fwd");
        CHECK(f && f->verdict == SG_CMP_FAILED && strstr(f->note, "mismatch"),
              "linear_fwd mismatch in NEW: %s", f ? sg_compare_verdict_name(f->verdict) : "absent");
        CHECK(s.skipped == 1 && !find_row(&s, "kernel", "sgd_step"), "skipped %d", s.skipped);
        CHECK(!s.same_machine && !strcmp(s.base_machine, MACHINE_A.machine_id) &&
                  !strcmp(s.new_machine, MACHINE_B.machine_id),
              "machines %s %s", s.base_machine, s.new_machine);
        CHECK(text && strstr(text, "hardware differs") && strstr(text, MACHINE_A.machine_id) &&
                  strstr(text, MACHINE_B.machine_id) && strstr(text, "not a regression check"),
              "machine warning:\n%s", text ? text : "(none)");
        CHECK(find_row(&s, "step_overhead", "outside_kernels") && !find_row(&s, "step", "step"),
              "--kinds kernel,step_overhead");
        sg_csv_table t;
        if (sg_csv_read(pcsv, &t, &err) == 0) {
            int cv = sg_csv_col(&t, "verdict"), ck = sg_csv_col(&t, "kernel"),
                cr = sg_csv_col(&t, "ratio");
            CHECK((int)t.nrows == s.nrows && cv >= 0 && ck >= 0 && cr >= 0, "CSV: %zu rows",
                  t.nrows);
            if (cv >= 0 && ck >= 0 && t.nrows)
                CHECK(!strcmp(sg_csv_cell(&t, 0, cv), "FAILED") &&
                          !strcmp(sg_csv_cell(&t, 0, ck), "linear_fwd") &&
                          !strcmp(sg_csv_cell(&t, 0, cr), ""),
                      "CSV first row: %s %s", sg_csv_cell(&t, 0, ck), sg_csv_cell(&t, 0, cv));
            sg_csv_table_free(&t);
        } else {
            CHECK(0, "CSV output: %s", err.msg);
        }
        sg_compare_summary_free(&s);
    }
    free(text);

    /* 3 repetitions: 1/20 is the smallest p, so a 1.5x slowdown is "slower", and it is said */
    nb = make_suite(base, 1, NULL, 0.01, 3, 1.0);
    write_suite(pb, &MACHINE_A, base, nb);
    nn = make_suite(cur, 2, slow, 0.01, 3, 1.0);
    write_suite(pn, &MACHINE_A, cur, nn);
    rc = run_compare(pb, pn, &o, &s, &text, &err);
    CHECK(rc == 0, "3 repetitions: rc %d", rc);
    if (rc >= 0) {
        const sg_compare_row *w = find_row(&s, "kernel", "conv2d_fwd");
        CHECK(w && w->verdict == SG_CMP_SLOWER && fabs(w->p - 0.05) < 1e-9,
              "3 reps: conv2d_fwd %s p %.3g", w ? sg_compare_verdict_name(w->verdict) : "-",
              w ? w->p : NAN);
        CHECK(s.underpowered == s.tested && s.tested > 0, "underpowered %d of %d", s.underpowered,
              s.tested);
        CHECK(text && strstr(text, "too few repetitions"), "3 reps output:\n%s",
              text ? text : "(none)");
        sg_compare_summary_free(&s);
    }
    free(text);
}

static void test_errors(void) {
    sg_compare_opts o;
    sg_compare_defaults(&o);
    sg_compare_summary s;
    sg_err err;
    char pb[1100], pn[1100], bad[1100];
    path_of(pb, sizeof pb, "base.csv");
    path_of(pn, sizeof pn, "new.csv");
    syn_row rows[16];
    int n = make_suite(rows, 1, NULL, 0.01, 9, 1.0);
    write_suite(pb, &MACHINE_A, rows, n);
    write_suite(pn, &MACHINE_A, rows, n);

    int rc = sg_compare_files("/nonexistent/base.csv", pn, &o, &s, &err);
    CHECK(rc == -1 && strstr(err.msg, "/nonexistent/base.csv"), "missing file: rc %d: %s", rc,
          err.msg);

    /* a CSV without rep_times_s */
    path_of(bad, sizeof bad, "nocol.csv");
    const char *hdr[] = {"kind",    "config",   "kernel",     "shape",     "status",
                         "message", "median_s", "machine_id", "cpu_model", "accelerator"};
    sg_csv_row r;
    sg_csv_row_init(&r);
    for (int i = 0; i < 10; i++) sg_csv_row_str(&r, i == 0 ? "kernel" : "x");
    if (sg_csv_write_atomic(bad, 10, hdr, &r, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    sg_csv_row_free(&r);
    rc = sg_compare_files(pb, bad, &o, &s, &err);
    CHECK(rc == -1 && strstr(err.msg, bad) && strstr(err.msg, "'rep_times_s'"),
          "missing column: rc %d: %s", rc, err.msg);

    /* a bad repetition time: file, line and column named */
    rows[1].reps[3] = -1;
    write_suite(bad, &MACHINE_A, rows, n);
    rc = sg_compare_files(pb, bad, &o, &s, &err);
    CHECK(rc == -1 && strstr(err.msg, bad) && strstr(err.msg, "line 3") &&
              strstr(err.msg, "rep_times_s") && strstr(err.msg, "repetition 4"),
          "bad repetition: rc %d: %s", rc, err.msg);
    rows[1].reps[3] = 1e-4;

    /* the same benchmark twice */
    rows[n] = rows[0];
    write_suite(bad, &MACHINE_A, rows, n + 1);
    rc = sg_compare_files(bad, pn, &o, &s, &err);
    CHECK(rc == -1 && strstr(err.msg, "lines 2 and") && strstr(err.msg, "same benchmark"),
          "duplicate: rc %d: %s", rc, err.msg);

    o.kinds = "kernel,stpe";
    rc = sg_compare_files(pb, pn, &o, &s, &err);
    CHECK(rc == -1 && strstr(err.msg, "unknown kind 'stpe'"), "bad kind: rc %d: %s", rc, err.msg);
    sg_compare_defaults(&o);
    o.alpha = 1.5;
    rc = sg_compare_files(pb, pn, &o, &s, &err);
    CHECK(rc == -1 && strstr(err.msg, "--alpha"), "bad alpha: rc %d: %s", rc, err.msg);

    /* a file against itself: nothing differs */
    sg_compare_defaults(&o);
    rc = sg_compare_files(pb, pb, &o, &s, &err);
    CHECK(rc == 0 && s.failures == 0 && s.matched == NK + 2, "itself: rc %d failures %d matched %d",
          rc, rc >= 0 ? s.failures : -1, rc >= 0 ? s.matched : -1);
    if (rc >= 0) sg_compare_summary_free(&s);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/compare_%d", tu_tmpdir(), (int)getpid());
    if (mkdir(tmp, 0777) != 0) {
        fprintf(stderr, "cannot create %s\n", tmp);
        return 2;
    }
    test_mann_whitney();
    test_compare();
    test_errors();
    return test_finish();
}
