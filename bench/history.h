/* bench/history.h: results over time and across machines (`stopgrad history`).
 *
 * One SQLite file (results/history.sqlite unless given) holds every measurement ingested from
 * the CSVs stopgrad writes, with the machine and the git commit each came from:
 *   - kernel-suite CSVs (`stopgrad bench`): one value per benchmark (kind, config, kernel,
 *     shape): its median seconds per call, with the repetitions' times as its samples and the
 *     call's FLOPs and bytes (for the roofline); rows that were not measured (status not ok)
 *     are skipped and counted;
 *   - training-results CSVs (`stopgrad train`, `stopgrad suite`): per run, probe_best and
 *     knn_acc (%) and img_per_s; the benchmark is the run's tag (its setting with the seed
 *     removed when it has no tag), so the seeds of one setting are the samples of one commit;
 *   - check CSVs (`stopgrad check`): ours_mean of every published row that has one (%). A check
 *     CSV names no commit nor machine: the caller gives them (opts commit, machine_csv).
 * The kind of a file is told by its header; anything else is refused, naming what was expected.
 *
 * A series is one benchmark's metric on one environment (machine_id, backend, threads) over
 * commits. Commits are ordered by the time of their first result (a kernel suite's time_utc, a
 * run's finished_utc, a check's time): the order the measurements were taken in, which is the
 * order of the commits for a CI that measures every commit as it lands.
 *
 * Idempotent: a file whose content was ingested before adds nothing; a run already present (its
 * run_id; a growing results CSV) is skipped, so adding a file again after it gained rows adds
 * only the new ones. Each add is one transaction (BEGIN IMMEDIATE): a failure leaves the
 * database as it was. The database is in WAL mode with a busy timeout, so concurrent writers
 * (two CI jobs) queue instead of failing. The schema is versioned (PRAGMA user_version, and
 * application_id marks the file as a stopgrad history); a database of a newer version is refused
 * with both versions named.
 *
 * Regression detection (sg_history_regress), per series, after asv's step detection in spirit
 * but with the test `stopgrad compare` already uses: for every commit k, the window of the
 * `window` commits before k against the window of k and the commits after it (at most `window`
 * each). The change is the ratio of the windows' levels (the median of the commits' medians;
 * for accuracies in %, the difference in points) and its significance the one-sided
 * Mann-Whitney U test (core/base/stats.h) over the commits' medians, the independent units
 * (repetitions of one run share its conditions: reruns of one build differ by up to 30% on a
 * shared VM). Where too few commits follow k for that test to reach alpha at all (near the
 * newest commit) it is over the windows' pooled samples (repetition times, seeds) instead,
 * which is what `stopgrad compare` does between two runs. A commit is a candidate when the change is beyond the threshold (relative for times and
 * rates, in points for accuracies) AND p < alpha. Candidates within `window` commits of each
 * other are one change; the commit where it began is the candidate tested over the commits (when
 * there is one) with the smallest p (then the largest change, then the earliest). The first `window` commits of a series only establish its
 * level: no change is placed among them. A change that makes the metric worse and is the series'
 * latest change is still there at the newest commit: an open regression, which fails the check
 * unless it began at or before the `since` commit (accepted). Changes closer than `window`
 * commits merge into one; a step at the newest commit is found when its samples alone can reach
 * p < alpha against the window before (a kernel's 9 repetitions can; one accuracy per commit
 * needs a few commits).
 */
#pragma once
#include <stdio.h>

#include "core/base/err.h"

#define SG_HISTORY_DEFAULT_DB "results/history.sqlite"
#define SG_HISTORY_SCHEMA_VERSION 1

typedef struct sg_history sg_history;

/* Opens path. create: make it (and its folders) when missing, with the current schema; else a
 * missing file is an error that says to run `stopgrad history add` first. A file that is not a
 * stopgrad history, or of a newer schema version, is refused. 0 or -1. */
int sg_history_open(sg_history **h, const char *path, int create, sg_err *err);
void sg_history_close(sg_history *h);

typedef struct {
    const char *commit;      /* the git commit of a file that names none (check CSVs) */
    const char *time_utc;    /* its time (YYYY-MM-DDTHH:MM:SSZ); NULL: now */
    const char *machine_csv; /* its machine: a `stopgrad machine --csv` file; NULL: none */
} sg_history_add_opts;

typedef struct {
    const char *kind;    /* "kernel-suite", "training-results" or "check" */
    int already;         /* 1: this content was ingested before; nothing added */
    int runs_added;      /* runs new to the database */
    int runs_present;    /* runs in the file that the database already had (skipped) */
    int values_added;    /* measurements added */
    int rows_unmeasured; /* rows without a value (status not ok, empty cells): skipped */
} sg_history_add_result;

/* Ingests one CSV in one transaction. 0 (r filled) or -1 (nothing added; err names the file,
 * and the line and column where there is one). */
int sg_history_add(sg_history *h, const char *csv_path, const sg_history_add_opts *o,
                   sg_history_add_result *r, sg_err *err);

/* The machines (with their description), the suites and sources, and the commits in order. */
int sg_history_show(sg_history *h, FILE *out, sg_err *err);

/* ---- the series --------------------------------------------------------------------------- */

typedef struct {
    char *commit, *first_utc;
} sg_hist_commit;

typedef struct {
    int commit;      /* index into sg_hist_data.commits */
    double level;    /* the median of the samples */
    double *samples; /* every value this commit has on this series (repetitions, seeds) */
    int n;
} sg_hist_point;

typedef struct {
    char *machine_id, *backend, *kind, *config, *name, *shape, *metric, *unit;
    int threads;
    int higher_is_better;
    sg_hist_point *pts; /* in commit order, one per commit that measured it */
    int npts;
} sg_hist_series;

typedef struct {
    sg_hist_commit *commits; /* in order: the oldest first */
    int ncommits;
    sg_hist_series *series; /* sorted by environment, kind, config, name, shape, metric */
    int nseries;
} sg_hist_data;

int sg_history_load(sg_history *h, sg_hist_data *d, sg_err *err);
void sg_hist_data_free(sg_hist_data *d);

/* The commit that name (a full id or an unambiguous prefix) means, or -1 with err set. */
int sg_hist_find_commit(const sg_hist_data *d, const char *name, sg_err *err);

/* "ms", "%", "img/s": the unit a chart shows; value * scale is in it. */
const char *sg_hist_display_unit(const sg_hist_series *s, double *scale);

/* ---- regressions ---------------------------------------------------------------------------- */

typedef struct {
    double threshold; /* relative change that matters for times and rates (default 0.10) */
    double points;    /* change in points that matters for accuracies in % (default 1.5) */
    double alpha;     /* significance level (default 0.01) */
    int window;       /* commits on each side of a candidate (default 8); a change needs a full
                          window before it */
    const char *since; /* changes that began at or before this commit are accepted; NULL */
} sg_regress_opts;

void sg_regress_defaults(sg_regress_opts *o);

typedef enum {
    SG_CHANGE_REGRESSION = 0, /* worse, the series' latest change: open at the newest commit */
    SG_CHANGE_ACCEPTED,       /* the same, begun at or before `since` */
    SG_CHANGE_EARLIER,        /* worse, but a later change followed */
    SG_CHANGE_IMPROVEMENT     /* better */
} sg_change_verdict;

const char *sg_change_verdict_name(sg_change_verdict v);

typedef struct {
    int series;        /* index into sg_hist_data.series */
    int at;            /* the point (of that series) where the change began */
    int commit, prev;  /* its commit, and the series' commit before it */
    double before, after; /* the windows' levels */
    double change;     /* after / before, or after - before for accuracies in % */
    double p;          /* one-sided Mann-Whitney p in the direction of the change */
    int by_commits;    /* 1: tested over the commits' medians; 0: over the pooled samples */
    int worse;
    sg_change_verdict verdict;
} sg_change;

typedef struct {
    sg_change *changes; /* by series, then commit */
    int nchanges;
    int regressions, accepted, earlier, improvements;
    int tested_series; /* series with more commits than the window: the others are not tested */
} sg_regress_result;

/* 0 (r filled), or -1 on a bad option (err names it). */
int sg_history_regress(const sg_hist_data *d, const sg_regress_opts *o, sg_regress_result *r,
                       sg_err *err);
void sg_regress_result_free(sg_regress_result *r);

/* The findings as text (a table and a summary line) and, when csv_path is set, as CSV. */
void sg_regress_print(const sg_hist_data *d, const sg_regress_opts *o, const sg_regress_result *r,
                      FILE *out);
int sg_regress_write_csv(const sg_hist_data *d, const sg_regress_result *r, const char *csv_path,
                         sg_err *err);

/* ---- the static site ------------------------------------------------------------------------ */

typedef struct {
    const char *out_dir;    /* created when missing; its pages are replaced */
    sg_regress_opts regress; /* for the regressions listed and the latest-vs-baseline verdicts */
    const char *baseline;   /* the baseline commit of the latest-results table; NULL: each
                               series' commit before its newest */
    const char *gnuplot;    /* NULL: gnuplot on PATH */
    FILE *log;              /* "wrote ..." lines; NULL: silent */
} sg_history_html_opts;

typedef struct {
    int pages;     /* benchmark pages */
    int charts;    /* SVG charts (series charts and rooflines) */
    int rooflines; /* roofline charts */
    char index_path[4200];
} sg_history_html_summary;

/* Writes DIR/index.html (machines, the regressions found, the latest results against the
 * baseline, a roofline per machine, backend and suite of the newest kernel-suite runs) and
 * DIR/bench/PAGE.html, one per benchmark or training setting, with an SVG chart per metric over
 * commits, one line per environment (gnuplot's svg terminal). Every file is written atomically.
 * 0; 1 when gnuplot is missing or fails (err says which; scripts/setup.sh installs
 * gnuplot-nox; no page is written then); -1 on a usage or input error (a bad baseline or
 * option); -2 when the database cannot be read or a file cannot be written (err names it). */
int sg_history_html(sg_history *h, const sg_history_html_opts *o, sg_history_html_summary *s,
                    sg_err *err);

/* Renders DIR/index.html to png_path with headless Chromium (Debian's chromium; chromium_exe
 * NULL: chromium or chromium-browser on PATH): width x height pixels, written atomically.
 * 0; 1 when no Chromium is installed (err says so); -2 when it ran and failed. */
int sg_history_screenshot(const char *index_html, const char *png_path, int width, int height,
                          const char *chromium_exe, sg_err *err);
