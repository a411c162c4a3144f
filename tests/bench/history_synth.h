/* tests/bench/history_synth.h: synthetic kernel-suite and training-results CSVs over many
 * commits, with the real headers (sg_kb_header, sg_train_results_header), for the history tests.
 *
 * Kernel suites: one file per commit on one synthetic machine, 9 repetitions per benchmark, each
 * repetition lognormal around the benchmark's level with 5% spread, times one run-level factor
 * (3% spread: the run-to-run drift of a shared machine). Benchmarks: the two ceilings, a planted
 * kernel (conv2d_fwd: its level times `planted_factor` from commit `planted_at` on), a noisy
 * kernel (relu_fwd: 12% repetition spread, never changes), and the step (never changes).
 * Training results: per commit, 3 seeds of one setting; probe_best around 70% with 0.4 points of
 * spread, minus `drop` points from commit `drop_at` on. Seeded: the same call writes the same
 * bytes. */
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/kbench.h"
#include "core/base/csv.h"
#include "core/base/machine.h"
#include "core/base/rng.h"
#include "core/base/stats.h"
#include "core/ssl/train.h"
#include "test_util.h"

#define SYN_MACHINE "5e1f00d5a1b2c3d4"
#define SYN_REPS 9

/* "c0ffee0001", "c0ffee0002", ...: commit k of the synthetic history */
static inline void syn_commit(int k, char *buf, size_t cap) {
    snprintf(buf, cap, "c0ffee%04d", k);
}

/* 2027-01-01T00:00:00Z plus k hours (k < 10000) */
static inline void syn_time(int k, int minute, char *buf, size_t cap) {
    snprintf(buf, cap, "2027-%02d-%02dT%02d:%02d:00Z", 1 + k / 600, 1 + (k / 24) % 25, k % 24,
             minute);
}

static inline void syn_die(const char *what, const char *msg) {
    fprintf(stderr, "cannot write %s: %s\n", what, msg);
    exit(2);
}

/* Fills the machine columns of a row (the last sg_machine_ncols columns of the header h). */
static inline const char *syn_machine_cell(const char *col) {
    static const char *const kv[] = {"machine_id", SYN_MACHINE, "cpu_model", "Synthetic CPU 9000",
                                     "packages",   "1",         "cores",     "4",
                                     "pus",        "8",         "numa_nodes", "1",
                                     "l1d_bytes",  "32768",     "l2_bytes",  "1048576",
                                     "l3_bytes",   "33554432",  "memory_bytes", "17179869184",
                                     "os",         "Linux test", "compiler", "GNU 12.2.0",
                                     "build_flags", "-O3",      "build_type", "Release",
                                     "openblas_config", "OpenBLAS test", "openblas_parallel",
                                     "openmp",     "threads",   "4",         "accelerator", "",
                                     NULL};
    for (int i = 0; kv[i]; i += 2)
        if (!strcmp(kv[i], col)) return kv[i + 1];
    return NULL;
}

typedef struct {
    const char *kind, *kernel, *shape;
    double level_s, flops, bytes, spread;
} syn_bench;

static const syn_bench SYN_BENCHES[] = {
    {"ceiling", "sgemm", "M=512,N=512,K=512,ldpad=0", 2.0e-3, 268435456.0, 3145728.0, 0.05},
    {"ceiling", "copy", "mib=64", 6.0e-3, 0.0, 134217728.0, 0.05},
    {"kernel", "conv2d_fwd", "N=8,C=16,H=16,W=16,K=16,R=3,S=3,stride=1,pad=1", 4.0e-4, 9437184.0,
     300000.0, 0.05},
    {"kernel", "relu_fwd", "n=65536,inplace=1", 3.0e-5, 65536.0, 524288.0, 0.12},
    {"step", "step", "batch=8", 2.0e-2, 5.0e8, 4.0e7, 0.05},
};
#define SYN_NBENCH ((int)(sizeof SYN_BENCHES / sizeof SYN_BENCHES[0]))

/* The kernel-suite CSV of commit k at path. */
static inline void syn_write_bench(const char *path, int k, int planted_at, double planted_factor,
                                   uint64_t seed) {
    int nc = sg_kb_ncols();
    const char *const *h = sg_kb_header();
    sg_rng rng;
    sg_rng_init(&rng, seed, 0x4157u, (uint32_t)k, 0);
    double run_factor = exp(0.03 * sg_rng_normal(&rng));
    char commit[32], when[32], run_id[96];
    syn_commit(k, commit, sizeof commit);
    syn_time(k, 0, when, sizeof when);
    snprintf(run_id, sizeof run_id, "bench-syn-cpu-%s-%d", SYN_MACHINE, 1000000 + k);
    sg_csv_row rows[SYN_NBENCH];
    for (int b = 0; b < SYN_NBENCH; b++) {
        const syn_bench *sb = &SYN_BENCHES[b];
        double level = sb->level_s * run_factor;
        if (!strcmp(sb->kernel, "conv2d_fwd") && k >= planted_at) level *= planted_factor;
        double reps[SYN_REPS];
        char rep_text[SYN_REPS * 32] = "";
        for (int r = 0; r < SYN_REPS; r++) {
            reps[r] = level * exp(sb->spread * sg_rng_normal(&rng));
            size_t at = strlen(rep_text);
            snprintf(rep_text + at, sizeof rep_text - at, "%s%.9g", r ? ";" : "", reps[r]);
        }
        char med[32], fl[32], by[32];
        snprintf(med, sizeof med, "%.9g", sg_median(reps, SYN_REPS));
        snprintf(fl, sizeof fl, "%.0f", sb->flops);
        snprintf(by, sizeof by, "%.0f", sb->bytes);
        sg_csv_row_init(&rows[b]);
        for (int c = 0; c < nc; c++) {
            const char *v = syn_machine_cell(h[c]);
            if (!strcmp(h[c], "run_id")) v = run_id;
            else if (!strcmp(h[c], "time_utc")) v = when;
            else if (!strcmp(h[c], "backend")) v = "cpu";
            else if (!strcmp(h[c], "suite")) v = "syn";
            else if (!strcmp(h[c], "kind")) v = sb->kind;
            else if (!strcmp(h[c], "config")) v = strcmp(sb->kind, "ceiling") ? "synth" : "";
            else if (!strcmp(h[c], "kernel")) v = sb->kernel;
            else if (!strcmp(h[c], "shape")) v = sb->shape;
            else if (!strcmp(h[c], "flops")) v = fl;
            else if (!strcmp(h[c], "bytes")) v = by;
            else if (!strcmp(h[c], "median_s")) v = med;
            else if (!strcmp(h[c], "rep_times_s")) v = rep_text;
            else if (!strcmp(h[c], "status")) v = "ok";
            else if (!strcmp(h[c], "git_commit")) v = commit;
            sg_csv_row_str(&rows[b], v ? v : "");
        }
    }
    sg_err err;
    if (sg_csv_write_atomic(path, nc, h, rows, SYN_NBENCH, &err)) syn_die(path, err.msg);
    for (int b = 0; b < SYN_NBENCH; b++) sg_csv_row_free(&rows[b]);
}

/* A training-results CSV holding commits [k0, k1), 3 seeds each. */
static inline void syn_write_results(const char *path, int k0, int k1, int drop_at, double drop,
                                     uint64_t seed) {
    int nc = sg_train_results_ncols();
    const char *const *h = sg_train_results_header();
    int n = (k1 - k0) * 3;
    sg_csv_row *rows = tu_alloc((size_t)n * sizeof *rows);
    for (int k = k0, i = 0; k < k1; k++)
        for (int s = 1; s <= 3; s++, i++) {
            sg_rng rng;
            sg_rng_init(&rng, seed, 0x7e5u, (uint32_t)k, (uint32_t)s);
            double probe = 70.0 + 0.4 * sg_rng_normal(&rng) - (k >= drop_at ? drop : 0.0);
            double imgs = 300.0 * exp(0.03 * sg_rng_normal(&rng));
            char commit[32], when[32], run_id[96], seed_s[8], pb[32], knn[32], ips[32];
            syn_commit(k, commit, sizeof commit);
            syn_time(k, 10 + s, when, sizeof when);
            snprintf(run_id, sizeof run_id, "syn-byol-%s-s%d", commit, s);
            snprintf(seed_s, sizeof seed_s, "%d", s);
            snprintf(pb, sizeof pb, "%.2f", probe);
            snprintf(knn, sizeof knn, "%.2f", probe - 1.0);
            snprintf(ips, sizeof ips, "%.3f", imgs);
            sg_csv_row_init(&rows[i]);
            for (int c = 0; c < nc; c++) {
                const char *v = syn_machine_cell(h[c]);
                if (!strcmp(h[c], "run_id")) v = run_id;
                else if (!strcmp(h[c], "finished_utc")) v = when;
                else if (!strcmp(h[c], "git_commit")) v = commit;
                else if (!strcmp(h[c], "seed")) v = seed_s;
                else if (!strcmp(h[c], "dataset")) v = "fashion_mnist";
                else if (!strcmp(h[c], "method")) v = "byol";
                else if (!strcmp(h[c], "tag")) v = "syn-suite/byol_mlp";
                else if (!strcmp(h[c], "backend")) v = "cpu";
                else if (!strcmp(h[c], "probe_best")) v = pb;
                else if (!strcmp(h[c], "knn_acc")) v = knn;
                else if (!strcmp(h[c], "img_per_s")) v = ips;
                else if (!strcmp(h[c], "config_hash")) v = "0123456789abcdef";
                sg_csv_row_str(&rows[i], v ? v : "");
            }
        }
    sg_err err;
    if (sg_csv_write_atomic(path, nc, h, rows, (size_t)n, &err)) syn_die(path, err.msg);
    for (int i = 0; i < n; i++) sg_csv_row_free(&rows[i]);
    free(rows);
}
