/* kernels/cuda/conv_cudnn.cu: conv.algo=cudnn, the three convolution passes through cuDNN 9's
 * convolution API (cudnnConvolutionForward / BackwardData / BackwardFilter; see
 * cuda_backend.h for what callers see).
 *
 * Per conv shape (and conv.deterministic setting) a plan is made on first use and kept for the
 * process: NCHW float tensor descriptors for x and y, a KCRS float filter descriptor, a
 * cross-correlation descriptor (PyTorch's and our convolution: no filter flip) with float
 * compute, and one algorithm per pass. The algorithm is cuDNN's own measurement's
 * (cudnnFind*Algorithm runs every algorithm on buffers it allocates and times them with CUDA
 * events): its list comes sorted by time, and the first entry that completed, needs at most
 * CUDNN_WORKSPACE_BUDGET bytes and, under conv.deterministic=true, reports
 * determinism == CUDNN_DETERMINISTIC is taken. A preset (sg_cuda_cudnn_preset: a cache row or a
 * run's record, core/nn/cudnn_algos.c) replaces the measurement so that a resumed run computes
 * what it computed before.
 *
 * Pure FP32: the convolution descriptor's math type is CUDNN_FMA_MATH, which restricts cuDNN to
 * kernels using FMA instructions (no TF32 tensor-core kernels, which round the inputs to 10
 * mantissa bits), the same policy as the backend's cuBLAS handle; every entry cuDNN's search
 * returns runs under that descriptor.
 *
 * Workspace: the caller's (kernels.h), at least sg_cu_cudnn_workspace_bytes = the largest of
 * the three chosen algorithms' needs, as cudnnGet*WorkspaceSize reports it. Every cuDNN call's
 * status is checked; a failure aborts naming the call, the pass, the shape, cuDNN's status and
 * its last error message (SG_CUDNN below), as SG_CUBLAS does for cuBLAS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_internal.h"

/* ---- cuDNN 9's algorithms as data: no device or library needed ----------------------------
 * In the enum order of cudnn_ops_v9.h (checked against the header below when it is built in).
 * Sums: the GEMM-like algorithms and ALGO_0/1/3 sum the products directly; WINOGRAD* work in
 * Winograd's transformed domain; FFT* in the Fourier domain. Determinism as cuDNN documents
 * it: bwd-data ALGO_0 and bwd-filter ALGO_0 / ALGO_3 add with atomics. */
#define D SG_CUDNN_SUM_DIRECT
#define W SG_CUDNN_SUM_WINOGRAD
#define F SG_CUDNN_SUM_FFT
static const char *const fwd_names[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                        "FFT",           "FFT_TILING",            "WINOGRAD",
                                        "WINOGRAD_NONFUSED"};
static const sg_cudnn_sum fwd_sums[] = {D, D, D, D, F, F, W, W};
static const unsigned char fwd_det[] = {1, 1, 1, 1, 1, 1, 1, 1};
static const char *const data_names[] = {"ALGO_0",     "ALGO_1",   "FFT",
                                         "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
static const sg_cudnn_sum data_sums[] = {D, D, F, F, W, W};
static const unsigned char data_det[] = {0, 1, 1, 1, 1, 1};
static const char *const filter_names[] = {"ALGO_0",   "ALGO_1",            "FFT",       "ALGO_3",
                                           "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
static const sg_cudnn_sum filter_sums[] = {D, D, F, D, W, W, F};
static const unsigned char filter_det[] = {0, 1, 1, 0, 1, 1, 1};
#undef D
#undef W
#undef F

typedef struct {
    const char *const *names;
    const sg_cudnn_sum *sums;
    const unsigned char *det;
    int count;
} algo_table;

#define ALGO_TABLE(n, s, d) {n, s, d, (int)(sizeof n / sizeof n[0])}
static const algo_table algo_tables[SG_CUDNN_PASSES] = {
    ALGO_TABLE(fwd_names, fwd_sums, fwd_det), ALGO_TABLE(data_names, data_sums, data_det),
    ALGO_TABLE(filter_names, filter_sums, filter_det)};
#undef ALGO_TABLE

static const char *const pass_names[SG_CUDNN_PASSES] = {"forward", "backward-data",
                                                        "backward-filter"};

static const algo_table *table_of(int pass) {
    SG_CHECK(pass >= 0 && pass < SG_CUDNN_PASSES, "cuDNN pass %d", pass);
    return &algo_tables[pass];
}

extern "C" int sg_cuda_cudnn_algo_count(int pass) { return table_of(pass)->count; }

extern "C" const char *sg_cuda_cudnn_algo_name(int pass, int algo) {
    const algo_table *t = table_of(pass);
    return algo >= 0 && algo < t->count ? t->names[algo] : NULL;
}

extern "C" int sg_cuda_cudnn_algo_find(int pass, const char *name) {
    const algo_table *t = table_of(pass);
    for (int a = 0; name && a < t->count; a++)
        if (!strcmp(t->names[a], name)) return a;
    return -1;
}

extern "C" sg_cudnn_sum sg_cuda_cudnn_algo_sum(int pass, int algo) {
    const algo_table *t = table_of(pass);
    SG_CHECK(algo >= 0 && algo < t->count, "cuDNN %s algorithm %d", pass_names[pass], algo);
    return t->sums[algo];
}

extern "C" int sg_cuda_cudnn_algo_deterministic(int pass, int algo) {
    const algo_table *t = table_of(pass);
    SG_CHECK(algo >= 0 && algo < t->count, "cuDNN %s algorithm %d", pass_names[pass], algo);
    return t->det[algo];
}

/* conv.deterministic: read when a shape is planned */
static int want_deterministic = 1;

extern "C" void sg_cuda_cudnn_set_deterministic(int on) { want_deterministic = on != 0; }
/* trainer.precision=tf32: read when a shape is planned (its math type) */
static int want_tf32 = 0;
void sg_cu_cudnn_set_tf32(int on) { want_tf32 = on != 0; }
extern "C" int sg_cuda_cudnn_deterministic(void) { return want_deterministic; }

#ifdef SG_HAVE_CUDNN
#include <cudnn.h>

static_assert((int)CUDNN_CONVOLUTION_FWD_ALGO_COUNT ==
                      (int)(sizeof fwd_names / sizeof fwd_names[0]) &&
                  CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED == 7 &&
                  CUDNN_CONVOLUTION_FWD_ALGO_FFT == 4,
              "fwd_names follows cudnnConvolutionFwdAlgo_t");
static_assert((int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT ==
                      (int)(sizeof data_names / sizeof data_names[0]) &&
                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING == 3 &&
                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED == 5,
              "data_names follows cudnnConvolutionBwdDataAlgo_t");
static_assert((int)CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT ==
                      (int)(sizeof filter_names / sizeof filter_names[0]) &&
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 == 3 &&
                  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING == 6,
              "filter_names follows cudnnConvolutionBwdFilterAlgo_t");

/* The most workspace one pass's algorithm may ask for: the im2col path's budget
 * (cuda/dense.cu). A model takes one workspace, the largest over its layers, for all of them. */
#define CUDNN_WORKSPACE_BUDGET ((size_t)1 << 30)

/* ---- errors ------------------------------------------------------------------------------- */

/* pass < 0: while making the shape's descriptors. Aborts, as sg_cu_fail_blas does. */
static void cudnn_fail(cudnnStatus_t st, const char *call, int pass, const sg_conv_shape *s,
                       const char *file, int line) {
    char last[512] = "";
    cudnnGetLastErrorString(last, sizeof last);
    fprintf(stderr,
            "stopgrad: cuDNN error at %s:%d: %s returned %s (status %d) in the %s%s at N%d "
            "C%d %dx%d K%d %dx%d/%d pad %d%s%s\n",
            file, line, call, cudnnGetErrorString(st), (int)st,
            pass >= 0 ? pass_names[pass] : "descriptors", pass >= 0 ? " pass" : "", s->N, s->C,
            s->H, s->W, s->K, s->R, s->S, s->stride, s->pad, last[0] ? ": " : "", last);
    abort();
}

#define SG_CUDNN(call, pass, s)                                                                 \
    do {                                                                                        \
        cudnnStatus_t sg_cudnn_s_ = (call);                                                     \
        if (sg_cudnn_s_ != CUDNN_STATUS_SUCCESS)                                                \
            cudnn_fail(sg_cudnn_s_, #call, pass, s, __FILE__, __LINE__);                        \
    } while (0)

/* ---- the handle --------------------------------------------------------------------------- */

static cudnnHandle_t handle;
static int handle_state; /* 0 not tried, 1 ready, -1 unusable (why_not says why) */
static char why_not[512];

/* The handle on the backend's device and stream, made once. */
static int cudnn_ready(void) {
    if (handle_state) return handle_state > 0;
    handle_state = -1;
    const sg_backend *be = sg_cuda_backend_get();
    if (!be) {
        snprintf(why_not, sizeof why_not, "no CUDA backend: %s", sg_cuda_unavailable());
        return 0;
    }
    const size_t v = cudnnGetVersion();
    if (v / 10000 != CUDNN_MAJOR) {
        snprintf(why_not, sizeof why_not,
                 "the loaded libcudnn is version %zu, this build has cuDNN %d.%d headers", v,
                 CUDNN_MAJOR, CUDNN_MINOR);
        return 0;
    }
    /* the convolution sub-library is loaded on demand: a missing or mismatched one is found
     * here, not in the middle of a training step */
    cudnnStatus_t st = cudnnCnnVersionCheck();
    if (st == CUDNN_STATUS_SUCCESS) st = cudnnCreate(&handle);
    if (st != CUDNN_STATUS_SUCCESS) {
        char last[256] = "";
        cudnnGetLastErrorString(last, sizeof last);
        snprintf(why_not, sizeof why_not, "cuDNN %zu cannot start: %s%s%s", v,
                 cudnnGetErrorString(st), last[0] ? ": " : "", last);
        return 0;
    }
    st = cudnnSetStream(handle, sg_cu_stream(be));
    if (st != CUDNN_STATUS_SUCCESS) {
        snprintf(why_not, sizeof why_not, "cudnnSetStream: %s", cudnnGetErrorString(st));
        (void)cudnnDestroy(handle);
        return 0;
    }
    handle_state = 1;
    return 1;
}

int sg_cu_cudnn_usable(void) { return cudnn_ready(); }

extern "C" int sg_cuda_cudnn_available(const char **why) {
    if (cudnn_ready()) return 1;
    if (why) *why = why_not;
    return 0;
}

extern "C" long sg_cuda_cudnn_version(void) { return (long)cudnnGetVersion(); }

/* ---- plans -------------------------------------------------------------------------------- */

typedef struct {
    sg_conv_shape s; /* the geometry (algo cleared) */
    int deterministic;
    int tf32; /* TF32 tensor-op math (trainer.precision=tf32), else FMA (fp32) */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    int chosen; /* c holds the algorithms (measured or preset) */
    sg_cudnn_choice c;
} plan;

static plan **plans;
static int nplans, plans_cap;
static long measured_calls;

static int same_geometry(const sg_conv_shape *a, const sg_conv_shape *b) {
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K &&
           a->R == b->R && a->S == b->S && a->stride == b->stride && a->pad == b->pad;
}

/* The descriptors of shape s (no algorithm yet). */
static plan *plan_make(const sg_conv_shape *s) {
    SG_CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0 && s->K > 0 && s->R > 0 && s->S > 0 &&
                 s->stride > 0 && s->pad >= 0 && s->P > 0 && s->Q > 0,
             "cuDNN conv shape N%d C%d H%d W%d K%d R%d S%d stride %d pad %d P%d Q%d", s->N, s->C,
             s->H, s->W, s->K, s->R, s->S, s->stride, s->pad, s->P, s->Q);
    plan *p = (plan *)calloc(1, sizeof *p);
    SG_CHECK(p != NULL, "out of memory for a cuDNN plan");
    p->s = *s;
    p->s.algo = SG_CONV_DEFAULT;
    p->deterministic = want_deterministic;
    p->tf32 = want_tf32;
    SG_CUDNN(cudnnCreateTensorDescriptor(&p->x), -1, s);
    SG_CUDNN(cudnnCreateTensorDescriptor(&p->y), -1, s);
    SG_CUDNN(cudnnCreateFilterDescriptor(&p->w), -1, s);
    SG_CUDNN(cudnnCreateConvolutionDescriptor(&p->conv), -1, s);
    SG_CUDNN(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->N, s->C,
                                        s->H, s->W),
             -1, s);
    SG_CUDNN(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->K, s->C,
                                        s->R, s->S),
             -1, s);
    SG_CUDNN(cudnnSetConvolution2dDescriptor(p->conv, s->pad, s->pad, s->stride, s->stride, 1, 1,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
             -1, s);
    /* on fp32 tensors TENSOR_OP_MATH means TF32 (Ampere on); FMA_MATH excludes it */
    SG_CUDNN(cudnnSetConvolutionMathType(p->conv, p->tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
             -1, s);
    int n = 0, k = 0, h = 0, w = 0;
    SG_CUDNN(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &n, &k, &h, &w), -1, s);
    SG_CHECK(n == s->N && k == s->K && h == s->P && w == s->Q,
             "cuDNN's output of N%d C%d %dx%d K%d %dx%d/%d pad %d is %dx%dx%dx%d, ours %dx%dx%dx%d",
             s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride, s->pad, n, k, h, w, s->N, s->K,
             s->P, s->Q);
    SG_CUDNN(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->N, s->K,
                                        s->P, s->Q),
             -1, s);
    for (int q = 0; q < SG_CUDNN_PASSES; q++) p->c.ms[q] = -1;
    p->c.deterministic = p->deterministic;
    if (nplans == plans_cap) {
        int cap = plans_cap ? 2 * plans_cap : 16;
        plan **grown = (plan **)realloc(plans, sizeof *plans * (size_t)cap);
        SG_CHECK(grown != NULL, "out of memory for %d cuDNN plans", cap);
        plans = grown;
        plans_cap = cap;
    }
    plans[nplans++] = p;
    return p;
}

/* The plan of s under the current setting, or NULL. */
static plan *plan_find(const sg_conv_shape *s) {
    for (int i = 0; i < nplans; i++)
        if (plans[i]->deterministic == want_deterministic && plans[i]->tf32 == want_tf32 &&
            same_geometry(&plans[i]->s, s))
            return plans[i];
    return NULL;
}

/* The bytes algorithm `algo` of `pass` needs at plan p; the status of cuDNN's answer. */
static cudnnStatus_t workspace_of(const plan *p, int pass, int algo, size_t *bytes) {
    *bytes = 0;
    switch (pass) {
    case SG_CUDNN_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(handle, p->x, p->w, p->conv, p->y,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    case SG_CUDNN_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            handle, p->w, p->y, p->conv, p->x, (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(
            handle, p->x, p->y, p->conv, p->w, (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
    }
}

/* cuDNN's list of one pass (n entries, sorted by time): the first entry that completed, fits
 * the budget and is deterministic when that is asked for, into *algo, *ms and *mem; 0, or -1
 * with the whole list described in `list` for the error message. */
template <typename Perf>
static int pick_from(const Perf *perf, int n, int pass, int deterministic, int *algo, float *ms,
                     size_t *mem, char *list, size_t cap) {
    for (int i = 0; i < n; i++) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        if (perf[i].memory > CUDNN_WORKSPACE_BUDGET) continue;
        if (deterministic && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
        *algo = (int)perf[i].algo;
        *ms = perf[i].time;
        *mem = perf[i].memory;
        return 0;
    }
    size_t at = 0;
    list[0] = 0;
    for (int i = 0; i < n && at < cap; i++) {
        const char *name = sg_cuda_cudnn_algo_name(pass, (int)perf[i].algo);
        int w = snprintf(list + at, cap - at, "%s%s: %s, %zu bytes, %s", i ? "; " : "",
                         name ? name : "?", cudnnGetErrorString(perf[i].status), perf[i].memory,
                         perf[i].determinism == CUDNN_DETERMINISTIC ? "deterministic"
                                                                    : "non-deterministic");
        if (w < 0) break;
        at += (size_t)w;
    }
    return -1;
}

/* Chooses every pass's algorithm at p by cuDNN's measurement. */
static void plan_measure(plan *p) {
    const sg_conv_shape *s = &p->s;
    int cap[SG_CUDNN_PASSES];
    SG_CUDNN(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &cap[0]), SG_CUDNN_FWD, s);
    SG_CUDNN(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &cap[1]), SG_CUDNN_BWD_DATA,
             s);
    SG_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &cap[2]),
             SG_CUDNN_BWD_FILTER, s);
    for (int pass = 0; pass < SG_CUDNN_PASSES; pass++) {
        SG_CHECK(cap[pass] > 0, "cuDNN offers no %s algorithm", pass_names[pass]);
        int n = 0, algo = -1, rc;
        float ms = -1;
        size_t mem = 0;
        char list[1024];
        measured_calls++;
        if (pass == SG_CUDNN_FWD) {
            cudnnConvolutionFwdAlgoPerf_t *perf =
                (cudnnConvolutionFwdAlgoPerf_t *)calloc((size_t)cap[pass], sizeof *perf);
            SG_CHECK(perf != NULL, "out of memory");
            SG_CUDNN(cudnnFindConvolutionForwardAlgorithm(handle, p->x, p->w, p->conv, p->y,
                                                          cap[pass], &n, perf),
                     pass, s);
            rc = pick_from(perf, n, pass, p->deterministic, &algo, &ms, &mem, list, sizeof list);
            free(perf);
        } else if (pass == SG_CUDNN_BWD_DATA) {
            cudnnConvolutionBwdDataAlgoPerf_t *perf =
                (cudnnConvolutionBwdDataAlgoPerf_t *)calloc((size_t)cap[pass], sizeof *perf);
            SG_CHECK(perf != NULL, "out of memory");
            SG_CUDNN(cudnnFindConvolutionBackwardDataAlgorithm(handle, p->w, p->y, p->conv, p->x,
                                                               cap[pass], &n, perf),
                     pass, s);
            rc = pick_from(perf, n, pass, p->deterministic, &algo, &ms, &mem, list, sizeof list);
            free(perf);
        } else {
            cudnnConvolutionBwdFilterAlgoPerf_t *perf =
                (cudnnConvolutionBwdFilterAlgoPerf_t *)calloc((size_t)cap[pass], sizeof *perf);
            SG_CHECK(perf != NULL, "out of memory");
            SG_CUDNN(cudnnFindConvolutionBackwardFilterAlgorithm(handle, p->x, p->y, p->conv,
                                                                 p->w, cap[pass], &n, perf),
                     pass, s);
            rc = pick_from(perf, n, pass, p->deterministic, &algo, &ms, &mem, list, sizeof list);
            free(perf);
        }
        SG_CHECK(rc == 0 && algo >= 0 && algo < table_of(pass)->count,
                 "cuDNN has no usable %s algorithm at N%d C%d %dx%d K%d %dx%d/%d pad %d (%s, at "
                 "most %zu bytes of workspace); its list: %s",
                 pass_names[pass], s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride, s->pad,
                 p->deterministic ? "deterministic" : "any determinism", CUDNN_WORKSPACE_BUDGET,
                 rc == 0 ? "(an algorithm this file does not know)" : list[0] ? list : "(empty)");
        /* the size cudnnGet*WorkspaceSize gives for the descriptor the passes run with is the
         * one the caller's workspace is held to */
        size_t need = 0;
        SG_CUDNN(workspace_of(p, pass, algo, &need), pass, s);
        p->c.algo[pass] = algo;
        p->c.workspace[pass] = need > mem ? need : mem;
        p->c.ms[pass] = ms;
    }
    p->chosen = 1;
}

/* The plan of s with its algorithms, made and measured on first use. */
static plan *plan_get(const sg_conv_shape *s) {
    SG_CHECK(cudnn_ready(), "conv.algo=cudnn called but cuDNN is not usable: %s", why_not);
    plan *p = plan_find(s);
    if (!p) p = plan_make(s);
    if (!p->chosen) plan_measure(p);
    return p;
}

extern "C" int sg_cuda_cudnn_choice(const sg_conv_shape *s, sg_cudnn_choice *out, sg_err *err) {
    if (!cudnn_ready()) return sg_errf(err, "conv.algo=cudnn: %s", why_not);
    *out = plan_get(s)->c;
    return 0;
}

extern "C" int sg_cuda_cudnn_preset(const sg_conv_shape *s, const int algo[SG_CUDNN_PASSES],
                                    sg_err *err) {
    if (!cudnn_ready()) return sg_errf(err, "conv.algo=cudnn: %s", why_not);
    plan *p = plan_find(s);
    if (!p) p = plan_make(s);
    sg_cudnn_choice c;
    memset(&c, 0, sizeof c);
    c.deterministic = p->deterministic;
    for (int pass = 0; pass < SG_CUDNN_PASSES; pass++) {
        const char *name = sg_cuda_cudnn_algo_name(pass, algo[pass]);
        if (!name)
            return sg_errf(err, "cuDNN has no %s algorithm %d", pass_names[pass], algo[pass]);
        if (p->deterministic && !sg_cuda_cudnn_algo_deterministic(pass, algo[pass]))
            return sg_errf(err, "the %s algorithm %s is not deterministic (conv.deterministic is "
                                "true) at N%d C%d %dx%d K%d %dx%d/%d pad %d",
                           pass_names[pass], name, s->N, s->C, s->H, s->W, s->K, s->R, s->S,
                           s->stride, s->pad);
        size_t need = 0;
        cudnnStatus_t st = workspace_of(p, pass, algo[pass], &need);
        if (st != CUDNN_STATUS_SUCCESS)
            return sg_errf(err, "cuDNN %zu cannot run the %s algorithm %s at N%d C%d %dx%d K%d "
                                "%dx%d/%d pad %d: %s",
                           cudnnGetVersion(), pass_names[pass], name, s->N, s->C, s->H, s->W,
                           s->K, s->R, s->S, s->stride, s->pad, cudnnGetErrorString(st));
        c.algo[pass] = algo[pass];
        c.workspace[pass] = need;
        c.ms[pass] = -1;
    }
    p->c = c;
    p->chosen = 1;
    return 0;
}

extern "C" long sg_cuda_cudnn_measured(void) { return measured_calls; }

/* ---- the three passes (dense.cu hands them shapes with algo == SG_CONV_CUDNN) ------------- */

size_t sg_cu_cudnn_workspace_bytes(const sg_backend *be, const sg_conv_shape *s) {
    (void)be;
    const plan *p = plan_get(s);
    size_t most = 0;
    for (int pass = 0; pass < SG_CUDNN_PASSES; pass++)
        if (p->c.workspace[pass] > most) most = p->c.workspace[pass];
    return most;
}

/* The plan for a pass: the caller sized the workspace by sg_cu_cudnn_workspace_bytes. */
static const plan *pass_plan(const sg_conv_shape *s, int pass, const void *workspace) {
    const plan *p = plan_get(s);
    SG_CHECK(workspace != NULL || p->c.workspace[pass] == 0,
             "cuDNN %s pass at N%d C%d %dx%d K%d needs a workspace of %zu bytes", pass_names[pass],
             s->N, s->C, s->H, s->W, s->K, p->c.workspace[pass]);
    return p;
}

void sg_cu_cudnn_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x, const float *w,
                     float *y, void *workspace) {
    (void)be;
    const plan *p = pass_plan(s, SG_CUDNN_FWD, workspace);
    const float one = 1.0f, zero = 0.0f;
    SG_CUDNN(cudnnConvolutionForward(handle, &one, p->x, x, p->w, w, p->conv,
                                     (cudnnConvolutionFwdAlgo_t)p->c.algo[SG_CUDNN_FWD], workspace,
                                     p->c.workspace[SG_CUDNN_FWD], &zero, p->y, y),
             SG_CUDNN_FWD, s);
}

void sg_cu_cudnn_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                          const float *w, float *dx, void *workspace) {
    (void)be;
    const plan *p = pass_plan(s, SG_CUDNN_BWD_DATA, workspace);
    const float one = 1.0f, zero = 0.0f;
    SG_CUDNN(cudnnConvolutionBackwardData(
                 handle, &one, p->w, w, p->y, dy, p->conv,
                 (cudnnConvolutionBwdDataAlgo_t)p->c.algo[SG_CUDNN_BWD_DATA], workspace,
                 p->c.workspace[SG_CUDNN_BWD_DATA], &zero, p->x, dx),
             SG_CUDNN_BWD_DATA, s);
}

void sg_cu_cudnn_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                            const float *dy, float *dw, int accumulate, void *workspace) {
    (void)be;
    const plan *p = pass_plan(s, SG_CUDNN_BWD_FILTER, workspace);
    /* beta = 1 adds onto dw (kernels.h's accumulate), 0 overwrites it */
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    SG_CUDNN(cudnnConvolutionBackwardFilter(
                 handle, &one, p->x, x, p->y, dy, p->conv,
                 (cudnnConvolutionBwdFilterAlgo_t)p->c.algo[SG_CUDNN_BWD_FILTER], workspace,
                 p->c.workspace[SG_CUDNN_BWD_FILTER], &beta, p->w, dw),
             SG_CUDNN_BWD_FILTER, s);
}

#else /* !SG_HAVE_CUDNN */

/* Built without cuDNN: supports() refuses conv.algo=cudnn, so the passes are never reached;
 * the query functions say why. */
static const char no_cudnn[] =
    "this build has no cuDNN (SG_CUDNN=OFF, or cudnn.h / libcudnn 9 not found at configure time)";

int sg_cu_cudnn_usable(void) { return 0; }
void sg_cu_cudnn_set_tf32(int on) { (void)on; }

extern "C" int sg_cuda_cudnn_available(const char **why) {
    if (why) *why = no_cudnn;
    return 0;
}

extern "C" long sg_cuda_cudnn_version(void) { return 0; }

extern "C" int sg_cuda_cudnn_choice(const sg_conv_shape *s, sg_cudnn_choice *out, sg_err *err) {
    (void)s, (void)out;
    return sg_errf(err, "conv.algo=cudnn: %s", no_cudnn);
}

extern "C" int sg_cuda_cudnn_preset(const sg_conv_shape *s, const int algo[SG_CUDNN_PASSES],
                                    sg_err *err) {
    (void)s, (void)algo;
    return sg_errf(err, "conv.algo=cudnn: %s", no_cudnn);
}

extern "C" long sg_cuda_cudnn_measured(void) { return 0; }

static void cudnn_missing(const char *what) {
    fprintf(stderr, "stopgrad: %s called with conv.algo=cudnn, but %s\n", what, no_cudnn);
    abort();
}

size_t sg_cu_cudnn_workspace_bytes(const sg_backend *be, const sg_conv_shape *s) {
    (void)be, (void)s;
    cudnn_missing("conv2d_workspace_bytes");
    return 0;
}

void sg_cu_cudnn_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x, const float *w,
                     float *y, void *workspace) {
    (void)be, (void)s, (void)x, (void)w, (void)y, (void)workspace;
    cudnn_missing("conv2d_fwd");
}

void sg_cu_cudnn_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                          const float *w, float *dx, void *workspace) {
    (void)be, (void)s, (void)dy, (void)w, (void)dx, (void)workspace;
    cudnn_missing("conv2d_bwd_data");
}

void sg_cu_cudnn_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                            const float *dy, float *dw, int accumulate, void *workspace) {
    (void)be, (void)s, (void)x, (void)dy, (void)dw, (void)accumulate, (void)workspace;
    cudnn_missing("conv2d_bwd_filter");
}

#endif /* SG_HAVE_CUDNN */
