/* core/harness/suite.h: suites of training runs, described as data in suites/NAME.suite.
 *
 * A suite file has one statement per line ('#' starts a comment):
 *   base = key=value key=value ...          settings shared by every run (repeatable)
 *   run NAME = key=value ...                one run (overrides on top of base)
 *   seeds = 1 2 3                           each run once per seed (trainer.seed)
 *   answers RUN = REF_ID ...                the published rows (ref_id of
 *                                           results/reference/published.csv) this run
 *                                           reproduces; `stopgrad check` compares them
 *   expect LABEL: RUNS METRIC OP TARGET     a claim checked on the results, where RUNS is a
 *                                           comma-separated list of run names, METRIC a results
 *                                           column (probe_best, probe_final, knn_acc,
 *                                           collapse_std, eff_rank_F, final_loss), OP < or >,
 *                                           and TARGET a number or another run's name; values
 *                                           are means over seeds.
 * Running a suite is resumable: a run whose id is already in the suite's results CSV is
 * skipped, and a run folder with a checkpoint is resumed. */
#pragma once
#include "core/base/err.h"

#define SG_SUITE_MAX_RUNS 64
#define SG_SUITE_MAX_SEEDS 16
#define SG_SUITE_MAX_EXPECT 32
/* Longer lines, names or settings than the fields below hold are errors naming the limit. */
#define SG_SUITE_MAX_LINE 4095

typedef struct {
    char name[64];
    char overrides[2048];
    char answers[512]; /* space-separated reference rows (results/reference/published.csv ref_id) */
} sg_suite_run;

typedef struct {
    char label[64];
    char runs[512]; /* comma-separated */
    char metric[32];
    char op;        /* '<' or '>' */
    char target[64];
} sg_suite_expect;

typedef struct {
    char name[64];
    char path[1024];
    char base[4096];
    int nruns, nseeds, nexpect;
    sg_suite_run runs[SG_SUITE_MAX_RUNS];
    long seeds[SG_SUITE_MAX_SEEDS];
    sg_suite_expect expect[SG_SUITE_MAX_EXPECT];
} sg_suite;

/* name_or_path: a file path, or NAME for suites_dir/NAME.suite. Errors name the file and line. */
int sg_suite_load(sg_suite *s, const char *name_or_path, const char *suites_dir, sg_err *err);

typedef struct {
    const char *out_dir;   /* run folders and results.csv go here */
    const char *extra;     /* extra key=value overrides for every run (space-separated), or NULL */
    int quiet;
    int jobs;              /* > 1: that many runs at once in child processes, one thread each
                              (two 1-thread runs on 2 cores do about twice the work of one
                              2-thread run: the small kernels of CPU-scale models scale poorly) */
} sg_suite_opts;

/* Runs every (run, seed) not yet in out_dir/results.csv, then prints the table and the expect
 * verdicts to stdout. Returns 0 when every run finished and every expectation holds, 1 when an
 * expectation failed, -1 on an error (message in err). */
int sg_suite_run_all(const sg_suite *s, const sg_suite_opts *o, sg_err *err);

/* Prints the table and verdicts for an existing results file (no training). Same return codes. */
int sg_suite_report(const sg_suite *s, const char *results_csv, sg_err *err);
