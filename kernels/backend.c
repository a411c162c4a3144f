/* kernels/backend.c: the backend front door (see backend.h): the registry, the slot check, and
 * every kernel call validated once before it reaches a backend. */
#include "kernels/backend.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/cpu/cpu_internal.h"
#include "kernels/ops.h"

#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

/* ---- the registry ------------------------------------------------------------------------------ */

const sg_backend *sg_backend_get(const char *name) {
    if (name && strcmp(name, "cpu") == 0) return sg_cpu_backend();
#ifdef SG_HAVE_CUDA
    if (name && strcmp(name, "cuda") == 0) return sg_cuda_backend_get();
#endif
    return NULL;
}

const char *sg_backend_unavailable(const char *name) {
    if (!name) return "no backend named";
    if (strcmp(name, "cpu") == 0) return "available";
    if (strcmp(name, "cuda") == 0) {
#ifdef SG_HAVE_CUDA
        return sg_cuda_backend_get() ? "available" : sg_cuda_unavailable();
#else
        return "not built: no CUDA toolkit was found when this binary was configured";
#endif
    }
    return "unknown backend (expected cpu or cuda)";
}

void sg_backend_device(const sg_backend *be, char *desc, size_t desc_len, char *key,
                       size_t key_len) {
    if (desc_len) desc[0] = 0;
    if (key_len) key[0] = 0;
#ifdef SG_HAVE_CUDA
    sg_cuda_info in;
    if (be && !strcmp(be->name, "cuda") && sg_cuda_describe(&in)) {
        double gib = (double)in.mem_bytes / (1024.0 * 1024.0 * 1024.0);
        snprintf(desc, desc_len,
                 "%s, cc %d.%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d, cuBLAS %d, "
                 "cuSOLVER %d",
                 in.name, in.cc_major, in.cc_minor, in.sm_count, gib, in.driver_version / 1000,
                 (in.driver_version % 1000) / 10, in.runtime_version / 1000,
                 (in.runtime_version % 1000) / 10, in.cublas_version, in.cusolver_version);
        snprintf(key, key_len, "%s|%d.%d|%d|%.0f", in.name, in.cc_major, in.cc_minor,
                 in.sm_count, gib);
    }
#else
    (void)be;
#endif
}

const char *const sg_precision_names[SG_PREC_COUNT] = {"fp32", "tf32", "bf16"};

double sg_precision_input_unit(sg_precision p) {
    return p == SG_PREC_TF32 ? 0x1p-11 : p == SG_PREC_BF16 ? 0x1p-8 : 0.0;
}

sg_precision sg_backend_precision(const sg_backend *be) {
    return be->precision ? (sg_precision)be->precision(be, -1) : SG_PREC_FP32;
}

int sg_backend_set_precision(const sg_backend *be, sg_precision p) {
    SG_CHECK((int)p >= 0 && p < SG_PREC_COUNT, "precision %d", (int)p);
    if (!be->precision) return p == SG_PREC_FP32 ? SG_PREC_FP32 : -1;
    return be->precision(be, (int)p);
}

const char *sg_backend_compiled(void) {
#ifdef SG_HAVE_CUDA
    return "cpu cuda";
#else
    return "cpu";
#endif
}

/* ---- every required slot, by name ------------------------------------------------------------ */

typedef void (*any_fn)(void);
#define SLOT(f) {#f, offsetof(sg_backend, f)}
static const struct {
    const char *name;
    size_t offset;
} required_slots[] = {
    SLOT(gemm), SLOT(linear_fwd), SLOT(linear_bwd), SLOT(conv2d_workspace_bytes),
    SLOT(conv2d_fwd), SLOT(conv2d_bwd_data), SLOT(conv2d_bwd_filter),
    SLOT(batchnorm_fwd_train), SLOT(batchnorm_fwd_eval), SLOT(batchnorm_bwd),
    SLOT(batchnorm_sums), SLOT(batchnorm_bwd_apply), SLOT(batchnorm_relu_fwd),
    SLOT(batchnorm_relu_bwd), SLOT(relu_fwd), SLOT(relu_bwd), SLOT(add_fwd),
    SLOT(add_bwd), SLOT(maxpool_fwd), SLOT(maxpool_bwd),
    SLOT(avgpool_global_fwd), SLOT(avgpool_global_bwd), SLOT(pair_loss_fwd),
    SLOT(pair_loss_bwd), SLOT(sgd_step), SLOT(lars_step), SLOT(ema_update), SLOT(corr_update),
    SLOT(syevd_workspace_bytes), SLOT(syevd), SLOT(eig_rebuild), SLOT(eig_map),
    SLOT(pred_symmetrize), SLOT(directcopy_fill), SLOT(eig_pair_scale), SLOT(rank1_sub),
    SLOT(aug_u8_to_float),
    SLOT(aug_resized_crop), SLOT(aug_hflip), SLOT(aug_color_jitter), SLOT(aug_grayscale),
    SLOT(aug_gaussian_blur), SLOT(aug_solarize), SLOT(aug_normalize), SLOT(aug_views),
    SLOT(mem_alloc),
    SLOT(mem_free), SLOT(host_alloc), SLOT(host_free), SLOT(mem_upload), SLOT(mem_download),
    SLOT(mem_copy), SLOT(mem_zero), SLOT(sync), SLOT(timer_start), SLOT(timer_stop),
};
/* kernels.h keeps every slot from gemm to timer_stop a function pointer: the list above must
 * name them all (the graph slots after them are optional) */
_Static_assert(sizeof required_slots / sizeof required_slots[0] ==
                   (offsetof(sg_backend, graph_begin) - offsetof(sg_backend, gemm)) /
                       sizeof(any_fn),
               "every slot of sg_backend from gemm to timer_stop is in required_slots");
_Static_assert(offsetof(sg_backend, graph_begin) ==
                   offsetof(sg_backend, timer_stop) + sizeof(any_fn),
               "the optional graph slots follow the required ones");

const char *sg_backend_empty_slot(const sg_backend *be) {
    for (size_t i = 0; i < sizeof required_slots / sizeof required_slots[0]; i++) {
        any_fn fn;
        memcpy(&fn, (const char *)be + required_slots[i].offset, sizeof fn);
        if (!fn) return required_slots[i].name;
    }
    return NULL;
}

/* ---- the kernels, validated ------------------------------------------------------------------ */

static int max_int(int a, int b) { return a > b ? a : b; }

/* the geometry is the one sg_conv_shape_make computes for its inputs */
static void check_conv(const char *op, const sg_conv_shape *s) {
    SG_CHECK(s != NULL, "%s: no shape", op);
    SG_CHECK(s->algo >= 0 && s->algo < SG_CONV_ALGO_COUNT, "%s: algorithm %d", op, s->algo);
    SG_CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0 && s->K > 0 && s->R > 0 && s->S > 0 &&
                 s->stride > 0 && s->pad >= 0 && s->H + 2 * s->pad >= s->R &&
                 s->W + 2 * s->pad >= s->S &&
                 s->P == (s->H + 2 * s->pad - s->R) / s->stride + 1 &&
                 s->Q == (s->W + 2 * s->pad - s->S) / s->stride + 1,
             "%s: shape N%d C%d H%d W%d K%d R%d S%d stride %d pad %d -> P%d Q%d is not one "
             "sg_conv_shape_make made",
             op, s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride, s->pad, s->P, s->Q);
}

static void check_pool(const char *op, const sg_pool_shape *s) {
    SG_CHECK(s != NULL, "%s: no shape", op);
    SG_CHECK(s->N > 0 && s->C > 0 && s->H > 0 && s->W > 0 && s->k > 0 && s->stride > 0 &&
                 s->pad >= 0 && s->pad < s->k && s->H + 2 * s->pad >= s->k &&
                 s->W + 2 * s->pad >= s->k &&
                 s->P == (s->H + 2 * s->pad - s->k) / s->stride + 1 &&
                 s->Q == (s->W + 2 * s->pad - s->k) / s->stride + 1,
             "%s: shape N%d C%d H%d W%d k%d stride %d pad %d -> P%d Q%d is not one "
             "sg_pool_shape_make made",
             op, s->N, s->C, s->H, s->W, s->k, s->stride, s->pad, s->P, s->Q);
}

static void check_nchw(const char *op, int N, int C, int HW) {
    SG_CHECK(N > 0 && C > 0 && HW > 0, "%s: N%d C%d HW%d", op, N, C, HW);
}

void sg_gemm(const sg_backend *be, int transA, int transB, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    /* Stored shapes: A is [M,K] or [K,M] (transA), B is [K,N] or [N,K] (transB), C is [M,N]. */
    SG_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: M%d N%d K%d", M, N, K);
    SG_CHECK(lda >= max_int(1, transA ? M : K) && ldb >= max_int(1, transB ? K : N) &&
                 ldc >= max_int(1, N),
             "gemm: leading dimensions lda%d ldb%d ldc%d for M%d N%d K%d transA%d transB%d", lda,
             ldb, ldc, M, N, K, transA, transB);
    SG_CHECK(M == 0 || N == 0 || (C && (K == 0 || (A && B))), "gemm: NULL matrix");
    be->gemm(be, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sg_linear_fwd(const sg_backend *be, int N, int In, int Out, const float *x, const float *W,
                   const float *b, float *y) {
    SG_CHECK(N > 0 && In > 0 && Out > 0, "linear_fwd: N%d In%d Out%d", N, In, Out);
    SG_CHECK(x && W && y, "linear_fwd: NULL buffer");
    be->linear_fwd(be, N, In, Out, x, W, b, y);
}

void sg_linear_bwd(const sg_backend *be, int N, int In, int Out, const float *x, const float *W,
                   const float *dy, float *dx, float *dW, float *db, int accumulate) {
    SG_CHECK(N > 0 && In > 0 && Out > 0, "linear_bwd: N%d In%d Out%d", N, In, Out);
    SG_CHECK(x && W && dy && dW, "linear_bwd: NULL buffer");
    be->linear_bwd(be, N, In, Out, x, W, dy, dx, dW, db, accumulate);
}

/* An explicit algorithm must run on this backend at this shape (a model chooses per layer among
 * the supported ones; asking for another is a programming error). */
static void check_conv_algo(const sg_backend *be, sg_op op, const sg_conv_shape *s) {
    if (s->algo == SG_CONV_DEFAULT) return;
    int val[SG_OP_MAXP];
    sg_op_conv_vals(op, s, 0, val);
    val[sg_op_param_index(op, "prec")] = (int)sg_backend_precision(be);
    const int runs_here = sg_backend_supports(be, op, val);
    if (runs_here) return;
    char runs[160];
    sg_conv_algos_supported(be, op, val, runs, sizeof runs);
    SG_CHECK(runs_here,
             "%s: backend %s does not run the %s algorithm at N%d C%d %dx%d K%d %dx%d/%d pad %d "
             "(it runs: %s)",
             sg_op_get(op)->name, be->name, sg_conv_algo_names[s->algo], s->N, s->C, s->H, s->W,
             s->K, s->R, s->S, s->stride, s->pad, runs);
}

size_t sg_conv2d_workspace_bytes(const sg_backend *be, const sg_conv_shape *s) {
    check_conv("conv2d_workspace_bytes", s);
    check_conv_algo(be, SG_OP_conv2d_fwd, s);
    return be->conv2d_workspace_bytes(be, s);
}

/* the caller's workspace must exist whenever the backend asks for one */
static void check_conv_call(const sg_backend *be, const char *op, const sg_conv_shape *s,
                            const void *a, const void *b, const void *out, const void *ws) {
    check_conv(op, s);
    check_conv_algo(be, (sg_op)sg_op_find(op), s);
    SG_CHECK(a && b && out, "%s: NULL buffer", op);
    SG_CHECK(ws || be->conv2d_workspace_bytes(be, s) == 0, "%s: needs a workspace of %zu bytes",
             op, be->conv2d_workspace_bytes(be, s));
}

void sg_conv2d_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x, const float *w,
                   float *y, void *workspace) {
    check_conv_call(be, "conv2d_fwd", s, x, w, y, workspace);
    be->conv2d_fwd(be, s, x, w, y, workspace);
}

void sg_conv2d_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                        const float *w, float *dx, void *workspace) {
    check_conv_call(be, "conv2d_bwd_data", s, dy, w, dx, workspace);
    be->conv2d_bwd_data(be, s, dy, w, dx, workspace);
}

void sg_conv2d_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                          const float *dy, float *dw, int accumulate, void *workspace) {
    check_conv_call(be, "conv2d_bwd_filter", s, x, dy, dw, workspace);
    be->conv2d_bwd_filter(be, s, x, dy, dw, accumulate, workspace);
}

void sg_batchnorm_fwd_train(const sg_backend *be, int N, int C, int HW, const float *x,
                            const float *gamma, const float *beta, float eps, float momentum,
                            float *running_mean, float *running_var, float *mean, float *invstd,
                            float *y) {
    check_nchw("batchnorm_fwd_train", N, C, HW);
    /* PyTorch refuses to train BN on one value per channel: the unbiased variance is 0/0. */
    SG_CHECK((long long)N * HW > 1,
             "batchnorm_fwd_train needs more than one value per channel (N%d HW%d)", N, HW);
    SG_CHECK(!running_mean == !running_var,
             "batchnorm_fwd_train: running_mean and running_var must both be given or both be "
             "NULL");
    SG_CHECK(!gamma == !beta, "batchnorm_fwd_train: gamma and beta go together");
    SG_CHECK(x && mean && invstd && y, "batchnorm_fwd_train: NULL buffer");
    SG_CHECK(eps > 0 && momentum >= 0 && momentum <= 1, "batchnorm_fwd_train: eps %g momentum %g",
             (double)eps, (double)momentum);
    be->batchnorm_fwd_train(be, N, C, HW, x, gamma, beta, eps, momentum, running_mean,
                            running_var, mean, invstd, y);
}

void sg_batchnorm_fwd_eval(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *gamma, const float *beta, float eps,
                           const float *running_mean, const float *running_var, float *y) {
    check_nchw("batchnorm_fwd_eval", N, C, HW);
    SG_CHECK(running_mean && running_var, "batchnorm_fwd_eval needs the running statistics");
    SG_CHECK(!gamma == !beta, "batchnorm_fwd_eval: gamma and beta go together");
    SG_CHECK(x && y && eps > 0, "batchnorm_fwd_eval: NULL buffer or eps %g", (double)eps);
    be->batchnorm_fwd_eval(be, N, C, HW, x, gamma, beta, eps, running_mean, running_var, y);
}

void sg_batchnorm_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *gamma, const float *mean, const float *invstd, const float *dy,
                      float *dx, float *dgamma, float *dbeta, int accumulate) {
    check_nchw("batchnorm_bwd", N, C, HW);
    SG_CHECK(x && mean && invstd && dy && dx, "batchnorm_bwd: NULL buffer");
    SG_CHECK(!dgamma == !dbeta && (!dgamma || gamma),
             "batchnorm_bwd: dgamma and dbeta go together, and need gamma");
    be->batchnorm_bwd(be, N, C, HW, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
}

void sg_batchnorm_sums(const sg_backend *be, int N, int C, int HW, const float *x,
                       const float *center, const float *dy, double *sums) {
    check_nchw("batchnorm_sums", N, C, HW);
    SG_CHECK(x && sums, "batchnorm_sums: NULL buffer");
    be->batchnorm_sums(be, N, C, HW, x, center, dy, sums);
}

void sg_batchnorm_bwd_apply(const sg_backend *be, int N, int C, int HW, const float *x,
                            const float *gamma, const float *mean, const float *invstd,
                            const float *dy, const double *sums, double M, float *dx) {
    check_nchw("batchnorm_bwd_apply", N, C, HW);
    SG_CHECK(x && mean && invstd && dy && sums && dx, "batchnorm_bwd_apply: NULL buffer");
    /* the sums cover this batch and possibly other ranks' batches: at least N*HW values */
    SG_CHECK(M >= (double)N * HW && isfinite(M),
             "batchnorm_bwd_apply: M = %g values per channel; it must be finite and at least "
             "this batch's N*HW = %lld",
             M, (long long)N * HW);
    be->batchnorm_bwd_apply(be, N, C, HW, x, gamma, mean, invstd, dy, sums, M, dx);
}

void sg_batchnorm_relu_fwd(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *gamma, const float *beta, float eps, float momentum,
                           float *running_mean, float *running_var, float *mean, float *invstd,
                           float *y) {
    check_nchw("batchnorm_relu_fwd", N, C, HW);
    SG_CHECK((long long)N * HW > 1,
             "batchnorm_relu_fwd needs more than one value per channel (N%d HW%d)", N, HW);
    SG_CHECK(!running_mean == !running_var,
             "batchnorm_relu_fwd: running_mean and running_var must both be given or both "
             "be NULL");
    SG_CHECK(!gamma == !beta, "batchnorm_relu_fwd: gamma and beta go together");
    SG_CHECK(x && mean && invstd && y, "batchnorm_relu_fwd: NULL buffer");
    SG_CHECK(eps > 0 && momentum >= 0 && momentum <= 1, "batchnorm_relu_fwd: eps %g momentum %g",
             (double)eps, (double)momentum);
    be->batchnorm_relu_fwd(be, N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var,
                           mean, invstd, y);
}

void sg_batchnorm_relu_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *y, const float *gamma, const float *mean,
                           const float *invstd, const float *dy, float *dx, float *dgamma,
                           float *dbeta, int accumulate) {
    check_nchw("batchnorm_relu_bwd", N, C, HW);
    SG_CHECK(x && y && mean && invstd && dy && dx, "batchnorm_relu_bwd: NULL buffer");
    SG_CHECK(!dgamma == !dbeta && (!dgamma || gamma),
             "batchnorm_relu_bwd: dgamma and dbeta go together, and need gamma");
    be->batchnorm_relu_bwd(be, N, C, HW, x, y, gamma, mean, invstd, dy, dx, dgamma, dbeta,
                           accumulate);
}

void sg_relu_fwd(const sg_backend *be, size_t n, const float *x, float *y) {
    SG_CHECK(n == 0 || (x && y), "relu_fwd: NULL buffer");
    be->relu_fwd(be, n, x, y);
}

void sg_relu_bwd(const sg_backend *be, size_t n, const float *y, const float *dy, float *dx) {
    SG_CHECK(n == 0 || (y && dy && dx), "relu_bwd: NULL buffer");
    be->relu_bwd(be, n, y, dy, dx);
}

void sg_add_fwd(const sg_backend *be, size_t n, const float *a, const float *b, float *y) {
    SG_CHECK(n == 0 || (a && b && y), "add_fwd: NULL buffer");
    be->add_fwd(be, n, a, b, y);
}

void sg_add_bwd(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                int accumulate) {
    SG_CHECK(n == 0 || dy, "add_bwd: NULL dy");
    be->add_bwd(be, n, dy, da, db, accumulate);
}

void sg_maxpool_fwd(const sg_backend *be, const sg_pool_shape *s, const float *x, float *y,
                    int32_t *argmax) {
    check_pool("maxpool_fwd", s);
    SG_CHECK(x && y && argmax, "maxpool_fwd: NULL buffer");
    be->maxpool_fwd(be, s, x, y, argmax);
}

void sg_maxpool_bwd(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                    const int32_t *argmax, float *dx) {
    check_pool("maxpool_bwd", s);
    SG_CHECK(dy && argmax && dx, "maxpool_bwd: NULL buffer");
    be->maxpool_bwd(be, s, dy, argmax, dx);
}

void sg_avgpool_global_fwd(const sg_backend *be, int N, int C, int HW, const float *x, float *y) {
    check_nchw("avgpool_global_fwd", N, C, HW);
    SG_CHECK(x && y, "avgpool_global_fwd: NULL buffer");
    be->avgpool_global_fwd(be, N, C, HW, x, y);
}

void sg_avgpool_global_bwd(const sg_backend *be, int N, int C, int HW, const float *dy,
                           float *dx) {
    check_nchw("avgpool_global_bwd", N, C, HW);
    SG_CHECK(dy && dx, "avgpool_global_bwd: NULL buffer");
    be->avgpool_global_bwd(be, N, C, HW, dy, dx);
}

void sg_pair_loss_fwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                      const float *z, float *row_loss) {
    SG_CHECK(N > 0 && D > 0, "pair_loss_fwd: N%d D%d", N, D);
    SG_CHECK(p && z && row_loss, "pair_loss_fwd: NULL buffer");
    be->pair_loss_fwd(be, N, D, normalize, p, z, row_loss);
}

void sg_pair_loss_bwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                      const float *z, float scale, float *dp, float *dz) {
    SG_CHECK(N > 0 && D > 0, "pair_loss_bwd: N%d D%d", N, D);
    SG_CHECK(p && z && dp, "pair_loss_bwd: NULL buffer");
    be->pair_loss_bwd(be, N, D, normalize, p, z, scale, dp, dz);
}

void sg_sgd_step(const sg_backend *be, int ngroups, const sg_sgd_group *groups, float momentum) {
    SG_CHECK(ngroups >= 0 && (ngroups == 0 || groups), "sgd_step: ngroups %d, groups %p",
             ngroups, (const void *)groups);
    for (int gi = 0; gi < ngroups; gi++)
        SG_CHECK(groups[gi].n == 0 || (groups[gi].w && groups[gi].g && groups[gi].m),
                 "sgd_step group %d: w, g and m must be non-NULL", gi);
    be->sgd_step(be, ngroups, groups, momentum);
}

void sg_lars_step(const sg_backend *be, int ngroups, const sg_lars_group *groups, float lr,
                  float momentum, float eta) {
    SG_CHECK(ngroups >= 0 && (ngroups == 0 || groups), "lars_step: ngroups %d", ngroups);
    for (int gi = 0; gi < ngroups; gi++)
        SG_CHECK(groups[gi].n == 0 || (groups[gi].w && groups[gi].g && groups[gi].m),
                 "lars_step group %d: w, g and m must be non-NULL", gi);
    be->lars_step(be, ngroups, groups, lr, momentum, eta);
}

void sg_ema_update(const sg_backend *be, size_t n, float m, const float *m_at,
                   const float *online, float *target) {
    SG_CHECK(n == 0 || (online && target), "ema_update: NULL buffer");
    /* a rate in backend memory is the caller's to keep in range: it is read when the kernel runs */
    SG_CHECK(m_at || (m >= 0 && m <= 1), "ema_update: rate %g outside [0, 1]", (double)m);
    be->ema_update(be, n, m, m_at, online, target);
}

void sg_corr_update(const sg_backend *be, int N, int D, const float *f, float rho, int init,
                    int center, float *F, float *work) {
    SG_CHECK(N > 0 && D > 0, "corr_update: N %d, D %d", N, D);
    SG_CHECK(f && F, "corr_update: NULL buffer");
    SG_CHECK(!center || work, "corr_update: the centred variant needs work[D]");
    SG_CHECK(rho >= 0 && rho <= 1, "corr_update: rho %g outside [0, 1]", (double)rho);
    be->corr_update(be, N, D, f, rho, init, center, F, work);
}

size_t sg_syevd_workspace_bytes(const sg_backend *be, int D) {
    SG_CHECK(D > 0, "syevd_workspace_bytes: D %d", D);
    return be->syevd_workspace_bytes(be, D);
}

int sg_syevd(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at) {
    SG_CHECK(D > 0 && A && w && work, "syevd: D %d or a NULL buffer", D);
    return be->syevd(be, D, A, w, work, info_at);
}

void sg_eig_rebuild(const sg_backend *be, int D, const float *V, const float *p, float *W,
                    float *work) {
    SG_CHECK(D > 0 && V && p && W && work, "eig_rebuild: D %d or a NULL buffer", D);
    be->eig_rebuild(be, D, V, p, W, work);
}

void sg_eig_map(const sg_backend *be, int D, const float *s, float *p, int mode, double eps,
                double shift_c) {
    SG_CHECK(D > 0 && s && p, "eig_map: D %d or a NULL buffer", D);
    SG_CHECK(mode >= 0 && mode < SG_EIG_MAP_COUNT, "eig_map: mode %d", mode);
    SG_CHECK(isfinite(eps) && isfinite(shift_c), "eig_map: eps %g, shift_c %g", eps, shift_c);
    be->eig_map(be, D, s, p, mode, eps, shift_c);
}

void sg_pred_symmetrize(const sg_backend *be, int R, int C, float *A, float *B) {
    SG_CHECK(R > 0 && C > 0 && A, "pred_symmetrize: R %d, C %d or a NULL buffer", R, C);
    SG_CHECK(B || R == C, "pred_symmetrize: in place needs a square matrix, not %dx%d", R, C);
    SG_CHECK(A != B, "pred_symmetrize: the tied form needs two buffers");
    be->pred_symmetrize(be, R, C, A, B);
}

void sg_directcopy_fill(const sg_backend *be, int D, const float *F, const float *s,
                        int normalize, double eps, float *W) {
    SG_CHECK(D > 0 && F && W, "directcopy_fill: D %d or a NULL buffer", D);
    SG_CHECK(!normalize || s, "directcopy_fill: normalizing needs the eigenvalues s");
    SG_CHECK(isfinite(eps), "directcopy_fill: eps %g", eps);
    be->directcopy_fill(be, D, F, s, normalize, eps, W);
}

void sg_eig_pair_scale(const sg_backend *be, int D, float *X, const float *s, double reg) {
    SG_CHECK(D > 0 && X && s, "eig_pair_scale: D %d or a NULL buffer", D);
    SG_CHECK(isfinite(reg), "eig_pair_scale: reg %g", reg);
    be->eig_pair_scale(be, D, X, s, reg);
}

void sg_rank1_sub(const sg_backend *be, int D, const float *mu, float *V) {
    SG_CHECK(D > 0 && mu && V, "rank1_sub: D %d or a NULL buffer", D);
    be->rank1_sub(be, D, mu, V);
}

/* ---- augmentation ---------------------------------------------------------------------------- */

static void check_image(const char *op, int C, int H, int W) {
    SG_CHECK(C > 0 && H > 0 && W > 0, "%s: C=%d H=%d W=%d", op, C, H, W);
}

void sg_aug_u8_to_float(const sg_backend *be, size_t n, const uint8_t *src, float *dst) {
    SG_CHECK(n == 0 || (src && dst), "aug_u8_to_float: NULL buffer");
    be->aug_u8_to_float(be, n, src, dst);
}

void sg_aug_resized_crop(const sg_backend *be, int C, int H, int W, const float *src, float y0,
                         float x0, float h, float w, int outH, int outW, float *dst) {
    check_image("aug_resized_crop", C, H, W);
    SG_CHECK(outH > 0 && outW > 0, "aug_resized_crop: outH=%d outW=%d", outH, outW);
    /* Boxes come from integer draws converted to float; the slack only absorbs rounding of a
     * caller that computes them in float. */
    SG_CHECK(y0 >= 0.0f && x0 >= 0.0f && h > 0.0f && w > 0.0f && y0 + h <= (float)H + 1e-3f &&
                 x0 + w <= (float)W + 1e-3f,
             "aug_resized_crop: box (y0=%g x0=%g h=%g w=%g) not inside the %dx%d image",
             (double)y0, (double)x0, (double)h, (double)w, H, W);
    SG_CHECK(src && dst, "aug_resized_crop: NULL buffer");
    be->aug_resized_crop(be, C, H, W, src, y0, x0, h, w, outH, outW, dst);
}

void sg_aug_hflip(const sg_backend *be, int C, int H, int W, const float *src, float *dst) {
    check_image("aug_hflip", C, H, W);
    SG_CHECK(src && dst, "aug_hflip: NULL buffer");
    /* dst may be src exactly; a partial overlap is a caller bug */
    const uintptr_t s = (uintptr_t)src, d = (uintptr_t)dst;
    const uintptr_t bytes = (uintptr_t)C * (uintptr_t)H * (uintptr_t)W * sizeof(float);
    SG_CHECK(d == s || d + bytes <= s || s + bytes <= d,
             "aug_hflip: dst overlaps src without being src");
    be->aug_hflip(be, C, H, W, src, dst);
}

void sg_aug_color_jitter(const sg_backend *be, int H, int W, float *img, float brightness,
                         float contrast, float saturation, float hue, const int order[4]) {
    check_image("aug_color_jitter", 3, H, W);
    SG_CHECK(img && order, "aug_color_jitter: NULL buffer");
    SG_CHECK(brightness >= 0.0f && contrast >= 0.0f && saturation >= 0.0f,
             "aug_color_jitter: negative factor (brightness %g contrast %g saturation %g)",
             (double)brightness, (double)contrast, (double)saturation);
    SG_CHECK(hue >= -0.5f && hue <= 0.5f, "aug_color_jitter: hue shift %g outside [-0.5, 0.5]",
             (double)hue);
    int seen = 0;
    for (int i = 0; i < 4; i++) {
        SG_CHECK(order[i] >= 0 && order[i] < 4 && !(seen & (1 << order[i])),
                 "aug_color_jitter: order is not a permutation of 0..3 (order[%d] = %d)", i,
                 order[i]);
        seen |= 1 << order[i];
    }
    be->aug_color_jitter(be, H, W, img, brightness, contrast, saturation, hue, order);
}

void sg_aug_grayscale(const sg_backend *be, int H, int W, float *img) {
    check_image("aug_grayscale", 3, H, W);
    SG_CHECK(img, "aug_grayscale: NULL buffer");
    be->aug_grayscale(be, H, W, img);
}

void sg_aug_gaussian_blur(const sg_backend *be, int C, int H, int W, const float *src,
                          float *dst, int ksize, float sigma, float *work) {
    check_image("aug_gaussian_blur", C, H, W);
    SG_CHECK(ksize >= 1 && ksize % 2 == 1 && ksize <= SG_AUG_BLUR_MAX_KSIZE,
             "aug_gaussian_blur: kernel size %d must be odd, in [1, %d]", ksize,
             SG_AUG_BLUR_MAX_KSIZE);
    SG_CHECK(sigma > 0.0f, "aug_gaussian_blur: sigma %g must be > 0", (double)sigma);
    SG_CHECK(src && dst && work, "aug_gaussian_blur: NULL buffer");
    be->aug_gaussian_blur(be, C, H, W, src, dst, ksize, sigma, work);
}

void sg_aug_solarize(const sg_backend *be, size_t n, float *img, float threshold) {
    SG_CHECK(n == 0 || img, "aug_solarize: NULL buffer");
    be->aug_solarize(be, n, img, threshold);
}

void sg_aug_normalize(const sg_backend *be, int C, int HW, float *img, const float *mean,
                      const float *std) {
    SG_CHECK(C > 0 && HW > 0, "aug_normalize: C=%d HW=%d", C, HW);
    SG_CHECK(img && mean && std, "aug_normalize: NULL buffer");
    for (int c = 0; c < C; c++) SG_CHECK(std[c] != 0.0f, "aug_normalize: std[%d] is zero", c);
    be->aug_normalize(be, C, HW, img, mean, std);
}

void sg_aug_blur_taps(int ksize, float sigma, float *taps) {
    SG_CHECK(ksize >= 1 && ksize <= SG_AUG_BLUR_MAX_KSIZE && sigma > 0.0f,
             "aug blur taps: ksize %d, sigma %g", ksize, (double)sigma);
    const int pad = ksize / 2;
    double pdf[SG_AUG_BLUR_MAX_KSIZE], sum = 0;
    for (int k = 0; k < ksize; k++) {
        const double x = (double)(k - pad) / (double)sigma;
        pdf[k] = exp(-0.5 * x * x);
        sum += pdf[k];
    }
    for (int k = 0; k < ksize; k++) taps[k] = (float)(pdf[k] / sum);
}

void sg_aug_view_by_ops(const sg_backend *be, int Cin, int H, int W, const uint8_t *src, int C,
                        int S, const sg_aug_view *v, int ksize, const float *mean,
                        const float *std, float *dst, float *img, float *blurred,
                        float *blur_work) {
    const size_t plane = (size_t)H * W, out = (size_t)C * S * S;
    sg_aug_u8_to_float(be, (size_t)Cin * plane, src, img);
    if (Cin == 1 && C == 3) { /* a grey image made RGB */
        be->mem_copy(be, img + plane, img, plane * sizeof(float));
        be->mem_copy(be, img + 2 * plane, img, plane * sizeof(float));
    }
    sg_aug_resized_crop(be, C, H, W, img, v->y0, v->x0, v->h, v->w, S, S, dst);
    if (v->flip) sg_aug_hflip(be, C, S, S, dst, dst);
    if (v->jitter) {
        const int order[4] = {v->order[0], v->order[1], v->order[2], v->order[3]};
        sg_aug_color_jitter(be, S, S, dst, v->brightness, v->contrast, v->saturation, v->hue,
                            order);
    }
    if (v->gray) sg_aug_grayscale(be, S, S, dst);
    if (v->blur) {
        sg_aug_gaussian_blur(be, C, S, S, dst, blurred, ksize, v->sigma, blur_work);
        be->mem_copy(be, dst, blurred, out * sizeof(float));
    }
    if (v->solarize) sg_aug_solarize(be, out, dst, 0.5f);
    if (mean) sg_aug_normalize(be, C, S * S, dst, mean, std);
}

static size_t round256(size_t bytes) { return (bytes + 255) / 256 * 256; }

size_t sg_aug_views_work_bytes(int N, int Cin, int H, int W, int C, int S, int ksize) {
    (void)Cin; /* the float copy of an image has the output's channels */
    const size_t n = (size_t)(N > 0 ? N : 0), in = (size_t)C * H * W, out = (size_t)C * S * S;
    const size_t k = (size_t)(ksize > 0 ? ksize : 1);
    return round256(n * sizeof(sg_aug_view)) + round256(n * k * sizeof(float)) +
           round256(n * sizeof(double)) + round256(n * out * sizeof(float)) +
           round256(in * sizeof(float)) + 2 * round256(out * sizeof(float));
}

void sg_aug_views(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src, int C,
                  int S, const sg_aug_view *view, int ksize, const float *mean, const float *std,
                  float *dst, void *work) {
    check_image("aug_views", Cin, H, W);
    SG_CHECK(N > 0 && S > 0, "aug_views: N=%d S=%d", N, S);
    SG_CHECK(C == Cin || (Cin == 1 && C == 3), "aug_views: %d channels from %d (expected the "
             "same, or 3 from 1)", C, Cin);
    SG_CHECK(C <= 32, "aug_views: C=%d, at most 32 channels", C);
    SG_CHECK(src && view && dst && work, "aug_views: NULL buffer");
    SG_CHECK((mean == NULL) == (std == NULL), "aug_views: mean and std both or neither");
    /* odd even where no view blurs, so that every call is a shape the op table takes */
    SG_CHECK(ksize >= 1 && ksize % 2 == 1 && ksize <= SG_AUG_BLUR_MAX_KSIZE,
             "aug_views: kernel size %d must be odd, in [1, %d]", ksize, SG_AUG_BLUR_MAX_KSIZE);
    for (int c = 0; mean && c < C; c++)
        SG_CHECK(std[c] != 0.0f, "aug_views: std[%d] is zero", c);
    for (int n = 0; n < N; n++) {
        const sg_aug_view *v = &view[n];
        SG_CHECK(v->y0 >= 0.0f && v->x0 >= 0.0f && v->h > 0.0f && v->w > 0.0f &&
                     v->y0 + v->h <= (float)H + 1e-3f && v->x0 + v->w <= (float)W + 1e-3f,
                 "aug_views: view %d's box (y0=%g x0=%g h=%g w=%g) not inside the %dx%d image",
                 n, (double)v->y0, (double)v->x0, (double)v->h, (double)v->w, H, W);
        SG_CHECK(v->flip <= 1 && v->jitter <= 1 && v->gray <= 1 && v->blur <= 1 &&
                     v->solarize <= 1,
                 "aug_views: view %d's stage flags must be 0 or 1", n);
        SG_CHECK(C == 3 || (!v->jitter && !v->gray),
                 "aug_views: view %d jitters or greys a %d-channel image (needs 3)", n, C);
        if (v->jitter) {
            SG_CHECK(v->brightness >= 0.0f && v->contrast >= 0.0f && v->saturation >= 0.0f &&
                         v->hue >= -0.5f && v->hue <= 0.5f,
                     "aug_views: view %d's jitter factors (brightness %g contrast %g saturation "
                     "%g hue %g)", n, (double)v->brightness, (double)v->contrast,
                     (double)v->saturation, (double)v->hue);
            int seen = 0;
            for (int i = 0; i < 4; i++) {
                SG_CHECK(v->order[i] >= 0 && v->order[i] < 4 && !(seen & (1 << v->order[i])),
                         "aug_views: view %d's order is not a permutation of 0..3", n);
                seen |= 1 << v->order[i];
            }
        }
        if (v->blur)
            SG_CHECK(v->sigma > 0.0f, "aug_views: view %d blurs with sigma %g (expected > 0)", n,
                     (double)v->sigma);
    }
    be->aug_views(be, N, Cin, H, W, src, C, S, view, ksize, mean, std, dst, work);
}
