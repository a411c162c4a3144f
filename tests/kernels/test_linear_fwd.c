/* tests/kernels/test_linear_fwd.c: linear forward of the CPU backend against the double
 * reference (with and without bias), the reference against a hand-computed value and finite
 * differences, determinism, and the cost. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_impls.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

typedef struct {
    int N, In, Out, has_bias;
} linear_case;

/* float32 vs the double reference: an output sums In products of values in [-1, 1] (plus the
 * bias); the tolerance grows linearly with In, far below the error of any indexing mistake. */
static double atol_for(int terms) { return 1e-5 + 3e-7 * terms; }

/* One case at the current thread count; y starts as NaN (it is overwritten), and a second call
 * must give the same bits. */
static void check_case(const sg_backend *be, const linear_case *c, uint64_t seed, int threads) {
    size_t nx = (size_t)c->N * c->In, nw = (size_t)c->Out * c->In, ny = (size_t)c->N * c->Out;
    float *x = tu_alloc(nx * sizeof(float)), *W = tu_alloc(nw * sizeof(float));
    float *b = tu_alloc((size_t)c->Out * sizeof(float));
    float *y = tu_alloc(ny * sizeof(float)), *y2 = tu_alloc(ny * sizeof(float));
    double *xd = tu_alloc(nx * sizeof(double)), *Wd = tu_alloc(nw * sizeof(double));
    double *bd = tu_alloc((size_t)c->Out * sizeof(double)), *yd = tu_alloc(ny * sizeof(double));
    tu_fill(x, nx, seed, 1, -1, 1);
    tu_fill(W, nw, seed, 2, -1, 1);
    tu_fill(b, (size_t)c->Out, seed, 3, -1, 1);
    tu_f2d(x, xd, nx);
    tu_f2d(W, Wd, nw);
    tu_f2d(b, bd, (size_t)c->Out);
    ref_linear_fwd(c->N, c->In, c->Out, xd, Wd, c->has_bias ? bd : NULL, yd);

    float *outs[2] = {y, y2};
    for (int call = 0; call < 2; call++) {
        memset(outs[call], 0xff, ny * sizeof(float));
        sg_linear_fwd(be, c->N, c->In, c->Out, x, W, c->has_bias ? b : NULL, outs[call]);
    }
    CHECK(tu_close_fd("y", y, yd, ny, atol_for(c->In + 1), 1e-5),
          "linear_fwd N%d In%d Out%d bias %d, %d threads", c->N, c->In, c->Out, c->has_bias,
          threads);
    CHECK(memcmp(y, y2, ny * sizeof(float)) == 0,
          "linear_fwd not deterministic: N%d In%d Out%d bias %d, %d threads", c->N, c->In, c->Out,
          c->has_bias, threads);
    free(x), free(W), free(b), free(y), free(y2), free(xd), free(Wd), free(bd), free(yd);
}

/* x = [1, 2], W = [[3, 4], [5, 6], [-1, 0]], b = [0.5, -1, 2]: y = [11.5, 16, 1]. */
static void check_known_answer(const sg_backend *be) {
    static const double x[2] = {1, 2}, W[6] = {3, 4, 5, 6, -1, 0}, b[3] = {0.5, -1, 2};
    static const double want[3] = {11.5, 16, 1};
    double y[3];
    ref_linear_fwd(1, 2, 3, x, W, b, y);
    CHECK(tu_close_dd("ref y", y, want, 3, 1e-12, 0), "ref_linear_fwd known answer");
    float xf[2], Wf[6], bf[3], yf[3];
    tu_d2f(x, xf, 2);
    tu_d2f(W, Wf, 6);
    tu_d2f(b, bf, 3);
    sg_linear_fwd(be, 1, 2, 3, xf, Wf, bf, yf);
    CHECK(tu_close_fd("cpu y", yf, want, 3, 1e-6, 0), "cpu linear_fwd known answer");
}

/* f = sum(g .* linear(x, W, b)): df/dx = g W, df/dW = g^T x, df/db = column sums of g, computed
 * here with ref_gemm so that the forward reference is checked independently of ref_linear_bwd. */
typedef struct {
    int N, In, Out;
    const double *x, *W, *b, *g;
    double *y;
} fd_ctx;

static double f_value(const fd_ctx *c, const double *x, const double *W, const double *b) {
    ref_linear_fwd(c->N, c->In, c->Out, x, W, b, c->y);
    double sum = 0;
    for (size_t i = 0; i < (size_t)c->N * c->Out; i++) sum += c->g[i] * c->y[i];
    return sum;
}
static double f_of_x(const double *x, void *v) {
    fd_ctx *c = v;
    return f_value(c, x, c->W, c->b);
}
static double f_of_W(const double *W, void *v) {
    fd_ctx *c = v;
    return f_value(c, c->x, W, c->b);
}
static double f_of_b(const double *b, void *v) {
    fd_ctx *c = v;
    return f_value(c, c->x, c->W, b);
}

static void check_gradients(int N, int In, int Out, uint64_t seed) {
    size_t nx = (size_t)N * In, nw = (size_t)Out * In, ny = (size_t)N * Out;
    size_t total = nx + nw + (size_t)Out + ny;
    float *buf = tu_alloc(total * sizeof(float));
    tu_fill(buf, total, seed, 9, -1, 1);
    double *all = tu_alloc(total * sizeof(double));
    tu_f2d(buf, all, total);
    double *x = all, *W = all + nx, *b = W + nw, *g = b + Out;
    double *y = tu_alloc(ny * sizeof(double)), *dx = tu_alloc(nx * sizeof(double));
    double *dW = tu_alloc(nw * sizeof(double)), *db = tu_alloc((size_t)Out * sizeof(double));
    ref_gemm(0, 0, N, In, Out, 1.0, g, Out, W, In, 0.0, dx, In);
    ref_gemm(1, 0, Out, In, N, 1.0, g, Out, x, In, 0.0, dW, In);
    for (int o = 0; o < Out; o++) {
        db[o] = 0;
        for (int n = 0; n < N; n++) db[o] += g[(size_t)n * Out + o];
    }
    fd_ctx ctx = {N, In, Out, x, W, b, g, y};
    CHECK(tu_gradcheck("d/dx", f_of_x, &ctx, x, nx, dx, 1e-3, 1e-9, 1e-7),
          "sum(g.*linear) w.r.t. x, N%d In%d Out%d", N, In, Out);
    CHECK(tu_gradcheck("d/dW", f_of_W, &ctx, W, nw, dW, 1e-3, 1e-9, 1e-7),
          "sum(g.*linear) w.r.t. W, N%d In%d Out%d", N, In, Out);
    CHECK(tu_gradcheck("d/db", f_of_b, &ctx, b, (size_t)Out, db, 1e-3, 1e-9, 1e-7),
          "sum(g.*linear) w.r.t. b, N%d In%d Out%d", N, In, Out);
    free(buf), free(all), free(y), free(dx), free(dW), free(db);
}

static void check_cost(void) {
    sg_cost c = sg_cost_linear_fwd(256, 512, 128, 0), cb = sg_cost_linear_fwd(256, 512, 128, 1);
    CHECK(c.flops == 2.0 * 256 * 512 * 128, "linear fwd flops %.17g", c.flops);
    CHECK(c.bytes == 4.0 * (256 * 512 + 128 * 512 + 256 * 128), "linear fwd bytes %.17g", c.bytes);
    CHECK(cb.flops == c.flops + 256.0 * 128, "linear fwd flops with bias %.17g", cb.flops);
    CHECK(cb.bytes == c.bytes + 4.0 * 128, "linear fwd bytes with bias %.17g", cb.bytes);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    check_cost();
    check_known_answer(be);
    check_gradients(3, 4, 5, 31);
    check_gradients(1, 6, 2, 32);

    enum { NCASES = 12 };
    linear_case cases[NCASES];
    sg_rng r;
    sg_rng_init(&r, 88, 0, 0, 0);
    for (int i = 0; i < NCASES; i++) {
        int hi = i < 8 ? 40 : 300; /* the last ones past OpenBLAS's blocking and the bias
                                      loop's parallel threshold */
        cases[i] = (linear_case){tu_randint(&r, 1, hi), tu_randint(&r, 1, hi),
                                 tu_randint(&r, 1, hi), i % 2};
    }
    cases[NCASES - 1] = (linear_case){300, 70, 200, 1}; /* bias broadcast in parallel */
    FOR_EACH_GEMM_IMPL {
        for (int threads = 1; threads <= 2; threads++) {
            sg_cpu_set_threads(threads);
            for (int i = 0; i < NCASES; i++) check_case(be, &cases[i], 400 + i, threads);
        }
    }
    return test_finish();
}
