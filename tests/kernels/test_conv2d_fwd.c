/* tests/kernels/test_conv2d_fwd.c: conv2d forward of the CPU backend against the double
 * reference, the reference against hand-computed values and finite differences, determinism,
 * the cost, and sg_conv_shape_make's output sizes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"
#include "conv_cases.h"

/* Backend forward vs reference on one geometry at the current thread count, and bit-identical
 * output on a second call. The workspace and output start as NaN so that any element the
 * kernel forgets to write shows up. */
static void check_case(const sg_backend *be, const conv_case *c, uint64_t seed, int threads) {
    sg_conv_shape s = make_shape(c);
    size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    size_t ws = sg_conv2d_workspace_bytes(be, &s);
    float *x = tu_alloc(nx * sizeof(float)), *w = tu_alloc(nw * sizeof(float));
    float *y = tu_alloc(ny * sizeof(float)), *y2 = tu_alloc(ny * sizeof(float));
    void *work = ws ? malloc(ws) : NULL;
    double *xd = tu_alloc(nx * sizeof(double)), *wd = tu_alloc(nw * sizeof(double));
    double *yd = tu_alloc(ny * sizeof(double));
    tu_fill(x, nx, seed, 1, -1, 1);
    tu_fill(w, nw, seed, 2, -1, 1);
    tu_f2d(x, xd, nx);
    tu_f2d(w, wd, nw);
    ref_conv2d_fwd(&s, xd, wd, yd);

    if (work) memset(work, 0xff, ws);
    memset(y, 0xff, ny * sizeof(float));
    sg_conv2d_fwd(be, &s, x, w, y, work);
    CHECK(close_enough("y", y, yd, ny, (double)s.C * s.R * s.S),
          "conv2d_fwd %s N%d C%d %dx%d K%d %dx%d/%d pad %d, %d threads", c->what, s.N, s.C, s.H,
          s.W, s.K, s.R, s.S, s.stride, s.pad, threads);

    if (work) memset(work, 0xff, ws);
    memset(y2, 0xff, ny * sizeof(float));
    sg_conv2d_fwd(be, &s, x, w, y2, work);
    CHECK(memcmp(y, y2, ny * sizeof(float)) == 0, "conv2d_fwd %s not deterministic, %d threads",
          c->what, threads);

    free(x), free(w), free(y), free(y2), free(work), free(xd), free(wd), free(yd);
}

/* ---- the reference itself ------------------------------------------------------------------ */

/* Hand-computed: x = 1..9 as a 3x3 image, w = [[1,2],[3,4]]. */
static void check_known_answers(const sg_backend *be) {
    static const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const float w[4] = {1, 2, 3, 4};
    double xd[9], wd[4], yd[4];
    tu_f2d(x, xd, 9);
    tu_f2d(w, wd, 4);
    /* stride 1, no padding: y[p,q] = x[p,q] + 2x[p,q+1] + 3x[p+1,q] + 4x[p+1,q+1] */
    static const double want_valid[4] = {37, 47, 67, 77};
    /* stride 2, pad 1: windows start at (-1,-1), (-1,1), (1,-1), (1,1) */
    static const double want_strided[4] = {4, 18, 36, 77};
    sg_conv_shape shapes[2] = {sg_conv_shape_make(1, 1, 3, 3, 1, 2, 2, 1, 0),
                               sg_conv_shape_make(1, 1, 3, 3, 1, 2, 2, 2, 1)};
    const double *wants[2] = {want_valid, want_strided};
    for (int i = 0; i < 2; i++) {
        const sg_conv_shape *s = &shapes[i];
        CHECK(s->P == 2 && s->Q == 2, "known-answer shape %d gave %dx%d", i, s->P, s->Q);
        ref_conv2d_fwd(s, xd, wd, yd);
        CHECK(tu_close_dd("ref y", yd, wants[i], 4, 1e-12, 0), "ref_conv2d_fwd known answer %d", i);
        size_t ws = sg_conv2d_workspace_bytes(be, s);
        void *work = ws ? malloc(ws) : NULL;
        float y[4];
        sg_conv2d_fwd(be, s, x, w, y, work);
        CHECK(tu_close_fd("cpu y", y, wants[i], 4, 1e-6, 0), "cpu conv2d_fwd known answer %d", i);
        free(work);
    }
}

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
static double f_of_w(const double *w, void *vctx) {
    fd_ctx *c = vctx;
    ref_conv2d_fwd(&c->s, c->x, w, c->y);
    return dot(c->g, c->y, y_count(&c->s));
}

/* The function is linear in each argument, so central differences are exact up to rounding. */
static void check_gradients(const conv_case *c, uint64_t seed) {
    sg_conv_shape s = make_shape(c);
    size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    float *buf = tu_alloc((nx + nw + ny) * sizeof(float));
    tu_fill(buf, nx + nw + ny, seed, 7, -1, 1);
    double *x = tu_alloc(nx * sizeof(double)), *w = tu_alloc(nw * sizeof(double));
    double *g = tu_alloc(ny * sizeof(double)), *y = tu_alloc(ny * sizeof(double));
    double *dx = tu_alloc(nx * sizeof(double)), *dw = tu_alloc(nw * sizeof(double));
    tu_f2d(buf, x, nx);
    tu_f2d(buf + nx, w, nw);
    tu_f2d(buf + nx + nw, g, ny);
    ref_conv2d_bwd_data(&s, g, w, dx);
    ref_conv2d_bwd_filter(&s, x, g, dw, 0);
    fd_ctx ctx = {s, x, w, g, y};
    CHECK(tu_gradcheck("d/dx", f_of_x, &ctx, x, nx, dx, 1e-3, 1e-9, 1e-7),
          "sum(g.*conv) gradient w.r.t. x, %s", c->what);
    CHECK(tu_gradcheck("d/dw", f_of_w, &ctx, w, nw, dw, 1e-3, 1e-9, 1e-7),
          "sum(g.*conv) gradient w.r.t. w, %s", c->what);
    free(buf), free(x), free(w), free(g), free(y), free(dx), free(dw);
}

/* ---- shapes and cost ------------------------------------------------------------------------- */

/* Output positions counted one by one: p is valid while its window fits the padded input. */
static int count_positions(int in, int k, int stride, int pad) {
    int n = 0;
    for (int p = 0; p * stride + k <= in + 2 * pad; p++) n++;
    return n;
}

static void check_shapes(void) {
    /* ResNet-18 on 96x96 STL-10 images */
    sg_conv_shape stem = sg_conv_shape_make(8, 3, 96, 96, 64, 7, 7, 2, 3);
    CHECK(stem.P == 48 && stem.Q == 48, "stem output %dx%d, want 48x48", stem.P, stem.Q);
    CHECK(stem.N == 8 && stem.C == 3 && stem.H == 96 && stem.W == 96 && stem.K == 64 &&
              stem.R == 7 && stem.S == 7 && stem.stride == 2 && stem.pad == 3,
          "sg_conv_shape_make does not keep its arguments");
    sg_conv_shape same = sg_conv_shape_make(8, 64, 24, 24, 64, 3, 3, 1, 1);
    CHECK(same.P == 24 && same.Q == 24, "3x3/1 output %dx%d, want 24x24", same.P, same.Q);
    sg_conv_shape down = sg_conv_shape_make(8, 64, 24, 24, 128, 3, 3, 2, 1);
    CHECK(down.P == 12 && down.Q == 12, "3x3/2 output %dx%d, want 12x12", down.P, down.Q);
    sg_conv_shape proj = sg_conv_shape_make(8, 256, 6, 6, 512, 1, 1, 2, 0);
    CHECK(proj.P == 3 && proj.Q == 3, "1x1/2 output %dx%d, want 3x3", proj.P, proj.Q);
    sg_conv_shape odd = sg_conv_shape_make(1, 1, 11, 13, 1, 3, 3, 2, 1);
    CHECK(odd.P == 6 && odd.Q == 7, "3x3/2 on 11x13 gives %dx%d, want 6x7", odd.P, odd.Q);

    sg_rng r;
    sg_rng_init(&r, 11, 0, 0, 0);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        conv_case c = random_case(&r);
        sg_conv_shape s = make_shape(&c);
        if (s.P != count_positions(c.H, c.R, c.stride, c.pad) ||
            s.Q != count_positions(c.W, c.S, c.stride, c.pad))
            bad++;
    }
    CHECK(bad == 0, "%d of 200 random shapes have the wrong output size", bad);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    check_shapes();
    conv_check_cost("conv2d_fwd", sg_cost_conv2d_fwd);
    check_known_answers(be);

    conv_run_cases(be, 2024, check_case);
    conv_run_tiny(check_gradients);
    return test_finish();
}
