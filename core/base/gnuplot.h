/* core/base/gnuplot.h: charts rendered by gnuplot (bench/report.c, core/harness/published.c).
 * The writers keep their gnuplot script (and its data) beside the chart so that it can be
 * rerun by hand; the script writes the PNG named by the gnuplot variable OUT. */
#pragma once
#include <stddef.h>

#include "core/base/err.h"
#include "core/base/text.h"

/* s as the inside of a single-quoted gnuplot string ('' for '). */
void sg_gp_sq(sg_sbuf *b, const char *s);

/* s as the inside of a double-quoted gnuplot string (" and \ escaped, line breaks as spaces),
 * at most max chars ("..." at the end when cut; max >= 3). */
void sg_gp_dq(sg_sbuf *b, const char *s, size_t max);

/* The start of a chart script after its comments: the pngcairo terminal when this gnuplot has
 * it (else the libgd png one), w x h pixels, text as written (noenhanced), and the output: the
 * file named by the variable OUT (sg_gnuplot_png sets it, so does gnuplot -e "OUT='x.png'"),
 * else png. */
void sg_gp_png_output(sg_sbuf *gp, int w, int h, const char *png);

/* Renders the chart: feeds "OUT = '<abs_png>.tmp'" and then script (the text saved as
 * script_path) to the gnuplot executable through a pipe, and renames png_path.tmp (the same
 * file as abs_png.tmp) to png_path, so that a failed run never leaves half a chart.
 * gnuplot: the executable, as sg_find_program found it; png_path and abs_png: the chart by the
 * caller's path and by its absolute path.
 * Returns 0; 1 when gnuplot could not run or failed (err names the script; its messages went
 * to stderr; the temporary is removed); -2 when the rename failed (err names png_path). */
int sg_gnuplot_png(const char *gnuplot, const sg_sbuf *script, const char *script_path,
                   const char *png_path, const char *abs_png, sg_err *err);

/* Runs script (its own terminals and outputs) through gnuplot (the executable, as
 * sg_find_program found it); what names the script in messages. 0, or 1 when gnuplot could not
 * run or failed (err says so; its messages went to stderr). For a writer of many charts that
 * gave gnuplot temporary names (sg_atomic_open + sg_atomic_release_fd) and commits them after. */
int sg_gnuplot_run(const char *gnuplot, const sg_sbuf *script, const char *what, sg_err *err);
