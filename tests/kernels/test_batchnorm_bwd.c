/* Batch-norm backward of the CPU backend against the double reference (with and without the
 * affine transform, dgamma/dbeta overwritten and accumulated, NCHW and (N,C) features), and the
 * reference itself against central finite differences of the reference training forward (so
 * the gradient includes the paths through the batch mean and variance). Each backend call is
 * repeated (bit-identical) and run with 1 and 2 threads (bit-identical too). */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

#define DX_ATOL 1e-5
#define DX_RTOL 1e-4
#define DP_ATOL 1e-5
#define DP_RTOL 1e-5

typedef struct {
    int N, C, HW;
    float xlo, xhi;
} bn_case;

typedef struct {
    float *dx, *dgamma, *dbeta;
} bwd_out;

/* One case: backend mean/invstd from its own training forward, then backward twice against the
 * reference. Returns the first call's outputs in *keep for the cross-thread comparison. */
static void check_case(const sg_backend *be, const bn_case *k, int affine, int accumulate,
                       uint64_t seed, bwd_out *keep) {
    const int N = k->N, C = k->C, HW = k->HW;
    const size_t n = (size_t)N * C * HW, cb = (size_t)C * sizeof(float);
    float *x = tu_alloc(n * sizeof(float)), *dy = tu_alloc(n * sizeof(float));
    float *y = tu_alloc(n * sizeof(float));
    float *gamma = tu_alloc(cb), *beta = tu_alloc(cb), *mean = tu_alloc(cb), *invstd = tu_alloc(cb);
    float *dg0 = tu_alloc(cb), *db0 = tu_alloc(cb);
    tu_fill(x, n, seed, 1, k->xlo, k->xhi);
    tu_fill(dy, n, seed, 2, -1.0f, 1.0f);
    tu_fill(gamma, C, seed, 3, 0.5f, 1.5f);
    tu_fill(beta, C, seed, 4, -0.5f, 0.5f);
    tu_fill(dg0, C, seed, 5, -1.0f, 1.0f); /* what accumulate adds to */
    tu_fill(db0, C, seed, 6, -1.0f, 1.0f);
    const float *g = affine ? gamma : NULL;
    sg_batchnorm_fwd_train(be, N, C, HW, x, g, affine ? beta : NULL, 1e-5f, 0.1f, NULL, NULL,
                            mean, invstd, y);

    bwd_out o[2];
    for (int r = 0; r < 2; r++) {
        o[r].dx = tu_alloc(n * sizeof(float));
        o[r].dgamma = tu_alloc(cb);
        o[r].dbeta = tu_alloc(cb);
        memcpy(o[r].dgamma, dg0, cb);
        memcpy(o[r].dbeta, db0, cb);
        sg_batchnorm_bwd(be, N, C, HW, x, g, mean, invstd, dy, o[r].dx,
                          affine ? o[r].dgamma : NULL, affine ? o[r].dbeta : NULL, accumulate);
    }
    CHECK(memcmp(o[0].dx, o[1].dx, n * sizeof(float)) == 0 &&
              memcmp(o[0].dgamma, o[1].dgamma, cb) == 0 && memcmp(o[0].dbeta, o[1].dbeta, cb) == 0,
          "bwd N%d C%d HW%d: two calls differ", N, C, HW);

    double *xd = tu_alloc(n * sizeof(double)), *dyd = tu_alloc(n * sizeof(double));
    double *dxd = tu_alloc(n * sizeof(double));
    double *gd = tu_alloc(C * sizeof(double)), *md = tu_alloc(C * sizeof(double));
    double *isd = tu_alloc(C * sizeof(double));
    double *dgd = tu_alloc(C * sizeof(double)), *dbd = tu_alloc(C * sizeof(double));
    tu_f2d(x, xd, n);
    tu_f2d(dy, dyd, n);
    tu_f2d(gamma, gd, C);
    tu_f2d(mean, md, C);
    tu_f2d(invstd, isd, C);
    tu_f2d(dg0, dgd, C);
    tu_f2d(db0, dbd, C);
    ref_batchnorm_bwd(N, C, HW, xd, affine ? gd : NULL, md, isd, dyd, dxd, affine ? dgd : NULL,
                      affine ? dbd : NULL, accumulate);
    CHECK(tu_close_fd("dx", o[0].dx, dxd, n, DX_ATOL, DX_RTOL), "dx N%d C%d HW%d affine %d", N,
          C, HW, affine);
    if (affine) {
        /* the sums grow like sqrt(N*HW) */
        double scale = sqrt((double)N * HW);
        CHECK(tu_close_fd("dgamma", o[0].dgamma, dgd, C, DP_ATOL * scale, DP_RTOL),
              "dgamma N%d C%d HW%d acc %d", N, C, HW, accumulate);
        CHECK(tu_close_fd("dbeta", o[0].dbeta, dbd, C, DP_ATOL * scale, DP_RTOL),
              "dbeta N%d C%d HW%d acc %d", N, C, HW, accumulate);
    } else {
        CHECK(memcmp(o[0].dgamma, dg0, cb) == 0 && memcmp(o[0].dbeta, db0, cb) == 0,
              "no affine: dgamma/dbeta buffers must be left alone");
    }

    *keep = o[0];
    free(o[1].dx), free(o[1].dgamma), free(o[1].dbeta);
    free(x), free(dy), free(y), free(gamma), free(beta), free(mean), free(invstd), free(dg0),
        free(db0);
    free(xd), free(dyd), free(dxd), free(gd), free(md), free(isd), free(dgd), free(dbd);
}

/* ---- the reference against finite differences -------------------------------------------- */

/* f = sum(g .* y) with y = ref training forward (batch statistics recomputed from x); the
 * variable `which` (0 x, 1 gamma, 2 beta) is the one tu_gradcheck perturbs. */
typedef struct {
    int N, C, HW, affine, which;
    double *x, *gamma, *beta, *g;
    double *y, *mean, *invstd; /* scratch */
} fd_ctx;

static double bn_objective(const double *v, void *vctx) {
    fd_ctx *c = vctx;
    const double *x = c->which == 0 ? v : c->x;
    const double *gamma = c->which == 1 ? v : c->gamma;
    const double *beta = c->which == 2 ? v : c->beta;
    ref_batchnorm_fwd_train(c->N, c->C, c->HW, x, c->affine ? gamma : NULL,
                            c->affine ? beta : NULL, 1e-5, 0.1, NULL, NULL, c->mean, c->invstd,
                            c->y);
    double f = 0;
    for (size_t i = 0; i < (size_t)c->N * c->C * c->HW; i++) f += c->g[i] * c->y[i];
    return f;
}

static void fd_check(int N, int C, int HW, int affine, uint64_t seed) {
    const size_t n = (size_t)N * C * HW;
    float *tmp = tu_alloc(n * sizeof(float));
    fd_ctx c = {N, C, HW, affine, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    c.x = tu_alloc(n * sizeof(double));
    c.g = tu_alloc(n * sizeof(double));
    c.y = tu_alloc(n * sizeof(double));
    c.gamma = tu_alloc(C * sizeof(double));
    c.beta = tu_alloc(C * sizeof(double));
    c.mean = tu_alloc(C * sizeof(double));
    c.invstd = tu_alloc(C * sizeof(double));
    tu_fill(tmp, n, seed, 1, -1.0f, 2.0f);
    tu_f2d(tmp, c.x, n);
    tu_fill(tmp, n, seed, 2, -1.0f, 1.0f);
    tu_f2d(tmp, c.g, n);
    tu_fill(tmp, C, seed, 3, 0.5f, 1.5f);
    tu_f2d(tmp, c.gamma, C);
    tu_fill(tmp, C, seed, 4, -0.5f, 0.5f);
    tu_f2d(tmp, c.beta, C);

    /* analytic: the reference backward at the batch statistics of x */
    double *dx = tu_alloc(n * sizeof(double));
    double *dgamma = tu_alloc(C * sizeof(double)), *dbeta = tu_alloc(C * sizeof(double));
    c.which = 0;
    (void)bn_objective(c.x, &c);
    ref_batchnorm_bwd(N, C, HW, c.x, affine ? c.gamma : NULL, c.mean, c.invstd, c.g, dx,
                      affine ? dgamma : NULL, affine ? dbeta : NULL, 0);

    const double h = 1e-5, atol = 1e-7, rtol = 1e-6;
    c.which = 0;
    CHECK(tu_gradcheck("fd dx", bn_objective, &c, c.x, n, dx, h, atol, rtol),
          "ref batchnorm dx vs finite differences N%d C%d HW%d affine %d", N, C, HW, affine);
    if (affine) {
        c.which = 1;
        CHECK(tu_gradcheck("fd dgamma", bn_objective, &c, c.gamma, C, dgamma, h, atol, rtol),
              "ref batchnorm dgamma vs finite differences N%d C%d HW%d", N, C, HW);
        c.which = 2;
        CHECK(tu_gradcheck("fd dbeta", bn_objective, &c, c.beta, C, dbeta, h, atol, rtol),
              "ref batchnorm dbeta vs finite differences N%d C%d HW%d", N, C, HW);
    }
    free(tmp), free(c.x), free(c.g), free(c.y), free(c.gamma), free(c.beta), free(c.mean),
        free(c.invstd), free(dx), free(dgamma), free(dbeta);
}

#define NFIXED 6
#define NRANDOM 6
#define NCASES (NFIXED + NRANDOM)

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    fd_check(3, 2, 4, 1, 1);
    fd_check(5, 3, 1, 0, 2); /* (N,C) features, no affine */
    fd_check(2, 2, 3, 0, 3);
    fd_check(4, 2, 1, 1, 4);

    bn_case cases[NCASES] = {
        {4, 3, 25, -1.0f, 1.0f},    {2, 7, 49, -2.0f, 3.0f},  {8, 5, 1, -1.0f, 1.0f},
        {16, 70, 1, -1.0f, 2.0f},   {256, 160, 1, -1.0f, 1.0f}, /* threaded */
        {32, 3, 4096, 3.0f, 5.0f},  /* 131k values per channel, mean 4 */
    };
    sg_rng r;
    sg_rng_init(&r, 20240502, 7, 0, 0);
    for (int i = NFIXED; i < NCASES; i++) {
        bn_case *k = &cases[i];
        k->N = tu_randint(&r, 2, 9);
        k->C = tu_randint(&r, 1, 45);
        k->HW = (i % 2) ? 1 : tu_randint(&r, 2, 70);
        k->xlo = (float)sg_rng_uniform_range(&r, -3, 1);
        k->xhi = k->xlo + (float)sg_rng_uniform_range(&r, 0.5, 4);
    }

    bwd_out keep[NCASES][2][2];
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (int i = 0; i < NCASES; i++) {
            const bn_case *k = &cases[i];
            const size_t n = (size_t)k->N * k->C * k->HW, cb = (size_t)k->C * sizeof(float);
            for (int affine = 0; affine < 2; affine++)
                for (int acc = 0; acc < 2; acc++) {
                    bwd_out o;
                    check_case(be, k, affine, acc, 300 + (uint64_t)i, &o);
                    if (ti == 0) {
                        keep[i][affine][acc] = o;
                        continue;
                    }
                    bwd_out *q = &keep[i][affine][acc];
                    CHECK(memcmp(o.dx, q->dx, n * sizeof(float)) == 0 &&
                              memcmp(o.dgamma, q->dgamma, cb) == 0 &&
                              memcmp(o.dbeta, q->dbeta, cb) == 0,
                          "bwd N%d C%d HW%d: 1 and 2 threads differ", k->N, k->C, k->HW);
                    free(o.dx), free(o.dgamma), free(o.dbeta);
                    free(q->dx), free(q->dgamma), free(q->dbeta);
                }
        }
    }

    sg_cost c0 = sg_cost_batchnorm_bwd(8, 4, 16, 0), c1 = sg_cost_batchnorm_bwd(8, 4, 16, 1);
    CHECK(c0.bytes >= 3 * 4.0 * 8 * 4 * 16 && c1.bytes > c0.bytes && c0.flops >= 8 * 4 * 16,
          "batchnorm_bwd cost: %g/%g bytes, %g flops", c0.bytes, c1.bytes, c0.flops);
    return test_finish();
}
