/* kernels/cuda/nn.cu: batch norm, relu, residual add, pooling and the SSL pair loss of the CUDA
 * backend (semantics in kernels/kernels.h; the CPU versions in kernels/cpu/nn.c are the model).
 *
 * Determinism: no atomics. Every reduction is a double accumulation in a fixed tree: each thread
 * sums a fixed set of elements in order, then block_sum (warp shuffles, then the 8 warp totals)
 * combines them in a fixed order. Every kernel that reduces runs with NN_THREADS threads, so the
 * tree is part of the program and two runs give bit-identical results on any device.
 *
 * Batch norm statistics are two-stage: a channel's N*HW values (up to ~600k with C as small as
 * 64) are split into chunks, one block per (channel, chunk) writing a double partial into the
 * backend scratch, then one thread per channel sums its partials in chunk order. The chunking is
 * a pure function of (N, C, HW), never of the device.
 *
 * Rounding: the CPU build is ISO C11 (no floating-point contraction), so the elementwise and
 * per-channel formulas are written with explicit _rn intrinsics: nvcc would otherwise fuse
 * a*b+c into an fma and round differently from the CPU. Reductions are free to fuse: their
 * summation order differs from the CPU's anyway.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"
#include "kernels/cuda/cuda_internal.h"

/* Threads per block of every kernel here (block_sum's tree depends on it). */
#define NN_THREADS 256
#define NN_WARPS (NN_THREADS / 32)
/* Grid-stride kernels take at most this many blocks and loop over the rest. */
#define NN_MAX_GRID 65536u

/* Batch norm stage 1 aims at about this many blocks in all (132 SMs x 8 resident blocks of 256
 * threads is ~1056), with chunks of at least BN_MIN_CHUNK values (16 per thread). */
#define BN_TARGET_BLOCKS 1024
#define BN_MIN_CHUNK 4096

/* F.normalize's lower clamp on the norm. */
#define SG_NORM_EPS 1e-12

#define FULL_MASK 0xffffffffu

/* ---- reductions --------------------------------------------------------------------------- */

/* Sum over the 32 lanes of a warp in a fixed shuffle tree; the total is valid in lane 0. */
__device__ static inline double warp_sum(double v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(FULL_MASK, v, off);
    return v;
}

/* Sum of v over the block, returned to every thread. Must be called by all NN_THREADS threads
 * of the block (it synchronises). The leading __syncthreads lets the block call it repeatedly:
 * no thread overwrites the shared slots before every thread has read the previous total. */
__device__ static double block_sum(double v) {
    __shared__ double warp_tot[NN_WARPS];
    __shared__ double total;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) warp_tot[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double s = lane < NN_WARPS ? warp_tot[lane] : 0.0;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

/* e / d for an element index e of a tensor of `narrow` != 0 -> fewer than 2^32 elements: then in
 * 32 bits (a 64-bit division costs several times the memory access it indexes). */
__device__ static inline size_t div_idx(size_t e, unsigned d, int narrow) {
    return narrow ? (size_t)((unsigned)e / d) : e / d;
}

/* Channel (e / HW) % C of element e of an [N, C, HW] tensor, in 32 bits when narrow. */
__device__ static inline unsigned chan_idx(size_t e, unsigned HW, unsigned C, int narrow) {
    return narrow ? ((unsigned)e / HW) % C : (unsigned)((e / HW) % C);
}

static inline unsigned grid_for(size_t n) {
    unsigned b = sg_cu_blocks(n, NN_THREADS);
    return b > NN_MAX_GRID ? NN_MAX_GRID : b;
}

#define GRID_STRIDE_LOOP(i, n)                                                                     \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

/* ---- batch norm ------------------------------------------------------------------------------
 * Element j in [0, M) of channel c (M = N*HW) is (n, i) = (j / HW, j % HW), stored at
 * x[(n*C + c)*HW + i]; for HW == 1 that is x[n*C + c] (channels strided by C). */

typedef struct {
    int chunks;   /* chunks per channel, none empty */
    unsigned len; /* values per chunk (the last one may hold fewer) */
} bn_split;

static bn_split bn_split_make(int N, int C, int HW) {
    const long long M = (long long)N * HW;
    long long ch = (BN_TARGET_BLOCKS + C - 1) / C;
    const long long by_len = (M + BN_MIN_CHUNK - 1) / BN_MIN_CHUNK;
    if (ch > by_len) ch = by_len;
    if (ch < 1) ch = 1;
    const long long len = (M + ch - 1) / ch;
    bn_split s;
    s.len = (unsigned)len;
    s.chunks = (int)((M + len - 1) / len); /* drops a trailing empty chunk, if any */
    return s;
}

__device__ static inline size_t bn_addr(unsigned j, unsigned HW, unsigned C, unsigned c) {
    const unsigned n = j / HW, i = j - n * HW;
    return ((size_t)n * C + c) * HW + i;
}

/* Stage 1 of the channel sum: block (c, k) = blockIdx.x = c*chunks + k writes
 * part[c*chunks + k] = sum of x over chunk k of channel c. */
static __global__ void __launch_bounds__(NN_THREADS)
    k_bn_sum(unsigned M, unsigned C, unsigned HW, int chunks, unsigned len, const float *x,
             double *part) {
    const unsigned c = blockIdx.x / (unsigned)chunks, k = blockIdx.x % (unsigned)chunks;
    const unsigned start = k * len, end = M - start < len ? M : start + len;
    double s = 0.0;
    for (unsigned j = start + threadIdx.x; j < end; j += NN_THREADS)
        s += (double)x[bn_addr(j, HW, C, c)];
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

/* Stage 1 of the second pass: part[c*chunks + k] = sum over the chunk of (x - mean_d[c])^2. */
static __global__ void __launch_bounds__(NN_THREADS)
    k_bn_sumsq_dev(unsigned M, unsigned C, unsigned HW, int chunks, unsigned len, const float *x,
                   const double *mean_d, double *part) {
    const unsigned c = blockIdx.x / (unsigned)chunks, k = blockIdx.x % (unsigned)chunks;
    const unsigned start = k * len, end = M - start < len ? M : start + len;
    const double m = mean_d[c];
    double s = 0.0;
    for (unsigned j = start + threadIdx.x; j < end; j += NN_THREADS) {
        const double d = (double)x[bn_addr(j, HW, C, c)] - m;
        s += d * d;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

/* Stage 2 of the mean: one thread per channel sums its partials in chunk order. */
static __global__ void k_bn_mean(int C, int chunks, double M, const double *part, double *mean_d) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double *pc = part + (size_t)c * chunks;
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s += pc[k];
    mean_d[c] = s / M;
}

/* Stage 2 of the variance and the per-channel outputs, as the CPU's bn_train_channel_stats:
 * mean/invstd saved, running statistics updated with the unbiased variance, and the affine map
 * y = (x - mean_f) * scale + shift with the float rounding of the mean folded into shift. */
static __global__ void k_bn_train_finish(int C, int chunks, double M, const double *part,
                                         const double *mean_d, float eps, float momentum,
                                         const float *gamma, const float *beta, float *running_mean,
                                         float *running_var, float *mean_out, float *invstd_out,
                                         float *scale, float *shift) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double *pc = part + (size_t)c * chunks;
    double q = 0.0;
    for (int k = 0; k < chunks; k++) q += pc[k];
    const double mean = mean_d[c];
    const double var_biased = q / M;
    const double invstd = 1.0 / sqrt(__dadd_rn(var_biased, (double)eps));
    const float mf = (float)mean;
    mean_out[c] = mf;
    invstd_out[c] = (float)invstd;
    if (running_mean) {
        const double mom = (double)momentum;
        const double var_unbiased = __dmul_rn(var_biased, M) / (M - 1.0);
        running_mean[c] =
            (float)__dadd_rn(__dmul_rn(1.0 - mom, (double)running_mean[c]), __dmul_rn(mom, mean));
        running_var[c] = (float)__dadd_rn(__dmul_rn(1.0 - mom, (double)running_var[c]),
                                          __dmul_rn(mom, var_unbiased));
    }
    const double sc = gamma ? __dmul_rn((double)gamma[c], invstd) : invstd;
    const double mean_residual = mean - (double)mf;
    scale[c] = (float)sc;
    shift[c] = (float)__dsub_rn(beta ? (double)beta[c] : 0.0, __dmul_rn(mean_residual, sc));
}

/* Evaluation coefficients from the running statistics (the CPU's per-channel scale/shift). */
static __global__ void k_bn_eval_coef(int C, float eps, const float *gamma, const float *beta,
                                      const float *running_var, float *scale, float *shift) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double is = 1.0 / sqrt(__dadd_rn((double)running_var[c], (double)eps));
    scale[c] = (float)(gamma ? __dmul_rn((double)gamma[c], is) : is);
    shift[c] = beta ? beta[c] : 0.0f;
}

/* y = (x - mf[c]) * scale[c] + shift[c], one thread per element (y may alias x); relu: then
 * k_relu_fwd's v < 0 ? 0 : v of it (a fused ReLU, the bits of k_relu_fwd on this output). */
static __global__ void k_bn_apply(size_t total, unsigned C, unsigned HW, int narrow, const float *x,
                                  const float *mf, const float *scale, const float *shift,
                                  int relu, float *y) {
    GRID_STRIDE_LOOP(e, total) {
        const unsigned c = chan_idx(e, HW, C, narrow);
        const float v = __fadd_rn(__fmul_rn(__fsub_rn(x[e], mf[c]), scale[c]), shift[c]);
        y[e] = relu && v < 0.0f ? 0.0f : v;
    }
}

/* Training forward; relu: with the ReLU fused into the apply (batchnorm_relu_fwd). */
static void bn_fwd_train(const sg_backend *be, int N, int C, int HW, const float *x,
                         const float *gamma, const float *beta, float eps, float momentum,
                         float *running_mean, float *running_var, float *mean, float *invstd,
                         float *y, int relu) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_fwd_train: N%d C%d HW%d", N, C, HW);
    /* PyTorch refuses to train BN on one value per channel: the unbiased variance is 0/0. */
    SG_CHECK((long long)N * HW > 1,
             "batchnorm_fwd_train needs more than one value per channel "
             "(N%d HW%d)",
             N, HW);
    SG_CHECK(!running_mean == !running_var, "batchnorm_fwd_train: running_mean and running_var "
                                            "must both be given or both be NULL");
    /* the chunk indices j < M are 32-bit */
    SG_CHECK((long long)N * HW <= 0x7fffffffLL, "batchnorm_fwd_train: N*HW = %lld too large",
             (long long)N * HW);
    cudaStream_t st = sg_cu_stream(be);
    const unsigned M = (unsigned)((long long)N * HW);
    const double Md = (double)N * HW;
    const size_t total = (size_t)N * C * HW;
    const bn_split sp = bn_split_make(N, C, HW);
    const size_t nparts = (size_t)C * sp.chunks;

    /* scratch: part[C*chunks] doubles, mean_d[C] doubles, scale[C], shift[C] floats */
    const size_t bytes = (nparts + C) * sizeof(double) + 2 * (size_t)C * sizeof(float);
    char *scr = (char *)sg_cu_scratch(be, bytes);
    double *part = (double *)scr;
    double *mean_d = part + nparts;
    float *scale = (float *)(mean_d + C);
    float *shift = scale + C;

    const unsigned cblocks = sg_cu_blocks((size_t)C, NN_THREADS);
    k_bn_sum<<<(unsigned)nparts, NN_THREADS, 0, st>>>(M, (unsigned)C, (unsigned)HW, sp.chunks,
                                                      sp.len, x, part);
    SG_CU_LAUNCH("k_bn_sum");
    k_bn_mean<<<cblocks, NN_THREADS, 0, st>>>(C, sp.chunks, Md, part, mean_d);
    SG_CU_LAUNCH("k_bn_mean");
    k_bn_sumsq_dev<<<(unsigned)nparts, NN_THREADS, 0, st>>>(M, (unsigned)C, (unsigned)HW, sp.chunks,
                                                            sp.len, x, mean_d, part);
    SG_CU_LAUNCH("k_bn_sumsq_dev");
    k_bn_train_finish<<<cblocks, NN_THREADS, 0, st>>>(C, sp.chunks, Md, part, mean_d, eps, momentum,
                                                      gamma, beta, running_mean, running_var, mean,
                                                      invstd, scale, shift);
    SG_CU_LAUNCH("k_bn_train_finish");
    k_bn_apply<<<grid_for(total), NN_THREADS, 0, st>>>(
        total, (unsigned)C, (unsigned)HW, total <= 0xffffffffu, x, mean, scale, shift, relu, y);
    SG_CU_LAUNCH("k_bn_apply");
}

static void cu_batchnorm_fwd_train(const sg_backend *be, int N, int C, int HW, const float *x,
                                   const float *gamma, const float *beta, float eps, float momentum,
                                   float *running_mean, float *running_var, float *mean,
                                   float *invstd, float *y) {
    bn_fwd_train(be, N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var, mean,
                 invstd, y, 0);
}

static void cu_batchnorm_relu_fwd(const sg_backend *be, int N, int C, int HW, const float *x,
                                  const float *gamma, const float *beta, float eps, float momentum,
                                  float *running_mean, float *running_var, float *mean,
                                  float *invstd, float *y) {
    bn_fwd_train(be, N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var, mean,
                 invstd, y, 1);
}

static void cu_batchnorm_fwd_eval(const sg_backend *be, int N, int C, int HW, const float *x,
                                  const float *gamma, const float *beta, float eps,
                                  const float *running_mean, const float *running_var, float *y) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_fwd_eval: N%d C%d HW%d", N, C, HW);
    SG_CHECK(running_mean && running_var, "batchnorm_fwd_eval needs the running statistics");
    cudaStream_t st = sg_cu_stream(be);
    const size_t total = (size_t)N * C * HW;
    float *scale = (float *)sg_cu_scratch(be, 2 * (size_t)C * sizeof(float));
    float *shift = scale + C;
    k_bn_eval_coef<<<sg_cu_blocks((size_t)C, NN_THREADS), NN_THREADS, 0, st>>>(
        C, eps, gamma, beta, running_var, scale, shift);
    SG_CU_LAUNCH("k_bn_eval_coef");
    k_bn_apply<<<grid_for(total), NN_THREADS, 0, st>>>(total, (unsigned)C, (unsigned)HW,
                                                       total <= 0xffffffffu, x, running_mean, scale,
                                                       shift, 0, y);
    SG_CU_LAUNCH("k_bn_apply");
}

/* The gradient a fused ReLU passes back (k_relu_bwd's expression, from its output ym), or dy
 * itself when there is none (ym NULL). */
__device__ static inline float bn_grad_in(const float *ym, const float *dy, size_t a) {
    return ym ? (ym[a] > 0.0f ? dy[a] : 0.0f) : dy[a];
}

/* Stage 1 of backward: sdy[c*chunks + k] = sum dy and sxm[...] = sum dy * (x - mean[c]) over
 * chunk k of channel c, with mean[c] the saved float mean taken to double (as the CPU); dy
 * masked by a fused ReLU's output ym when given (bn_grad_in). */
static __global__ void __launch_bounds__(NN_THREADS)
    k_bn_bwd_sums(unsigned M, unsigned C, unsigned HW, int chunks, unsigned len, const float *x,
                  const float *dy, const float *ym, const float *mean, double *sdy, double *sxm) {
    const unsigned c = blockIdx.x / (unsigned)chunks, k = blockIdx.x % (unsigned)chunks;
    const unsigned start = k * len, end = M - start < len ? M : start + len;
    const double md = (double)mean[c];
    double s = 0.0, t = 0.0;
    for (unsigned j = start + threadIdx.x; j < end; j += NN_THREADS) {
        const size_t a = bn_addr(j, HW, C, c);
        const double g = (double)bn_grad_in(ym, dy, a);
        s += g;
        t += g * ((double)x[a] - md);
    }
    s = block_sum(s);
    t = block_sum(t);
    if (threadIdx.x == 0) {
        sdy[blockIdx.x] = s;
        sxm[blockIdx.x] = t;
    }
}

/* Stage 2 of backward, as the CPU's bn_bwd_channel: dbeta/dgamma and the dx coefficients
 *   dx = k * ((dy - mean_dy) - (x - mean) * q),
 * k = gamma * invstd, mean_dy = sum(dy)/M, q = invstd^2 * sum(dy * (x - mean))/M. */
static __global__ void k_bn_bwd_finish(int C, int chunks, double M, const double *sdy_part,
                                       const double *sxm_part, const float *gamma,
                                       const float *invstd, float *dgamma, float *dbeta,
                                       int accumulate, float *kc, float *mean_dy, float *qc) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double *pa = sdy_part + (size_t)c * chunks, *pb = sxm_part + (size_t)c * chunks;
    double sum_dy = 0.0, sum_dy_xm = 0.0;
    for (int k = 0; k < chunks; k++) {
        sum_dy += pa[k];
        sum_dy_xm += pb[k];
    }
    const double is = (double)invstd[c];
    if (dbeta) dbeta[c] = (float)(accumulate ? __dadd_rn((double)dbeta[c], sum_dy) : sum_dy);
    if (dgamma) {
        const double g = __dmul_rn(sum_dy_xm, is);
        dgamma[c] = (float)(accumulate ? __dadd_rn((double)dgamma[c], g) : g);
    }
    kc[c] = (float)(gamma ? __dmul_rn((double)gamma[c], is) : is);
    mean_dy[c] = (float)(sum_dy / M);
    qc[c] = (float)(__dmul_rn(__dmul_rn(is, is), sum_dy_xm) / M);
}

/* dx = k * ((dy - mean_dy) - (x - mean) * q), one thread per element (dx may alias dy); dy
 * masked by ym as in k_bn_bwd_sums. */
static __global__ void k_bn_bwd_apply(size_t total, unsigned C, unsigned HW, int narrow,
                                      const float *x, const float *dy, const float *ym,
                                      const float *mean, const float *kc, const float *mean_dy,
                                      const float *qc, float *dx) {
    GRID_STRIDE_LOOP(e, total) {
        const unsigned c = chan_idx(e, HW, C, narrow);
        const float xm = __fmul_rn(__fsub_rn(x[e], mean[c]), qc[c]);
        dx[e] = __fmul_rn(kc[c], __fsub_rn(__fsub_rn(bn_grad_in(ym, dy, e), mean_dy[c]), xm));
    }
}

/* Backward; ym: the output of a ReLU fused after the batch norm (batchnorm_relu_bwd), or NULL. */
static void bn_bwd(const sg_backend *be, int N, int C, int HW, const float *x, const float *ym,
                   const float *gamma, const float *mean, const float *invstd, const float *dy,
                   float *dx, float *dgamma, float *dbeta, int accumulate) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_bwd: N%d C%d HW%d", N, C, HW);
    SG_CHECK((long long)N * HW <= 0x7fffffffLL, "batchnorm_bwd: N*HW = %lld too large",
             (long long)N * HW);
    cudaStream_t st = sg_cu_stream(be);
    const unsigned M = (unsigned)((long long)N * HW);
    const double Md = (double)N * HW;
    const size_t total = (size_t)N * C * HW;
    const bn_split sp = bn_split_make(N, C, HW);
    const size_t nparts = (size_t)C * sp.chunks;

    /* scratch: sdy[C*chunks], sxm[C*chunks] doubles; k[C], mean_dy[C], q[C] floats */
    const size_t bytes = 2 * nparts * sizeof(double) + 3 * (size_t)C * sizeof(float);
    char *scr = (char *)sg_cu_scratch(be, bytes);
    double *sdy = (double *)scr;
    double *sxm = sdy + nparts;
    float *kc = (float *)(sxm + nparts);
    float *mean_dy = kc + C;
    float *qc = mean_dy + C;

    k_bn_bwd_sums<<<(unsigned)nparts, NN_THREADS, 0, st>>>(M, (unsigned)C, (unsigned)HW, sp.chunks,
                                                           sp.len, x, dy, ym, mean, sdy, sxm);
    SG_CU_LAUNCH("k_bn_bwd_sums");
    k_bn_bwd_finish<<<sg_cu_blocks((size_t)C, NN_THREADS), NN_THREADS, 0, st>>>(
        C, sp.chunks, Md, sdy, sxm, gamma, invstd, dgamma, dbeta, accumulate, kc, mean_dy, qc);
    SG_CU_LAUNCH("k_bn_bwd_finish");
    k_bn_bwd_apply<<<grid_for(total), NN_THREADS, 0, st>>>(total, (unsigned)C, (unsigned)HW,
                                                           total <= 0xffffffffu, x, dy, ym, mean,
                                                           kc, mean_dy, qc, dx);
    SG_CU_LAUNCH("k_bn_bwd_apply");
}

static void cu_batchnorm_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                             const float *gamma, const float *mean, const float *invstd,
                             const float *dy, float *dx, float *dgamma, float *dbeta,
                             int accumulate) {
    bn_bwd(be, N, C, HW, x, NULL, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
}

static void cu_batchnorm_relu_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                                  const float *y, const float *gamma, const float *mean,
                                  const float *invstd, const float *dy, float *dx, float *dgamma,
                                  float *dbeta, int accumulate) {
    bn_bwd(be, N, C, HW, x, y, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
}

/* ---- synchronised batch norm: sums, then the gradient from sums over every rank ------------
 * Two-stage like the statistics above: one block per (channel, chunk) of bn_split_make writes
 * its two partial sums, then one thread per channel adds its partials in chunk order. */

/* Stage 1: pa[c*chunks + k], pb[...] over chunk k of channel c, cen = center[c] (0 when NULL):
 *   dy == NULL: sum (x - cen) and sum (x - cen)^2;  dy != NULL: sum dy and sum dy * (x - cen). */
static __global__ void __launch_bounds__(NN_THREADS)
    k_bn_sums_part(unsigned M, unsigned C, unsigned HW, int chunks, unsigned len, const float *x,
                   const float *center, const float *dy, double *pa, double *pb) {
    const unsigned c = blockIdx.x / (unsigned)chunks, k = blockIdx.x % (unsigned)chunks;
    const unsigned start = k * len, end = M - start < len ? M : start + len;
    const double cen = center ? (double)center[c] : 0.0;
    double s = 0.0, t = 0.0;
    if (dy) {
        for (unsigned j = start + threadIdx.x; j < end; j += NN_THREADS) {
            const size_t a = bn_addr(j, HW, C, c);
            const double g = (double)dy[a];
            s += g;
            t += g * ((double)x[a] - cen);
        }
    } else {
        for (unsigned j = start + threadIdx.x; j < end; j += NN_THREADS) {
            const double d = (double)x[bn_addr(j, HW, C, c)] - cen;
            s += d;
            t += d * d;
        }
    }
    s = block_sum(s);
    t = block_sum(t);
    if (threadIdx.x == 0) {
        pa[blockIdx.x] = s;
        pb[blockIdx.x] = t;
    }
}

/* Stage 2: sums[c] and sums[C + c], each channel's partials added in chunk order. */
static __global__ void k_bn_sums_finish(int C, int chunks, const double *pa, const double *pb,
                                        double *sums) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double *qa = pa + (size_t)c * chunks, *qb = pb + (size_t)c * chunks;
    double a = 0.0, b = 0.0;
    for (int k = 0; k < chunks; k++) {
        a += qa[k];
        b += qb[k];
    }
    sums[c] = a;
    sums[C + c] = b;
}

static void cu_batchnorm_sums(const sg_backend *be, int N, int C, int HW, const float *x,
                              const float *center, const float *dy, double *sums) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_sums: N%d C%d HW%d", N, C, HW);
    SG_CHECK((long long)N * HW <= 0x7fffffffLL, "batchnorm_sums: N*HW = %lld too large",
             (long long)N * HW);
    cudaStream_t st = sg_cu_stream(be);
    const unsigned M = (unsigned)((long long)N * HW);
    const bn_split sp = bn_split_make(N, C, HW);
    const size_t nparts = (size_t)C * sp.chunks;

    /* scratch: pa[C*chunks], pb[C*chunks] doubles */
    double *pa = (double *)sg_cu_scratch(be, 2 * nparts * sizeof(double));
    double *pb = pa + nparts;
    k_bn_sums_part<<<(unsigned)nparts, NN_THREADS, 0, st>>>(M, (unsigned)C, (unsigned)HW,
                                                            sp.chunks, sp.len, x, center, dy, pa,
                                                            pb);
    SG_CU_LAUNCH("k_bn_sums_part");
    k_bn_sums_finish<<<sg_cu_blocks((size_t)C, NN_THREADS), NN_THREADS, 0, st>>>(C, sp.chunks,
                                                                                 pa, pb, sums);
    SG_CU_LAUNCH("k_bn_sums_finish");
}

/* The dx coefficients of k_bn_bwd_finish from sums over M values (every rank's):
 * k = gamma * invstd, mean_dy = sums[c]/M, q = invstd^2 * sums[C+c]/M. */
static __global__ void k_bn_apply_coef(int C, double M, const double *sums, const float *gamma,
                                       const float *invstd, float *kc, float *mean_dy, float *qc) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    const double is = (double)invstd[c];
    kc[c] = (float)(gamma ? __dmul_rn((double)gamma[c], is) : is);
    mean_dy[c] = (float)(sums[c] / M);
    qc[c] = (float)(__dmul_rn(__dmul_rn(is, is), sums[C + c]) / M);
}

static void cu_batchnorm_bwd_apply(const sg_backend *be, int N, int C, int HW, const float *x,
                                   const float *gamma, const float *mean, const float *invstd,
                                   const float *dy, const double *sums, double M, float *dx) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_bwd_apply: N%d C%d HW%d", N, C, HW);
    cudaStream_t st = sg_cu_stream(be);
    const size_t total = (size_t)N * C * HW;

    /* scratch: k[C], mean_dy[C], q[C] floats */
    float *kc = (float *)sg_cu_scratch(be, 3 * (size_t)C * sizeof(float));
    float *mean_dy = kc + C;
    float *qc = mean_dy + C;
    k_bn_apply_coef<<<sg_cu_blocks((size_t)C, NN_THREADS), NN_THREADS, 0, st>>>(
        C, M, sums, gamma, invstd, kc, mean_dy, qc);
    SG_CU_LAUNCH("k_bn_apply_coef");
    k_bn_bwd_apply<<<grid_for(total), NN_THREADS, 0, st>>>(total, (unsigned)C, (unsigned)HW,
                                                           total <= 0xffffffffu, x, dy, NULL, mean,
                                                           kc, mean_dy, qc, dx);
    SG_CU_LAUNCH("k_bn_bwd_apply");
}

/* ---- elementwise -------------------------------------------------------------------------- */

/* x < 0 ? 0 : x lets a NaN through, as torch.relu (and the CPU) does. y may alias x. */
static __global__ void k_relu_fwd(size_t n, const float *x, float *y) {
    GRID_STRIDE_LOOP(i, n) {
        const float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

/* dx may alias dy: each element is read, then written, by one thread. */
static __global__ void k_relu_bwd(size_t n, const float *y, const float *dy, float *dx) {
    GRID_STRIDE_LOOP(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* y may alias a or b. */
static __global__ void k_add(size_t n, const float *a, const float *b, float *y) {
    GRID_STRIDE_LOOP(i, n) y[i] = a[i] + b[i];
}

static __global__ void k_copy(size_t n, const float *src, float *dst) {
    GRID_STRIDE_LOOP(i, n) dst[i] = src[i];
}

static void cu_relu_fwd(const sg_backend *be, size_t n, const float *x, float *y) {
    if (n == 0) return;
    k_relu_fwd<<<grid_for(n), NN_THREADS, 0, sg_cu_stream(be)>>>(n, x, y);
    SG_CU_LAUNCH("k_relu_fwd");
}

static void cu_relu_bwd(const sg_backend *be, size_t n, const float *y, const float *dy,
                        float *dx) {
    if (n == 0) return;
    k_relu_bwd<<<grid_for(n), NN_THREADS, 0, sg_cu_stream(be)>>>(n, y, dy, dx);
    SG_CU_LAUNCH("k_relu_bwd");
}

static void cu_add_fwd(const sg_backend *be, size_t n, const float *a, const float *b, float *y) {
    if (n == 0) return;
    k_add<<<grid_for(n), NN_THREADS, 0, sg_cu_stream(be)>>>(n, a, b, y);
    SG_CU_LAUNCH("k_add");
}

/* Both inputs of a residual add receive dy, copied or added; da then db, as the CPU (so even
 * da == db gives the CPU's result). */
static void cu_add_bwd(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                       int accumulate) {
    if (n == 0) return;
    float *outs[2] = {da, db};
    for (int o = 0; o < 2; o++) {
        float *d = outs[o];
        if (!d) continue;
        if (accumulate) {
            k_add<<<grid_for(n), NN_THREADS, 0, sg_cu_stream(be)>>>(n, d, dy, d);
            SG_CU_LAUNCH("k_add");
        } else if (d != dy) {
            k_copy<<<grid_for(n), NN_THREADS, 0, sg_cu_stream(be)>>>(n, dy, d);
            SG_CU_LAUNCH("k_copy");
        }
    }
}

/* ---- pooling ------------------------------------------------------------------------------ */

/* One thread per output (plane, p, q). The window is clipped to the input (padding is -inf, so a
 * padded cell can never be the max); scanned row-major from its first cell, the first max wins
 * ties and a NaN wins over numbers: the CPU's loop exactly. */
static __global__ void k_maxpool_fwd(size_t total, int narrow, int H, int W, int P, int Q, int k,
                                     int stride, int pad, const float *x, float *y,
                                     int32_t *argmax) {
    const unsigned PQ = (unsigned)P * (unsigned)Q;
    GRID_STRIDE_LOOP(o, total) {
        const size_t pl = div_idx(o, PQ, narrow);
        const unsigned r = (unsigned)(o - pl * PQ);
        const int p = (int)(r / (unsigned)Q), q = (int)(r - (unsigned)p * (unsigned)Q);
        const int h0 = p * stride - pad, w0 = q * stride - pad;
        const int hs = h0 < 0 ? 0 : h0, he = h0 + k > H ? H : h0 + k;
        const int ws = w0 < 0 ? 0 : w0, we = w0 + k > W ? W : w0 + k;
        const float *xp = x + pl * (size_t)H * W;
        int32_t bi = hs * W + ws;
        float best = xp[bi];
        for (int h = hs; h < he; h++)
            for (int w = ws; w < we; w++) {
                const float v = xp[h * W + w];
                if (v > best || (isnan(v) && !isnan(best))) {
                    best = v;
                    bi = h * W + w;
                }
            }
        y[o] = best;
        argmax[o] = bi;
    }
}

/* Gather form of the CPU's scatter, one thread per input cell (plane, h, w): the sum of dy over
 * the windows (p, q) that contain (h, w) and chose it as their argmax, added to 0 in increasing
 * (p, q) order, which is the order the CPU's scatter adds them in (bit-identical, no atomics).
 * Window p covers rows [p*stride - pad, p*stride - pad + k), so it contains h iff
 * (h + pad - k) / stride < p <= (h + pad) / stride. */
static __global__ void k_maxpool_bwd(size_t total, int narrow, int H, int W, int P, int Q, int k,
                                     int stride, int pad, const float *dy, const int32_t *argmax,
                                     float *dx) {
    const unsigned HW = (unsigned)H * (unsigned)W;
    const size_t PQ = (size_t)P * Q;
    GRID_STRIDE_LOOP(e, total) {
        const size_t pl = div_idx(e, HW, narrow);
        const int r = (int)(e - pl * HW);
        const int h = r / W, w = r - h * W;
        const int th = h + pad - k, tw = w + pad - k;
        const int p_lo = th < 0 ? 0 : th / stride + 1;
        const int q_lo = tw < 0 ? 0 : tw / stride + 1;
        const int p_hi = (h + pad) / stride < P - 1 ? (h + pad) / stride : P - 1;
        const int q_hi = (w + pad) / stride < Q - 1 ? (w + pad) / stride : Q - 1;
        const float *gp = dy + pl * PQ;
        const int32_t *ap = argmax + pl * PQ;
        float acc = 0.0f;
        for (int p = p_lo; p <= p_hi; p++)
            for (int q = q_lo; q <= q_hi; q++) {
                const int o = p * Q + q;
                if (ap[o] == r) acc += gp[o];
            }
        dx[e] = acc;
    }
}

static void cu_maxpool_fwd(const sg_backend *be, const sg_pool_shape *s, const float *x, float *y,
                           int32_t *argmax) {
    SG_CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0 && s->k > 0 && s->stride > 0 &&
                 s->pad >= 0 && s->pad < s->k && s->P > 0 && s->Q > 0,
             "maxpool_fwd: bad shape N%d C%d H%d W%d k%d stride %d pad %d P%d Q%d", s->N, s->C,
             s->H, s->W, s->k, s->stride, s->pad, s->P, s->Q);
    const size_t total = (size_t)s->N * s->C * s->P * s->Q;
    k_maxpool_fwd<<<grid_for(total), NN_THREADS, 0, sg_cu_stream(be)>>>(
        total, total <= 0xffffffffu, s->H, s->W, s->P, s->Q, s->k, s->stride, s->pad, x, y, argmax);
    SG_CU_LAUNCH("k_maxpool_fwd");
}

static void cu_maxpool_bwd(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                           const int32_t *argmax, float *dx) {
    SG_CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0 && s->k > 0 && s->stride > 0 &&
                 s->pad >= 0 && s->pad < s->k && s->P > 0 && s->Q > 0,
             "maxpool_bwd: bad shape N%d C%d H%d W%d k%d stride %d pad %d P%d Q%d", s->N, s->C,
             s->H, s->W, s->k, s->stride, s->pad, s->P, s->Q);
    const size_t total = (size_t)s->N * s->C * s->H * s->W;
    k_maxpool_bwd<<<grid_for(total), NN_THREADS, 0, sg_cu_stream(be)>>>(
        total, total <= 0xffffffffu, s->H, s->W, s->P, s->Q, s->k, s->stride, s->pad, dy, argmax,
        dx);
    SG_CU_LAUNCH("k_maxpool_bwd");
}

/* One warp per (n, c) plane: lane l sums x[l], x[l+32], ... in double, then the warp tree. */
static __global__ void __launch_bounds__(NN_THREADS)
    k_avgpool_global_fwd(size_t planes, int HW, const float *x, float *y) {
    const int lane = threadIdx.x & 31;
    const size_t first = (size_t)blockIdx.x * NN_WARPS + (threadIdx.x >> 5);
    /* the loop condition is the same for the 32 lanes of a warp, so the shuffles are full */
    for (size_t pl = first; pl < planes; pl += (size_t)gridDim.x * NN_WARPS) {
        const float *xp = x + pl * (size_t)HW;
        double s = 0.0;
        for (int i = lane; i < HW; i += 32) s += (double)xp[i];
        s = warp_sum(s);
        if (lane == 0) y[pl] = (float)(s / HW);
    }
}

static __global__ void k_avgpool_global_bwd(size_t total, unsigned HW, int narrow, const float *dy,
                                            float *dx) {
    GRID_STRIDE_LOOP(e, total) dx[e] = __fdiv_rn(dy[div_idx(e, HW, narrow)], (float)HW);
}

static void cu_avgpool_global_fwd(const sg_backend *be, int N, int C, int HW, const float *x,
                                  float *y) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "avgpool_global_fwd: N%d C%d HW%d", N, C, HW);
    const size_t planes = (size_t)N * C;
    size_t blocks = (planes + NN_WARPS - 1) / NN_WARPS;
    if (blocks > NN_MAX_GRID) blocks = NN_MAX_GRID;
    k_avgpool_global_fwd<<<(unsigned)blocks, NN_THREADS, 0, sg_cu_stream(be)>>>(planes, HW, x, y);
    SG_CU_LAUNCH("k_avgpool_global_fwd");
}

static void cu_avgpool_global_bwd(const sg_backend *be, int N, int C, int HW, const float *dy,
                                  float *dx) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "avgpool_global_bwd: N%d C%d HW%d", N, C, HW);
    const size_t total = (size_t)N * C * HW;
    k_avgpool_global_bwd<<<grid_for(total), NN_THREADS, 0, sg_cu_stream(be)>>>(
        total, (unsigned)HW, total <= 0xffffffffu, dy, dx);
    SG_CU_LAUNCH("k_avgpool_global_bwd");
}

/* ---- the SSL loss ------------------------------------------------------------------------- */

/* One block per row: row_loss = sum (a p - b z)^2 in double, a = 1/max(|p|, 1e-12) and
 * b = 1/max(|z|, 1e-12) when normalising, else a = b = 1 (the CPU's difference of squares). */
static __global__ void __launch_bounds__(NN_THREADS)
    k_pair_loss_fwd(int D, int normalize, const float *p, const float *z, float *row_loss) {
    const size_t row = blockIdx.x;
    const float *pi = p + row * (size_t)D, *zi = z + row * (size_t)D;
    double a = 1.0, b = 1.0;
    if (normalize) { /* uniform over the block: every thread calls block_sum */
        double sp = 0.0, sz = 0.0;
        for (int j = threadIdx.x; j < D; j += NN_THREADS) {
            const double u = (double)pi[j], v = (double)zi[j];
            sp += u * u;
            sz += v * v;
        }
        const double pp = block_sum(sp), zz = block_sum(sz);
        a = 1.0 / fmax(sqrt(pp), SG_NORM_EPS);
        b = 1.0 / fmax(sqrt(zz), SG_NORM_EPS);
    }
    double s = 0.0;
    for (int j = threadIdx.x; j < D; j += NN_THREADS) {
        const double d = __dsub_rn(__dmul_rn(a, (double)pi[j]), __dmul_rn(b, (double)zi[j]));
        s += d * d;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) row_loss[row] = (float)s;
}

/* normalize = 0: dp = 2 scale (p - z) = -dz, elementwise. */
static __global__ void k_pair_loss_bwd_plain(size_t total, double s2, const float *p,
                                             const float *z, float *dp, float *dz) {
    GRID_STRIDE_LOOP(e, total) {
        const double g = __dmul_rn(s2, (double)p[e] - (double)z[e]);
        dp[e] = (float)g;
        if (dz) dz[e] = (float)-g;
    }
}

/* normalize = 1, one block per row. With u = p/np, v = z/nz, d = u - v:
 *   dp = 2 scale/np (d - u (u.d)),  dz = 2 scale/nz (v (v.d) - d),
 * the projection term dropped for a row whose norm was clamped (the CPU's formulas). */
static __global__ void __launch_bounds__(NN_THREADS)
    k_pair_loss_bwd_norm(int D, double s2, const float *p, const float *z, float *dp, float *dz) {
    const size_t row = blockIdx.x;
    const float *pi = p + row * (size_t)D, *zi = z + row * (size_t)D;
    float *dpi = dp + row * (size_t)D;
    float *dzi = dz ? dz + row * (size_t)D : NULL;
    double spp = 0.0, szz = 0.0, spz = 0.0;
    for (int j = threadIdx.x; j < D; j += NN_THREADS) {
        const double u = (double)pi[j], v = (double)zi[j];
        spp += u * u;
        szz += v * v;
        spz += u * v;
    }
    const double pp = block_sum(spp), zz = block_sum(szz), pz = block_sum(spz);
    const double np = sqrt(pp), nz = sqrt(zz);
    const double ip = 1.0 / fmax(np, SG_NORM_EPS), iz = 1.0 / fmax(nz, SG_NORM_EPS);
    const double uu = __dmul_rn(__dmul_rn(pp, ip), ip);
    const double uv = __dmul_rn(__dmul_rn(pz, ip), iz);
    const double vv = __dmul_rn(__dmul_rn(zz, iz), iz);
    const double ud = np >= SG_NORM_EPS ? uu - uv : 0.0;
    const double vd = nz >= SG_NORM_EPS ? uv - vv : 0.0;
    const double cp = __dmul_rn(s2, ip), cz = __dmul_rn(s2, iz);
    for (int j = threadIdx.x; j < D; j += NN_THREADS) {
        const double u = __dmul_rn((double)pi[j], ip), v = __dmul_rn((double)zi[j], iz);
        const double d = u - v;
        dpi[j] = (float)__dmul_rn(cp, __dsub_rn(d, __dmul_rn(u, ud)));
        if (dzi) dzi[j] = (float)__dmul_rn(cz, __dsub_rn(__dmul_rn(v, vd), d));
    }
}

static void cu_pair_loss_fwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                             const float *z, float *row_loss) {
    SG_CHECK(N > 0 && D > 0, "pair_loss_fwd: N%d D%d", N, D);
    k_pair_loss_fwd<<<(unsigned)N, NN_THREADS, 0, sg_cu_stream(be)>>>(D, normalize, p, z, row_loss);
    SG_CU_LAUNCH("k_pair_loss_fwd");
}

static void cu_pair_loss_bwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                             const float *z, float scale, float *dp, float *dz) {
    SG_CHECK(N > 0 && D > 0, "pair_loss_bwd: N%d D%d", N, D);
    const double s2 = 2.0 * (double)scale;
    if (!normalize) {
        const size_t total = (size_t)N * D;
        k_pair_loss_bwd_plain<<<grid_for(total), NN_THREADS, 0, sg_cu_stream(be)>>>(total, s2, p, z,
                                                                                    dp, dz);
        SG_CU_LAUNCH("k_pair_loss_bwd_plain");
        return;
    }
    k_pair_loss_bwd_norm<<<(unsigned)N, NN_THREADS, 0, sg_cu_stream(be)>>>(D, s2, p, z, dp, dz);
    SG_CU_LAUNCH("k_pair_loss_bwd_norm");
}

void sg_cuda_fill_nn(sg_backend *be) {
    be->batchnorm_fwd_train = cu_batchnorm_fwd_train;
    be->batchnorm_fwd_eval = cu_batchnorm_fwd_eval;
    be->batchnorm_bwd = cu_batchnorm_bwd;
    be->batchnorm_sums = cu_batchnorm_sums;
    be->batchnorm_bwd_apply = cu_batchnorm_bwd_apply;
    be->batchnorm_relu_fwd = cu_batchnorm_relu_fwd;
    be->batchnorm_relu_bwd = cu_batchnorm_relu_bwd;
    be->relu_fwd = cu_relu_fwd;
    be->relu_bwd = cu_relu_bwd;
    be->add_fwd = cu_add_fwd;
    be->add_bwd = cu_add_bwd;
    be->maxpool_fwd = cu_maxpool_fwd;
    be->maxpool_bwd = cu_maxpool_bwd;
    be->avgpool_global_fwd = cu_avgpool_global_fwd;
    be->avgpool_global_bwd = cu_avgpool_global_bwd;
    be->pair_loss_fwd = cu_pair_loss_fwd;
    be->pair_loss_bwd = cu_pair_loss_bwd;
}
