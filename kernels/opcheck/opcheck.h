/* kernels/opcheck/opcheck.h: every op of the op table (kernels/ops.h), validated against its
 * double reference on any backend.
 *
 * In the spirit of ggml's test-backend-ops: running an op allocates random inputs (the project's
 * Philox RNG, seeded; output buffers are pre-filled with random garbage, so a kernel that fails
 * to overwrite is caught), runs the backend kernel and the reference (kernels/ref/ref.h) on the
 * same inputs, and compares every output element:
 *     err_i = |got_i - ref_i| / (atol + rtol * |ref_i|)
 * max_err is the largest err_i over all outputs of the op; the op passes when max_err <= 1.
 * syevd is checked by reconstruction (V^T diag(w) V = A), orthogonality (V V^T = I) and its
 * eigenvalues, since eigenvector signs are arbitrary.
 *
 * Only a validated kernel is timed: the backend kernel alone, time_reps times, median kept, with
 * the backend's own timer. The checker is not a kernel: it mallocs its own host buffers and, on
 * a backend whose memory is not host memory, a backend mirror of each (uploaded before the call,
 * downloaded after), and sizes workspaces with the *_workspace_bytes functions.
 *
 * Ops are indexed by sg_op; shapes are the op table's text (sg_op_parse_shape): required
 * parameters (sizes) and optional ones with a default (modes such as acc=0|1, inplace=, bias=),
 * listed by sg_op_params_text. */
#pragma once
#include <stdint.h>

#include "core/base/err.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

typedef struct {
    const char *kernel; /* op name, e.g. "gemm_nt", "conv2d_fwd" */
    char shape[160];    /* every parameter, as a spec that reproduces the run */
    sg_cost cost;       /* FLOPs and bytes of one backend call */
    double max_err;     /* max_i |got - ref| / (atol + rtol*|ref|); inf for a NaN or a
                           wrong integer output (argmax) or a solver failure */
    int ok;             /* max_err <= 1 */
    double tol_atol, tol_rtol;
    double seconds_median; /* of the timed backend calls; 0 when not timed */
    int reps;              /* timed calls (0: not timed, or not validated) */
} sg_opcheck_result;


/* Runs op i on its small default shape, or on `shape_or_null` (a spec as above; every required
 * parameter must be given). Inputs are random from `seed`. When time_reps > 0 and the op
 * validated, the backend kernel alone is timed time_reps times (sg_now) and the median kept.
 * Returns 0 when the op ran (out->ok says whether it matched), -1 with `err` set when it could
 * not run: an unknown, repeated, missing or out-of-range shape parameter (named), an
 * inconsistent shape, a kernel the backend lacks, or out of memory. */
int sg_opcheck_run(const sg_backend *be, int i, const char *shape_or_null, uint64_t seed,
                   int time_reps, sg_opcheck_result *out, sg_err *err);

/* For a caller's own timing loop (the kernel suite under Google Benchmark): validates op i as
 * sg_opcheck_run does and, when it matched, keeps its buffers (already in the backend's memory)
 * in *prepared. *prepared is NULL when the op did not match (out->ok = 0) or could not run
 * (-1, err set). */
typedef struct sg_opcheck_prepared sg_opcheck_prepared;
int sg_opcheck_prepare(const sg_backend *be, int i, const char *shape_or_null, uint64_t seed,
                       sg_opcheck_prepared **prepared, sg_opcheck_result *out, sg_err *err);
/* The mean seconds of n back-to-back calls in one timed interval (n = 1 for ops that restore
 * their input): on a GPU, tiny kernels are then timed as a step runs them, queued behind each
 * other, rather than each paying a whole launch-and-synchronise round trip. */
double sg_opcheck_time_n(sg_opcheck_prepared *p, int n);
/* 1 when the op restores its input before each call (syevd, in-place augmentation). */
int sg_opcheck_restores(const sg_opcheck_prepared *p);
void sg_opcheck_release(sg_opcheck_prepared *p);
