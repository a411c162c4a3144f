/* bench/gbench.h: a C interface to Google Benchmark (1.7.1, Debian libbenchmark-dev).
 *
 * The benchmark driver stays in C: it registers benchmark functions, each of which runs the
 * timed loop `while (sg_gb_keep_running(st)) { ... }`, then calls sg_gb_run, which parses the
 * usual --benchmark_* flags, runs everything registered and hands each result row to a C
 * callback. The implementation (gbench.cc) is the project's only C++.
 *
 * Times are always nanoseconds per iteration, whatever --benchmark_time_unit says, except on
 * the "cv" aggregate row (see sg_gb_result). --benchmark_out=FILE writes Google's own JSON
 * (the format tools/compare.py reads).
 */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* err.h is plain C without its own extern "C": included here so sg_errf keeps C linkage. */
#include "core/base/err.h"

/* Opaque: a benchmark::State seen from C. Valid only inside the benchmark function. */
typedef struct sg_gb_state sg_gb_state;

typedef void (*sg_gb_fn)(sg_gb_state *st, void *user);

#define SG_GB_MAX_ARGS 4

typedef struct {
    const char *name;       /* copied at registration */
    sg_gb_fn fn;
    void *user;             /* passed to fn; must outlive every sg_gb_run */
    int64_t args[SG_GB_MAX_ARGS]; /* read in fn with sg_gb_range(st, i) */
    int nargs;              /* 0..SG_GB_MAX_ARGS */
    int manual_time;        /* 1: fn reports each iteration's time with sg_gb_set_iteration_time */
    int repetitions;        /* 0: --benchmark_repetitions decides */
    double min_time;        /* seconds; 0: --benchmark_min_time decides */
} sg_gb_spec;

/* Registers one benchmark; returns its id (0, 1, ... in registration order). A malformed spec
 * (no name or function, nargs out of range, negative repetitions or min_time) is a
 * programming error and aborts. Registered benchmarks live until the process ends. */
int sg_gb_register(const sg_gb_spec *spec);

/* The timed loop: `while (sg_gb_keep_running(st)) { work }`. Returns 0 when done. */
int sg_gb_keep_running(sg_gb_state *st);
int64_t sg_gb_range(sg_gb_state *st, int i);
/* Manual time (spec.manual_time = 1): the time of the iteration just run, e.g. from device
 * timers. Call once per loop iteration. */
void sg_gb_set_iteration_time(sg_gb_state *st, double seconds);
/* Totals over all iterations (call after the loop); reported as per-second rates. */
void sg_gb_set_bytes_processed(sg_gb_state *st, int64_t bytes);
void sg_gb_set_items_processed(sg_gb_state *st, int64_t items);
/* A user counter; is_rate: the value is divided by the run's duration (a per-second rate). */
void sg_gb_counter(sg_gb_state *st, const char *name, double value, int is_rate);
/* Records the run as failed with msg (copied) instead of timing it. Call it before the loop,
 * or inside it followed by `break`; the loop then ends at once. */
void sg_gb_skip_with_error(sg_gb_state *st, const char *msg);
void sg_gb_pause_timing(sg_gb_state *st);
void sg_gb_resume_timing(sg_gb_state *st);

#define SG_GB_MAX_COUNTERS 8

/* One result row as C sees it. */
typedef struct {
    char name[256];        /* Google's row name, e.g. "mm/64/manual_time_mean" */
    char run_type[16];     /* "iteration" or "aggregate" */
    char aggregate[16];    /* "mean", "median", "stddev", "cv" (or another statistic); "" on
                              iteration rows */
    int64_t iterations;    /* on aggregate rows: the number of repetitions (as Google reports) */
    int repetition_index;  /* 0.. on iteration rows; -1 on aggregate rows */
    /* Nanoseconds per iteration; on mean/median/stddev rows the statistic of those. NaN on the
     * "cv" row, whose statistic is not a time (cv_real/cv_cpu below). */
    double real_time_ns, cpu_time_ns;
    /* Coefficient of variation (stddev / mean) as a fraction (0.01 = 1 %), set only on the
     * "cv" row (is_cv = 1); NaN on every other row. */
    int is_cv;
    double cv_real, cv_cpu;
    /* Rates from sg_gb_set_bytes/items_processed; 0 when not set. On the cv row these and the
     * counters are themselves coefficients of variation (fractions). */
    double bytes_per_second, items_per_second;
    int error;             /* 1: sg_gb_skip_with_error was called; the times are then NaN */
    char error_message[256];
    int ncounters;         /* user counters, at most SG_GB_MAX_COUNTERS, sorted by name */
    char counter_names[SG_GB_MAX_COUNTERS][32];
    double counter_values[SG_GB_MAX_COUNTERS];
} sg_gb_result;

typedef void (*sg_gb_sink)(const sg_gb_result *r, void *user);

/* Runs the registered benchmarks. argv[0] is the program name; the rest may be Google Benchmark
 * flags (--benchmark_filter=RE, --benchmark_repetitions=N, --benchmark_min_time=S,
 * --benchmark_out=FILE, --benchmark_out_format=json|csv|console, ...). Every call starts from
 * the library's defaults (or BENCHMARK_* environment variables), so flags of an earlier call do
 * not carry over. Each result row goes to sink (may be NULL); unless quiet the usual console
 * table is printed too. Returns the number of benchmarks run, or -1 with err set on a bad flag
 * or an output file that cannot be written. */
int sg_gb_run(int argc, char **argv, sg_gb_sink sink, void *user, int quiet, sg_err *err);

#ifdef __cplusplus
}
#endif
