/* kernels/cpu/dense.c: gemm, linear and conv2d for the CPU backend.
 *
 * Every FLOP goes through one sgemm, sg_cpu_sgemm: OpenBLAS's (gemm.impl=openblas, the default)
 * or oneDNN's dnnl_sgemm (gemm.impl=dnnl); our own loops (bias, column sums, im2col, col2im and
 * the NCHW <-> [K, images*P*Q] staging copies) use OpenMP. Both libraries run on the same OpenMP
 * runtime (OpenBLAS is the OpenMP build), so sgemm is always called from outside our parallel
 * regions: there it uses every thread, inside one it would run single-threaded.
 *
 * Determinism: OpenBLAS splits M and N across threads, never K; dnnl_sgemm may also split K,
 * with its partial sums reduced in a fixed order; and every loop here gives each output element
 * to exactly one thread with a fixed summation order, so a result depends only on the shape, the
 * thread count and gemm.impl.
 *
 * Convolution = im2col + sgemm. For a group of nb consecutive images:
 *   col[C*R*S, nb*P*Q]     col[(c,r,s), (n,p,q)] = x[n, c, p*stride-pad+r, q*stride-pad+s] or 0
 *   fwd:         y_g[K, nb*PQ]   = w[K, CRS] col
 *   bwd data:    col             = w^T[CRS, K] dy_g[K, nb*PQ], then col2im adds col into dx
 *   bwd filter:  dw[K, CRS]     += dy_g[K, nb*PQ] col^T
 * With one image per group, y_g / dy_g are the image's own [K, P*Q] planes; with several they are
 * staged through a [K, nb*P*Q] buffer, since in NCHW the images' [K, P*Q] blocks do not form one
 * strided matrix. Late ResNet stages have P*Q = 36 or 9, where a per-image gemm (N = P*Q) would
 * run far below peak, so images are grouped until the gemm's N dimension reaches
 * CONV_GEMM_COLS, with the workspace held under CONV_WORKSPACE_BUDGET.
 * A 1x1 stride-1 unpadded conv taken one image at a time needs no col buffer at all: the image's
 * [C, H*W] planes are the gemm operand.
 */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "core/base/err.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cpu/cpu_internal.h"

/* ---- gemm and linear ------------------------------------------------------------------------ */

static CBLAS_TRANSPOSE cblas_trans(int trans) { return trans ? CblasTrans : CblasNoTrans; }

static int min_int(int a, int b) { return a < b ? a : b; }

const char *const sg_gemm_impl_names[SG_GEMM_IMPL_COUNT] = {"openblas", "dnnl"};
static sg_gemm_impl gemm_impl = SG_GEMM_OPENBLAS;

int sg_cpu_gemm_impl_available(sg_gemm_impl impl, const char **why) {
    if ((int)impl < 0 || impl >= SG_GEMM_IMPL_COUNT) {
        if (why) *why = "no such sgemm";
        return 0;
    }
    if (impl == SG_GEMM_DNNL) return sg_cpu_dnnl_available(why);
    return 1;
}

int sg_cpu_set_gemm_impl(sg_gemm_impl impl) {
    if (!sg_cpu_gemm_impl_available(impl, NULL)) return -1;
    gemm_impl = impl;
    return 0;
}
sg_gemm_impl sg_cpu_get_gemm_impl(void) { return gemm_impl; }

void sg_cpu_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    /* Stored shapes: A is [M,K] or [K,M] (transA), B is [K,N] or [N,K] (transB), C is [M,N]. */
    if (M == 0 || N == 0) return;
    if (gemm_impl == SG_GEMM_DNNL)
        sg_cpu_dnnl_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        cblas_sgemm(CblasRowMajor, cblas_trans(transA), cblas_trans(transB), M, N, K, alpha, A, lda,
                    B, ldb, beta, C, ldc);
}

static void cpu_gemm(const sg_backend *be, int transA, int transB, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc) {
    (void)be;
    sg_cpu_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* y[N,Out] = x[N,In] W[Out,In]^T + b[Out]: b is broadcast into y, then sgemm adds onto it. */
static void cpu_linear_fwd(const sg_backend *be, int N, int In, int Out, const float *x,
                           const float *W, const float *b, float *y) {
    (void)be;
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)N * Out > 32768)
        for (int n = 0; n < N; n++) memcpy(y + (size_t)n * Out, b, (size_t)Out * sizeof(float));
        beta = 1.0f;
    }
    sg_cpu_sgemm(0, 1, N, Out, In, 1.0f, x, In, W, In, beta, y, Out);
}

/* Columns of dy summed per thread-owned block of columns, rows in order: deterministic. */
#define DB_BLOCK 64

static void cpu_linear_bwd(const sg_backend *be, int N, int In, int Out, const float *x,
                           const float *W, const float *dy, float *dx, float *dW, float *db,
                           int accumulate) {
    (void)be;
    /* dx[N,In] = dy[N,Out] W[Out,In] */
    if (dx) sg_cpu_sgemm(0, 0, N, In, Out, 1.0f, dy, Out, W, In, 0.0f, dx, In);
    /* dW[Out,In] (+)= dy^T[Out,N] x[N,In] */
    sg_cpu_sgemm(1, 0, Out, In, N, 1.0f, dy, Out, x, In, accumulate ? 1.0f : 0.0f, dW, In);
    if (db) {
        int nblocks = (Out + DB_BLOCK - 1) / DB_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)N * Out > 32768)
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * DB_BLOCK, o1 = min_int(o0 + DB_BLOCK, Out);
            float acc[DB_BLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *row = dy + (size_t)n * Out;
                for (int o = o0; o < o1; o++) acc[o - o0] += row[o];
            }
            for (int o = o0; o < o1; o++) db[o] = (accumulate ? db[o] : 0.0f) + acc[o - o0];
        }
    }
}

/* ---- convolution ---------------------------------------------------------------------------- */

/* Images are grouped until one gemm has at least this many columns (its N dimension). */
#define CONV_GEMM_COLS 4096
/* ...unless that would take the workspace (col buffer + staging buffer) past this. */
#define CONV_WORKSPACE_BUDGET ((size_t)64 << 20)

typedef struct {
    int nb;              /* images per gemm */
    int direct;          /* 1x1 stride-1 unpadded, one image per gemm: no col buffer */
    size_t col_floats;   /* col[C*R*S, nb*P*Q] */
    size_t stage_floats; /* [K, nb*P*Q] staging of y / dy when nb > 1 */
} conv_plan;

/* A function of the shape alone, so workspace_bytes and the three passes agree. */
static conv_plan conv_plan_make(const sg_conv_shape *s) {
    SG_CHECK(s->N > 0 && s->C > 0 && s->K > 0 && s->P > 0 && s->Q > 0 && s->R > 0 && s->S > 0 &&
                 s->stride > 0 && s->pad >= 0,
             "conv shape N%d C%d K%d P%d Q%d R%d S%d stride %d pad %d (use sg_conv_shape_make)",
             s->N, s->C, s->K, s->P, s->Q, s->R, s->S, s->stride, s->pad);
    SG_CHECK(s->P == (s->H + 2 * s->pad - s->R) / s->stride + 1 &&
                 s->Q == (s->W + 2 * s->pad - s->S) / s->stride + 1,
             "conv output P%d Q%d does not match H%d W%d R%d S%d stride %d pad %d", s->P, s->Q,
             s->H, s->W, s->R, s->S, s->stride, s->pad);
    size_t pq = (size_t)s->P * s->Q, crs = (size_t)s->C * s->R * s->S;
    /* sgemm takes int dimensions; a group never exceeds max(P*Q, ~2*CONV_GEMM_COLS) columns */
    SG_CHECK(pq <= INT_MAX / 2 && crs <= INT_MAX,
             "conv too large for int gemm dimensions: P*Q %zu, C*R*S %zu", pq, crs);
    conv_plan plan = {1, 0, 0, 0};
    if (pq < CONV_GEMM_COLS && s->N > 1) {
        size_t want = (CONV_GEMM_COLS + pq - 1) / pq;
        size_t fit = CONV_WORKSPACE_BUDGET / ((crs + (size_t)s->K) * pq * sizeof(float));
        if (want > fit) want = fit;
        if (want > (size_t)s->N) want = (size_t)s->N;
        if (want > 1) plan.nb = (int)want;
    }
    if (plan.nb == 1) {
        plan.direct = s->R == 1 && s->S == 1 && s->stride == 1 && s->pad == 0;
        plan.col_floats = plan.direct ? 0 : crs * pq;
    } else {
        plan.col_floats = crs * pq * (size_t)plan.nb;
        plan.stage_floats = (size_t)s->K * pq * (size_t)plan.nb;
    }
    return plan;
}

static size_t im2col_workspace_bytes(const sg_backend *be, const sg_conv_shape *s) {
    (void)be;
    conv_plan plan = conv_plan_make(s);
    return (plan.col_floats + plan.stage_floats) * sizeof(float);
}

/* Output columns q whose input column q*stride - pad + tap lies inside [0, W): [lo, hi). */
static void valid_range(int tap, int pad, int stride, int W, int Q, int *lo, int *hi) {
    int first = pad - tap; /* need q*stride >= first */
    int a = first <= 0 ? 0 : (first + stride - 1) / stride;
    int end = W + pad - tap; /* need q*stride < end */
    int b = end <= 0 ? 0 : (end + stride - 1) / stride;
    if (a > Q) a = Q;
    if (b > Q) b = Q;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* col[C*R*S, nb*PQ] from x[nb, C, H, W] (the group's first image at x). */
static void im2col(const sg_conv_shape *s, const float *x, int nb, float *col) {
    const int C = s->C, H = s->H, W = s->W, R = s->R, S = s->S, P = s->P, Q = s->Q;
    const int stride = s->stride, pad = s->pad;
    const size_t pq = (size_t)P * Q, ldcol = pq * (size_t)nb;
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int n = 0; n < nb; n++) {
            const float *plane = x + ((size_t)n * C + c) * H * W;
            for (int r = 0; r < R; r++) {
                for (int t = 0; t < S; t++) {
                    float *dst = col + ((size_t)(c * R + r) * S + t) * ldcol + (size_t)n * pq;
                    int lo, hi;
                    valid_range(t, pad, stride, W, Q, &lo, &hi);
                    for (int p = 0; p < P; p++) {
                        float *d = dst + (size_t)p * Q;
                        int h = p * stride - pad + r;
                        if (h < 0 || h >= H) {
                            memset(d, 0, (size_t)Q * sizeof(float));
                            continue;
                        }
                        /* q in [lo, hi) reads row[q*stride - pad + t], inside [0, W) */
                        const float *row = plane + (size_t)h * W;
                        for (int q = 0; q < lo; q++) d[q] = 0.0f;
                        if (stride == 1) {
                            memcpy(d + lo, row + (lo - pad + t), (size_t)(hi - lo) * sizeof(float));
                        } else {
                            for (int q = lo; q < hi; q++) d[q] = row[q * stride - pad + t];
                        }
                        for (int q = hi; q < Q; q++) d[q] = 0.0f;
                    }
                }
            }
        }
    }
}

/* dx[nb, C, H, W] = sum of col's taps (the adjoint of im2col). Each (image, channel) plane is
 * owned by one thread and summed in a fixed (r, s, p, q) order. */
static void col2im(const sg_conv_shape *s, const float *col, int nb, float *dx) {
    const int C = s->C, H = s->H, W = s->W, R = s->R, S = s->S, P = s->P, Q = s->Q;
    const int stride = s->stride, pad = s->pad;
    const size_t pq = (size_t)P * Q, ldcol = pq * (size_t)nb;
#pragma omp parallel for collapse(2) schedule(static)
    for (int c = 0; c < C; c++) {
        for (int n = 0; n < nb; n++) {
            float *plane = dx + ((size_t)n * C + c) * H * W;
            memset(plane, 0, (size_t)H * W * sizeof(float));
            for (int r = 0; r < R; r++) {
                for (int t = 0; t < S; t++) {
                    const float *src = col + ((size_t)(c * R + r) * S + t) * ldcol + (size_t)n * pq;
                    int lo, hi;
                    valid_range(t, pad, stride, W, Q, &lo, &hi);
                    for (int p = 0; p < P; p++) {
                        int h = p * stride - pad + r;
                        if (h < 0 || h >= H) continue;
                        const float *srow = src + (size_t)p * Q;
                        float *drow = plane + (size_t)h * W;
                        for (int q = lo; q < hi; q++) drow[q * stride - pad + t] += srow[q];
                    }
                }
            }
        }
    }
}

/* stage[K, nb*PQ] <- t[nb, K, PQ] */
static void nkpq_to_stage(const float *t, int nb, int K, size_t pq, float *stage) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int k = 0; k < K; k++)
        for (int n = 0; n < nb; n++)
            memcpy(stage + ((size_t)k * nb + n) * pq, t + ((size_t)n * K + k) * pq,
                   pq * sizeof(float));
}

/* t[nb, K, PQ] <- stage[K, nb*PQ] */
static void stage_to_nkpq(const float *stage, int nb, int K, size_t pq, float *t) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < nb; n++)
        for (int k = 0; k < K; k++)
            memcpy(t + ((size_t)n * K + k) * pq, stage + ((size_t)k * nb + n) * pq,
                   pq * sizeof(float));
}

/* y[N,K,P,Q] = conv(x[N,C,H,W], w[K,C,R,S]) */
static void im2col_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x,
                           const float *w, float *y, void *workspace) {
    (void)be;
    conv_plan plan = conv_plan_make(s);
    SG_CHECK(workspace || plan.col_floats + plan.stage_floats == 0, "conv2d_fwd needs a workspace");
    float *col = (float *)workspace;
    float *stage = col + plan.col_floats;
    const int K = s->K, CRS = s->C * s->R * s->S;
    const size_t pq = (size_t)s->P * s->Q, chw = (size_t)s->C * s->H * s->W, kpq = (size_t)K * pq;
    for (int n0 = 0; n0 < s->N; n0 += plan.nb) {
        const int m = min_int(plan.nb, s->N - n0); /* the last group may be partial */
        const int cols = (int)(m * pq);
        const float *xg = x + (size_t)n0 * chw;
        float *yg = y + (size_t)n0 * kpq;
        if (plan.direct) { /* y_n[K, HW] = w[K, C] x_n[C, HW] */
            sg_cpu_sgemm(0, 0, K, cols, s->C, 1.0f, w, s->C, xg, cols, 0.0f, yg, cols);
            continue;
        }
        im2col(s, xg, m, col);
        float *out = m == 1 ? yg : stage;
        sg_cpu_sgemm(0, 0, K, cols, CRS, 1.0f, w, CRS, col, cols, 0.0f, out, cols);
        if (m > 1) stage_to_nkpq(stage, m, K, pq, yg);
    }
}

/* dx[N,C,H,W] from dy[N,K,P,Q] and w[K,C,R,S] */
static void im2col_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                                const float *w, float *dx, void *workspace) {
    (void)be;
    conv_plan plan = conv_plan_make(s);
    SG_CHECK(workspace || plan.col_floats + plan.stage_floats == 0,
             "conv2d_bwd_data needs a workspace");
    float *col = (float *)workspace;
    float *stage = col + plan.col_floats;
    const int K = s->K, CRS = s->C * s->R * s->S;
    const size_t pq = (size_t)s->P * s->Q, chw = (size_t)s->C * s->H * s->W, kpq = (size_t)K * pq;
    for (int n0 = 0; n0 < s->N; n0 += plan.nb) {
        const int m = min_int(plan.nb, s->N - n0);
        const int cols = (int)(m * pq);
        const float *dyg = dy + (size_t)n0 * kpq;
        float *dxg = dx + (size_t)n0 * chw;
        if (plan.direct) { /* dx_n[C, HW] = w^T[C, K] dy_n[K, HW] */
            sg_cpu_sgemm(1, 0, s->C, cols, K, 1.0f, w, s->C, dyg, cols, 0.0f, dxg, cols);
            continue;
        }
        const float *dyb = dyg;
        if (m > 1) {
            nkpq_to_stage(dyg, m, K, pq, stage);
            dyb = stage;
        }
        sg_cpu_sgemm(1, 0, CRS, cols, K, 1.0f, w, CRS, dyb, cols, 0.0f, col, cols);
        col2im(s, col, m, dxg);
    }
}

/* dw[K,C,R,S] (+)= sum over images of dy_n[K, PQ] col_n^T, one gemm per image group in order. */
static void im2col_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                                  const float *dy, float *dw, int accumulate, void *workspace) {
    (void)be;
    conv_plan plan = conv_plan_make(s);
    SG_CHECK(workspace || plan.col_floats + plan.stage_floats == 0,
             "conv2d_bwd_filter needs a workspace");
    float *col = (float *)workspace;
    float *stage = col + plan.col_floats;
    const int K = s->K, CRS = s->C * s->R * s->S;
    const size_t pq = (size_t)s->P * s->Q, chw = (size_t)s->C * s->H * s->W, kpq = (size_t)K * pq;
    float beta = accumulate ? 1.0f : 0.0f;
    for (int n0 = 0; n0 < s->N; n0 += plan.nb) {
        const int m = min_int(plan.nb, s->N - n0);
        const int cols = (int)(m * pq);
        const float *xg = x + (size_t)n0 * chw;
        const float *dyg = dy + (size_t)n0 * kpq;
        if (plan.direct) { /* dw[K, C] += dy_n[K, HW] x_n[C, HW]^T */
            sg_cpu_sgemm(0, 1, K, s->C, cols, 1.0f, dyg, cols, xg, cols, beta, dw, s->C);
        } else {
            im2col(s, xg, m, col);
            const float *dyb = dyg;
            if (m > 1) {
                nkpq_to_stage(dyg, m, K, pq, stage);
                dyb = stage;
            }
            sg_cpu_sgemm(0, 1, K, CRS, cols, 1.0f, dyb, cols, col, cols, beta, dw, CRS);
        }
        beta = 1.0f;
    }
}

/* ---- the conv algorithms (kernels/kernels.h's sg_conv_algo) --------------------------------
 * The front door has checked that the shape's algorithm runs here (cpu_supports). */

static size_t cpu_conv2d_workspace_bytes(const sg_backend *be, const sg_conv_shape *s) {
    switch (s->algo) {
    case SG_CONV_WINOGRAD: return sg_cpu_winograd_workspace_bytes(s);
    case SG_CONV_DNNL: return sg_cpu_dnnl_workspace_bytes(s);
    default: return im2col_workspace_bytes(be, s);
    }
}

static void cpu_conv2d_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x,
                           const float *w, float *y, void *workspace) {
    switch (s->algo) {
    case SG_CONV_WINOGRAD: sg_cpu_winograd_fwd(s, x, w, y, workspace); break;
    case SG_CONV_DNNL: sg_cpu_dnnl_fwd(s, x, w, y, workspace); break;
    default: im2col_fwd(be, s, x, w, y, workspace); break;
    }
}

static void cpu_conv2d_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                                const float *w, float *dx, void *workspace) {
    switch (s->algo) {
    case SG_CONV_WINOGRAD: sg_cpu_winograd_bwd_data(s, dy, w, dx, workspace); break;
    case SG_CONV_DNNL: sg_cpu_dnnl_bwd_data(s, dy, w, dx, workspace); break;
    default: im2col_bwd_data(be, s, dy, w, dx, workspace); break;
    }
}

static void cpu_conv2d_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                                  const float *dy, float *dw, int accumulate, void *workspace) {
    switch (s->algo) {
    case SG_CONV_WINOGRAD: sg_cpu_winograd_bwd_filter(s, x, dy, dw, accumulate, workspace); break;
    case SG_CONV_DNNL: sg_cpu_dnnl_bwd_filter(s, x, dy, dw, accumulate, workspace); break;
    default: im2col_bwd_filter(be, s, x, dy, dw, accumulate, workspace); break;
    }
}

int sg_cpu_conv_supports(const sg_conv_shape *s) {
    switch (s->algo) {
    case SG_CONV_WINOGRAD: return sg_cpu_winograd_supports(s);
    case SG_CONV_DNNL: return sg_cpu_dnnl_available(NULL);
    case SG_CONV_CUDNN: return 0; /* a GPU library: the CUDA backend's */
    default: return 1;
    }
}

void sg_cpu_fill_dense(sg_backend *be) {
    be->gemm = cpu_gemm;
    be->linear_fwd = cpu_linear_fwd;
    be->linear_bwd = cpu_linear_bwd;
    be->conv2d_workspace_bytes = cpu_conv2d_workspace_bytes;
    be->conv2d_fwd = cpu_conv2d_fwd;
    be->conv2d_bwd_data = cpu_conv2d_bwd_data;
    be->conv2d_bwd_filter = cpu_conv2d_bwd_filter;
}
