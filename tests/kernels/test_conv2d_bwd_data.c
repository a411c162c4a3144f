/* tests/kernels/test_conv2d_bwd_data.c: conv2d backward-data of the CPU backend against the double
 * reference, the reference against finite differences of the reference forward, determinism
 * and the cost. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"
#include "conv_cases.h"

/* Backend backward-data vs reference on one geometry at the current thread count, and
 * bit-identical output on a second call. dx (overwritten) and the workspace start as NaN so that
 * any element the kernel forgets to write shows up. */
static void check_case(const sg_backend *be, const conv_case *c, uint64_t seed, int threads) {
    sg_conv_shape s = make_shape(c);
    size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    size_t ws = sg_conv2d_workspace_bytes(be, &s);
    float *dy = tu_alloc(ny * sizeof(float)), *w = tu_alloc(nw * sizeof(float));
    float *dx = tu_alloc(nx * sizeof(float)), *dx2 = tu_alloc(nx * sizeof(float));
    void *work = ws ? malloc(ws) : NULL;
    double *dyd = tu_alloc(ny * sizeof(double)), *wd = tu_alloc(nw * sizeof(double));
    double *dxd = tu_alloc(nx * sizeof(double));
    tu_fill(dy, ny, seed, 3, -1, 1);
    tu_fill(w, nw, seed, 2, -1, 1);
    tu_f2d(dy, dyd, ny);
    tu_f2d(w, wd, nw);
    ref_conv2d_bwd_data(&s, dyd, wd, dxd);

    if (work) memset(work, 0xff, ws);
    memset(dx, 0xff, nx * sizeof(float));
    sg_conv2d_bwd_data(be, &s, dy, w, dx, work);
    CHECK(close_enough("dx", dx, dxd, nx, (double)s.K * s.R * s.S),
          "conv2d_bwd_data %s N%d C%d %dx%d K%d %dx%d/%d pad %d, %d threads", c->what, s.N, s.C,
          s.H, s.W, s.K, s.R, s.S, s.stride, s.pad, threads);

    if (work) memset(work, 0xff, ws);
    memset(dx2, 0xff, nx * sizeof(float));
    sg_conv2d_bwd_data(be, &s, dy, w, dx2, work);
    CHECK(memcmp(dx, dx2, nx * sizeof(float)) == 0,
          "conv2d_bwd_data %s not deterministic, %d threads", c->what, threads);

    free(dy), free(w), free(dx), free(dx2), free(work), free(dyd), free(wd), free(dxd);
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
static double f_of_x(const double *x, void *vctx) {
    fd_ctx *c = vctx;
    ref_conv2d_fwd(&c->s, x, c->w, c->y);
    return dot(c->g, c->y, y_count(&c->s));
}

/* f is linear in x, so central differences are exact up to rounding. */
static void check_gradient(const conv_case *c, uint64_t seed) {
    sg_conv_shape s = make_shape(c);
    size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    float *buf = tu_alloc((nx + nw + ny) * sizeof(float));
    tu_fill(buf, nx + nw + ny, seed, 7, -1, 1);
    double *x = tu_alloc(nx * sizeof(double)), *w = tu_alloc(nw * sizeof(double));
    double *g = tu_alloc(ny * sizeof(double)), *y = tu_alloc(ny * sizeof(double));
    double *dx = tu_alloc(nx * sizeof(double));
    tu_f2d(buf, x, nx);
    tu_f2d(buf + nx, w, nw);
    tu_f2d(buf + nx + nw, g, ny);
    ref_conv2d_bwd_data(&s, g, w, dx);
    fd_ctx ctx = {s, x, w, g, y};
    CHECK(tu_gradcheck("d/dx", f_of_x, &ctx, x, nx, dx, 1e-3, 1e-9, 1e-7),
          "ref_conv2d_bwd_data vs finite differences, %s", c->what);
    free(buf), free(x), free(w), free(g), free(y), free(dx);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    conv_check_cost("conv2d_bwd_data", sg_cost_conv2d_bwd_data);

    conv_run_cases(be, 2025, check_case);
    conv_run_tiny(check_gradient);
    return test_finish();
}
