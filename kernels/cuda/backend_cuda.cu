/* kernels/cuda/backend_cuda.cu: the CUDA backend value: device, stream, cuBLAS and cuSOLVER
 * handles, memory, timer, and the error reporting every file uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_internal.h"
#include "kernels/ops.h"

#include "core/dist/dist.h"

void sg_cu_fail_rt(cudaError_t e, const char *call, const char *file, int line) {
    fprintf(stderr, "stopgrad: CUDA error at %s:%d: %s returned %s (%s)\n", file, line, call,
            cudaGetErrorName(e), cudaGetErrorString(e));
    abort();
}

void sg_cu_fail_blas(cublasStatus_t s, const char *call, const char *file, int line) {
    fprintf(stderr, "stopgrad: cuBLAS error at %s:%d: %s returned %s (%s)\n", file, line, call,
            cublasGetStatusName(s), cublasGetStatusString(s));
    abort();
}

void sg_cu_fail_solver(cusolverStatus_t s, const char *call, const char *file, int line) {
    fprintf(stderr, "stopgrad: cuSOLVER error at %s:%d: %s returned status %d\n", file, line, call,
            (int)s);
    abort();
}

/* ---- memory, sync, timer ------------------------------------------------------------------ */

static void *cu_mem_alloc(const sg_backend *be, size_t bytes) {
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
        (void)cudaGetLastError(); /* an out-of-memory is the caller's to report, with the size */
        return NULL;
    }
    /* zero-filled, as the CPU backend's memory is: synchronous, allocation is build-time only */
    SG_CU(cudaMemsetAsync(p, 0, bytes, sg_cu_stream(be)));
    SG_CU(cudaStreamSynchronize(sg_cu_stream(be)));
    return p;
}

static void cu_mem_free(const sg_backend *be, void *p) {
    (void)be;
    if (p) SG_CU(cudaFree(p));
}

static void *cu_host_alloc(const sg_backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    if (bytes == 0) bytes = 1;
    if (cudaMallocHost(&p, bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

static void cu_host_free(const sg_backend *be, void *p) {
    (void)be;
    if (p) SG_CU(cudaFreeHost(p));
}

static void cu_upload(const sg_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    SG_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, sg_cu_stream(be)));
    SG_CU(cudaStreamSynchronize(sg_cu_stream(be))); /* src may be reused on return */
}

static void cu_download(const sg_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    SG_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, sg_cu_stream(be)));
    SG_CU(cudaStreamSynchronize(sg_cu_stream(be)));
}

static void cu_copy(const sg_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes || dst == src) return;
    SG_CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, sg_cu_stream(be)));
}

static void cu_zero(const sg_backend *be, void *dst, size_t bytes) {
    if (!bytes) return;
    SG_CU(cudaMemsetAsync(dst, 0, bytes, sg_cu_stream(be)));
}

static void cu_sync(const sg_backend *be) { SG_CU(cudaStreamSynchronize(sg_cu_stream(be))); }

static void cu_timer_start(const sg_backend *be) {
    SG_CU(cudaEventRecord(sg_cu_state(be)->t0, sg_cu_stream(be)));
}

static double cu_timer_stop(const sg_backend *be) {
    sg_cuda_state *st = sg_cu_state(be);
    SG_CU(cudaEventRecord(st->t1, st->stream));
    SG_CU(cudaEventSynchronize(st->t1));
    float ms = 0;
    SG_CU(cudaEventElapsedTime(&ms, st->t0, st->t1));
    return (double)ms * 1e-3;
}

/* ---- step graphs (kernels.h's graph slots) ------------------------------------------------
 * Stream capture on the backend's one stream, thread-local: the loader's threads may call the
 * runtime meanwhile (the global mode would invalidate the capture for them). Every kernel,
 * cuBLAS, cuSOLVER and cuDNN call queued on the stream is recorded; a call that waits on the
 * stream inside the capture fails in SG_CU (the runtime invalidates the capture), which the
 * model's capture rules exclude and the replaying backend's tests check. */
typedef struct {
    cudaGraph_t graph;
    cudaGraphExec_t exec;
} cu_graph;

static int cu_graph_begin(const sg_backend *be, char *why, size_t why_len) {
    cudaError_t e = cudaStreamBeginCapture(sg_cu_stream(be), cudaStreamCaptureModeThreadLocal);
    if (e == cudaSuccess) return 0;
    snprintf(why, why_len, "cudaStreamBeginCapture: %s", cudaGetErrorString(e));
    (void)cudaGetLastError();
    return -1;
}

static void *cu_graph_end(const sg_backend *be, char *why, size_t why_len) {
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(sg_cu_stream(be), &g);
    if (e != cudaSuccess || !g) {
        snprintf(why, why_len, "cudaStreamEndCapture: %s",
                 e != cudaSuccess ? cudaGetErrorString(e) : "no graph");
        (void)cudaGetLastError();
        return NULL;
    }
    cudaGraphExec_t x = NULL;
    e = cudaGraphInstantiate(&x, g, 0);
    if (e != cudaSuccess) {
        snprintf(why, why_len, "cudaGraphInstantiate: %s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        SG_CU(cudaGraphDestroy(g));
        return NULL;
    }
    cu_graph *out = (cu_graph *)malloc(sizeof *out);
    SG_CHECK(out != NULL, "out of memory for a CUDA graph");
    out->graph = g;
    out->exec = x;
    return out;
}

static void cu_graph_launch(const sg_backend *be, void *graph) {
    SG_CU(cudaGraphLaunch(((cu_graph *)graph)->exec, sg_cu_stream(be)));
}

static void cu_graph_free(const sg_backend *be, void *graph) {
    if (!graph) return;
    cu_graph *g = (cu_graph *)graph;
    SG_CU(cudaStreamSynchronize(sg_cu_stream(be))); /* its last launch may still run */
    SG_CU(cudaGraphExecDestroy(g->exec));
    SG_CU(cudaGraphDestroy(g->graph));
    free(g);
}

/* ---- the backend value ------------------------------------------------------------------- */

/* Every op at every shape and precision (gemm and linear ops with gemm=0); a convolution with this backend's im2col (default, im2col) or, when
 * the build has cuDNN and it works here, cuDNN's (cudnn); the CPU's algorithms never. */
static int cu_supports(const sg_backend *be, int op, const int *val) {
    (void)be;
    /* gemm=N names the CPU backend's sgemm; cuBLAS is this backend's only one */
    const int kg = val ? sg_op_param_index((sg_op)op, "gemm") : -1;
    if (kg >= 0 && val[kg] != SG_GEMM_OPENBLAS) return 0;
    if (!val || (op != SG_OP_conv2d_fwd && op != SG_OP_conv2d_bwd_data &&
                 op != SG_OP_conv2d_bwd_filter))
        return 1;
    const int prec = val[sg_op_param_index((sg_op)op, "prec")];
    switch (val[sg_op_param_index((sg_op)op, "algo")]) {
    case SG_CONV_DEFAULT:
    case SG_CONV_IM2COL: return 1;
    /* cuDNN's bf16 needs bf16 tensors, which the model does not keep: fp32 and tf32 only */
    case SG_CONV_CUDNN: return sg_cu_cudnn_usable() && prec != SG_PREC_BF16;
    default: return 0;
    }
}

/* trainer.precision: read by every cuBLAS product of the backend (cuda/dense.cu) */
static int cu_precision(const sg_backend *be, int p) {
    sg_cuda_state *st = sg_cu_state(be);
    const int prev = st->precision;
    if (p < 0) return prev;
    if (p >= SG_PREC_COUNT) return -1;
    st->precision = p;
    sg_cu_cudnn_set_tf32(p == SG_PREC_TF32);
    return prev;
}

static sg_backend cu_backend;
static sg_cuda_state cu_state;
static int cu_tried = 0, cu_ok = 0;
static char cu_why[512];

static int cu_init(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        /* without an NVIDIA driver the runtime reports an "insufficient" driver: say so plainly */
        snprintf(cu_why, sizeof cu_why, "no CUDA device (%s%s)",
                 e == cudaErrorInsufficientDriver ? "no usable NVIDIA driver: " : "",
                 e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found none");
        (void)cudaGetLastError();
        return 0;
    }
    /* the device: $SG_CUDA_DEVICE; else one GPU per rank (the ranks on this node take the
     * devices in turn); else 0. Chosen before anything is created: the stream, the handles and
     * every allocation belong to the current device, and nothing else calls cudaSetDevice. */
    int dev = 0;
    const char *env = getenv("SG_CUDA_DEVICE");
    const sg_dist_world *w = sg_dist_get();
    if (env && *env) {
        dev = atoi(env);
        if (dev < 0 || dev >= n) {
            snprintf(cu_why, sizeof cu_why, "SG_CUDA_DEVICE=%s: expected 0..%d", env, n - 1);
            return 0;
        }
    } else if (w->size > 1) {
        dev = (w->local_rank > 0 ? w->local_rank : 0) % n;
    }
    SG_CU(cudaSetDevice(dev));
    memset(&cu_state, 0, sizeof cu_state);
    cu_state.device = dev;
    SG_CU(cudaDeviceGetAttribute(&cu_state.sm_count, cudaDevAttrMultiProcessorCount, dev));
    SG_CU(cudaStreamCreateWithFlags(&cu_state.stream, cudaStreamNonBlocking));
    SG_CUBLAS(cublasCreate(&cu_state.blas));
    SG_CUBLAS(cublasSetStream(cu_state.blas, cu_state.stream));
    /* Pure FP32 (no TF32): results comparable with the CPU backend and the FP32 references. */
    SG_CUBLAS(cublasSetMathMode(cu_state.blas, CUBLAS_DEFAULT_MATH));
    SG_CUBLAS(cublasSetPointerMode(cu_state.blas, CUBLAS_POINTER_MODE_HOST));
    SG_CUSOLVER(cusolverDnCreate(&cu_state.solver));
    SG_CUSOLVER(cusolverDnSetStream(cu_state.solver, cu_state.stream));
    SG_CU(cudaEventCreate(&cu_state.t0));
    SG_CU(cudaEventCreate(&cu_state.t1));
    cu_state.scratch_bytes = SG_CU_SCRATCH_BYTES;
    SG_CU(cudaMalloc(&cu_state.scratch, cu_state.scratch_bytes));
    SG_CU(cudaMalloc((void **)&cu_state.info, sizeof(int)));

    memset(&cu_backend, 0, sizeof cu_backend);
    cu_backend.name = "cuda";
    cu_backend.state = &cu_state;
    cu_backend.host_memory = 0;
    cu_backend.supports = cu_supports;
    cu_backend.precision = cu_precision;
    sg_cuda_fill_dense(&cu_backend);
    sg_cuda_fill_optim(&cu_backend);
    sg_cuda_fill_nn(&cu_backend);
    sg_cuda_fill_aug(&cu_backend);
    cu_backend.mem_alloc = cu_mem_alloc;
    cu_backend.mem_free = cu_mem_free;
    cu_backend.host_alloc = cu_host_alloc;
    cu_backend.host_free = cu_host_free;
    cu_backend.mem_upload = cu_upload;
    cu_backend.mem_download = cu_download;
    cu_backend.mem_copy = cu_copy;
    cu_backend.mem_zero = cu_zero;
    cu_backend.sync = cu_sync;
    cu_backend.timer_start = cu_timer_start;
    cu_backend.timer_stop = cu_timer_stop;
    cu_backend.graph_begin = cu_graph_begin;
    cu_backend.graph_end = cu_graph_end;
    cu_backend.graph_launch = cu_graph_launch;
    cu_backend.graph_free = cu_graph_free;
    const char *empty = sg_backend_empty_slot(&cu_backend);
    SG_CHECK(empty == NULL, "cuda backend: the slot %s is empty", empty ? empty : "");
    return 1;
}

extern "C" const sg_backend *sg_cuda_backend_get(void) {
    if (!cu_tried) {
        cu_tried = 1;
        cu_ok = cu_init();
    }
    return cu_ok ? &cu_backend : NULL;
}

extern "C" const char *sg_cuda_unavailable(void) {
    if (sg_cuda_backend_get()) return "available";
    return cu_why;
}

extern "C" int sg_cuda_describe(sg_cuda_info *out) {
    memset(out, 0, sizeof *out);
    if (!sg_cuda_backend_get()) return 0;
    cudaDeviceProp prop;
    SG_CU(cudaGetDeviceProperties(&prop, cu_state.device));
    out->ok = 1;
    out->device = cu_state.device;
    out->sm_count = prop.multiProcessorCount;
    out->cc_major = prop.major;
    out->cc_minor = prop.minor;
    out->mem_bytes = prop.totalGlobalMem;
    snprintf(out->name, sizeof out->name, "%s", prop.name);
    SG_CU(cudaDriverGetVersion(&out->driver_version));
    SG_CU(cudaRuntimeGetVersion(&out->runtime_version));
    SG_CUBLAS(cublasGetVersion(cu_state.blas, &out->cublas_version));
    SG_CUSOLVER(cusolverGetProperty(MAJOR_VERSION, &out->cusolver_version));
    int minor = 0;
    SG_CUSOLVER(cusolverGetProperty(MINOR_VERSION, &minor));
    out->cusolver_version = out->cusolver_version * 1000 + minor;
    return 1;
}
