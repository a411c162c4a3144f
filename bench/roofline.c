/* bench/roofline.c: the roofline model (roofline.h). */
#include "bench/roofline.h"

#include <math.h>
#include <string.h>

#include "core/base/gnuplot.h"

double sg_roofline_intensity(double flops, double bytes) {
    return isfinite(flops) && isfinite(bytes) && flops > 0 && bytes > 0 ? flops / bytes : NAN;
}

double sg_roofline_attainable(const sg_roofline *r, double intensity) {
    if (!(r->peak_gflops > 0 && r->bw_gbs > 0 && intensity > 0) || !isfinite(intensity))
        return NAN;
    double mem = intensity * r->bw_gbs;
    return mem < r->peak_gflops ? mem : r->peak_gflops;
}

double sg_roofline_fraction(const sg_roofline *r, double flops, double bytes, double gflops) {
    double roof = sg_roofline_attainable(r, sg_roofline_intensity(flops, bytes));
    return isfinite(roof) && isfinite(gflops) && gflops > 0 ? gflops / roof : NAN;
}

enum { FAM_CONV, FAM_BN, FAM_LINEAR, FAM_OTHER, FAM_N };
static const char *const family_title[FAM_N] = {"convolutions", "batch norm", "linear, gemm",
                                                "other kernels"};
static const char *const family_color[FAM_N] = {"#1f77b4", "#2ca02c", "#d62728", "#7f7f7f"};

static int family(const char *kernel) {
    if (!strncmp(kernel, "conv", 4)) return FAM_CONV;
    if (!strncmp(kernel, "batchnorm", 9)) return FAM_BN;
    if (!strncmp(kernel, "linear", 6) || strstr(kernel, "gemm")) return FAM_LINEAR;
    return FAM_OTHER;
}

static int valid(const sg_roofline_point *p) {
    return isfinite(p->intensity) && p->intensity > 0 && isfinite(p->gflops) && p->gflops > 0;
}

int sg_roofline_gp_chart(sg_sbuf *gp, int id, const char *title, const sg_roofline *r,
                         const sg_roofline_point *pts, int n) {
    double ridge = r->peak_gflops / r->bw_gbs;
    double xmin = ridge, xmax = ridge, ymin = r->peak_gflops, ymax = r->peak_gflops;
    int count[FAM_N] = {0}, drawn = 0;
    for (int i = 0; i < n; i++) {
        if (!valid(&pts[i])) continue;
        drawn++;
        count[family(pts[i].kernel)]++;
        xmin = fmin(xmin, pts[i].intensity);
        xmax = fmax(xmax, pts[i].intensity);
        ymin = fmin(ymin, pts[i].gflops);
        ymax = fmax(ymax, pts[i].gflops);
    }
    for (int f = 0; f < FAM_N; f++) {
        if (!count[f]) continue;
        sg_sbuf_printf(gp, "$roof%d_%d << EOD\n", id, f);
        for (int i = 0; i < n; i++)
            if (valid(&pts[i]) && family(pts[i].kernel) == f)
                sg_sbuf_printf(gp, "%.9g %.9g\n", pts[i].intensity, pts[i].gflops);
        sg_sbuf_printf(gp, "EOD\n");
    }
    /* decades around everything, so the roof's bend and every point show */
    double x0 = pow(10, floor(log10(xmin / 2))), x1 = pow(10, ceil(log10(xmax * 2)));
    double y0 = pow(10, floor(log10(ymin / 2))), y1 = pow(10, ceil(log10(ymax * 2)));
    sg_sbuf_printf(gp, "set title \"");
    sg_gp_dq(gp, title, 200);
    sg_sbuf_printf(gp,
                   "\"\nset logscale xy\nset xrange [%.6g:%.6g]\nset yrange [%.6g:%.6g]\n"
                   "set xlabel 'arithmetic intensity (FLOP/byte)'\n"
                   "set ylabel 'GFLOP/s'\nset grid xtics ytics mxtics mytics lc rgb '#e6e6e6'\n"
                   "set key below box\nset samples 600\n",
                   x0, x1, y0, y1);
    sg_sbuf_printf(gp,
                   "plot (x * %.9g < %.9g ? x * %.9g : %.9g) with lines lw 2 lc rgb '#000000' "
                   "title 'roofline: sgemm %.4g GFLOP/s, copy %.4g GB/s (ridge %.3g FLOP/byte)'",
                   r->bw_gbs, r->peak_gflops, r->bw_gbs, r->peak_gflops, r->peak_gflops,
                   r->bw_gbs, ridge);
    for (int f = 0; f < FAM_N; f++)
        if (count[f])
            sg_sbuf_printf(gp,
                           ", \\\n     $roof%d_%d using 1:2 with points pt 7 ps 0.7 lc rgb '%s' "
                           "title '%s (%d)'",
                           id, f, family_color[f], family_title[f], count[f]);
    sg_sbuf_printf(gp, "\n");
    return drawn;
}
