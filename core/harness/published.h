/* core/harness/published.h: the published-number checker behind `stopgrad check`: stopgrad's
 * results against the published numbers, row by row of results/reference/published.csv.
 *
 * Inputs:
 *  - results CSVs of `stopgrad suite run` / `stopgrad train` (the columns of
 *    sg_train_results_header(); tag, seed, dataset, epochs, probe_best and collapse_std are
 *    required). Rows are grouped by tag = "SUITE/RUN"; the same (tag, seed) twice, in one file or
 *    in two, is an input error. Rows whose tag no suite's `answers` names are ignored (counted).
 *  - every suites_dir/NAME.suite: each `answers RUN = REF_ID ...` maps reference rows to the run
 *    tagged "NAME/RUN". A ref_id the reference does not have is an input error. When several
 *    runs answer one reference row their seeds are pooled.
 *  - the reference CSV: ref_id, source, table, dataset, epochs, setting, metric, mean, std, seeds,
 *    rule (within | collapse); eval, higher_is_better and note are carried along when present.
 *
 * stopgrad's number for metric top1 is probe_best: the reference code reports the best test
 * accuracy over its linear probe's epochs. Mean and sample std over the seeds found.
 * Verdicts:
 *   PASS / FAIL   by the row's rule:
 *                 within:   |ours - published| <= max(2 * published std, 1.5) points (1.5 when
 *                           the std is not published);
 *                 collapse: ours collapsed, i.e. mean collapse_std < 0.01 or mean probe_best <
 *                           100 / classes + 5 points (10 classes for STL-10 / CIFAR-10, 100 for
 *                           CIFAR-100, 1000 for ImageNet).
 *   NOT RUN       a suite run answers the row, but no results row has its tag.
 *   UNMAPPED      no suite run answers the row.
 *   NO METRIC     results exist but not the row's metric: a metric other than top1 (stopgrad
 *                 measures top-1 only), or probe_best empty/nan in every seed.
 * Flags, on judged rows (still judged): PARTIAL-SEEDS when fewer seeds were found than the
 * published count (not judged when the count is not published); SETUP-DIFFERS when a results
 * row's dataset or epochs differ from the reference row's.
 * Never PASS without results. */
#pragma once
#include <stdio.h>

#include "core/base/err.h"

typedef enum {
    SG_PUB_PASS = 0,
    SG_PUB_FAIL,
    SG_PUB_NOT_RUN,
    SG_PUB_UNMAPPED,
    SG_PUB_NO_METRIC,
    SG_PUB_NVERDICTS
} sg_published_verdict;

const char *sg_published_verdict_name(sg_published_verdict v);

#define SG_PUB_WITHIN_FLOOR 1.5    /* points: the smallest `within` band */
#define SG_PUB_COLLAPSE_STD 0.01   /* collapse_std below this is a collapse */
#define SG_PUB_COLLAPSE_MARGIN 5.0 /* points above chance still counted as collapsed */

typedef struct {
    /* the reference row */
    char *ref_id, *source, *table, *dataset, *epochs, *setting, *metric, *rule, *eval, *note;
    double pub_mean, pub_std; /* pub_std NaN: not published */
    int pub_seeds;            /* 0: not published */
    int line;                 /* in the reference file */
    /* the answer */
    char runs[1024]; /* "SUITE/RUN" of every run answering it, space-separated */
    int nruns;
    int nresults;               /* results rows found for those runs */
    int n;                      /* seeds with a probe_best value */
    double ours_mean, ours_std; /* probe_best; NaN when n = 0 (std: n < 2) */
    double ours_collapse_std;   /* mean collapse_std over the seeds that have it; NaN: none */
    double diff;                /* ours - published; NaN when not judged */
    double tolerance;           /* within: the band; collapse: the probe threshold */
    int collapsed;              /* collapse rule: whether ours collapsed */
    char ours_setup[160];       /* "stl10, 100 epochs" (distinct values of the results rows) */
    sg_published_verdict verdict;
    int partial_seeds, setup_differs;
} sg_published_row;

typedef struct {
    sg_published_row *rows;
    int nrows;
    int count[SG_PUB_NVERDICTS];
    int npartial, nsetup;
    int nfiles;           /* results files read */
    long nresult_rows;    /* rows in them */
    long nignored;        /* of which no suite's answers name the tag */
    int nsuites;          /* suite files loaded */
    char reference[4096]; /* the reference file's path */
} sg_published;

typedef struct {
    const char *const *results; /* results CSVs; may be empty (everything NOT RUN / UNMAPPED) */
    int nresults;
    const char *suites_dir; /* every *.suite in it */
    const char *reference;  /* published.csv */
} sg_published_inputs;

/* Reads everything and judges every reference row. -1 on an input error (file, line and column
 * named in err). c is freed with sg_published_free in either case. */
int sg_published_compute(const sg_published_inputs *in, sg_published *c, sg_err *err);
void sg_published_free(sg_published *c);

/* The table (one line per reference row, aligned) and the summary line. */
void sg_published_print(const sg_published *c, FILE *f);
void sg_published_print_summary(const sg_published *c, FILE *f);

typedef struct {
    const char *out_dir; /* created when missing */
    int force;           /* overwrite existing check.csv / check.md / check.png */
    const char *gnuplot; /* the executable; NULL: "gnuplot" on PATH */
    FILE *log;           /* "wrote ..." lines; NULL: silent */
} sg_published_out_opts;

typedef struct {
    char csv_path[4200], md_path[4200], png_path[4200], dat_path[4200], gp_path[4200];
    int png;     /* 1 when check.png was written */
    int charted; /* rows drawn in the chart */
} sg_published_written;

/* Writes out_dir/check.csv (sg_csv_write_atomic), check.md (one markdown table per published
 * table), and check.png: per published table with any results, grouped horizontal bars of
 * published and ours (error bars: the stds), rendered by gnuplot through popen (pngcairo when
 * available, else png); its data and script are kept as check.dat and check.gp.
 * Returns 0 when all were written, or when no row has results (nothing to chart: no PNG, and an
 * old one is removed); 1 when the CSV and markdown were written but not the PNG (gnuplot
 * missing or failed; err says which, and that Debian's gnuplot-nox provides it); -1 when an
 * output exists and force is off (nothing written); -2 when a file cannot be written. */
int sg_published_write(const sg_published *c, const sg_published_out_opts *o, sg_published_written *w, sg_err *err);

typedef struct {
    sg_published_inputs in;
    sg_published_out_opts out;
    int list_unmapped; /* print only the unmapped ref_ids (no outputs written) */
} sg_published_opts;

/* The whole command: computes, prints (to out), writes the outputs, and returns the exit status:
 * 0 no FAIL; 1 a FAIL, or the PNG could not be made; 2 an input error or an output that cannot
 * be written (messages on errf, prefixed "stopgrad check: "). With list_unmapped: the unmapped
 * ref_ids, one per line, on out, a count line on errf; 0 when none is unmapped, else 1. */
int sg_published_run(const sg_published_opts *o, FILE *out, FILE *errf);
