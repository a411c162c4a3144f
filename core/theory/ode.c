/* core/theory/ode.c: RK4 and Dormand-Prince 5(4). */
#include "core/theory/ode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sg_th_ode_ws_init(sg_th_ode_ws *ws, int n) {
    ws->n = n;
    ws->mem = calloc((size_t)9 * (size_t)(n > 0 ? n : 1), sizeof(double));
    return ws->mem ? 0 : -1;
}

void sg_th_ode_ws_free(sg_th_ode_ws *ws) {
    free(ws->mem);
    ws->mem = NULL;
}

sg_th_solver sg_th_solver_dopri(double rtol, double atol) {
    sg_th_solver s = {.method = SG_TH_DOPRI5,
                      .h = 0,
                      .rtol = rtol,
                      .atol = atol,
                      .h_max = 0,
                      .max_steps = 200000,
                      .y_max = 1e10};
    return s;
}

sg_th_solver sg_th_solver_rk4(double h) {
    sg_th_solver s = {.method = SG_TH_RK4,
                      .h = h,
                      .rtol = 0,
                      .atol = 0,
                      .h_max = 0,
                      .max_steps = 100000000,
                      .y_max = 1e10};
    return s;
}

/* 1 when every component is finite and within +-y_max (y_max <= 0: finite only). */
static int all_finite(const double *y, int n, double y_max) {
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) return 0;
        if (y_max > 0 && fabs(y[i]) > y_max) return 0;
    }
    return 1;
}

void sg_th_rk4_step(sg_th_ode_ws *ws, sg_th_rhs f, void *ctx, double t, double h, double *y) {
    int n = ws->n;
    double *k1 = ws->mem, *k2 = k1 + n, *k3 = k2 + n, *k4 = k3 + n, *yt = k4 + n;
    f(ctx, t, y, k1);
    for (int i = 0; i < n; i++) yt[i] = y[i] + 0.5 * h * k1[i];
    f(ctx, t + 0.5 * h, yt, k2);
    for (int i = 0; i < n; i++) yt[i] = y[i] + 0.5 * h * k2[i];
    f(ctx, t + 0.5 * h, yt, k3);
    for (int i = 0; i < n; i++) yt[i] = y[i] + h * k3[i];
    f(ctx, t + h, yt, k4);
    for (int i = 0; i < n; i++) y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
}

static int rk4_advance(const sg_th_solver *s, sg_th_ode_ws *ws, sg_th_rhs f, void *ctx, double t0,
                       double t1, double *y, sg_th_ode_stats *st) {
    if (t1 <= t0) return 0;
    /* Equal steps no longer than s->h, so the interval is hit exactly. */
    double span = t1 - t0;
    long nsteps = (long)ceil(span / s->h - 1e-9);
    if (nsteps < 1) nsteps = 1;
    if (nsteps > s->max_steps) return -1;
    double h = span / (double)nsteps;
    for (long k = 0; k < nsteps; k++) {
        sg_th_rk4_step(ws, f, ctx, t0 + (double)k * h, h, y);
        if (st) {
            st->steps++;
            st->nfev += 4;
        }
        if (!all_finite(y, ws->n, s->y_max)) return -1;
    }
    return 0;
}

/* Dormand-Prince 5(4) tableau. */
static const double C2 = 1.0 / 5, C3 = 3.0 / 10, C4 = 4.0 / 5, C5 = 8.0 / 9;
static const double A21 = 1.0 / 5;
static const double A31 = 3.0 / 40, A32 = 9.0 / 40;
static const double A41 = 44.0 / 45, A42 = -56.0 / 15, A43 = 32.0 / 9;
static const double A51 = 19372.0 / 6561, A52 = -25360.0 / 2187, A53 = 64448.0 / 6561,
                    A54 = -212.0 / 729;
static const double A61 = 9017.0 / 3168, A62 = -355.0 / 33, A63 = 46732.0 / 5247, A64 = 49.0 / 176,
                    A65 = -5103.0 / 18656;
static const double A71 = 35.0 / 384, A73 = 500.0 / 1113, A74 = 125.0 / 192, A75 = -2187.0 / 6784,
                    A76 = 11.0 / 84;
/* Error weights: 5th-order weights (row 7) minus the embedded 4th-order ones. */
static const double E1 = 71.0 / 57600, E3 = -71.0 / 16695, E4 = 71.0 / 1920, E5 = -17253.0 / 339200,
                    E6 = 22.0 / 525, E7 = -1.0 / 40;

static double err_norm(const double *e, const double *y0, const double *y1, int n, double rtol,
                       double atol) {
    double acc = 0;
    for (int i = 0; i < n; i++) {
        double sc = atol + rtol * fmax(fabs(y0[i]), fabs(y1[i]));
        double r = e[i] / sc;
        acc += r * r;
    }
    return sqrt(acc / (double)(n > 0 ? n : 1));
}

/* Hairer's starting-step heuristic (Solving ODEs I, II.4): h such that an Euler step changes y
 * by about 1% of its scale, refined with a second-derivative estimate. k1 = f(t0, y0). */
static double initial_step(sg_th_rhs f, void *ctx, double t0, const double *y0, const double *k1,
                           double *ytmp, double *k2, int n, double rtol, double atol,
                           sg_th_ode_stats *st) {
    double d0 = 0, d1 = 0;
    for (int i = 0; i < n; i++) {
        double sc = atol + rtol * fabs(y0[i]);
        d0 += (y0[i] / sc) * (y0[i] / sc);
        d1 += (k1[i] / sc) * (k1[i] / sc);
    }
    d0 = sqrt(d0 / n);
    d1 = sqrt(d1 / n);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    for (int i = 0; i < n; i++) ytmp[i] = y0[i] + h0 * k1[i];
    f(ctx, t0 + h0, ytmp, k2);
    if (st) st->nfev++;
    double d2 = 0;
    for (int i = 0; i < n; i++) {
        double sc = atol + rtol * fabs(y0[i]);
        double r = (k2[i] - k1[i]) / sc;
        d2 += r * r;
    }
    d2 = sqrt(d2 / n) / h0;
    double h1 = (fmax(d1, d2) <= 1e-15) ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / fmax(d1, d2), 0.2);
    return fmin(100.0 * h0, h1);
}

static int dopri_advance(const sg_th_solver *s, sg_th_ode_ws *ws, sg_th_rhs f, void *ctx, double t0,
                         double t1, double *y, double *h_state, sg_th_ode_stats *st) {
    if (t1 <= t0) return 0;
    int n = ws->n;
    double *k1 = ws->mem, *k2 = k1 + n, *k3 = k2 + n, *k4 = k3 + n, *k5 = k4 + n, *k6 = k5 + n,
           *k7 = k6 + n, *yt = k7 + n, *yn = yt + n;
    double t = t0;
    f(ctx, t, y, k1);
    if (st) st->nfev++;
    double h = *h_state;
    if (!(h > 0)) h = initial_step(f, ctx, t, y, k1, yt, k2, n, s->rtol, s->atol, st);
    long steps = 0;
    while (t < t1) {
        if (steps++ >= s->max_steps) return -1;
        if (s->h_max > 0 && h > s->h_max) h = s->h_max;
        int last = 0;
        double hstep = h;
        if (t + hstep >= t1 || t1 - (t + hstep) < 1e-12 * fabs(t1)) {
            hstep = t1 - t;
            last = 1;
        }
        if (!(hstep > 1e-14 * fmax(1.0, fabs(t)))) return -1; /* step size underflow */
        for (int i = 0; i < n; i++) yt[i] = y[i] + hstep * A21 * k1[i];
        f(ctx, t + C2 * hstep, yt, k2);
        for (int i = 0; i < n; i++) yt[i] = y[i] + hstep * (A31 * k1[i] + A32 * k2[i]);
        f(ctx, t + C3 * hstep, yt, k3);
        for (int i = 0; i < n; i++)
            yt[i] = y[i] + hstep * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
        f(ctx, t + C4 * hstep, yt, k4);
        for (int i = 0; i < n; i++)
            yt[i] = y[i] + hstep * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
        f(ctx, t + C5 * hstep, yt, k5);
        for (int i = 0; i < n; i++)
            yt[i] = y[i] +
                    hstep * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
        f(ctx, t + hstep, yt, k6);
        for (int i = 0; i < n; i++)
            yn[i] = y[i] +
                    hstep * (A71 * k1[i] + A73 * k3[i] + A74 * k4[i] + A75 * k5[i] + A76 * k6[i]);
        f(ctx, t + hstep, yn, k7);
        if (st) st->nfev += 6;
        /* Embedded error estimate (k2 is free now: reuse it as the error vector). */
        for (int i = 0; i < n; i++)
            k2[i] = hstep *
                    (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i] + E7 * k7[i]);
        double en = err_norm(k2, y, yn, n, s->rtol, s->atol);
        if (!isfinite(en)) {
            /* Non-finite trial: shrink hard; if the state itself is blowing up this ends in
             * the underflow exit above. */
            h = hstep * 0.1;
            if (st) st->rejected++;
            continue;
        }
        /* Standard controller: safety 0.9, exponent 1/5, growth clamped to [0.2, 5]. */
        double fac = 0.9 * pow(fmax(en, 1e-10), -0.2);
        if (en <= 1.0) {
            t = last ? t1 : t + hstep;
            memcpy(y, yn, (size_t)n * sizeof(double));
            memcpy(k1, k7, (size_t)n * sizeof(double)); /* first same as last */
            if (st) st->steps++;
            if (!all_finite(y, n, s->y_max)) return -1;
            double hn = hstep * fmin(5.0, fmax(0.2, fac));
            /* A shortened last step says nothing about the natural step: keep the larger. */
            h = last ? fmax(h, hn) : hn;
        } else {
            h = hstep * fmax(0.2, fac);
            if (st) st->rejected++;
        }
    }
    *h_state = h;
    return 0;
}

int sg_th_advance(const sg_th_solver *s, sg_th_ode_ws *ws, sg_th_rhs f, void *ctx, double t0,
                  double t1, double *y, double *h_state, sg_th_ode_stats *stats) {
    if (s->method == SG_TH_RK4) return rk4_advance(s, ws, f, ctx, t0, t1, y, stats);
    double dummy = 0;
    return dopri_advance(s, ws, f, ctx, t0, t1, y, h_state ? h_state : &dummy, stats);
}
