/* kernels/opcheck/opcheck_nn.c: the checks of batch norm, relu, add, pooling and the pair loss (see opcheck_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/opcheck/opcheck_internal.h"
#include "kernels/ref/ref.h"

/* ---- batch norm ------------------------------------------------------------------------------ */

typedef struct {
    int N, C, HW, acc;
    float eps, momentum;
    const float *x, *gamma, *beta, *dy;
    float *rmean, *rvar, *mean, *invstd, *y, *dx, *dgamma, *dbeta;
} bn_args;

static void bn_train_call(const sg_backend *be, void *p) {
    bn_args *a = p;
    sg_batchnorm_fwd_train(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->beta),
                            a->eps, a->momentum, OC_DEV(a->rmean), OC_DEV(a->rvar), OC_DEV(a->mean),
                            OC_DEV(a->invstd), OC_DEV(a->y));
}
static void bn_eval_call(const sg_backend *be, void *p) {
    bn_args *a = p;
    sg_batchnorm_fwd_eval(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->beta),
                           a->eps, OC_DEV(a->rmean), OC_DEV(a->rvar), OC_DEV(a->y));
}
static void bn_bwd_call(const sg_backend *be, void *p) {
    bn_args *a = p;
    sg_batchnorm_bwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->mean),
                      OC_DEV(a->invstd), OC_DEV(a->dy), OC_DEV(a->dx), OC_DEV(a->dgamma),
                      OC_DEV(a->dbeta), a->acc);
}

/* x[N,C,HW] with a per-element offset so batch means are far from 0 and variances from 1. */
int oc_batchnorm_fwd_train(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), running = oc_p(r, "running");
    if (running && (double)N * HW < 2)
        return oc_bad_shape(r, "the unbiased running variance needs N*HW >= 2");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *y = OC_F(r, nx), *gamma = OC_F(r, nc), *beta = OC_F(r, nc),
          *rmean = OC_F(r, nc), *rvar = OC_F(r, nc), *mean = OC_F(r, nc), *invstd = OC_F(r, nc);
    double *xd = OC_D(r, nx), *yd = OC_D(r, nx), *gd = OC_D(r, nc), *bd = OC_D(r, nc),
           *rmd = OC_D(r, nc), *rvd = OC_D(r, nc), *md = OC_D(r, nc), *isd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, beta, nc, -0.5f, 0.5f);
    oc_uniform(r, rmean, nc, -1, 1);
    oc_uniform(r, rvar, nc, 0.5f, 1.5f);
    oc_uniform(r, y, nx, -100, 100);
    oc_uniform(r, mean, nc, -100, 100);
    oc_uniform(r, invstd, nc, -100, 100);
    oc_to_double(x, xd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(beta, bd, nc);
    oc_to_double(rmean, rmd, nc);
    oc_to_double(rvar, rvd, nc);
    bn_args a = {.N = N,
                 .C = C,
                 .HW = HW,
                 .eps = 1e-5f,
                 .momentum = 0.1f,
                 .x = x,
                 .gamma = affine ? gamma : NULL,
                 .beta = affine ? beta : NULL,
                 .rmean = running ? rmean : NULL,
                 .rvar = running ? rvar : NULL,
                 .mean = mean,
                 .invstd = invstd,
                 .y = y};
    oc_exec(r, bn_train_call, &a);
    ref_batchnorm_fwd_train(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, a.eps, a.momentum,
                            running ? rmd : NULL, running ? rvd : NULL, md, isd, yd);
    /* statistics are sums of N*HW values of size <= 3 (squares <= 9), normalised by the count:
     * a few ulps of y's O(1) scale, plus the rounding of the sums */
    oc_tol(r, 1e-5 + 2 * EPS32 * sqrt((double)N * HW), 1e-5);
    oc_cmp(r, y, yd, nx);
    oc_cmp(r, mean, md, nc);
    oc_cmp(r, invstd, isd, nc);
    if (running) {
        oc_cmp(r, rmean, rmd, nc);
        oc_cmp(r, rvar, rvd, nc);
    }
    return oc_finish(r, bn_train_call, NULL, &a);
}

int oc_batchnorm_fwd_eval(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW"), affine = oc_p(r, "affine");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *y = OC_F(r, nx), *gamma = OC_F(r, nc), *beta = OC_F(r, nc),
          *rmean = OC_F(r, nc), *rvar = OC_F(r, nc);
    double *xd = OC_D(r, nx), *yd = OC_D(r, nx), *gd = OC_D(r, nc), *bd = OC_D(r, nc),
           *rmd = OC_D(r, nc), *rvd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, beta, nc, -0.5f, 0.5f);
    oc_uniform(r, rmean, nc, -1, 1);
    oc_uniform(r, rvar, nc, 0.5f, 1.5f);
    oc_uniform(r, y, nx, -100, 100);
    oc_to_double(x, xd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(beta, bd, nc);
    oc_to_double(rmean, rmd, nc);
    oc_to_double(rvar, rvd, nc);
    bn_args a = {.N = N,
                 .C = C,
                 .HW = HW,
                 .eps = 1e-5f,
                 .x = x,
                 .gamma = affine ? gamma : NULL,
                 .beta = affine ? beta : NULL,
                 .rmean = rmean,
                 .rvar = rvar,
                 .y = y};
    oc_exec(r, bn_eval_call, &a);
    ref_batchnorm_fwd_eval(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, a.eps, rmd, rvd,
                           yd);
    oc_tol(r, 1e-6, 1e-6); /* elementwise: a few ulps of |y| <= ~6 */
    oc_cmp(r, y, yd, nx);
    return oc_finish(r, bn_eval_call, NULL, &a);
}

/* mean/invstd are the reference's statistics of x (rounded to float, given to both); dy is
 * random plus 0.3 x, so that mean(dy) and mean(dy * xhat) are far from 0 and a kernel that
 * drops either term of the gradient fails at any batch size. */
int oc_batchnorm_bwd(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), acc = oc_p(r, "acc");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *dy = OC_F(r, nx), *dx = OC_F(r, nx), *gamma = OC_F(r, nc),
          *mean = OC_F(r, nc), *invstd = OC_F(r, nc), *dgamma = OC_F(r, nc), *dbeta = OC_F(r, nc);
    double *xd = OC_D(r, nx), *dyd = OC_D(r, nx), *dxd = OC_D(r, nx), *gd = OC_D(r, nc),
           *md = OC_D(r, nc), *isd = OC_D(r, nc), *dgd = OC_D(r, nc), *dbd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, dy, nx, -1, 1);
    for (size_t i = 0; i < nx; i++) dy[i] += 0.3f * x[i];
    oc_uniform(r, dx, nx, -100, 100);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, dgamma, nc, -1, 1);
    oc_uniform(r, dbeta, nc, -1, 1);
    oc_to_double(x, xd, nx);
    /* the statistics, through the reference forward (dxd serves as its throwaway y) */
    ref_batchnorm_fwd_train(N, C, HW, xd, NULL, NULL, 1e-5, 0.1, NULL, NULL, md, isd, dxd);
    for (size_t c = 0; c < nc; c++) {
        mean[c] = (float)md[c];
        invstd[c] = (float)isd[c];
    }
    oc_to_double(mean, md, nc);
    oc_to_double(invstd, isd, nc);
    oc_to_double(dy, dyd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(dgamma, dgd, nc);
    oc_to_double(dbeta, dbd, nc);
    bn_args a = {.N = N,
                 .C = C,
                 .HW = HW,
                 .acc = acc,
                 .x = x,
                 .gamma = affine ? gamma : NULL,
                 .mean = mean,
                 .invstd = invstd,
                 .dy = dy,
                 .dx = dx,
                 .dgamma = affine ? dgamma : NULL,
                 .dbeta = affine ? dbeta : NULL};
    oc_exec(r, bn_bwd_call, &a);
    ref_batchnorm_bwd(N, C, HW, xd, affine ? gd : NULL, md, isd, dyd, dxd, affine ? dgd : NULL,
                      affine ? dbd : NULL, acc);
    /* dgamma and dbeta are sums of N*HW terms with a nonzero mean, so of size ~N*HW: their
     * rounding is relative (rtol); dx is O(1), through means of those sums */
    oc_tol(r, 1e-5 + 2 * EPS32 * sqrt((double)N * HW), 2e-5);
    oc_cmp(r, dx, dxd, nx);
    if (affine) {
        oc_cmp(r, dgamma, dgd, nc);
        oc_cmp(r, dbeta, dbd, nc);
    }
    return oc_finish(r, bn_bwd_call, NULL, &a);
}

/* ---- batch norm then ReLU, fused ------------------------------------------------------------- */

typedef struct {
    bn_args f;  /* the fused call's arguments (f.y: its output) */
    float *yin; /* backward: the forward's output, whose sign masks dy */
    /* the same work as batchnorm_fwd_train (or relu_bwd) then relu_fwd (or batchnorm_bwd), on
     * buffers of its own: its outputs and its copies of the in-place ones */
    float *rmean2, *rvar2, *mean2, *invstd2, *y2, *dx2, *dgamma2, *dbeta2, *dyr;
} bnr_args;

static void bn_relu_train_call(const sg_backend *be, void *p) {
    bn_args *a = &((bnr_args *)p)->f;
    sg_batchnorm_relu_fwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma),
                                OC_DEV(a->beta), a->eps, a->momentum, OC_DEV(a->rmean),
                                OC_DEV(a->rvar), OC_DEV(a->mean), OC_DEV(a->invstd), OC_DEV(a->y));
}
static void bn_then_relu_call(const sg_backend *be, void *p) {
    bnr_args *b = p;
    bn_args *a = &b->f;
    sg_batchnorm_fwd_train(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->beta),
                           a->eps, a->momentum, OC_DEV(b->rmean2), OC_DEV(b->rvar2),
                           OC_DEV(b->mean2), OC_DEV(b->invstd2), OC_DEV(b->y2));
    sg_relu_fwd(be, (size_t)a->N * a->C * a->HW, OC_DEV(b->y2), OC_DEV(b->y2));
}
static void bn_relu_bwd_call(const sg_backend *be, void *p) {
    bnr_args *b = p;
    bn_args *a = &b->f;
    sg_batchnorm_relu_bwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(b->yin), OC_DEV(a->gamma),
                          OC_DEV(a->mean), OC_DEV(a->invstd), OC_DEV(a->dy), OC_DEV(a->dx),
                          OC_DEV(a->dgamma), OC_DEV(a->dbeta), a->acc);
}
static void relu_then_bn_bwd_call(const sg_backend *be, void *p) {
    bnr_args *b = p;
    bn_args *a = &b->f;
    sg_relu_bwd(be, (size_t)a->N * a->C * a->HW, OC_DEV(b->yin), OC_DEV(a->dy), OC_DEV(b->dyr));
    sg_batchnorm_bwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->mean),
                     OC_DEV(a->invstd), OC_DEV(b->dyr), OC_DEV(b->dx2), OC_DEV(b->dgamma2),
                     OC_DEV(b->dbeta2), a->acc);
}

/* Float outputs that must equal another kernel's bit for bit (a NaN only where it has one). */
static void oc_cmp_same(oc_run *r, const float *got, const float *want, double *scratch,
                        size_t n) {
    oc_to_double(want, scratch, n);
    oc_tol(r, 0, 0);
    oc_cmp(r, got, scratch, n);
}

/* As batchnorm_fwd_train's check (beta in [-0.5, 0.5] puts about half of y below 0), against
 * the reference; then against batchnorm_fwd_train followed by relu_fwd on the same backend,
 * which must give the same bits in every output (the in-place running statistics start equal). */
int oc_batchnorm_relu_fwd(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), running = oc_p(r, "running");
    if (running && (double)N * HW < 2)
        return oc_bad_shape(r, "the unbiased running variance needs N*HW >= 2");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *y = OC_F(r, nx), *gamma = OC_F(r, nc), *beta = OC_F(r, nc),
          *rmean = OC_F(r, nc), *rvar = OC_F(r, nc), *mean = OC_F(r, nc), *invstd = OC_F(r, nc),
          *y2 = OC_F(r, nx), *rmean2 = OC_F(r, nc), *rvar2 = OC_F(r, nc), *mean2 = OC_F(r, nc),
          *invstd2 = OC_F(r, nc);
    double *xd = OC_D(r, nx), *yd = OC_D(r, nx), *gd = OC_D(r, nc), *bd = OC_D(r, nc),
           *rmd = OC_D(r, nc), *rvd = OC_D(r, nc), *md = OC_D(r, nc), *isd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, beta, nc, -0.5f, 0.5f);
    oc_uniform(r, rmean, nc, -1, 1);
    oc_uniform(r, rvar, nc, 0.5f, 1.5f);
    oc_uniform(r, y, nx, -100, 100);
    oc_uniform(r, mean, nc, -100, 100);
    oc_uniform(r, invstd, nc, -100, 100);
    memcpy(rmean2, rmean, nc * sizeof(float));
    memcpy(rvar2, rvar, nc * sizeof(float));
    oc_uniform(r, y2, nx, -100, 100);
    oc_uniform(r, mean2, nc, -100, 100);
    oc_uniform(r, invstd2, nc, -100, 100);
    oc_to_double(x, xd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(beta, bd, nc);
    oc_to_double(rmean, rmd, nc);
    oc_to_double(rvar, rvd, nc);
    bnr_args a = {.f = {.N = N,
                        .C = C,
                        .HW = HW,
                        .eps = 1e-5f,
                        .momentum = 0.1f,
                        .x = x,
                        .gamma = affine ? gamma : NULL,
                        .beta = affine ? beta : NULL,
                        .rmean = running ? rmean : NULL,
                        .rvar = running ? rvar : NULL,
                        .mean = mean,
                        .invstd = invstd,
                        .y = y},
                  .rmean2 = running ? rmean2 : NULL,
                  .rvar2 = running ? rvar2 : NULL,
                  .mean2 = mean2,
                  .invstd2 = invstd2,
                  .y2 = y2};
    oc_exec(r, bn_relu_train_call, &a);
    oc_exec(r, bn_then_relu_call, &a);
    ref_batchnorm_relu_fwd(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, a.f.eps,
                                 a.f.momentum, running ? rmd : NULL, running ? rvd : NULL, md, isd,
                                 yd);
    /* the tolerance of batchnorm_fwd_train's check: the ReLU adds no rounding */
    oc_tol(r, 1e-5 + 2 * EPS32 * sqrt((double)N * HW), 1e-5);
    oc_cmp(r, y, yd, nx);
    oc_cmp(r, mean, md, nc);
    oc_cmp(r, invstd, isd, nc);
    if (running) {
        oc_cmp(r, rmean, rmd, nc);
        oc_cmp(r, rvar, rvd, nc);
    }
    /* the two kernels' bits (the reference's buffers are done with and serve as scratch) */
    oc_cmp_same(r, y, y2, yd, nx);
    oc_cmp_same(r, mean, mean2, md, nc);
    oc_cmp_same(r, invstd, invstd2, isd, nc);
    if (running) {
        oc_cmp_same(r, rmean, rmean2, rmd, nc);
        oc_cmp_same(r, rvar, rvar2, rvd, nc);
    }
    /* the timed call runs on the updated running statistics: any values do */
    return oc_finish(r, bn_relu_train_call, NULL, &a);
}

/* x, dy, mean and invstd as in batchnorm_bwd's check; y is the forward's output for them,
 * relu((x - mean) * invstd * gamma + beta) with beta in [-0.5, 0.5], so the ReLU stops the
 * gradient of about half of the elements and a kernel that ignores it, or masks at the wrong
 * element, fails. Against the reference, then against relu_bwd followed by batchnorm_bwd on the
 * same backend, bit for bit (dgamma and dbeta start equal when accumulating). */
int oc_batchnorm_relu_bwd(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), acc = oc_p(r, "acc");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *yin = OC_F(r, nx), *dy = OC_F(r, nx), *dx = OC_F(r, nx),
          *gamma = OC_F(r, nc), *beta = OC_F(r, nc), *mean = OC_F(r, nc), *invstd = OC_F(r, nc),
          *dgamma = OC_F(r, nc), *dbeta = OC_F(r, nc), *dx2 = OC_F(r, nx), *dyr = OC_F(r, nx),
          *dgamma2 = OC_F(r, nc), *dbeta2 = OC_F(r, nc);
    double *xd = OC_D(r, nx), *yd = OC_D(r, nx), *dyd = OC_D(r, nx), *dxd = OC_D(r, nx),
           *gd = OC_D(r, nc), *md = OC_D(r, nc), *isd = OC_D(r, nc), *dgd = OC_D(r, nc),
           *dbd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, dy, nx, -1, 1);
    for (size_t i = 0; i < nx; i++) dy[i] += 0.3f * x[i];
    oc_uniform(r, dx, nx, -100, 100);
    oc_uniform(r, dx2, nx, -100, 100);
    oc_uniform(r, dyr, nx, -100, 100);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, beta, nc, -0.5f, 0.5f);
    oc_uniform(r, dgamma, nc, -1, 1);
    oc_uniform(r, dbeta, nc, -1, 1);
    memcpy(dgamma2, dgamma, nc * sizeof(float));
    memcpy(dbeta2, dbeta, nc * sizeof(float));
    oc_to_double(x, xd, nx);
    ref_batchnorm_fwd_train(N, C, HW, xd, NULL, NULL, 1e-5, 0.1, NULL, NULL, md, isd, dxd);
    for (size_t c = 0; c < nc; c++) {
        mean[c] = (float)md[c];
        invstd[c] = (float)isd[c];
    }
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                const size_t at = ((size_t)n * C + c) * HW + i;
                const float g = affine ? gamma[c] : 1.0f, b = affine ? beta[c] : 0.0f;
                const float v = (x[at] - mean[c]) * invstd[c] * g + b;
                yin[at] = v > 0 ? v : 0;
            }
    oc_to_double(mean, md, nc);
    oc_to_double(invstd, isd, nc);
    oc_to_double(yin, yd, nx);
    oc_to_double(dy, dyd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(dgamma, dgd, nc);
    oc_to_double(dbeta, dbd, nc);
    bnr_args a = {.f = {.N = N,
                        .C = C,
                        .HW = HW,
                        .acc = acc,
                        .x = x,
                        .gamma = affine ? gamma : NULL,
                        .mean = mean,
                        .invstd = invstd,
                        .dy = dy,
                        .dx = dx,
                        .dgamma = affine ? dgamma : NULL,
                        .dbeta = affine ? dbeta : NULL},
                  .yin = yin,
                  .dx2 = dx2,
                  .dyr = dyr,
                  .dgamma2 = affine ? dgamma2 : NULL,
                  .dbeta2 = affine ? dbeta2 : NULL};
    oc_exec(r, bn_relu_bwd_call, &a);
    oc_exec(r, relu_then_bn_bwd_call, &a);
    ref_batchnorm_relu_bwd(N, C, HW, xd, yd, affine ? gd : NULL, md, isd, dyd, dxd,
                           affine ? dgd : NULL, affine ? dbd : NULL, acc);
    /* the tolerance of batchnorm_bwd's check: the mask adds no rounding */
    oc_tol(r, 1e-5 + 2 * EPS32 * sqrt((double)N * HW), 2e-5);
    oc_cmp(r, dx, dxd, nx);
    if (affine) {
        oc_cmp(r, dgamma, dgd, nc);
        oc_cmp(r, dbeta, dbd, nc);
    }
    oc_cmp_same(r, dx, dx2, dxd, nx);
    if (affine) {
        oc_cmp_same(r, dgamma, dgamma2, dgd, nc);
        oc_cmp_same(r, dbeta, dbeta2, dbd, nc);
    }
    return oc_finish(r, bn_relu_bwd_call, NULL, &a);
}

/* ---- synchronised batch norm ----------------------------------------------------------------- */

typedef struct {
    int N, C, HW;
    double M;
    const float *x, *center, *gamma, *mean, *invstd, *dy;
    const double *sums_in;
    double *sums;
    float *dx;
    /* the one-rank identity: sums of this batch around its own statistics, applied, against
     * batchnorm_bwd */
    const float *mean_l, *invstd_l;
    double *sums_l;
    float *dx_a, *dx_b;
} sbn_args;

static void bn_sums_call(const sg_backend *be, void *p) {
    sbn_args *a = p;
    sg_batchnorm_sums(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->center), OC_DEV(a->dy),
                      OC_DEV(a->sums));
}
static void bn_bwd_apply_call(const sg_backend *be, void *p) {
    sbn_args *a = p;
    sg_batchnorm_bwd_apply(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->mean),
                           OC_DEV(a->invstd), OC_DEV(a->dy), OC_DEV(a->sums_in), a->M,
                           OC_DEV(a->dx));
}
/* one rank: batchnorm_sums(dy, center = mean) -> batchnorm_bwd_apply(M = N*HW) into dx_a, and
 * batchnorm_bwd into dx_b, on the same inputs */
static void bn_one_rank_call(const sg_backend *be, void *p) {
    sbn_args *a = p;
    sg_batchnorm_sums(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->mean_l), OC_DEV(a->dy),
                      OC_DEV(a->sums_l));
    sg_batchnorm_bwd_apply(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->mean_l),
                           OC_DEV(a->invstd_l), OC_DEV(a->dy), OC_DEV(a->sums_l),
                           (double)a->N * a->HW, OC_DEV(a->dx_a));
    sg_batchnorm_bwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->mean_l),
                     OC_DEV(a->invstd_l), OC_DEV(a->dy), OC_DEV(a->dx_b), NULL, NULL, 0);
}

/* Random garbage in a double output (the backend must overwrite it). */
static void oc_garbage_d(oc_run *r, double *out, size_t n) {
    sg_rng g = oc_stream(r);
    for (size_t i = 0; i < n; i++) out[i] = 200.0 * ((double)sg_rng_u32(&g) / 4294967296.0 - 0.5);
}

/* Batch statistics of x[N,C,HW] in double, rounded to float as batchnorm_fwd_train saves them
 * (biased variance, eps 1e-5); any N*HW >= 1 (one value: variance 0). */
static void oc_bn_stats(int N, int C, int HW, const double *x, float *mean, float *invstd) {
    const double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double s = 0, q = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) s += x[((size_t)n * C + c) * HW + i];
        const double m = s / M;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                const double d = x[((size_t)n * C + c) * HW + i] - m;
                q += d * d;
            }
        mean[c] = (float)m;
        invstd[c] = (float)(1.0 / sqrt(q / M + 1e-5));
    }
}

/* The largest k*B over the elements of x[N,C,HW], k = |gamma| invstd and
 * B = |dy| + |sums[c]/M| + |x - mean| invstd^2 |sums[C+c]|/M: every intermediate of
 * dx = k*((dy - mean_dy) - (x - mean)*q), scaled by k, is at most k*B. */
static double oc_bn_apply_scale(int N, int C, int HW, const double *x, const double *gamma,
                                const double *mean, const double *invstd, const double *dy,
                                const double *sums, double M) {
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            const double k = fabs(gamma ? gamma[c] : 1.0) * invstd[c];
            const double mdy = fabs(sums[c] / M), q = invstd[c] * invstd[c] * fabs(sums[C + c]) / M;
            for (int i = 0; i < HW; i++) {
                const size_t at = ((size_t)n * C + c) * HW + i;
                const double b = k * (fabs(dy[at]) + mdy + fabs(x[at] - mean[c]) * q);
                if (b > worst) worst = b;
            }
        }
    return worst;
}

/* x in [-2, 3], center in [-1, 1] (the modes center=0 sums around 0), dy random plus 0.3 x as
 * in batchnorm_bwd's check. */
int oc_batchnorm_sums(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int with_center = oc_p(r, "center"), with_dy = oc_p(r, "dy");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *dy = OC_F(r, nx), *center = OC_F(r, nc);
    double *sums = OC_BACKEND(r, 2 * nc, sizeof(double));
    double *xd = OC_D(r, nx), *dyd = OC_D(r, nx), *cd = OC_D(r, nc), *sd = OC_D(r, 2 * nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, dy, nx, -1, 1);
    for (size_t i = 0; i < nx; i++) dy[i] += 0.3f * x[i];
    oc_uniform(r, center, nc, -1, 1);
    oc_garbage_d(r, sums, 2 * nc);
    oc_to_double(x, xd, nx);
    oc_to_double(dy, dyd, nx);
    oc_to_double(center, cd, nc);
    sbn_args a = {.N = N,
                  .C = C,
                  .HW = HW,
                  .x = x,
                  .center = with_center ? center : NULL,
                  .dy = with_dy ? dy : NULL,
                  .sums = sums};
    oc_exec(r, bn_sums_call, &a);
    ref_batchnorm_sums(N, C, HW, xd, with_center ? cd : NULL, with_dy ? dyd : NULL, sd);
    /* Sums of n = N*HW terms in double, of the float inputs (exact in double), each term at
     * most t (t1 for the first sum, t2 for the second, measured). As the float checks do with
     * float's epsilon: atol = 2 eps64 t n for the rounding of the mixed-sign sums, and
     * rtol = 2 eps64 n for the same-sign ones (squares), whose rounding is relative: any
     * summation order of n terms is within (n-1) eps64/2 sum|terms| (Higham 4.2). A dropped,
     * doubled or uncentred term moves a sum by O(t), far beyond either for any n < 1e12. */
    double t1 = 0, t2 = 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                const size_t at = ((size_t)n * C + c) * HW + i;
                const double d = xd[at] - (with_center ? cd[c] : 0.0);
                const double u = with_dy ? fabs(dyd[at]) : fabs(d);
                const double v = with_dy ? fabs(dyd[at] * d) : d * d;
                if (u > t1) t1 = u;
                if (v > t2) t2 = v;
            }
    const double n = (double)N * HW, eps64 = DBL_EPSILON;
    oc_tol(r, 2 * eps64 * t1 * n, 2 * eps64 * n);
    oc_cmp_dd(r, sums, sd, nc);
    oc_tol(r, 2 * eps64 * t2 * n, 2 * eps64 * n);
    oc_cmp_dd(r, sums + nc, sd + nc, nc);
    return oc_finish(r, bn_sums_call, NULL, &a);
}

/* `ranks` batches of N samples: x[ranks*N, C, HW] in [-2, 3] and dy random plus 0.3 x (so both
 * sums are far from 0); mean/invstd are the statistics over every rank's batch (rounded to
 * float) and the sums are the reference's over every rank, given to the kernel as the caller's
 * cross-rank reduction would; the kernel applies them to rank 0's batch (the first N samples)
 * with M = ranks*N*HW. Then the one-rank identity on rank 0's batch alone: batchnorm_sums(dy,
 * center = its mean) fed to batchnorm_bwd_apply with M = N*HW gives batchnorm_bwd's dx. */
int oc_batchnorm_bwd_apply(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), ranks = oc_p(r, "ranks");
    size_t na = oc_n(r, (double)ranks * N, C, HW, 1), nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, na), *dy = OC_F(r, na), *dx = OC_F(r, nx), *gamma = OC_F(r, nc),
          *mean = OC_F(r, nc), *invstd = OC_F(r, nc), *mean_l = OC_F(r, nc),
          *invstd_l = OC_F(r, nc), *dx_a = OC_F(r, nx), *dx_b = OC_F(r, nx);
    double *sums = OC_BACKEND(r, 2 * nc, sizeof(double));
    double *sums_l = OC_BACKEND(r, 2 * nc, sizeof(double));
    double *xd = OC_D(r, na), *dyd = OC_D(r, na), *dxd = OC_D(r, nx), *dxbd = OC_D(r, nx),
           *gd = OC_D(r, nc), *md = OC_D(r, nc), *isd = OC_D(r, nc), *mld = OC_D(r, nc),
           *isld = OC_D(r, nc), *sld = OC_D(r, 2 * nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, na, -2, 3);
    oc_uniform(r, dy, na, -1, 1);
    for (size_t i = 0; i < na; i++) dy[i] += 0.3f * x[i];
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, dx, nx, -100, 100);
    oc_uniform(r, dx_a, nx, -100, 100);
    oc_uniform(r, dx_b, nx, -100, 100);
    oc_garbage_d(r, sums_l, 2 * nc);
    oc_to_double(x, xd, na);
    oc_to_double(dy, dyd, na);
    oc_to_double(gamma, gd, nc);
    /* statistics over every rank, and rank 0's own */
    oc_bn_stats(ranks * N, C, HW, xd, mean, invstd);
    oc_bn_stats(N, C, HW, xd, mean_l, invstd_l);
    oc_to_double(mean, md, nc);
    oc_to_double(invstd, isd, nc);
    oc_to_double(mean_l, mld, nc);
    oc_to_double(invstd_l, isld, nc);
    ref_batchnorm_sums(ranks * N, C, HW, xd, md, dyd, sums);
    sbn_args a = {.N = N,
                  .C = C,
                  .HW = HW,
                  .M = (double)ranks * N * HW,
                  .x = x,
                  .gamma = affine ? gamma : NULL,
                  .mean = mean,
                  .invstd = invstd,
                  .dy = dy,
                  .sums_in = sums,
                  .dx = dx,
                  .mean_l = mean_l,
                  .invstd_l = invstd_l,
                  .sums_l = sums_l,
                  .dx_a = dx_a,
                  .dx_b = dx_b};

    /* dx is elementwise from per-channel coefficients (the sums are given, exact): k, mean_dy
     * and q rounded to float, then x - mean, *q, dy - mean_dy, the difference and *k, eight
     * roundings of eps32/2 of values at most k*B (oc_bn_apply_scale): 4 eps32 max(k*B) in all,
     * and atol = 8 eps32 max(k*B) leaves a factor 2. Scaling with k keeps the bound honest where
     * a channel's spread is tiny and invstd large. A lost term moves dx by O(k*B). */
    oc_exec(r, bn_one_rank_call, &a);
    ref_batchnorm_sums(N, C, HW, xd, mld, dyd, sld);
    const double scale_l =
        oc_bn_apply_scale(N, C, HW, xd, affine ? gd : NULL, mld, isld, dyd, sld, (double)N * HW);
    /* both dx are within 8 eps32 max(k*B) of the exact value (the sums' double rounding is
     * negligible next to float's): they agree within twice that */
    oc_to_double(dx_b, dxbd, nx);
    oc_tol(r, 16 * EPS32 * scale_l, 0);
    oc_cmp(r, dx_a, dxbd, nx);

    oc_exec(r, bn_bwd_apply_call, &a);
    ref_batchnorm_bwd_apply(N, C, HW, xd, affine ? gd : NULL, md, isd, dyd, sums, a.M, dxd);
    const double scale =
        oc_bn_apply_scale(N, C, HW, xd, affine ? gd : NULL, md, isd, dyd, sums, a.M);
    oc_tol(r, 8 * EPS32 * scale, 0);
    oc_cmp(r, dx, dxd, nx);
    return oc_finish(r, bn_bwd_apply_call, NULL, &a);
}

/* ---- elementwise and pooling ----------------------------------------------------------------- */

typedef struct {
    size_t n;
    int acc;
    const float *a, *b, *dy, *y;
    float *out, *out2;
} ew_args;

static void relu_fwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    sg_relu_fwd(be, e->n, OC_DEV(e->a), OC_DEV(e->out));
}
static void relu_bwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    sg_relu_bwd(be, e->n, OC_DEV(e->y), OC_DEV(e->dy), OC_DEV(e->out));
}
static void add_fwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    sg_add_fwd(be, e->n, OC_DEV(e->a), OC_DEV(e->b), OC_DEV(e->out));
}
static void add_bwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    sg_add_bwd(be, e->n, OC_DEV(e->dy), OC_DEV(e->out), OC_DEV(e->out2), e->acc);
}

/* inplace = 1: y aliases x (allowed by the interface). */
int oc_relu_fwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int inplace = oc_p(r, "inplace");
    float *x = OC_F(r, n), *y = OC_F(r, n);
    double *xd = OC_D(r, n), *yd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, n, -1, 1);
    oc_uniform(r, y, n, -100, 100);
    oc_to_double(x, xd, n);
    ew_args e = {.n = n, .a = x, .out = inplace ? x : y};
    oc_exec(r, relu_fwd_call, &e);
    ref_relu_fwd(n, xd, yd);
    oc_tol(r, 0, 0); /* exact */
    oc_cmp(r, e.out, yd, n);
    return oc_finish(r, relu_fwd_call, NULL, &e);
}

/* y = relu(random), so it holds exact zeros where the gradient must stop; inplace = 1: dx
 * aliases dy. */
int oc_relu_bwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int inplace = oc_p(r, "inplace");
    float *y = OC_F(r, n), *dy = OC_F(r, n), *dx = OC_F(r, n);
    double *yd = OC_D(r, n), *dyd = OC_D(r, n), *dxd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, y, n, -1, 1);
    for (size_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
    oc_uniform(r, dy, n, -1, 1);
    oc_uniform(r, dx, n, -100, 100);
    oc_to_double(y, yd, n);
    oc_to_double(dy, dyd, n);
    ew_args e = {.n = n, .y = y, .dy = dy, .out = inplace ? dy : dx};
    oc_exec(r, relu_bwd_call, &e);
    ref_relu_bwd(n, yd, dyd, dxd);
    oc_tol(r, 0, 0); /* exact */
    oc_cmp(r, e.out, dxd, n);
    return oc_finish(r, relu_bwd_call, NULL, &e);
}

/* inplace = 1: y aliases a; 2: y aliases b. */
int oc_add_fwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int inplace = oc_p(r, "inplace");
    float *a = OC_F(r, n), *b = OC_F(r, n), *y = OC_F(r, n);
    double *ad = OC_D(r, n), *bd = OC_D(r, n), *yd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, a, n, -1, 1);
    oc_uniform(r, b, n, -1, 1);
    oc_uniform(r, y, n, -100, 100);
    oc_to_double(a, ad, n);
    oc_to_double(b, bd, n);
    ew_args e = {.n = n, .a = a, .b = b, .out = inplace == 1 ? a : inplace == 2 ? b : y};
    oc_exec(r, add_fwd_call, &e);
    ref_add_fwd(n, ad, bd, yd);
    oc_tol(r, 0, EPS32); /* one float rounding: half an ulp of the exact sum */
    oc_cmp(r, e.out, yd, n);
    return oc_finish(r, add_fwd_call, NULL, &e);
}

/* db = 0 passes NULL for db (only da wanted). */
int oc_add_bwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int want_db = oc_p(r, "db"), acc = oc_p(r, "acc");
    float *dy = OC_F(r, n), *da = OC_F(r, n), *db = OC_F(r, n);
    double *dyd = OC_D(r, n), *dad = OC_D(r, n), *dbd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, dy, n, -1, 1);
    oc_uniform(r, da, n, -1, 1); /* accumulated into when acc = 1 */
    oc_uniform(r, db, n, -1, 1);
    oc_to_double(dy, dyd, n);
    oc_to_double(da, dad, n);
    oc_to_double(db, dbd, n);
    ew_args e = {.n = n, .acc = acc, .dy = dy, .out = da, .out2 = want_db ? db : NULL};
    oc_exec(r, add_bwd_call, &e);
    ref_add_bwd(n, dyd, dad, want_db ? dbd : NULL, acc);
    oc_tol(r, 0, EPS32); /* a copy, or one float addition */
    oc_cmp(r, da, dad, n);
    if (want_db) oc_cmp(r, db, dbd, n);
    return oc_finish(r, add_bwd_call, NULL, &e);
}

typedef struct {
    sg_pool_shape s;
    int N, C, HW;
    const float *x, *dy;
    const int32_t *argmax_in;
    float *y, *dx;
    int32_t *argmax;
} pool_args;

static void maxpool_fwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    sg_maxpool_fwd(be, &a->s, OC_DEV(a->x), OC_DEV(a->y), OC_DEV(a->argmax));
}
static void maxpool_bwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    sg_maxpool_bwd(be, &a->s, OC_DEV(a->dy), OC_DEV(a->argmax_in), OC_DEV(a->dx));
}
static void avgpool_fwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    sg_avgpool_global_fwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->y));
}
static void avgpool_bwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    sg_avgpool_global_bwd(be, a->N, a->C, a->HW, OC_DEV(a->dy), OC_DEV(a->dx));
}

static int oc_pool_shape(oc_run *r, sg_pool_shape *s) {
    int H = oc_p(r, "H"), W = oc_p(r, "W"), k = oc_p(r, "k"), pad = oc_p(r, "pad");
    if (pad >= k) return oc_bad_shape(r, "pad must be smaller than the window k");
    if ((double)H + 2.0 * pad < k || (double)W + 2.0 * pad < k)
        return oc_bad_shape(r, "the window k is larger than the padded input");
    *s = sg_pool_shape_make(oc_p(r, "N"), oc_p(r, "C"), H, W, k, oc_p(r, "stride"), pad);
    return 0;
}

/* Random x has no ties, so argmax is unique and must match exactly. */
int oc_maxpool_fwd(oc_run *r) {
    pool_args a = {0};
    if (oc_pool_shape(r, &a.s)) return -1;
    const sg_pool_shape *s = &a.s;
    size_t nx = oc_n(r, s->N, s->C, s->H, s->W), ny = oc_n(r, s->N, s->C, s->P, s->Q);
    float *x = OC_F(r, nx), *y = OC_F(r, ny);
    int32_t *am = OC_BACKEND(r, ny, sizeof(int32_t)), *amd = OC_HOST(r, ny, sizeof(int32_t));
    double *xd = OC_D(r, nx), *yd = OC_D(r, ny);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -1, 1);
    /* on a grid of 9 values: windows hold equal maxima, so the tie rule (the first in row-major
     * window order) is checked, not only the max */
    for (size_t i = 0; i < nx; i++) x[i] = roundf(x[i] * 4.0f) / 4.0f;
    oc_uniform(r, y, ny, -100, 100);
    for (size_t i = 0; i < ny; i++) am[i] = -7;
    oc_to_double(x, xd, nx);
    a.x = x, a.y = y, a.argmax = am;
    oc_exec(r, maxpool_fwd_call, &a);
    ref_maxpool_fwd(s, xd, yd, amd);
    oc_tol(r, 0, 0); /* a max is exact */
    oc_cmp(r, y, yd, ny);
    oc_cmp_i32(r, am, amd, ny);
    return oc_finish(r, maxpool_fwd_call, NULL, &a);
}

/* argmax from the reference forward on random x; overlapping windows (k > stride) make dx sum
 * several dy. */
int oc_maxpool_bwd(oc_run *r) {
    pool_args a = {0};
    if (oc_pool_shape(r, &a.s)) return -1;
    const sg_pool_shape *s = &a.s;
    size_t nx = oc_n(r, s->N, s->C, s->H, s->W), ny = oc_n(r, s->N, s->C, s->P, s->Q);
    float *dy = OC_F(r, ny), *dx = OC_F(r, nx);
    int32_t *am = OC_BACKEND(r, ny, sizeof(int32_t));
    double *xd = OC_D(r, nx), *yd = OC_D(r, ny), *dyd = OC_D(r, ny), *dxd = OC_D(r, nx);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, dx, nx, -1, 1); /* x first, through dx's buffer, then garbage for dx */
    oc_to_double(dx, xd, nx);
    ref_maxpool_fwd(s, xd, yd, am);
    oc_uniform(r, dx, nx, -100, 100);
    oc_uniform(r, dy, ny, -1, 1);
    oc_to_double(dy, dyd, ny);
    a.dy = dy, a.argmax_in = am, a.dx = dx;
    oc_exec(r, maxpool_bwd_call, &a);
    ref_maxpool_bwd(s, dyd, am, dxd);
    double overlap = ceil((double)s->k / s->stride);
    oc_tol(r, 2 * EPS32 * overlap * overlap, 0); /* sums of at most ceil(k/stride)^2 dy */
    oc_cmp(r, dx, dxd, nx);
    return oc_finish(r, maxpool_bwd_call, NULL, &a);
}

/* Global average pooling, forward (x[N,C,HW] -> y[N,C]) or backward (dy[N,C] -> dx[N,C,HW]):
 * the input random, the output garbage, both passes through the same set-up. */
static int op_avgpool(oc_run *r, int bwd) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    size_t nx = oc_n(r, N, C, HW, 1), ny = oc_n(r, N, C, 1, 1);
    size_t nin = bwd ? ny : nx, nout = bwd ? nx : ny;
    float *in = OC_F(r, nin), *out = OC_F(r, nout);
    double *ind = OC_D(r, nin), *outd = OC_D(r, nout);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, in, nin, -1, 1);
    oc_uniform(r, out, nout, -100, 100);
    oc_to_double(in, ind, nin);
    pool_args a = {.N = N, .C = C, .HW = HW};
    oc_call_fn call = bwd ? avgpool_bwd_call : avgpool_fwd_call;
    if (bwd) {
        a.dy = in, a.dx = out;
        oc_exec(r, call, &a);
        ref_avgpool_global_bwd(N, C, HW, ind, outd);
        oc_tol(r, 0, 2 * EPS32); /* dy/HW or dy*(1/HW): at most two roundings */
    } else {
        a.x = in, a.y = out;
        oc_exec(r, call, &a);
        ref_avgpool_global_fwd(N, C, HW, ind, outd);
        oc_tol(r, 2 * EPS32, 1e-6); /* a sum of HW values <= 1, divided by HW */
    }
    oc_cmp(r, out, outd, nout);
    return oc_finish(r, call, NULL, &a);
}

int oc_avgpool_global_fwd(oc_run *r) { return op_avgpool(r, 0); }
int oc_avgpool_global_bwd(oc_run *r) { return op_avgpool(r, 1); }

/* ---- loss ------------------------------------------------------------------------------------ */

typedef struct {
    int N, D, normalize;
    float scale;
    const float *p, *z;
    float *loss, *dp, *dz;
} loss_args;

static void pair_loss_fwd_call(const sg_backend *be, void *q) {
    loss_args *a = q;
    sg_pair_loss_fwd(be, a->N, a->D, a->normalize, OC_DEV(a->p), OC_DEV(a->z), OC_DEV(a->loss));
}
static void pair_loss_bwd_call(const sg_backend *be, void *q) {
    loss_args *a = q;
    sg_pair_loss_bwd(be, a->N, a->D, a->normalize, OC_DEV(a->p), OC_DEV(a->z), a->scale,
                      OC_DEV(a->dp), OC_DEV(a->dz));
}

static int op_pair_loss(oc_run *r, int bwd) {
    int N = oc_p(r, "N"), D = oc_p(r, "D"), normalize = oc_p(r, "normalize");
    int want_dz = bwd ? oc_p(r, "dz") : 0;
    size_t n = oc_n(r, N, D, 1, 1);
    float *p = OC_F(r, n), *z = OC_F(r, n), *loss = OC_F(r, (size_t)N), *dp = OC_F(r, n),
          *dz = OC_F(r, n);
    double *pd = OC_D(r, n), *zd = OC_D(r, n), *lossd = OC_D(r, (size_t)N), *dpd = OC_D(r, n),
           *dzd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, p, n, -1, 1);
    oc_uniform(r, z, n, -1, 1);
    oc_uniform(r, loss, (size_t)N, -100, 100);
    oc_uniform(r, dp, n, -100, 100);
    oc_uniform(r, dz, n, -100, 100);
    oc_to_double(p, pd, n);
    oc_to_double(z, zd, n);
    loss_args a = {.N = N,
                   .D = D,
                   .normalize = normalize,
                   .scale = 1.0f / (float)N,
                   .p = p,
                   .z = z,
                   .loss = loss,
                   .dp = dp,
                   .dz = want_dz ? dz : NULL};
    /* rows are sums of D terms: |p|^2, |z|^2 and p.z of size <= 1 (or (p-z)^2 <= 4) */
    double scale = normalize ? 1.0 : 4.0;
    if (!bwd) {
        oc_exec(r, pair_loss_fwd_call, &a);
        ref_pair_loss_fwd(N, D, normalize, pd, zd, lossd);
        oc_tol(r, 2 * EPS32 * scale * D, 1e-6);
        oc_cmp(r, loss, lossd, (size_t)N);
        return oc_finish(r, pair_loss_fwd_call, NULL, &a);
    }
    oc_exec(r, pair_loss_bwd_call, &a);
    ref_pair_loss_bwd(N, D, normalize, pd, zd, (double)a.scale, dpd, want_dz ? dzd : NULL);
    /* each gradient element is scale * (a few row sums) of the same size */
    oc_tol(r, 2 * EPS32 * scale * D * a.scale * 4, 1e-5);
    oc_cmp(r, dp, dpd, n);
    if (want_dz) oc_cmp(r, dz, dzd, n);
    return oc_finish(r, pair_loss_bwd_call, NULL, &a);
}
int oc_pair_loss_fwd(oc_run *r) { return op_pair_loss(r, 0); }
int oc_pair_loss_bwd(oc_run *r) { return op_pair_loss(r, 1); }
