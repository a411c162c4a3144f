/* Batch norm with the ReLU fused (batchnorm_relu_fwd / batchnorm_relu_bwd) on the CPU backend:
 *   - against the double references on fixed and random shapes (NCHW and (N,C) features, with
 *     and without the affine transform and running statistics, dgamma/dbeta overwritten and
 *     accumulated);
 *   - against the two kernels it replaces, batchnorm_fwd_train then relu_fwd and relu_bwd then
 *     batchnorm_bwd, bit for bit in every output (the step relies on this);
 *   - repeated calls and 1 vs 2 threads bit-identical;
 *   - the reference backward against central finite differences of the reference forward
 *     (the gradient through the batch mean and variance and the ReLU's mask). */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

#define Y_ATOL 1e-5
#define Y_RTOL 1e-5
#define DX_ATOL 1e-5
#define DX_RTOL 1e-4
#define DP_ATOL 1e-5
#define DP_RTOL 1e-5

typedef struct {
    int N, C, HW;
    float xlo, xhi;
} bnr_case;

/* Every output of one forward and one backward, for the cross-thread comparison. */
typedef struct {
    float *y, *mean, *invstd, *rmean, *rvar, *dx, *dgamma, *dbeta;
} bnr_out;

static int same(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void out_free(bnr_out *o) {
    free(o->y), free(o->mean), free(o->invstd), free(o->rmean), free(o->rvar), free(o->dx);
    free(o->dgamma), free(o->dbeta);
}

/* One case at the current thread count; its outputs go to *keep. */
static void check_case(const sg_backend *be, const bnr_case *k, int affine, int running,
                       int accumulate, uint64_t seed, bnr_out *keep) {
    const int N = k->N, C = k->C, HW = k->HW;
    const size_t n = (size_t)N * C * HW, nb = n * sizeof(float), cb = (size_t)C * sizeof(float);
    float *x = tu_alloc(nb), *dy = tu_alloc(nb), *gamma = tu_alloc(cb), *beta = tu_alloc(cb);
    float *rm0 = tu_alloc(cb), *rv0 = tu_alloc(cb), *dg0 = tu_alloc(cb), *db0 = tu_alloc(cb);
    tu_fill(x, n, seed, 1, k->xlo, k->xhi);
    tu_fill(dy, n, seed, 2, -1.0f, 1.0f);
    /* beta spans both signs, so the ReLU cuts a share of every channel */
    tu_fill(gamma, C, seed, 3, 0.5f, 1.5f);
    tu_fill(beta, C, seed, 4, -0.8f, 0.8f);
    tu_fill(rm0, C, seed, 5, -1.0f, 1.0f);
    tu_fill(rv0, C, seed, 6, 0.5f, 1.5f);
    tu_fill(dg0, C, seed, 7, -1.0f, 1.0f); /* what accumulate adds to */
    tu_fill(db0, C, seed, 8, -1.0f, 1.0f);
    const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;

    /* fused (r = 0, 1: twice) and separate (r = 2) */
    bnr_out o[3];
    for (int r = 0; r < 3; r++) {
        bnr_out *q = &o[r];
        q->y = tu_alloc(nb), q->dx = tu_alloc(nb);
        q->mean = tu_alloc(cb), q->invstd = tu_alloc(cb), q->rmean = tu_alloc(cb);
        q->rvar = tu_alloc(cb), q->dgamma = tu_alloc(cb), q->dbeta = tu_alloc(cb);
        memcpy(q->rmean, rm0, cb), memcpy(q->rvar, rv0, cb);
        memcpy(q->dgamma, dg0, cb), memcpy(q->dbeta, db0, cb);
        float *rm = running ? q->rmean : NULL, *rv = running ? q->rvar : NULL;
        float *dgo = affine ? q->dgamma : NULL, *dbo = affine ? q->dbeta : NULL;
        if (r < 2) {
            sg_batchnorm_relu_fwd(be, N, C, HW, x, g, b, 1e-5f, 0.1f, rm, rv, q->mean, q->invstd,
                                  q->y);
            sg_batchnorm_relu_bwd(be, N, C, HW, x, q->y, g, q->mean, q->invstd, dy, q->dx, dgo, dbo,
                                  accumulate);
        } else {
            float *masked = tu_alloc(nb);
            sg_batchnorm_fwd_train(be, N, C, HW, x, g, b, 1e-5f, 0.1f, rm, rv, q->mean, q->invstd,
                                   q->y);
            sg_relu_fwd(be, n, q->y, q->y);
            sg_relu_bwd(be, n, q->y, dy, masked);
            sg_batchnorm_bwd(be, N, C, HW, x, g, q->mean, q->invstd, masked, q->dx, dgo, dbo,
                             accumulate);
            free(masked);
        }
    }
    for (int r = 1; r < 3; r++)
        CHECK(same(o[0].y, o[r].y, n) && same(o[0].mean, o[r].mean, C) &&
                  same(o[0].invstd, o[r].invstd, C) && same(o[0].rmean, o[r].rmean, C) &&
                  same(o[0].rvar, o[r].rvar, C) && same(o[0].dx, o[r].dx, n) &&
                  same(o[0].dgamma, o[r].dgamma, C) && same(o[0].dbeta, o[r].dbeta, C),
              "N%d C%d HW%d affine %d running %d acc %d: fused %s", N, C, HW, affine, running,
              accumulate, r == 1 ? "twice differs" : "differs from the separate kernels");
    /* without the affine map every channel's normalised values have mean 0: some are cut */
    int cut = 0;
    for (size_t i = 0; i < n; i++) cut += o[0].y[i] == 0.0f;
    CHECK(affine || (cut > 0 && (size_t)cut < n), "N%d C%d HW%d: the ReLU cut %d of %zu values", N,
          C, HW, cut, n);

    /* the references: forward from x, backward from the kernel's own statistics and output */
    double *xd = tu_alloc(n * 8), *yd = tu_alloc(n * 8), *yk = tu_alloc(n * 8);
    double *dyd = tu_alloc(n * 8), *dxd = tu_alloc(n * 8);
    double *gd = tu_alloc(C * 8), *bd = tu_alloc(C * 8), *md = tu_alloc(C * 8);
    double *isd = tu_alloc(C * 8), *rmd = tu_alloc(C * 8), *rvd = tu_alloc(C * 8);
    double *dgd = tu_alloc(C * 8), *dbd = tu_alloc(C * 8);
    tu_f2d(x, xd, n), tu_f2d(dy, dyd, n), tu_f2d(gamma, gd, C), tu_f2d(beta, bd, C);
    tu_f2d(rm0, rmd, C), tu_f2d(rv0, rvd, C), tu_f2d(dg0, dgd, C), tu_f2d(db0, dbd, C);
    ref_batchnorm_relu_fwd(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, 1e-5, 0.1,
                           running ? rmd : NULL, running ? rvd : NULL, md, isd, yd);
    /* the statistics are sums of N*HW values: their rounding grows like sqrt(N*HW) */
    const double sc = sqrt((double)N * HW);
    CHECK(tu_close_fd("y", o[0].y, yd, n, Y_ATOL * sc, Y_RTOL), "y N%d C%d HW%d", N, C, HW);
    CHECK(tu_close_fd("mean", o[0].mean, md, C, Y_ATOL * sc, Y_RTOL) &&
              tu_close_fd("invstd", o[0].invstd, isd, C, Y_ATOL * sc, Y_RTOL),
          "statistics N%d C%d HW%d", N, C, HW);
    if (running)
        CHECK(tu_close_fd("running mean", o[0].rmean, rmd, C, Y_ATOL * sc, Y_RTOL) &&
                  tu_close_fd("running var", o[0].rvar, rvd, C, Y_ATOL * sc, Y_RTOL),
              "running statistics N%d C%d HW%d", N, C, HW);
    else
        CHECK(same(o[0].rmean, rm0, C) && same(o[0].rvar, rv0, C),
              "no running statistics: their buffers must be left alone");

    tu_f2d(o[0].y, yk, n), tu_f2d(o[0].mean, md, C), tu_f2d(o[0].invstd, isd, C);
    ref_batchnorm_relu_bwd(N, C, HW, xd, yk, affine ? gd : NULL, md, isd, dyd, dxd,
                           affine ? dgd : NULL, affine ? dbd : NULL, accumulate);
    CHECK(tu_close_fd("dx", o[0].dx, dxd, n, DX_ATOL, DX_RTOL), "dx N%d C%d HW%d affine %d", N, C,
          HW, affine);
    if (affine) {
        CHECK(tu_close_fd("dgamma", o[0].dgamma, dgd, C, DP_ATOL * sc, DP_RTOL) &&
                  tu_close_fd("dbeta", o[0].dbeta, dbd, C, DP_ATOL * sc, DP_RTOL),
              "dgamma/dbeta N%d C%d HW%d acc %d", N, C, HW, accumulate);
    } else {
        CHECK(same(o[0].dgamma, dg0, C) && same(o[0].dbeta, db0, C),
              "no affine: dgamma/dbeta buffers must be left alone");
    }

    *keep = o[0];
    out_free(&o[1]), out_free(&o[2]);
    free(x), free(dy), free(gamma), free(beta), free(rm0), free(rv0), free(dg0), free(db0);
    free(xd), free(yd), free(yk), free(dyd), free(dxd), free(gd), free(bd), free(md), free(isd);
    free(rmd), free(rvd), free(dgd), free(dbd);
}

/* dx may alias dy (kernels.h): the in-place call gives the out-of-place bits. */
static void check_in_place(const sg_backend *be, int N, int C, int HW, uint64_t seed) {
    const size_t n = (size_t)N * C * HW, nb = n * sizeof(float), cb = (size_t)C * sizeof(float);
    float *x = tu_alloc(nb), *y = tu_alloc(nb), *dy = tu_alloc(nb), *dx = tu_alloc(nb);
    float *gamma = tu_alloc(cb), *beta = tu_alloc(cb), *mean = tu_alloc(cb), *invstd = tu_alloc(cb);
    float *dg = tu_alloc(cb), *db = tu_alloc(cb), *dg2 = tu_alloc(cb), *db2 = tu_alloc(cb);
    tu_fill(x, n, seed, 1, -1.0f, 2.0f);
    tu_fill(dy, n, seed, 2, -1.0f, 1.0f);
    tu_fill(gamma, C, seed, 3, 0.5f, 1.5f);
    tu_fill(beta, C, seed, 4, -0.5f, 0.5f);
    sg_batchnorm_relu_fwd(be, N, C, HW, x, gamma, beta, 1e-5f, 0.1f, NULL, NULL, mean, invstd, y);
    sg_batchnorm_relu_bwd(be, N, C, HW, x, y, gamma, mean, invstd, dy, dx, dg, db, 0);
    sg_batchnorm_relu_bwd(be, N, C, HW, x, y, gamma, mean, invstd, dy, dy, dg2, db2, 0);
    CHECK(same(dx, dy, n) && same(dg, dg2, C) && same(db, db2, C),
          "N%d C%d HW%d: dx aliasing dy differs", N, C, HW);
    free(x), free(y), free(dy), free(dx), free(gamma), free(beta), free(mean), free(invstd);
    free(dg), free(db), free(dg2), free(db2);
}

/* ---- the reference backward against finite differences ----------------------------------- */

/* f = sum(g .* y), y = the reference fused forward with batch statistics recomputed from x;
 * `which` (0 x, 1 gamma, 2 beta) is the variable tu_gradcheck perturbs. */
typedef struct {
    int N, C, HW, affine, which;
    double *x, *gamma, *beta, *g;
    double *y, *mean, *invstd; /* scratch */
} fd_ctx;

static double objective(const double *v, void *vctx) {
    fd_ctx *c = vctx;
    const double *x = c->which == 0 ? v : c->x;
    const double *gamma = c->which == 1 ? v : c->gamma;
    const double *beta = c->which == 2 ? v : c->beta;
    ref_batchnorm_relu_fwd(c->N, c->C, c->HW, x, c->affine ? gamma : NULL, c->affine ? beta : NULL,
                           1e-5, 0.1, NULL, NULL, c->mean, c->invstd, c->y);
    double f = 0;
    for (size_t i = 0; i < (size_t)c->N * c->C * c->HW; i++) f += c->g[i] * c->y[i];
    return f;
}

/* The ReLU has a kink at 0: a pre-activation within the step h of it would make the central
 * difference straddle the kink, so the inputs are drawn until every |BN output| >= 1e-3 (the
 * objective is smooth in an h-neighbourhood there). */
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
    double *pre = tu_alloc(n * sizeof(double));
    int tries = 0, clear = 0, cut = 0;
    for (; tries < 100 && !clear; tries++, seed += 1000) {
        tu_fill(tmp, n, seed, 1, -1.0f, 2.0f);
        tu_f2d(tmp, c.x, n);
        tu_fill(tmp, C, seed, 3, 0.5f, 1.5f);
        tu_f2d(tmp, c.gamma, C);
        tu_fill(tmp, C, seed, 4, -0.5f, 0.5f);
        tu_f2d(tmp, c.beta, C);
        ref_batchnorm_fwd_train(N, C, HW, c.x, affine ? c.gamma : NULL, affine ? c.beta : NULL,
                                1e-5, 0.1, NULL, NULL, c.mean, c.invstd, pre);
        clear = 1, cut = 0;
        for (size_t i = 0; i < n; i++) {
            clear &= fabs(pre[i]) >= 1e-3;
            cut += pre[i] < 0;
        }
    }
    CHECK(clear && cut > 0, "fd N%d C%d HW%d: no inputs clear of the kink in %d draws", N, C, HW,
          tries);
    tu_fill(tmp, n, seed, 2, -1.0f, 1.0f);
    tu_f2d(tmp, c.g, n);

    /* analytic: the reference backward at the batch statistics and output of x */
    double *dx = tu_alloc(n * sizeof(double));
    double *dgamma = tu_alloc(C * sizeof(double)), *dbeta = tu_alloc(C * sizeof(double));
    c.which = 0;
    (void)objective(c.x, &c);
    ref_batchnorm_relu_bwd(N, C, HW, c.x, c.y, affine ? c.gamma : NULL, c.mean, c.invstd, c.g, dx,
                           affine ? dgamma : NULL, affine ? dbeta : NULL, 0);

    const double h = 1e-6, atol = 1e-7, rtol = 1e-6;
    CHECK(tu_gradcheck("fd dx", objective, &c, c.x, n, dx, h, atol, rtol),
          "ref batchnorm+relu dx vs finite differences N%d C%d HW%d affine %d", N, C, HW, affine);
    if (affine) {
        c.which = 1;
        CHECK(tu_gradcheck("fd dgamma", objective, &c, c.gamma, C, dgamma, h, atol, rtol),
              "ref batchnorm+relu dgamma vs finite differences N%d C%d HW%d", N, C, HW);
        c.which = 2;
        CHECK(tu_gradcheck("fd dbeta", objective, &c, c.beta, C, dbeta, h, atol, rtol),
              "ref batchnorm+relu dbeta vs finite differences N%d C%d HW%d", N, C, HW);
    }
    free(tmp), free(pre), free(c.x), free(c.g), free(c.y), free(c.gamma), free(c.beta);
    free(c.mean), free(c.invstd), free(dx), free(dgamma), free(dbeta);
}

#define NFIXED 5
#define NRANDOM 8
#define NCASES (NFIXED + NRANDOM)

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    fd_check(3, 2, 4, 1, 1);
    fd_check(5, 3, 1, 0, 2); /* (N,C) features, no affine */
    fd_check(2, 2, 3, 0, 3);
    fd_check(4, 2, 1, 1, 4);

    bnr_case cases[NCASES] = {
        {4, 3, 25, -1.0f, 1.0f},   {8, 5, 1, -1.0f, 1.0f}, {16, 70, 1, -1.0f, 2.0f},
        {64, 8, 576, -2.0f, 3.0f}, /* a ResNet layer's planes, threaded */
        {32, 3, 4096, 3.0f, 5.0f}, /* 131k values per channel, mean 4 */
    };
    sg_rng r;
    sg_rng_init(&r, 20251207, 11, 0, 0);
    for (int i = NFIXED; i < NCASES; i++) {
        bnr_case *k = &cases[i];
        k->N = tu_randint(&r, 2, 9);
        k->C = tu_randint(&r, 1, 45);
        k->HW = (i % 2) ? 1 : tu_randint(&r, 2, 70);
        k->xlo = (float)sg_rng_uniform_range(&r, -3, 1);
        k->xhi = k->xlo + (float)sg_rng_uniform_range(&r, 0.5, 4);
    }

    /* [case][affine][mode]: mode 0 running stats and accumulate, 1 neither */
    bnr_out keep[NCASES][2][2];
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (int i = 0; i < NCASES; i++) {
            const bnr_case *k = &cases[i];
            const size_t n = (size_t)k->N * k->C * k->HW;
            for (int affine = 0; affine < 2; affine++)
                for (int mode = 0; mode < 2; mode++) {
                    bnr_out o;
                    check_case(be, k, affine, !mode, !mode, 500 + (uint64_t)i, &o);
                    if (ti == 0) {
                        keep[i][affine][mode] = o;
                        continue;
                    }
                    bnr_out *q = &keep[i][affine][mode];
                    CHECK(same(o.y, q->y, n) && same(o.mean, q->mean, k->C) &&
                              same(o.invstd, q->invstd, k->C) && same(o.rmean, q->rmean, k->C) &&
                              same(o.rvar, q->rvar, k->C) && same(o.dx, q->dx, n) &&
                              same(o.dgamma, q->dgamma, k->C) && same(o.dbeta, q->dbeta, k->C),
                          "N%d C%d HW%d: 1 and 2 threads differ", k->N, k->C, k->HW);
                    out_free(&o);
                    out_free(q);
                }
        }
    }
    check_in_place(be, 16, 6, 49, 77);
    check_in_place(be, 40, 33, 1, 78);

    sg_cost f = sg_cost_batchnorm_relu_fwd(8, 4, 16, 1),
            b = sg_cost_batchnorm_relu_bwd(8, 4, 16, 1);
    CHECK(f.flops > sg_cost_batchnorm_fwd(8, 4, 16, 1).flops &&
              f.bytes == sg_cost_batchnorm_fwd(8, 4, 16, 1).bytes &&
              b.bytes > sg_cost_batchnorm_bwd(8, 4, 16, 1).bytes,
          "batchnorm_relu costs: fwd %g F %g B, bwd %g B", f.flops, f.bytes, b.bytes);
    return test_finish();
}
