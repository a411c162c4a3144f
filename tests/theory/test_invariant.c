/* tests/theory/test_invariant.c: the invariants of the theory along simulated trajectories.
 * Per-mode: s(t) - p(t)^2/alpha_p = exp(-2 eta t) (s(0) - p(0)^2/alpha_p) for random parameters
 * and starts, fixed tau and EMA tau, with both integrators. Matrix: W_p^T W_p/alpha_p - W W^T
 * decays as exp(-2 eta t) for stop-gradient flows (SimSiam, BYOL) and does NOT for the flow
 * without stop-gradient (the extra target gradient breaks the balance). */
#include <math.h>

#include "core/base/err.h"
#include "core/theory/flow.h"
#include "core/theory/linalg.h"
#include "core/theory/modes.h"
#include "core/theory/ode.h"
#include "test_util.h"

/* Max over 20 outputs of ||D(t) - e^{-2 eta t} D(0)|| / ||D(0)||. */
static double matrix_residual(sg_th_flow *f, double *y, double T) {
    int n1 = f->p.n1, n2 = f->p.n2;
    double D0[64], A[64], B[64];
    SG_CHECK(n2 <= 8, "n2");
    sg_th_ode_ws ws;
    SG_CHECK(sg_th_ode_ws_init(&ws, f->dim) == 0, "oom");
    sg_th_solver s = sg_th_solver_dopri(1e-10, 1e-13);
    double h = 0, worst = 0, n0 = 0;
    for (int k = 0; k <= 20; k++) {
        double t = T * k / 20;
        if (k && sg_th_advance(&s, &ws, sg_th_flow_rhs, f, T * (k - 1) / 20, t, y, &h, NULL))
            worst = INFINITY;
        sg_th_mm_tn(A, sg_th_flow_Wp(f, y), sg_th_flow_Wp(f, y), n2, n2, n2);
        sg_th_mm_nt(B, y, y, n2, n1, n2);
        double e = exp(-2 * f->p.eta * t), acc = 0;
        for (int i = 0; i < n2 * n2; i++) {
            double d = A[i] / f->p.alpha_p - B[i];
            if (k == 0) D0[i] = d;
            acc += (d - e * D0[i]) * (d - e * D0[i]);
        }
        if (k == 0) n0 = sg_th_frob(D0, n2 * n2);
        worst = fmax(worst, sqrt(acc) / n0);
    }
    sg_th_ode_ws_free(&ws);
    return worst;
}

int main(void) {
    sg_rng rng;
    sg_rng_init(&rng, 2021, 5, 0, 0);
    sg_th_ode_ws ws;
    SG_CHECK(sg_th_ode_ws_init(&ws, 3) == 0, "oom");
    for (int trial = 0; trial < 24; trial++) {
        sg_th_mode_params mp = {
            .alpha_p = sg_rng_uniform_range(&rng, 0.3, 3.0),
            .eta = sg_rng_uniform_range(&rng, 0.0, 0.3),
            .sigma2 = sg_rng_uniform_range(&rng, 0.0, 0.5),
            .beta = sg_rng_uniform_range(&rng, 0.05, 2.0),
            .tau_mode = (trial % 2) ? SG_TH_TAU_EMA : SG_TH_TAU_FIXED,
        };
        /* EMA runs start with p > 0: with p < 0 a strong target drives the mode's w through
         * zero, where tau = w_a/w is singular (see modes.h). */
        double p0 = sg_rng_uniform_range(&rng, (trial % 2) ? 0.1 : -1.0, 1.5);
        double s0 = sg_rng_uniform_range(&rng, 0.01, 2.0);
        double tau0 = (trial % 2) ? sg_rng_uniform_range(&rng, 0.0, 1.0) : 1.0;
        double c = sg_th_invariant_c(mp.alpha_p, p0, s0);
        CHECK(c == s0 - p0 * p0 / mp.alpha_p, "invariant constant");
        for (int method = 0; method < 2; method++) {
            sg_th_solver s = method ? sg_th_solver_dopri(1e-11, 1e-14) : sg_th_solver_rk4(0.002);
            double y[3] = {p0, s0, tau0}, h = 0, worst = 0;
            for (int k = 1; k <= 20; k++) {
                double t = 0.5 * k;
                int rc = sg_th_advance(&s, &ws, sg_th_mode_rhs, &mp, 0.5 * (k - 1), t, y, &h, NULL);
                CHECK(rc == 0, "trial %d: integration failed", trial);
                double pred = sg_th_invariant_s(mp.alpha_p, mp.eta, c, y[0], t);
                worst = fmax(worst, fabs(y[1] - pred) / (fabs(s0) + p0 * p0 / mp.alpha_p));
            }
            /* RK4 with h = 0.002 is accurate to ~1e-10 here; DOPRI at rtol 1e-11 likewise. */
            CHECK(worst < 1e-8, "trial %d (%s, %s): invariant residual %.3e", trial,
                  method ? "dopri" : "rk4", (trial % 2) ? "ema" : "fixed tau", worst);
        }
    }
    sg_th_ode_ws_free(&ws);

    /* Matrix form, random X and X', free predictor. */
    enum { N1 = 7, N2 = 5 };
    double X[N1 * N1], Xp[N1 * N1];
    sg_th_random_spd(N1, 0.3, 9, 1, X);
    sg_th_random_spd(N1, 0.2, 9, 2, Xp);
    for (int i = 0; i < N1 * N1; i++) Xp[i] *= 0.2;
    static const struct {
        sg_th_target target;
        int stop_grad;
        int holds;
    } cases[] = {
        {SG_TH_TARGET_EMA, 1, 1}, {SG_TH_TARGET_ONLINE, 1, 1}, {SG_TH_TARGET_ONLINE, 0, 0}};
    for (int i = 0; i < 3; i++) {
        sg_th_flow_params fp = {.n1 = N1,
                                .n2 = N2,
                                .X = X,
                                .Xp = Xp,
                                .alpha_p = 1.7,
                                .eta = 0.08,
                                .beta = 0.5,
                                .target = cases[i].target,
                                .stop_grad = cases[i].stop_grad,
                                .pred = SG_TH_PRED_LEARNED};
        sg_th_flow f;
        sg_err err;
        CHECK(sg_th_flow_init(&f, &fp, &err) == 0, "flow init: %s", err.msg);
        double y[2 * N1 * N2 + N2 * N2];
        sg_th_flow_init_state(&f, y, 0.4, 0.5, 0, 77 + (uint64_t)i);
        double r = matrix_residual(&f, y, 10.0);
        if (cases[i].holds)
            CHECK(r < 1e-7, "case %d: matrix invariant residual %.3e", i, r);
        else
            CHECK(r > 1e-2, "case %d (no stop-grad): the invariant must break, residual %.3e", i,
                  r);
        sg_th_flow_free(&f);
    }
    return test_finish();
}
