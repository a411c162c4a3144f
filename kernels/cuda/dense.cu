/* kernels/cuda/dense.cu: gemm, linear and conv2d for the CUDA backend.
 *
 * Every FLOP goes through cuBLAS SGEMM (pure FP32, the handle's default math mode; under
 * trainer.precision=tf32|bf16 cublasGemmEx with the inputs rounded on the tensor cores); our own
 * kernels only move data (bias broadcast, im2col, col2im, NCHW <-> [K, images*P*Q] permutes) or
 * sum a few columns (the linear bias gradient).
 *
 * Row-major on a column-major library: a row-major C[M,N] with row stride ldc is, read
 * column-major, C^T[N,M] with leading dimension ldc. So C = op(A) op(B) is computed as
 * C^T = op(B)^T op(A)^T: cublasSgemm(opB, opA, N, M, K, B, ldb, A, lda, C, ldc), where the stored
 * row-major B read column-major is already B^T (so opB is T exactly when transB is set).
 *
 * Convolution = im2col + cuBLAS, as on the CPU backend. Why not a hand-written implicit-GEMM
 * kernel: cuBLAS's SGEMM runs near the device's FP32 peak for the shapes a ResNet produces;
 * im2col costs extra memory traffic (the col buffer is C*R*S/(C*stride^2) times the input), but
 * that traffic is a few percent of the gemm's time on HBM; and all three passes reuse the one
 * gemm path that the gemm tests already cover. An implicit-GEMM kernel would have to match
 * cuBLAS's tiling to be worth its risk.
 *
 * For a group of m consecutive images (m <= nb, the plan's group size):
 *   col[C*R*S, m*P*Q]      col[(c,r,s), (n,p,q)] = x[n, c, p*stride-pad+r, q*stride-pad+s] or 0
 *   fwd:         tmp[K, m*PQ] = w[K, CRS] col,          then tmp -> y[m, K, PQ]
 *   bwd data:    dy[m, K, PQ] -> tmp,  col = w^T[CRS, K] tmp,  then col2im (gather) -> dx
 *   bwd filter:  dy -> tmp,  dw[K, CRS] (+)= tmp col^T  (beta = accumulate for the first group,
 *                1 after: groups are summed in order, deterministically)
 * With m == 1 the image's own [K, P*Q] plane of y / dy is the gemm operand and tmp is not used.
 * Images are grouped as many as fit CONV_WORKSPACE_BUDGET (all of them for most shapes), so a
 * gemm has N*P*Q columns where possible while the workspace of a large model stays bounded.
 *
 * conv.algo=cudnn hands the three passes to cuDNN instead (cuda/conv_cudnn.cu); the default and
 * im2col run this file's path.
 *
 * Determinism: cuBLAS SGEMM in its default mode is deterministic for a fixed shape; every other
 * kernel gives each output element to one thread with a fixed summation order. No atomics.
 * Index arithmetic is 64-bit wherever a product of dimensions can pass 2^31 (a col buffer of a
 * real model holds ~1e9 floats); the kernels are grid-stride loops over size_t indices.
 */
#include <limits.h>
#include <stddef.h>

#include "core/base/err.h"
#include "kernels/cuda/cuda_internal.h"

#define THREADS 256u
/* Grid-stride kernels run at most this many blocks per SM; each thread loops over the rest. */
#define BLOCKS_PER_SM 32u
/* Largest workspace (col + tmp) the conv plan aims for; a single image may need more. */
#define CONV_WORKSPACE_BUDGET ((size_t)1 << 30)
/* The tmp buffer starts at this alignment inside the workspace. */
#define WS_ALIGN ((size_t)256)

static int max_int(int a, int b) { return a > b ? a : b; }
static int min_int(int a, int b) { return a < b ? a : b; }

/* Blocks for a grid-stride loop over n elements: enough to fill the device, never more than
 * the elements need. */
static unsigned grid_for(const sg_backend *be, size_t n) {
    unsigned b = sg_cu_blocks(n, THREADS);
    int sms = sg_cu_state(be)->sm_count;
    unsigned cap = (unsigned)(sms > 0 ? sms : 1) * BLOCKS_PER_SM;
    return b < cap ? b : cap;
}

#define GRID_STRIDE_LOOP(i, n)                                                                  \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                     \
         i += (size_t)gridDim.x * blockDim.x)

/* ---- gemm and linear ------------------------------------------------------------------------ */

/* C[M,N] (row stride ldc) = beta * C, with beta == 0 writing zeros without reading C (BLAS
 * semantics: C may hold NaN). gemm with K == 0. */
__global__ static void k_scale_matrix(int M, int N, float beta, float *C, int ldc) {
    const size_t total = (size_t)M * (size_t)N;
    GRID_STRIDE_LOOP(i, total) {
        size_t row = i / (size_t)N, col = i % (size_t)N;
        float *c = C + row * (size_t)ldc + col;
        *c = beta != 0.0f ? beta * *c : 0.0f;
    }
}

static void cu_gemm(const sg_backend *be, int transA, int transB, int M, int N, int K, float alpha,
                    const float *A, int lda, const float *B, int ldb, float beta, float *C,
                    int ldc) {
    /* Stored shapes: A is [M,K] or [K,M] (transA), B is [K,N] or [N,K] (transB), C is [M,N]. */
    SG_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm M%d N%d K%d", M, N, K);
    SG_CHECK(lda >= max_int(1, transA ? M : K) && ldb >= max_int(1, transB ? K : N) &&
                 ldc >= max_int(1, N),
             "gemm leading dimensions lda%d ldb%d ldc%d for M%d N%d K%d transA%d transB%d", lda,
             ldb, ldc, M, N, K, transA, transB);
    if (M == 0 || N == 0) return;
    if (K == 0) { /* an empty sum: C = beta C, done here rather than trusting a library edge */
        k_scale_matrix<<<grid_for(be, (size_t)M * N), THREADS, 0, sg_cu_stream(be)>>>(M, N, beta,
                                                                                      C, ldc);
        SG_CU_LAUNCH("k_scale_matrix");
        return;
    }
    /* column-major C^T[N,M] = op(B)^T[N,K] op(A)^T[K,M] (see the top of the file) */
    const cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int prec = sg_cu_state(be)->precision;
    if (prec == SG_PREC_FP32) {
        SG_CUBLAS(cublasSgemm(sg_cu_state(be)->blas, opB, opA, N, M, K, &alpha, B, ldb, A, lda,
                              &beta, C, ldc));
        return;
    }
    /* tf32 / bf16: fp32 in memory, the inputs rounded on the tensor cores, fp32 accumulation */
    const cublasComputeType_t ct =
        prec == SG_PREC_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_FAST_16BF;
    SG_CUBLAS(cublasGemmEx(sg_cu_state(be)->blas, opB, opA, N, M, K, &alpha, B, CUDA_R_32F, ldb, A,
                           CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc, ct, CUBLAS_GEMM_DEFAULT));
}

/* y[n, o] = b[o] for y[N, Out] */
__global__ static void k_bias_broadcast(int N, int Out, const float *b, float *y) {
    const size_t total = (size_t)N * (size_t)Out;
    GRID_STRIDE_LOOP(i, total) y[i] = b[i % (size_t)Out];
}

/* db[o] (+)= sum_n dy[n, o]: one thread per column, rows summed in order 0..N-1 (deterministic;
 * consecutive threads read consecutive addresses of each row, so the loads coalesce). */
__global__ static void k_column_sums(int N, int Out, const float *dy, float *db, int accumulate) {
    GRID_STRIDE_LOOP(o, (size_t)Out) {
        float acc = 0.0f;
        for (int n = 0; n < N; n++) acc += dy[(size_t)n * Out + o];
        db[o] = (accumulate ? db[o] : 0.0f) + acc;
    }
}

/* y[N,Out] = x[N,In] W[Out,In]^T + b[Out]: b is broadcast into y, then the gemm adds onto it. */
static void cu_linear_fwd(const sg_backend *be, int N, int In, int Out, const float *x,
                          const float *W, const float *b, float *y) {
    SG_CHECK(N > 0 && In > 0 && Out > 0, "linear N%d In%d Out%d", N, In, Out);
    float beta = 0.0f;
    if (b) {
        k_bias_broadcast<<<grid_for(be, (size_t)N * Out), THREADS, 0, sg_cu_stream(be)>>>(N, Out,
                                                                                         b, y);
        SG_CU_LAUNCH("k_bias_broadcast");
        beta = 1.0f;
    }
    cu_gemm(be, 0, 1, N, Out, In, 1.0f, x, In, W, In, beta, y, Out);
}

static void cu_linear_bwd(const sg_backend *be, int N, int In, int Out, const float *x,
                          const float *W, const float *dy, float *dx, float *dW, float *db,
                          int accumulate) {
    SG_CHECK(N > 0 && In > 0 && Out > 0, "linear N%d In%d Out%d", N, In, Out);
    /* dx[N,In] = dy[N,Out] W[Out,In] */
    if (dx) cu_gemm(be, 0, 0, N, In, Out, 1.0f, dy, Out, W, In, 0.0f, dx, In);
    /* dW[Out,In] (+)= dy^T[Out,N] x[N,In] */
    cu_gemm(be, 1, 0, Out, In, N, 1.0f, dy, Out, x, In, accumulate ? 1.0f : 0.0f, dW, In);
    if (db) {
        k_column_sums<<<grid_for(be, (size_t)Out), THREADS, 0, sg_cu_stream(be)>>>(N, Out, dy, db,
                                                                                  accumulate);
        SG_CU_LAUNCH("k_column_sums");
    }
}

/* ---- convolution ---------------------------------------------------------------------------- */

typedef struct {
    int nb;             /* images per gemm */
    size_t col_floats;  /* col[C*R*S, nb*P*Q] */
    size_t tmp_offset;  /* bytes from the workspace start to tmp (col rounded up to WS_ALIGN) */
    size_t tmp_floats;  /* tmp[K, nb*P*Q], only when nb > 1 */
} conv_plan;

/* A function of the shape alone, so workspace_bytes and the three passes agree. */
static conv_plan conv_plan_make(const sg_conv_shape *s) {
    SG_CHECK(s->N > 0 && s->C > 0 && s->K > 0 && s->P > 0 && s->Q > 0 && s->R > 0 && s->S > 0 &&
                 s->stride > 0 && s->pad >= 0 && s->H > 0 && s->W > 0,
             "conv shape N%d C%d H%d W%d K%d P%d Q%d R%d S%d stride %d pad %d (use "
             "sg_conv_shape_make)",
             s->N, s->C, s->H, s->W, s->K, s->P, s->Q, s->R, s->S, s->stride, s->pad);
    SG_CHECK(s->P == (s->H + 2 * s->pad - s->R) / s->stride + 1 &&
                 s->Q == (s->W + 2 * s->pad - s->S) / s->stride + 1,
             "conv output P%d Q%d does not match H%d W%d R%d S%d stride %d pad %d", s->P, s->Q,
             s->H, s->W, s->R, s->S, s->stride, s->pad);
    const size_t pq = (size_t)s->P * s->Q, crs = (size_t)s->C * s->R * s->S;
    /* cuBLAS takes int dimensions: C*R*S rows, nb*P*Q columns */
    SG_CHECK(pq <= INT_MAX && crs <= INT_MAX,
             "conv too large for int gemm dimensions: P*Q %zu, C*R*S %zu", pq, crs);
    const size_t per_image = (crs + (size_t)s->K) * pq * sizeof(float);
    size_t nb = CONV_WORKSPACE_BUDGET / per_image;
    if (nb > (size_t)s->N) nb = (size_t)s->N;
    if (nb > (size_t)INT_MAX / pq) nb = (size_t)INT_MAX / pq;
    if (nb < 1) nb = 1;
    conv_plan plan;
    plan.nb = (int)nb;
    plan.col_floats = crs * pq * nb;
    plan.tmp_offset = (plan.col_floats * sizeof(float) + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
    plan.tmp_floats = nb > 1 ? (size_t)s->K * pq * nb : 0;
    return plan;
}

static size_t cu_conv2d_workspace_bytes(const sg_backend *be, const sg_conv_shape *s) {
    if (s->algo == SG_CONV_CUDNN) return sg_cu_cudnn_workspace_bytes(be, s);
    conv_plan plan = conv_plan_make(s);
    return plan.tmp_offset + plan.tmp_floats * sizeof(float);
}

/* col[C*R*S, m*PQ] from x[m, C, H, W] (the group's first image at x). One thread per col
 * element, in col's row-major order (so the writes coalesce); padding taps are written as 0, so
 * every element of the m*PQ columns is written. */
__global__ static void k_im2col(sg_conv_shape s, int m, const float *x, float *col) {
    const int PQ = s.P * s.Q;
    const size_t ldcol = (size_t)m * PQ; /* <= INT_MAX (the plan checks it) */
    const size_t total = (size_t)s.C * s.R * s.S * ldcol;
    GRID_STRIDE_LOOP(i, total) {
        const size_t row = i / ldcol; /* (c, r, t), < C*R*S <= INT_MAX */
        const int j = (int)(i - row * ldcol); /* (n, p, q) */
        const int n = j / PQ, pq = j % PQ;
        const int p = pq / s.Q, q = pq % s.Q;
        const int t = (int)(row % (size_t)s.S);
        const int r = (int)((row / (size_t)s.S) % (size_t)s.R);
        const int c = (int)(row / ((size_t)s.S * s.R));
        const int h = p * s.stride - s.pad + r, w = q * s.stride - s.pad + t;
        float v = 0.0f;
        if (h >= 0 && h < s.H && w >= 0 && w < s.W)
            v = x[(((size_t)n * s.C + c) * s.H + h) * s.W + w];
        col[i] = v;
    }
}

/* dx[m, C, H, W] = the adjoint of im2col applied to col[C*R*S, m*PQ], in gather form: one
 * thread per dx element sums the taps (r, s) whose output position (p, q) it feeds, in a fixed
 * (r, s) order. Deterministic, no atomics, and every dx element is written (overwritten). */
__global__ static void k_col2im(sg_conv_shape s, int m, const float *col, float *dx) {
    const int PQ = s.P * s.Q;
    const size_t ldcol = (size_t)m * PQ;
    const size_t total = (size_t)m * s.C * s.H * s.W;
    GRID_STRIDE_LOOP(i, total) {
        const int w = (int)(i % (size_t)s.W);
        const int h = (int)((i / (size_t)s.W) % (size_t)s.H);
        const size_t nc = i / ((size_t)s.W * s.H); /* n * C + c */
        const int c = (int)(nc % (size_t)s.C);
        const int n = (int)(nc / (size_t)s.C);
        float acc = 0.0f;
        for (int r = 0; r < s.R; r++) {
            /* h = p*stride - pad + r  <=>  p = (h + pad - r) / stride, exactly */
            const int hp = h + s.pad - r;
            if (hp < 0 || hp % s.stride != 0) continue;
            const int p = hp / s.stride;
            if (p >= s.P) continue;
            for (int t = 0; t < s.S; t++) {
                const int wq = w + s.pad - t;
                if (wq < 0 || wq % s.stride != 0) continue;
                const int q = wq / s.stride;
                if (q >= s.Q) continue;
                const size_t row = ((size_t)c * s.R + r) * s.S + t;
                acc += col[row * ldcol + (size_t)n * PQ + (size_t)p * s.Q + q];
            }
        }
        dx[i] = acc;
    }
}

/* dst[K, m*PQ] <- src[m, K, PQ]; one thread per dst element. */
__global__ static void k_nkpq_to_kn(int m, int K, int PQ, const float *src, float *dst) {
    const size_t cols = (size_t)m * PQ;
    const size_t total = (size_t)K * cols;
    GRID_STRIDE_LOOP(i, total) {
        const size_t k = i / cols, j = i % cols;
        const size_t n = j / (size_t)PQ, pq = j % (size_t)PQ;
        dst[i] = src[(n * K + k) * PQ + pq];
    }
}

/* dst[m, K, PQ] <- src[K, m*PQ]; one thread per dst element. */
__global__ static void k_kn_to_nkpq(int m, int K, int PQ, const float *src, float *dst) {
    const size_t total = (size_t)m * K * PQ;
    GRID_STRIDE_LOOP(i, total) {
        const size_t pq = i % (size_t)PQ;
        const size_t k = (i / (size_t)PQ) % (size_t)K;
        const size_t n = i / ((size_t)PQ * K);
        dst[i] = src[(k * m + n) * PQ + pq];
    }
}

static void launch_im2col(const sg_backend *be, const sg_conv_shape *s, int m, const float *x,
                          float *col) {
    const size_t total = (size_t)s->C * s->R * s->S * ((size_t)m * s->P * s->Q);
    k_im2col<<<grid_for(be, total), THREADS, 0, sg_cu_stream(be)>>>(*s, m, x, col);
    SG_CU_LAUNCH("k_im2col");
}

static void launch_nkpq_to_kn(const sg_backend *be, int m, int K, int PQ, const float *src,
                              float *dst) {
    const size_t total = (size_t)m * K * PQ;
    k_nkpq_to_kn<<<grid_for(be, total), THREADS, 0, sg_cu_stream(be)>>>(m, K, PQ, src, dst);
    SG_CU_LAUNCH("k_nkpq_to_kn");
}

/* Workspace pointers of a plan. */
static float *ws_col(void *workspace) { return (float *)workspace; }
static float *ws_tmp(const conv_plan *plan, void *workspace) {
    return (float *)((char *)workspace + plan->tmp_offset);
}

/* y[N,K,P,Q] = conv(x[N,C,H,W], w[K,C,R,S]) */
static void cu_conv2d_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x,
                          const float *w, float *y, void *workspace) {
    if (s->algo == SG_CONV_CUDNN) return sg_cu_cudnn_fwd(be, s, x, w, y, workspace);
    const conv_plan plan = conv_plan_make(s);
    SG_CHECK(workspace != NULL, "conv2d_fwd needs a workspace");
    float *col = ws_col(workspace), *tmp = ws_tmp(&plan, workspace);
    const int K = s->K, CRS = s->C * s->R * s->S, PQ = s->P * s->Q;
    const size_t chw = (size_t)s->C * s->H * s->W, kpq = (size_t)K * PQ;
    for (int n0 = 0; n0 < s->N; n0 += plan.nb) {
        const int m = min_int(plan.nb, s->N - n0); /* the last group may be partial */
        const int cols = m * PQ;                   /* <= nb * PQ <= INT_MAX */
        const float *xg = x + (size_t)n0 * chw;
        float *yg = y + (size_t)n0 * kpq;
        launch_im2col(be, s, m, xg, col);
        float *out = m == 1 ? yg : tmp;
        cu_gemm(be, 0, 0, K, cols, CRS, 1.0f, w, CRS, col, cols, 0.0f, out, cols);
        if (m > 1) {
            k_kn_to_nkpq<<<grid_for(be, (size_t)K * cols), THREADS, 0, sg_cu_stream(be)>>>(
                m, K, PQ, tmp, yg);
            SG_CU_LAUNCH("k_kn_to_nkpq");
        }
    }
}

/* dx[N,C,H,W] (overwritten) from dy[N,K,P,Q] and w[K,C,R,S] */
static void cu_conv2d_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                               const float *w, float *dx, void *workspace) {
    if (s->algo == SG_CONV_CUDNN) return sg_cu_cudnn_bwd_data(be, s, dy, w, dx, workspace);
    const conv_plan plan = conv_plan_make(s);
    SG_CHECK(workspace != NULL, "conv2d_bwd_data needs a workspace");
    float *col = ws_col(workspace), *tmp = ws_tmp(&plan, workspace);
    const int K = s->K, CRS = s->C * s->R * s->S, PQ = s->P * s->Q;
    const size_t chw = (size_t)s->C * s->H * s->W, kpq = (size_t)K * PQ;
    for (int n0 = 0; n0 < s->N; n0 += plan.nb) {
        const int m = min_int(plan.nb, s->N - n0);
        const int cols = m * PQ;
        const float *dyg = dy + (size_t)n0 * kpq;
        float *dxg = dx + (size_t)n0 * chw;
        const float *dyb = dyg;
        if (m > 1) {
            launch_nkpq_to_kn(be, m, K, PQ, dyg, tmp);
            dyb = tmp;
        }
        /* col[CRS, cols] = w^T[CRS, K] dyb[K, cols] */
        cu_gemm(be, 1, 0, CRS, cols, K, 1.0f, w, CRS, dyb, cols, 0.0f, col, cols);
        const size_t total = (size_t)m * chw;
        k_col2im<<<grid_for(be, total), THREADS, 0, sg_cu_stream(be)>>>(*s, m, col, dxg);
        SG_CU_LAUNCH("k_col2im");
    }
}

/* dw[K,C,R,S] (+)= sum over image groups, in order, of dy_g[K, cols] col_g^T */
static void cu_conv2d_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                                 const float *dy, float *dw, int accumulate, void *workspace) {
    if (s->algo == SG_CONV_CUDNN)
        return sg_cu_cudnn_bwd_filter(be, s, x, dy, dw, accumulate, workspace);
    const conv_plan plan = conv_plan_make(s);
    SG_CHECK(workspace != NULL, "conv2d_bwd_filter needs a workspace");
    float *col = ws_col(workspace), *tmp = ws_tmp(&plan, workspace);
    const int K = s->K, CRS = s->C * s->R * s->S, PQ = s->P * s->Q;
    const size_t chw = (size_t)s->C * s->H * s->W, kpq = (size_t)K * PQ;
    float beta = accumulate ? 1.0f : 0.0f;
    for (int n0 = 0; n0 < s->N; n0 += plan.nb) {
        const int m = min_int(plan.nb, s->N - n0);
        const int cols = m * PQ;
        const float *xg = x + (size_t)n0 * chw;
        const float *dyg = dy + (size_t)n0 * kpq;
        launch_im2col(be, s, m, xg, col);
        const float *dyb = dyg;
        if (m > 1) {
            launch_nkpq_to_kn(be, m, K, PQ, dyg, tmp);
            dyb = tmp;
        }
        /* dw[K, CRS] = dyb[K, cols] col[CRS, cols]^T + beta dw */
        cu_gemm(be, 0, 1, K, CRS, cols, 1.0f, dyb, cols, col, cols, beta, dw, CRS);
        beta = 1.0f;
    }
}

void sg_cuda_fill_dense(sg_backend *be) {
    be->gemm = cu_gemm;
    be->linear_fwd = cu_linear_fwd;
    be->linear_bwd = cu_linear_bwd;
    be->conv2d_workspace_bytes = cu_conv2d_workspace_bytes;
    be->conv2d_fwd = cu_conv2d_fwd;
    be->conv2d_bwd_data = cu_conv2d_bwd_data;
    be->conv2d_bwd_filter = cu_conv2d_bwd_filter;
}
