/* bench/compare.h: regression check between two kernel-suite CSVs (`stopgrad compare`).
 *
 * Rows of BASE and NEW (written by `stopgrad bench`, bench/kbench.h) are matched by
 * (kind, config, kernel, shape) for the kinds asked for (default kernel, step, eigen_update,
 * ceiling). For each pair: ratio = NEW median / BASE median (the median_s column) and, when both
 * rows carry their repetition times (rep_times_s), the one-sided Mann-Whitney p-value that NEW's
 * repetitions are slower than BASE's (core/base/stats.h). A benchmark is a REGRESSION when
 * ratio > 1 + threshold AND p < alpha: the slowdown must be both large and not explained by the
 * noise between repetitions.
 *
 * Rows without repetition times (eigen_update, step_overhead: sums of kernel medians, never
 * timed on their own) are compared by their medians only, without a test, and say so: they are
 * never a REGRESSION (a difference cannot be told from noise) but are flagged "slower,
 * untested" when over the threshold. BASE rows whose status is not ok (or with no median) are
 * skipped: there is nothing to compare against; they are counted.
 *
 * Failures (exit status 1 of the command): every REGRESSION, every BASE benchmark MISSING from
 * NEW (a regression check must not skip silently), and every benchmark that NEW ran but did not
 * measure (status mismatch, error or not_run, or no median: FAILED). A benchmark only in NEW is
 * reported as NEW and is no failure.
 *
 * When the two files come from different machines (machine_id differs) the comparison is a
 * hardware comparison, not a regression check: a warning says so and names both; it goes on.
 */
#pragma once
#include <stdio.h>

#include "core/base/err.h"

typedef enum {
    SG_CMP_REGRESSION = 0,  /* ratio > 1 + threshold and p < alpha: failure */
    SG_CMP_MISSING,         /* in BASE, not in NEW: failure */
    SG_CMP_FAILED,          /* in NEW but not measured there (status not ok): failure */
    SG_CMP_SLOWER,          /* ratio > 1 + threshold, p >= alpha: not significant */
    SG_CMP_SLOWER_UNTESTED, /* ratio > 1 + threshold, no repetitions to test */
    SG_CMP_OK,              /* within the threshold (or faster, not significantly) */
    SG_CMP_FASTER,          /* ratio < 1 / (1 + threshold), significantly (or untested) */
    SG_CMP_NEW,             /* in NEW only */
    SG_CMP_NVERDICTS
} sg_compare_verdict;

/* "REGRESSION", "MISSING", "FAILED", "slower", "slower, untested", "ok", "faster", "NEW". */
const char *sg_compare_verdict_name(sg_compare_verdict v);
/* 1 for the verdicts that fail the check (REGRESSION, MISSING, FAILED). */
int sg_compare_verdict_fails(sg_compare_verdict v);

#define SG_COMPARE_DEFAULT_KINDS "kernel,step,eigen_update,ceiling"

typedef struct {
    double threshold;    /* relative slowdown that matters, >= 0 (default 0.10) */
    double alpha;        /* significance level, in (0, 1) (default 0.01) */
    const char *kinds;   /* comma-separated kinds (default SG_COMPARE_DEFAULT_KINDS) */
    const char *csv_out; /* also write the comparison table as CSV (atomically), or NULL */
    FILE *out;           /* the table, warnings and summary line; NULL: print nothing */
} sg_compare_opts;

/* The defaults above; out = NULL, csv_out = NULL. */
void sg_compare_defaults(sg_compare_opts *o);

typedef struct {
    char kind[32], config[64], kernel[64], shape[256];
    double base_s, new_s;    /* medians in seconds (NaN when absent) */
    double ratio;            /* new_s / base_s (NaN when either is absent) */
    double p;                /* one-sided Mann-Whitney p (NaN: not tested) */
    int base_reps, new_reps; /* repetition times found (0: median only) */
    sg_compare_verdict verdict;
    char note[160]; /* why: "median only: no repetitions", "NEW status error: ..." */
} sg_compare_row;

typedef struct {
    sg_compare_row *rows; /* sorted worst first; free with sg_compare_summary_free */
    int nrows;
    int count[SG_CMP_NVERDICTS]; /* rows per verdict */
    int matched;                 /* BASE benchmarks found in NEW */
    int tested;                  /* of them, compared with the Mann-Whitney test */
    int median_only;             /* of them, compared by the medians only */
    int skipped;                 /* BASE rows in the kinds with status not ok or no median */
    int underpowered; /* tested pairs whose repetition counts cannot reach p < alpha at all */
    int failures;     /* REGRESSION + MISSING + FAILED */
    int same_machine; /* 1 when every row of both files has one machine_id */
    char base_machine[64], new_machine[64]; /* machine_id of the first row of each file */
} sg_compare_summary;

/* Reads both files, compares, prints to opts->out and writes opts->csv_out. Returns 0 when no
 * benchmark fails, 1 when some do (out filled in both cases); -1 on an input error (unreadable
 * file, missing column, bad number, duplicate benchmark, bad option) with a message naming the
 * file, line and column, or a csv_out that is one of the inputs); -2 when the comparison ran but
 * opts->csv_out could not be written (out filled). out may be NULL. */
int sg_compare_files(const char *base, const char *new_csv, const sg_compare_opts *opts,
                     sg_compare_summary *out, sg_err *err);

void sg_compare_summary_free(sg_compare_summary *s);
