/* bench/kbench.h: the kernel suite (`stopgrad bench`).
 *
 * A bench suite (suites/NAME.bench) names training configurations; the kernel list is not kept
 * by hand. For each configuration a dry tracing backend (kernels/trace/trace.h) records every
 * kernel call of one real training step (the second: the first one initialises DirectPred's F)
 * and of one augmented view, de-duplicated by (kernel, shape). Then, through Google Benchmark
 * (bench/gbench.h, manual time from the backend's own timer: CUDA events on a GPU):
 *   - the machine's ceilings measured in the same run: sgemm of a large square product and a
 *     streaming copy (bytes read + written per second);
 *   - every traced kernel, validated against its double reference on the same inputs first
 *     (kernels/opcheck/opcheck.h): a mismatch is recorded as such and never timed;
 *   - the whole training step of each configuration, with its per-kernel breakdown (calls x
 *     median of each kernel, as a share of the step) and the step's time outside kernels;
 *   - the DirectPred eigen-update (corr_update + syevd + eig_rebuild) as its own entry.
 * Results go to a CSV (results/README.md documents the columns) with the machine columns, and
 * Google Benchmark's JSON is kept (--benchmark_out) for tools/compare.py.
 *
 * Suite file, one statement per line ('#' starts a comment):
 *   base = key=value ...             training-config settings shared by every configuration
 *   config NAME = key=value ...      one traced configuration (on top of base)
 *   sgemm = N                        side of the ceiling's square sgemm (default 2048)
 *   copy_mib = N                     MiB copied by the streaming ceiling (default 256)
 */
#pragma once
#include <stddef.h>

#include "core/base/err.h"
#include "core/ssl/ssl.h"
#include "kernels/kernels.h"

#define SG_KB_MAX_CONFIGS 16
/* Longer lines, names or settings than the fields below hold are errors naming the limit. */
#define SG_KB_MAX_LINE 4095

typedef struct {
    char name[64];
    char overrides[2048];
} sg_kb_config;

typedef struct {
    char name[64];
    char path[1024];
    char base[2048];
    int nconfigs;
    sg_kb_config configs[SG_KB_MAX_CONFIGS];
    int sgemm_n;
    int copy_mib;
} sg_kb_suite;

/* name_or_path: a file, or NAME for suites_dir/NAME.bench. Errors name the file and line. */
int sg_kb_load(sg_kb_suite *s, const char *name_or_path, const char *suites_dir, sg_err *err);

typedef struct {
    const sg_backend *be;
    int threads;           /* recorded in the CSV (the CPU backend's thread count) */
    const char *filter;    /* substring of the benchmark name ("conv2d", "step/stl10"), or NULL */
    const char *configs;   /* comma-separated config names to run, or NULL for all */
    int repetitions;       /* >= 2 (9 unless asked otherwise) */
    double min_time;       /* seconds per repetition, 0: Google Benchmark's default */
    const char *csv_path;  /* results CSV (written atomically) */
    const char *json_path; /* Google Benchmark JSON, or NULL */
    int step_only;         /* time only the whole steps (and the ceilings) */
    int quiet;             /* no console table */
    int list;              /* print the traced kernels and exit, timing nothing */
    int interleave;        /* repetitions of all benchmarks in random order (Google Benchmark's
                              random interleaving): a burst of load from elsewhere then hits a
                              few repetitions of many benchmarks instead of every repetition of
                              a few, which is what a regression check on a shared machine needs;
                              keeps every benchmark's buffers in memory at once */
} sg_kb_opts;

/* Traces, validates, times and writes the CSV. Returns 0 when everything ran and validated, 1
 * when a kernel failed its validation (recorded in the CSV with status "mismatch"), -1 on an
 * error (message in err). */
int sg_kb_run(const sg_kb_suite *s, const sg_kb_opts *o, sg_err *err);

/* sel <- s with only the comma-separated configurations `configs` (NULL or "": all), each named
 * once and existing; else -1 with an error naming the one that is not. */
int sg_kb_select(const sg_kb_suite *s, const char *configs, sg_kb_suite *sel, sg_err *err);

/* The model settings of the suite's configuration i, its input channels and side, and its
 * dataset's name (static storage). Errors name the suite file and the configuration. */
int sg_kb_config_settings(const sg_kb_suite *s, int i, sg_ssl_settings *set, int *C, int *S,
                          const char **dataset, sg_err *err);

/* Under mpirun / srun (several ranks): for each configuration, the data-parallel step at the
 * configuration's batch as the global batch (each rank a slice, model.sync_bn as configured)
 * and, next to it, the sum of its gradients over the ranks (sg_ssl_reduce, the step's own
 * all-reduce) at the model's gradient size, reported as nccl-tests does: algorithm bandwidth =
 * bytes / time and bus bandwidth = algbw * 2 (N - 1) / N. Rank 0 prints and writes the CSV
 * (o->csv_path) with the machine columns. Returns 0, or -1 with the message. */
int sg_kb_dist_run(const sg_kb_suite *s, const sg_kb_opts *o, sg_err *err);

/* The CSV header of the results. */
int sg_kb_ncols(void);
const char *const *sg_kb_header(void);
