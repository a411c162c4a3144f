/* kernels/trace/trace.h: a backend that records every kernel call and forwards it.
 *
 * The kernel suite does not keep a hand-made list of shapes: it wraps the real backend in a
 * tracing backend, runs one real training step (and one augmented view) of each configuration,
 * and times what was called. Each call is recorded as its op of the op table (kernels/ops.h)
 * and the table's shape text, so a recorded kernel can be validated and timed by the checker on
 * exactly that shape. Calls are de-duplicated by (op, shape) with a count per recording.
 *
 * Memory and timer calls are forwarded unrecorded. Not thread-safe: trace one thread's work. */
#pragma once
#include "kernels/kernels.h"

typedef struct {
    char op[24];     /* op name of kernels/ops.h, e.g. "conv2d_bwd_filter", "gemm_nt" */
    char shape[160]; /* the op table's shape text */
    long calls;      /* times it was called since sg_trace_reset */
    int first;       /* order of first appearance */
} sg_trace_entry;

typedef struct sg_trace sg_trace;

/* A tracing backend over `inner`: *out is the backend to use; free with sg_trace_free.
 * inner == NULL: a dry trace that records calls without running them and without memory
 * (see trace.c), for taking the kernel list of any model on any machine. */
sg_trace *sg_trace_new(const sg_backend *inner, const sg_backend **out);
void sg_trace_free(sg_trace *t);
/* Recording on/off (starts on), and forgetting what was recorded. */
void sg_trace_enable(sg_trace *t, int on);
void sg_trace_reset(sg_trace *t);
/* The distinct (op, shape) entries recorded, in order of first call. */
int sg_trace_count(const sg_trace *t);
const sg_trace_entry *sg_trace_get(const sg_trace *t, int i);
