/* tests/theory/test_integrators.c: RK4 and Dormand-Prince 5(4) against closed-form solutions:
 * accuracy, RK4's 4th order, DOPRI5's error control, and the failure exits (blow-up). */
#include <math.h>

#include "core/base/err.h"
#include "core/theory/modes.h"
#include "core/theory/ode.h"
#include "test_util.h"

/* Damped oscillator x'' = -w^2 x - g x' as (x, v): closed form for x(0) = 1, v(0) = 0. */
typedef struct {
    double w, g;
    long calls;
} osc;

static void osc_rhs(void *ctx, double t, const double *y, double *d) {
    (void)t;
    osc *o = ctx;
    o->calls++;
    d[0] = y[1];
    d[1] = -o->w * o->w * y[0] - o->g * y[1];
}

static void osc_exact(const osc *o, double t, double *x, double *v) {
    double a = 0.5 * o->g, wd = sqrt(o->w * o->w - a * a);
    double e = exp(-a * t), c = cos(wd * t), s = sin(wd * t);
    *x = e * (c + a / wd * s);
    *v = -e * (o->w * o->w / wd) * s;
}

/* Logistic y' = y (1 - y): y(t) = 1 / (1 + (1/y0 - 1) e^{-t}). */
static void logistic(void *ctx, double t, const double *y, double *d) {
    (void)ctx;
    (void)t;
    d[0] = y[0] * (1 - y[0]);
}

/* y' = y^2 blows up at t = 1/y0. */
static void square(void *ctx, double t, const double *y, double *d) {
    (void)ctx;
    (void)t;
    d[0] = y[0] * y[0];
}

static double rk4_error(osc *o, double h, double T) {
    sg_th_ode_ws ws;
    SG_CHECK(sg_th_ode_ws_init(&ws, 2) == 0, "oom");
    sg_th_solver s = sg_th_solver_rk4(h);
    double y[2] = {1, 0}, hs = 0, x, v;
    int rc = sg_th_advance(&s, &ws, osc_rhs, o, 0, T, y, &hs, NULL);
    sg_th_ode_ws_free(&ws);
    osc_exact(o, T, &x, &v);
    return rc ? INFINITY : fmax(fabs(y[0] - x), fabs(y[1] - v));
}

int main(void) {
    osc o = {.w = 2.0, .g = 0.3};
    const double T = 10.0;

    /* RK4: small error, and 4th order: halving h divides the error by ~16. */
    double e1 = rk4_error(&o, 0.02, T), e2 = rk4_error(&o, 0.01, T), e3 = rk4_error(&o, 0.005, T);
    CHECK(e1 < 1e-6, "rk4 h=0.02 error %.3e", e1);
    CHECK(e2 / e1 < 1.0 / 12 && e2 / e1 > 1.0 / 20, "rk4 order: ratio %.4f (want ~1/16)", e2 / e1);
    CHECK(e3 / e2 < 1.0 / 12 && e3 / e2 > 1.0 / 20, "rk4 order: ratio %.4f (want ~1/16)", e3 / e2);

    /* RK4 hits the end point exactly even when h does not divide the interval. */
    {
        sg_th_ode_ws ws;
        SG_CHECK(sg_th_ode_ws_init(&ws, 2) == 0, "oom");
        sg_th_solver s = sg_th_solver_rk4(0.03);
        sg_th_ode_stats st = {0};
        double y[2] = {1, 0}, hs = 0, x, v;
        CHECK(sg_th_advance(&s, &ws, osc_rhs, &o, 0, 1.0, y, &hs, &st) == 0, "rk4 advance");
        osc_exact(&o, 1.0, &x, &v);
        CHECK(fabs(y[0] - x) < 1e-6, "rk4 end point: %.3e", fabs(y[0] - x)); /* ~h^4 */
        CHECK(st.steps == 34 && st.nfev == 4 * 34, "rk4 steps %ld nfev %ld", st.steps, st.nfev);
        sg_th_ode_ws_free(&ws);
    }

    /* DOPRI5: the global error follows the requested tolerance, over several output
     * intervals (the step carries over between calls). */
    double prev_err = INFINITY;
    long prev_calls = 0;
    for (int k = 0; k < 3; k++) {
        double rtol = k == 0 ? 1e-6 : (k == 1 ? 1e-9 : 1e-12);
        sg_th_ode_ws ws;
        SG_CHECK(sg_th_ode_ws_init(&ws, 2) == 0, "oom");
        sg_th_solver s = sg_th_solver_dopri(rtol, rtol * 1e-2);
        sg_th_ode_stats st = {0};
        double y[2] = {1, 0}, h = 0, worst = 0;
        o.calls = 0;
        for (int i = 1; i <= 20; i++) {
            double t = T * i / 20, x, v;
            CHECK(sg_th_advance(&s, &ws, osc_rhs, &o, T * (i - 1) / 20, t, y, &h, &st) == 0,
                  "dopri advance");
            osc_exact(&o, t, &x, &v);
            worst = fmax(worst, fmax(fabs(y[0] - x), fabs(y[1] - v)));
        }
        sg_th_ode_ws_free(&ws);
        CHECK(worst < 100 * rtol, "dopri rtol %.0e: error %.3e", rtol, worst);
        CHECK(worst < prev_err, "dopri: tighter rtol %.0e must reduce the error (%.3e vs %.3e)",
              rtol, worst, prev_err);
        CHECK(o.calls > prev_calls, "dopri: tighter rtol needs more evaluations");
        CHECK(st.nfev == o.calls, "dopri nfev %ld vs calls %ld", st.nfev, o.calls);
        prev_err = worst;
        prev_calls = o.calls;
    }

    /* DOPRI5 on a nonlinear problem with a closed form. */
    {
        sg_th_ode_ws ws;
        SG_CHECK(sg_th_ode_ws_init(&ws, 1) == 0, "oom");
        sg_th_solver s = sg_th_solver_dopri(1e-11, 1e-14);
        double y = 0.01, h = 0;
        CHECK(sg_th_advance(&s, &ws, logistic, NULL, 0, 12.0, &y, &h, NULL) == 0, "logistic");
        double want = 1.0 / (1.0 + (1.0 / 0.01 - 1.0) * exp(-12.0));
        CHECK(fabs(y - want) < 1e-9, "logistic: %.15f vs %.15f", y, want);
        sg_th_ode_ws_free(&ws);
    }

    /* RK4 and DOPRI5 agree on the per-mode system (EMA target, off the parabola). */
    {
        sg_th_mode_params mp = {
            .alpha_p = 1.0, .eta = 0.04, .sigma2 = 0.1, .beta = 0.4, .tau_mode = SG_TH_TAU_EMA};
        sg_th_ode_ws ws;
        SG_CHECK(sg_th_ode_ws_init(&ws, 3) == 0, "oom");
        double a[3] = {0.5, 0.5, 0.0}, b[3] = {0.5, 0.5, 0.0}, h = 0;
        sg_th_solver r = sg_th_solver_rk4(0.005), d = sg_th_solver_dopri(1e-11, 1e-14);
        CHECK(sg_th_advance(&r, &ws, sg_th_mode_rhs, &mp, 0, 30, a, &h, NULL) == 0, "rk4 modes");
        h = 0;
        CHECK(sg_th_advance(&d, &ws, sg_th_mode_rhs, &mp, 0, 30, b, &h, NULL) == 0, "dopri modes");
        for (int i = 0; i < 3; i++)
            CHECK(fabs(a[i] - b[i]) < 1e-9, "modes component %d: rk4 %.12f dopri %.12f", i, a[i],
                  b[i]);
        sg_th_ode_ws_free(&ws);
    }

    /* Failure exits: a finite-time blow-up is reported (-1), by both methods, promptly. */
    {
        sg_th_ode_ws ws;
        SG_CHECK(sg_th_ode_ws_init(&ws, 1) == 0, "oom");
        sg_th_solver d = sg_th_solver_dopri(1e-9, 1e-12), r = sg_th_solver_rk4(1e-3);
        sg_th_ode_stats st = {0};
        double y = 1.0, h = 0;
        CHECK(sg_th_advance(&d, &ws, square, NULL, 0, 2.0, &y, &h, &st) == -1, "dopri blow-up");
        CHECK(st.steps + st.rejected < 10000, "dopri blow-up took %ld steps", st.steps);
        y = 1.0;
        CHECK(sg_th_advance(&r, &ws, square, NULL, 0, 2.0, &y, &h, NULL) == -1, "rk4 blow-up");
        /* Budget: a tiny step budget ends a long integration. */
        d.max_steps = 3;
        y = 0.01;
        h = 0;
        CHECK(sg_th_advance(&d, &ws, logistic, NULL, 0, 100.0, &y, &h, NULL) == -1, "budget");
        /* An empty interval leaves y alone. */
        y = 0.5;
        CHECK(sg_th_advance(&r, &ws, logistic, NULL, 1.0, 1.0, &y, &h, NULL) == 0 && y == 0.5,
              "empty interval");
        sg_th_ode_ws_free(&ws);
    }
    return test_finish();
}
