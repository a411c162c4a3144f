/* core/theory/figures.h: the theory suite's figures, in the spirit of the DirectPred paper's
 * Figs. 3, 4, 5 and 7-9: phase portraits of the per-mode system with the invariant parabola and
 * fixed points; 1-D fixed-point diagrams and the p*_{+-}(eta, tau) branches; trajectories
 * varying eta and beta (EMA); ||[F, W_p]|| and spectra over time in the matrix flow; the
 * variants (SimSiam, BYOL, no stop-gradient, no predictor, symmetric W_p, DirectPred); SGD
 * against the flow.
 *
 * Every figure writes its data as CSV (DIR/figN_*.csv), a gnuplot script (DIR/figN_*.gp) that
 * reads them, and runs gnuplot (a child process) to render DIR/figN_*.png with the parameters in
 * the title. DIR/figures.csv indexes them: figure, png, data, script, caption, parameters.
 */
#pragma once

#include "core/base/err.h"

typedef struct {
    const char *out_dir; /* created if missing (with parents) */
    const char *gnuplot; /* the gnuplot executable, found on PATH when it has no '/' */
    int render;          /* 0: write CSVs and scripts only */
    int verbose;         /* 1: one line per figure on stderr */
} sg_th_figures_opts;

/* Writes every figure. Returns 0, or -1 with a message naming the file or the gnuplot failure. */
int sg_th_figures(const sg_th_figures_opts *o, sg_err *err);


/* Number of figures written by sg_th_figures and their PNG base names (for tests/reports). */
int sg_th_figure_count(void);
const char *sg_th_figure_name(int i);
