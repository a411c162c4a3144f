/* kernels/opcheck/opcheck.c: the validate-then-time runner over the op table (see opcheck.h) and
 * the helpers the checks of each family share (opcheck_internal.h). The checks themselves are in
 * opcheck_{dense,nn,optim,aug}.c, mirroring kernels/cpu/. */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "kernels/opcheck/opcheck_internal.h"

#define OC_STREAM 0x6f70u /* Philox stream id0 of the checker ("op") */

/* ---- helpers --------------------------------------------------------------------------------- */

int oc_p(const oc_run *r, const char *name) {
    int k = sg_op_param_index((sg_op)r->opi, name);
    if (k >= 0) return r->val[k];
    SG_CHECK(0, "op %s has no parameter %s", r->op->name, name);
    return 0;
}

/* Element count of a buffer: a*b*c*d, computed in double so a huge shape cannot wrap. */
size_t oc_n(oc_run *r, double a, double b, double c, double d) {
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
void *oc_alloc_as(oc_run *r, size_t count, size_t elem, int backend) {
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

/* The run whose buffers OC_DEV translates (the checker runs one op at a time). */
static oc_run *oc_active;

/* The backend pointer for host pointer h (into any backend-visible buffer of the active run);
 * h itself on a host-memory backend, for NULL, and for host arguments that are not buffers of
 * the run (small host tables such as aug_normalize's mean and std). */
void *oc_dev(const void *h) {
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

static void oc_upload_all(oc_run *r) {
    for (int i = 0; i < r->nallocs; i++)
        if (r->dev[i]) r->be->mem_upload(r->be, r->dev[i], r->allocs[i], r->bytes[i]);
}

/* Runs the backend call for validation: inputs (and pre-filled outputs) to the backend, the call,
 * everything back to the host buffers the comparison reads. */
void oc_exec(oc_run *r, void (*call)(const sg_backend *, void *), void *args) {
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
int oc_alloc_status(oc_run *r) {
    if (r->too_large)
        return sg_errf(r->err, "%s: shape %s needs a buffer of more than %d elements", r->op->name,
                       r->out->shape, INT_MAX);
    if (r->alloc_failed)
        return sg_errf(r->err, "%s: shape %s: out of memory (a buffer of %.0f bytes)", r->op->name,
                       r->out->shape, r->failed_bytes);
    return 0;
}

/* A fresh Philox stream per buffer: (seed; checker, op, buffer number). */
sg_rng oc_stream(oc_run *r) {
    sg_rng g;
    sg_rng_init(&g, r->seed, OC_STREAM, (uint32_t)r->opi, r->next_stream++);
    return g;
}

void oc_uniform(oc_run *r, float *x, size_t n, float lo, float hi) {
    sg_rng g = oc_stream(r);
    sg_rng_fill_uniform(&g, x, (long)n, lo, hi);
}

void oc_to_double(const float *x, double *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (double)x[i];
}

/* A[D,D] symmetric: fill with uniform values, then mirror the upper triangle. */
void oc_symmetric(oc_run *r, float *A, int D, float lo, float hi) {
    oc_uniform(r, A, (size_t)D * (size_t)D, lo, hi);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) A[(size_t)i * D + j] = A[(size_t)j * D + i];
}

void oc_tol(oc_run *r, double atol, double rtol) {
    r->out->tol_atol = atol;
    r->out->tol_rtol = rtol;
}

void oc_worse(oc_run *r, double e) {
    if (isnan(e)) e = INFINITY;
    if (e > r->out->max_err) r->out->max_err = e;
}

/* Folds |got - want| / (atol + rtol |want|) of n outputs into max_err. Exact equality counts as
 * 0 even with a zero tolerance; a NaN counts as infinitely wrong. */
void oc_cmp(oc_run *r, const float *got, const double *want, size_t n) {
    double atol = r->out->tol_atol, rtol = r->out->tol_rtol;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - want[i]);
        if (diff == 0) continue;
        double tol = atol + rtol * fabs(want[i]);
        oc_worse(r, tol > 0 ? diff / tol : INFINITY);
    }
}

/* The same for outputs computed in double from the backend's (syevd's V^T diag(w) V). */
void oc_cmp_dd(oc_run *r, const double *got, const double *want, size_t n) {
    double atol = r->out->tol_atol, rtol = r->out->tol_rtol;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs(got[i] - want[i]);
        if (diff == 0) continue;
        double tol = atol + rtol * fabs(want[i]);
        oc_worse(r, tol > 0 ? diff / tol : INFINITY);
    }
}

/* Integer outputs (argmax) must match exactly. */
void oc_cmp_i32(oc_run *r, const int32_t *got, const int32_t *want, size_t n) {
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
int oc_finish_sized(oc_run *r, oc_call_fn call, oc_call_fn restore, void *args,
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

int oc_bad_shape(oc_run *r, const char *why) {
    return sg_errf(r->err, "%s: shape %s: %s", r->op->name, r->out->shape, why);
}

/* ---- the runner ------------------------------------------------------------------------------ */

/* The check of each op, from the op table's list (opcheck_internal.h declares them). */
static int (*const oc_checks[SG_OP_COUNT])(oc_run *r) = {
#define OC_CHECK_ENTRY(op, family) oc_##op,
    SG_OP_LIST(OC_CHECK_ENTRY)
#undef OC_CHECK_ENTRY
};

/* Parses the shape and runs op i's check on the run r (allocated by the caller). */
static int oc_start(oc_run *r, const sg_backend *be, int i, const char *shape_or_null,
                    uint64_t seed, int time_reps, int keep, sg_opcheck_result *out, sg_err *err) {
    SG_CHECK(be && out && i >= 0 && i < SG_OP_COUNT, "op index %d of %d", i, SG_OP_COUNT);
    const sg_op_desc *op = sg_op_get((sg_op)i);
    memset(out, 0, sizeof *out);
    out->kernel = op->name;
    *r = (oc_run){.be = be, .op = op, .opi = i, .seed = seed, .time_reps = time_reps,
                  .keep = keep, .out = out, .err = err};
    const char *spec = shape_or_null ? shape_or_null : op->default_shape;
    if (sg_op_parse_shape((sg_op)i, spec, r->val, err)) return -1;
    sg_op_format_shape((sg_op)i, r->val, out->shape, sizeof out->shape);
    const char *missing = sg_op_missing_slot(be, (sg_op)i);
    if (missing)
        return sg_errf(err, "%s: backend '%s' has no kernel %s", op->name, be->name, missing);
    if (!sg_backend_supports(be, (sg_op)i, r->val)) {
        const int ka = sg_op_param_index((sg_op)i, "algo"), kg = sg_op_param_index((sg_op)i, "gemm");
        const int kp = sg_op_param_index((sg_op)i, "prec");
        if (kp >= 0 && r->val[kp] != SG_PREC_FP32) {
            /* the precision asked for is what it does not run (the CPU runs fp32 only) */
            int v0[SG_OP_MAXP];
            memcpy(v0, r->val, sizeof v0);
            v0[kp] = SG_PREC_FP32;
            if (sg_backend_supports(be, (sg_op)i, v0))
                return sg_errf(err, "%s: backend '%s' does not run shape %s: prec=%d (%s "
                                    "products); it runs prec=0 (fp32) there",
                               op->name, be->name, out->shape, r->val[kp],
                               sg_precision_names[r->val[kp]]);
        }
        if (kg >= 0 && r->val[kg] != SG_GEMM_OPENBLAS) {
            /* the sgemm asked for is what it does not run (the CPU's oneDNN one, in builds
             * with oneDNN only) */
            int v0[SG_OP_MAXP];
            memcpy(v0, r->val, sizeof v0);
            v0[kg] = SG_GEMM_OPENBLAS;
            const char *why = "not the CPU backend";
            if (!strcmp(be->name, "cpu"))
                sg_cpu_gemm_impl_available((sg_gemm_impl)r->val[kg], &why);
            if (sg_backend_supports(be, (sg_op)i, v0))
                return sg_errf(err, "%s: backend '%s' does not run shape %s: gemm=%d (%s's sgemm) "
                                    "runs on the CPU backend where the build has oneDNN (here: "
                                    "%s); gemm=0 runs here",
                               op->name, be->name, out->shape, r->val[kg],
                               sg_gemm_impl_names[r->val[kg]], why);
        }
        if (ka < 0)
            return sg_errf(err, "%s: backend '%s' does not run shape %s", op->name, be->name,
                           out->shape);
        /* a convolution: the algorithm is what it does not run there; name those it does */
        char runs[160];
        sg_conv_algos_supported(be, (sg_op)i, r->val, runs, sizeof runs);
        return sg_errf(err, "%s: backend '%s' does not run shape %s (the %s algorithm); at this "
                            "shape it runs: %s", op->name, be->name, out->shape,
                       sg_conv_algo_names[r->val[ka]], runs[0] ? runs : "none");
    }
    oc_active = r;
    int rc = oc_checks[i](r);
    oc_active = NULL;
    /* after the check: it has rejected a shape the cost could not be computed for */
    if (rc == 0) out->cost = sg_op_cost((sg_op)i, r->val);
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
