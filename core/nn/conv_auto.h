/* core/nn/conv_auto.h: conv.algo=auto, the convolution algorithm of each conv shape chosen by
 * measurement.
 *
 * For every distinct conv shape of a trunk (same shape, same choice) each algorithm the backend
 * runs at that shape in all three passes (CPU: im2col; winograd at 3x3 stride 1; dnnl when built
 * with oneDNN. CUDA: im2col; cudnn when built with cuDNN) is timed: one warm-up, then the median
 * of SG_CONV_AUTO_REPS repetitions of forward + backward-data + backward-filter together, on
 * random inputs, with the run's thread count, by the backend's timer (CUDA events on a GPU,
 * never the host clock around asynchronous work). The fastest wins; a tie goes to im2col (the
 * default's computation), so the choice is stable.
 *
 * Choices are cached in a CSV (sg_conv_auto_default_cache; conv.algo_cache overrides), one row
 * per (machine_id, build, backend, threads, shape) with the measured seconds of every algorithm.
 * Rows of another machine or build are ignored (one warning naming the file and what differs;
 * when this build writes the file it drops this machine's rows of other builds, which it never
 * trusts, so the cache does not grow with every rebuild);
 * a cache that cannot be read or written is a warning and the shapes are measured. A run records
 * its choices in its folder (the same CSV format) and a resume reads them back, so a resumed run
 * computes exactly what the uninterrupted one did, cache or no cache. */
#pragma once
#include <stddef.h>

#include "core/base/err.h"
#include "core/nn/resnet.h"
#include "kernels/kernels.h"

#define SG_CONV_AUTO_MAX 64 /* distinct conv shapes of a trunk (ResNet-50 has 20) */
#define SG_CONV_AUTO_REPS 5

/* What a cache row must match to be trusted. */
typedef struct {
    char machine_id[17];
    char build[400]; /* git commit, build type and build flags */
    char backend[32]; /* "cpu", "cuda"; "cuda:nondet" under conv.deterministic=false, where
                       * cudnn's algorithms (and so its times) are others; "cpu:gemm=dnnl"
                       * under gemm.impl=dnnl, where im2col's and Winograd's are; ":tf32" or
                       * ":bf16" under that trainer.precision */
    int threads;
} sg_conv_auto_key;

/* The key of this process's measurements on be at `threads` threads: the machine (mach, from
 * sg_machine_probe_backend), the build, the backend with what changes its times (nondet: cuDNN
 * under conv.deterministic=false; the CPU sgemm in effect, sg_cpu_get_gemm_impl; the backend's
 * precision, sg_backend_precision). */
void sg_conv_auto_key_make(sg_conv_auto_key *k, const char *machine_id, const char *git_commit,
                           const char *build_type, const char *build_flags, const sg_backend *be,
                           int threads, int nondet);

/* One shape's choice: s.algo is the algorithm chosen; sec[a] the median seconds of the three
 * passes with algorithm a, < 0 where a was not timed (the backend does not run it there;
 * sec[SG_CONV_DEFAULT] is never timed: it is im2col's computation). layers: how many conv
 * layers of the trunk have the shape (0 when unknown, e.g. read from a cache). */
typedef struct {
    sg_conv_shape s;
    double sec[SG_CONV_ALGO_COUNT];
    int layers;
} sg_conv_auto_choice;

typedef struct {
    int n;
    sg_conv_auto_choice c[SG_CONV_AUTO_MAX];
} sg_conv_auto_table;

/* Seconds of the three passes at s with algorithm s->algo: the timer the chooser calls (tests
 * inject their own). sg_conv_auto_time is the real one: a warm-up, then the median of
 * SG_CONV_AUTO_REPS repetitions; < 0 when it cannot run (out of memory). */
typedef double (*sg_conv_auto_timer)(void *ctx, const sg_backend *be, const sg_conv_shape *s);
double sg_conv_auto_time(void *ctx, const sg_backend *be, const sg_conv_shape *s);

/* The algorithm to run given the times sec[] (< 0: not timed): the fastest; im2col on a tie or
 * when nothing was timed. */
sg_conv_algo sg_conv_auto_pick(const double sec[SG_CONV_ALGO_COUNT]);

/* The distinct conv shapes of the trunk `spec` at batch N into t (algo left at the default,
 * layers counted), in build order. -1 with the message when the trunk cannot be built. */
int sg_conv_auto_shapes(const sg_resnet_spec *spec, int N, const sg_backend *be,
                        sg_conv_auto_table *t, sg_err *err);

/* Fills the choice of every shape of t: from the cache at cache_path (rows matching key) where
 * it has one, else by timing with `timer` (NULL: sg_conv_auto_time), then writes the cache back
 * (other rows kept). cache_path NULL or "": no cache. Cache trouble is a warning, never an
 * error. Returns the number of shapes measured. */
int sg_conv_auto_choose(const sg_backend *be, sg_conv_auto_table *t, const sg_conv_auto_key *key,
                        const char *cache_path, sg_conv_auto_timer timer, void *ctx);

/* Timer calls made in this process (tests: a cached choice measures nothing). */
long sg_conv_auto_timer_calls(void);

/* The choice recorded for shape s (its algo ignored), or NULL. */
const sg_conv_auto_choice *sg_conv_auto_find(const sg_conv_auto_table *t, const sg_conv_shape *s);

/* A run's record of its choices (RUN_DIR/conv-algo.csv), written atomically and read back. The
 * reader fills t from the file; errors name the file and the line. */
int sg_conv_auto_write_run(const char *path, const sg_conv_auto_table *t,
                           const sg_conv_auto_key *key, sg_err *err);
int sg_conv_auto_read_run(const char *path, sg_conv_auto_table *t, sg_err *err);

/* "$XDG_CACHE_HOME/stopgrad/conv-algo.csv", else "$HOME/.cache/stopgrad/conv-algo.csv", else
 * "" (no cache). */
void sg_conv_auto_default_cache(char *buf, size_t cap);

/* Per-layer summary "im2col:5,winograd:12" of the algorithms of a trunk's conv layers (names
 * in enum order, only those used). */
void sg_conv_auto_summary(const sg_resnet *net, char *buf, size_t cap);
