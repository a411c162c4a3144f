/* core/harness/suite.h: suites of training runs, described as data in suites/NAME.suite.
 *
 * A suite file has one statement per line ('#' starts a comment):
 *   base = key=value key=value ...          settings shared by every run (repeatable)
 *   run NAME = key=value ...                one run (overrides on top of base)
 *   seeds = 1 2 3                           each run once per seed (trainer.seed)
 *   answers RUN = REF_ID ...                the published rows (ref_id of
 *                                           results/reference/published.csv) this run
 *                                           reproduces; `stopgrad check` compares them
 *   expect LABEL: RUNS METRIC OP TARGET [+ M | - M] [per seed]
 *                                           a claim checked on the results, where RUNS is a
 *                                           comma-separated list of run names, METRIC a results
 *                                           column (probe_best, probe_final, knn_acc,
 *                                           collapse_std, eff_rank_F, final_loss), OP < or >,
 *                                           TARGET a number or another run's name, and M a
 *                                           margin added to (or taken from) TARGET; values are
 *                                           means over seeds, or with `per seed` (TARGET a run)
 *                                           each seed's value against the same seed's TARGET,
 *                                           every seed holding: a trained network against the
 *                                           untrained one it started from.
 * Running a suite is resumable: a run whose id is already in the suite's results CSV is
 * skipped, and a run folder with a checkpoint is resumed. */
#pragma once
#include "core/base/err.h"
#include "core/base/text.h"

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
    double margin;  /* added to the target's value: `+ M` or `- M` (0 when not given) */
    int per_seed;   /* `per seed`: every seed against the same seed's target run */
} sg_suite_expect;

typedef struct {
    char name[64];
    char path[1024];
    char base[4096];
    int nruns, nseeds, nexpect;
    /* `duration = TEXT`: how long the whole suite took where it was measured, and how (machine,
     * --jobs); `suite run` prints it at the start. "" when the file does not say. */
    char duration[256];
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
 * expectation failed, -1 on an error (message in err).
 * With jobs > 1 each child process whose run trains on trainer.backend=cuda gets its own GPU:
 * CUDA_VISIBLE_DEVICES set in the child to one entry of the visible devices (the parent's
 * CUDA_VISIBLE_DEVICES when set, else the GPUs `nvidia-smi -L` lists, else left alone), the
 * child in slot k of the N running at once taking entry k modulo their number. */
int sg_suite_run_all(const sg_suite *s, const sg_suite_opts *o, sg_err *err);

/* A part of a suite: some of its runs, one of its seeds (zero: the whole suite). */
typedef struct {
    const char *only; /* comma-separated run names, or NULL: every run */
    int one_seed;     /* 1: only `seed`, which must be one of the suite's seeds */
    long seed;
} sg_suite_filter;

/* 0 when every name of f->only is a run of the suite and f->seed one of its seeds; else -1 with
 * an error naming the unknown run (and listing the valid names) or the seed (and the seeds). */
int sg_suite_filter_check(const sg_suite *s, const sg_suite_filter *f, sg_err *err);

/* The (run, seed) pairs f selects (f NULL: all) that results_csv (which may not exist yet)
 * does not hold, in the order `suite run` trains them (seed by seed, runs in file order): run
 * indices into runs[], seeds into seeds[], each of SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS
 * entries. Returns how many, or -1 with err (an unreadable results file, a bad filter). When
 * recorded is not NULL it gets how many of the suite's (run, seed) pairs, filter or not, the
 * results hold. */
int sg_suite_pending(const sg_suite *s, const sg_suite_filter *f, const char *results_csv,
                     int *runs, long *seeds, int *recorded, sg_err *err);

/* sg_suite_run_all restricted to f (NULL: the whole suite): the same claims, the same locked
 * appends, the table of everything in results.csv afterwards. The expectations decide the
 * return value (1 when one fails) only when the results hold the whole suite; a part that
 * leaves the suite incomplete returns 0 after the table and verdicts. */
int sg_suite_run_part(const sg_suite *s, const sg_suite_opts *o, const sg_suite_filter *f,
                      sg_err *err);

/* Whether run r, with extra overrides (NULL: none) on top of its settings, trains on the GPU
 * (trainer.backend=cuda); -1 with err for settings that do not apply. */
int sg_suite_run_uses_cuda(const sg_suite *s, int r, const char *extra, sg_err *err);
/* The data-parallel ranks run r trains on (its trainer.ranks; 1 for a one-process run), or -1
 * with err. A run with N > 1 is started as `mpirun -np N stopgrad train CFG` (`srun --ntasks N`
 * inside a Slurm allocation, whose array then asks for N tasks). */
int sg_suite_run_ranks(const sg_suite *s, int r, const char *extra, sg_err *err);

/* A Slurm job-array script for the (run, seed) pairs runs[i], seeds[i], i < n (n > 0): array
 * task i runs `EXE suite run SUITE_PATH --out OUT_DIR --only RUN --seed S EXTRA...`, so every
 * task takes the run's claim and appends its row under the results lock as a local runner
 * does. Paths should be absolute (the tasks start in the submit folder, maybe on another
 * machine); every word is shell-quoted. When any of the runs trains on CUDA the array asks
 * for one GPU per task (#SBATCH --gres=gpu:1: the directives of an array apply to all of its
 * tasks). The text is appended to out. */
typedef struct {
    const char *exe;        /* the stopgrad executable */
    const char *suite_path; /* the .suite file */
    const char *out_dir;    /* DIR: results.csv, runs/, and slurm/ for the tasks' logs */
    const char *extra;      /* space-separated key=value overrides for every run, or NULL */
    const char *cwd;        /* the folder the tasks start in (relative data.dir settings), or
                               NULL: the one sbatch gives them (its own by default) */
} sg_suite_slurm_opts;

int sg_suite_slurm_script(const sg_suite *s, const sg_suite_slurm_opts *o, const int *runs,
                          const long *seeds, int n, sg_sbuf *out, sg_err *err);

/* Prints the table and verdicts for an existing results file (no training). Same return codes. */
int sg_suite_report(const sg_suite *s, const char *results_csv, sg_err *err);
