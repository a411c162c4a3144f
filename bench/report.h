/* bench/report.h: several kernel-suite CSVs side by side (`stopgrad report`).
 *
 * Each input is one run of `stopgrad bench` (bench/kbench.h) on some machine or backend; it
 * becomes one column, labelled "<backend> <accelerator or CPU model> (<machine_id[0:6]>)" (the
 * accelerator's name up to its first comma when the accelerator column is not empty, else the
 * CPU model without (R)/(TM)); two inputs with the same label get " #k" (k = input number).
 * Rows, in this order:
 *   - the training steps (kind step), in images/s = batch / median_s, the batch read from the
 *     shape "batch=N";
 *   - the ceilings (kind ceiling), matched by kernel only since each suite sizes them itself:
 *     sgemm in GFLOP/s, copy (any other) in GB/s; the shape cell lists the shapes seen;
 *   - the kernels (kind kernel), matched by (config, kernel, shape), in the chosen metric:
 *     GFLOP/s (gflops, default), the median time in ms (median_s) or the fraction of the
 *     machine's sgemm ceiling (frac_sgemm).
 * Row order is the order of first appearance over the inputs (the trace order of each config).
 * A cell is "-" when that input did not measure it (no such row, or an empty value) and shows
 * the status (mismatch, error, not_run) when the row is there but was not timed.
 *
 * Output, in DIR:
 *   report.md   the inputs and the table in markdown;
 *   report.dat  the chart's data (one line per chart row: panel, row, one value per input);
 *   report.gp   the gnuplot script (rerun with `gnuplot DIR/report.gp`);
 *   roofline.png, roofline.gp  the roofline (bench/roofline.h): one log-log chart per input whose
 *               run measured both ceilings, every kernel's GFLOP/s against its arithmetic
 *               intensity under that run's sgemm and copy ceilings; the markdown table gives
 *               each kernel's intensity and the fraction of the roofline it reaches per input;
 *   report.png  a grouped horizontal bar chart rendered by gnuplot (fed the script through
 *               popen; pngcairo when this gnuplot has it, else png): a panel of the steps and
 *               one of the SG_REPORT_CHART_KERNELS kernels with the largest total share of the
 *               step time (share_of_step summed over the inputs). A logarithmic axis is used when
 *               a panel's values span more than a factor 200 (CPU next to GPU).
 */
#pragma once
#include <stdio.h>

#include "core/base/err.h"

#define SG_REPORT_CHART_KERNELS 30

typedef enum { SG_REPORT_GFLOPS = 0, SG_REPORT_MEDIAN_S, SG_REPORT_FRAC_SGEMM } sg_report_metric;

/* "gflops", "median_s", "frac_sgemm" -> 0, or -1 for anything else. */
int sg_report_metric_parse(const char *name, sg_report_metric *m);

typedef struct {
    const char *const *inputs; /* kernel-suite CSVs, one column each */
    int ninputs;               /* >= 1 */
    const char *out_dir;       /* created when missing */
    sg_report_metric metric;
    int force;           /* overwrite an existing report.md / report.png */
    const char *gnuplot; /* the gnuplot executable; NULL: "gnuplot" on PATH */
    FILE *log;           /* "wrote ..." lines; NULL: silent */
} sg_report_opts;

typedef struct {
    int ncolumns;                    /* = ninputs */
    int nsteps, nceilings, nkernels; /* table rows of each kind */
    int nrows;                       /* their sum: the rows of the markdown table */
    int chart_steps, chart_kernels;  /* rows of the chart's two panels */
    int png;                         /* 1 when report.png was written */
    int roofline_charts;             /* inputs with both ceilings: charts of roofline.png */
    int roofline_points;             /* kernel points drawn over all of them */
    int roofline_png;                /* 1 when roofline.png was written */
    char md_path[4200], png_path[4200], dat_path[4200], gp_path[4200];
    char roofline_png_path[4200], roofline_gp_path[4200];
} sg_report_summary;

/* Returns 0 when report.md, report.png and (when an input has both ceilings) roofline.png were
 * written; 1 when report.md (and report.dat, report.gp, roofline.gp) were written but not the
 * PNGs: gnuplot is not installed or failed (err says which,
 * and that scripts/setup.sh installs gnuplot-nox); -1 on an input or usage error before
 * anything is written (unreadable CSV, missing column, bad cell: the file, line and column are
 * named; an existing report without force); -2 when an output file cannot be written. s may be
 * NULL. */
int sg_report_write(const sg_report_opts *o, sg_report_summary *s, sg_err *err);
