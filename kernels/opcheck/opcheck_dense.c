/* kernels/opcheck/opcheck_dense.c: the checks of gemm in its four transpose variants, linear layers and the three conv2d passes (see opcheck_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/opcheck/opcheck_internal.h"
#include "kernels/ref/ref.h"
#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

/* ---- dense ----------------------------------------------------------------------------------- */

/* A gemm, linear or conv op's gemm=N and prec=N: the CPU backend's sgemm and the backend's
 * precision for the call, restored after it (the kept calls the kernel suite times later run
 * with their own). A backend runs only the values its supports() accepted. */
typedef struct {
    sg_gemm_impl impl;
    int prec;
} numerics;
static numerics numerics_enter(const sg_backend *be, int impl, int prec) {
    numerics prev = {sg_cpu_get_gemm_impl(), (int)sg_backend_precision(be)};
    SG_CHECK(sg_cpu_set_gemm_impl((sg_gemm_impl)impl) == 0,
             "gemm=%d: not in this build (supports() should have refused it)", impl);
    SG_CHECK(sg_backend_set_precision(be, (sg_precision)prec) >= 0,
             "prec=%d: backend %s does not run it (supports() should have refused it)", prec,
             be->name);
    return prev;
}
static void numerics_leave(const sg_backend *be, numerics prev) {
    (void)sg_cpu_set_gemm_impl(prev.impl);
    (void)sg_backend_set_precision(be, (sg_precision)prev.prec);
}
/* The extra error of `terms` products of values up to `size` whose inputs were rounded to prec:
 * each input carries a relative error of at most u (sg_precision_input_unit), so each product
 * one of 2u + u^2; the fp32 accumulation's bound is added by the caller. */
static double prec_atol(int prec, double terms, double size) {
    const double u = sg_precision_input_unit((sg_precision)prec);
    return (2 * u + u * u) * terms * size;
}

typedef struct {
    int tA, tB, M, N, K, lda, ldb, ldc, impl, prec;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_args;

static void gemm_call(const sg_backend *be, void *p) {
    gemm_args *a = p;
    numerics prev = numerics_enter(be, a->impl, a->prec);
    sg_gemm(be, a->tA, a->tB, a->M, a->N, a->K, a->alpha, OC_DEV(a->A), a->lda, OC_DEV(a->B),
             a->ldb, a->beta, OC_DEV(a->C), a->ldc);
    numerics_leave(be, prev);
}

/* C[M,N] (row stride N+ldpad) = alpha op(A) op(B) + beta C with stored strides padded by ldpad;
 * C's padding columns must come back untouched. */
static int op_gemm(oc_run *r, int tA, int tB) {
    int M = oc_p(r, "M"), N = oc_p(r, "N"), K = oc_p(r, "K"), ldpad = oc_p(r, "ldpad");
    gemm_args a = {.tA = tA, .tB = tB, .M = M, .N = N, .K = K, .impl = oc_p(r, "gemm"),
                   .prec = oc_p(r, "prec")};
    int rowsA = a.tA ? K : M, colsA = a.tA ? M : K;
    int rowsB = a.tB ? N : K, colsB = a.tB ? K : N;
    a.lda = colsA + ldpad;
    a.ldb = colsB + ldpad;
    a.ldc = N + ldpad;
    a.alpha = 1.25f; /* neither 0 nor 1, exactly representable: a kernel ignoring them fails */
    a.beta = 0.5f;
    size_t nA = oc_n(r, rowsA, a.lda, 1, 1), nB = oc_n(r, rowsB, a.ldb, 1, 1),
           nC = oc_n(r, M, a.ldc, 1, 1);
    float *A = OC_F(r, nA), *B = OC_F(r, nB), *C = OC_F(r, nC);
    double *Ad = OC_D(r, nA), *Bd = OC_D(r, nB), *Cd = OC_D(r, nC);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, A, nA, -1, 1);
    oc_uniform(r, B, nB, -1, 1);
    oc_uniform(r, C, nC, -1, 1);
    oc_to_double(A, Ad, nA);
    oc_to_double(B, Bd, nB);
    oc_to_double(C, Cd, nC);
    a.A = A;
    a.B = B;
    a.C = C;
    oc_exec(r, gemm_call, &a);
    ref_gemm(a.tA, a.tB, M, N, K, a.alpha, Ad, a.lda, Bd, a.ldb, a.beta, Cd, a.ldc);
    /* K products of size <= |alpha| plus beta*C; the bound holds for any summation order, so
     * for OpenBLAS's and oneDNN's blockings alike */
    oc_tol(r, 2 * EPS32 * 1.25 * (K + 1) + prec_atol(a.prec, K, 1.25), 1e-6);
    oc_cmp(r, C, Cd, nC);
    return oc_finish(r, gemm_call, NULL, &a);
}

typedef struct {
    int N, In, Out, acc, impl, prec;
    const float *x, *W, *b, *dy;
    float *y, *dx, *dW, *db;
} linear_args;

static void linear_fwd_call(const sg_backend *be, void *p) {
    linear_args *a = p;
    numerics prev = numerics_enter(be, a->impl, a->prec);
    sg_linear_fwd(be, a->N, a->In, a->Out, OC_DEV(a->x), OC_DEV(a->W), OC_DEV(a->b), OC_DEV(a->y));
    numerics_leave(be, prev);
}

int oc_linear_fwd(oc_run *r) {
    int N = oc_p(r, "N"), In = oc_p(r, "In"), Out = oc_p(r, "Out"), bias = oc_p(r, "bias");
    size_t nx = oc_n(r, N, In, 1, 1), nW = oc_n(r, Out, In, 1, 1), ny = oc_n(r, N, Out, 1, 1);
    float *x = OC_F(r, nx), *W = OC_F(r, nW), *b = OC_F(r, (size_t)Out), *y = OC_F(r, ny);
    double *xd = OC_D(r, nx), *Wd = OC_D(r, nW), *bd = OC_D(r, (size_t)Out), *yd = OC_D(r, ny);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -1, 1);
    oc_uniform(r, W, nW, -1, 1);
    oc_uniform(r, b, (size_t)Out, -1, 1);
    oc_uniform(r, y, ny, -100, 100); /* garbage: y must be overwritten */
    oc_to_double(x, xd, nx);
    oc_to_double(W, Wd, nW);
    oc_to_double(b, bd, (size_t)Out);
    linear_args a = {.N = N, .In = In, .Out = Out, .impl = oc_p(r, "gemm"),
                     .prec = oc_p(r, "prec"), .x = x, .W = W, .b = bias ? b : NULL, .y = y};
    oc_exec(r, linear_fwd_call, &a);
    ref_linear_fwd(N, In, Out, xd, Wd, bias ? bd : NULL, yd);
    /* In products <= 1, plus the bias */
    oc_tol(r, 2 * EPS32 * (In + 1) + prec_atol(a.prec, In, 1), 1e-6);
    oc_cmp(r, y, yd, ny);
    return oc_finish(r, linear_fwd_call, NULL, &a);
}

static void linear_bwd_call(const sg_backend *be, void *p) {
    linear_args *a = p;
    numerics prev = numerics_enter(be, a->impl, a->prec);
    sg_linear_bwd(be, a->N, a->In, a->Out, OC_DEV(a->x), OC_DEV(a->W), OC_DEV(a->dy),
                   OC_DEV(a->dx), OC_DEV(a->dW), OC_DEV(a->db), a->acc);
    numerics_leave(be, prev);
}

int oc_linear_bwd(oc_run *r) {
    int N = oc_p(r, "N"), In = oc_p(r, "In"), Out = oc_p(r, "Out");
    int want_dx = oc_p(r, "dx"), bias = oc_p(r, "bias"), acc = oc_p(r, "acc");
    size_t nx = oc_n(r, N, In, 1, 1), nW = oc_n(r, Out, In, 1, 1), ny = oc_n(r, N, Out, 1, 1);
    float *x = OC_F(r, nx), *W = OC_F(r, nW), *dy = OC_F(r, ny), *dx = OC_F(r, nx),
          *dW = OC_F(r, nW), *db = OC_F(r, (size_t)Out);
    double *xd = OC_D(r, nx), *Wd = OC_D(r, nW), *dyd = OC_D(r, ny), *dxd = OC_D(r, nx),
           *dWd = OC_D(r, nW), *dbd = OC_D(r, (size_t)Out);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -1, 1);
    oc_uniform(r, W, nW, -1, 1);
    oc_uniform(r, dy, ny, -1, 1);
    oc_uniform(r, dx, nx, -100, 100); /* garbage: dx is overwritten */
    oc_uniform(r, dW, nW, -1, 1);     /* accumulated into when acc = 1 */
    oc_uniform(r, db, (size_t)Out, -1, 1);
    oc_to_double(x, xd, nx);
    oc_to_double(W, Wd, nW);
    oc_to_double(dy, dyd, ny);
    oc_to_double(dW, dWd, nW);
    oc_to_double(db, dbd, (size_t)Out);
    linear_args a = {.N = N,
                     .In = In,
                     .Out = Out,
                     .acc = acc,
                     .impl = oc_p(r, "gemm"),
                     .prec = oc_p(r, "prec"),
                     .x = x,
                     .W = W,
                     .dy = dy,
                     .dx = want_dx ? dx : NULL,
                     .dW = dW,
                     .db = bias ? db : NULL};
    oc_exec(r, linear_bwd_call, &a);
    ref_linear_bwd(N, In, Out, xd, Wd, dyd, want_dx ? dxd : NULL, dWd, bias ? dbd : NULL, acc);
    /* dx sums Out products, dW and db sum N, plus the accumulated value */
    oc_tol(r, 2 * EPS32 * ((N > Out ? N : Out) + 1) + prec_atol(a.prec, N > Out ? N : Out, 1),
           1e-6);
    if (want_dx) oc_cmp(r, dx, dxd, nx);
    oc_cmp(r, dW, dWd, nW);
    if (bias) oc_cmp(r, db, dbd, (size_t)Out);
    return oc_finish(r, linear_bwd_call, NULL, &a);
}

/* ---- convolution ----------------------------------------------------------------------------- */

typedef struct {
    sg_conv_shape s;
    int acc, impl, prec; /* impl: the sgemm of im2col and Winograd (gemm=N); prec=N */
    const float *x, *w, *dy;
    float *y, *dx, *dw;
    void *ws;
} conv_args;

static void conv_fwd_call(const sg_backend *be, void *p) {
    conv_args *a = p;
    numerics prev = numerics_enter(be, a->impl, a->prec);
    sg_conv2d_fwd(be, &a->s, OC_DEV(a->x), OC_DEV(a->w), OC_DEV(a->y), OC_DEV(a->ws));
    numerics_leave(be, prev);
}
static void conv_bwd_data_call(const sg_backend *be, void *p) {
    conv_args *a = p;
    numerics prev = numerics_enter(be, a->impl, a->prec);
    sg_conv2d_bwd_data(be, &a->s, OC_DEV(a->dy), OC_DEV(a->w), OC_DEV(a->dx), OC_DEV(a->ws));
    numerics_leave(be, prev);
}
static void conv_bwd_filter_call(const sg_backend *be, void *p) {
    conv_args *a = p;
    numerics prev = numerics_enter(be, a->impl, a->prec);
    sg_conv2d_bwd_filter(be, &a->s, OC_DEV(a->x), OC_DEV(a->dy), OC_DEV(a->dw), a->acc,
                          OC_DEV(a->ws));
    numerics_leave(be, prev);
}

/* Reads the conv geometry, rejecting one whose output would be empty. */
static int oc_conv_shape(oc_run *r, sg_conv_shape *s) {
    int H = oc_p(r, "H"), W = oc_p(r, "W"), R = oc_p(r, "R"), S = oc_p(r, "S");
    int pad = oc_p(r, "pad");
    if ((double)H + 2.0 * pad < R || (double)W + 2.0 * pad < S)
        return oc_bad_shape(r, "the filter (R x S) is larger than the padded input");
    *s = sg_conv_shape_make(oc_p(r, "N"), oc_p(r, "C"), H, W, oc_p(r, "K"), R, S, oc_p(r, "stride"),
                            pad);
    s->algo = oc_p(r, "algo");
    return 0;
}

/* The error bound of conv.algo=cudnn's pass `which` at s: that of the algorithm cuDNN chose
 * there (sg_cuda_cudnn_choice), u = eps/2, inputs in [-1, 1], `direct` the direct sum's bound
 * (every bound below adds it: the last sum over channels is a direct one), L as for Winograd:
 *   direct sums (implicit / explicit GEMM, ALGO_0/1/3): the direct bound;
 *   Winograd: u (n_t + 2 sqrt(L)) G terms as for the CPU's Winograd, with G = 512, the largest
 *     transform growth over the direct sum of any tile of at most 8 points per side for 3x3 and
 *     5x5 filters (F(6x6,3x3) 509, F(4x4,5x5) 301; tests/kernels/test_conv_winograd.c computes
 *     it the same way), and n_t = 2 (max(R,S) + 16) + 2 roundings along one term's path (three
 *     2-D transforms, each two 1-D passes of at most max(R,S) or 8 terms, and the product);
 *   FFT: per channel pair an n-point correlation of an image of A values with a kernel of B
 *     values; an n-point FFT has normwise relative error <= log2(n) 7u (Higham, Accuracy and
 *     Stability, Thm 24.2: eta = mu + gamma_4 (sqrt 2 + mu) with twiddles accurate to u), so
 *     with |a|_2 <= sqrt A, |a|_1 <= A, |b|_1 <= B, |b|_2 <= sqrt B the output plane's error has
 *     norm <= u ((14 log2 n + 1) sqrt(A) B + 7 log2 n A sqrt(B)) (both forward transforms, the
 *     product, the inverse); it bounds every element, and the ch channels' errors, independent
 *     roundings, add up probabilistically (the sqrt(L) of the Winograd bound) as 2 sqrt(ch)
 *     times that. n is bounded by the padded planes' sizes rounded up to powers of two.
 *     fwd: A = H W, B = R S, ch = C; data: A = P Q, B = R S, ch = K; filter: A = H W, B = P Q,
 *     ch = N. */
static double cudnn_atol(oc_run *r, const sg_conv_shape *s, int which, double terms, double L,
                         double direct) {
#ifdef SG_HAVE_CUDA
    sg_cudnn_choice c;
    sg_err e;
    SG_CHECK(sg_cuda_cudnn_choice(s, &c, &e) == 0, "%s: %s", r->op->name, e.msg);
    const double u = EPS32 / 2;
    const sg_cudnn_sum sum = sg_cuda_cudnn_algo_sum(which, c.algo[which]);
    if (sum == SG_CUDNN_SUM_WINOGRAD) {
        const double nt = 2.0 * ((s->R > s->S ? s->R : s->S) + 16) + 2;
        return fmax(direct, u * (nt + 2 * sqrt(L)) * 512 * terms);
    }
    if (sum == SG_CUDNN_SUM_FFT) {
        const int kh = s->R > s->P ? s->R : s->P, kw = s->S > s->Q ? s->S : s->Q;
        const double log2n = ceil(log2((double)s->H + 2.0 * s->pad + 2.0 * kh)) +
                             ceil(log2((double)s->W + 2.0 * s->pad + 2.0 * kw));
        const double hw = (double)s->H * s->W, rs = (double)s->R * s->S,
                     pq = (double)s->P * s->Q;
        const double A = which == 1 ? pq : hw, B = which == 2 ? pq : rs;
        const double ch = which == 0 ? s->C : which == 1 ? s->K : s->N;
        return direct + 2 * sqrt(ch) * u *
                            ((14 * log2n + 1) * sqrt(A) * B + 7 * log2n * A * sqrt(B));
    }
    return direct;
#else
    (void)s, (void)which, (void)terms, (void)L, (void)direct;
    SG_CHECK(0, "%s: conv.algo=cudnn in a build without CUDA", r->op->name);
    return 0;
#endif
}

/* The three passes share set-up: x[N,C,H,W], w[K,C,R,S], dy[N,K,P,Q] random; the outputs
 * y, dx garbage; dw random (accumulated into when acc = 1). which: 0 fwd, 1 data, 2 filter. */
static int op_conv(oc_run *r, int which) {
    conv_args a = {0};
    if (oc_conv_shape(r, &a.s)) return -1;
    a.impl = oc_p(r, "gemm");
    a.prec = oc_p(r, "prec");
    const sg_conv_shape *s = &a.s;
    a.acc = which == 2 ? oc_p(r, "acc") : 0;
    size_t nx = oc_n(r, s->N, s->C, s->H, s->W), nw = oc_n(r, s->K, s->C, s->R, s->S),
           ny = oc_n(r, s->N, s->K, s->P, s->Q);
    size_t ws_bytes = sg_conv2d_workspace_bytes(r->be, s);
    float *x = OC_F(r, nx), *w = OC_F(r, nw), *y = OC_F(r, ny);
    double *xd = OC_D(r, nx), *wd = OC_D(r, nw), *yd = OC_D(r, ny);
    a.ws = OC_BACKEND(r, ws_bytes, 1);
    if (oc_alloc_status(r)) return -1;
    /* y is the output (fwd) or the incoming gradient dy (both backward passes); x is the input
     * (fwd, filter) or the output dx (data); w is the filter or the output dw (filter). */
    oc_uniform(r, x, nx, which == 1 ? -100 : -1, which == 1 ? 100 : 1);
    oc_uniform(r, w, nw, -1, 1);
    oc_uniform(r, y, ny, which == 0 ? -100 : -1, which == 0 ? 100 : 1);
    oc_to_double(x, xd, nx);
    oc_to_double(w, wd, nw);
    oc_to_double(y, yd, ny);
    oc_call_fn call;
    double terms; /* length of each output's sum */
    if (which == 0) {
        a.x = x, a.w = w, a.y = y, call = conv_fwd_call;
        oc_exec(r, call, &a);
        ref_conv2d_fwd(s, xd, wd, yd);
        terms = (double)s->C * s->R * s->S;
    } else if (which == 1) {
        a.dy = y, a.w = w, a.dx = x, call = conv_bwd_data_call;
        oc_exec(r, call, &a);
        ref_conv2d_bwd_data(s, yd, wd, xd);
        terms = (double)s->K * s->R * s->S;
    } else {
        a.x = x, a.dy = y, a.dw = w, call = conv_bwd_filter_call;
        oc_exec(r, call, &a);
        ref_conv2d_bwd_filter(s, xd, yd, wd, a.acc);
        terms = (double)s->N * s->P * s->Q + 1;
    }
    /* Direct sums (im2col + sgemm): 2 eps per term, as every sum here. The other algorithms
     * sum differently (the error bounds of kernels/cpu/conv_algos.h's tests, u = eps/2, inputs
     * in [-1, 1] so the sum of |terms| is at most `terms`, L the length of the inner sum):
     *   Winograd: u (n_t + 2 sqrt(L)) G terms, with the largest tile's transform growth over the
     *             direct sum G = 256 (F(4x4,3x3)) and n_t = 20 roundings in its transforms;
     *   oneDNN:   u (1 + 2 sqrt(L)) terms (sums in blocks, the probabilistic bound);
     *   cuDNN:    that of the algorithm cuDNN chose for the pass (cudnn_atol). */
    const double u = EPS32 / 2, L = which == 2 ? terms - 1 : terms / (double)(s->R * s->S);
    double atol = 2 * EPS32 * terms;
    if (s->algo == SG_CONV_WINOGRAD) atol = u * (20 + 2 * sqrt(L)) * 256 * terms;
    if (s->algo == SG_CONV_DNNL) atol = fmax(atol, u * (1 + 2 * sqrt(terms)) * terms);
    if (s->algo == SG_CONV_CUDNN) atol = cudnn_atol(r, s, which, terms, L, atol);
    oc_tol(r, atol + prec_atol(a.prec, terms, 1), 1e-6);
    if (which == 0) oc_cmp(r, y, yd, ny);
    if (which == 1) oc_cmp(r, x, xd, nx);
    if (which == 2) oc_cmp(r, w, wd, nw);
    return oc_finish(r, call, NULL, &a);
}
int oc_conv2d_fwd(oc_run *r) { return op_conv(r, 0); }
int oc_conv2d_bwd_data(oc_run *r) { return op_conv(r, 1); }
int oc_conv2d_bwd_filter(oc_run *r) { return op_conv(r, 2); }

int oc_gemm_nn(oc_run *r) { return op_gemm(r, 0, 0); }
int oc_gemm_nt(oc_run *r) { return op_gemm(r, 0, 1); }
int oc_gemm_tn(oc_run *r) { return op_gemm(r, 1, 0); }
int oc_gemm_tt(oc_run *r) { return op_gemm(r, 1, 1); }
