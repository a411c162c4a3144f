/* kernels/cuda/cuda_internal.h: how the CUDA backend's files plug into its sg_backend value.
 *
 * Conventions of every kernel file here:
 *  - One stream per backend (state->stream); every kernel launch, cuBLAS and cuSOLVER call goes
 *    on it, so calls run in order and nothing needs a device-wide synchronisation.
 *  - Every CUDA runtime / cuBLAS / cuSOLVER return code goes through SG_CU / SG_CUBLAS /
 *    SG_CUSOLVER, and every launch is followed by SG_CU_LAUNCH("kernel_name"): a failure aborts
 *    with the call's text, file and line, and the error's name.
 *  - Kernels never allocate. What a kernel needs beyond its arguments comes from the caller's
 *    workspace (conv, syevd) or from the backend's own scratch, taken once when the backend is
 *    created (sg_cu_scratch).
 *  - Deterministic: no floating-point atomics. Reductions use a fixed tree (block reductions in a
 *    fixed order, two-stage where one block per output is too little parallelism), so two runs
 *    give bit-identical results. cuBLAS runs in its default (deterministic, pure FP32) math mode.
 *  - Row-major as in kernels.h: cuBLAS is column-major, so a row-major C = A B is computed as
 *    the column-major C^T = B^T A^T (swap the operands and M/N). */
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "core/base/err.h"
#include "kernels/kernels.h"

typedef struct {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cusolverDnHandle_t solver;
    cudaEvent_t t0, t1;   /* the backend's timer */
    void *scratch;        /* backend-owned device scratch, SG_CU_SCRATCH_BYTES */
    size_t scratch_bytes;
    int *info;            /* [1] device int for cuSOLVER's info */
    int sm_count;
    int precision;        /* sg_precision of the cuBLAS products (trainer.precision) */
} sg_cuda_state;

#define SG_CU_SCRATCH_BYTES ((size_t)64 << 20)

static inline sg_cuda_state *sg_cu_state(const sg_backend *be) { return (sg_cuda_state *)be->state; }
static inline cudaStream_t sg_cu_stream(const sg_backend *be) { return sg_cu_state(be)->stream; }
/* The backend's scratch, at least `bytes` long (a sizing bug aborts with the numbers). Valid
 * until the next kernel that uses it: only one kernel at a time owns it. */
static inline void *sg_cu_scratch(const sg_backend *be, size_t bytes) {
    sg_cuda_state *st = sg_cu_state(be);
    SG_CHECK(bytes <= st->scratch_bytes, "cuda scratch: %zu bytes wanted, %zu available", bytes,
             st->scratch_bytes);
    return st->scratch;
}

void sg_cu_fail_rt(cudaError_t e, const char *call, const char *file, int line);
void sg_cu_fail_blas(cublasStatus_t s, const char *call, const char *file, int line);
void sg_cu_fail_solver(cusolverStatus_t s, const char *call, const char *file, int line);

#define SG_CU(call)                                                                             \
    do {                                                                                        \
        cudaError_t sg_cu_e_ = (call);                                                          \
        if (sg_cu_e_ != cudaSuccess) sg_cu_fail_rt(sg_cu_e_, #call, __FILE__, __LINE__);        \
    } while (0)
#define SG_CUBLAS(call)                                                                         \
    do {                                                                                        \
        cublasStatus_t sg_cu_s_ = (call);                                                       \
        if (sg_cu_s_ != CUBLAS_STATUS_SUCCESS) sg_cu_fail_blas(sg_cu_s_, #call, __FILE__, __LINE__); \
    } while (0)
#define SG_CUSOLVER(call)                                                                       \
    do {                                                                                        \
        cusolverStatus_t sg_cu_s_ = (call);                                                     \
        if (sg_cu_s_ != CUSOLVER_STATUS_SUCCESS)                                                \
            sg_cu_fail_solver(sg_cu_s_, #call, __FILE__, __LINE__);                             \
    } while (0)
/* After a <<<...>>> launch: reports a bad launch configuration at once, naming the kernel. */
#define SG_CU_LAUNCH(name)                                                                      \
    do {                                                                                        \
        cudaError_t sg_cu_e_ = cudaGetLastError();                                              \
        if (sg_cu_e_ != cudaSuccess)                                                            \
            sg_cu_fail_rt(sg_cu_e_, "launch of kernel " name, __FILE__, __LINE__);             \
    } while (0)

/* Grid size for n elements at `threads` per block (at least 1, at most 2^31-1 blocks). */
static inline unsigned sg_cu_blocks(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 0x7fffffffu) b = 0x7fffffffu;
    return (unsigned)b;
}

/* Each file fills its slots of the struct. */
void sg_cuda_fill_dense(sg_backend *be);  /* cuda/dense.cu: gemm, linear, conv2d */
void sg_cuda_fill_optim(sg_backend *be);  /* cuda/optim.cu: sgd, lars, ema, corr, syevd, eig */
void sg_cuda_fill_nn(sg_backend *be);     /* cuda/nn.cu: batch norm, relu, add, pooling, loss */
void sg_cuda_fill_aug(sg_backend *be);    /* cuda/aug.cu: augmentation ops */

/* conv.algo=cudnn (cuda/conv_cudnn.cu): dense.cu's conv slots hand shapes whose algo is
 * SG_CONV_CUDNN to these. usable: the build has cuDNN and it works here (backend_cuda.cu's
 * supports()). A cuDNN call that fails aborts naming the call, the pass, the shape and cuDNN's
 * status and message, as SG_CUBLAS does. */
int sg_cu_cudnn_usable(void);
/* trainer.precision=tf32 lets cuDNN's later plans use TF32 tensor-op math (fp32 otherwise:
 * FMA math); set by the backend's precision slot. */
void sg_cu_cudnn_set_tf32(int on);
size_t sg_cu_cudnn_workspace_bytes(const sg_backend *be, const sg_conv_shape *s);
void sg_cu_cudnn_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x, const float *w,
                     float *y, void *workspace);
void sg_cu_cudnn_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                          const float *w, float *dx, void *workspace);
void sg_cu_cudnn_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                            const float *dy, float *dw, int accumulate, void *workspace);
