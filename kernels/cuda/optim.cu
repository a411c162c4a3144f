/* kernels/cuda/optim.cu: the optimiser, EMA and DirectPred linear algebra of the CUDA backend
 * (contract in kernels.h; the CPU twin is kernels/cpu/optim.c).
 *
 * sgd_step / lars_step / ema_update: grid-stride elementwise kernels, one launch per group. The
 * float arithmetic is spelled with __fmul_rn / __fadd_rn: nvcc would otherwise contract a*b + c
 * into one FMA, while the CPU build (ISO C11, -ffp-contract=off) rounds the product and the sum
 * separately; written this way every element is bit-identical to the CPU's for the same inputs.
 * lars_step: the two norms are reduced in double in a fixed two-stage tree (LARS_BLOCKS block
 * partials in the backend scratch, then one block that sums them in a fixed order and writes
 * the trust-scaled learning rate back to scratch), and the update kernel reads that scale from
 * device memory, so a step never waits on the host. The summation order differs from the CPU's
 * serial loop, so the scale can differ from the CPU's in its last bit.
 * corr_update: cublasSsyrk fills one triangle, then one kernel applies the centring correction
 * and mirrors the triangle (both triangles exactly equal).
 * syevd: cusolverDnSsyevd; returns the solver's info, which costs a stream synchronisation.
 * eig_rebuild: rows of V scaled into work, one cublasSgemm, then exact symmetrisation.
 * eig_map (one block), pred_symmetrize, directcopy_fill, eig_pair_scale, rank1_sub: the CPU's
 * expressions with every rounding spelled out, bit-identical to it; nothing waits on the host.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"
#include "kernels/cuda/cuda_internal.h"

enum {
    EW_THREADS = 256,     /* threads per block of the elementwise kernels */
    EW_MAX_BLOCKS = 8192, /* grid-stride beyond this: enough blocks to fill any current GPU */
    LARS_BLOCKS = 128,    /* stage-1 partials per tensor: fixed, so the sum order is fixed */
    LARS_THREADS = 256,   /* power of two: the block reductions halve it */
    CORR_THREADS = 256,
    EIGMAP_THREADS = 256, /* eig_map's one block; power of two: the max tree halves it */
};

static unsigned ew_blocks(size_t n) {
    unsigned b = sg_cu_blocks(n, EW_THREADS);
    return b > (unsigned)EW_MAX_BLOCKS ? (unsigned)EW_MAX_BLOCKS : b;
}

/* ---- SGD -------------------------------------------------------------------------------- */

/* g' = g + wd*w; m = momentum*m + g'; w -= lr*m (cpu_sgd_step's expression, uncontracted);
 * lr from lr_at (device memory, a step graph's rate) when it is not NULL */
static __global__ void k_sgd(size_t n, float *__restrict__ w, const float *__restrict__ g,
                             float *__restrict__ m, float lr_value, const float *lr_at, float wd,
                             float momentum) {
    const float lr = lr_at ? *lr_at : lr_value;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float wi = w[i];
        const float gd = __fadd_rn(g[i], __fmul_rn(wd, wi));
        const float mi = __fadd_rn(__fmul_rn(momentum, m[i]), gd);
        m[i] = mi;
        w[i] = __fsub_rn(wi, __fmul_rn(lr, mi));
    }
}

/* groups is a host table; its w/g/m are device pointers. */
static void cu_sgd_step(const sg_backend *be, int ngroups, const sg_sgd_group *groups,
                        float momentum) {
    SG_CHECK(ngroups >= 0 && (ngroups == 0 || groups), "ngroups %d, groups %p", ngroups,
             (const void *)groups);
    cudaStream_t st = sg_cu_stream(be);
    for (int gi = 0; gi < ngroups; gi++) {
        const sg_sgd_group *grp = &groups[gi];
        if (grp->n == 0) continue;
        SG_CHECK(grp->w && grp->g && grp->m, "sgd group %d: w, g and m must be non-NULL", gi);
        k_sgd<<<ew_blocks(grp->n), EW_THREADS, 0, st>>>(grp->n, grp->w, grp->g, grp->m, grp->lr,
                                                        grp->lr_at, grp->weight_decay, momentum);
        SG_CU_LAUNCH("k_sgd");
    }
}

/* ---- LARS ------------------------------------------------------------------------------- */

/* Stage 1: block b sums w^2 and u^2 (u = g + wd*w, in double as the CPU does) over the
 * elements i = b*LARS_THREADS + t + k*LARS_BLOCKS*LARS_THREADS, then reduces its threads in a
 * fixed tree; partials[2b] = sum w^2, partials[2b+1] = sum u^2. Launched with exactly
 * LARS_BLOCKS blocks of LARS_THREADS threads. */
static __global__ void k_lars_partials(size_t n, const float *__restrict__ w,
                                       const float *__restrict__ g, float wd,
                                       double *__restrict__ partials) {
    __shared__ double sww[LARS_THREADS];
    __shared__ double suu[LARS_THREADS];
    const unsigned t = threadIdx.x;
    const size_t stride = (size_t)LARS_BLOCKS * LARS_THREADS;
    double ww = 0.0, uu = 0.0;
    for (size_t i = (size_t)blockIdx.x * LARS_THREADS + t; i < n; i += stride) {
        const double wi = (double)w[i];
        const double u = __dadd_rn((double)g[i], __dmul_rn((double)wd, wi));
        ww = __dadd_rn(ww, __dmul_rn(wi, wi));
        uu = __dadd_rn(uu, __dmul_rn(u, u));
    }
    sww[t] = ww;
    suu[t] = uu;
    __syncthreads();
    for (unsigned h = LARS_THREADS / 2; h > 0; h >>= 1) {
        if (t < h) {
            sww[t] = __dadd_rn(sww[t], sww[t + h]);
            suu[t] = __dadd_rn(suu[t], suu[t + h]);
        }
        __syncthreads();
    }
    if (t == 0) {
        partials[2 * blockIdx.x] = sww[0];
        partials[2 * blockIdx.x + 1] = suu[0];
    }
}

/* Stage 2: one block of LARS_BLOCKS threads sums the partials in a fixed tree and writes
 * *scale = lr*eta*||w||/||u|| (cpu_lars_step's expression: lr*eta in float, the rest in
 * double) when both norms are positive, else lr. */
static __global__ void k_lars_scale(const double *__restrict__ partials, float lr_value,
                                    const float *lr_at, float eta, float *__restrict__ scale) {
    __shared__ double sww[LARS_BLOCKS];
    __shared__ double suu[LARS_BLOCKS];
    const unsigned t = threadIdx.x;
    sww[t] = partials[2 * t];
    suu[t] = partials[2 * t + 1];
    __syncthreads();
    for (unsigned h = LARS_BLOCKS / 2; h > 0; h >>= 1) {
        if (t < h) {
            sww[t] = __dadd_rn(sww[t], sww[t + h]);
            suu[t] = __dadd_rn(suu[t], suu[t + h]);
        }
        __syncthreads();
    }
    if (t == 0) {
        const double ww = sww[0], uu = suu[0];
        const float lr = lr_at ? *lr_at : lr_value;
        float s = lr;
        if (ww > 0 && uu > 0)
            s = (float)(__dmul_rn((double)__fmul_rn(lr, eta), sqrt(ww)) / sqrt(uu));
        *scale = s;
    }
}

/* u = g + wd*w; m = momentum*m + scale*u; w -= m. The scale comes from device memory
 * (scale_dev, written by k_lars_scale) or, for tensors outside the trust ratio, is the learning
 * rate (scale_at in device memory, else scale_val). */
static __global__ void k_lars_update(size_t n, float *__restrict__ w, const float *__restrict__ g,
                                     float *__restrict__ m, float wd, float momentum,
                                     const float *__restrict__ scale_dev, const float *scale_at,
                                     float scale_val) {
    const float scale = scale_dev ? *scale_dev : scale_at ? *scale_at : scale_val;
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float wi = w[i];
        const float u = __fadd_rn(g[i], __fmul_rn(wd, wi));
        const float mi = __fadd_rn(__fmul_rn(momentum, m[i]), __fmul_rn(scale, u));
        m[i] = mi;
        w[i] = __fsub_rn(wi, mi);
    }
}

/* One scratch region (LARS_BLOCKS double pairs, then the float scale) is reused by every
 * tensor in turn: the stream runs tensor k's update before tensor k+1's partials overwrite it. */
static void cu_lars_step(const sg_backend *be, int ngroups, const sg_lars_group *groups, float lr,
                         float momentum, float eta) {
    SG_CHECK(ngroups >= 0 && (ngroups == 0 || groups), "ngroups %d", ngroups);
    cudaStream_t st = sg_cu_stream(be);
    const size_t partial_bytes = (size_t)2 * LARS_BLOCKS * sizeof(double);
    double *partials = NULL;
    float *scale = NULL;
    for (int gi = 0; gi < ngroups; gi++) {
        const sg_lars_group *grp = &groups[gi];
        if (grp->n == 0) continue;
        SG_CHECK(grp->w && grp->g && grp->m, "lars group %d: w, g and m must be non-NULL", gi);
        const float wd = grp->adapt ? grp->weight_decay : 0.0f;
        if (grp->adapt) {
            if (!partials) {
                char *base = (char *)sg_cu_scratch(be, partial_bytes + sizeof(double));
                partials = (double *)base;
                scale = (float *)(base + partial_bytes);
            }
            k_lars_partials<<<LARS_BLOCKS, LARS_THREADS, 0, st>>>(grp->n, grp->w, grp->g, wd,
                                                                  partials);
            SG_CU_LAUNCH("k_lars_partials");
            k_lars_scale<<<1, LARS_BLOCKS, 0, st>>>(partials, lr, grp->lr_at, eta, scale);
            SG_CU_LAUNCH("k_lars_scale");
        }
        k_lars_update<<<ew_blocks(grp->n), EW_THREADS, 0, st>>>(
            grp->n, grp->w, grp->g, grp->m, wd, momentum, grp->adapt ? scale : NULL, grp->lr_at,
            lr);
        SG_CU_LAUNCH("k_lars_update");
    }
}

/* ---- EMA -------------------------------------------------------------------------------- */

/* m from m_at (device memory, a step graph's rate) when it is not NULL; 1 - m rounded once, as
 * the CPU's one_minus_m */
static __global__ void k_ema(size_t n, float m_value, const float *m_at,
                             const float *__restrict__ online, float *__restrict__ target) {
    const float m = m_at ? *m_at : m_value, one_minus_m = __fsub_rn(1.0f, m);
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        target[i] = __fadd_rn(__fmul_rn(m, target[i]), __fmul_rn(one_minus_m, online[i]));
}

static void cu_ema_update(const sg_backend *be, size_t n, float m, const float *m_at,
                          const float *online, float *target) {
    if (n == 0) return;
    SG_CHECK(online && target, "ema_update: NULL buffer");
    k_ema<<<ew_blocks(n), EW_THREADS, 0, sg_cu_stream(be)>>>(n, m, m_at, online, target);
    SG_CU_LAUNCH("k_ema");
}

/* ---- correlation ------------------------------------------------------------------------ */

/* mean[d] = (1/N) sum_n f[n,d]: one thread per column, summed in double in row order (adjacent
 * threads read adjacent floats of a row). */
static __global__ void k_column_mean(int N, int D, const float *__restrict__ f,
                                     float *__restrict__ mean) {
    const int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    double acc = 0.0;
    for (int n = 0; n < N; n++) acc = __dadd_rn(acc, (double)f[(size_t)n * D + d]);
    mean[d] = (float)(acc / N);
}

/* F's row-major upper triangle holds the result of syrk. For each pair r <= c (one thread per
 * pair, so nothing is read after another thread wrote it): v = F[r,c], minus blend*mu_r*mu_c
 * when centred (mu != NULL), written to both F[r,c] and F[c,r]. */
static __global__ void k_corr_finish(int D, float *__restrict__ F, const float *__restrict__ mu,
                                     float neg_blend) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)D * D) return;
    const int r = (int)(idx / (size_t)D), c = (int)(idx % (size_t)D);
    if (r > c) return;
    float v = F[(size_t)r * D + c];
    if (mu) v = __fadd_rn(v, __fmul_rn(__fmul_rn(neg_blend, mu[r]), mu[c]));
    F[(size_t)r * D + c] = v;
    F[(size_t)c * D + r] = v;
}

/* F[D,D] <- keep*F + blend*B, B = (1/N) f^T f (centred: minus mu mu^T), blend/keep as the CPU.
 * Row-major f[N,D] is the column-major [D,N] matrix f^T (ld D), so the row-major f^T f is the
 * column-major A A^T with A = that matrix: syrk with CUBLAS_OP_N, n = D, k = N. The column-major
 * LOWER triangle (i >= j at i + j*D) is the row-major UPPER one, the triangle the CPU fills. */
static void cu_corr_update(const sg_backend *be, int N, int D, const float *f, float rho, int init,
                           int center, float *F, float *work) {
    SG_CHECK(N > 0 && D > 0, "corr_update: N %d, D %d", N, D);
    SG_CHECK(f && F, "corr_update: NULL buffer");
    SG_CHECK(!center || work, "corr_update: the centred variant needs work[D]");
    sg_cuda_state *s = sg_cu_state(be);
    const float blend = init ? 1.0f : 1.0f - rho; /* weight of the new batch */
    const float keep = init ? 0.0f : rho;         /* weight of the old F (0: F not read) */
    const float alpha = blend / (float)N;
    SG_CUBLAS(
        cublasSsyrk(s->blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, D, N, &alpha, f, D, &keep, F, D));
    if (center) {
        k_column_mean<<<sg_cu_blocks((size_t)D, CORR_THREADS), CORR_THREADS, 0, s->stream>>>(
            N, D, f, work);
        SG_CU_LAUNCH("k_column_mean");
    }
    const size_t DD = (size_t)D * D;
    k_corr_finish<<<sg_cu_blocks(DD, CORR_THREADS), CORR_THREADS, 0, s->stream>>>(
        D, F, center ? work : NULL, -blend);
    SG_CU_LAUNCH("k_corr_finish");
}

/* ---- eigendecomposition ----------------------------------------------------------------- */

static size_t align256(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

/* cuSOLVER's workspace size in floats. The query only looks at the shapes: A and W are not
 * read, so the backend scratch stands in for both. */
static int syevd_lwork(const sg_backend *be, int D) {
    sg_cuda_state *s = sg_cu_state(be);
    const float *dummy = (const float *)s->scratch;
    int lwork = 0;
    SG_CUSOLVER(cusolverDnSsyevd_bufferSize(s->solver, CUSOLVER_EIG_MODE_VECTOR,
                                            CUBLAS_FILL_MODE_LOWER, D, dummy, D, dummy, &lwork));
    SG_CHECK(lwork >= 0, "syevd: cuSOLVER asked for %d workspace floats", lwork);
    return lwork > 0 ? lwork : 1;
}

static size_t cu_syevd_workspace_bytes(const sg_backend *be, int D) {
    SG_CHECK(D > 0, "syevd: D %d", D);
    return align256((size_t)syevd_lwork(be, D) * sizeof(float));
}

/* A[D,D] symmetric row-major is the same matrix read column-major. cuSOLVER writes eigenvector
 * j into column j (column-major), which read row-major is row j: kernels.h's layout.
 * Eigenvalues come back ascending. */
static int cu_syevd(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at) {
    SG_CHECK(D > 0, "syevd: D %d", D);
    SG_CHECK(A && w && work, "syevd: NULL buffer");
    sg_cuda_state *s = sg_cu_state(be);
    const int lwork = syevd_lwork(be, D);
    SG_CUSOLVER(cusolverDnSsyevd(s->solver, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, D, A,
                                 D, w, (float *)work, lwork, info_at ? info_at : s->info));
    if (info_at) return 0; /* the caller reads it later: no wait here */
    int info = 0;
    SG_CU(cudaMemcpyAsync(&info, s->info, sizeof info, cudaMemcpyDeviceToHost, s->stream));
    SG_CU(cudaStreamSynchronize(s->stream));
    return info;
}

/* work[j,k] = p[j] * V[j,k] */
static __global__ void k_scale_rows(int D, const float *__restrict__ V, const float *__restrict__ p,
                                    float *__restrict__ work) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)D * D) return;
    work[idx] = __fmul_rn(p[idx / (size_t)D], V[idx]);
}

/* W[i,j] = W[j,i] = (W[i,j] + W[j,i]) / 2 for i > j, one thread per pair (cpu_eig_rebuild's
 * expression). */
static __global__ void k_symmetrise(int D, float *__restrict__ W) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)D * D) return;
    const int i = (int)(idx / (size_t)D), j = (int)(idx % (size_t)D);
    if (i <= j) return;
    const float s = __fmul_rn(0.5f, __fadd_rn(W[(size_t)i * D + j], W[(size_t)j * D + i]));
    W[(size_t)i * D + j] = s;
    W[(size_t)j * D + i] = s;
}

/* W = V^T diag(p) V = V^T work (row-major). Row-major X is column-major X^T, so the column-major
 * image of W is W^T = work^T V, i.e. (column-major buffers) Wc = workc * Vc^T:
 * Sgemm(OP_N, OP_T) with A = work, B = V. Then exact symmetrisation, as the CPU. */
static void cu_eig_rebuild(const sg_backend *be, int D, const float *V, const float *p, float *W,
                           float *work) {
    SG_CHECK(D > 0, "eig_rebuild: D %d", D);
    SG_CHECK(V && p && W && work, "eig_rebuild: NULL buffer");
    sg_cuda_state *s = sg_cu_state(be);
    const size_t DD = (size_t)D * D;
    k_scale_rows<<<sg_cu_blocks(DD, EW_THREADS), EW_THREADS, 0, s->stream>>>(D, V, p, work);
    SG_CU_LAUNCH("k_scale_rows");
    const float one = 1.0f, zero = 0.0f;
    SG_CUBLAS(
        cublasSgemm(s->blas, CUBLAS_OP_N, CUBLAS_OP_T, D, D, D, &one, work, D, V, D, &zero, W, D));
    k_symmetrise<<<sg_cu_blocks(DD, EW_THREADS), EW_THREADS, 0, s->stream>>>(D, W);
    SG_CU_LAUNCH("k_symmetrise");
}

/* ---- the steps around the eigendecomposition -------------------------------------------
 * The CPU's expressions (kernels/cpu/optim.c), each rounding spelled out so nvcc contracts
 * nothing: every output is bit-identical to the CPU's. One thread per output element (pair). */

/* One block: smax by a strided max and a shared-memory tree (a max is exact, so the order does
 * not matter), then the map over a stride of the eigenvalues. D is at most a few thousand. */
static __global__ void k_eig_map(int D, const float *__restrict__ s, float *__restrict__ p,
                                 int mode, double eps, double shift_c) {
    __shared__ double smx[EIGMAP_THREADS];
    const unsigned t = threadIdx.x;
    double m = 0.0;
    for (int j = (int)t; j < D; j += EIGMAP_THREADS)
        if (s[j] > m) m = s[j];
    smx[t] = m;
    __syncthreads();
    for (unsigned h = EIGMAP_THREADS / 2; h > 0; h >>= 1) {
        if (t < h && smx[t + h] > smx[t]) smx[t] = smx[t + h];
        __syncthreads();
    }
    const double smax = smx[0];
    for (int j = (int)t; j < D; j += EIGMAP_THREADS) {
        const double sj = s[j] > 0 ? (double)s[j] : 0.0;
        double v;
        switch (mode) {
        case SG_EIG_MAP_CODE:
            v = __dadd_rn(smax > 0 ? __dsqrt_rn(__ddiv_rn(sj, smax)) : 0.0, eps);
            if (v < 1e-4) v = 1e-4;
            break;
        case SG_EIG_MAP_PAPER: v = __dadd_rn(__dsqrt_rn(sj), __dmul_rn(eps, smax)); break;
        case SG_EIG_MAP_SHIFT_REL:
            v = __dsub_rn(smax > 0 ? __ddiv_rn((double)s[j], smax) : 0.0, shift_c);
            v = __dsqrt_rn(v > 1e-4 ? v : 1e-4);
            break;
        default: {
            const double d = __dsub_rn((double)s[j], shift_c);
            v = d > 0 ? __dsqrt_rn(d) : 0.0;
            break;
        }
        }
        p[j] = (float)v;
    }
}

static void cu_eig_map(const sg_backend *be, int D, const float *s, float *p, int mode,
                       double eps, double shift_c) {
    SG_CHECK(D > 0 && s && p, "eig_map: D %d or a NULL buffer", D);
    k_eig_map<<<1, EIGMAP_THREADS, 0, sg_cu_stream(be)>>>(D, s, p, mode, eps, shift_c);
    SG_CU_LAUNCH("k_eig_map");
}

/* A[r,c] = B[c,r] = 0.5f*(A[r,c] + B[c,r]), one thread per (r,c) of A[R,C]. */
static __global__ void k_sym_tied(int R, int C, float *__restrict__ A, float *__restrict__ B) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)R * C) return;
    const int r = (int)(idx / (size_t)C), c = (int)(idx % (size_t)C);
    const float a = __fmul_rn(0.5f, __fadd_rn(A[idx], B[(size_t)c * R + r]));
    A[idx] = a;
    B[(size_t)c * R + r] = a;
}

/* In place: eig_rebuild's k_symmetrise (the same pairs and expression, summed in the other
 * order, which a single float add does not see). */
static void cu_pred_symmetrize(const sg_backend *be, int R, int C, float *A, float *B) {
    SG_CHECK(R > 0 && C > 0 && A && (B || R == C), "pred_symmetrize: R %d, C %d", R, C);
    cudaStream_t st = sg_cu_stream(be);
    const size_t n = (size_t)R * C;
    if (!B) {
        k_symmetrise<<<sg_cu_blocks(n, EW_THREADS), EW_THREADS, 0, st>>>(R, A);
        SG_CU_LAUNCH("k_symmetrise");
        return;
    }
    k_sym_tied<<<sg_cu_blocks(n, EW_THREADS), EW_THREADS, 0, st>>>(R, C, A, B);
    SG_CU_LAUNCH("k_sym_tied");
}

/* Every thread derives scale from s[D-1] itself (one float division, as the CPU's once). */
static __global__ void k_directcopy_fill(int D, const float *__restrict__ F,
                                         const float *__restrict__ s, int normalize, float eps,
                                         float *__restrict__ W) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)D * D) return;
    float scale = 1.0f;
    if (normalize && s[D - 1] > 0) scale = __fdiv_rn(1.0f, s[D - 1]);
    const int i = (int)(idx / (size_t)D), j = (int)(idx % (size_t)D);
    W[idx] = __fadd_rn(__fmul_rn(scale, F[idx]), i == j ? eps : 0.0f);
}

static void cu_directcopy_fill(const sg_backend *be, int D, const float *F, const float *s,
                               int normalize, double eps, float *W) {
    SG_CHECK(D > 0 && F && W && (!normalize || s), "directcopy_fill: D %d or a NULL buffer", D);
    const size_t DD = (size_t)D * D;
    k_directcopy_fill<<<sg_cu_blocks(DD, EW_THREADS), EW_THREADS, 0, sg_cu_stream(be)>>>(
        D, F, s, normalize, (float)eps, W);
    SG_CU_LAUNCH("k_directcopy_fill");
}

static __global__ void k_eig_pair_scale(int D, float *__restrict__ X, const float *__restrict__ s,
                                        double reg) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)D * D) return;
    const int i = (int)(idx / (size_t)D), j = (int)(idx % (size_t)D);
    const double si = s[i] > 0 ? (double)s[i] : 0.0, sj = s[j] > 0 ? (double)s[j] : 0.0;
    const float d = (float)__ddiv_rn(__dadd_rn(__dadd_rn(si, sj), reg), 2.0);
    X[idx] = __fdiv_rn(X[idx], d);
}

static void cu_eig_pair_scale(const sg_backend *be, int D, float *X, const float *s, double reg) {
    SG_CHECK(D > 0 && X && s, "eig_pair_scale: D %d or a NULL buffer", D);
    const size_t DD = (size_t)D * D;
    k_eig_pair_scale<<<sg_cu_blocks(DD, EW_THREADS), EW_THREADS, 0, sg_cu_stream(be)>>>(D, X, s,
                                                                                       reg);
    SG_CU_LAUNCH("k_eig_pair_scale");
}

static __global__ void k_rank1_sub(int D, const float *__restrict__ mu, float *__restrict__ V) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)D * D) return;
    const int i = (int)(idx / (size_t)D), j = (int)(idx % (size_t)D);
    V[idx] = __fsub_rn(V[idx], __fmul_rn(mu[i], mu[j]));
}

static void cu_rank1_sub(const sg_backend *be, int D, const float *mu, float *V) {
    SG_CHECK(D > 0 && mu && V, "rank1_sub: D %d or a NULL buffer", D);
    const size_t DD = (size_t)D * D;
    k_rank1_sub<<<sg_cu_blocks(DD, EW_THREADS), EW_THREADS, 0, sg_cu_stream(be)>>>(D, mu, V);
    SG_CU_LAUNCH("k_rank1_sub");
}

void sg_cuda_fill_optim(sg_backend *be) {
    be->sgd_step = cu_sgd_step;
    be->lars_step = cu_lars_step;
    be->ema_update = cu_ema_update;
    be->corr_update = cu_corr_update;
    be->syevd_workspace_bytes = cu_syevd_workspace_bytes;
    be->syevd = cu_syevd;
    be->eig_rebuild = cu_eig_rebuild;
    be->eig_map = cu_eig_map;
    be->pred_symmetrize = cu_pred_symmetrize;
    be->directcopy_fill = cu_directcopy_fill;
    be->eig_pair_scale = cu_eig_pair_scale;
    be->rank1_sub = cu_rank1_sub;
}
