/* core/theory/figures.c: CSV data, gnuplot scripts and PNGs of the theory suite (figures.h). */
#define _XOPEN_SOURCE 700 /* realpath, posix_spawnp */
#include "core/theory/figures.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "core/base/file.h"
#include "core/base/csv.h"
#include "core/base/text.h"
#include "core/theory/flow.h"
#include "core/theory/linalg.h"
#include "core/theory/modes.h"
#include "core/theory/ode.h"
#include "core/theory/setup.h"

extern char **environ;

/* ---- plumbing: paths, tables, scripts, gnuplot ---------------------------------------------- */

typedef struct {
    sg_csv_row *rows;
    size_t n, cap;
} tab;

static sg_csv_row *tab_row(tab *t) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        sg_csv_row *r = realloc(t->rows, cap * sizeof *r);
        SG_CHECK(r != NULL, "out of memory (%zu rows)", cap);
        t->rows = r;
        t->cap = cap;
    }
    sg_csv_row *r = &t->rows[t->n++];
    sg_csv_row_init(r);
    return r;
}

/* Numbers in figure data need no more than 9 significant digits. */
static void num(sg_csv_row *r, double v) {
    char b[48];
    snprintf(b, sizeof b, "%.9g", v);
    sg_csv_row_str(r, b);
}

static void tab_free(tab *t) {
    for (size_t i = 0; i < t->n; i++) sg_csv_row_free(&t->rows[i]);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

static void join(char *buf, size_t cap, const char *dir, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Writes DIR/name (a CSV) unless *rc already holds an error, and frees the table either way,
 * so a figure can write all its tables in a row and report the first failure. */
static void tab_write(int *rc, tab *t, const char *dir, const char *name, int ncols,
                      const char *const *header, sg_err *err) {
    if (*rc == 0) {
        char path[8192];
        join(path, sizeof path, dir, name);
        *rc = sg_csv_write_atomic(path, ncols, header, t->rows, t->n, err);
    }
    tab_free(t);
}

/* src as the inside of a gnuplot double-quoted string: " and \ escaped, and each "; " turned
 * into a line break so long parameter lists wrap in the title. */
static const char *gq(const char *src, char *dst, size_t cap) {
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 4 < cap; i++) {
        if (src[i] == ';' && src[i + 1] == ' ') {
            dst[j++] = '\\';
            dst[j++] = 'n';
            i++;
            continue;
        }
        if (src[i] == '"' || src[i] == '\\') dst[j++] = '\\';
        dst[j++] = src[i];
    }
    dst[j] = 0;
    return dst;
}

typedef struct {
    const sg_th_figures_opts *o;
    char dir[4096]; /* the output directory, absolute (the scripts cd there) */
    tab index;      /* figures.csv */
} fig_ctx;

/* Script preamble: pngcairo when this gnuplot has it (else the libgd png terminal), literal
 * text (no enhanced-text markup, so names like alpha_p print as written), comma-separated
 * data with a header line that every plot skips. */
static void sb_preamble(sg_sbuf *b, const char *dir, const char *name, int w, int h) {
    sg_sbuf_printf(b, "# %s.gp: written by `stopgrad theory figures`; reads the CSVs beside it.\n",
                   name);
    sg_sbuf_printf(b,
                   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "  set terminal pngcairo size %d,%d font 'DejaVu Sans,10' noenhanced\n"
                   "} else {\n"
                   "  set terminal png size %d,%d noenhanced\n"
                   "}\n"
                   "cd '%s'\n"
                   "set output '%s.png'\n"
                   "set datafile separator ','\n"
                   "set grid lc rgb '#dddddd'\n",
                   w, h, w, h, dir, name);
}

/* A multiplot of rows x cols panels titled title, the parameters on the lines below it. */
static void sb_multiplot(sg_sbuf *b, int rows, int cols, const char *title, const char *params) {
    char q[1100];
    sg_sbuf_printf(b, "set multiplot layout %d,%d title \"%s\\n%s\"\n", rows, cols, title,
                   gq(params, q, sizeof q));
}

static int run_gnuplot(const fig_ctx *c, const char *script, sg_err *err) {
    char *argv[] = {(char *)c->o->gnuplot, (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, c->o->gnuplot, NULL, NULL, argv, environ);
    if (rc != 0)
        return sg_errf(err,
                       "cannot run '%s' for %s: %s (install Debian's gnuplot-nox, pass "
                       "--gnuplot PATH, or --no-render to write the CSVs and scripts only)",
                       c->o->gnuplot, script, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return sg_errf(err, "waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return sg_errf(err, "gnuplot failed on %s (exit status %d)", script,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

/* Writes DIR/name.gp, renders it, and adds the figure to the index. */
static int finish_figure(fig_ctx *c, const char *name, sg_sbuf *b, const char *data,
                         const char *caption, const char *params, sg_err *err) {
    char path[8192];
    int bad = sg_path_printf(path, sizeof path, err, "%s/%s.gp", c->dir, name) ||
              sg_write_file_atomic(path, b->s, b->len, err);
    sg_sbuf_free(b);
    if (bad) return -1;
    if (c->o->render && run_gnuplot(c, path, err)) return -1;
    sg_csv_row *r = tab_row(&c->index);
    char png[300], gp[300];
    snprintf(png, sizeof png, "%s.png", name);
    snprintf(gp, sizeof gp, "%s.gp", name);
    sg_csv_row_str(r, name);
    sg_csv_row_str(r, c->o->render ? png : "");
    sg_csv_row_str(r, data);
    sg_csv_row_str(r, gp);
    sg_csv_row_str(r, caption);
    sg_csv_row_str(r, params);
    if (c->o->verbose) fprintf(stderr, "theory figures: %s/%s\n", c->dir, c->o->render ? png : gp);
    return 0;
}

static const char *FIG_NAMES[] = {
    "fig3_phase_portraits", "fig4_fixed_points", "fig5_ema_trajectories",
    "fig7_commutator",      "fig8_spectra",      "fig9_variants",
    "sgd_vs_flow"};

int sg_th_figure_count(void) { return (int)(sizeof FIG_NAMES / sizeof FIG_NAMES[0]); }
const char *sg_th_figure_name(int i) {
    SG_CHECK(i >= 0 && i < sg_th_figure_count(), "figure index %d", i);
    return FIG_NAMES[i];
}

/* ---- integration helpers ------------------------------------------------------------------- */

/* The figures' solver: DOPRI5 at rtol, atol = 1e-3 rtol. */
static sg_th_solver fig_solver(double rtol) { return sg_th_solver_dopri(rtol, rtol * 1e-3); }

/* Figures show nominal dynamics only; a failed integration here is a bug, not a result. */
static void advance(sg_th_session *g, double *y, double t1) {
    SG_CHECK(sg_th_session_to(g, y, t1) == 0, "figure integration failed before t = %g", t1);
}

/* ||[F, W_p]||_F / (||F||_F ||W_p||_F) with F = W X W^T and the predictor in force. */
static double comm_rel(sg_th_flow *f, const double *y) {
    int n2 = f->p.n2;
    size_t q = (size_t)n2 * n2;
    double *F = calloc(4 * q, sizeof(double));
    SG_CHECK(F != NULL, "out of memory");
    double *Wp = F + q, *A = Wp + q, *B = A + q;
    sg_th_flow_F(f, y, F);
    sg_th_flow_predictor(f, y, Wp);
    sg_th_commutator(A, F, Wp, n2, B);
    double den = sg_th_frob(F, (int)q) * sg_th_frob(Wp, (int)q);
    double v = den > 0 ? sg_th_frob(A, (int)q) / den : NAN;
    free(F);
    return v;
}

/* ---- Fig. 3: phase portraits ----------------------------------------------------------------- */

static int fig3(fig_ctx *c, sg_err *err) {
    static const double etas[3] = {0.0, 0.01, 1.0};
    const double tau = 1.0, alpha_p = 1.0, sigma2 = 0.0, T = 30.0;
    const double pmin = -1.0, pmax = 1.5, smin = 0.0, smax = 2.0;
    static const double p0s[] = {-0.8, -0.3, 0.2, 0.7, 1.2};
    static const double s0s[] = {0.2, 0.9, 1.6};
    tab field = {0}, traj = {0}, pts = {0};
    for (int e = 0; e < 3; e++) {
        sg_th_mode_params mp = {
            .alpha_p = alpha_p, .eta = etas[e], .sigma2 = sigma2, .tau_mode = SG_TH_TAU_FIXED};
        /* Direction field, arrows of equal length in plot units. */
        for (int i = 0; i <= 20; i++)
            for (int j = 1; j <= 16; j++) {
                double p = pmin + (pmax - pmin) * i / 20.0, s = smin + (smax - smin) * j / 16.0;
                double y[3] = {p, s, tau}, d[3];
                sg_th_mode_rhs(&mp, 0, y, d);
                double u = d[0] / (pmax - pmin), v = d[1] / (smax - smin), n = sqrt(u * u + v * v);
                if (!(n > 0)) continue;
                sg_csv_row *r = tab_row(&field);
                num(r, etas[e]);
                num(r, p);
                num(r, s);
                num(r, 0.03 * (pmax - pmin) * u / n);
                num(r, 0.03 * (smax - smin) * v / n);
            }
        /* Trajectories. */
        int run = 0;
        for (size_t a = 0; a < sizeof p0s / sizeof p0s[0]; a++)
            for (size_t b = 0; b < sizeof s0s / sizeof s0s[0]; b++, run++) {
                double y[SG_TH_MODE_DIM] = {p0s[a], s0s[b], tau};
                sg_th_session g;
                sg_th_session_init(&g, SG_TH_MODE_DIM, fig_solver(1e-9), sg_th_mode_rhs, &mp);
                for (int k = 0; k <= 300; k++) {
                    double t = T * k / 300;
                    if (k) advance(&g, y, t);
                    sg_csv_row *r = tab_row(&traj);
                    num(r, etas[e]);
                    num(r, run);
                    num(r, t);
                    num(r, y[0]);
                    num(r, y[1]);
                }
                sg_th_session_free(&g);
            }
        /* Fixed points (closed form; eta = 0 has the lines s = 0 and p = tau/k instead). */
        double pm, pp;
        if (etas[e] == 0) continue;
        sg_csv_row *r = tab_row(&pts);
        num(r, etas[e]);
        num(r, 0.0);
        num(r, 0.0);
        num(r, 1);
        if (sg_th_pstar(tau, etas[e], sigma2, &pm, &pp) == 2) {
            r = tab_row(&pts);
            num(r, etas[e]);
            num(r, pm);
            num(r, pm * pm / alpha_p);
            num(r, 0);
            r = tab_row(&pts);
            num(r, etas[e]);
            num(r, pp);
            num(r, pp * pp / alpha_p);
            num(r, 1);
        }
    }
    const char *dir = c->dir;
    static const char *const hf[] = {"eta", "p", "s", "dp", "ds"};
    static const char *const ht[] = {"eta", "run", "t", "p", "s"};
    static const char *const hp[] = {"eta", "p", "s", "stable"};
    int wrc = 0;
    tab_write(&wrc, &field, dir, "fig3_field.csv", 5, hf, err);
    tab_write(&wrc, &traj, dir, "fig3_trajectories.csv", 5, ht, err);
    tab_write(&wrc, &pts, dir, "fig3_fixed_points.csv", 4, hp, err);
    if (wrc) return -1;
    char params[400];
    snprintf(params, sizeof params,
             "tau=%g alpha_p=%g sigma2=%g eta in {0, 0.01, 1}; eta_crit=%.4g; trajectories T=%g "
             "from p0 in {-0.8,-0.3,0.2,0.7,1.2} x s0 in {0.2,0.9,1.6}",
             tau, alpha_p, sigma2, sg_th_eta_crit(tau, sigma2), T);
    sg_sbuf b = {0};
    sb_preamble(&b, dir, "fig3_phase_portraits", 1650, 660);
    sb_multiplot(&b, 1, 3, "Fig. 3: phase portraits of (p, s)", params);
    sg_sbuf_printf(&b,
                   "set xrange [%g:%g]\nset yrange [%g:%g]\nset xlabel 'p (eigenvalue of W_p)'\n"
                   "set ylabel 's (eigenvalue of F)'\nset key below\n",
                   pmin, pmax, smin, smax);
    for (int e = 0; e < 3; e++) {
        double E = etas[e];
        sg_sbuf_printf(&b, "unset arrow\n");
        if (E == 0) {
            sg_sbuf_printf(&b, "set arrow from %g,%g to %g,%g nohead lw 2 lc rgb '#2ca02c' dt 3\n",
                           tau / (1 + sigma2), smin, tau / (1 + sigma2), smax);
            sg_sbuf_printf(&b, "set arrow from %g,%g to %g,%g nohead lw 4 lc rgb '#2ca02c' dt 3\n",
                           pmin, smin, pmax, smin);
        }
        const char *note = "";
        if (E == 0)
            note = " (fixed lines: s = 0 and p = tau/(1+sigma2))";
        else if (E > sg_th_eta_crit(tau, sigma2))
            note = " > eta_crit: every start collapses";
        sg_sbuf_printf(&b, "set title 'eta = %g%s'\n", E, note);
        sg_sbuf_printf(
            &b,
            "plot 'fig3_field.csv' skip 1 using 2:($1==%g?$3:1/0):4:5 with vectors "
            "head size 0.012,20 lc rgb '#aaaaaa' notitle, \\\n"
            "  for [r=0:14] 'fig3_trajectories.csv' skip 1 using 4:(($1==%g && $2==r)?$5:1/0) "
            "with lines lw 1.5 lc rgb '#1f77b4' notitle, \\\n"
            "  x**2/%g with lines lw 2 dt 2 lc rgb '#d62728' title 'invariant parabola s = "
            "p^2/alpha_p', \\\n"
            "  'fig3_fixed_points.csv' skip 1 using 2:(($1==%g && $4==1)?$3:1/0) with points "
            "pt 7 ps 1.6 lc rgb 'black' title 'stable fixed point', \\\n"
            "  'fig3_fixed_points.csv' skip 1 using 2:(($1==%g && $4==0)?$3:1/0) with points "
            "pt 6 ps 1.6 lw 2 lc rgb 'black' title 'unstable fixed point'\n",
            E, E, alpha_p, E, E);
    }
    sg_sbuf_printf(&b, "unset multiplot\n");
    return finish_figure(c, "fig3_phase_portraits", &b,
                         "fig3_field.csv fig3_trajectories.csv fig3_fixed_points.csv",
                         "phase portraits of the per-mode system with the invariant parabola "
                         "s = p^2/alpha_p and the fixed points 0, p*_-, p*_+",
                         params, err);
}

/* ---- Fig. 4: 1-D fixed-point diagrams ---------------------------------------------------------
 */

static int fig4(fig_ctx *c, sg_err *err) {
    static const double etas[] = {0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3};
    static const double taus[] = {0.5, 0.75, 1.0};
    const double tau = 1.0, alpha_p = 1.0, sigma2 = 0.0;
    const int ne = (int)(sizeof etas / sizeof etas[0]);
    tab flow = {0}, pts = {0}, bif = {0};
    for (int e = 0; e < ne; e++) {
        sg_th_mode_params mp = {
            .alpha_p = alpha_p, .eta = etas[e], .sigma2 = sigma2, .tau_mode = SG_TH_TAU_FIXED};
        for (int i = 0; i <= 240; i++) {
            double p = -0.1 + 1.2 * i / 240.0;
            sg_csv_row *r = tab_row(&flow);
            num(r, etas[e]);
            num(r, p);
            num(r, sg_th_mode_parabola_dpdt(&mp, p, tau));
        }
        /* Fixed points with their stability read off the simulator's slope: 1 stable,
         * 0 unstable, 0.5 half-stable (double root: eta = 0 at p = 0, eta = eta_crit). */
        double cand[3] = {0.0, NAN, NAN}, pm, pp;
        if (sg_th_pstar(tau, etas[e], sigma2, &pm, &pp) == 2) {
            cand[1] = pm;
            cand[2] = pp;
        }
        for (int j = 0; j < 3; j++) {
            if (isnan(cand[j])) continue;
            const double h = 1e-6;
            double slope = (sg_th_mode_parabola_dpdt(&mp, cand[j] + h, tau) -
                            sg_th_mode_parabola_dpdt(&mp, cand[j] - h, tau)) /
                           (2 * h);
            double kind = fabs(slope) < 1e-8 ? 0.5 : (slope < 0 ? 1.0 : 0.0);
            sg_csv_row *r = tab_row(&pts);
            num(r, etas[e]);
            num(r, cand[j]);
            num(r, kind);
        }
    }
    for (size_t t = 0; t < sizeof taus / sizeof taus[0]; t++) {
        double ec = sg_th_eta_crit(taus[t], sigma2);
        for (int i = 0; i <= 200; i++) {
            double eta = ec * i / 200.0, pm, pp;
            if (sg_th_pstar(taus[t], eta, sigma2, &pm, &pp) != 2) continue;
            sg_csv_row *r = tab_row(&bif);
            num(r, taus[t]);
            num(r, eta);
            num(r, pm);
            num(r, pp);
        }
    }
    static const char *const hf[] = {"eta", "p", "dpdt"};
    static const char *const hp[] = {"eta", "p", "stability"};
    static const char *const hb[] = {"tau", "eta", "p_minus", "p_plus"};
    int wrc = 0;
    tab_write(&wrc, &flow, c->dir, "fig4_parabola_flow.csv", 3, hf, err);
    tab_write(&wrc, &pts, c->dir, "fig4_fixed_points.csv", 3, hp, err);
    tab_write(&wrc, &bif, c->dir, "fig4_branches.csv", 4, hb, err);
    if (wrc) return -1;
    char params[400];
    snprintf(params, sizeof params,
             "left: tau=%g alpha_p=%g sigma2=%g, eta in {0,0.05,...,0.3}, eta_crit=%.4g; right: "
             "p*_{+-} for tau in {0.5,0.75,1}, sigma2=%g",
             tau, alpha_p, sigma2, sg_th_eta_crit(tau, sigma2), sigma2);
    sg_sbuf b = {0};
    sb_preamble(&b, c->dir, "fig4_fixed_points", 1400, 560);
    sb_multiplot(&b, 1, 2, "Fig. 4: 1-D dynamics on the invariant parabola", params);
    sg_sbuf_printf(
        &b, "set title 'dp/dt = p^2 (tau - (1+sigma2) p) - eta p on s = p^2/alpha_p "
            "(filled: stable, open: unstable, half: double root)'\n"
            "set xlabel 'p'\nset ylabel 'dp/dt'\nset xrange [-0.1:1.1]\nset yrange [-0.12:0.2]\n"
            "set key top right box opaque\nset xzeroaxis lt -1\n");
    sg_sbuf_printf(&b, "plot for [i=0:%d] 'fig4_parabola_flow.csv' skip 1 using 2:($1==word('",
                   ne - 1);
    for (int e = 0; e < ne; e++) sg_sbuf_printf(&b, "%s%g", e ? " " : "", etas[e]);
    sg_sbuf_printf(&b, "', i+1)+0 ? $3 : 1/0) with lines lw 2 lc i+1 title sprintf('eta = %%s', "
                       "word('");
    for (int e = 0; e < ne; e++) sg_sbuf_printf(&b, "%s%g", e ? " " : "", etas[e]);
    sg_sbuf_printf(
        &b, "', i+1)), \\\n"
            "  'fig4_fixed_points.csv' skip 1 using 2:($3==1?0:1/0) with points pt 7 ps 1.5 "
            "lc rgb 'black' notitle, \\\n"
            "  'fig4_fixed_points.csv' skip 1 using 2:($3==0?0:1/0) with points pt 6 ps 1.5 "
            "lw 2 lc rgb 'black' notitle, \\\n"
            "  'fig4_fixed_points.csv' skip 1 using 2:($3==0.5?0:1/0) with points pt 4 ps 1.5 "
            "lw 2 lc rgb 'black' notitle\n");
    sg_sbuf_printf(&b,
                   "set title 'branches p*_+ (solid) and p*_- (dashed, the collapse basin edge) "
                   "against eta'\nset xlabel 'eta'\nset ylabel 'p*'\nset autoscale\n"
                   "set yrange [0:1.05]\nset key top right\n");
    sg_sbuf_printf(&b,
                   "plot for [i=1:3] 'fig4_branches.csv' skip 1 using 2:($1==word('0.5 0.75 1', "
                   "i)+0 ? $4 : 1/0) with lines lw 2 lc i title sprintf('tau = %%s: p*_+', "
                   "word('0.5 0.75 1', i)), \\\n"
                   "  for [i=1:3] 'fig4_branches.csv' skip 1 using 2:($1==word('0.5 0.75 1', "
                   "i)+0 ? $3 : 1/0) with lines lw 2 dt 2 lc i title sprintf('tau = %%s: p*_-', "
                   "word('0.5 0.75 1', i))\n");
    sg_sbuf_printf(&b, "unset multiplot\n");
    return finish_figure(c, "fig4_fixed_points", &b,
                         "fig4_parabola_flow.csv fig4_fixed_points.csv fig4_branches.csv",
                         "1-D fixed-point diagrams on the invariant parabola and the branches "
                         "p*_{+-}(eta, tau): p*_- grows with eta and shrinks with tau",
                         params, err);
}

/* ---- Fig. 5: trajectories varying eta and beta (EMA) ----------------------------------------- */

static int fig5(fig_ctx *c, sg_err *err) {
    static const double etas[4] = {0.0, 0.04, 0.08, 0.12};
    static const double betas[4] = {0.01, 0.04, 0.1, 0.4};
    const double beta_row1 = 0.04, eta_row2 = 0.1, alpha = 0.01;
    const double alpha_p = 1.0, sigma2 = 0.1, p0 = 0.3, s0 = 0.3, T = 200.0;
    tab tr = {0};
    for (int series = 1; series <= 2; series++)
        for (int i = 0; i < 4; i++) {
            double eta = series == 1 ? etas[i] : eta_row2;
            double beta = series == 1 ? beta_row1 : betas[i];
            sg_th_mode_params mp = {.alpha_p = alpha_p,
                                    .eta = eta,
                                    .sigma2 = sigma2,
                                    .beta = beta,
                                    .tau_mode = SG_TH_TAU_EMA};
            double y[SG_TH_MODE_DIM] = {p0, s0, 0.0};
            sg_th_session g;
            sg_th_session_init(&g, SG_TH_MODE_DIM, fig_solver(1e-9), sg_th_mode_rhs, &mp);
            for (int k = 0; k <= 400; k++) {
                double t = T * k / 400;
                if (k) advance(&g, y, t);
                sg_csv_row *r = tab_row(&tr);
                num(r, series);
                num(r, i);
                num(r, eta);
                num(r, beta);
                num(r, t);
                num(r, t / alpha);
                num(r, y[0]);
                num(r, y[1]);
                num(r, y[2]);
            }
            sg_th_session_free(&g);
        }
    static const char *const h[] = {"series",    "curve", "eta", "beta", "t",
                                    "iteration", "p",     "s",   "tau"};
    int wrc = 0;
    tab_write(&wrc, &tr, c->dir, "fig5_trajectories.csv", 9, h, err);
    if (wrc) return -1;
    char params[400];
    snprintf(params, sizeof params,
             "alpha_p=%g sigma2=%g p0=%g s0=%g tau0=0 (W_a(0)=0); iteration = t/alpha, alpha=%g; "
             "top: beta=%g (alpha*beta=%g), eta in {0,0.04,0.08,0.12}; bottom: eta=%g, beta in "
             "{0.01,0.04,0.1,0.4}",
             alpha_p, sigma2, p0, s0, alpha, beta_row1, alpha * beta_row1, eta_row2);
    sg_sbuf b = {0};
    sb_preamble(&b, c->dir, "fig5_ema_trajectories", 1650, 900);
    sb_multiplot(&b, 2, 3, "Fig. 5: per-mode dynamics with an EMA target", params);
    sg_sbuf_printf(&b, "set xlabel 'iteration'\nset key top right box opaque\n");
    static const char *ylab[3] = {"p (predictor eigenvalue)", "s (eigenvalue of F)",
                                  "tau (target / online)"};
    static const int col[3] = {7, 8, 9};
    for (int series = 1; series <= 2; series++)
        for (int v = 0; v < 3; v++) {
            sg_sbuf_printf(&b, "set ylabel '%s'\nset title '%s'\n", ylab[v],
                           series == 1 ? "varying eta (beta = 0.04)" : "varying beta (eta = 0.1)");
            sg_sbuf_printf(&b, v == 2 ? "set yrange [0:1.5]\n" : "set autoscale y\n");
            sg_sbuf_printf(
                &b,
                "plot for [i=0:3] 'fig5_trajectories.csv' skip 1 using 6:(($1==%d && $2==i) ? "
                "$%d : 1/0) with lines lw 2 lc i+1 title sprintf('%s = %%s', word('%s', i+1))\n",
                series, col[v], series == 1 ? "eta" : "beta",
                series == 1 ? "0 0.04 0.08 0.12" : "0.01 0.04 0.1 0.4");
        }
    sg_sbuf_printf(&b, "unset multiplot\n");
    return finish_figure(c, "fig5_ema_trajectories", &b, "fig5_trajectories.csv",
                         "trajectories of p, s and tau varying the weight decay eta and the EMA "
                         "rate beta: larger eta or smaller beta collapses",
                         params, err);
}

/* ---- Figs. 7 and 8: the matrix flow, commutator and spectra ------------------------------------
 */

static int fig7_8(fig_ctx *c, sg_err *err) {
    enum { N1 = 16, N2 = 8, RUNS = 10 };
    static const double etas[3] = {0.0, 0.01, 0.1};
    const double sigma = 0.03, alpha_p = 1.0, beta = 0.4, T = 100.0;
    const int nout = 200;
    sg_th_setup su = {.model = {.n1 = N1,
                                .n2 = N2,
                                .noise = sigma * sigma,
                                .alpha_p = alpha_p,
                                .beta = beta,
                                .target = SG_TH_TARGET_EMA},
                      .start = {.w_std = 0.3, .wp_std = 0.3, .wa_zero = 1}};
    tab comm = {0}, spec = {0};
    double *spec_s = calloc((size_t)(nout + 1) * N2 * 2, sizeof(double));
    SG_CHECK(spec_s != NULL, "out of memory");
    double *spec_p = spec_s + (size_t)(nout + 1) * N2;
    for (int e = 0; e < 3; e++)
        for (int run = 0; run < RUNS; run++) {
            su.model.eta = etas[e];
            su.start.seed = 700 + (uint64_t)run;
            sg_th_sim sim;
            sg_th_sim_init(&sim, &su, SG_TH_PERTURB_NONE, fig_solver(1e-8));
            sg_th_flow *f = &sim.flow;
            double *y = sim.y;
            for (int k = 0; k <= nout; k++) {
                double t = T * k / nout;
                if (k) advance(&sim.run, y, t);
                const double *Wp = sg_th_flow_Wp(f, y);
                double asym = 0, nw = sg_th_frob(Wp, N2 * N2);
                for (int i = 0; i < N2; i++)
                    for (int j = 0; j < N2; j++) {
                        double d = Wp[i * N2 + j] - Wp[j * N2 + i];
                        asym += d * d;
                    }
                sg_csv_row *r = tab_row(&comm);
                num(r, etas[e]);
                num(r, run);
                num(r, t);
                num(r, comm_rel(f, y));
                num(r, nw > 0 ? sqrt(asym) / nw : NAN);
                num(r, sg_th_flow_tau(f, y));
                if (run == 0 && e == 1) {
                    /* Spectra of one run: F = U diag(s) U^T and p_j = u_j^T W_p u_j, kept
                     * until the run ends so each j's rows are contiguous (gnuplot lines). */
                    double F[N2 * N2], U[N2 * N2], wk[N2 * N2], Wu[N2];
                    double *w = spec_s + (size_t)k * N2;
                    sg_th_flow_F(f, y, F);
                    sg_th_sym_eig(N2, F, w, U, wk);
                    for (int j = 0; j < N2; j++) {
                        double pj = 0;
                        for (int a = 0; a < N2; a++) {
                            Wu[a] = 0;
                            for (int bb = 0; bb < N2; bb++)
                                Wu[a] += Wp[a * N2 + bb] * U[bb * N2 + j];
                        }
                        for (int a = 0; a < N2; a++) pj += U[a * N2 + j] * Wu[a];
                        spec_p[(size_t)k * N2 + j] = pj;
                    }
                }
            }
            if (run == 0 && e == 1)
                for (int j = 0; j < N2; j++)
                    for (int k = 0; k <= nout; k++) {
                        sg_csv_row *q = tab_row(&spec);
                        num(q, T * k / nout);
                        num(q, j);
                        num(q, spec_s[(size_t)k * N2 + j]);
                        num(q, spec_p[(size_t)k * N2 + j]);
                    }
            sg_th_sim_free(&sim);
        }
    free(spec_s);
    static const char *const hc[] = {"eta", "run", "t", "comm_rel", "asym_rel", "tau_eff"};
    static const char *const hs[] = {"t", "j", "s_j", "p_j"};
    int wrc = 0;
    tab_write(&wrc, &comm, c->dir, "fig7_commutator.csv", 6, hc, err);
    tab_write(&wrc, &spec, c->dir, "fig8_spectra.csv", 4, hs, err);
    if (wrc) return -1;
    char params[400];
    snprintf(params, sizeof params,
             "n1=%d n2=%d X=I X'=sigma^2 I sigma=%g alpha_p=%g BYOL EMA beta=%g W_a(0)=0, free "
             "W_p; W, W_p ~ N(0,0.3^2); %d runs per eta; eta in {0,0.01,0.1}; T=%g",
             N1, N2, sigma, alpha_p, beta, RUNS, T);
    sg_sbuf b = {0};
    sb_preamble(&b, c->dir, "fig7_commutator", 1500, 560);
    sb_multiplot(&b, 1, 2, "Fig. 7: eigenspace alignment in the matrix flow", params);
    sg_sbuf_printf(&b, "set logscale y\nset format y '1e%%L'\nset xlabel 't'\nset key bottom left "
                       "box opaque\n");
    sg_sbuf_printf(&b, "set title '||[F, W_p]||_F / (||F||_F ||W_p||_F)'\nset ylabel 'relative "
                       "commutator'\n");
    sg_sbuf_printf(
        &b,
        "plot for [e=1:3] for [r=0:%d] 'fig7_commutator.csv' skip 1 using 3:(($1==word('0 "
        "0.01 0.1', e)+0 && $2==r) ? $4 : 1/0) with lines lc e title (r==0 ? "
        "sprintf('eta = %%s', word('0 0.01 0.1', e)) : '')\n",
        RUNS - 1);
    sg_sbuf_printf(&b, "set title 'asymmetry ||W_p - W_p^T||_F / ||W_p||_F'\nset ylabel 'relative "
                       "asymmetry'\n");
    sg_sbuf_printf(
        &b,
        "plot for [e=1:3] for [r=0:%d] 'fig7_commutator.csv' skip 1 using 3:(($1==word('0 "
        "0.01 0.1', e)+0 && $2==r) ? $5 : 1/0) with lines lc e title (r==0 ? "
        "sprintf('eta = %%s', word('0 0.01 0.1', e)) : '')\n",
        RUNS - 1);
    sg_sbuf_printf(&b, "unset multiplot\n");
    if (finish_figure(c, "fig7_commutator", &b, "fig7_commutator.csv",
                      "||[F, W_p]|| over time in the matrix flow (10 runs per eta): weight decay "
                      "drives the eigenspace alignment and the symmetry of W_p",
                      params, err))
        return -1;

    char params8[520];
    snprintf(params8, sizeof params8, "run 0 of Fig. 7 at eta=0.01 (%s)", params);
    sb_preamble(&b, c->dir, "fig8_spectra", 1650, 560);
    sg_sbuf_printf(
        &b,
        "set multiplot layout 1,3 title 'Fig. 8: spectra in the matrix flow; n1=%d n2=%d "
        "sigma=%g alpha_p=%g beta=%g eta=0.01 T=%g'\n",
        N1, N2, sigma, alpha_p, beta, T);
    sg_sbuf_printf(&b, "set xlabel 't'\nset key off\n");
    sg_sbuf_printf(&b,
                   "set title 'eigenvalues s_j of F = W W^T'\nset ylabel 's_j'\n"
                   "plot for [j=0:%d] 'fig8_spectra.csv' skip 1 using 1:($2==j ? $3 : 1/0) with "
                   "lines lw 2 lc j+1\n",
                   N2 - 1);
    sg_sbuf_printf(&b,
                   "set title 'p_j = u_j^T W_p u_j along the eigenvectors u_j of F'\nset ylabel "
                   "'p_j'\nplot for [j=0:%d] 'fig8_spectra.csv' skip 1 using 1:($2==j ? $4 : 1/0) "
                   "with lines lw 2 lc j+1\n",
                   N2 - 1);
    sg_sbuf_printf(&b,
                   "set title '(p_j, s_j) paths and the parabola s = p^2/alpha_p'\nset xlabel "
                   "'p_j'\nset ylabel 's_j'\nset key top left\n"
                   "plot for [j=0:%d] 'fig8_spectra.csv' skip 1 using ($2==j ? $4 : 1/0):3 with "
                   "lines lw 2 lc j+1 notitle, x**2/%g with lines dt 2 lw 2 lc rgb 'black' title "
                   "'s = p^2/alpha_p'\n",
                   N2 - 1, alpha_p);
    sg_sbuf_printf(&b, "unset multiplot\n");
    return finish_figure(c, "fig8_spectra", &b, "fig8_spectra.csv",
                         "eigenvalues of F and of W_p along F's eigenvectors over time; the "
                         "pairs approach the invariant parabola",
                         params8, err);
}

/* ---- Fig. 9: variants ---------------------------------------------------------------------- */

static int fig9(fig_ctx *c, sg_err *err) {
    enum { N1 = 16, N2 = 8 };
    const double sigma2 = 0.1, eta = 0.05, beta = 0.4, alpha_p = 1.0, T = 60.0;
    const int nout = 240;
    static const struct {
        const char *name;
        sg_th_target target;
        int no_stop_grad;
        sg_th_pred pred;
    } v[] = {
        {"SimSiam", SG_TH_TARGET_ONLINE, 0, SG_TH_PRED_LEARNED},
        {"BYOL (EMA)", SG_TH_TARGET_EMA, 0, SG_TH_PRED_LEARNED},
        {"no stop-gradient", SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED},
        {"no predictor (W_p = I)", SG_TH_TARGET_ONLINE, 0, SG_TH_PRED_IDENTITY},
        {"symmetric W_p", SG_TH_TARGET_ONLINE, 0, SG_TH_PRED_SYMMETRIC},
        {"DirectPred", SG_TH_TARGET_ONLINE, 0, SG_TH_PRED_DIRECTPRED},
    };
    const int nv = (int)(sizeof v / sizeof v[0]);
    /* The same W(0) for every variant. */
    sg_th_setup su = {
        .model =
            {.n1 = N1, .n2 = N2, .noise = sigma2, .alpha_p = alpha_p, .eta = eta, .beta = beta},
        .start = {.w_std = 0.3, .wp_std = 0.3, .seed = 900}};
    tab tr = {0};
    for (int i = 0; i < nv; i++) {
        su.model.target = v[i].target;
        su.model.no_stop_grad = v[i].no_stop_grad;
        su.model.pred = v[i].pred;
        sg_th_sim sim;
        sg_th_sim_init(&sim, &su, SG_TH_PERTURB_NONE, fig_solver(1e-8));
        for (int k = 0; k <= nout; k++) {
            double t = T * k / nout;
            if (k) advance(&sim.run, sim.y, t);
            sg_csv_row *r = tab_row(&tr);
            num(r, i);
            sg_csv_row_str(r, v[i].name);
            num(r, t);
            num(r, sg_th_frob(sim.y, N1 * N2));
            num(r, v[i].pred == SG_TH_PRED_IDENTITY ? NAN : comm_rel(&sim.flow, sim.y));
        }
        sg_th_sim_free(&sim);
    }
    static const char *const h[] = {"variant_id", "variant", "t", "norm_W", "comm_rel"};
    int wrc = 0;
    tab_write(&wrc, &tr, c->dir, "fig9_variants.csv", 5, h, err);
    if (wrc) return -1;
    char params[400];
    snprintf(params, sizeof params,
             "n1=%d n2=%d X=I X'=sigma2 I sigma2=%g eta=%g alpha_p=%g beta=%g (BYOL) T=%g; same "
             "W(0) ~ N(0,0.3^2), W_p(0) ~ N(0,0.3^2) (symmetrised / I / DirectPred as the variant "
             "needs)",
             N1, N2, sigma2, eta, alpha_p, beta, T);
    sg_sbuf b = {0};
    sb_preamble(&b, c->dir, "fig9_variants", 1500, 560);
    sb_multiplot(&b, 1, 2, "Fig. 9: variants of the linear model", params);
    sg_sbuf_printf(&b, "set logscale y\nset format y '1e%%L'\nset xlabel 't'\nset key bottom left "
                       "box opaque\n");
    sg_sbuf_printf(&b,
                   "set title '||W||_F: no stop-gradient and no predictor collapse'\nset ylabel "
                   "'||W||_F'\n");
    sg_sbuf_printf(&b, "names = \"");
    for (int i = 0; i < nv; i++) sg_sbuf_printf(&b, "%s'%s'", i ? " " : "", v[i].name);
    sg_sbuf_printf(&b, "\"\n");
    /* word() splits on spaces but honours quotes. */
    sg_sbuf_printf(&b,
                   "plot for [i=0:%d] 'fig9_variants.csv' skip 1 using 3:($1==i ? $4 : 1/0) with "
                   "lines lw 2 lc i+1 title word(names, i+1)\n",
                   nv - 1);
    sg_sbuf_printf(&b, "set title '||[F, W_p]||_F / (||F||_F ||W_p||_F) (below 1e-15: rounding)'\n"
                       "set ylabel 'relative commutator'\nset yrange [1e-18:*]\n");
    sg_sbuf_printf(&b,
                   "plot for [i=0:%d] 'fig9_variants.csv' skip 1 using 3:($1==i ? $5 : 1/0) with "
                   "lines lw 2 lc i+1 title word(names, i+1)\n",
                   nv - 1);
    sg_sbuf_printf(&b, "unset multiplot\n");
    return finish_figure(c, "fig9_variants", &b, "fig9_variants.csv",
                         "||W|| and ||[F, W_p]|| over time for SimSiam, BYOL, no stop-gradient, "
                         "no predictor, symmetric W_p and DirectPred from the same start",
                         params, err);
}

/* ---- SGD against the flow ---------------------------------------------------------------- */

/* One row of sgd_vs_flow.csv: series, series_id, t, ||W||_F, ||W_p||_F, ||W_a||_F. */
static void norms_row(tab *tr, const char *series, double id, double t, const sg_th_flow *f,
                      const double *y) {
    double n[3];
    sg_th_flow_norms(f, y, n);
    sg_csv_row *r = tab_row(tr);
    sg_csv_row_str(r, series);
    num(r, id);
    num(r, t);
    for (int j = 0; j < 3; j++) num(r, n[j]);
}

static int fig_sgd(fig_ctx *c, sg_err *err) {
    const sg_th_setup *su = &sg_th_setup_sgd_vs_flow;
    const sg_th_model *m = &su->model;
    const double T = 30.0;
    static const struct {
        double lr;
        int batch;
    } runs[] = {{0.02, 32}, {0.02, 4}, {0.005, 32}};
    tab tr = {0};
    /* The flow. */
    sg_th_sim flow;
    sg_th_sim_init(&flow, su, SG_TH_PERTURB_NONE, fig_solver(1e-9));
    size_t bytes = sizeof(double) * (size_t)flow.flow.dim;
    double *y0 = malloc(2 * bytes);
    SG_CHECK(y0 != NULL, "out of memory");
    double *y = y0 + flow.flow.dim;
    memcpy(y0, flow.y, bytes);
    for (int k = 0; k <= 300; k++) {
        double t = T * k / 300;
        if (k) advance(&flow.run, flow.y, t);
        norms_row(&tr, "flow", 0, t, &flow.flow, flow.y);
    }
    /* SGD from the same start, t = step * lr. */
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        sg_th_setup run = *su;
        run.sgd.lr = runs[i].lr;
        run.sgd.batch = runs[i].batch;
        sg_th_sgd s;
        sg_th_setup_sgd(&run, SG_TH_PERTURB_NONE, &s);
        memcpy(y, y0, bytes);
        long steps = (long)floor(T / runs[i].lr + 0.5), every = steps / 300 > 0 ? steps / 300 : 1;
        char label[64];
        snprintf(label, sizeof label, "SGD lr=%g B=%d", runs[i].lr, runs[i].batch);
        for (long k = 0; k <= steps; k++) {
            if (k % every == 0)
                norms_row(&tr, label, (double)(i + 1), (double)k * runs[i].lr, &flow.flow, y);
            if (k < steps) sg_th_sgd_step(&s, y);
        }
        sg_th_sgd_free(&s);
    }
    free(y0);
    sg_th_sim_free(&flow);
    static const char *const h[] = {"series", "series_id", "t", "norm_W", "norm_Wp", "norm_Wa"};
    int wrc = 0;
    tab_write(&wrc, &tr, c->dir, "sgd_vs_flow.csv", 6, h, err);
    if (wrc) return -1;
    char params[400];
    snprintf(params, sizeof params,
             "n1=%d n2=%d X=I X'=sigma2 I sigma2=%g eta=%g alpha_p=%g BYOL EMA beta=%g free W_p; "
             "SGD t = step*lr, seed %" PRIu64 "; W, W_p ~ N(0,%g^2), W_a(0)=W(0); T=%g",
             m->n1, m->n2, m->noise, m->eta, m->alpha_p, m->beta, su->sgd.seed, su->start.w_std, T);
    sg_sbuf b = {0};
    sb_preamble(&b, c->dir, "sgd_vs_flow", 1500, 560);
    sb_multiplot(&b, 1, 2,
                 "Discrete SGD (sampled data and augmentation noise) against the gradient flow",
                 params);
    sg_sbuf_printf(&b, "set xlabel 't'\nset key bottom right box opaque\n");
    static const char *lab[2] = {"||W||_F", "||W_p||_F"};
    for (int k = 0; k < 2; k++) {
        sg_sbuf_printf(&b, "set title '%s'\nset ylabel '%s'\n", lab[k], lab[k]);
        sg_sbuf_printf(
            &b,
            "plot for [i=1:3] 'sgd_vs_flow.csv' skip 1 using 3:($2==i ? $%d : 1/0) with lines "
            "lw 1.5 lc i+1 title word('\"SGD lr=0.02 B=32\" \"SGD lr=0.02 B=4\" \"SGD "
            "lr=0.005 B=32\"', i), 'sgd_vs_flow.csv' skip 1 using 3:($2==0 ? $%d : 1/0) with "
            "lines lw 2.5 dt 2 lc rgb 'black' title 'gradient flow'\n",
            4 + k, 4 + k);
    }
    sg_sbuf_printf(&b, "unset multiplot\n");
    return finish_figure(c, "sgd_vs_flow", &b, "sgd_vs_flow.csv",
                         "discrete SGD with sampled data, sampled augmentation noise and finite "
                         "batches against the gradient flow's prediction",
                         params, err);
}

/* ---- driver ------------------------------------------------------------------------------- */

int sg_th_figures(const sg_th_figures_opts *o, sg_err *err) {
    if (sg_mkdirs(o->out_dir, err)) return -1;
    fig_ctx c = {.o = o};
    char *abs = realpath(o->out_dir, NULL);
    if (!abs) return sg_errf(err, "cannot resolve '%s': %s", o->out_dir, strerror(errno));
    int bad = strlen(abs) >= sizeof c.dir || strchr(abs, '\'') || strchr(abs, '\n');
    if (!bad) memcpy(c.dir, abs, strlen(abs) + 1);
    free(abs);
    if (bad)
        return sg_errf(err,
                       "output directory '%s': its absolute path must be shorter than 4096 "
                       "and contain no quote or newline (it goes into gnuplot scripts)",
                       o->out_dir);
    int rc = fig3(&c, err) || fig4(&c, err) || fig5(&c, err) || fig7_8(&c, err) || fig9(&c, err) ||
             fig_sgd(&c, err);
    static const char *const h[] = {"figure", "png", "data", "script", "caption", "parameters"};
    if (rc) {
        tab_free(&c.index);
        return -1;
    }
    int wrc = 0;
    tab_write(&wrc, &c.index, c.dir, "figures.csv", 6, h, err);
    return wrc;
}
