/* tests/kernels/test_conv2d_bwd_filter.c: conv2d backward-filter of the CPU backend against the
 * double reference (overwrite and accumulate), the reference against finite differences of the
 * reference forward, determinism and the cost. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"
#include "conv_cases.h"

/* Backend backward-filter vs reference on one geometry at the current thread count, overwriting
 * (dw starts as NaN) and accumulating onto random values, and bit-identical output on a second
 * call. The workspace starts as NaN so that any part the kernel forgets to write shows up. */
static void check_case(const sg_backend *be, const conv_case *c, uint64_t seed, int threads) {
    sg_conv_shape s = make_shape(c);
    size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    size_t ws = sg_conv2d_workspace_bytes(be, &s);
    float *x = tu_alloc(nx * sizeof(float)), *dy = tu_alloc(ny * sizeof(float));
    float *dw0 = tu_alloc(nw * sizeof(float));
    float *dw = tu_alloc(nw * sizeof(float)), *dw2 = tu_alloc(nw * sizeof(float));
    void *work = ws ? malloc(ws) : NULL;
    double *xd = tu_alloc(nx * sizeof(double)), *dyd = tu_alloc(ny * sizeof(double));
    double *dwd = tu_alloc(nw * sizeof(double));
    tu_fill(x, nx, seed, 1, -1, 1);
    tu_fill(dy, ny, seed, 3, -1, 1);
    tu_fill(dw0, nw, seed, 4, -1, 1);
    tu_f2d(x, xd, nx);
    tu_f2d(dy, dyd, ny);
    double terms = (double)s.N * s.P * s.Q;

    for (int accumulate = 0; accumulate <= 1; accumulate++) {
        tu_f2d(dw0, dwd, nw);
        ref_conv2d_bwd_filter(&s, xd, dyd, dwd, accumulate);
        float *outs[2] = {dw, dw2};
        for (int call = 0; call < 2; call++) {
            if (accumulate)
                memcpy(outs[call], dw0, nw * sizeof(float));
            else
                memset(outs[call], 0xff, nw * sizeof(float));
            if (work) memset(work, 0xff, ws);
            sg_conv2d_bwd_filter(be, &s, x, dy, outs[call], accumulate, work);
        }
        CHECK(close_enough("dw", dw, dwd, nw, terms + accumulate),
              "conv2d_bwd_filter %s N%d C%d %dx%d K%d %dx%d/%d pad %d, accumulate %d, %d threads",
              c->what, s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.stride, s.pad, accumulate, threads);
        CHECK(memcmp(dw, dw2, nw * sizeof(float)) == 0,
              "conv2d_bwd_filter %s not deterministic, accumulate %d, %d threads", c->what,
              accumulate, threads);
    }
    free(x), free(dy), free(dw0), free(dw), free(dw2), free(work), free(xd), free(dyd), free(dwd);
}

/* ---- the reference backward against finite differences of the reference forward ----------- */

/* f(x, w) = sum(g .* conv(x, w)): its gradients are bwd_data(g, w) and bwd_filter(x, g). */
typedef struct {
    sg_conv_shape s;
    const double *x, *w, *g;
    double *y;
} fd_ctx;

static double dot(const double *a, const double *b, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}
static double f_of_w(const double *w, void *vctx) {
    fd_ctx *c = vctx;
    ref_conv2d_fwd(&c->s, c->x, w, c->y);
    return dot(c->g, c->y, y_count(&c->s));
}

/* f is linear in w, so central differences are exact up to rounding. Accumulating adds the
 * gradient onto what dw held. */
static void check_gradient(const conv_case *c, uint64_t seed) {
    sg_conv_shape s = make_shape(c);
    size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    float *buf = tu_alloc((nx + 2 * nw + ny) * sizeof(float));
    tu_fill(buf, nx + 2 * nw + ny, seed, 7, -1, 1);
    double *x = tu_alloc(nx * sizeof(double)), *w = tu_alloc(nw * sizeof(double));
    double *g = tu_alloc(ny * sizeof(double)), *y = tu_alloc(ny * sizeof(double));
    double *dw = tu_alloc(nw * sizeof(double)), *prior = tu_alloc(nw * sizeof(double));
    double *acc = tu_alloc(nw * sizeof(double)), *want_acc = tu_alloc(nw * sizeof(double));
    tu_f2d(buf, x, nx);
    tu_f2d(buf + nx, w, nw);
    tu_f2d(buf + nx + nw, g, ny);
    tu_f2d(buf + nx + nw + ny, prior, nw);
    ref_conv2d_bwd_filter(&s, x, g, dw, 0);
    fd_ctx ctx = {s, x, w, g, y};
    CHECK(tu_gradcheck("d/dw", f_of_w, &ctx, w, nw, dw, 1e-3, 1e-9, 1e-7),
          "ref_conv2d_bwd_filter vs finite differences, %s", c->what);
    memcpy(acc, prior, nw * sizeof(double));
    ref_conv2d_bwd_filter(&s, x, g, acc, 1);
    for (size_t i = 0; i < nw; i++) want_acc[i] = prior[i] + dw[i];
    CHECK(tu_close_dd("dw accumulated", acc, want_acc, nw, 1e-12, 1e-12),
          "ref_conv2d_bwd_filter accumulate, %s", c->what);
    free(buf), free(x), free(w), free(g), free(y), free(dw), free(prior), free(acc), free(want_acc);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    conv_check_cost("conv2d_bwd_filter", sg_cost_conv2d_bwd_filter);

    conv_run_cases(be, 2025, check_case);
    conv_run_tiny(check_gradient);
    return test_finish();
}
