/* bench/report.c: several kernel-suite CSVs side by side (report.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "bench/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/roofline.h"
#include "core/base/csv.h"
#include "core/base/gnuplot.h"
#include "core/base/file.h"
#include "core/base/text.h"

int sg_report_metric_parse(const char *name, sg_report_metric *m) {
    if (!strcmp(name, "gflops"))
        *m = SG_REPORT_GFLOPS;
    else if (!strcmp(name, "median_s"))
        *m = SG_REPORT_MEDIAN_S;
    else if (!strcmp(name, "frac_sgemm"))
        *m = SG_REPORT_FRAC_SGEMM;
    else
        return -1;
    return 0;
}

/* ---- the inputs ------------------------------------------------------------------------------ */

enum {
    C_BACKEND,
    C_SUITE,
    C_TIME,
    C_KIND,
    C_CONFIG,
    C_KERNEL,
    C_SHAPE,
    C_STATUS,
    C_MEDIAN,
    C_GFLOPS,
    C_GBS,
    C_FRAC,
    C_SHARE,
    C_MACHINE,
    C_CPU,
    C_THREADS,
    C_GIT,
    C_ACC,
    C_FLOPS,
    C_BYTES,
    C_N
};
static const char *const col_names[C_N] = {
    "backend",       "suite",      "time_utc",  "kind",    "config",     "kernel",
    "shape",         "status",     "median_s",  "gflops",  "gbs",        "frac_sgemm",
    "share_of_step", "machine_id", "cpu_model", "threads", "git_commit", "accelerator",
    "flops",         "bytes"};

typedef struct {
    const char *path;
    sg_csv_table t;
    int have_table;
    int col[C_N];
    char label[256];
    sg_roofline roof; /* this run's sgemm and copy ceilings (0: not measured) */
} rp_file;

static const char *cell(const rp_file *f, size_t r, int c) {
    return sg_csv_cell(&f->t, r, f->col[c]);
}

/* The first row's value of column c ("" for an empty file). */
static const char *first(const rp_file *f, int c) { return f->t.nrows ? cell(f, 0, c) : ""; }

static size_t line_of(size_t r) { return r + 2; } /* the header is line 1 */

static int num(const rp_file *f, size_t r, int c, double *v, sg_err *err) {
    const char *s = cell(f, r, c);
    *v = NAN;
    if (!*s) return 0;
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return sg_errf(err,
                       "%s: line %zu, column %s: '%s' is not a number; expected a finite "
                       "float or an empty cell (not measured)",
                       f->path, line_of(r), col_names[c], s);
    *v = d;
    return 0;
}

static void strip(char *s, const char *what) {
    size_t n = strlen(what);
    for (char *p; (p = strstr(s, what));) memmove(p, p + n, strlen(p + n) + 1);
}

static void make_label(rp_file *f) {
    char dev[160];
    const char *acc = first(f, C_ACC);
    if (*acc) {
        snprintf(dev, sizeof dev, "%.*s", (int)strcspn(acc, ","), acc);
    } else {
        snprintf(dev, sizeof dev, "%s", *first(f, C_CPU) ? first(f, C_CPU) : "unknown CPU");
        strip(dev, "(R)");
        strip(dev, "(TM)");
    }
    snprintf(f->label, sizeof f->label, "%s %s (%.6s)",
             *first(f, C_BACKEND) ? first(f, C_BACKEND) : "?", dev, first(f, C_MACHINE));
}

static int file_load(rp_file *f, const char *path, sg_err *err) {
    memset(f, 0, sizeof *f);
    f->path = path;
    if (sg_csv_read(path, &f->t, err)) return -1;
    f->have_table = 1;
    for (int c = 0; c < C_N; c++) {
        f->col[c] = sg_csv_col(&f->t, col_names[c]);
        if (f->col[c] < 0)
            return sg_errf(err,
                           "%s: no column '%s' (expected the kernel-suite CSV of `stopgrad "
                           "bench`: kind, config, kernel, shape, status, median_s, gflops, "
                           "gbs, frac_sgemm, share_of_step and the machine columns)",
                           path, col_names[c]);
    }
    make_label(f);
    return 0;
}

/* ---- the table ------------------------------------------------------------------------------- */

enum { T_STEP = 0, T_CEILING, T_KERNEL };
static const char *const type_names[] = {"step", "ceiling", "kernel"};

typedef struct {
    int type;
    const char *config, *kernel, *shape; /* into the first table that has the row */
    char shapes[512];                    /* ceilings: the shapes seen, " / " separated */
    const char *unit;
    double *val;         /* [nfiles]; NaN: not measured */
    const char **status; /* [nfiles]: the status when the row is there but not ok, else NULL */
    size_t *line;        /* [nfiles]: the row's line in that file (0: absent) */
    double share;        /* share_of_step summed over the inputs */
    double *gflops;      /* kernels: [nfiles] measured GFLOP/s (NaN: none), for the roofline */
    double intensity;    /* kernels: FLOPs / bytes of one call (NaN: no costs in the CSV) */
} rp_row;

typedef struct {
    rp_file *files;
    int nf;
    rp_row *rows;
    int nrows, cap;
    sg_report_metric metric;
} rp_ctx;

static const char *metric_unit(sg_report_metric m) {
    return m == SG_REPORT_GFLOPS ? "GFLOP/s" : m == SG_REPORT_MEDIAN_S ? "ms" : "x sgemm";
}

static rp_row *find_or_add(rp_ctx *c, int type, const char *config, const char *kernel,
                           const char *shape) {
    for (int i = 0; i < c->nrows; i++) {
        rp_row *r = &c->rows[i];
        if (r->type == type && !strcmp(r->kernel, kernel) &&
            (type == T_CEILING || (!strcmp(r->config, config) && !strcmp(r->shape, shape))))
            return r;
    }
    if (c->nrows == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->rows = realloc(c->rows, (size_t)c->cap * sizeof *c->rows);
        SG_CHECK(c->rows != NULL, "out of memory");
    }
    rp_row *r = &c->rows[c->nrows++];
    memset(r, 0, sizeof *r);
    r->type = type;
    r->config = config;
    r->kernel = kernel;
    r->shape = shape;
    r->val = malloc((size_t)c->nf * sizeof *r->val);
    r->status = calloc((size_t)c->nf, sizeof *r->status);
    r->line = calloc((size_t)c->nf, sizeof *r->line);
    r->gflops = malloc((size_t)c->nf * sizeof *r->gflops);
    SG_CHECK(r->val && r->status && r->line && r->gflops, "out of memory");
    for (int j = 0; j < c->nf; j++) r->val[j] = r->gflops[j] = NAN;
    r->intensity = NAN;
    r->unit = type == T_STEP             ? "img/s"
              : type == T_KERNEL         ? metric_unit(c->metric)
              : !strncmp(kernel, "sgemm", 5) ? "GFLOP/s"
                                         : "GB/s";
    return r;
}

/* batch=N in a step's shape; 0 when absent. */
static long shape_batch(const char *shape) {
    const char *p = strstr(shape, "batch=");
    if (!p || (p != shape && p[-1] != ',')) return 0;
    char *end;
    long b = strtol(p + 6, &end, 10);
    return (end != p + 6 && (*end == ',' || !*end) && b > 0) ? b : 0;
}

static int collect(rp_ctx *c, int j, sg_err *err) {
    rp_file *f = &c->files[j];
    for (size_t r = 0; r < f->t.nrows; r++) {
        const char *kind = cell(f, r, C_KIND);
        int type = !strcmp(kind, "step")      ? T_STEP
                   : !strcmp(kind, "ceiling") ? T_CEILING
                   : !strcmp(kind, "kernel")  ? T_KERNEL
                                              : -1;
        if (type < 0) continue;
        const char *shape = cell(f, r, C_SHAPE);
        rp_row *row = find_or_add(c, type, cell(f, r, C_CONFIG), cell(f, r, C_KERNEL), shape);
        if (row->line[j])
            return sg_errf(err,
                           "%s: lines %zu and %zu are the same benchmark (kind %s, config "
                           "'%s', kernel %s, shape %s); expected one row per benchmark (one "
                           "run per file)",
                           f->path, row->line[j], line_of(r), kind, cell(f, r, C_CONFIG),
                           cell(f, r, C_KERNEL), type == T_CEILING ? "(any)" : shape);
        row->line[j] = line_of(r);
        if (type == T_CEILING && !strstr(row->shapes, shape)) {
            size_t at = strlen(row->shapes);
            snprintf(row->shapes + at, sizeof row->shapes - at, "%s%s", at ? " / " : "", shape);
        }
        double v, share;
        if (num(f, r, C_SHARE, &share, err)) return -1;
        if (isfinite(share)) row->share += share;
        const char *status = cell(f, r, C_STATUS);
        if (strcmp(status, "ok") != 0) {
            row->status[j] = status;
            continue;
        }
        if (type == T_STEP) {
            long batch = shape_batch(shape);
            if (!batch)
                return sg_errf(err,
                               "%s: line %zu, column shape: '%s' has no batch size; "
                               "expected batch=N in a step's shape",
                               f->path, line_of(r), shape);
            if (num(f, r, C_MEDIAN, &v, err)) return -1;
            row->val[j] = v > 0 ? (double)batch / v : NAN;
        } else if (type == T_CEILING) {
            int sgemm = !strcmp(row->unit, "GFLOP/s");
            if (num(f, r, sgemm ? C_GFLOPS : C_GBS, &v, err)) return -1;
            row->val[j] = v;
            if (isfinite(v)) *(sgemm ? &f->roof.peak_gflops : &f->roof.bw_gbs) = v;
        } else {
            double flops, bytes;
            if (num(f, r, C_GFLOPS, &row->gflops[j], err) || num(f, r, C_FLOPS, &flops, err) ||
                num(f, r, C_BYTES, &bytes, err))
                return -1;
            if (isnan(row->intensity)) row->intensity = sg_roofline_intensity(flops, bytes);
            int cm = c->metric == SG_REPORT_GFLOPS     ? C_GFLOPS
                     : c->metric == SG_REPORT_MEDIAN_S ? C_MEDIAN
                                                       : C_FRAC;
            if (num(f, r, cm, &v, err)) return -1;
            row->val[j] = c->metric == SG_REPORT_MEDIAN_S ? 1e3 * v : v;
        }
    }
    return 0;
}

/* Steps first, then ceilings, then kernels; each in order of first appearance. */
static void order_rows(rp_ctx *c) {
    rp_row *sorted = malloc((size_t)(c->nrows ? c->nrows : 1) * sizeof *sorted);
    SG_CHECK(sorted != NULL, "out of memory");
    int n = 0;
    for (int t = T_STEP; t <= T_KERNEL; t++)
        for (int i = 0; i < c->nrows; i++)
            if (c->rows[i].type == t) sorted[n++] = c->rows[i];
    free(c->rows);
    c->rows = sorted;
    c->cap = c->nrows;
}

/* 49993.7, 199.2, 11.77, 0.0852: four significant digits at most, no exponent. */
static void fmt_value(char *buf, size_t cap, double v) {
    double a = fabs(v);
    if (a >= 100)
        snprintf(buf, cap, "%.1f", v);
    else if (a >= 1)
        snprintf(buf, cap, "%.2f", v);
    else if (a > 0)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "0");
}

/* A markdown cell: '|' escaped, line breaks as spaces. */
static void md_cell(sg_sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            sg_sbuf_printf(b, "\\|");
        else if (*s == '\n' || *s == '\r')
            sg_sbuf_printf(b, " ");
        else
            sg_sbuf_printf(b, "%c", *s);
    }
}

static void build_markdown(const rp_ctx *c, sg_sbuf *b) {
    static const char *const metric_title[] = {"GFLOP/s", "median time (ms)",
                                               "fraction of the sgemm ceiling"};
    sg_sbuf_printf(b, "# Kernel suite report\n\n");
    sg_sbuf_printf(
        b, "Written by `stopgrad report` from %d kernel-suite CSV(s) of `stopgrad bench`.\n\n",
        c->nf);
    sg_sbuf_printf(b,
                   "| column | file | backend | machine_id | CPU | accelerator | threads | suite | "
                   "git commit | time (UTC) |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int j = 0; j < c->nf; j++) {
        const rp_file *f = &c->files[j];
        const int cols[] = {C_BACKEND, C_MACHINE, C_CPU, C_ACC, C_THREADS, C_SUITE, C_GIT, C_TIME};
        sg_sbuf_printf(b, "| ");
        md_cell(b, f->label);
        sg_sbuf_printf(b, " | `");
        md_cell(b, f->path);
        sg_sbuf_printf(b, "` |");
        for (int k = 0; k < (int)(sizeof cols / sizeof cols[0]); k++) {
            sg_sbuf_printf(b, " ");
            md_cell(b, *first(f, cols[k]) ? first(f, cols[k]) : "-");
            sg_sbuf_printf(b, " |");
        }
        sg_sbuf_printf(b, "\n");
    }
    sg_sbuf_printf(b, "\n## %s per kernel\n\n", metric_title[c->metric]);
    sg_sbuf_printf(b,
                   "Steps in images/s (batch / median step time), ceilings in GFLOP/s (sgemm) or "
                   "GB/s (copy), kernels in %s. \"-\": not measured in that file; mismatch, error, "
                   "not_run: the row's status there. FLOP/byte: the kernel's arithmetic intensity "
                   "(its FLOPs over its bytes, from the cost functions); \"of roofline\": its "
                   "GFLOP/s over min(sgemm ceiling, intensity x copy ceiling) of the same run "
                   "(roofline.png draws it).\n\n",
                   metric_title[c->metric]);
    sg_sbuf_printf(b, "| kind | config | kernel | shape | unit |");
    for (int j = 0; j < c->nf; j++) {
        sg_sbuf_printf(b, " ");
        md_cell(b, c->files[j].label);
        sg_sbuf_printf(b, " |");
    }
    sg_sbuf_printf(b, " FLOP/byte |");
    for (int j = 0; j < c->nf; j++) {
        sg_sbuf_printf(b, " ");
        md_cell(b, c->files[j].label);
        sg_sbuf_printf(b, ": of roofline |");
    }
    sg_sbuf_printf(b, "\n|---|---|---|---|---|");
    for (int j = 0; j < 2 * c->nf + 1; j++) sg_sbuf_printf(b, "---:|");
    sg_sbuf_printf(b, "\n");
    for (int i = 0; i < c->nrows; i++) {
        const rp_row *r = &c->rows[i];
        sg_sbuf_printf(b, "| %s | ", type_names[r->type]);
        md_cell(b, *r->config ? r->config : "-");
        sg_sbuf_printf(b, " | ");
        md_cell(b, r->kernel);
        sg_sbuf_printf(b, " | ");
        md_cell(b, r->type == T_CEILING ? r->shapes : r->shape);
        sg_sbuf_printf(b, " | %s |", r->unit);
        for (int j = 0; j < c->nf; j++) {
            char v[64];
            if (r->status[j])
                snprintf(v, sizeof v, "%s", r->status[j]);
            else if (isnan(r->val[j]))
                snprintf(v, sizeof v, "-");
            else
                fmt_value(v, sizeof v, r->val[j]);
            sg_sbuf_printf(b, " ");
            md_cell(b, v);
            sg_sbuf_printf(b, " |");
        }
        char v[64] = "-";
        if (r->type == T_KERNEL && isfinite(r->intensity)) fmt_value(v, sizeof v, r->intensity);
        sg_sbuf_printf(b, " %s |", v);
        for (int j = 0; j < c->nf; j++) {
            double frac = NAN;
            if (r->type == T_KERNEL && !r->status[j] && r->gflops[j] > 0)
                frac = r->gflops[j] / sg_roofline_attainable(&c->files[j].roof, r->intensity);
            if (isnan(frac))
                snprintf(v, sizeof v, "-");
            else
                fmt_value(v, sizeof v, frac);
            sg_sbuf_printf(b, " %s |", v);
        }
        sg_sbuf_printf(b, "\n");
    }
    sg_sbuf_printf(b, "\n## Roofline ceilings\n\n| column | sgemm GFLOP/s | copy GB/s | ridge "
                      "(FLOP/byte) | kernels on the chart |\n|---|---:|---:|---:|---:|\n");
    for (int j = 0; j < c->nf; j++) {
        const sg_roofline *rf = &c->files[j].roof;
        int n = 0;
        for (int i = 0; i < c->nrows; i++)
            n += c->rows[i].type == T_KERNEL && isfinite(c->rows[i].intensity) &&
                 isfinite(c->rows[i].gflops[j]) && c->rows[i].gflops[j] > 0;
        char pk[64] = "-", bw[64] = "-", ridge[64] = "-";
        if (rf->peak_gflops > 0) fmt_value(pk, sizeof pk, rf->peak_gflops);
        if (rf->bw_gbs > 0) fmt_value(bw, sizeof bw, rf->bw_gbs);
        if (rf->peak_gflops > 0 && rf->bw_gbs > 0)
            fmt_value(ridge, sizeof ridge, rf->peak_gflops / rf->bw_gbs);
        sg_sbuf_printf(b, "| ");
        md_cell(b, c->files[j].label);
        sg_sbuf_printf(b, " | %s | %s | %s | %d |\n", pk, bw, ridge,
                       rf->peak_gflops > 0 && rf->bw_gbs > 0 ? n : 0);
    }
}

/* ---- the chart ------------------------------------------------------------------------------- */

typedef struct {
    int *rows; /* indices into ctx rows */
    int n;
    int index; /* the data block of report.dat */
    const char *title;
} rp_panel;

/* qsort has no context argument in C11: the table being sorted, set just before. */
static const rp_ctx *g_sort_ctx;

/* Larger share of the step time first; the table order among equals. */
static int by_share(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    double sx = g_sort_ctx->rows[x].share, sy = g_sort_ctx->rows[y].share;
    if (sx != sy) return sx > sy ? -1 : 1;
    return (x > y) - (x < y);
}

static int has_value(const rp_ctx *c, const rp_row *r) {
    for (int j = 0; j < c->nf; j++)
        if (isfinite(r->val[j]) && r->val[j] > 0) return 1;
    return 0;
}

static void panel_dat(const rp_ctx *c, const rp_panel *p, sg_sbuf *dat) {
    sg_sbuf_printf(dat, "# %s\n# row", p->title);
    for (int j = 0; j < c->nf; j++) sg_sbuf_printf(dat, " value_%d", j + 1);
    sg_sbuf_printf(dat, " # label\n");
    for (int i = 0; i < p->n; i++) {
        const rp_row *r = &c->rows[p->rows[i]];
        sg_sbuf_printf(dat, "%d", i);
        for (int j = 0; j < c->nf; j++) {
            if (isfinite(r->val[j]) && r->val[j] > 0)
                sg_sbuf_printf(dat, " %.9g", r->val[j]);
            else
                sg_sbuf_printf(dat, " NaN");
        }
        sg_sbuf_printf(dat, " # %s %s %s\n", r->config, r->kernel, r->shape);
    }
    sg_sbuf_printf(dat, "\n\n");
}

static void panel_script(const rp_ctx *c, const rp_panel *p, const char *dat, double origin,
                         double height, int key, sg_sbuf *gp) {
    double vmin = INFINITY, vmax = 0;
    for (int i = 0; i < p->n; i++)
        for (int j = 0; j < c->nf; j++) {
            double v = c->rows[p->rows[i]].val[j];
            if (isfinite(v) && v > 0) {
                vmin = v < vmin ? v : vmin;
                vmax = v > vmax ? v : vmax;
            }
        }
    int logx = vmax / vmin > 200;
    double floor_x = logx ? pow(10, floor(log10(vmin))) : 0;
    sg_sbuf_printf(gp, "\nset origin 0,%.4f\nset size 1,%.4f\n", origin, height);
    sg_sbuf_printf(gp, "set title \"");
    sg_gp_dq(gp, p->title, 200);
    sg_sbuf_printf(gp, "\"\n");
    if (key)
        sg_sbuf_printf(gp, "set key outside top center horizontal\n");
    else
        sg_sbuf_printf(gp, "unset key\n");
    if (logx)
        sg_sbuf_printf(gp, "set logscale x\nset xrange [%.6g:%.6g]\n", floor_x, vmax * 3);
    else
        sg_sbuf_printf(gp, "unset logscale x\nset xrange [0:%.6g]\n", vmax * 1.08);
    sg_sbuf_printf(gp, "set yrange [%.2f:-0.6]\nset ytics (", p->n - 0.4);
    for (int i = 0; i < p->n; i++) {
        const rp_row *r = &c->rows[p->rows[i]];
        char label[512];
        if (r->type == T_STEP)
            snprintf(label, sizeof label, "step %s %s", r->config, r->shape);
        else
            snprintf(label, sizeof label, "%s %s [%s]", r->kernel, r->shape, r->config);
        sg_sbuf_printf(gp, "%s\"", i ? ", " : "");
        sg_gp_dq(gp, label, 96);
        sg_sbuf_printf(gp, "\" %d", i);
    }
    sg_sbuf_printf(gp, ")\n");
    double band = 0.8, h = band / c->nf;
    sg_sbuf_printf(gp, "plot ");
    for (int j = 0; j < c->nf; j++) {
        double off = -band / 2 + (j + 0.5) * h;
        sg_sbuf_printf(gp, "%s'", j ? ", \\\n     " : "");
        sg_gp_sq(gp, dat);
        sg_sbuf_printf(
            gp,
            "' index %d using %d:($1%+.4f):(%.6g):%d:($1%+.4f):($1%+.4f) with boxxyerror "
            "fillstyle solid 0.85 noborder lc %d title \"",
            p->index, j + 2, off, floor_x, j + 2, off - 0.45 * h, off + 0.45 * h, j + 1);
        sg_gp_dq(gp, c->files[j].label, 120);
        sg_sbuf_printf(gp, "\"");
    }
    sg_sbuf_printf(gp, "\n");
}

/* The chart's data and script; the number of panels drawn (0: nothing to chart). */
static int build_chart(const rp_ctx *c, const char *dir_dat, const char *png, sg_sbuf *dat,
                       sg_sbuf *gp, int *nsteps, int *nkernels) {
    static const char *const kernel_title[] = {
        "kernels: GFLOP/s (higher is better)", "kernels: median time in ms (lower is better)",
        "kernels: fraction of the machine's sgemm ceiling (higher is better)"};
    int *steps = malloc((size_t)(c->nrows + 1) * sizeof *steps);
    int *kern = malloc((size_t)(c->nrows + 1) * sizeof *kern);
    SG_CHECK(steps && kern, "out of memory");
    int ns = 0, nk = 0;
    for (int i = 0; i < c->nrows; i++) {
        if (!has_value(c, &c->rows[i])) continue;
        if (c->rows[i].type == T_STEP)
            steps[ns++] = i;
        else if (c->rows[i].type == T_KERNEL)
            kern[nk++] = i;
    }
    g_sort_ctx = c;
    qsort(kern, (size_t)nk, sizeof *kern, by_share);
    if (nk > SG_REPORT_CHART_KERNELS) nk = SG_REPORT_CHART_KERNELS;
    char ktitle[256];
    snprintf(ktitle, sizeof ktitle, "%s; the %d kernels with the largest share of the step time",
             kernel_title[c->metric], nk);
    rp_panel panels[2] = {{steps, ns, 0, "training step: images/s (higher is better)"},
                          {kern, nk, 0, ktitle}};
    *nsteps = ns;
    *nkernels = nk;
    int np = 0, index = 0;
    for (int k = 0; k < 2; k++)
        if (panels[k].n) {
            panels[k].index = index++;
            panel_dat(c, &panels[k], dat);
            np++;
        }
    if (np) {
        int row_px = 8 + 11 * c->nf;
        if (row_px < 20) row_px = 20;
        int ph[2], H = 0;
        for (int k = 0; k < 2; k++) {
            ph[k] = panels[k].n ? 110 + panels[k].n * row_px : 0;
            H += ph[k];
        }
        int W = 1600;
        sg_sbuf_printf(
            gp, "# report.gp: written by `stopgrad report`; reads report.dat beside it and\n"
                "# writes report.png (or the file named by OUT: gnuplot -e \"OUT='x.png'\").\n");
        sg_gp_png_output(gp, W, H, png);
        sg_sbuf_printf(gp, "set multiplot\nset lmargin at screen 0.42\nset rmargin at screen 0.97\n"
                           "set grid xtics lc rgb '#dddddd'\nset ytics nomirror scale 0\n"
                           "set xtics nomirror\nset border 3\n");
        double top = 1.0;
        int key = 1;
        for (int k = 0; k < 2; k++) {
            if (!panels[k].n) continue;
            double hfrac = (double)ph[k] / H;
            top -= hfrac;
            panel_script(c, &panels[k], dir_dat, top < 0 ? 0 : top, hfrac, key, gp);
            key = 0;
        }
        sg_sbuf_printf(gp, "\nunset multiplot\nunset output\n");
    }
    free(steps);
    free(kern);
    return np;
}

/* ---- the roofline chart ---------------------------------------------------------------------- */

/* roofline.gp: one chart per input whose run measured both ceilings. The number of charts. */
static int build_roofline(const rp_ctx *c, const char *png, sg_sbuf *gp, int *points) {
    int charts = 0;
    *points = 0;
    for (int j = 0; j < c->nf; j++)
        charts += c->files[j].roof.peak_gflops > 0 && c->files[j].roof.bw_gbs > 0;
    if (!charts) return 0;
    int cols = charts > 1 ? 2 : 1, rows = (charts + cols - 1) / cols;
    sg_sbuf_printf(gp, "# roofline.gp: written by `stopgrad report`; the data is inline. Writes\n"
                       "# roofline.png (or the file named by OUT: gnuplot -e \"OUT='x.png'\").\n");
    sg_gp_png_output(gp, 900 * cols, 640 * rows, png);
    sg_sbuf_printf(gp, "set multiplot layout %d,%d\n", rows, cols);
    sg_roofline_point *pts = malloc((size_t)(c->nrows + 1) * sizeof *pts);
    SG_CHECK(pts != NULL, "out of memory");
    for (int j = 0; j < c->nf; j++) {
        const rp_file *f = &c->files[j];
        if (!(f->roof.peak_gflops > 0 && f->roof.bw_gbs > 0)) continue;
        int n = 0;
        for (int i = 0; i < c->nrows; i++) {
            const rp_row *r = &c->rows[i];
            if (r->type != T_KERNEL || r->status[j]) continue;
            pts[n++] = (sg_roofline_point){r->kernel, r->intensity, r->gflops[j]};
        }
        char title[400];
        snprintf(title, sizeof title, "%s: every kernel under the run's sgemm and copy ceilings",
                 f->label);
        *points += sg_roofline_gp_chart(gp, j, title, &f->roof, pts, n);
    }
    free(pts);
    sg_sbuf_printf(gp, "unset multiplot\nunset output\n");
    return charts;
}

/* ---- the report ------------------------------------------------------------------------------ */

int sg_report_write(const sg_report_opts *o, sg_report_summary *sum, sg_err *err) {
    sg_report_summary s;
    memset(&s, 0, sizeof s);
    if (o->ninputs < 1) return sg_errf(err, "no input: expected one or more kernel-suite CSVs");
    if (!o->out_dir || !*o->out_dir) return sg_errf(err, "--out: empty folder name");
    rp_ctx c = {0};
    c.nf = o->ninputs;
    c.metric = o->metric;
    c.files = calloc((size_t)c.nf, sizeof *c.files);
    SG_CHECK(c.files != NULL, "out of memory");
    int rc = 0;
    for (int j = 0; j < c.nf && !rc; j++) rc = file_load(&c.files[j], o->inputs[j], err);
    /* the same label twice (two runs on one machine): number them */
    for (int j = 0; j < c.nf && !rc; j++)
        for (int k = 0; k < c.nf; k++)
            if (k != j && !strcmp(c.files[j].label, c.files[k].label)) {
                size_t at = strlen(c.files[j].label);
                snprintf(c.files[j].label + at, sizeof c.files[j].label - at, " #%d", j + 1);
                break;
            }
    for (int j = 0; j < c.nf && !rc; j++) rc = collect(&c, j, err);
    if (!rc) order_rows(&c);

    if (!rc &&
        (sg_path_printf(s.md_path, sizeof s.md_path, err, "%s/report.md", o->out_dir) ||
         sg_path_printf(s.png_path, sizeof s.png_path, err, "%s/report.png", o->out_dir) ||
         sg_path_printf(s.dat_path, sizeof s.dat_path, err, "%s/report.dat", o->out_dir) ||
         sg_path_printf(s.gp_path, sizeof s.gp_path, err, "%s/report.gp", o->out_dir) ||
         sg_path_printf(s.roofline_png_path, sizeof s.roofline_png_path, err, "%s/roofline.png",
                        o->out_dir) ||
         sg_path_printf(s.roofline_gp_path, sizeof s.roofline_gp_path, err, "%s/roofline.gp",
                        o->out_dir)))
        rc = -1;
    if (!rc && !o->force && (sg_file_exists(s.md_path) || sg_file_exists(s.png_path)))
        rc = sg_errf(err,
                     "%s already exists: a report is not overwritten; choose another --out "
                     "or pass --force",
                     sg_file_exists(s.md_path) ? s.md_path : s.png_path);
    if (!rc) {
        s.ncolumns = c.nf;
        for (int i = 0; i < c.nrows; i++) {
            s.nsteps += c.rows[i].type == T_STEP;
            s.nceilings += c.rows[i].type == T_CEILING;
            s.nkernels += c.rows[i].type == T_KERNEL;
        }
        s.nrows = c.nrows;
        if (sg_mkdirs(o->out_dir, err)) rc = -2;
    }
    sg_sbuf md = {0}, dat = {0}, gp = {0}, roof_gp = {0};
    int np = 0;
    char abs_dir[4096] = "", abs_dat[4200], abs_png[4200], abs_roof[4200];
    if (!rc && !realpath(o->out_dir, abs_dir)) {
        sg_errf(err, "%s: cannot resolve the folder: %s", o->out_dir, strerror(errno));
        rc = -2;
    }
    if (!rc) {
        /* the script names its files by absolute path: it can be rerun from anywhere */
        snprintf(abs_dat, sizeof abs_dat, "%s/report.dat", abs_dir); /* abs_dir < 4096 */
        snprintf(abs_png, sizeof abs_png, "%s/report.png", abs_dir);
        snprintf(abs_roof, sizeof abs_roof, "%s/roofline.png", abs_dir);
        build_markdown(&c, &md);
        np = build_chart(&c, abs_dat, abs_png, &dat, &gp, &s.chart_steps, &s.chart_kernels);
        s.roofline_charts = build_roofline(&c, abs_roof, &roof_gp, &s.roofline_points);
        if (sg_write_file_atomic(s.md_path, md.s, md.len, err))
            rc = -2;
        else if (o->log)
            fprintf(o->log, "wrote %s (%d rows x %d inputs)\n", s.md_path, s.nrows, c.nf);
    }
    if (!rc && np) {
        if (sg_write_file_atomic(s.dat_path, dat.s, dat.len, err) ||
            sg_write_file_atomic(s.gp_path, gp.s, gp.len, err))
            rc = -2;
    }
    if (!rc && s.roofline_charts &&
        sg_write_file_atomic(s.roofline_gp_path, roof_gp.s, roof_gp.len, err))
        rc = -2;
    /* --force: an old chart must not stay beside a new table */
    const char *old_charts[] = {s.png_path, s.roofline_png_path};
    for (int k = 0; k < 2 && !rc; k++)
        if (sg_file_exists(old_charts[k]) && remove(old_charts[k]) != 0) {
            sg_errf(err, "%s: cannot remove the old chart: %s", old_charts[k], strerror(errno));
            rc = -2;
        }
    if (!rc) {
        char exe[4200];
        const char *gnuplot = o->gnuplot && *o->gnuplot ? o->gnuplot : "gnuplot";
        if (!np) {
            sg_errf(err,
                    "no step or kernel has a value in the inputs: nothing to chart, %s not "
                    "written",
                    s.png_path);
            rc = 1;
        } else if (!sg_find_program(gnuplot, exe, sizeof exe)) {
            sg_errf(err,
                    "%s needs gnuplot, and '%s' is not %s (scripts/setup.sh installs "
                    "Debian's gnuplot-nox); %s, %s and %s were written",
                    s.png_path, gnuplot, strchr(gnuplot, '/') ? "an executable" : "on PATH",
                    s.md_path, s.dat_path, s.gp_path);
            rc = 1;
        } else {
            rc = sg_gnuplot_png(exe, &gp, s.gp_path, s.png_path, abs_png, err);
            s.png = rc == 0;
            if (s.png && o->log)
                fprintf(o->log, "wrote %s (%d step(s), %d kernel(s))\n", s.png_path, s.chart_steps,
                        s.chart_kernels);
            if (!rc && s.roofline_charts) {
                rc = sg_gnuplot_png(exe, &roof_gp, s.roofline_gp_path, s.roofline_png_path,
                                    abs_roof, err);
                s.roofline_png = rc == 0;
                if (s.roofline_png && o->log)
                    fprintf(o->log, "wrote %s (%d chart(s), %d kernel point(s))\n",
                            s.roofline_png_path, s.roofline_charts, s.roofline_points);
            }
        }
    }
    sg_sbuf_free(&md);
    sg_sbuf_free(&dat);
    sg_sbuf_free(&gp);
    sg_sbuf_free(&roof_gp);
    for (int i = 0; i < c.nrows; i++) {
        free(c.rows[i].gflops);
        free(c.rows[i].val);
        free(c.rows[i].status);
        free(c.rows[i].line);
    }
    free(c.rows);
    for (int j = 0; j < c.nf; j++)
        if (c.files[j].have_table) sg_csv_table_free(&c.files[j].t);
    free(c.files);
    if (sum) *sum = s;
    return rc;
}
