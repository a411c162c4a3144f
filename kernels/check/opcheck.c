/* kernels/check/opcheck.c: the op list and the validate-then-time runner (see opcheck.h).
 *
 * Every op is one function with the same shape:
 *   1. read its shape parameters, reject an inconsistent shape with a message;
 *   2. allocate every buffer (floats for the backend, doubles for the reference);
 *   3. fill inputs with random values, pre-fill outputs with random garbage;
 *   4. call the backend kernel through its `call` function (the same one that is timed later);
 *   5. run the reference on the same (float-rounded) inputs in double;
 *   6. compare every output and hand over to oc_finish, which sets the verdict and times the
 *      `call` function when the op validated.
 *
 * Tolerances. A float32 recursive sum of n random-sign terms of size <= t is typically off by
 * about 0.1 eps t n (its partial sums grow like sqrt(k)); atol = 2 eps t n leaves an order of
 * magnitude of margin for any summation order (observed err/tol <= 0.25 over 30 seeds), while a
 * real bug (a wrong index, a missing term, beta ignored) moves outputs by O(t). Sums whose terms
 * share a sign are large, and their rounding is covered by rtol. Elementwise ops get a few ulps
 * or exact equality. Each op states its tolerance where it computes it. */
#include "kernels/check/opcheck.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/rng.h"
#include "kernels/ref/ref.h"

#define OC_MAXP 12          /* parameters per op */
#define OC_MAXALLOC 40      /* buffers per op */
#define OC_REQUIRED INT_MIN /* `def` of a parameter the spec must give */
#define OC_DIM_MAX (1 << 30) /* buffers beyond INT_MAX elements are refused by oc_n */
#define OC_STREAM 0x6f70u /* Philox stream id0 of the checker ("op") */
#define EPS32 ((double)FLT_EPSILON)

typedef struct {
    const char *name;
    int lo, hi; /* inclusive range */
    int def;    /* default, or OC_REQUIRED */
} oc_param;

typedef struct oc_run oc_run;

/* A function-pointer slot of sg_backend, by name. */
typedef struct {
    const char *name;
    size_t offset;
} oc_kernel;

typedef struct {
    const char *name;
    int (*run)(oc_run *r);
    int variant;          /* gemm: 2*transA + transB; 0 elsewhere */
    oc_kernel kernels[2]; /* the backend slots it calls (a kernel and its workspace size) */
    const char *default_shape;
    oc_param params[OC_MAXP]; /* ends at the first name == NULL */
} oc_op;

struct oc_run {
    const sg_backend *be;
    const oc_op *op;
    int opi;
    int val[OC_MAXP];
    uint64_t seed;
    uint32_t next_stream;
    int time_reps;
    sg_opcheck_result *out;
    sg_err *err;
    void *allocs[OC_MAXALLOC]; /* host buffers */
    void *dev[OC_MAXALLOC];    /* their backend mirrors (device backends; NULL: host only) */
    size_t bytes[OC_MAXALLOC];
    int nallocs;
    int keep;            /* prepare mode: keep buffers and the call for sg_opcheck_time_n */
    void *kept_args;     /* heap copy of the op's call arguments (they point into allocs) */
    void (*kept_call)(const sg_backend *be, void *args);
    void (*kept_restore)(const sg_backend *be, void *args);
    int alloc_failed;    /* malloc returned NULL */
    int too_large;       /* a buffer beyond INT_MAX elements */
    double failed_bytes; /* size of the allocation that failed */
};

/* The backend's calls go through one of these, so the validated call is the timed call. */
typedef void (*oc_call_fn)(const sg_backend *be, void *args);

/* ---- helpers --------------------------------------------------------------------------------- */

static int oc_p(const oc_run *r, const char *name) {
    for (int k = 0; k < OC_MAXP && r->op->params[k].name; k++)
        if (strcmp(r->op->params[k].name, name) == 0) return r->val[k];
    SG_CHECK(0, "op %s has no parameter %s", r->op->name, name);
    return 0;
}

/* Element count of a buffer: a*b*c*d, computed in double so a huge shape cannot wrap. */
static size_t oc_n(oc_run *r, double a, double b, double c, double d) {
    double n = a * b * c * d;
    if (n > (double)INT_MAX) {
        r->too_large = 1;
        return 0;
    }
    return (size_t)n;
}

/* Every buffer is host memory the checker fills and reads. A buffer the backend kernel sees
 * (`backend` != 0) also gets a mirror in the backend's memory when the backend is not host
 * memory (CUDA): oc_exec uploads every mirror before the call and downloads it after, and the
 * call functions pass kernels the mirror through OC_DEV. So one op table checks every backend. */
static void *oc_alloc_as(oc_run *r, size_t count, size_t elem, int backend) {
    SG_CHECK(r->nallocs < OC_MAXALLOC, "op %s uses more than %d buffers", r->op->name, OC_MAXALLOC);
    size_t bytes = count * elem;
    void *p = malloc(bytes ? bytes : 1), *d = NULL;
    if (p && backend && !r->be->host_memory) {
        d = r->be->mem_alloc(r->be, bytes ? bytes : 1);
        if (!d) {
            free(p);
            p = NULL;
        }
    }
    if (!p) {
        if (!r->alloc_failed) r->failed_bytes = (double)bytes;
        r->alloc_failed = 1;
        return NULL;
    }
    r->allocs[r->nallocs] = p;
    r->dev[r->nallocs] = d;
    r->bytes[r->nallocs] = bytes;
    r->nallocs++;
    return p;
}
static void *oc_alloc(oc_run *r, size_t count, size_t elem) {
    return oc_alloc_as(r, count, elem, 1);
}
#define OC_F(r, n) ((float *)oc_alloc_as((r), (n), sizeof(float), 1))
#define OC_D(r, n) ((double *)oc_alloc_as((r), (n), sizeof(double), 0))
#define OC_HOST(r, n, elem) oc_alloc_as((r), (n), (elem), 0)

/* The run whose buffers OC_DEV translates (the checker runs one op at a time). */
static oc_run *oc_active;

/* The backend pointer for host pointer h (into any backend-visible buffer of the active run);
 * h itself on a host-memory backend, for NULL, and for host arguments that are not buffers of
 * the run (small host tables such as aug_normalize's mean and std). */
static void *oc_dev(const void *h) {
    oc_run *r = oc_active;
    if (!h || !r || r->be->host_memory) return (void *)h;
    const char *c = h;
    for (int i = 0; i < r->nallocs; i++) {
        const char *b = r->allocs[i];
        if (c < b || c >= b + (r->bytes[i] ? r->bytes[i] : 1)) continue;
        SG_CHECK(r->dev[i] != NULL, "op %s passes a host-only buffer to the %s backend",
                 r->op->name, r->be->name);
        return (char *)r->dev[i] + (c - b);
    }
    return (void *)h;
}
#define OC_DEV(p) ((__typeof__(p))oc_dev(p))

static void oc_upload_all(oc_run *r) {
    for (int i = 0; i < r->nallocs; i++)
        if (r->dev[i]) r->be->mem_upload(r->be, r->dev[i], r->allocs[i], r->bytes[i]);
}

/* Runs the backend call for validation: inputs (and pre-filled outputs) to the backend, the call,
 * everything back to the host buffers the comparison reads. */
static void oc_exec(oc_run *r, void (*call)(const sg_backend *, void *), void *args) {
    if (r->be->host_memory) {
        call(r->be, args);
        return;
    }
    oc_upload_all(r);
    call(r->be, args);
    r->be->sync(r->be);
    for (int i = 0; i < r->nallocs; i++)
        if (r->dev[i]) r->be->mem_download(r->be, r->allocs[i], r->dev[i], r->bytes[i]);
}

/* After an op's allocations: the error to return when one of them could not be made. */
static int oc_alloc_status(oc_run *r) {
    if (r->too_large)
        return sg_errf(r->err, "%s: shape %s needs a buffer of more than %d elements", r->op->name,
                       r->out->shape, INT_MAX);
    if (r->alloc_failed)
        return sg_errf(r->err, "%s: shape %s: out of memory (a buffer of %.0f bytes)", r->op->name,
                       r->out->shape, r->failed_bytes);
    return 0;
}

/* A fresh Philox stream per buffer: (seed; checker, op, buffer number). */
static sg_rng oc_stream(oc_run *r) {
    sg_rng g;
    sg_rng_init(&g, r->seed, OC_STREAM, (uint32_t)r->opi, r->next_stream++);
    return g;
}

static void oc_uniform(oc_run *r, float *x, size_t n, float lo, float hi) {
    sg_rng g = oc_stream(r);
    sg_rng_fill_uniform(&g, x, (long)n, lo, hi);
}

static void oc_to_double(const float *x, double *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (double)x[i];
}

/* A[D,D] symmetric: fill with uniform values, then mirror the upper triangle. */
static void oc_symmetric(oc_run *r, float *A, int D, float lo, float hi) {
    oc_uniform(r, A, (size_t)D * (size_t)D, lo, hi);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) A[(size_t)i * D + j] = A[(size_t)j * D + i];
}

static void oc_tol(oc_run *r, double atol, double rtol) {
    r->out->tol_atol = atol;
    r->out->tol_rtol = rtol;
}

static void oc_worse(oc_run *r, double e) {
    if (isnan(e)) e = INFINITY;
    if (e > r->out->max_err) r->out->max_err = e;
}

/* Folds |got - want| / (atol + rtol |want|) of n outputs into max_err. Exact equality counts as
 * 0 even with a zero tolerance; a NaN counts as infinitely wrong. */
static void oc_cmp(oc_run *r, const float *got, const double *want, size_t n) {
    double atol = r->out->tol_atol, rtol = r->out->tol_rtol;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (diff == 0) continue;
        double tol = atol + rtol * fabs(want[i]);
        oc_worse(r, tol > 0 ? diff / tol : INFINITY);
    }
}

/* The same for outputs computed in double from the backend's (syevd's V^T diag(w) V). */
static void oc_cmp_dd(oc_run *r, const double *got, const double *want, size_t n) {
    double atol = r->out->tol_atol, rtol = r->out->tol_rtol;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs(got[i] - want[i]);
        if (diff == 0) continue;
        double tol = atol + rtol * fabs(want[i]);
        oc_worse(r, tol > 0 ? diff / tol : INFINITY);
    }
}

/* Integer outputs (argmax) must match exactly. */
static void oc_cmp_i32(oc_run *r, const int32_t *got, const int32_t *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            oc_worse(r, INFINITY);
            return;
        }
}

static int oc_cmp_seconds(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sets the verdict. A validated op is then timed time_reps times (sg_opcheck_run), or kept with
 * its buffers and arguments for the caller's own timing loop (sg_opcheck_prepare). `restore`,
 * for ops that overwrite their own input, runs untimed before each timed call. */
static int oc_finish_sized(oc_run *r, oc_call_fn call, oc_call_fn restore, void *args,
                           size_t args_size) {
    sg_opcheck_result *o = r->out;
    o->ok = o->max_err <= 1.0;
    if (!o->ok) return 0;
    if (r->keep) {
        r->kept_args = malloc(args_size);
        if (!r->kept_args) return sg_errf(r->err, "%s: out of memory", r->op->name);
        memcpy(r->kept_args, args, args_size);
        r->kept_call = call;
        r->kept_restore = restore;
        if (!r->be->host_memory) oc_upload_all(r);
        call(r->be, r->kept_args); /* warm-up: first touch, lazy library initialisation */
        r->be->sync(r->be);
        return 0;
    }
    if (r->time_reps <= 0) return 0;
    double *t = malloc(sizeof(double) * (size_t)r->time_reps);
    if (!t) return sg_errf(r->err, "%s: out of memory for %d timings", r->op->name, r->time_reps);
    /* the backend's own timer: CUDA events on a device, the host clock on the CPU */
    if (!r->be->host_memory) oc_upload_all(r);
    call(r->be, args); /* warm-up: first-touch page faults, lazy library initialisation */
    for (int k = 0; k < r->time_reps; k++) {
        if (restore) restore(r->be, args);
        r->be->timer_start(r->be);
        call(r->be, args);
        t[k] = r->be->timer_stop(r->be);
    }
    qsort(t, (size_t)r->time_reps, sizeof(double), oc_cmp_seconds);
    int h = r->time_reps / 2;
    o->seconds_median = (r->time_reps % 2) ? t[h] : 0.5 * (t[h - 1] + t[h]);
    o->reps = r->time_reps;
    free(t);
    return 0;
}
#define oc_finish(r, call, restore, args) oc_finish_sized((r), (call), (restore), (args), sizeof *(args))

static int oc_bad_shape(oc_run *r, const char *why) {
    return sg_errf(r->err, "%s: shape %s: %s", r->op->name, r->out->shape, why);
}

/* ---- dense ----------------------------------------------------------------------------------- */

typedef struct {
    int tA, tB, M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_args;

static void gemm_call(const sg_backend *be, void *p) {
    gemm_args *a = p;
    be->gemm(be, a->tA, a->tB, a->M, a->N, a->K, a->alpha, OC_DEV(a->A), a->lda, OC_DEV(a->B),
             a->ldb, a->beta, OC_DEV(a->C), a->ldc);
}

/* C[M,N] (row stride N+ldpad) = alpha op(A) op(B) + beta C with stored strides padded by ldpad;
 * C's padding columns must come back untouched. */
static int op_gemm(oc_run *r) {
    int M = oc_p(r, "M"), N = oc_p(r, "N"), K = oc_p(r, "K"), ldpad = oc_p(r, "ldpad");
    gemm_args a = {.tA = r->op->variant >> 1, .tB = r->op->variant & 1, .M = M, .N = N, .K = K};
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
    /* K products of size <= |alpha| plus beta*C */
    oc_tol(r, 2 * EPS32 * 1.25 * (K + 1), 1e-6);
    oc_cmp(r, C, Cd, nC);
    r->out->cost = sg_cost_gemm(M, N, K, 1);
    return oc_finish(r, gemm_call, NULL, &a);
}

typedef struct {
    int N, In, Out, acc;
    const float *x, *W, *b, *dy;
    float *y, *dx, *dW, *db;
} linear_args;

static void linear_fwd_call(const sg_backend *be, void *p) {
    linear_args *a = p;
    be->linear_fwd(be, a->N, a->In, a->Out, OC_DEV(a->x), OC_DEV(a->W), OC_DEV(a->b), OC_DEV(a->y));
}

static int op_linear_fwd(oc_run *r) {
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
    linear_args a = {.N = N, .In = In, .Out = Out, .x = x, .W = W, .b = bias ? b : NULL, .y = y};
    oc_exec(r, linear_fwd_call, &a);
    ref_linear_fwd(N, In, Out, xd, Wd, bias ? bd : NULL, yd);
    oc_tol(r, 2 * EPS32 * (In + 1), 1e-6); /* In products <= 1, plus the bias */
    oc_cmp(r, y, yd, ny);
    r->out->cost = sg_cost_linear_fwd(N, In, Out, bias);
    return oc_finish(r, linear_fwd_call, NULL, &a);
}

static void linear_bwd_call(const sg_backend *be, void *p) {
    linear_args *a = p;
    be->linear_bwd(be, a->N, a->In, a->Out, OC_DEV(a->x), OC_DEV(a->W), OC_DEV(a->dy),
                   OC_DEV(a->dx), OC_DEV(a->dW), OC_DEV(a->db), a->acc);
}

static int op_linear_bwd(oc_run *r) {
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
                     .x = x,
                     .W = W,
                     .dy = dy,
                     .dx = want_dx ? dx : NULL,
                     .dW = dW,
                     .db = bias ? db : NULL};
    oc_exec(r, linear_bwd_call, &a);
    ref_linear_bwd(N, In, Out, xd, Wd, dyd, want_dx ? dxd : NULL, dWd, bias ? dbd : NULL, acc);
    /* dx sums Out products, dW and db sum N, plus the accumulated value */
    oc_tol(r, 2 * EPS32 * ((N > Out ? N : Out) + 1), 1e-6);
    if (want_dx) oc_cmp(r, dx, dxd, nx);
    oc_cmp(r, dW, dWd, nW);
    if (bias) oc_cmp(r, db, dbd, (size_t)Out);
    r->out->cost = sg_cost_linear_bwd(N, In, Out, want_dx, bias);
    return oc_finish(r, linear_bwd_call, NULL, &a);
}

/* ---- convolution ----------------------------------------------------------------------------- */

typedef struct {
    sg_conv_shape s;
    int acc;
    const float *x, *w, *dy;
    float *y, *dx, *dw;
    void *ws;
} conv_args;

static void conv_fwd_call(const sg_backend *be, void *p) {
    conv_args *a = p;
    be->conv2d_fwd(be, &a->s, OC_DEV(a->x), OC_DEV(a->w), OC_DEV(a->y), OC_DEV(a->ws));
}
static void conv_bwd_data_call(const sg_backend *be, void *p) {
    conv_args *a = p;
    be->conv2d_bwd_data(be, &a->s, OC_DEV(a->dy), OC_DEV(a->w), OC_DEV(a->dx), OC_DEV(a->ws));
}
static void conv_bwd_filter_call(const sg_backend *be, void *p) {
    conv_args *a = p;
    be->conv2d_bwd_filter(be, &a->s, OC_DEV(a->x), OC_DEV(a->dy), OC_DEV(a->dw), a->acc,
                          OC_DEV(a->ws));
}

/* Reads the conv geometry, rejecting one whose output would be empty. */
static int oc_conv_shape(oc_run *r, sg_conv_shape *s) {
    int H = oc_p(r, "H"), W = oc_p(r, "W"), R = oc_p(r, "R"), S = oc_p(r, "S");
    int pad = oc_p(r, "pad");
    if ((double)H + 2.0 * pad < R || (double)W + 2.0 * pad < S)
        return oc_bad_shape(r, "the filter (R x S) is larger than the padded input");
    *s = sg_conv_shape_make(oc_p(r, "N"), oc_p(r, "C"), H, W, oc_p(r, "K"), R, S, oc_p(r, "stride"),
                            pad);
    return 0;
}

/* The three passes share set-up: x[N,C,H,W], w[K,C,R,S], dy[N,K,P,Q] random; the outputs
 * y, dx garbage; dw random (accumulated into when acc = 1). which: 0 fwd, 1 data, 2 filter. */
static int op_conv(oc_run *r, int which) {
    conv_args a = {0};
    if (oc_conv_shape(r, &a.s)) return -1;
    const sg_conv_shape *s = &a.s;
    a.acc = which == 2 ? oc_p(r, "acc") : 0;
    size_t nx = oc_n(r, s->N, s->C, s->H, s->W), nw = oc_n(r, s->K, s->C, s->R, s->S),
           ny = oc_n(r, s->N, s->K, s->P, s->Q);
    size_t ws_bytes = r->be->conv2d_workspace_bytes(r->be, s);
    float *x = OC_F(r, nx), *w = OC_F(r, nw), *y = OC_F(r, ny);
    double *xd = OC_D(r, nx), *wd = OC_D(r, nw), *yd = OC_D(r, ny);
    a.ws = oc_alloc(r, ws_bytes, 1);
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
        r->out->cost = sg_cost_conv2d_fwd(s);
    } else if (which == 1) {
        a.dy = y, a.w = w, a.dx = x, call = conv_bwd_data_call;
        oc_exec(r, call, &a);
        ref_conv2d_bwd_data(s, yd, wd, xd);
        terms = (double)s->K * s->R * s->S;
        r->out->cost = sg_cost_conv2d_bwd_data(s);
    } else {
        a.x = x, a.dy = y, a.dw = w, call = conv_bwd_filter_call;
        oc_exec(r, call, &a);
        ref_conv2d_bwd_filter(s, xd, yd, wd, a.acc);
        terms = (double)s->N * s->P * s->Q + 1;
        r->out->cost = sg_cost_conv2d_bwd_filter(s);
    }
    oc_tol(r, 2 * EPS32 * terms, 1e-6);
    if (which == 0) oc_cmp(r, y, yd, ny);
    if (which == 1) oc_cmp(r, x, xd, nx);
    if (which == 2) oc_cmp(r, w, wd, nw);
    return oc_finish(r, call, NULL, &a);
}
static int op_conv2d_fwd(oc_run *r) { return op_conv(r, 0); }
static int op_conv2d_bwd_data(oc_run *r) { return op_conv(r, 1); }
static int op_conv2d_bwd_filter(oc_run *r) { return op_conv(r, 2); }

/* ---- batch norm ------------------------------------------------------------------------------ */

typedef struct {
    int N, C, HW, acc;
    float eps, momentum;
    const float *x, *gamma, *beta, *dy;
    float *rmean, *rvar, *mean, *invstd, *y, *dx, *dgamma, *dbeta;
} bn_args;

static void bn_train_call(const sg_backend *be, void *p) {
    bn_args *a = p;
    be->batchnorm_fwd_train(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->beta),
                            a->eps, a->momentum, OC_DEV(a->rmean), OC_DEV(a->rvar), OC_DEV(a->mean),
                            OC_DEV(a->invstd), OC_DEV(a->y));
}
static void bn_eval_call(const sg_backend *be, void *p) {
    bn_args *a = p;
    be->batchnorm_fwd_eval(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->beta),
                           a->eps, OC_DEV(a->rmean), OC_DEV(a->rvar), OC_DEV(a->y));
}
static void bn_bwd_call(const sg_backend *be, void *p) {
    bn_args *a = p;
    be->batchnorm_bwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->gamma), OC_DEV(a->mean),
                      OC_DEV(a->invstd), OC_DEV(a->dy), OC_DEV(a->dx), OC_DEV(a->dgamma),
                      OC_DEV(a->dbeta), a->acc);
}

/* x[N,C,HW] with a per-element offset so batch means are far from 0 and variances from 1. */
static int op_batchnorm_fwd_train(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), running = oc_p(r, "running");
    if (running && (double)N * HW < 2)
        return oc_bad_shape(r, "the unbiased running variance needs N*HW >= 2");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *y = OC_F(r, nx), *gamma = OC_F(r, nc), *beta = OC_F(r, nc),
          *rmean = OC_F(r, nc), *rvar = OC_F(r, nc), *mean = OC_F(r, nc), *invstd = OC_F(r, nc);
    double *xd = OC_D(r, nx), *yd = OC_D(r, nx), *gd = OC_D(r, nc), *bd = OC_D(r, nc),
           *rmd = OC_D(r, nc), *rvd = OC_D(r, nc), *md = OC_D(r, nc), *isd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, beta, nc, -0.5f, 0.5f);
    oc_uniform(r, rmean, nc, -1, 1);
    oc_uniform(r, rvar, nc, 0.5f, 1.5f);
    oc_uniform(r, y, nx, -100, 100);
    oc_uniform(r, mean, nc, -100, 100);
    oc_uniform(r, invstd, nc, -100, 100);
    oc_to_double(x, xd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(beta, bd, nc);
    oc_to_double(rmean, rmd, nc);
    oc_to_double(rvar, rvd, nc);
    bn_args a = {.N = N,
                 .C = C,
                 .HW = HW,
                 .eps = 1e-5f,
                 .momentum = 0.1f,
                 .x = x,
                 .gamma = affine ? gamma : NULL,
                 .beta = affine ? beta : NULL,
                 .rmean = running ? rmean : NULL,
                 .rvar = running ? rvar : NULL,
                 .mean = mean,
                 .invstd = invstd,
                 .y = y};
    oc_exec(r, bn_train_call, &a);
    ref_batchnorm_fwd_train(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, a.eps, a.momentum,
                            running ? rmd : NULL, running ? rvd : NULL, md, isd, yd);
    /* statistics are sums of N*HW values of size <= 3 (squares <= 9), normalised by the count:
     * a few ulps of y's O(1) scale, plus the rounding of the sums */
    oc_tol(r, 1e-5 + 2 * EPS32 * sqrt((double)N * HW), 1e-5);
    oc_cmp(r, y, yd, nx);
    oc_cmp(r, mean, md, nc);
    oc_cmp(r, invstd, isd, nc);
    if (running) {
        oc_cmp(r, rmean, rmd, nc);
        oc_cmp(r, rvar, rvd, nc);
    }
    r->out->cost = sg_cost_batchnorm_fwd(N, C, HW, affine);
    return oc_finish(r, bn_train_call, NULL, &a);
}

static int op_batchnorm_fwd_eval(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW"), affine = oc_p(r, "affine");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *y = OC_F(r, nx), *gamma = OC_F(r, nc), *beta = OC_F(r, nc),
          *rmean = OC_F(r, nc), *rvar = OC_F(r, nc);
    double *xd = OC_D(r, nx), *yd = OC_D(r, nx), *gd = OC_D(r, nc), *bd = OC_D(r, nc),
           *rmd = OC_D(r, nc), *rvd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, beta, nc, -0.5f, 0.5f);
    oc_uniform(r, rmean, nc, -1, 1);
    oc_uniform(r, rvar, nc, 0.5f, 1.5f);
    oc_uniform(r, y, nx, -100, 100);
    oc_to_double(x, xd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(beta, bd, nc);
    oc_to_double(rmean, rmd, nc);
    oc_to_double(rvar, rvd, nc);
    bn_args a = {.N = N,
                 .C = C,
                 .HW = HW,
                 .eps = 1e-5f,
                 .x = x,
                 .gamma = affine ? gamma : NULL,
                 .beta = affine ? beta : NULL,
                 .rmean = rmean,
                 .rvar = rvar,
                 .y = y};
    oc_exec(r, bn_eval_call, &a);
    ref_batchnorm_fwd_eval(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, a.eps, rmd, rvd,
                           yd);
    oc_tol(r, 1e-6, 1e-6); /* elementwise: a few ulps of |y| <= ~6 */
    oc_cmp(r, y, yd, nx);
    r->out->cost = sg_cost_batchnorm_fwd(N, C, HW, affine);
    return oc_finish(r, bn_eval_call, NULL, &a);
}

/* mean/invstd are the reference's statistics of x (rounded to float, given to both); dy is
 * random plus 0.3 x, so that mean(dy) and mean(dy * xhat) are far from 0 and a kernel that
 * drops either term of the gradient fails at any batch size. */
static int op_batchnorm_bwd(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    int affine = oc_p(r, "affine"), acc = oc_p(r, "acc");
    size_t nx = oc_n(r, N, C, HW, 1), nc = (size_t)C;
    float *x = OC_F(r, nx), *dy = OC_F(r, nx), *dx = OC_F(r, nx), *gamma = OC_F(r, nc),
          *mean = OC_F(r, nc), *invstd = OC_F(r, nc), *dgamma = OC_F(r, nc), *dbeta = OC_F(r, nc);
    double *xd = OC_D(r, nx), *dyd = OC_D(r, nx), *dxd = OC_D(r, nx), *gd = OC_D(r, nc),
           *md = OC_D(r, nc), *isd = OC_D(r, nc), *dgd = OC_D(r, nc), *dbd = OC_D(r, nc);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -2, 3);
    oc_uniform(r, dy, nx, -1, 1);
    for (size_t i = 0; i < nx; i++) dy[i] += 0.3f * x[i];
    oc_uniform(r, dx, nx, -100, 100);
    oc_uniform(r, gamma, nc, 0.5f, 1.5f);
    oc_uniform(r, dgamma, nc, -1, 1);
    oc_uniform(r, dbeta, nc, -1, 1);
    oc_to_double(x, xd, nx);
    /* the statistics, through the reference forward (dxd serves as its throwaway y) */
    ref_batchnorm_fwd_train(N, C, HW, xd, NULL, NULL, 1e-5, 0.1, NULL, NULL, md, isd, dxd);
    for (size_t c = 0; c < nc; c++) {
        mean[c] = (float)md[c];
        invstd[c] = (float)isd[c];
    }
    oc_to_double(mean, md, nc);
    oc_to_double(invstd, isd, nc);
    oc_to_double(dy, dyd, nx);
    oc_to_double(gamma, gd, nc);
    oc_to_double(dgamma, dgd, nc);
    oc_to_double(dbeta, dbd, nc);
    bn_args a = {.N = N,
                 .C = C,
                 .HW = HW,
                 .acc = acc,
                 .x = x,
                 .gamma = affine ? gamma : NULL,
                 .mean = mean,
                 .invstd = invstd,
                 .dy = dy,
                 .dx = dx,
                 .dgamma = affine ? dgamma : NULL,
                 .dbeta = affine ? dbeta : NULL};
    oc_exec(r, bn_bwd_call, &a);
    ref_batchnorm_bwd(N, C, HW, xd, affine ? gd : NULL, md, isd, dyd, dxd, affine ? dgd : NULL,
                      affine ? dbd : NULL, acc);
    /* dgamma and dbeta are sums of N*HW terms with a nonzero mean, so of size ~N*HW: their
     * rounding is relative (rtol); dx is O(1), through means of those sums */
    oc_tol(r, 1e-5 + 2 * EPS32 * sqrt((double)N * HW), 2e-5);
    oc_cmp(r, dx, dxd, nx);
    if (affine) {
        oc_cmp(r, dgamma, dgd, nc);
        oc_cmp(r, dbeta, dbd, nc);
    }
    r->out->cost = sg_cost_batchnorm_bwd(N, C, HW, affine);
    return oc_finish(r, bn_bwd_call, NULL, &a);
}

/* ---- elementwise and pooling ----------------------------------------------------------------- */

typedef struct {
    size_t n;
    int acc;
    const float *a, *b, *dy, *y;
    float *out, *out2;
} ew_args;

static void relu_fwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    be->relu_fwd(be, e->n, OC_DEV(e->a), OC_DEV(e->out));
}
static void relu_bwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    be->relu_bwd(be, e->n, OC_DEV(e->y), OC_DEV(e->dy), OC_DEV(e->out));
}
static void add_fwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    be->add_fwd(be, e->n, OC_DEV(e->a), OC_DEV(e->b), OC_DEV(e->out));
}
static void add_bwd_call(const sg_backend *be, void *p) {
    ew_args *e = p;
    be->add_bwd(be, e->n, OC_DEV(e->dy), OC_DEV(e->out), OC_DEV(e->out2), e->acc);
}

/* inplace = 1: y aliases x (allowed by the interface). */
static int op_relu_fwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int inplace = oc_p(r, "inplace");
    float *x = OC_F(r, n), *y = OC_F(r, n);
    double *xd = OC_D(r, n), *yd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, n, -1, 1);
    oc_uniform(r, y, n, -100, 100);
    oc_to_double(x, xd, n);
    ew_args e = {.n = n, .a = x, .out = inplace ? x : y};
    oc_exec(r, relu_fwd_call, &e);
    ref_relu_fwd(n, xd, yd);
    oc_tol(r, 0, 0); /* exact */
    oc_cmp(r, e.out, yd, n);
    r->out->cost = sg_cost_relu_fwd(n);
    return oc_finish(r, relu_fwd_call, NULL, &e);
}

/* y = relu(random), so it holds exact zeros where the gradient must stop; inplace = 1: dx
 * aliases dy. */
static int op_relu_bwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int inplace = oc_p(r, "inplace");
    float *y = OC_F(r, n), *dy = OC_F(r, n), *dx = OC_F(r, n);
    double *yd = OC_D(r, n), *dyd = OC_D(r, n), *dxd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, y, n, -1, 1);
    for (size_t i = 0; i < n; i++) y[i] = y[i] > 0 ? y[i] : 0;
    oc_uniform(r, dy, n, -1, 1);
    oc_uniform(r, dx, n, -100, 100);
    oc_to_double(y, yd, n);
    oc_to_double(dy, dyd, n);
    ew_args e = {.n = n, .y = y, .dy = dy, .out = inplace ? dy : dx};
    oc_exec(r, relu_bwd_call, &e);
    ref_relu_bwd(n, yd, dyd, dxd);
    oc_tol(r, 0, 0); /* exact */
    oc_cmp(r, e.out, dxd, n);
    r->out->cost = sg_cost_relu_bwd(n);
    return oc_finish(r, relu_bwd_call, NULL, &e);
}

/* inplace = 1: y aliases a; 2: y aliases b. */
static int op_add_fwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int inplace = oc_p(r, "inplace");
    float *a = OC_F(r, n), *b = OC_F(r, n), *y = OC_F(r, n);
    double *ad = OC_D(r, n), *bd = OC_D(r, n), *yd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, a, n, -1, 1);
    oc_uniform(r, b, n, -1, 1);
    oc_uniform(r, y, n, -100, 100);
    oc_to_double(a, ad, n);
    oc_to_double(b, bd, n);
    ew_args e = {.n = n, .a = a, .b = b, .out = inplace == 1 ? a : inplace == 2 ? b : y};
    oc_exec(r, add_fwd_call, &e);
    ref_add_fwd(n, ad, bd, yd);
    oc_tol(r, 0, EPS32); /* one float rounding: half an ulp of the exact sum */
    oc_cmp(r, e.out, yd, n);
    r->out->cost = sg_cost_add_fwd(n);
    return oc_finish(r, add_fwd_call, NULL, &e);
}

/* db = 0 passes NULL for db (only da wanted). */
static int op_add_bwd(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    int want_db = oc_p(r, "db"), acc = oc_p(r, "acc");
    float *dy = OC_F(r, n), *da = OC_F(r, n), *db = OC_F(r, n);
    double *dyd = OC_D(r, n), *dad = OC_D(r, n), *dbd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, dy, n, -1, 1);
    oc_uniform(r, da, n, -1, 1); /* accumulated into when acc = 1 */
    oc_uniform(r, db, n, -1, 1);
    oc_to_double(dy, dyd, n);
    oc_to_double(da, dad, n);
    oc_to_double(db, dbd, n);
    ew_args e = {.n = n, .acc = acc, .dy = dy, .out = da, .out2 = want_db ? db : NULL};
    oc_exec(r, add_bwd_call, &e);
    ref_add_bwd(n, dyd, dad, want_db ? dbd : NULL, acc);
    oc_tol(r, 0, EPS32); /* a copy, or one float addition */
    oc_cmp(r, da, dad, n);
    if (want_db) oc_cmp(r, db, dbd, n);
    r->out->cost = sg_cost_add_bwd(n, 1 + want_db);
    return oc_finish(r, add_bwd_call, NULL, &e);
}

typedef struct {
    sg_pool_shape s;
    int N, C, HW;
    const float *x, *dy;
    const int32_t *argmax_in;
    float *y, *dx;
    int32_t *argmax;
} pool_args;

static void maxpool_fwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    be->maxpool_fwd(be, &a->s, OC_DEV(a->x), OC_DEV(a->y), OC_DEV(a->argmax));
}
static void maxpool_bwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    be->maxpool_bwd(be, &a->s, OC_DEV(a->dy), OC_DEV(a->argmax_in), OC_DEV(a->dx));
}
static void avgpool_fwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    be->avgpool_global_fwd(be, a->N, a->C, a->HW, OC_DEV(a->x), OC_DEV(a->y));
}
static void avgpool_bwd_call(const sg_backend *be, void *p) {
    pool_args *a = p;
    be->avgpool_global_bwd(be, a->N, a->C, a->HW, OC_DEV(a->dy), OC_DEV(a->dx));
}

static int oc_pool_shape(oc_run *r, sg_pool_shape *s) {
    int H = oc_p(r, "H"), W = oc_p(r, "W"), k = oc_p(r, "k"), pad = oc_p(r, "pad");
    if (pad >= k) return oc_bad_shape(r, "pad must be smaller than the window k");
    if ((double)H + 2.0 * pad < k || (double)W + 2.0 * pad < k)
        return oc_bad_shape(r, "the window k is larger than the padded input");
    *s = sg_pool_shape_make(oc_p(r, "N"), oc_p(r, "C"), H, W, k, oc_p(r, "stride"), pad);
    return 0;
}

/* Random x has no ties, so argmax is unique and must match exactly. */
static int op_maxpool_fwd(oc_run *r) {
    pool_args a = {0};
    if (oc_pool_shape(r, &a.s)) return -1;
    const sg_pool_shape *s = &a.s;
    size_t nx = oc_n(r, s->N, s->C, s->H, s->W), ny = oc_n(r, s->N, s->C, s->P, s->Q);
    float *x = OC_F(r, nx), *y = OC_F(r, ny);
    int32_t *am = oc_alloc(r, ny, sizeof(int32_t)), *amd = OC_HOST(r, ny, sizeof(int32_t));
    double *xd = OC_D(r, nx), *yd = OC_D(r, ny);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -1, 1);
    oc_uniform(r, y, ny, -100, 100);
    for (size_t i = 0; i < ny; i++) am[i] = -7;
    oc_to_double(x, xd, nx);
    a.x = x, a.y = y, a.argmax = am;
    oc_exec(r, maxpool_fwd_call, &a);
    ref_maxpool_fwd(s, xd, yd, amd);
    oc_tol(r, 0, 0); /* a max is exact */
    oc_cmp(r, y, yd, ny);
    oc_cmp_i32(r, am, amd, ny);
    r->out->cost = sg_cost_maxpool_fwd(s);
    return oc_finish(r, maxpool_fwd_call, NULL, &a);
}

/* argmax from the reference forward on random x; overlapping windows (k > stride) make dx sum
 * several dy. */
static int op_maxpool_bwd(oc_run *r) {
    pool_args a = {0};
    if (oc_pool_shape(r, &a.s)) return -1;
    const sg_pool_shape *s = &a.s;
    size_t nx = oc_n(r, s->N, s->C, s->H, s->W), ny = oc_n(r, s->N, s->C, s->P, s->Q);
    float *dy = OC_F(r, ny), *dx = OC_F(r, nx);
    int32_t *am = oc_alloc(r, ny, sizeof(int32_t));
    double *xd = OC_D(r, nx), *yd = OC_D(r, ny), *dyd = OC_D(r, ny), *dxd = OC_D(r, nx);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, dx, nx, -1, 1); /* x first, through dx's buffer, then garbage for dx */
    oc_to_double(dx, xd, nx);
    ref_maxpool_fwd(s, xd, yd, am);
    oc_uniform(r, dx, nx, -100, 100);
    oc_uniform(r, dy, ny, -1, 1);
    oc_to_double(dy, dyd, ny);
    a.dy = dy, a.argmax_in = am, a.dx = dx;
    oc_exec(r, maxpool_bwd_call, &a);
    ref_maxpool_bwd(s, dyd, am, dxd);
    double overlap = ceil((double)s->k / s->stride);
    oc_tol(r, 2 * EPS32 * overlap * overlap, 0); /* sums of at most ceil(k/stride)^2 dy */
    oc_cmp(r, dx, dxd, nx);
    r->out->cost = sg_cost_maxpool_bwd(s);
    return oc_finish(r, maxpool_bwd_call, NULL, &a);
}

static int op_avgpool_global_fwd(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    size_t nx = oc_n(r, N, C, HW, 1), ny = oc_n(r, N, C, 1, 1);
    float *x = OC_F(r, nx), *y = OC_F(r, ny);
    double *xd = OC_D(r, nx), *yd = OC_D(r, ny);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, x, nx, -1, 1);
    oc_uniform(r, y, ny, -100, 100);
    oc_to_double(x, xd, nx);
    pool_args a = {.N = N, .C = C, .HW = HW, .x = x, .y = y};
    oc_exec(r, avgpool_fwd_call, &a);
    ref_avgpool_global_fwd(N, C, HW, xd, yd);
    oc_tol(r, 2 * EPS32, 1e-6); /* a sum of HW values <= 1, divided by HW */
    oc_cmp(r, y, yd, ny);
    r->out->cost = sg_cost_avgpool_global_fwd(N, C, HW);
    return oc_finish(r, avgpool_fwd_call, NULL, &a);
}

static int op_avgpool_global_bwd(oc_run *r) {
    int N = oc_p(r, "N"), C = oc_p(r, "C"), HW = oc_p(r, "HW");
    size_t nx = oc_n(r, N, C, HW, 1), ny = oc_n(r, N, C, 1, 1);
    float *dy = OC_F(r, ny), *dx = OC_F(r, nx);
    double *dyd = OC_D(r, ny), *dxd = OC_D(r, nx);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, dy, ny, -1, 1);
    oc_uniform(r, dx, nx, -100, 100);
    oc_to_double(dy, dyd, ny);
    pool_args a = {.N = N, .C = C, .HW = HW, .dy = dy, .dx = dx};
    oc_exec(r, avgpool_bwd_call, &a);
    ref_avgpool_global_bwd(N, C, HW, dyd, dxd);
    oc_tol(r, 0, 2 * EPS32); /* dy/HW or dy*(1/HW): at most two roundings */
    oc_cmp(r, dx, dxd, nx);
    r->out->cost = sg_cost_avgpool_global_bwd(N, C, HW);
    return oc_finish(r, avgpool_bwd_call, NULL, &a);
}

/* ---- loss ------------------------------------------------------------------------------------ */

typedef struct {
    int N, D, normalize;
    float scale;
    const float *p, *z;
    float *loss, *dp, *dz;
} loss_args;

static void pair_loss_fwd_call(const sg_backend *be, void *q) {
    loss_args *a = q;
    be->pair_loss_fwd(be, a->N, a->D, a->normalize, OC_DEV(a->p), OC_DEV(a->z), OC_DEV(a->loss));
}
static void pair_loss_bwd_call(const sg_backend *be, void *q) {
    loss_args *a = q;
    be->pair_loss_bwd(be, a->N, a->D, a->normalize, OC_DEV(a->p), OC_DEV(a->z), a->scale,
                      OC_DEV(a->dp), OC_DEV(a->dz));
}

static int op_pair_loss(oc_run *r, int bwd) {
    int N = oc_p(r, "N"), D = oc_p(r, "D"), normalize = oc_p(r, "normalize");
    int want_dz = bwd ? oc_p(r, "dz") : 0;
    size_t n = oc_n(r, N, D, 1, 1);
    float *p = OC_F(r, n), *z = OC_F(r, n), *loss = OC_F(r, (size_t)N), *dp = OC_F(r, n),
          *dz = OC_F(r, n);
    double *pd = OC_D(r, n), *zd = OC_D(r, n), *lossd = OC_D(r, (size_t)N), *dpd = OC_D(r, n),
           *dzd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, p, n, -1, 1);
    oc_uniform(r, z, n, -1, 1);
    oc_uniform(r, loss, (size_t)N, -100, 100);
    oc_uniform(r, dp, n, -100, 100);
    oc_uniform(r, dz, n, -100, 100);
    oc_to_double(p, pd, n);
    oc_to_double(z, zd, n);
    loss_args a = {.N = N,
                   .D = D,
                   .normalize = normalize,
                   .scale = 1.0f / (float)N,
                   .p = p,
                   .z = z,
                   .loss = loss,
                   .dp = dp,
                   .dz = want_dz ? dz : NULL};
    /* rows are sums of D terms: |p|^2, |z|^2 and p.z of size <= 1 (or (p-z)^2 <= 4) */
    double scale = normalize ? 1.0 : 4.0;
    if (!bwd) {
        oc_exec(r, pair_loss_fwd_call, &a);
        ref_pair_loss_fwd(N, D, normalize, pd, zd, lossd);
        oc_tol(r, 2 * EPS32 * scale * D, 1e-6);
        oc_cmp(r, loss, lossd, (size_t)N);
        r->out->cost = sg_cost_pair_loss_fwd(N, D);
        return oc_finish(r, pair_loss_fwd_call, NULL, &a);
    }
    oc_exec(r, pair_loss_bwd_call, &a);
    ref_pair_loss_bwd(N, D, normalize, pd, zd, (double)a.scale, dpd, want_dz ? dzd : NULL);
    /* each gradient element is scale * (a few row sums) of the same size */
    oc_tol(r, 2 * EPS32 * scale * D * a.scale * 4, 1e-5);
    oc_cmp(r, dp, dpd, n);
    if (want_dz) oc_cmp(r, dz, dzd, n);
    r->out->cost = sg_cost_pair_loss_bwd(N, D, want_dz);
    return oc_finish(r, pair_loss_bwd_call, NULL, &a);
}
static int op_pair_loss_fwd(oc_run *r) { return op_pair_loss(r, 0); }
static int op_pair_loss_bwd(oc_run *r) { return op_pair_loss(r, 1); }

/* ---- optimiser and EMA ----------------------------------------------------------------------- */

#define OC_MAX_GROUPS 256 /* a real LARS step has one group per tensor (~70 for ResNet-18) */

typedef struct {
    int ngroups;
    sg_sgd_group groups[OC_MAX_GROUPS];
    float momentum;
} sgd_args;

static void sgd_call(const sg_backend *be, void *p) {
    sgd_args *a = p;
    sg_sgd_group g[OC_MAX_GROUPS]; /* the table is host memory; its buffers the backend's */
    for (int k = 0; k < a->ngroups; k++) {
        g[k] = a->groups[k];
        g[k].w = OC_DEV(g[k].w), g[k].g = OC_DEV(g[k].g), g[k].m = OC_DEV(g[k].m);
    }
    be->sgd_step(be, a->ngroups, g, a->momentum);
}

/* n parameters split into `groups` contiguous groups with their own lr and weight decay (one
 * without decay, as a predictor group may be). */
static int op_sgd_step(oc_run *r) {
    int n = oc_p(r, "n"), ngroups = oc_p(r, "groups");
    if (ngroups > n) return oc_bad_shape(r, "every group needs at least one parameter");
    size_t nn = (size_t)n;
    float *w = OC_F(r, nn), *g = OC_F(r, nn), *m = OC_F(r, nn);
    double *wd = OC_D(r, nn), *gd = OC_D(r, nn), *md = OC_D(r, nn);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, w, nn, -1, 1);
    oc_uniform(r, g, nn, -1, 1);
    oc_uniform(r, m, nn, -1, 1);
    oc_to_double(w, wd, nn);
    oc_to_double(g, gd, nn);
    oc_to_double(m, md, nn);
    sgd_args a = {.ngroups = ngroups, .momentum = 0.9f};
    ref_sgd_group rg[OC_MAX_GROUPS];
    size_t at = 0;
    for (int k = 0; k < ngroups; k++) {
        size_t len = nn / (size_t)ngroups + ((size_t)k < nn % (size_t)ngroups);
        float lr = 0.03f * (float)(k + 1), wdecay = (k == 1) ? 0.0f : 5e-4f * (float)(k + 1);
        a.groups[k] = (sg_sgd_group){w + at, g + at, m + at, len, lr, wdecay};
        rg[k] = (ref_sgd_group){wd + at, gd + at, md + at, len, lr, wdecay};
        at += len;
    }
    oc_exec(r, sgd_call, &a);
    ref_sgd_step(ngroups, rg, (double)a.momentum);
    oc_tol(r, 4 * EPS32, 4 * EPS32); /* three dependent roundings per element */
    oc_cmp(r, w, wd, nn);
    oc_cmp(r, m, md, nn);
    r->out->cost = sg_cost_sgd_step(nn);
    return oc_finish(r, sgd_call, NULL, &a);
}

typedef struct {
    int ngroups;
    sg_lars_group groups[OC_MAX_GROUPS];
    float lr, momentum, eta;
} lars_args;

static void lars_call(const sg_backend *be, void *p) {
    lars_args *a = p;
    sg_lars_group g[OC_MAX_GROUPS];
    for (int k = 0; k < a->ngroups; k++) {
        g[k] = a->groups[k];
        g[k].w = OC_DEV(g[k].w), g[k].g = OC_DEV(g[k].g), g[k].m = OC_DEV(g[k].m);
    }
    be->lars_step(be, a->ngroups, g, a->lr, a->momentum, a->eta);
}

/* n parameters in `groups` tensors; every third tensor excluded from adaptation (a bias). */
static int op_lars_step(oc_run *r) {
    int n = oc_p(r, "n"), ngroups = oc_p(r, "groups");
    if (ngroups > n) return oc_bad_shape(r, "every group needs at least one parameter");
    size_t nn = (size_t)n;
    float *w = OC_F(r, nn), *g = OC_F(r, nn), *m = OC_F(r, nn);
    double *wd = OC_D(r, nn), *gd = OC_D(r, nn), *md = OC_D(r, nn);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, w, nn, -1, 1);
    oc_uniform(r, g, nn, -1, 1);
    oc_uniform(r, m, nn, -1, 1);
    oc_to_double(w, wd, nn);
    oc_to_double(g, gd, nn);
    oc_to_double(m, md, nn);
    lars_args a = {.ngroups = ngroups, .lr = 0.2f, .momentum = 0.9f, .eta = 0.001f};
    ref_lars_group rg[OC_MAX_GROUPS];
    size_t at = 0;
    for (int k = 0; k < ngroups; k++) {
        size_t len = nn / (size_t)ngroups + ((size_t)k < nn % (size_t)ngroups);
        int adapt = k % 3 != 2;
        a.groups[k] = (sg_lars_group){w + at, g + at, m + at, len, 1.5e-6f, adapt};
        rg[k] = (ref_lars_group){wd + at, gd + at, md + at, len, 1.5e-6f, adapt};
        at += len;
    }
    oc_exec(r, lars_call, &a);
    ref_lars_step(ngroups, rg, (double)a.lr, (double)a.momentum, (double)a.eta);
    oc_tol(r, 8 * EPS32, 8 * EPS32); /* the trust ratio adds a few roundings */
    oc_cmp(r, w, wd, nn);
    oc_cmp(r, m, md, nn);
    r->out->cost = sg_cost_lars_step(nn);
    return oc_finish(r, lars_call, NULL, &a);
}

typedef struct {
    size_t n;
    float m;
    const float *online;
    float *target;
} ema_args;

static void ema_call(const sg_backend *be, void *p) {
    ema_args *a = p;
    be->ema_update(be, a->n, a->m, OC_DEV(a->online), OC_DEV(a->target));
}

static int op_ema_update(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    float *online = OC_F(r, n), *target = OC_F(r, n);
    double *od = OC_D(r, n), *td = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, online, n, -1, 1);
    oc_uniform(r, target, n, -1, 1);
    oc_to_double(online, od, n);
    oc_to_double(target, td, n);
    ema_args a = {.n = n, .m = 0.996f, .online = online, .target = target};
    oc_exec(r, ema_call, &a);
    ref_ema_update(n, (double)a.m, od, td);
    oc_tol(r, 2 * EPS32, 2 * EPS32); /* m*t + (1-m)*o: a few roundings of values <= 1 */
    oc_cmp(r, target, td, n);
    r->out->cost = sg_cost_ema_update(n);
    return oc_finish(r, ema_call, NULL, &a);
}

/* ---- DirectPred / DirectCopy ----------------------------------------------------------------- */

typedef struct {
    int N, D, init, center, ret;
    float rho;
    const float *f, *V, *p, *A0;
    float *F, *work, *A, *w, *W;
    void *ws;
} eig_args;

static void corr_call(const sg_backend *be, void *q) {
    eig_args *a = q;
    be->corr_update(be, a->N, a->D, OC_DEV(a->f), a->rho, a->init, a->center, OC_DEV(a->F),
                    OC_DEV(a->work));
}

/* F starts as a random symmetric matrix (the running estimate) so rho is exercised; f has a
 * nonzero mean so centring matters. */
static int op_corr_update(oc_run *r) {
    int N = oc_p(r, "N"), D = oc_p(r, "D"), init = oc_p(r, "init"), center = oc_p(r, "center");
    size_t nf = oc_n(r, N, D, 1, 1), nF = oc_n(r, D, D, 1, 1);
    float *f = OC_F(r, nf), *F = OC_F(r, nF), *work = OC_F(r, (size_t)D);
    double *fd = OC_D(r, nf), *Fd = OC_D(r, nF);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, f, nf, -0.5f, 1);
    oc_symmetric(r, F, D, -1, 1);
    oc_uniform(r, work, (size_t)D, -100, 100);
    oc_to_double(f, fd, nf);
    oc_to_double(F, Fd, nF);
    eig_args a = {
        .N = N, .D = D, .init = init, .center = center, .rho = 0.3f, .f = f, .F = F, .work = work};
    oc_exec(r, corr_call, &a);
    ref_corr_update(N, D, fd, (double)a.rho, init, center, Fd);
    oc_tol(r, 2 * EPS32 * (N + 2), 1e-6); /* sums of N products <= 1, then the blend */
    oc_cmp(r, F, Fd, nF);
    r->out->cost = sg_cost_corr_update(N, D);
    return oc_finish(r, corr_call, NULL, &a);
}

static void syevd_call(const sg_backend *be, void *q) {
    eig_args *a = q;
    a->ret = be->syevd(be, a->D, OC_DEV(a->A), OC_DEV(a->w), OC_DEV(a->ws));
}
static void syevd_restore(const sg_backend *be, void *q) {
    (void)be;
    eig_args *a = q;
    be->mem_copy(be, OC_DEV(a->A), OC_DEV(a->A0), sizeof(float) * (size_t)a->D * (size_t)a->D);
}

/* A = B B^T / D (symmetric, eigenvalues in about [0, 4/3], distinct). Eigenvector signs are
 * arbitrary, so the output is checked for what it must satisfy: eigenvalues ascending and equal
 * to the reference's, V^T diag(w) V = A, and V V^T = I, all in double from the float outputs. */
static int op_syevd(oc_run *r) {
    int D = oc_p(r, "D");
    size_t nA = oc_n(r, D, D, 1, 1);
    size_t ws_bytes = r->be->syevd_workspace_bytes(r->be, D);
    float *B = OC_F(r, nA), *A0 = OC_F(r, nA), *A = OC_F(r, nA), *w = OC_F(r, (size_t)D);
    double *Ad = OC_D(r, nA), *wd = OC_D(r, (size_t)D), *recon = OC_D(r, nA), *gram = OC_D(r, nA),
           *ident = OC_D(r, nA);
    void *ws = oc_alloc(r, ws_bytes, 1);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, B, nA, -1, 1);
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += (double)B[(size_t)i * D + k] * B[(size_t)j * D + k];
            A0[(size_t)i * D + j] = A0[(size_t)j * D + i] = (float)(s / D);
        }
    memcpy(A, A0, sizeof(float) * nA);
    oc_uniform(r, w, (size_t)D, -100, 100);
    oc_to_double(A0, Ad, nA);
    eig_args a = {.D = D, .A0 = A0, .A = A, .w = w, .ws = ws};
    oc_exec(r, syevd_call, &a);
    ref_syevd(D, Ad, wd);
    /* The float solver's backward error is O(D eps ||A||), ||A|| <= ~4/3; same for V V^T - I. */
    oc_tol(r, 4 * EPS32 * D, 0);
    if (a.ret != 0) oc_worse(r, INFINITY);
    for (int j = 1; j < D; j++)
        if (!(w[j - 1] <= w[j])) oc_worse(r, INFINITY);
    oc_cmp(r, w, wd, (size_t)D);
    oc_to_double(A0, Ad, nA);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double rs = 0, gs = 0;
            for (int k = 0; k < D; k++) {
                rs += (double)w[k] * A[(size_t)k * D + i] * A[(size_t)k * D + j];
                gs += (double)A[(size_t)i * D + k] * A[(size_t)j * D + k];
            }
            recon[(size_t)i * D + j] = rs;
            gram[(size_t)i * D + j] = gs;
            ident[(size_t)i * D + j] = i == j;
        }
    oc_cmp_dd(r, recon, Ad, nA);
    oc_cmp_dd(r, gram, ident, nA);
    r->out->cost = sg_cost_syevd(D);
    return oc_finish(r, syevd_call, syevd_restore, &a);
}

static void eig_rebuild_call(const sg_backend *be, void *q) {
    eig_args *a = q;
    be->eig_rebuild(be, a->D, OC_DEV(a->V), OC_DEV(a->p), OC_DEV(a->W), OC_DEV(a->work));
}

/* Any V works (the formula holds for any rows), so V is random. */
static int op_eig_rebuild(oc_run *r) {
    int D = oc_p(r, "D");
    size_t nV = oc_n(r, D, D, 1, 1);
    float *V = OC_F(r, nV), *p = OC_F(r, (size_t)D), *W = OC_F(r, nV), *work = OC_F(r, nV);
    double *Vd = OC_D(r, nV), *pd = OC_D(r, (size_t)D), *Wd = OC_D(r, nV);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, V, nV, -1, 1);
    oc_uniform(r, p, (size_t)D, 0, 1);
    oc_uniform(r, W, nV, -100, 100);
    oc_uniform(r, work, nV, -100, 100);
    oc_to_double(V, Vd, nV);
    oc_to_double(p, pd, (size_t)D);
    eig_args a = {.D = D, .V = V, .p = p, .W = W, .work = work};
    oc_exec(r, eig_rebuild_call, &a);
    ref_eig_rebuild(D, Vd, pd, Wd);
    oc_tol(r, 2 * EPS32 * D, 1e-6); /* sums of D products <= 1 */
    oc_cmp(r, W, Wd, nV);
    r->out->cost = sg_cost_eig_rebuild(D);
    return oc_finish(r, eig_rebuild_call, NULL, &a);
}

/* ---- augmentation ------------------------------------------------------------------------------
 * kernels.h has no sg_cost_* for these; the cost follows its convention (each input read once,
 * each output written once), counting the arithmetic per output element noted at each op. */

static sg_cost oc_cost(double flops, double bytes) {
    sg_cost c = {flops, bytes};
    return c;
}

typedef struct {
    size_t n;
    int C, H, W, HW, outH, outW, ksize;
    float y0, x0, h, w, b, c, s, hue, sigma, threshold;
    int order[4];
    const uint8_t *u8;
    const float *src, *mean, *std, *img0;
    float *dst, *img, *work;
} aug_args;

static void aug_u8_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_u8_to_float(be, a->n, OC_DEV(a->u8), OC_DEV(a->dst));
}
static void aug_crop_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_resized_crop(be, a->C, a->H, a->W, OC_DEV(a->src), a->y0, a->x0, a->h, a->w, a->outH,
                         a->outW, OC_DEV(a->dst));
}
static void aug_hflip_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_hflip(be, a->C, a->H, a->W, OC_DEV(a->src), OC_DEV(a->dst));
}
static void aug_jitter_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_color_jitter(be, a->H, a->W, OC_DEV(a->img), a->b, a->c, a->s, a->hue, a->order);
}
static void aug_gray_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_grayscale(be, a->H, a->W, OC_DEV(a->img));
}
static void aug_blur_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_gaussian_blur(be, a->C, a->H, a->W, OC_DEV(a->src), OC_DEV(a->dst), a->ksize, a->sigma,
                          OC_DEV(a->work));
}
static void aug_solarize_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_solarize(be, a->n, OC_DEV(a->img), a->threshold);
}
static void aug_normalize_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    be->aug_normalize(be, a->C, a->HW, OC_DEV(a->img), a->mean, a->std);
}
/* The in-place ops that would drift under repetition start each timed call from the input. */
static void aug_restore_img(const sg_backend *be, void *p) {
    (void)be;
    aug_args *a = p;
    be->mem_copy(be, OC_DEV(a->img), OC_DEV(a->img0), sizeof(float) * a->n);
}

static int op_aug_u8_to_float(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    uint8_t *src = oc_alloc(r, n, 1);
    float *dst = OC_F(r, n);
    double *dstd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    sg_rng g = oc_stream(r);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(sg_rng_u32(&g) >> 24);
    oc_uniform(r, dst, n, -100, 100);
    aug_args a = {.n = n, .u8 = src, .dst = dst};
    oc_exec(r, aug_u8_call, &a);
    ref_aug_u8_to_float(n, src, dstd);
    oc_tol(r, 0, 2 * EPS32); /* x/255 or x*(1/255.f): at most two roundings */
    oc_cmp(r, dst, dstd, n);
    r->out->cost = oc_cost((double)n, 5.0 * n); /* one division per element */
    return oc_finish(r, aug_u8_call, NULL, &a);
}

/* The crop box is drawn from the seed with integer corners, as RandomResizedCrop draws it. */
static int op_aug_resized_crop(oc_run *r) {
    int C = oc_p(r, "C"), H = oc_p(r, "H"), W = oc_p(r, "W");
    int outH = oc_p(r, "outH"), outW = oc_p(r, "outW");
    size_t nsrc = oc_n(r, C, H, W, 1), ndst = oc_n(r, C, outH, outW, 1);
    float *src = OC_F(r, nsrc), *dst = OC_F(r, ndst);
    double *srcd = OC_D(r, nsrc), *dstd = OC_D(r, ndst);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, src, nsrc, 0, 1);
    oc_uniform(r, dst, ndst, -100, 100);
    oc_to_double(src, srcd, nsrc);
    sg_rng g = oc_stream(r);
    int h = 1 + (int)sg_rng_below(&g, (uint32_t)H), w = 1 + (int)sg_rng_below(&g, (uint32_t)W);
    int y0 = (int)sg_rng_below(&g, (uint32_t)(H - h + 1));
    int x0 = (int)sg_rng_below(&g, (uint32_t)(W - w + 1));
    aug_args a = {.C = C,
                  .H = H,
                  .W = W,
                  .src = src,
                  .y0 = (float)y0,
                  .x0 = (float)x0,
                  .h = (float)h,
                  .w = (float)w,
                  .outH = outH,
                  .outW = outW,
                  .dst = dst};
    oc_exec(r, aug_crop_call, &a);
    ref_aug_resized_crop(C, H, W, srcd, y0, x0, h, w, outH, outW, dstd);
    /* sampling coordinates in float are off by a few ulps of the image size, and so are the
     * interpolation weights of neighbours that differ by <= 1 */
    int side = H > W ? H : W;
    side = side > outH ? side : outH;
    side = side > outW ? side : outW;
    oc_tol(r, 4 * EPS32 * side, 1e-5);
    oc_cmp(r, dst, dstd, ndst);
    /* 4 taps, 3 lerps (2 flops each) per output value */
    r->out->cost = oc_cost(6.0 * ndst, 4.0 * (ndst + (double)C * h * w));
    return oc_finish(r, aug_crop_call, NULL, &a);
}

/* inplace = 1: dst aliases src. */
static int op_aug_hflip(oc_run *r) {
    int C = oc_p(r, "C"), H = oc_p(r, "H"), W = oc_p(r, "W"), inplace = oc_p(r, "inplace");
    size_t n = oc_n(r, C, H, W, 1);
    float *src = OC_F(r, n), *dst = OC_F(r, n);
    double *srcd = OC_D(r, n), *dstd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, src, n, 0, 1);
    oc_uniform(r, dst, n, -100, 100);
    oc_to_double(src, srcd, n);
    aug_args a = {.C = C, .H = H, .W = W, .src = src, .dst = inplace ? src : dst};
    oc_exec(r, aug_hflip_call, &a);
    ref_aug_hflip(C, H, W, srcd, dstd);
    oc_tol(r, 0, 0); /* a copy */
    oc_cmp(r, a.dst, dstd, n);
    r->out->cost = oc_cost(0, 8.0 * n);
    return oc_finish(r, aug_hflip_call, NULL, &a);
}

/* The factors and the order are drawn from the seed over the ranges BYOL uses
 * (brightness/contrast/saturation 1 +- 0.4, hue +- 0.1). */
static int op_aug_color_jitter(oc_run *r) {
    int H = oc_p(r, "H"), W = oc_p(r, "W");
    size_t n = oc_n(r, 3, H, W, 1);
    float *img = OC_F(r, n), *img0 = OC_F(r, n);
    double *imgd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_to_double(img0, imgd, n);
    sg_rng g = oc_stream(r);
    aug_args a = {.n = n, .H = H, .W = W, .img = img, .img0 = img0};
    a.b = (float)sg_rng_uniform_range(&g, 0.6, 1.4);
    a.c = (float)sg_rng_uniform_range(&g, 0.6, 1.4);
    a.s = (float)sg_rng_uniform_range(&g, 0.6, 1.4);
    a.hue = (float)sg_rng_uniform_range(&g, -0.1, 0.1);
    for (int k = 0; k < 4; k++) a.order[k] = k;
    for (int k = 3; k > 0; k--) { /* Fisher-Yates */
        int j = (int)sg_rng_below(&g, (uint32_t)(k + 1)), t = a.order[k];
        a.order[k] = a.order[j];
        a.order[j] = t;
    }
    oc_exec(r, aug_jitter_call, &a);
    ref_aug_color_jitter(H, W, imgd, a.b, a.c, a.s, a.hue, a.order);
    /* four chained ops on values in [0,1], one of them through HSV and an image-wide mean */
    oc_tol(r, 2e-5, 1e-5);
    oc_cmp(r, img, imgd, n);
    r->out->cost = oc_cost(60.0 * n / 3, 8.0 * n); /* about 60 flops per pixel over the 4 ops */
    return oc_finish(r, aug_jitter_call, aug_restore_img, &a);
}

static int op_aug_grayscale(oc_run *r) {
    int H = oc_p(r, "H"), W = oc_p(r, "W");
    size_t n = oc_n(r, 3, H, W, 1);
    float *img = OC_F(r, n), *img0 = OC_F(r, n);
    double *imgd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_to_double(img0, imgd, n);
    aug_args a = {.n = n, .H = H, .W = W, .img = img, .img0 = img0};
    oc_exec(r, aug_gray_call, &a);
    ref_aug_grayscale(H, W, imgd);
    oc_tol(r, 4 * EPS32, 4 * EPS32); /* a 3-term weighted sum of values <= 1 */
    oc_cmp(r, img, imgd, n);
    r->out->cost = oc_cost(5.0 * n / 3, 8.0 * n); /* 3 mul + 2 add per pixel */
    return oc_finish(r, aug_gray_call, aug_restore_img, &a);
}

/* sigma drawn from the seed in [0.1, 2] (BYOL's range); reflect padding needs ksize/2 < H, W. */
static int op_aug_gaussian_blur(oc_run *r) {
    int C = oc_p(r, "C"), H = oc_p(r, "H"), W = oc_p(r, "W"), ksize = oc_p(r, "ksize");
    if (ksize % 2 == 0) return oc_bad_shape(r, "ksize must be odd");
    if (ksize / 2 >= H || ksize / 2 >= W)
        return oc_bad_shape(r, "reflect padding needs ksize/2 < H and ksize/2 < W");
    size_t n = oc_n(r, C, H, W, 1);
    float *src = OC_F(r, n), *dst = OC_F(r, n), *work = OC_F(r, n);
    double *srcd = OC_D(r, n), *dstd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, src, n, 0, 1);
    oc_uniform(r, dst, n, -100, 100);
    oc_uniform(r, work, n, -100, 100);
    oc_to_double(src, srcd, n);
    sg_rng g = oc_stream(r);
    aug_args a = {.C = C, .H = H, .W = W, .src = src, .dst = dst, .work = work, .ksize = ksize};
    a.sigma = (float)sg_rng_uniform_range(&g, 0.1, 2.0);
    oc_exec(r, aug_blur_call, &a);
    ref_aug_gaussian_blur(C, H, W, srcd, dstd, ksize, a.sigma);
    oc_tol(r, 2 * EPS32 * 2 * ksize, 1e-6); /* two passes of ksize-term weighted sums <= 1 */
    oc_cmp(r, dst, dstd, n);
    r->out->cost = oc_cost(4.0 * ksize * n, 8.0 * n); /* 2 passes, ksize FMAs each */
    return oc_finish(r, aug_blur_call, NULL, &a);
}

static int op_aug_solarize(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    float *img = OC_F(r, n), *img0 = OC_F(r, n);
    double *imgd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_to_double(img0, imgd, n);
    aug_args a = {.n = n, .img = img, .img0 = img0, .threshold = 0.5f};
    oc_exec(r, aug_solarize_call, &a);
    ref_aug_solarize(n, imgd, (double)a.threshold);
    oc_tol(r, 0, EPS32); /* 1 - x: one rounding */
    oc_cmp(r, img, imgd, n);
    r->out->cost = oc_cost((double)n, 8.0 * n);
    return oc_finish(r, aug_solarize_call, aug_restore_img, &a);
}

static int op_aug_normalize(oc_run *r) {
    int C = oc_p(r, "C"), HW = oc_p(r, "HW");
    size_t n = oc_n(r, C, HW, 1, 1);
    float *img = OC_F(r, n), *img0 = OC_F(r, n), *mean = OC_F(r, (size_t)C),
          *std = OC_F(r, (size_t)C);
    double *imgd = OC_D(r, n), *md = OC_D(r, (size_t)C), *sd = OC_D(r, (size_t)C);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_uniform(r, mean, (size_t)C, 0.3f, 0.6f);
    oc_uniform(r, std, (size_t)C, 0.2f, 0.3f);
    oc_to_double(img0, imgd, n);
    oc_to_double(mean, md, (size_t)C);
    oc_to_double(std, sd, (size_t)C);
    aug_args a = {.n = n, .C = C, .HW = HW, .img = img, .img0 = img0, .mean = mean, .std = std};
    oc_exec(r, aug_normalize_call, &a);
    ref_aug_normalize(C, HW, imgd, md, sd);
    /* (x - m)/s or (x - m)*(1/s): up to three roundings of a value <= 3 */
    oc_tol(r, 4 * EPS32, 4 * EPS32);
    oc_cmp(r, img, imgd, n);
    r->out->cost = oc_cost(2.0 * n, 8.0 * n);
    return oc_finish(r, aug_normalize_call, aug_restore_img, &a);
}

/* ---- the op list ----------------------------------------------------------------------------- */
// clang-format off

#define DIM(nm) {nm, 1, OC_DIM_MAX, OC_REQUIRED}
#define FLAG(nm, d) {nm, 0, 1, d}
#define KERNEL(f) {#f, offsetof(sg_backend, f)}
#define GEMM_PARAMS DIM("M"), DIM("N"), DIM("K"), {"ldpad", 0, 4096, 0}
#define CONV_PARAMS DIM("N"), DIM("C"), DIM("H"), DIM("W"), DIM("K"), DIM("R"), DIM("S"), \
                    DIM("stride"), {"pad", 0, OC_DIM_MAX, OC_REQUIRED}
#define POOL_PARAMS DIM("N"), DIM("C"), DIM("H"), DIM("W"), DIM("k"), DIM("stride"), \
                    {"pad", 0, OC_DIM_MAX, OC_REQUIRED}
#define CONV_SHAPE "N=2,C=5,H=9,W=11,K=6,R=3,S=3,stride=2,pad=1"
#define POOL_SHAPE "N=2,C=3,H=11,W=10,k=3,stride=2,pad=1"

/* Default shapes: small, odd sizes (no multiple of a vector width), padded strides, stride-2
 * conv with padding, overlapping pool windows; the richest mode of each op (accumulate on,
 * bias and affine on, centring on), the others reachable through the optional parameters. */
static const oc_op oc_ops[] = {
    {"gemm_nn", op_gemm, 0, {KERNEL(gemm)}, "M=37,N=29,K=43,ldpad=3", {GEMM_PARAMS}},
    {"gemm_nt", op_gemm, 1, {KERNEL(gemm)}, "M=37,N=29,K=43,ldpad=3", {GEMM_PARAMS}},
    {"gemm_tn", op_gemm, 2, {KERNEL(gemm)}, "M=37,N=29,K=43,ldpad=3", {GEMM_PARAMS}},
    {"gemm_tt", op_gemm, 3, {KERNEL(gemm)}, "M=37,N=29,K=43,ldpad=3", {GEMM_PARAMS}},
    {"linear_fwd", op_linear_fwd, 0, {KERNEL(linear_fwd)}, "N=13,In=35,Out=21",
     {DIM("N"), DIM("In"), DIM("Out"), FLAG("bias", 1)}},
    {"linear_bwd", op_linear_bwd, 0, {KERNEL(linear_bwd)}, "N=13,In=35,Out=21",
     {DIM("N"), DIM("In"), DIM("Out"), FLAG("dx", 1), FLAG("bias", 1), FLAG("acc", 1)}},
    {"conv2d_fwd", op_conv2d_fwd, 0, {KERNEL(conv2d_fwd), KERNEL(conv2d_workspace_bytes)},
     CONV_SHAPE, {CONV_PARAMS}},
    {"conv2d_bwd_data", op_conv2d_bwd_data, 0,
     {KERNEL(conv2d_bwd_data), KERNEL(conv2d_workspace_bytes)}, CONV_SHAPE, {CONV_PARAMS}},
    {"conv2d_bwd_filter", op_conv2d_bwd_filter, 0,
     {KERNEL(conv2d_bwd_filter), KERNEL(conv2d_workspace_bytes)}, CONV_SHAPE,
     {CONV_PARAMS, FLAG("acc", 1)}},
    {"batchnorm_fwd_train", op_batchnorm_fwd_train, 0, {KERNEL(batchnorm_fwd_train)},
     "N=6,C=5,HW=9", {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), FLAG("running", 1)}},
    {"batchnorm_fwd_eval", op_batchnorm_fwd_eval, 0, {KERNEL(batchnorm_fwd_eval)},
     "N=6,C=5,HW=9", {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1)}},
    {"batchnorm_bwd", op_batchnorm_bwd, 0, {KERNEL(batchnorm_bwd)},
     "N=6,C=5,HW=9", {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), FLAG("acc", 1)}},
    {"relu_fwd", op_relu_fwd, 0, {KERNEL(relu_fwd)}, "n=1001", {DIM("n"), FLAG("inplace", 0)}},
    {"relu_bwd", op_relu_bwd, 0, {KERNEL(relu_bwd)}, "n=1001", {DIM("n"), FLAG("inplace", 0)}},
    {"add_fwd", op_add_fwd, 0, {KERNEL(add_fwd)}, "n=1001", {DIM("n"), {"inplace", 0, 2, 0}}},
    {"add_bwd", op_add_bwd, 0, {KERNEL(add_bwd)}, "n=1001",
     {DIM("n"), FLAG("db", 1), FLAG("acc", 1)}},
    {"maxpool_fwd", op_maxpool_fwd, 0, {KERNEL(maxpool_fwd)}, POOL_SHAPE, {POOL_PARAMS}},
    {"maxpool_bwd", op_maxpool_bwd, 0, {KERNEL(maxpool_bwd)}, POOL_SHAPE, {POOL_PARAMS}},
    {"avgpool_global_fwd", op_avgpool_global_fwd, 0, {KERNEL(avgpool_global_fwd)},
     "N=3,C=7,HW=25", {DIM("N"), DIM("C"), DIM("HW")}},
    {"avgpool_global_bwd", op_avgpool_global_bwd, 0, {KERNEL(avgpool_global_bwd)},
     "N=3,C=7,HW=25", {DIM("N"), DIM("C"), DIM("HW")}},
    {"pair_loss_fwd", op_pair_loss_fwd, 0, {KERNEL(pair_loss_fwd)}, "N=9,D=33",
     {DIM("N"), DIM("D"), FLAG("normalize", 1)}},
    {"pair_loss_bwd", op_pair_loss_bwd, 0, {KERNEL(pair_loss_bwd)}, "N=9,D=33",
     {DIM("N"), DIM("D"), FLAG("normalize", 1), FLAG("dz", 1)}},
    {"sgd_step", op_sgd_step, 0, {KERNEL(sgd_step)}, "n=1001",
     {DIM("n"), {"groups", 1, OC_MAX_GROUPS, 2}}},
    {"lars_step", op_lars_step, 0, {KERNEL(lars_step)}, "n=1001",
     {DIM("n"), {"groups", 1, OC_MAX_GROUPS, 3}}},
    {"ema_update", op_ema_update, 0, {KERNEL(ema_update)}, "n=1001", {DIM("n")}},
    {"corr_update", op_corr_update, 0, {KERNEL(corr_update)}, "N=17,D=12",
     {DIM("N"), DIM("D"), FLAG("init", 0), FLAG("center", 1)}},
    {"syevd", op_syevd, 0, {KERNEL(syevd), KERNEL(syevd_workspace_bytes)}, "D=24",
     {{"D", 1, 8192, OC_REQUIRED}}},
    {"eig_rebuild", op_eig_rebuild, 0, {KERNEL(eig_rebuild)}, "D=24", {DIM("D")}},
    {"aug_u8_to_float", op_aug_u8_to_float, 0, {KERNEL(aug_u8_to_float)}, "n=1001", {DIM("n")}},
    {"aug_resized_crop", op_aug_resized_crop, 0, {KERNEL(aug_resized_crop)},
     "C=3,H=20,W=24,outH=16,outW=12", {DIM("C"), DIM("H"), DIM("W"), DIM("outH"), DIM("outW")}},
    {"aug_hflip", op_aug_hflip, 0, {KERNEL(aug_hflip)}, "C=3,H=7,W=9",
     {DIM("C"), DIM("H"), DIM("W"), FLAG("inplace", 0)}},
    {"aug_color_jitter", op_aug_color_jitter, 0, {KERNEL(aug_color_jitter)}, "H=12,W=10",
     {DIM("H"), DIM("W")}},
    {"aug_grayscale", op_aug_grayscale, 0, {KERNEL(aug_grayscale)}, "H=12,W=10",
     {DIM("H"), DIM("W")}},
    {"aug_gaussian_blur", op_aug_gaussian_blur, 0, {KERNEL(aug_gaussian_blur)},
     "C=3,H=12,W=14,ksize=5", {DIM("C"), DIM("H"), DIM("W"), DIM("ksize")}},
    {"aug_solarize", op_aug_solarize, 0, {KERNEL(aug_solarize)}, "n=1001", {DIM("n")}},
    {"aug_normalize", op_aug_normalize, 0, {KERNEL(aug_normalize)}, "C=3,HW=77",
     {DIM("C"), DIM("HW")}},
};
// clang-format on
#define OC_NOPS ((int)(sizeof oc_ops / sizeof oc_ops[0]))

int sg_opcheck_nops(void) { return OC_NOPS; }

const char *sg_opcheck_name(int i) {
    SG_CHECK(i >= 0 && i < OC_NOPS, "op index %d of %d", i, OC_NOPS);
    return oc_ops[i].name;
}

int sg_opcheck_find(const char *name) {
    for (int i = 0; i < OC_NOPS; i++)
        if (strcmp(oc_ops[i].name, name) == 0) return i;
    return -1;
}

int sg_opcheck_param(int i, int k, const char **name, int *lo, int *hi, int *def) {
    SG_CHECK(i >= 0 && i < OC_NOPS, "op index %d of %d", i, OC_NOPS);
    if (k < 0 || k >= OC_MAXP || !oc_ops[i].params[k].name) return 0;
    const oc_param *p = &oc_ops[i].params[k];
    *name = p->name;
    *lo = p->lo;
    *hi = p->hi;
    *def = p->def == OC_REQUIRED ? -1 : p->def;
    return 1;
}

const char *sg_opcheck_default_shape(int i) {
    SG_CHECK(i >= 0 && i < OC_NOPS, "op index %d of %d", i, OC_NOPS);
    return oc_ops[i].default_shape;
}

static void oc_params_text(const oc_op *op, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = 0;
    for (int k = 0; k < OC_MAXP && op->params[k].name && at < len; k++) {
        const oc_param *p = &op->params[k];
        int w = p->def == OC_REQUIRED
                    ? snprintf(buf + at, len - at, "%s%s", k ? "," : "", p->name)
                    : snprintf(buf + at, len - at, "%s[%s=%d]", k ? "," : "", p->name, p->def);
        if (w < 0) break;
        at += (size_t)w;
    }
}

const char *sg_opcheck_params(int i) {
    /* One text per op, built on first use (op names and parameters never change). */
    static char text[64][160];
    SG_CHECK(i >= 0 && i < OC_NOPS && OC_NOPS <= 64, "op index %d of %d", i, OC_NOPS);
    if (!text[i][0]) oc_params_text(&oc_ops[i], text[i], sizeof text[i]);
    return text[i];
}

/* "key=value,key=value" into val[] (in the op's parameter order); errors name the parameter. */
static int oc_parse_shape(const oc_op *op, const char *spec, int *val, sg_err *err) {
    char params[160];
    oc_params_text(op, params, sizeof params);
    int given[OC_MAXP] = {0};
    const char *at = spec;
    while (*at) {
        const char *end = strchr(at, ',');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        char item[96];
        if (len >= sizeof item)
            return sg_errf(err, "%s: shape item '%.40s...' is too long", op->name, at);
        memcpy(item, at, len);
        item[len] = 0;
        at += len + (end ? 1 : 0);
        char *key = item;
        while (*key == ' ') key++;
        char *eq = strchr(key, '=');
        if (!eq)
            return sg_errf(err, "%s: shape item '%s' is not key=value (parameters: %s)", op->name,
                           item, params);
        char *kend = eq;
        while (kend > key && kend[-1] == ' ') kend--;
        *kend = 0;
        const char *value = eq + 1;
        int k = 0;
        while (k < OC_MAXP && op->params[k].name && strcmp(op->params[k].name, key) != 0) k++;
        if (k == OC_MAXP || !op->params[k].name)
            return sg_errf(err, "%s: unknown shape parameter '%s' (parameters: %s)", op->name, key,
                           params);
        if (given[k]) return sg_errf(err, "%s: shape parameter '%s' is given twice", op->name, key);
        char *vend;
        long v = strtol(value, &vend, 10);
        while (*vend == ' ') vend++;
        if (vend == value || *vend || *value == 0)
            return sg_errf(err, "%s: shape parameter '%s' = '%s' is not an integer", op->name, key,
                           value);
        const oc_param *p = &op->params[k];
        if (v < p->lo || v > p->hi)
            return sg_errf(err, "%s: shape parameter '%s' = %ld is out of range [%d, %d]", op->name,
                           key, v, p->lo, p->hi);
        val[k] = (int)v;
        given[k] = 1;
        if (end && !*at) return sg_errf(err, "%s: shape '%s' ends with a comma", op->name, spec);
    }
    for (int k = 0; k < OC_MAXP && op->params[k].name; k++) {
        if (given[k]) continue;
        if (op->params[k].def == OC_REQUIRED)
            return sg_errf(err, "%s: missing shape parameter '%s' (parameters: %s)", op->name,
                           op->params[k].name, params);
        val[k] = op->params[k].def;
    }
    return 0;
}

/* The first kernel of `op` that the backend lacks (a NULL slot), or NULL. */
static const char *oc_missing_kernel(const sg_backend *be, const oc_op *op) {
    for (int k = 0; k < 2 && op->kernels[k].name; k++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)be + op->kernels[k].offset, sizeof fn);
        if (!fn) return op->kernels[k].name;
    }
    return NULL;
}

/* Parses the shape and runs op i's function on the run r (allocated by the caller). */
static int oc_start(oc_run *r, const sg_backend *be, int i, const char *shape_or_null,
                    uint64_t seed, int time_reps, int keep, sg_opcheck_result *out, sg_err *err) {
    SG_CHECK(be && out && i >= 0 && i < OC_NOPS, "op index %d of %d", i, OC_NOPS);
    const oc_op *op = &oc_ops[i];
    memset(out, 0, sizeof *out);
    out->kernel = op->name;
    const char *missing = oc_missing_kernel(be, op);
    if (missing)
        return sg_errf(err, "%s: backend '%s' has no kernel %s", op->name, be->name, missing);
    *r = (oc_run){.be = be, .op = op, .opi = i, .seed = seed, .time_reps = time_reps,
                  .keep = keep, .out = out, .err = err};
    const char *spec = shape_or_null ? shape_or_null : op->default_shape;
    if (oc_parse_shape(op, spec, r->val, err)) return -1;
    size_t at = 0;
    for (int k = 0; k < OC_MAXP && op->params[k].name && at < sizeof out->shape; k++) {
        int w = snprintf(out->shape + at, sizeof out->shape - at, "%s%s=%d", k ? "," : "",
                         op->params[k].name, r->val[k]);
        if (w < 0) break;
        at += (size_t)w;
    }
    oc_active = r;
    int rc = op->run(r);
    oc_active = NULL;
    return rc;
}

static void oc_release(oc_run *r) {
    for (int k = 0; k < r->nallocs; k++) {
        free(r->allocs[k]);
        if (r->dev[k]) r->be->mem_free(r->be, r->dev[k]);
    }
    free(r->kept_args);
    r->nallocs = 0;
    r->kept_args = NULL;
}

int sg_opcheck_run(const sg_backend *be, int i, const char *shape_or_null, uint64_t seed,
                   int time_reps, sg_opcheck_result *out, sg_err *err) {
    oc_run r;
    int rc = oc_start(&r, be, i, shape_or_null, seed, time_reps, 0, out, err);
    oc_release(&r);
    return rc;
}

struct sg_opcheck_prepared {
    oc_run r;
    sg_opcheck_result res;
    sg_err err;
};

int sg_opcheck_prepare(const sg_backend *be, int i, const char *shape_or_null, uint64_t seed,
                       sg_opcheck_prepared **prepared, sg_opcheck_result *out, sg_err *err) {
    *prepared = NULL;
    sg_opcheck_prepared *p = calloc(1, sizeof *p);
    if (!p) return sg_errf(err, "out of memory");
    int rc = oc_start(&p->r, be, i, shape_or_null, seed, 0, 1, &p->res, err);
    *out = p->res;
    if (rc == 0 && p->res.ok) {
        p->r.out = &p->res;
        p->r.err = &p->err;
        *prepared = p;
        return 0;
    }
    oc_release(&p->r);
    free(p);
    return rc;
}


double sg_opcheck_time_n(sg_opcheck_prepared *p, int n) {
    oc_run *r = &p->r;
    oc_active = r; /* the call functions translate host pointers through the active run */
    if (r->kept_restore) {
        n = 1; /* an op that overwrites its input is restored before every timed call */
        r->kept_restore(r->be, r->kept_args);
    }
    if (n < 1) n = 1;
    r->be->timer_start(r->be);
    for (int i = 0; i < n; i++) r->kept_call(r->be, r->kept_args);
    double t = r->be->timer_stop(r->be) / n;
    oc_active = NULL;
    return t;
}

int sg_opcheck_restores(const sg_opcheck_prepared *p) { return p->r.kept_restore != NULL; }

void sg_opcheck_release(sg_opcheck_prepared *p) {
    if (!p) return;
    oc_release(&p->r);
    free(p);
}
