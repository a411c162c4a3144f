/* bench/roofline.h: the roofline model of a kernel-suite run (`stopgrad report`, the history
 * site).
 *
 * A kernel's arithmetic intensity is its FLOPs over its bytes (the flops and bytes columns of the
 * kernel-suite CSV, from the cost functions of kernels/kernels.h: the compulsory traffic of one
 * call). Under the roofline model it can reach at most min(peak, intensity x bandwidth) GFLOP/s;
 * stopgrad takes both ceilings from the same run: the peak is its sgemm ceiling (GFLOP/s), the
 * bandwidth its streaming-copy ceiling (GB/s). The fraction of the roofline is the kernel's
 * measured GFLOP/s over that bound: how far it is from what this machine could do at that
 * intensity. Measured ceilings, not datasheet peaks: a kernel can exceed 1 (e.g. when its data
 * stays in cache and the copy ceiling measures memory).
 *
 * The chart: log-log, attainable GFLOP/s against FLOP/byte, the roof as a line, one point per
 * kernel coloured by family (convolutions, batch norm, linear and gemm, the rest). */
#pragma once
#include "core/base/text.h"

typedef struct {
    double peak_gflops; /* the run's sgemm ceiling */
    double bw_gbs;      /* the run's copy ceiling */
} sg_roofline;

/* flops / bytes; NaN unless both are positive and finite. */
double sg_roofline_intensity(double flops, double bytes);
/* min(peak, intensity x bandwidth); NaN when the roofline or the intensity is not valid. */
double sg_roofline_attainable(const sg_roofline *r, double intensity);
/* gflops / attainable(intensity(flops, bytes)); NaN when any part is missing. */
double sg_roofline_fraction(const sg_roofline *r, double flops, double bytes, double gflops);

typedef struct {
    const char *kernel; /* its name chooses the family */
    double intensity, gflops;
} sg_roofline_point;

/* One chart of the script gp (a terminal and output, or a multiplot cell, set by the caller):
 * data blocks named $roof<id>_<family>, the roof and the points. Returns the number of points
 * drawn (those with a valid intensity and GFLOP/s). */
int sg_roofline_gp_chart(sg_sbuf *gp, int id, const char *title, const sg_roofline *r,
                         const sg_roofline_point *pts, int n);
