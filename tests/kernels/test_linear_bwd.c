/* tests/kernels/test_linear_bwd.c: linear backward of the CPU backend against the double
 * reference (dx wanted or NULL, db wanted or NULL, overwrite and accumulate), the reference
 * against finite differences of the reference forward, determinism, and the cost. */
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
    int N, In, Out, want_dx, want_db, accumulate;
} linear_case;

/* float32 vs the double reference: an output sums `terms` products of values in [-1, 1]; the
 * tolerance grows linearly with the sum length, far below the error of any indexing mistake. */
static double atol_for(int terms) { return 1e-5 + 3e-7 * terms; }

/* One case at the current thread count, called twice from the same starting buffers: the
 * results must match the reference and each other bit for bit. Overwritten outputs start as
 * NaN; accumulated ones start from random values. */
static void check_case(const sg_backend *be, const linear_case *c, uint64_t seed, int threads) {
    size_t nx = (size_t)c->N * c->In, nw = (size_t)c->Out * c->In, ny = (size_t)c->N * c->Out;
    size_t nb = (size_t)c->Out;
    float *x = tu_alloc(nx * sizeof(float)), *W = tu_alloc(nw * sizeof(float));
    float *dy = tu_alloc(ny * sizeof(float));
    float *dW0 = tu_alloc(nw * sizeof(float)), *db0 = tu_alloc(nb * sizeof(float));
    float *dx[2], *dW[2], *db[2];
    for (int k = 0; k < 2; k++) {
        dx[k] = tu_alloc(nx * sizeof(float));
        dW[k] = tu_alloc(nw * sizeof(float));
        db[k] = tu_alloc(nb * sizeof(float));
    }
    double *xd = tu_alloc(nx * sizeof(double)), *Wd = tu_alloc(nw * sizeof(double));
    double *dyd = tu_alloc(ny * sizeof(double)), *dxd = tu_alloc(nx * sizeof(double));
    double *dWd = tu_alloc(nw * sizeof(double)), *dbd = tu_alloc(nb * sizeof(double));
    tu_fill(x, nx, seed, 1, -1, 1);
    tu_fill(W, nw, seed, 2, -1, 1);
    tu_fill(dy, ny, seed, 3, -1, 1);
    if (c->accumulate) {
        tu_fill(dW0, nw, seed, 4, -1, 1);
        tu_fill(db0, nb, seed, 5, -1, 1);
    } else {
        memset(dW0, 0xff, nw * sizeof(float));
        memset(db0, 0xff, nb * sizeof(float));
    }
    tu_f2d(x, xd, nx);
    tu_f2d(W, Wd, nw);
    tu_f2d(dy, dyd, ny);
    tu_f2d(dW0, dWd, nw);
    tu_f2d(db0, dbd, nb);
    ref_linear_bwd(c->N, c->In, c->Out, xd, Wd, dyd, c->want_dx ? dxd : NULL, dWd,
                   c->want_db ? dbd : NULL, c->accumulate);

    for (int k = 0; k < 2; k++) {
        memset(dx[k], 0xff, nx * sizeof(float));
        memcpy(dW[k], dW0, nw * sizeof(float));
        memcpy(db[k], db0, nb * sizeof(float));
        sg_linear_bwd(be, c->N, c->In, c->Out, x, W, dy, c->want_dx ? dx[k] : NULL, dW[k],
                      c->want_db ? db[k] : NULL, c->accumulate);
    }
    int ok = tu_close_fd("dW", dW[0], dWd, nw, atol_for(c->N + c->accumulate), 1e-5);
    int same = memcmp(dW[0], dW[1], nw * sizeof(float)) == 0;
    if (c->want_dx) {
        ok &= tu_close_fd("dx", dx[0], dxd, nx, atol_for(c->Out), 1e-5);
        same &= memcmp(dx[0], dx[1], nx * sizeof(float)) == 0;
    }
    if (c->want_db) {
        ok &= tu_close_fd("db", db[0], dbd, nb, atol_for(c->N + c->accumulate), 1e-5);
        same &= memcmp(db[0], db[1], nb * sizeof(float)) == 0;
    }
    CHECK(ok, "linear_bwd N%d In%d Out%d dx %d db %d accumulate %d, %d threads", c->N, c->In,
          c->Out, c->want_dx, c->want_db, c->accumulate, threads);
    CHECK(same, "linear_bwd not deterministic: N%d In%d Out%d, %d threads", c->N, c->In, c->Out,
          threads);

    for (int k = 0; k < 2; k++) free(dx[k]), free(dW[k]), free(db[k]);
    free(x), free(W), free(dy), free(dW0), free(db0);
    free(xd), free(Wd), free(dyd), free(dxd), free(dWd), free(dbd);
}

/* ---- the reference backward against finite differences of the reference forward ----------- */

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

/* f = sum(g .* linear(x, W, b)) is linear in each argument, so central differences are exact
 * up to rounding; accumulate = 1 must add the same gradients onto what dW, db held. */
static void check_gradients(int N, int In, int Out, uint64_t seed) {
    size_t nx = (size_t)N * In, nw = (size_t)Out * In, ny = (size_t)N * Out;
    size_t total = nx + nw + (size_t)Out + ny + nw + (size_t)Out;
    float *buf = tu_alloc(total * sizeof(float));
    tu_fill(buf, total, seed, 9, -1, 1);
    double *all = tu_alloc(total * sizeof(double));
    tu_f2d(buf, all, total);
    double *x = all, *W = x + nx, *b = W + nw, *g = b + Out, *prior_W = g + ny;
    double *prior_b = prior_W + nw;
    double *y = tu_alloc(ny * sizeof(double)), *dx = tu_alloc(nx * sizeof(double));
    double *dW = tu_alloc(nw * sizeof(double)), *db = tu_alloc((size_t)Out * sizeof(double));
    ref_linear_bwd(N, In, Out, x, W, g, dx, dW, db, 0);
    fd_ctx ctx = {N, In, Out, x, W, b, g, y};
    CHECK(tu_gradcheck("d/dx", f_of_x, &ctx, x, nx, dx, 1e-3, 1e-9, 1e-7),
          "ref_linear_bwd dx vs finite differences, N%d In%d Out%d", N, In, Out);
    CHECK(tu_gradcheck("d/dW", f_of_W, &ctx, W, nw, dW, 1e-3, 1e-9, 1e-7),
          "ref_linear_bwd dW vs finite differences, N%d In%d Out%d", N, In, Out);
    CHECK(tu_gradcheck("d/db", f_of_b, &ctx, b, (size_t)Out, db, 1e-3, 1e-9, 1e-7),
          "ref_linear_bwd db vs finite differences, N%d In%d Out%d", N, In, Out);

    double *accW = tu_alloc(nw * sizeof(double)), *accb = tu_alloc((size_t)Out * sizeof(double));
    double *wantW = tu_alloc(nw * sizeof(double)), *wantb = tu_alloc((size_t)Out * sizeof(double));
    memcpy(accW, prior_W, nw * sizeof(double));
    memcpy(accb, prior_b, (size_t)Out * sizeof(double));
    ref_linear_bwd(N, In, Out, x, W, g, NULL, accW, accb, 1);
    for (size_t i = 0; i < nw; i++) wantW[i] = prior_W[i] + dW[i];
    for (int o = 0; o < Out; o++) wantb[o] = prior_b[o] + db[o];
    CHECK(tu_close_dd("dW acc", accW, wantW, nw, 1e-12, 1e-12) &&
              tu_close_dd("db acc", accb, wantb, (size_t)Out, 1e-12, 1e-12),
          "ref_linear_bwd accumulate, N%d In%d Out%d", N, In, Out);
    free(buf), free(all), free(y), free(dx), free(dW), free(db);
    free(accW), free(accb), free(wantW), free(wantb);
}

static void check_cost(void) {
    const double N = 256, In = 512, Out = 128;
    sg_cost full = sg_cost_linear_bwd(256, 512, 128, 1, 1);
    sg_cost bare = sg_cost_linear_bwd(256, 512, 128, 0, 0);
    CHECK(full.flops == 4 * N * In * Out + N * Out, "linear bwd flops %.17g", full.flops);
    CHECK(bare.flops == 2 * N * In * Out, "linear bwd flops without dx, db: %.17g", bare.flops);
    /* read x, dy, W; write dx, dW, db */
    CHECK(full.bytes == 4 * (N * In + N * Out + Out * In + N * In + Out * In + Out),
          "linear bwd bytes %.17g", full.bytes);
    /* read x, dy; write dW */
    CHECK(bare.bytes == 4 * (N * In + N * Out + Out * In), "linear bwd bytes without dx, db: %.17g",
          bare.bytes);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    check_cost();
    check_gradients(3, 4, 5, 31);
    check_gradients(1, 6, 2, 32);

    /* every combination of dx, db and accumulate on small shapes, then larger ones past
     * OpenBLAS's blocking and the db loop's parallel threshold */
    enum { NCASES = 12 };
    linear_case cases[NCASES];
    sg_rng r;
    sg_rng_init(&r, 99, 0, 0, 0);
    for (int i = 0; i < NCASES; i++) {
        int hi = i < 8 ? 40 : 300;
        cases[i] = (linear_case){tu_randint(&r, 1, hi), tu_randint(&r, 1, hi),
                                 tu_randint(&r, 1, hi), i & 1,
                                 (i >> 1) & 1,          (i >> 2) & 1};
    }
    cases[NCASES - 1] = (linear_case){300, 70, 200, 1, 1, 1}; /* db summed in parallel */
    FOR_EACH_GEMM_IMPL {
        for (int threads = 1; threads <= 2; threads++) {
            sg_cpu_set_threads(threads);
            for (int i = 0; i < NCASES; i++) check_case(be, &cases[i], 500 + i, threads);
        }
    }
    return test_finish();
}
