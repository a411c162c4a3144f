/* kernels/opcheck/opcheck_internal.h: what the op checker's family files share (not public).
 *
 * The checker is split like the CPU backend: opcheck.c holds the runner and the helpers below,
 * and each family of kernels/ops.h has its checks in opcheck_<family>.c, one function oc_<op>
 * per op of the table (declared here from SG_OP_LIST, so an op without a check does not link).
 *
 * Every check has the same shape:
 *   1. read its shape parameters (oc_p), reject an inconsistent shape with a message;
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
 * or exact equality. Each check states its tolerance where it computes it. */
#pragma once
#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/rng.h"
#include "kernels/opcheck/opcheck.h"
#include "kernels/ops.h"

#define OC_MAXALLOC 40 /* buffers per op */
#define EPS32 ((double)FLT_EPSILON)

typedef struct oc_run oc_run;
struct oc_run {
    const sg_backend *be;
    const sg_op_desc *op;
    int opi; /* the sg_op */
    int val[SG_OP_MAXP];
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

/* One check per op of the table. */
#define OC_DECLARE(op, family) int oc_##op(oc_run *r);
SG_OP_LIST(OC_DECLARE)
#undef OC_DECLARE

/* Parameter `name` of the run's shape. */
int oc_p(const oc_run *r, const char *name);
/* Element count a*b*c*d, computed in double so a huge shape cannot wrap (0 and too_large set
 * beyond INT_MAX). */
size_t oc_n(oc_run *r, double a, double b, double c, double d);

/* Every buffer is host memory the checker fills and reads. A buffer the backend kernel sees
 * (`backend` != 0) also gets a mirror in the backend's memory when the backend is not host
 * memory (CUDA): oc_exec uploads every mirror before the call and downloads it after, and the
 * call functions pass kernels the mirror through OC_DEV. So one op table checks every backend. */
void *oc_alloc_as(oc_run *r, size_t count, size_t elem, int backend);
#define OC_F(r, n) ((float *)oc_alloc_as((r), (n), sizeof(float), 1))
#define OC_D(r, n) ((double *)oc_alloc_as((r), (n), sizeof(double), 0))
#define OC_HOST(r, n, elem) oc_alloc_as((r), (n), (elem), 0)
#define OC_BACKEND(r, n, elem) oc_alloc_as((r), (n), (elem), 1)

/* The backend pointer for host pointer h (into any backend-visible buffer of the active run);
 * h itself on a host-memory backend, for NULL, and for host arguments that are not buffers of
 * the run (small host tables such as aug_normalize's mean and std). */
void *oc_dev(const void *h);
#define OC_DEV(p) ((__typeof__(p))oc_dev(p))

/* Runs the backend call for validation: inputs (and pre-filled outputs) to the backend, the
 * call, everything back to the host buffers the comparison reads. */
void oc_exec(oc_run *r, oc_call_fn call, void *args);
/* After an op's allocations: the error to return when one of them could not be made. */
int oc_alloc_status(oc_run *r);

/* A fresh Philox stream per buffer: (seed; checker, op, buffer number). */
sg_rng oc_stream(oc_run *r);
void oc_uniform(oc_run *r, float *x, size_t n, float lo, float hi);
void oc_to_double(const float *x, double *y, size_t n);
/* A[D,D] symmetric: fill with uniform values, then mirror the upper triangle. */
void oc_symmetric(oc_run *r, float *A, int D, float lo, float hi);

void oc_tol(oc_run *r, double atol, double rtol);
/* Folds an error ratio into max_err (a NaN counts as infinitely wrong). */
void oc_worse(oc_run *r, double e);
/* Folds |got - want| / (atol + rtol |want|) of n outputs into max_err. Exact equality counts as
 * 0 even with a zero tolerance. oc_cmp_dd: outputs computed in double from the backend's;
 * oc_cmp_i32: integer outputs (argmax) must match exactly. */
void oc_cmp(oc_run *r, const float *got, const double *want, size_t n);
void oc_cmp_dd(oc_run *r, const double *got, const double *want, size_t n);
void oc_cmp_i32(oc_run *r, const int32_t *got, const int32_t *want, size_t n);

/* Sets the verdict. A validated op is then timed time_reps times (sg_opcheck_run), or kept with
 * its buffers and arguments for the caller's own timing loop (sg_opcheck_prepare). `restore`,
 * for ops that overwrite their own input, runs untimed before each timed call. */
int oc_finish_sized(oc_run *r, oc_call_fn call, oc_call_fn restore, void *args,
                    size_t args_size);
#define oc_finish(r, call, restore, args) \
    oc_finish_sized((r), (call), (restore), (args), sizeof *(args))

/* The error for a shape the op cannot run, with the reason. */
int oc_bad_shape(oc_run *r, const char *why);
