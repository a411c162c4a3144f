/* bench/dist_bench.c: the data-parallel step and its all-reduce, timed under mpirun (kbench.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "core/base/csv.h"
#include "core/base/machine.h"
#include "core/base/rng.h"
#include "core/base/stats.h"
#include "core/dist/dist.h"
#include "kernels/backend.h"
#include "kernels/backend_machine.h"

static const char *const dist_cols[] = {
    "suite", "config", "backend", "ranks", "batch_global", "batch_per_rank", "sync_bn",
    "grad_floats", "grad_bytes", "repetitions", "allreduce_median_s", "allreduce_min_s",
    "algbw_gbs", "busbw_gbs", "step_median_s", "step_img_per_s", "allreduce_share_of_step",
};
enum { NDIST = sizeof dist_cols / sizeof dist_cols[0] };

/* Seconds of fn(m) on the backend's timer, the slowest rank's (a collective is as slow as its
 * last rank), after a barrier so that every rank starts together. */
static double timed(sg_ssl *m, void (*fn)(sg_ssl *), sg_err *err, int *rc) {
    const sg_backend *be = m->be;
    if (sg_dist_barrier(err)) {
        *rc = -1;
        return NAN;
    }
    be->timer_start(be);
    fn(m);
    double t = be->timer_stop(be);
    /* the max over the ranks as a sum of one-hot slots, in the deterministic sum */
    const sg_dist_world *w = sg_dist_get();
    double *slots = calloc((size_t)w->size, sizeof *slots);
    if (!slots) {
        *rc = sg_errf(err, "out of memory");
        return NAN;
    }
    slots[w->rank] = t;
    if (sg_dist_sum_f64(slots, (size_t)w->size, err)) *rc = -1;
    double mx = 0;
    for (int r = 0; r < w->size; r++) mx = slots[r] > mx ? slots[r] : mx;
    free(slots);
    return mx;
}

static void one_step(sg_ssl *m) { (void)sg_ssl_step(m); }

int sg_kb_dist_run(const sg_kb_suite *all, const sg_kb_opts *o, sg_err *err) {
    static sg_kb_suite sel;
    if (sg_kb_select(all, o->configs, &sel, err)) return -1;
    const sg_kb_suite *s = &sel;
    const sg_dist_world *w = sg_dist_get();
    const int R = o->repetitions, N = w->size;
    sg_csv_row rows[SG_KB_MAX_CONFIGS];
    int nrows = 0, rc = 0;
    sg_machine mach;
    if (sg_machine_probe_backend(&mach, o->be, o->threads, err)) return -1;
    if (w->rank == 0)
        printf("%-14s %5s %7s %12s %12s %10s %10s %12s %10s %8s\n", "config", "ranks", "batch",
               "grad MiB", "allreduce ms", "algbw GB/s", "busbw GB/s", "step ms", "img/s",
               "share");
    double *ar = malloc((size_t)R * sizeof *ar), *st = malloc((size_t)R * sizeof *st);
    if (!ar || !st) rc = sg_errf(err, "out of memory");
    for (int i = 0; i < s->nconfigs && rc == 0; i++) {
        sg_ssl_settings set;
        int C, S;
        const char *dataset;
        if (sg_kb_config_settings(s, i, &set, &C, &S, &dataset, err)) {
            rc = -1;
            break;
        }
        const int Bg = set.batch;
        if (Bg % N != 0 || Bg / N < 2) {
            rc = sg_errf(err, "%s, config %s: batch %d does not split into %d rank batches of at "
                              "least 2", s->path, s->configs[i].name, Bg, N);
            break;
        }
        set.batch = Bg / N;
        set.ranks = N;
        sg_ssl m;
        if (sg_ssl_build(&m, &set, o->be, err)) {
            rc = -1;
            break;
        }
        /* random views in [0, 1), each rank its own: a real step's numbers */
        size_t n = (size_t)m.B * C * S * S;
        float *x = malloc(n * sizeof(float));
        if (!x) rc = sg_errf(err, "out of memory for a batch");
        sg_rng g;
        sg_rng_init(&g, 7, 0x64697374u /* "dist" */, (uint32_t)i, (uint32_t)w->rank);
        for (int v = 0; v < 2 && x; v++) {
            sg_rng_fill_uniform(&g, x, (long)n, 0.0f, 1.0f);
            sg_ssl_put(&m, m.x[v], x, n);
        }
        free(x);
        for (int k = 0; k < 2 && rc == 0; k++) sg_ssl_step(&m); /* warm-up; F initialised */
        for (int r = 0; r < R && rc == 0; r++) {
            st[r] = timed(&m, one_step, err, &rc);
            ar[r] = timed(&m, sg_ssl_reduce, err, &rc);
        }
        const double bytes = (double)m.online.total * sizeof(float);
        sg_ssl_free(&m);
        if (rc) break;
        double ar_med = sg_median(ar, R), st_med = sg_median(st, R), ar_min = ar[0];
        for (int r = 1; r < R; r++) ar_min = ar[r] < ar_min ? ar[r] : ar_min;
        const double algbw = bytes / ar_med / 1e9, busbw = algbw * 2.0 * (N - 1) / N;
        if (w->rank == 0) {
            printf("%-14s %5d %7d %12.2f %12.3f %10.2f %10.2f %12.2f %10.1f %7.1f%%\n",
                   s->configs[i].name, N, Bg, bytes / (1024.0 * 1024.0), 1e3 * ar_med, algbw,
                   busbw, 1e3 * st_med, Bg / st_med, 100.0 * ar_med / st_med);
            fflush(stdout);
        }
        sg_csv_row *row = &rows[nrows++];
        sg_csv_row_init(row);
        sg_csv_row_str(row, s->name);
        sg_csv_row_str(row, s->configs[i].name);
        sg_csv_row_str(row, o->be->name);
        sg_csv_row_int(row, N);
        sg_csv_row_int(row, Bg);
        sg_csv_row_int(row, Bg / N);
        sg_csv_row_int(row, set.sync_bn);
        sg_csv_row_int(row, (long long)(bytes / sizeof(float)));
        sg_csv_row_double(row, bytes);
        sg_csv_row_int(row, R);
        sg_csv_row_double(row, ar_med);
        sg_csv_row_double(row, ar_min);
        sg_csv_row_double(row, algbw);
        sg_csv_row_double(row, busbw);
        sg_csv_row_double(row, st_med);
        sg_csv_row_double(row, Bg / st_med);
        sg_csv_row_double(row, ar_med / st_med);
        sg_machine_row(&mach, row);
    }
    free(ar);
    free(st);
    if (rc == 0 && w->rank == 0 && o->csv_path) {
        static const char *hdr[NDIST + 64];
        const char *const *h = sg_machine_join_header(dist_cols, NDIST, hdr, NDIST + 64);
        rc = sg_csv_write_atomic(o->csv_path, NDIST + sg_machine_ncols(), h, rows, nrows, err);
        if (rc == 0) printf("wrote %s\n", o->csv_path);
    }
    for (int r = 0; r < nrows; r++) sg_csv_row_free(&rows[r]);
    return rc;
}
