/* kernels/trace/trace.c: the tracing backend (see trace.h). Every kernel slot is a wrapper that
 * records (op, shape) and calls the wrapped backend's kernel with the wrapped backend itself
 * (device backends reach their stream and handles through it). */
#include "kernels/trace/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/arena.h"
#include "core/base/err.h"
#include "kernels/backend.h"
#include "kernels/ops.h"

struct sg_trace {
    sg_backend be;           /* the tracing backend handed out */
    const sg_backend *inner; /* the backend it forwards to */
    int on;
    sg_trace_entry *e;
    int n, cap;
    uintptr_t dry_next; /* dry trace: the next fake address offset */
    int prec;           /* dry trace: the precision set on it (recorded in the shapes) */
};

#define T(be) ((sg_trace *)(be)->state)
#define IN(be) (T(be)->inner)

/* Records a call of `op` described by its parameters, by the op table's names (kernels/ops.h):
 * the shape text is the table's, so the checker and the kernel suite read it back as written. */
static void rec_kv(const sg_backend *be, sg_op opi, const sg_op_kv *kv) {
    sg_trace *t = T(be);
    if (!t->on) return;
    int val[SG_OP_MAXP];
    sg_op_vals(opi, val, kv);
    char shape[160];
    sg_op_format_shape(opi, val, shape, sizeof shape);
    const char *op = sg_op_get(opi)->name;
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].op, op) && !strcmp(t->e[i].shape, shape)) {
            t->e[i].calls++;
            return;
        }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->e = realloc(t->e, (size_t)t->cap * sizeof *t->e);
        SG_CHECK(t->e != NULL, "out of memory tracing kernels");
    }
    sg_trace_entry *x = &t->e[t->n];
    memset(x, 0, sizeof *x);
    snprintf(x->op, sizeof x->op, "%s", op);
    snprintf(x->shape, sizeof x->shape, "%s", shape);
    x->calls = 1;
    x->first = t->n++;
}

#define rec(be, op, ...) rec_kv((be), SG_OP_##op, (const sg_op_kv[]){__VA_ARGS__, {NULL, 0}})
#define CONV_KV(s)                                                                            \
    {"N", (s)->N}, {"C", (s)->C}, {"H", (s)->H}, {"W", (s)->W}, {"K", (s)->K}, {"R", (s)->R},  \
        {"S", (s)->S}, {"stride", (s)->stride}, {"pad", (s)->pad}, {"algo", (s)->algo},        \
        {"gemm", conv_gemm_of(be, s)}, {"prec", prec_of(be)}
#define POOL_KV(s)                                                                            \
    {"N", (s)->N}, {"C", (s)->C}, {"H", (s)->H}, {"W", (s)->W}, {"k", (s)->k},                 \
        {"stride", (s)->stride}, {"pad", (s)->pad}

/* ---- dense ------------------------------------------------------------------------------ */

/* The sgemm a gemm, linear or conv call runs with: the CPU backend's gemm.impl when the call goes
 * to the CPU's kernels (or nowhere: a dry trace), else 0 (another backend has one sgemm). */
static int gemm_impl_of(const sg_backend *be) {
    const sg_backend *cpu = sg_backend_get("cpu");
    return !IN(be) || IN(be)->gemm == cpu->gemm ? (int)sg_cpu_get_gemm_impl() : 0;
}
/* The precision of the products: the wrapped backend's, or what was set on a dry trace. */
static int prec_of(const sg_backend *be) {
    return IN(be) ? (int)sg_backend_precision(IN(be)) : T(be)->prec;
}
static int t_precision(const sg_backend *be, int p) {
    if (IN(be)) return p < 0 ? (int)sg_backend_precision(IN(be))
                             : sg_backend_set_precision(IN(be), (sg_precision)p);
    const int prev = T(be)->prec;
    if (p >= 0) T(be)->prec = p;
    return prev;
}
/* oneDNN's and cuDNN's convolutions call no sgemm of ours: 0 */
static int conv_gemm_of(const sg_backend *be, const sg_conv_shape *s) {
    return s->algo == SG_CONV_DNNL || s->algo == SG_CONV_CUDNN ? 0 : gemm_impl_of(be);
}

static void t_gemm(const sg_backend *be, int tA, int tB, int M, int N, int K, float alpha,
                   const float *A, int lda, const float *B, int ldb, float beta, float *C,
                   int ldc) {
    static const sg_op ops[4] = {SG_OP_gemm_nn, SG_OP_gemm_nt, SG_OP_gemm_tn, SG_OP_gemm_tt};
    /* the checker pads every stride equally; a traced call's own strides are usually tight */
    rec_kv(be, ops[2 * !!tA + !!tB],
           (const sg_op_kv[]){
               {"M", M}, {"N", N}, {"K", K}, {"ldpad", 0}, {"gemm", gemm_impl_of(be)},
               {"prec", prec_of(be)}, {NULL, 0}});
    if (IN(be)) IN(be)->gemm(IN(be), tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void t_linear_fwd(const sg_backend *be, int N, int In, int Out, const float *x,
                         const float *W, const float *b, float *y) {
    rec(be, linear_fwd, {"N", N}, {"In", In}, {"Out", Out}, {"bias", b != NULL},
        {"gemm", gemm_impl_of(be)}, {"prec", prec_of(be)});
    if (IN(be)) IN(be)->linear_fwd(IN(be), N, In, Out, x, W, b, y);
}
static void t_linear_bwd(const sg_backend *be, int N, int In, int Out, const float *x,
                         const float *W, const float *dy, float *dx, float *dW, float *db,
                         int acc) {
    rec(be, linear_bwd, {"N", N}, {"In", In}, {"Out", Out}, {"dx", dx != NULL}, {"bias", db != NULL}, {"acc", !!acc},
        {"gemm", gemm_impl_of(be)}, {"prec", prec_of(be)});
    if (IN(be)) IN(be)->linear_bwd(IN(be), N, In, Out, x, W, dy, dx, dW, db, acc);
}
/* Workspace sizes are pure functions of the shape: a dry trace asks the CPU backend. */
static const sg_backend *ws_backend(const sg_backend *be) {
    return IN(be) ? IN(be) : sg_backend_get("cpu");
}
static size_t t_conv_ws(const sg_backend *be, const sg_conv_shape *s) {
    return ws_backend(be)->conv2d_workspace_bytes(ws_backend(be), s);
}
static void t_conv_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x,
                       const float *w, float *y, void *ws) {
    rec(be, conv2d_fwd, CONV_KV(s));
    if (IN(be)) IN(be)->conv2d_fwd(IN(be), s, x, w, y, ws);
}
static void t_conv_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                            const float *w, float *dx, void *ws) {
    rec(be, conv2d_bwd_data, CONV_KV(s));
    if (IN(be)) IN(be)->conv2d_bwd_data(IN(be), s, dy, w, dx, ws);
}
static void t_conv_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                              const float *dy, float *dw, int acc, void *ws) {
    rec(be, conv2d_bwd_filter, CONV_KV(s), {"acc", !!acc});
    if (IN(be)) IN(be)->conv2d_bwd_filter(IN(be), s, x, dy, dw, acc, ws);
}

/* ---- batch norm, elementwise, pooling, loss --------------------------------------------- */

static void t_bn_train(const sg_backend *be, int N, int C, int HW, const float *x,
                       const float *gamma, const float *beta, float eps, float momentum,
                       float *rm, float *rv, float *mean, float *invstd, float *y) {
    rec(be, batchnorm_fwd_train, {"N", N}, {"C", C}, {"HW", HW}, {"affine", gamma != NULL}, {"running", rm != NULL});
    if (IN(be)) IN(be)->batchnorm_fwd_train(IN(be), N, C, HW, x, gamma, beta, eps, momentum, rm, rv, mean,
                                invstd, y);
}
static void t_bn_eval(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *gamma, const float *beta, float eps, const float *rm,
                      const float *rv, float *y) {
    rec(be, batchnorm_fwd_eval, {"N", N}, {"C", C}, {"HW", HW}, {"affine", gamma != NULL});
    if (IN(be)) IN(be)->batchnorm_fwd_eval(IN(be), N, C, HW, x, gamma, beta, eps, rm, rv, y);
}
static void t_bn_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                     const float *gamma, const float *mean, const float *invstd, const float *dy,
                     float *dx, float *dgamma, float *dbeta, int acc) {
    rec(be, batchnorm_bwd, {"N", N}, {"C", C}, {"HW", HW}, {"affine", gamma != NULL}, {"acc", !!acc});
    if (IN(be)) IN(be)->batchnorm_bwd(IN(be), N, C, HW, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, acc);
}
static void t_bn_sums(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *center, const float *dy, double *sums) {
    rec(be, batchnorm_sums, {"N", N}, {"C", C}, {"HW", HW}, {"center", center != NULL},
        {"dy", dy != NULL});
    if (IN(be)) IN(be)->batchnorm_sums(IN(be), N, C, HW, x, center, dy, sums);
}
static void t_bn_bwd_apply(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *gamma, const float *mean, const float *invstd,
                           const float *dy, const double *sums, double M, float *dx) {
    /* M over this batch's N*HW values: the number of ranks whose batches the sums cover */
    const double b = (double)N * HW, ranks = b > 0 ? M / b + 0.5 : 1.0;
    rec(be, batchnorm_bwd_apply, {"N", N}, {"C", C}, {"HW", HW}, {"affine", gamma != NULL},
        {"ranks", !(ranks >= 1.0) ? 1 : ranks > 1e9 ? 1000000000LL : (long long)ranks});
    if (IN(be))
        IN(be)->batchnorm_bwd_apply(IN(be), N, C, HW, x, gamma, mean, invstd, dy, sums, M, dx);
}
static void t_bn_relu_train(const sg_backend *be, int N, int C, int HW, const float *x,
                            const float *gamma, const float *beta, float eps, float momentum,
                            float *rm, float *rv, float *mean, float *invstd, float *y) {
    rec(be, batchnorm_relu_fwd, {"N", N}, {"C", C}, {"HW", HW}, {"affine", gamma != NULL},
        {"running", rm != NULL});
    if (IN(be))
        IN(be)->batchnorm_relu_fwd(IN(be), N, C, HW, x, gamma, beta, eps, momentum, rm, rv, mean,
                                   invstd, y);
}
static void t_bn_relu_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                          const float *y, const float *gamma, const float *mean,
                          const float *invstd, const float *dy, float *dx, float *dgamma,
                          float *dbeta, int acc) {
    rec(be, batchnorm_relu_bwd, {"N", N}, {"C", C}, {"HW", HW}, {"affine", gamma != NULL},
        {"acc", !!acc});
    if (IN(be))
        IN(be)->batchnorm_relu_bwd(IN(be), N, C, HW, x, y, gamma, mean, invstd, dy, dx, dgamma,
                                   dbeta, acc);
}
static void t_relu_fwd(const sg_backend *be, size_t n, const float *x, float *y) {
    rec(be, relu_fwd, {"n", n}, {"inplace", x == y});
    if (IN(be)) IN(be)->relu_fwd(IN(be), n, x, y);
}
static void t_relu_bwd(const sg_backend *be, size_t n, const float *y, const float *dy,
                       float *dx) {
    rec(be, relu_bwd, {"n", n}, {"inplace", dy == dx});
    if (IN(be)) IN(be)->relu_bwd(IN(be), n, y, dy, dx);
}
static void t_add_fwd(const sg_backend *be, size_t n, const float *a, const float *b, float *y) {
    rec(be, add_fwd, {"n", n}, {"inplace", y == a ? 1 : y == b ? 2 : 0});
    if (IN(be)) IN(be)->add_fwd(IN(be), n, a, b, y);
}
static void t_add_bwd(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                      int acc) {
    rec(be, add_bwd, {"n", n}, {"db", db != NULL}, {"acc", !!acc});
    if (IN(be)) IN(be)->add_bwd(IN(be), n, dy, da, db, acc);
}
static void t_maxpool_fwd(const sg_backend *be, const sg_pool_shape *s, const float *x, float *y,
                          int32_t *am) {
    rec(be, maxpool_fwd, POOL_KV(s));
    if (IN(be)) IN(be)->maxpool_fwd(IN(be), s, x, y, am);
}
static void t_maxpool_bwd(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                          const int32_t *am, float *dx) {
    rec(be, maxpool_bwd, POOL_KV(s));
    if (IN(be)) IN(be)->maxpool_bwd(IN(be), s, dy, am, dx);
}
static void t_avg_fwd(const sg_backend *be, int N, int C, int HW, const float *x, float *y) {
    rec(be, avgpool_global_fwd, {"N", N}, {"C", C}, {"HW", HW});
    if (IN(be)) IN(be)->avgpool_global_fwd(IN(be), N, C, HW, x, y);
}
static void t_avg_bwd(const sg_backend *be, int N, int C, int HW, const float *dy, float *dx) {
    rec(be, avgpool_global_bwd, {"N", N}, {"C", C}, {"HW", HW});
    if (IN(be)) IN(be)->avgpool_global_bwd(IN(be), N, C, HW, dy, dx);
}
static void t_loss_fwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                       const float *z, float *l) {
    rec(be, pair_loss_fwd, {"N", N}, {"D", D}, {"normalize", !!normalize});
    if (IN(be)) IN(be)->pair_loss_fwd(IN(be), N, D, normalize, p, z, l);
}
static void t_loss_bwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                       const float *z, float scale, float *dp, float *dz) {
    rec(be, pair_loss_bwd, {"N", N}, {"D", D}, {"normalize", !!normalize}, {"dz", dz != NULL});
    if (IN(be)) IN(be)->pair_loss_bwd(IN(be), N, D, normalize, p, z, scale, dp, dz);
}

/* ---- optimiser, EMA, DirectPred ---------------------------------------------------------- */

static void t_sgd(const sg_backend *be, int ng, const sg_sgd_group *g, float momentum) {
    size_t n = 0;
    int at = 0;
    for (int i = 0; i < ng; i++) n += g[i].n, at |= g[i].lr_at != NULL;
    rec(be, sgd_step, {"n", n}, {"groups", ng}, {"at", at});
    if (IN(be)) IN(be)->sgd_step(IN(be), ng, g, momentum);
}
static void t_lars(const sg_backend *be, int ng, const sg_lars_group *g, float lr, float mom,
                   float eta) {
    size_t n = 0;
    int at = 0;
    for (int i = 0; i < ng; i++) n += g[i].n, at |= g[i].lr_at != NULL;
    if (ng > 0) rec(be, lars_step, {"n", n}, {"groups", ng}, {"at", at});
    if (IN(be)) IN(be)->lars_step(IN(be), ng, g, lr, mom, eta);
}
static void t_ema(const sg_backend *be, size_t n, float m, const float *m_at, const float *on,
                  float *tg) {
    rec(be, ema_update, {"n", n}, {"at", m_at != NULL});
    if (IN(be)) IN(be)->ema_update(IN(be), n, m, m_at, on, tg);
}
static void t_corr(const sg_backend *be, int N, int D, const float *f, float rho, int init,
                   int center, float *F, float *work) {
    rec(be, corr_update, {"N", N}, {"D", D}, {"init", !!init}, {"center", !!center});
    if (IN(be)) IN(be)->corr_update(IN(be), N, D, f, rho, init, center, F, work);
}
static size_t t_syevd_ws(const sg_backend *be, int D) {
    return ws_backend(be)->syevd_workspace_bytes(ws_backend(be), D);
}
static int t_syevd(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at) {
    rec(be, syevd, {"D", D}, {"at", info_at != NULL});
    return IN(be) ? IN(be)->syevd(IN(be), D, A, w, work, info_at) : 0;
}
static void t_eig_rebuild(const sg_backend *be, int D, const float *V, const float *p, float *W,
                          float *work) {
    rec(be, eig_rebuild, {"D", D});
    if (IN(be)) IN(be)->eig_rebuild(IN(be), D, V, p, W, work);
}
static void t_eig_map(const sg_backend *be, int D, const float *s, float *p, int mode,
                      double eps, double shift_c) {
    rec(be, eig_map, {"D", D}, {"mode", mode});
    if (IN(be)) IN(be)->eig_map(IN(be), D, s, p, mode, eps, shift_c);
}
static void t_pred_sym(const sg_backend *be, int R, int C, float *A, float *B) {
    rec(be, pred_symmetrize, {"R", R}, {"C", C}, {"tied", B != NULL});
    if (IN(be)) IN(be)->pred_symmetrize(IN(be), R, C, A, B);
}
static void t_dcopy(const sg_backend *be, int D, const float *F, const float *s, int normalize,
                    double eps, float *W) {
    rec(be, directcopy_fill, {"D", D}, {"normalize", !!normalize});
    if (IN(be)) IN(be)->directcopy_fill(IN(be), D, F, s, normalize, eps, W);
}
static void t_pair_scale(const sg_backend *be, int D, float *X, const float *s, double reg) {
    rec(be, eig_pair_scale, {"D", D});
    if (IN(be)) IN(be)->eig_pair_scale(IN(be), D, X, s, reg);
}
static void t_rank1(const sg_backend *be, int D, const float *mu, float *V) {
    rec(be, rank1_sub, {"D", D});
    if (IN(be)) IN(be)->rank1_sub(IN(be), D, mu, V);
}

/* ---- augmentation ----------------------------------------------------------------------- */

static void t_u8(const sg_backend *be, size_t n, const uint8_t *src, float *dst) {
    rec(be, aug_u8_to_float, {"n", n});
    if (IN(be)) IN(be)->aug_u8_to_float(IN(be), n, src, dst);
}
static void t_crop(const sg_backend *be, int C, int H, int W, const float *src, float y0,
                   float x0, float h, float w, int oH, int oW, float *dst) {
    rec(be, aug_resized_crop, {"C", C}, {"H", H}, {"W", W}, {"outH", oH}, {"outW", oW});
    if (IN(be)) IN(be)->aug_resized_crop(IN(be), C, H, W, src, y0, x0, h, w, oH, oW, dst);
}
static void t_hflip(const sg_backend *be, int C, int H, int W, const float *src, float *dst) {
    rec(be, aug_hflip, {"C", C}, {"H", H}, {"W", W}, {"inplace", src == dst});
    if (IN(be)) IN(be)->aug_hflip(IN(be), C, H, W, src, dst);
}
static void t_jitter(const sg_backend *be, int H, int W, float *img, float b, float c, float s,
                     float hue, const int order[4]) {
    rec(be, aug_color_jitter, {"H", H}, {"W", W});
    if (IN(be)) IN(be)->aug_color_jitter(IN(be), H, W, img, b, c, s, hue, order);
}
static void t_gray(const sg_backend *be, int H, int W, float *img) {
    rec(be, aug_grayscale, {"H", H}, {"W", W});
    if (IN(be)) IN(be)->aug_grayscale(IN(be), H, W, img);
}
static void t_blur(const sg_backend *be, int C, int H, int W, const float *src, float *dst,
                   int ksize, float sigma, float *work) {
    rec(be, aug_gaussian_blur, {"C", C}, {"H", H}, {"W", W}, {"ksize", ksize});
    if (IN(be)) IN(be)->aug_gaussian_blur(IN(be), C, H, W, src, dst, ksize, sigma, work);
}
static void t_solarize(const sg_backend *be, size_t n, float *img, float th) {
    rec(be, aug_solarize, {"n", n});
    if (IN(be)) IN(be)->aug_solarize(IN(be), n, img, th);
}
static void t_normalize(const sg_backend *be, int C, int HW, float *img, const float *mean,
                        const float *std) {
    rec(be, aug_normalize, {"C", C}, {"HW", HW});
    if (IN(be)) IN(be)->aug_normalize(IN(be), C, HW, img, mean, std);
}
static void t_views(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src, int C,
                    int S, const sg_aug_view *view, int ksize, const float *mean,
                    const float *std, float *dst, void *work) {
    rec(be, aug_views, {"N", N}, {"Cin", Cin}, {"H", H}, {"W", W}, {"C", C}, {"S", S},
        {"ksize", ksize}, {"norm", mean != NULL});
    if (IN(be))
        IN(be)->aug_views(IN(be), N, Cin, H, W, src, C, S, view, ksize, mean, std, dst, work);
}

/* ---- memory and timer: forwarded, not recorded ------------------------------------------
 * A dry trace has no memory: mem_alloc hands out distinct, never-dereferenced addresses (the
 * model only does pointer arithmetic inside each block), downloads write zeros (a finite loss,
 * zero eigenvalues: the step's host logic takes its normal path), everything else is a no-op.
 * Tracing ResNet-50 at ImageNet size then costs neither time nor memory. */

#define DRY_BASE ((uintptr_t)1 << 44)

static void *t_alloc(const sg_backend *be, size_t n) {
    if (IN(be)) return IN(be)->mem_alloc(IN(be), n);
    sg_trace *t = T(be);
    uintptr_t at = DRY_BASE + t->dry_next;
    t->dry_next += (n + 4095) / 4096 * 4096 + 4096;
    return (void *)at;
}
static void t_free(const sg_backend *be, void *p) {
    if (IN(be)) IN(be)->mem_free(IN(be), p);
}
static void *t_halloc(const sg_backend *be, size_t n) {
    return IN(be) ? IN(be)->host_alloc(IN(be), n) : sg_aligned_alloc(n);
}
static void t_hfree(const sg_backend *be, void *p) {
    if (IN(be)) IN(be)->host_free(IN(be), p);
    else sg_aligned_free(p);
}
static void t_up(const sg_backend *be, void *d, const void *s, size_t n) {
    if (IN(be)) IN(be)->mem_upload(IN(be), d, s, n);
}
static void t_down(const sg_backend *be, void *d, const void *s, size_t n) {
    if (IN(be)) IN(be)->mem_download(IN(be), d, s, n);
    else memset(d, 0, n);
}
static void t_copy(const sg_backend *be, void *d, const void *s, size_t n) {
    if (IN(be)) IN(be)->mem_copy(IN(be), d, s, n);
}
static void t_zero(const sg_backend *be, void *d, size_t n) {
    if (IN(be)) IN(be)->mem_zero(IN(be), d, n);
}
static void t_sync(const sg_backend *be) {
    if (IN(be)) IN(be)->sync(IN(be));
}
static void t_tstart(const sg_backend *be) {
    if (IN(be)) IN(be)->timer_start(IN(be));
}
static double t_tstop(const sg_backend *be) { return IN(be) ? IN(be)->timer_stop(IN(be)) : 0.0; }

sg_trace *sg_trace_new(const sg_backend *inner, const sg_backend **out) {
    sg_trace *t = calloc(1, sizeof *t);
    SG_CHECK(t != NULL, "out of memory");
    t->inner = inner;
    t->on = 1;
    sg_backend *b = &t->be;
    b->name = "trace";
    b->state = t;
    b->host_memory = inner ? inner->host_memory : 0;
    b->precision = t_precision;
    b->gemm = t_gemm;
    b->linear_fwd = t_linear_fwd;
    b->linear_bwd = t_linear_bwd;
    b->conv2d_workspace_bytes = t_conv_ws;
    b->conv2d_fwd = t_conv_fwd;
    b->conv2d_bwd_data = t_conv_bwd_data;
    b->conv2d_bwd_filter = t_conv_bwd_filter;
    b->batchnorm_fwd_train = t_bn_train;
    b->batchnorm_fwd_eval = t_bn_eval;
    b->batchnorm_bwd = t_bn_bwd;
    b->batchnorm_sums = t_bn_sums;
    b->batchnorm_bwd_apply = t_bn_bwd_apply;
    b->batchnorm_relu_fwd = t_bn_relu_train;
    b->batchnorm_relu_bwd = t_bn_relu_bwd;
    b->relu_fwd = t_relu_fwd;
    b->relu_bwd = t_relu_bwd;
    b->add_fwd = t_add_fwd;
    b->add_bwd = t_add_bwd;
    b->maxpool_fwd = t_maxpool_fwd;
    b->maxpool_bwd = t_maxpool_bwd;
    b->avgpool_global_fwd = t_avg_fwd;
    b->avgpool_global_bwd = t_avg_bwd;
    b->pair_loss_fwd = t_loss_fwd;
    b->pair_loss_bwd = t_loss_bwd;
    b->sgd_step = t_sgd;
    b->lars_step = t_lars;
    b->ema_update = t_ema;
    b->corr_update = t_corr;
    b->syevd_workspace_bytes = t_syevd_ws;
    b->syevd = t_syevd;
    b->eig_rebuild = t_eig_rebuild;
    b->eig_map = t_eig_map;
    b->pred_symmetrize = t_pred_sym;
    b->directcopy_fill = t_dcopy;
    b->eig_pair_scale = t_pair_scale;
    b->rank1_sub = t_rank1;
    b->aug_u8_to_float = t_u8;
    b->aug_resized_crop = t_crop;
    b->aug_hflip = t_hflip;
    b->aug_color_jitter = t_jitter;
    b->aug_grayscale = t_gray;
    b->aug_gaussian_blur = t_blur;
    b->aug_solarize = t_solarize;
    b->aug_normalize = t_normalize;
    b->aug_views = t_views;
    b->mem_alloc = t_alloc;
    b->mem_free = t_free;
    b->host_alloc = t_halloc;
    b->host_free = t_hfree;
    b->mem_upload = t_up;
    b->mem_download = t_down;
    b->mem_copy = t_copy;
    b->mem_zero = t_zero;
    b->sync = t_sync;
    b->timer_start = t_tstart;
    b->timer_stop = t_tstop;
    /* a new kernel slot without a wrapper here is caught the first time a trace is made */
    const char *empty = sg_backend_empty_slot(b);
    SG_CHECK(empty == NULL, "trace backend: no wrapper for the slot %s", empty ? empty : "");
    *out = b;
    return t;
}

void sg_trace_free(sg_trace *t) {
    if (!t) return;
    free(t->e);
    free(t);
}

void sg_trace_enable(sg_trace *t, int on) { t->on = on; }
void sg_trace_reset(sg_trace *t) { t->n = 0; }
int sg_trace_count(const sg_trace *t) { return t->n; }
const sg_trace_entry *sg_trace_get(const sg_trace *t, int i) {
    SG_CHECK(i >= 0 && i < t->n, "trace entry %d of %d", i, t->n);
    return &t->e[i];
}
