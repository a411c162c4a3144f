/* core/nn/cudnn_algos.h: the cuDNN algorithms of a trunk's conv shapes across runs.
 *
 * The CUDA backend chooses each conv shape's three cuDNN algorithms by cuDNN's own measurement
 * on first use (kernels/cuda/cuda_backend.h, sg_cuda_cudnn_choice). A measurement is noisy, so
 * two runs could choose differently and compute different bits. Here the choices are kept:
 *   - a cache, one CSV row per (GPU name, driver version, cuDNN version, conv.deterministic,
 *     shape) with each pass's algorithm (by cuDNN's name), measured milliseconds and workspace
 *     bytes (sg_cudnn_default_cache; conv.algo=cudnn and auto on CUDA use it). A shape with a
 *     row of this key is preset from it instead of measured; rows of another GPU, driver or
 *     cuDNN are ignored with one warning naming the file and what differs; a row whose
 *     algorithms cuDNN refuses here is measured again (warning); a cache that cannot be read or
 *     written is a warning and the shapes are measured;
 *   - a run's record, RUN_DIR/cudnn-algo.csv in the same format, written when the run starts
 *     and read back by a resume, which presets exactly those algorithms (an error when one
 *     cannot run here).
 * Without a CUDA build the functions exist and return an error (sg_cudnn_usable says 0). */
#pragma once
#include <stddef.h>

#include "core/base/err.h"
#include "core/nn/conv_auto.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/kernels.h"

/* What a cache row must match to be used. */
typedef struct {
    char gpu[256];
    int driver;        /* cudaDriverGetVersion, e.g. 13000 */
    long cudnn;        /* cudnnGetVersion, e.g. 91900 */
    int deterministic; /* conv.deterministic */
} sg_cudnn_key;

typedef struct {
    sg_conv_shape s; /* the geometry; its algo is not used */
    sg_cudnn_choice c;
} sg_cudnn_entry;

typedef struct {
    int n;
    sg_cudnn_entry e[SG_CONV_AUTO_MAX];
} sg_cudnn_table;

/* How a shape is measured or preset: the device's (sg_cudnn_device_ops), or a test's. */
typedef struct {
    int (*measure)(void *ctx, const sg_conv_shape *s, sg_cudnn_choice *out, sg_err *err);
    int (*preset)(void *ctx, const sg_conv_shape *s, const int algo[SG_CUDNN_PASSES],
                  sg_err *err);
    void *ctx;
} sg_cudnn_ops;

/* 1 when be is the CUDA backend and it runs conv.algo=cudnn (the build has cuDNN and it works
 * on the device). */
int sg_cudnn_usable(const sg_backend *be);
/* sg_cuda_cudnn_choice and sg_cuda_cudnn_preset, under the backend's current
 * conv.deterministic setting. NULL in a build without CUDA. */
const sg_cudnn_ops *sg_cudnn_device_ops(void);
/* conv.deterministic for the CUDA backend's cuDNN plans made from now on
 * (sg_cuda_cudnn_set_deterministic): set before a model is built or anything measured. */
void sg_cudnn_set_deterministic(int on);
/* The device's key: its GPU name, driver and cuDNN versions, and deterministic. */
int sg_cudnn_key_of_device(sg_cudnn_key *k, int deterministic, sg_err *err);

/* The distinct conv shapes of table t (conv_auto's shape list) as a table to choose for. */
void sg_cudnn_table_of(const sg_conv_auto_table *shapes, sg_cudnn_table *t);

/* Fills every shape of t: from the cache at cache_path (rows matching key, preset through ops)
 * where it has one, else measured through ops; writes the cache back (other rows kept) when
 * something was measured. cache_path NULL or "": no cache. Returns the number of shapes
 * measured, or -1 with the reason when a measurement failed. */
int sg_cudnn_choose(sg_cudnn_table *t, const sg_cudnn_key *key, const char *cache_path,
                    const sg_cudnn_ops *ops, sg_err *err);
/* Presets every shape of t through ops: -1 naming the shape when one cannot run. */
int sg_cudnn_apply(const sg_cudnn_table *t, const sg_cudnn_ops *ops, sg_err *err);

/* A run's record, written atomically; the reader fills t and the key the record was written
 * under (every row's; a record mixing keys is an error). Errors name the file and line. */
int sg_cudnn_write_run(const char *path, const sg_cudnn_table *t, const sg_cudnn_key *key,
                       sg_err *err);
int sg_cudnn_read_run(const char *path, sg_cudnn_table *t, sg_cudnn_key *key, sg_err *err);

/* "fwd IMPLICIT_PRECOMP_GEMM 0.123 ms, bwd-data ALGO_1 ..., bwd-filter ..." for the log. */
void sg_cudnn_describe(const sg_cudnn_entry *e, char *buf, size_t cap);

/* "$XDG_CACHE_HOME/stopgrad/cudnn-algo.csv", else "$HOME/.cache/stopgrad/cudnn-algo.csv",
 * else "" (no cache). */
void sg_cudnn_default_cache(char *buf, size_t cap);
