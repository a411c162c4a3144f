/* app/cmd_bench.c: `stopgrad bench`: the kernel suite (bench/kbench.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app/commands.h"
#include "bench/kbench.h"
#include "core/base/file.h"
#include "core/base/text.h"
#include "core/dist/dist.h"
#include "build_info.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"

static void bench_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad bench [SUITE] [options]\n\n"
            "Times every kernel one real training step calls, for each configuration of a bench\n"
            "suite (suites/SUITE.bench), through Google Benchmark: the kernel list comes from a\n"
            "trace of the step, each kernel is validated against its double-precision reference\n"
            "on the same inputs before it is timed (a mismatch is recorded, never timed), and the\n"
            "machine's ceilings (a large sgemm, a streaming copy) are measured in the same run.\n"
            "Then the whole step of each configuration, with its per-kernel breakdown and the\n"
            "DirectPred eigen-update. Times come from the backend's own timer (CUDA events on a\n"
            "GPU). Writes a CSV (columns in results/README.md) and Google Benchmark's JSON.\n\n"
            "  SUITE              NAME (suites/NAME.bench) or a path; default kernels-cpu, or\n"
            "                     kernels-gpu with --backend cuda\n"
            "options:\n"
            "  --backend NAME     cpu or cuda (default cpu)\n"
            "  --threads N        CPU threads (default: all cores)\n"
            "  --configs A,B      only these configurations of the suite\n"
            "  --filter TEXT      only benchmarks whose name contains TEXT, e.g. conv2d or\n"
            "                     step/stl10 (the ceilings always run)\n"
            "  --repetitions N    repetitions of each benchmark, >= 2 (default 9)\n"
            "  --min-time S       seconds per repetition, at least (default 0.05)\n"
            "  --steps-only       time only the whole steps (and the ceilings)\n"
            "  --interleave       run the repetitions of all benchmarks in random order, so\n"
            "                     load from elsewhere spreads over many benchmarks instead of\n"
            "                     slowing every repetition of a few (for regression checks on\n"
            "                     shared machines; holds every benchmark's buffers at once)\n"
            "  --out FILE         results CSV (default results/bench/SUITE-BACKEND-TIME.csv);\n"
            "                     an existing file is never overwritten\n"
            "  --json FILE        Google Benchmark's JSON (default: the CSV's path with .json),\n"
            "                     which tools/compare.py reads\n"
            "  --list             print the traced kernels of each configuration and exit\n"
            "  --quiet            no console table\n\n"
            "Under mpirun -np N (or srun -n N) it times, for each configuration, the\n"
            "data-parallel step (the configuration's batch split over the N ranks) and the sum of\n"
            "its gradients over the ranks, with the all-reduce's algorithm and bus bandwidth as\n"
            "nccl-tests reports them (busbw = algbw * 2(N-1)/N), into SUITE-BACKEND-TIME-npN.csv:\n"
            "  mpirun -np 2 stopgrad bench kernels-cpu --threads 1 --configs fmnist\n");
}

int sg_cmd_bench(int argc, char **argv) {
    /* 50 ms per repetition: ~300 kernels x 9 repetitions in minutes, not Google Benchmark's
     * default 0.5 s each (a suite of a model's kernels would take an hour) */
    sg_kb_opts o = {.repetitions = 9, .min_time = 0.05};
    const char *suite = NULL, *backend = "cpu", *out = NULL, *json = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_help(stdout);
            return 0;
        } else if (!strcmp(a, "--list")) {
            o.list = 1;
        } else if (!strcmp(a, "--quiet")) {
            o.quiet = 1;
        } else if (!strcmp(a, "--interleave")) {
            o.interleave = 1;
        } else if (!strcmp(a, "--steps-only")) {
            o.step_only = 1;
        } else if (!strcmp(a, "--backend") || !strcmp(a, "--threads") || !strcmp(a, "--filter") ||
                   !strcmp(a, "--configs") ||
                   !strcmp(a, "--repetitions") || !strcmp(a, "--min-time") ||
                   !strcmp(a, "--out") || !strcmp(a, "--json")) {
            if (!has_value) {
                fprintf(stderr, "stopgrad bench: %s needs a value (see --help)\n", a);
                return 2;
            }
            const char *v = argv[++i];
            char *end;
            if (!strcmp(a, "--backend")) {
                backend = v;
            } else if (!strcmp(a, "--threads")) {
                long t = strtol(v, &end, 10);
                if (*end || t < 1 || t > 4096) {
                    fprintf(stderr, "stopgrad bench: --threads expects 1..4096, got '%s'\n", v);
                    return 2;
                }
                threads = (int)t;
            } else if (!strcmp(a, "--filter")) {
                o.filter = v;
            } else if (!strcmp(a, "--configs")) {
                o.configs = v;
            } else if (!strcmp(a, "--repetitions")) {
                long r = strtol(v, &end, 10);
                if (*end || r < 2 || r > 64) {
                    fprintf(stderr, "stopgrad bench: --repetitions expects 2..64, got '%s'\n", v);
                    return 2;
                }
                o.repetitions = (int)r;
            } else if (!strcmp(a, "--min-time")) {
                double t = strtod(v, &end);
                if (*end || !(t > 0 && t <= 60)) {
                    fprintf(stderr, "stopgrad bench: --min-time expects seconds in (0, 60], got "
                                    "'%s'\n", v);
                    return 2;
                }
                o.min_time = t;
            } else if (!strcmp(a, "--out")) {
                out = v;
            } else {
                json = v;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "stopgrad bench: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!suite) {
            suite = a;
        } else {
            fprintf(stderr, "stopgrad bench: one suite at a time ('%s' and '%s')\n", suite, a);
            return 2;
        }
    }
    o.be = sg_backend_get(backend);
    if (!o.be) {
        fprintf(stderr, "stopgrad bench: --backend %s: %s (this binary has: %s)\n", backend,
                sg_backend_unavailable(backend), sg_backend_compiled());
        return 2;
    }
    o.threads = sg_cpu_set_threads(threads);
    if (!suite) suite = strcmp(backend, "cuda") ? "kernels-cpu" : "kernels-gpu";
    sg_kb_suite s;
    sg_err err;
    if (sg_kb_load(&s, suite, SG_SUITES_DIR, &err)) {
        fprintf(stderr, "stopgrad bench: %s\n", err.msg);
        return 2;
    }
    char out_buf[4096], json_buf[4200];
    if (!out) {
        char t[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(t, sizeof t, "%Y%m%d-%H%M%S", &tm);
        const int N = sg_dist_get()->size;
        if (N > 1)
            snprintf(out_buf, sizeof out_buf, "results/bench/%s-%s-%s-np%d.csv", s.name, backend,
                     t, N);
        else
            snprintf(out_buf, sizeof out_buf, "results/bench/%s-%s-%s.csv", s.name, backend, t);
        out = out_buf;
    }
    if (!json) {
        /* OUT.csv -> OUT.json, anything else -> OUT.json appended */
        size_t stem = strlen(out);
        if (stem >= 4 && !strcmp(out + stem - 4, ".csv")) stem -= 4;
        if (sg_path_printf(json_buf, sizeof json_buf, &err, "%.*s.json", (int)stem, out)) {
            fprintf(stderr, "stopgrad bench: --out: %s\n", err.msg);
            return 2;
        }
        json = json_buf;
    }
    struct stat st;
    if (!o.list && (stat(out, &st) == 0 || stat(json, &st) == 0)) {
        fprintf(stderr, "stopgrad bench: %s already exists: results are never overwritten; "
                        "choose another --out (and --json) or delete it\n",
                stat(out, &st) == 0 ? out : json);
        return 2;
    }
    if (!o.list && (sg_mkdirs_for(out, &err) || sg_mkdirs_for(json, &err))) {
        fprintf(stderr, "stopgrad bench: %s\n", err.msg);
        return 1;
    }
    o.csv_path = out;
    o.json_path = json;
    const sg_dist_world *w = sg_dist_get();
    if (w->size > 1) {
        if (w->rank == 0)
            printf("stopgrad bench: suite %s, backend %s, %d ranks (%d on this node), %s, threads "
                   "%d per rank, %d repetitions\n", s.name, o.be->name, w->size, w->local_size,
                   w->library, o.threads, o.repetitions);
        if (sg_kb_dist_run(&s, &o, &err)) {
            fprintf(stderr, "stopgrad bench: rank %d of %d: %s\n", w->rank, w->size, err.msg);
            return 1;
        }
        return 0;
    }
    printf("stopgrad bench: suite %s, backend %s, threads %d, %d repetitions\n", s.name,
           o.be->name, o.threads, o.repetitions);
    fflush(stdout);
    int rc = sg_kb_run(&s, &o, &err);
    if (rc < 0) {
        fprintf(stderr, "stopgrad bench: %s\n", err.msg);
        return 1;
    }
    if (rc > 0) fprintf(stderr, "stopgrad bench: %s\n", err.msg);
    if (!o.list) printf("wrote %s and %s\n", out, json);
    return rc ? 1 : 0;
}
