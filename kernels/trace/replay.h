/* kernels/trace/replay.h: a backend that gives any backend step graphs with CUDA's semantics.
 *
 * A training step captured as a CUDA Graph must follow the capture protocol of kernels.h's graph
 * slots: between graph_begin and graph_end nothing may wait on the backend or take memory, and a
 * launch replays every call with the arguments it was recorded with. The replaying backend wraps
 * another backend ("cpu", or a test's staged one) and implements those slots by recording calls
 * and running them again on the wrapped backend, so the protocol is checked on any machine:
 *   - outside a recording every call is forwarded as it comes;
 *   - while recording, every kernel (but syevd), mem_copy and mem_zero is recorded, not run,
 *     with its host-side tables (shapes, optimiser groups, jitter order, normalize's mean and
 *     std) copied, as a captured launch keeps its arguments; the calls that would wait or take
 *     memory (mem_upload / mem_download, sync, timers, mem_alloc / mem_free, host_alloc /
 *     host_free, syevd) end the process naming the call;
 *   - graph_launch runs the recorded calls in order on the wrapped backend.
 * host_memory is 0 whatever it wraps, so the caller moves data only through mem_upload /
 * mem_download and every host read of backend memory passes through the wrapper.
 * Not thread-safe: record and launch from one thread. */
#pragma once
#include "kernels/kernels.h"

typedef struct sg_replay sg_replay;

/* A replaying backend over inner (any backend, e.g. "cpu" or a test's staged backend): *out is
 * the backend to use, named "replay(<inner name>)"; free with sg_replay_free (graphs it made are
 * released with its graph_free). */
sg_replay *sg_replay_new(const sg_backend *inner, const sg_backend **out);
void sg_replay_free(sg_replay *r);
/* Graphs launched so far, and the calls the last ended graph holds (for tests). */
long sg_replay_launches(const sg_replay *r);
long sg_replay_graph_calls(const sg_replay *r);
