/* kernels/cpu/nn.c: batch norm, relu, residual add, pooling and the SSL pair loss of the CPU
 * backend (semantics in kernels/kernels.h).
 *
 * Parallelism: batch norm over channels (each channel's statistics are summed by one thread in
 * a fixed order), everything else over elements, planes or rows with static schedules and no
 * atomics. Every output element is computed by exactly one thread with the same expression
 * whatever the thread count, so the results are bit-identical for any number of threads.
 *
 * Accuracy: reductions (batch-norm statistics, pooling means, loss norms) accumulate in double
 * with eight independent lanes (see sum_f64), and the batch variance is the two-pass
 * sum((x - mean)^2), so float results stay accurate for N*HW in the millions. The lane split is
 * written out in the source rather than left to the vectoriser, so the summation order is part
 * of the program, not of the buffer's alignment.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/cpu/cpu_internal.h"

/* Below this many elements a kernel runs on the calling thread: starting a parallel region
 * costs more than the loop (the result is identical either way). */
#define SG_NN_PAR_MIN 32768

/* Batch norm of (N,C) features (HW == 1) works on tiles of this many adjacent channels, so the
 * inner loops read contiguous floats of a row instead of striding by C. */
#define SG_BN_TILE 32

/* F.normalize's lower clamp on the norm. */
#define SG_NORM_EPS 1e-12

/* ---- double-precision reductions over float rows ---------------------------------------- */

/* sum x[n] in double. Lane k sums x[i] for i = k mod 8 over the full blocks of 8; the lanes are
 * combined in a fixed tree, then the tail is added in order. */
static inline double sum_f64(const float *x, ptrdiff_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k];
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (double)x[i];
    return s;
}

/* sum (x[n] - m) in double, same lane order as sum_f64. */
static inline double sum_dev_f64(const float *x, ptrdiff_t n, double m) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)x[i + k] - m;
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (double)x[i] - m;
    return s;
}

/* sum (x[n] - m)^2 in double, same lane order as sum_f64. */
static inline double sumsq_dev_f64(const float *x, ptrdiff_t n, double m) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = (double)x[i + k] - m;
            acc[k] += d * d;
        }
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) {
        double d = (double)x[i] - m;
        s += d * d;
    }
    return s;
}

/* sum g[n] * (x[n] - m) in double, same lane order. (One reduction per function: GCC
 * vectorises these lane loops, but not one that carries two accumulator arrays.) */
static inline double sum_prod_dev_f64(const float *g, const float *x, ptrdiff_t n, double m) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)g[i + k] * ((double)x[i + k] - m);
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (double)g[i] * ((double)x[i] - m);
    return s;
}

/* The gradient g where the ReLU's output y is positive, else +0: relu_bwd's y > 0 ? g : 0 bit
 * for bit (a NaN y stops it too), written as an and-mask of g's bits because GCC vectorises the
 * eight-lane sums below with the mask but not with the select (it takes the select for
 * control flow there: 6x slower). */
static inline float relu1_grad(float y, float g) {
    uint32_t u;
    memcpy(&u, &g, sizeof u);
    u &= 0u - (uint32_t)(y > 0.0f);
    memcpy(&g, &u, sizeof g);
    return g;
}

/* sum_f64 of relu1_grad(y[n], g[n]), in the same lane order: the sum batchnorm_bwd takes of
 * relu_bwd's output, without writing that output. */
static inline double sum_relu_f64(const float *g, const float *y, ptrdiff_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += (double)relu1_grad(y[i + k], g[i + k]);
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (double)relu1_grad(y[i], g[i]);
    return s;
}

/* sum_prod_dev_f64 with g masked as sum_relu_f64 does. */
static inline double sum_relu_prod_dev_f64(const float *g, const float *y, const float *x,
                                           ptrdiff_t n, double m) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += (double)relu1_grad(y[i + k], g[i + k]) * ((double)x[i + k] - m);
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (double)relu1_grad(y[i], g[i]) * ((double)x[i] - m);
    return s;
}

/* sum (a p[n] - b z[n])^2 in double. */
static inline double sqdist_scaled_f64(const float *p, const float *z, ptrdiff_t n, double a,
                                       double b) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = a * (double)p[i + k] - b * (double)z[i + k];
            acc[k] += d * d;
        }
    double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) {
        double d = a * (double)p[i] - b * (double)z[i];
        s += d * d;
    }
    return s;
}

/* ---- batch norm ------------------------------------------------------------------------- */

/* From channel c's batch mean and biased variance over M = N*HW values: saves mean[c] and
 * invstd[c], updates the running statistics PyTorch's way (unbiased variance, M > 1 checked by
 * the caller), and returns the per-channel affine map y = (x - mean_f) * scale + shift.
 * mean_f = (float)mean is what backward sees; its rounding error (which, divided by a small
 * spread, would show in y when the mean is large) is folded into shift, and x - mean_f is
 * exact for x near the mean. */
static void bn_train_channel_stats(int c, double mean, double var_biased, double M, float eps,
                                   float momentum, const float *gamma, const float *beta,
                                   float *running_mean, float *running_var, float *mean_out,
                                   float *invstd_out, float *scale, float *shift) {
    double invstd = 1.0 / sqrt(var_biased + (double)eps);
    mean_out[c] = (float)mean;
    invstd_out[c] = (float)invstd;
    if (running_mean) {
        double mom = (double)momentum;
        double var_unbiased = var_biased * M / (M - 1.0);
        running_mean[c] = (float)((1.0 - mom) * (double)running_mean[c] + mom * mean);
        running_var[c] = (float)((1.0 - mom) * (double)running_var[c] + mom * var_unbiased);
    }
    const double sc = gamma ? (double)gamma[c] * invstd : invstd;
    const double mean_residual = mean - (double)mean_out[c];
    *scale = (float)sc;
    *shift = (float)((beta ? (double)beta[c] : 0.0) - mean_residual * sc);
}

/* relu_fwd's expression, so that BN with the ReLU fused gives relu_fwd's bits */
static inline float relu1(float v) { return v < 0.0f ? 0.0f : v; }

/* x, y: [N, C, HW]; mean, invstd: [C]; running_*: [C] or NULL; gamma, beta: [C] or NULL.
 * relu: y = relu1 of the normalised value, in the same loop (batchnorm_relu_fwd); a
 * constant at both callers, so each gets its own loops. */
static inline void bn_fwd_train(int N, int C, int HW, const float *x, const float *gamma,
                                const float *beta, float eps, float momentum, float *running_mean,
                                float *running_var, float *mean, float *invstd, float *y,
                                int relu) {
    const double M = (double)N * HW;
    const size_t total = (size_t)N * C * HW;

    if (HW == 1) {
        /* x[N, C]: tiles of SG_BN_TILE channels, rows read contiguously. */
        const int ntiles = (C + SG_BN_TILE - 1) / SG_BN_TILE;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
        for (int t = 0; t < ntiles; t++) {
            const int c0 = t * SG_BN_TILE;
            const int nc = C - c0 < SG_BN_TILE ? C - c0 : SG_BN_TILE;
            double s[SG_BN_TILE], q[SG_BN_TILE], m[SG_BN_TILE];
            float scale[SG_BN_TILE], shift[SG_BN_TILE], mf[SG_BN_TILE];
            for (int k = 0; k < nc; k++) s[k] = q[k] = 0;
            for (int n = 0; n < N; n++) {
                const float *row = x + (size_t)n * C + c0;
                for (int k = 0; k < nc; k++) s[k] += (double)row[k];
            }
            for (int k = 0; k < nc; k++) m[k] = s[k] / M;
            for (int n = 0; n < N; n++) {
                const float *row = x + (size_t)n * C + c0;
                for (int k = 0; k < nc; k++) {
                    double d = (double)row[k] - m[k];
                    q[k] += d * d;
                }
            }
            for (int k = 0; k < nc; k++) {
                bn_train_channel_stats(c0 + k, m[k], q[k] / M, M, eps, momentum, gamma, beta,
                                       running_mean, running_var, mean, invstd, &scale[k],
                                       &shift[k]);
                mf[k] = mean[c0 + k];
            }
            for (int n = 0; n < N; n++) {
                const float *row = x + (size_t)n * C + c0;
                float *yrow = y + (size_t)n * C + c0;
                if (relu)
                    for (int k = 0; k < nc; k++)
                        yrow[k] = relu1((row[k] - mf[k]) * scale[k] + shift[k]);
                else
                    for (int k = 0; k < nc; k++)
                        yrow[k] = (row[k] - mf[k]) * scale[k] + shift[k];
            }
        }
        return;
    }

    /* x[N, C, HW]: one channel per iteration, its N planes of HW contiguous floats. */
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int n = 0; n < N; n++) s += sum_f64(x + ((size_t)n * C + c) * HW, HW);
        const double m = s / M;
        double q = 0;
        for (int n = 0; n < N; n++) q += sumsq_dev_f64(x + ((size_t)n * C + c) * HW, HW, m);
        float scale, shift;
        bn_train_channel_stats(c, m, q / M, M, eps, momentum, gamma, beta, running_mean,
                               running_var, mean, invstd, &scale, &shift);
        const float mf = mean[c];
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            float *yp = y + ((size_t)n * C + c) * HW;
            if (relu)
                for (int i = 0; i < HW; i++) yp[i] = relu1((xp[i] - mf) * scale + shift);
            else
                for (int i = 0; i < HW; i++) yp[i] = (xp[i] - mf) * scale + shift;
        }
    }
}

static void cpu_batchnorm_fwd_train(const sg_backend *be, int N, int C, int HW, const float *x,
                                    const float *gamma, const float *beta, float eps,
                                    float momentum, float *running_mean, float *running_var,
                                    float *mean, float *invstd, float *y) {
    (void)be;
    bn_fwd_train(N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var, mean, invstd,
                 y, 0);
}

/* batchnorm_fwd_train then relu_fwd in one pass over y: the same statistics and values, and
 * relu1 of each (bit for bit the two kernels' result). */
static void cpu_batchnorm_relu_fwd(const sg_backend *be, int N, int C, int HW, const float *x,
                                   const float *gamma, const float *beta, float eps, float momentum,
                                   float *running_mean, float *running_var, float *mean,
                                   float *invstd, float *y) {
    (void)be;
    bn_fwd_train(N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var, mean, invstd,
                 y, 1);
}

/* y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, per channel. */
static void cpu_batchnorm_fwd_eval(const sg_backend *be, int N, int C, int HW, const float *x,
                                   const float *gamma, const float *beta, float eps,
                                   const float *running_mean, const float *running_var,
                                   float *y) {
    (void)be;
    const size_t total = (size_t)N * C * HW;

    if (HW == 1) {
        const int ntiles = (C + SG_BN_TILE - 1) / SG_BN_TILE;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
        for (int t = 0; t < ntiles; t++) {
            const int c0 = t * SG_BN_TILE;
            const int nc = C - c0 < SG_BN_TILE ? C - c0 : SG_BN_TILE;
            float scale[SG_BN_TILE], shift[SG_BN_TILE], mf[SG_BN_TILE];
            for (int k = 0; k < nc; k++) {
                const int c = c0 + k;
                double is = 1.0 / sqrt((double)running_var[c] + (double)eps);
                scale[k] = (float)(gamma ? (double)gamma[c] * is : is);
                shift[k] = beta ? beta[c] : 0.0f;
                mf[k] = running_mean[c];
            }
            for (int n = 0; n < N; n++) {
                const float *row = x + (size_t)n * C + c0;
                float *yrow = y + (size_t)n * C + c0;
                for (int k = 0; k < nc; k++) yrow[k] = (row[k] - mf[k]) * scale[k] + shift[k];
            }
        }
        return;
    }

    const ptrdiff_t planes = (ptrdiff_t)N * C;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const int c = (int)(pl % C);
        double is = 1.0 / sqrt((double)running_var[c] + (double)eps);
        const float scale = (float)(gamma ? (double)gamma[c] * is : is);
        const float shift = beta ? beta[c] : 0.0f;
        const float mf = running_mean[c];
        const float *xp = x + (size_t)pl * HW;
        float *yp = y + (size_t)pl * HW;
        for (int i = 0; i < HW; i++) yp[i] = (xp[i] - mf) * scale + shift;
    }
}

/* Per-channel coefficients of the batch-norm input gradient, with M = N*HW,
 * xhat = (x - mean) * invstd, k = gamma * invstd:
 *   dx = k * (dy - sum(dy)/M - (x - mean) * invstd^2 * sum(dy * (x - mean))/M)
 * (the last two terms are the paths through the batch mean and variance).
 * Also writes dbeta = sum(dy) and dgamma = sum(dy * xhat) when asked. */
typedef struct {
    float k, mean_dy, q, mean;
} bn_bwd_coef;

static bn_bwd_coef bn_bwd_channel(int c, double sum_dy, double sum_dy_xm, double M,
                                  const float *gamma, const float *mean, const float *invstd,
                                  float *dgamma, float *dbeta, int accumulate) {
    const double is = (double)invstd[c];
    if (dbeta) dbeta[c] = (float)(accumulate ? (double)dbeta[c] + sum_dy : sum_dy);
    if (dgamma) {
        double g = sum_dy_xm * is;
        dgamma[c] = (float)(accumulate ? (double)dgamma[c] + g : g);
    }
    bn_bwd_coef cf;
    cf.k = (float)(gamma ? (double)gamma[c] * is : is);
    cf.mean_dy = (float)(sum_dy / M);
    cf.q = (float)(is * is * sum_dy_xm / M);
    cf.mean = mean[c];
    return cf;
}

/* dx of the channel tile [c0, c0 + nc) of x, dy, dx [N, C] (HW == 1) from each channel's
 * coefficients; ym (the fused ReLU's output, or NULL) masks dy as relu1_grad. */
static void bn_bwd_apply_tile(int N, int C, int c0, int nc, const float *x, const float *dy,
                              const float *ym, float *dx, const bn_bwd_coef *cf) {
    float k_[SG_BN_TILE], mdy[SG_BN_TILE], q[SG_BN_TILE], mf[SG_BN_TILE];
    for (int k = 0; k < nc; k++) {
        k_[k] = cf[k].k;
        mdy[k] = cf[k].mean_dy;
        q[k] = cf[k].q;
        mf[k] = cf[k].mean;
    }
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C + c0;
        const float *gr = dy + (size_t)n * C + c0;
        float *dr = dx + (size_t)n * C + c0;
        if (ym) {
            const float *yr = ym + (size_t)n * C + c0;
            for (int k = 0; k < nc; k++)
                dr[k] = k_[k] * ((relu1_grad(yr[k], gr[k]) - mdy[k]) - (xr[k] - mf[k]) * q[k]);
        } else {
            for (int k = 0; k < nc; k++)
                dr[k] = k_[k] * ((gr[k] - mdy[k]) - (xr[k] - mf[k]) * q[k]);
        }
    }
}

/* dx of channel c of x, dy, dx [N, C, HW] from its coefficients; ym masks dy as in
 * bn_bwd_apply_tile. */
static void bn_bwd_apply_channel(int N, int C, int HW, int c, const float *x, const float *dy,
                                 const float *ym, float *dx, bn_bwd_coef cf) {
    for (int n = 0; n < N; n++) {
        const size_t off = ((size_t)n * C + c) * HW;
        const float *xp = x + off, *gp = dy + off;
        float *dp = dx + off;
        if (ym) {
            const float *yp = ym + off;
            for (int i = 0; i < HW; i++) {
                const float g = relu1_grad(yp[i], gp[i]);
                dp[i] = cf.k * ((g - cf.mean_dy) - (xp[i] - cf.mean) * cf.q);
            }
        } else {
            for (int i = 0; i < HW; i++)
                dp[i] = cf.k * ((gp[i] - cf.mean_dy) - (xp[i] - cf.mean) * cf.q);
        }
    }
}

/* x, dy, dx: [N, C, HW]; gamma, mean, invstd: [C]; dgamma, dbeta: [C] or NULL. mean and invstd
 * are the ones batchnorm_fwd_train saved for this x. ym: NULL, or the output of a ReLU fused
 * after the batch norm (batchnorm_relu_bwd), whose gradient relu1_grad(ym, dy) is what goes
 * through the batch norm; every sum and product is then the one batchnorm_bwd computes on
 * relu_bwd's output. */
static inline void bn_bwd(int N, int C, int HW, const float *x, const float *ym,
                          const float *gamma, const float *mean, const float *invstd,
                          const float *dy, float *dx, float *dgamma, float *dbeta,
                          int accumulate) {
    const double M = (double)N * HW;
    const size_t total = (size_t)N * C * HW;

    if (HW == 1) {
        const int ntiles = (C + SG_BN_TILE - 1) / SG_BN_TILE;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
        for (int t = 0; t < ntiles; t++) {
            const int c0 = t * SG_BN_TILE;
            const int nc = C - c0 < SG_BN_TILE ? C - c0 : SG_BN_TILE;
            double sdy[SG_BN_TILE], sdyxm[SG_BN_TILE], md[SG_BN_TILE];
            for (int k = 0; k < nc; k++) {
                sdy[k] = sdyxm[k] = 0;
                md[k] = (double)mean[c0 + k];
            }
            for (int n = 0; n < N; n++) {
                const float *xr = x + (size_t)n * C + c0;
                const float *gr = dy + (size_t)n * C + c0;
                const float *yr = ym ? ym + (size_t)n * C + c0 : NULL;
                for (int k = 0; k < nc; k++) {
                    double g = (double)(yr ? relu1_grad(yr[k], gr[k]) : gr[k]);
                    sdy[k] += g;
                    sdyxm[k] += g * ((double)xr[k] - md[k]);
                }
            }
            bn_bwd_coef cf[SG_BN_TILE];
            for (int k = 0; k < nc; k++)
                cf[k] = bn_bwd_channel(c0 + k, sdy[k], sdyxm[k], M, gamma, mean, invstd, dgamma,
                                       dbeta, accumulate);
            bn_bwd_apply_tile(N, C, c0, nc, x, dy, ym, dx, cf);
        }
        return;
    }

#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const double md = (double)mean[c];
        double sdy = 0, sdyxm = 0;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + c) * HW;
            if (ym) {
                sdy += sum_relu_f64(dy + off, ym + off, HW);
                sdyxm += sum_relu_prod_dev_f64(dy + off, ym + off, x + off, HW, md);
            } else {
                sdy += sum_f64(dy + off, HW);
                sdyxm += sum_prod_dev_f64(dy + off, x + off, HW, md);
            }
        }
        bn_bwd_apply_channel(N, C, HW, c, x, dy, ym, dx,
                             bn_bwd_channel(c, sdy, sdyxm, M, gamma, mean, invstd, dgamma, dbeta,
                                            accumulate));
    }
}

static void cpu_batchnorm_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                              const float *gamma, const float *mean, const float *invstd,
                              const float *dy, float *dx, float *dgamma, float *dbeta,
                              int accumulate) {
    (void)be;
    bn_bwd(N, C, HW, x, NULL, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
}

/* relu_bwd (from the ReLU's output y) then batchnorm_bwd, without writing the masked gradient:
 * the same sums and products, so the same bits. */
static void cpu_batchnorm_relu_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                                   const float *y, const float *gamma, const float *mean,
                                   const float *invstd, const float *dy, float *dx, float *dgamma,
                                   float *dbeta, int accumulate) {
    (void)be;
    bn_bwd(N, C, HW, x, y, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
}

/* ---- synchronised batch norm: sums, then the gradient from sums over every rank ---------- */

/* x, dy: [N, C, HW]; center: [C] or NULL (0); sums: [2*C], overwritten. Each channel is summed
 * by one thread in a fixed order (rows in order for HW == 1; planes in order, each plane in
 * sum_f64's lane order, for HW > 1), with the same expressions as cpu_batchnorm_bwd's sums, so
 * with dy given and center = mean the two kernels' sums agree bit for bit. */
static void cpu_batchnorm_sums(const sg_backend *be, int N, int C, int HW, const float *x,
                               const float *center, const float *dy, double *sums) {
    (void)be;
    const size_t total = (size_t)N * C * HW;

    if (HW == 1) {
        const int ntiles = (C + SG_BN_TILE - 1) / SG_BN_TILE;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
        for (int t = 0; t < ntiles; t++) {
            const int c0 = t * SG_BN_TILE;
            const int nc = C - c0 < SG_BN_TILE ? C - c0 : SG_BN_TILE;
            double a[SG_BN_TILE], b[SG_BN_TILE], m[SG_BN_TILE];
            for (int k = 0; k < nc; k++) {
                a[k] = b[k] = 0;
                m[k] = center ? (double)center[c0 + k] : 0.0;
            }
            if (dy) {
                for (int n = 0; n < N; n++) {
                    const float *xr = x + (size_t)n * C + c0;
                    const float *gr = dy + (size_t)n * C + c0;
                    for (int k = 0; k < nc; k++) {
                        double g = (double)gr[k];
                        a[k] += g;
                        b[k] += g * ((double)xr[k] - m[k]);
                    }
                }
            } else {
                for (int n = 0; n < N; n++) {
                    const float *xr = x + (size_t)n * C + c0;
                    for (int k = 0; k < nc; k++) {
                        double d = (double)xr[k] - m[k];
                        a[k] += d;
                        b[k] += d * d;
                    }
                }
            }
            for (int k = 0; k < nc; k++) {
                sums[c0 + k] = a[k];
                sums[C + c0 + k] = b[k];
            }
        }
        return;
    }

#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        const double m = center ? (double)center[c] : 0.0;
        double a = 0, b = 0;
        for (int n = 0; n < N; n++) {
            const size_t off = ((size_t)n * C + c) * HW;
            if (dy) {
                a += sum_f64(dy + off, HW);
                b += sum_prod_dev_f64(dy + off, x + off, HW, m);
            } else {
                a += sum_dev_f64(x + off, HW, m);
                b += sumsq_dev_f64(x + off, HW, m);
            }
        }
        sums[c] = a;
        sums[C + c] = b;
    }
}

/* dx = k * ((dy - mean_dy) - (x - mean) * q) with the coefficients of bn_bwd_channel, taken
 * from sums over M values (this batch's and possibly other ranks'). */
static void cpu_batchnorm_bwd_apply(const sg_backend *be, int N, int C, int HW, const float *x,
                                    const float *gamma, const float *mean, const float *invstd,
                                    const float *dy, const double *sums, double M, float *dx) {
    (void)be;
    const size_t total = (size_t)N * C * HW;

    if (HW == 1) {
        const int ntiles = (C + SG_BN_TILE - 1) / SG_BN_TILE;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
        for (int t = 0; t < ntiles; t++) {
            const int c0 = t * SG_BN_TILE;
            const int nc = C - c0 < SG_BN_TILE ? C - c0 : SG_BN_TILE;
            bn_bwd_coef cf[SG_BN_TILE];
            for (int k = 0; k < nc; k++)
                cf[k] = bn_bwd_channel(c0 + k, sums[c0 + k], sums[C + c0 + k], M, gamma, mean,
                                       invstd, NULL, NULL, 0);
            bn_bwd_apply_tile(N, C, c0, nc, x, dy, NULL, dx, cf);
        }
        return;
    }

#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (int c = 0; c < C; c++) {
        bn_bwd_apply_channel(N, C, HW, c, x, dy, NULL, dx,
                             bn_bwd_channel(c, sums[c], sums[C + c], M, gamma, mean, invstd, NULL,
                                            NULL, 0));
    }
}

/* ---- elementwise ------------------------------------------------------------------------ */

/* y = max(x, 0). Written as x < 0 ? 0 : x so a NaN passes through, as torch.relu does.
 * y may alias x, hence no restrict. */
static void cpu_relu_fwd(const sg_backend *be, size_t n, const float *x, float *y) {
    (void)be;
    const ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (nn >= SG_NN_PAR_MIN)
    for (ptrdiff_t i = 0; i < nn; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* dx = dy * (y > 0); dx may alias dy. */
static void cpu_relu_bwd(const sg_backend *be, size_t n, const float *y, const float *dy,
                         float *dx) {
    (void)be;
    const ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (nn >= SG_NN_PAR_MIN)
    for (ptrdiff_t i = 0; i < nn; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* y = a + b; y may alias a or b. */
static void cpu_add_fwd(const sg_backend *be, size_t n, const float *a, const float *b,
                        float *y) {
    (void)be;
    const ptrdiff_t nn = (ptrdiff_t)n;
#pragma omp parallel for schedule(static) if (nn >= SG_NN_PAR_MIN)
    for (ptrdiff_t i = 0; i < nn; i++) y[i] = a[i] + b[i];
}

/* Both inputs of a residual add receive dy: copied or added into da and db. */
static void cpu_add_bwd(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                        int accumulate) {
    (void)be;
    const ptrdiff_t nn = (ptrdiff_t)n;
    float *outs[2] = {da, db};
    for (int o = 0; o < 2; o++) {
        float *d = outs[o];
        if (!d) continue;
        if (accumulate) {
#pragma omp parallel for schedule(static) if (nn >= SG_NN_PAR_MIN)
            for (ptrdiff_t i = 0; i < nn; i++) d[i] += dy[i];
        } else if (d != dy) {
#pragma omp parallel for schedule(static) if (nn >= SG_NN_PAR_MIN)
            for (ptrdiff_t i = 0; i < nn; i++) d[i] = dy[i];
        }
    }
}

/* ---- pooling ---------------------------------------------------------------------------- */

/* Window rows [lo, hi) of output row p, clipped to the input: padding is -inf, so padded cells
 * can never be the max and are simply skipped. pad < k guarantees the window is not empty. */
static inline void pool_window(int p, int stride, int pad, int k, int H, int *lo, int *hi) {
    int h0 = p * stride - pad;
    *lo = h0 < 0 ? 0 : h0;
    *hi = h0 + k > H ? H : h0 + k;
}

/* One window of output (p, q) in the plain scalar form, for the windows the border clips. */
static inline void maxpool_window(const float *xp, int W, int hs, int he, int ws, int we, float *yo,
                                  int32_t *ao) {
    int32_t bi = hs * W + ws;
    float best = xp[bi];
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++) {
            float v = xp[h * W + w];
            if (v > best || (isnan(v) && !isnan(best))) {
                best = v;
                bi = h * W + w;
            }
        }
    *yo = best;
    *ao = bi;
}

/* The rule of maxpool_window: v replaces the best so far b when larger, or when it is the first
 * NaN. Over a sequence it selects the first NaN, else the first maximum (+0 and -0 tie), so a
 * window may be reduced as consecutive runs of its row-major order, each run's winner then
 * taking part in order: the result is the same element as the one-by-one scan. */
static inline int maxpool_takes(float v, float b) { return v > b || (isnan(v) && !isnan(b)); }

/* Outputs per chunk of maxpool_row_k3, and the largest stride it takes (its buffers hold
 * (MAXPOOL_QC - 1) * stride + 1 window starts). */
#define MAXPOOL_QC 64
#define MAXPOOL_K3_STRIDE_MAX 4

/* Outputs [q0, q1) of one output row of a 3-wide window whose columns the border does not clip,
 * over input rows [hs, he). For each input row, the run of 3 at every column start c (contiguous
 * loads, the stride ignored) is reduced in registers and folded into the runs of the rows above
 * at the same c; the outputs then pick every stride-th start. Each window is its row-major order
 * in runs of 3 (see maxpool_takes), so the bits equal the scalar form's. The offset-by-offset
 * loop (kept for other windows) updates its outputs in memory once per offset, which GCC
 * compiles to masked stores, slow on AMD cores: this form was 25 -> 14 ms at the STL-10 stem
 * pool (64x64x48x48, 2 threads). */
static void maxpool_row_k3(const float *xp, int W, int hs, int he, int st, int pad, int q0, int q1,
                           float *yr, int32_t *ar) {
    for (int qa = q0; qa < q1; qa += MAXPOOL_QC) {
        const int nq = q1 - qa < MAXPOOL_QC ? q1 - qa : MAXPOOL_QC;
        const int c0 = qa * st - pad, nc = (nq - 1) * st + 1;
        float bv[(MAXPOOL_QC - 1) * MAXPOOL_K3_STRIDE_MAX + 1];
        int32_t bi[(MAXPOOL_QC - 1) * MAXPOOL_K3_STRIDE_MAX + 1];
        /* each window starts from its first element, which it then compares with itself
         * (never taken), as the scalar form does */
        for (int c = 0; c < nc; c++) {
            bv[c] = xp[(size_t)hs * W + c0 + c];
            bi[c] = hs * W + c0 + c;
        }
        for (int h = hs; h < he; h++) {
            const float *xr = xp + (size_t)h * W + c0;
            const int32_t ib = h * W + c0;
#pragma omp simd
            for (int c = 0; c < nc; c++) {
                float b = bv[c];
                int32_t i = bi[c];
                for (int d = 0; d < 3; d++) {
                    const float v = xr[c + d];
                    const int t = maxpool_takes(v, b);
                    b = t ? v : b;
                    i = t ? ib + c + d : i;
                }
                bv[c] = b;
                bi[c] = i;
            }
        }
        for (int q = 0; q < nq; q++) {
            yr[qa + q] = bv[q * st];
            ar[qa + q] = bi[q * st];
        }
    }
}

/* x[N,C,H,W] -> y, argmax [N,C,P,Q]; first max in row-major window order wins ties, and a NaN
 * wins over numbers (max-pool propagates NaN as PyTorch's does).
 * A row of outputs whose windows the border does not clip is done offset by offset: each of the
 * k*k window offsets, in row-major order, updates every output of the row with a select, which
 * the compiler vectorises. Every window still sees its elements in the same order with the same
 * rule as the scalar form, so the outputs and argmaxes are the same bits.
 * 3x3 windows (ResNet's stem pool) go through maxpool_row_k3 instead (see there). */
static void cpu_maxpool_fwd(const sg_backend *be, const sg_pool_shape *s, const float *x,
                            float *y, int32_t *argmax) {
    (void)be;
    const int H = s->H, W = s->W, P = s->P, Q = s->Q, k = s->k, st = s->stride, pad = s->pad;
    const ptrdiff_t planes = (ptrdiff_t)s->N * s->C;
    const size_t total = (size_t)planes * H * W;
    /* outputs [q0, q1) of a row have unclipped columns: q*st - pad >= 0 and q*st - pad + k <= W */
    int q0 = (pad + st - 1) / st, q1 = W - k + pad >= 0 ? (W - k + pad) / st + 1 : 0;
    if (q1 > Q) q1 = Q;
    if (q0 > q1) q0 = q1;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * P * Q;
        int32_t *ap = argmax + (size_t)pl * P * Q;
        for (int p = 0; p < P; p++) {
            int hs, he;
            pool_window(p, st, pad, k, H, &hs, &he);
            float *yr = yp + (size_t)p * Q;
            int32_t *ar = ap + (size_t)p * Q;
            for (int q = 0; q < Q; q++) {
                if (q >= q0 && q < q1) continue;
                int ws, we;
                pool_window(q, st, pad, k, W, &ws, &we);
                maxpool_window(xp, W, hs, he, ws, we, &yr[q], &ar[q]);
            }
            if (q0 >= q1) continue;
            if (k == 3 && st <= MAXPOOL_K3_STRIDE_MAX) {
                maxpool_row_k3(xp, W, hs, he, st, pad, q0, q1, yr, ar);
                continue;
            }
            /* the window's first element (hs, ws), as the scalar form starts */
            for (int q = q0; q < q1; q++) {
                const int32_t i0 = hs * W + q * st - pad;
                yr[q] = xp[i0];
                ar[q] = i0;
            }
            for (int h = hs; h < he; h++)
                for (int dw = 0; dw < k; dw++) {
                    const float *xr = xp + (size_t)h * W + dw - pad;
                    const int32_t ib = h * W + dw - pad;
#pragma omp simd
                    for (int q = q0; q < q1; q++) {
                        const float v = xr[q * st], b = yr[q];
                        const int take = v > b || (isnan(v) && !isnan(b));
                        yr[q] = take ? v : b;
                        ar[q] = take ? ib + q * st : ar[q];
                    }
                }
        }
    }
}

/* dx[N,C,H,W] = 0, then dy[n,c,p,q] added at argmax[n,c,p,q] of its plane. Overlapping windows
 * can share an argmax; the adds of one plane happen on one thread in (p, q) order. */
static void cpu_maxpool_bwd(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                            const int32_t *argmax, float *dx) {
    (void)be;
    const int HW = s->H * s->W, PQ = s->P * s->Q;
    const ptrdiff_t planes = (ptrdiff_t)s->N * s->C;
    const size_t total = (size_t)planes * HW;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        float *dp = dx + (size_t)pl * HW;
        const float *gp = dy + (size_t)pl * PQ;
        const int32_t *ap = argmax + (size_t)pl * PQ;
        memset(dp, 0, (size_t)HW * sizeof(float));
        for (int o = 0; o < PQ; o++) {
            SG_CHECK(ap[o] >= 0 && ap[o] < HW, "maxpool_bwd: argmax %d outside the %d-plane",
                     (int)ap[o], HW);
            dp[ap[o]] += gp[o];
        }
    }
}

/* y[N,C] = mean over HW of x[N,C,HW], summed in double. */
static void cpu_avgpool_global_fwd(const sg_backend *be, int N, int C, int HW, const float *x,
                                   float *y) {
    (void)be;
    const ptrdiff_t planes = (ptrdiff_t)N * C;
    const size_t total = (size_t)planes * HW;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (ptrdiff_t pl = 0; pl < planes; pl++)
        y[pl] = (float)(sum_f64(x + (size_t)pl * HW, HW) / HW);
}

/* dx[N,C,HW] = dy[N,C] / HW */
static void cpu_avgpool_global_bwd(const sg_backend *be, int N, int C, int HW, const float *dy,
                                   float *dx) {
    (void)be;
    const ptrdiff_t planes = (ptrdiff_t)N * C;
    const size_t total = (size_t)planes * HW;
#pragma omp parallel for schedule(static) if (total >= SG_NN_PAR_MIN)
    for (ptrdiff_t pl = 0; pl < planes; pl++) {
        const float v = dy[pl] / (float)HW;
        float *dp = dx + (size_t)pl * HW;
        for (int i = 0; i < HW; i++) dp[i] = v;
    }
}

/* ---- the SSL loss ----------------------------------------------------------------------- */

/* row_loss[i] = |p_i/np - z_i/nz|^2 (np = max(|p_i|, 1e-12), ...) or |p_i - z_i|^2, summed in
 * double as a difference of squares (no 2 - 2cos cancellation when p and z align). */
static void cpu_pair_loss_fwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                              const float *z, float *row_loss) {
    (void)be;
#pragma omp parallel for schedule(static) if ((size_t)N * D >= SG_NN_PAR_MIN)
    for (int i = 0; i < N; i++) {
        const float *pi = p + (size_t)i * D, *zi = z + (size_t)i * D;
        double a = 1.0, b = 1.0;
        if (normalize) {
            a = 1.0 / fmax(sqrt(sumsq_dev_f64(pi, D, 0.0)), SG_NORM_EPS);
            b = 1.0 / fmax(sqrt(sumsq_dev_f64(zi, D, 0.0)), SG_NORM_EPS);
        }
        row_loss[i] = (float)sqdist_scaled_f64(pi, zi, D, a, b);
    }
}

/* With u = p/np, v = z/nz, d = u - v and l = |d|^2:
 *   dl/dp = 2/np * (d - u (u.d))      dl/dz = 2/nz * (-d + v (v.d))
 * where the projection term is dropped for a row whose norm was clamped (the clamp is then a
 * constant, and F.normalize's clamp_min passes no gradient to the norm below eps).
 * normalize = 0: dl/dp = 2 (p - z) = -dl/dz. Everything is scaled by `scale` = dL/dl_i. */
static void cpu_pair_loss_bwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                              const float *z, float scale, float *dp, float *dz) {
    (void)be;
    const double s2 = 2.0 * (double)scale;
#pragma omp parallel for schedule(static) if ((size_t)N * D >= SG_NN_PAR_MIN)
    for (int i = 0; i < N; i++) {
        const float *pi = p + (size_t)i * D, *zi = z + (size_t)i * D;
        float *dpi = dp + (size_t)i * D;
        float *dzi = dz ? dz + (size_t)i * D : NULL;
        if (!normalize) {
            for (int j = 0; j < D; j++) {
                double g = s2 * ((double)pi[j] - (double)zi[j]);
                dpi[j] = (float)g;
                if (dzi) dzi[j] = (float)-g;
            }
            continue;
        }
        const double pp = sumsq_dev_f64(pi, D, 0.0), zz = sumsq_dev_f64(zi, D, 0.0);
        const double pz = sum_prod_dev_f64(pi, zi, D, 0.0);
        const double np = sqrt(pp), nz = sqrt(zz);
        const double ip = 1.0 / fmax(np, SG_NORM_EPS), iz = 1.0 / fmax(nz, SG_NORM_EPS);
        const double uu = pp * ip * ip, uv = pz * ip * iz, vv = zz * iz * iz;
        /* u.d and v.d; zero where the norm was clamped (torch's clamp_min passes the gradient
         * to the norm only where norm >= eps). */
        const double ud = np >= SG_NORM_EPS ? uu - uv : 0.0;
        const double vd = nz >= SG_NORM_EPS ? uv - vv : 0.0;
        const double cp = s2 * ip, cz = s2 * iz;
        for (int j = 0; j < D; j++) {
            double u = (double)pi[j] * ip, v = (double)zi[j] * iz, d = u - v;
            dpi[j] = (float)(cp * (d - u * ud));
            if (dzi) dzi[j] = (float)(cz * (v * vd - d));
        }
    }
}

void sg_cpu_fill_nn(sg_backend *be) {
    be->batchnorm_fwd_train = cpu_batchnorm_fwd_train;
    be->batchnorm_fwd_eval = cpu_batchnorm_fwd_eval;
    be->batchnorm_bwd = cpu_batchnorm_bwd;
    be->batchnorm_sums = cpu_batchnorm_sums;
    be->batchnorm_bwd_apply = cpu_batchnorm_bwd_apply;
    be->batchnorm_relu_fwd = cpu_batchnorm_relu_fwd;
    be->batchnorm_relu_bwd = cpu_batchnorm_relu_bwd;
    be->relu_fwd = cpu_relu_fwd;
    be->relu_bwd = cpu_relu_bwd;
    be->add_fwd = cpu_add_fwd;
    be->add_bwd = cpu_add_bwd;
    be->maxpool_fwd = cpu_maxpool_fwd;
    be->maxpool_bwd = cpu_maxpool_bwd;
    be->avgpool_global_fwd = cpu_avgpool_global_fwd;
    be->avgpool_global_bwd = cpu_avgpool_global_bwd;
    be->pair_loss_fwd = cpu_pair_loss_fwd;
    be->pair_loss_bwd = cpu_pair_loss_bwd;
}
