/* app/cmd_selfcheck.c: `stopgrad selfcheck`, every kernel of a backend against its reference.
 *
 * Runs the op list of kernels/opcheck/opcheck.h: each op on a small random shape (or one given
 * shape), compared with its double-precision reference; optionally timed after validation. A
 * conv op on its default shape runs again with every algorithm the backend runs there besides
 * its own (e.g. cudnn on CUDA, dnnl on the CPU), and a gemm, linear or conv op with every other
 * sgemm (gemm=1: oneDNN's on the CPU), one row each.
 * Prints one table row per op; exit status 0 when every op passed, 1 when one failed or could
 * not run, 2 on a usage error. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "core/base/csv.h"
#include "core/base/err.h"
#include "core/base/machine.h"
#include "kernels/backend.h"
#include "kernels/backend_machine.h"
#include "kernels/opcheck/opcheck.h"
#include "kernels/kernels.h"

#define SELFCHECK_DEFAULT_REPS 10


/* ResNet-18's 3x3 layer on STL-10 crops (96x96 in, 24x24 after the stem), batch 64. */
static const char *const selfcheck_gemm_shape = "M=1024,N=1024,K=1024";
static const char *const selfcheck_conv_shape = "N=64,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1";

typedef struct {
    const char *backend;
    int threads; /* 0: leave the backend's default */
    uint64_t seed;
    const char *filter;
    const char *shape;
    int time_reps;
    const char *csv;
    int gflops;
    int list;
} selfcheck_opts;

/* One op's outcome: a result, or the reason it could not run. */
typedef struct {
    sg_opcheck_result res;
    int ran;
    char error[sizeof(((sg_err *)0)->msg)];
} selfcheck_row;

static void selfcheck_usage(FILE *f) {
    fprintf(f,
            "usage: stopgrad selfcheck [options]\n"
            "Checks every kernel of a backend against its double-precision reference on random\n"
            "inputs (and, with --time, times the kernels that match).\n"
            "\n"
            "  --backend NAME   backend to check (default cpu)\n"
            "  --threads N      CPU threads (default: every core)\n"
            "  --seed N         seed of the random inputs (default 1)\n"
            "  --filter TEXT    only the ops whose name contains TEXT (an exact name selects\n"
            "                   that op alone)\n"
            "  --shape SPEC     run the one op --filter selects on SPEC instead of its small\n"
            "                   default shape, e.g. --filter conv2d_fwd --shape\n"
            "                   N=64,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1\n"
            "  --time REPS      after validation, time each kernel REPS times: median ms,\n"
            "                   GFLOP/s and GB/s\n"
            "  --csv FILE       also write the results, with the machine columns, to FILE\n"
            "  --gflops         sgemm at M=N=K=%d and conv2d_fwd at the ResNet-18 STL-10 layer\n"
            "                   shape (%s),\n"
            "                   validated, then timed (--time REPS, default %d); prints the conv\n"
            "                   rate as a fraction of the sgemm rate\n"
            "  --list           list the ops, their shape parameters ([name=default] are\n"
            "                   optional) and default shapes, the conv algorithms (algo=N)\n"
            "                   and the CPU sgemms (gemm=N)\n"
            "  --help           this text\n"
            "\n"
            "Exit status: 0 all ops passed, 1 an op failed or could not run, 2 usage error.\n",
            1024, selfcheck_conv_shape, SELFCHECK_DEFAULT_REPS);
}

/* Prints the message and returns the usage-error exit status. */
static int selfcheck_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int selfcheck_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stopgrad selfcheck: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see stopgrad selfcheck --help)\n");
    va_end(ap);
    return 2;
}

/* A whole decimal number in [lo, hi]. */
static int selfcheck_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* 0 ok, 1 --help/--list printed, 2 usage error (message printed). */
static int selfcheck_parse(int argc, char **argv, selfcheck_opts *o) {
    *o = (selfcheck_opts){.backend = "cpu", .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            selfcheck_usage(stdout);
            return 1;
        }
        if (strcmp(arg, "--gflops") == 0) {
            o->gflops = 1;
            continue;
        }
        if (strcmp(arg, "--list") == 0) {
            o->list = 1;
            continue;
        }
        /* options with a value: "--opt VALUE" or "--opt=VALUE" */
        static const char *const with_value[] = {"--backend", "--threads", "--seed", "--filter",
                                                 "--shape",   "--time",    "--csv"};
        const char *name = NULL, *value = NULL;
        for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
            size_t n = strlen(with_value[k]);
            if (strncmp(arg, with_value[k], n) != 0) continue;
            if (arg[n] == 0) {
                if (i + 1 >= argc) return selfcheck_usage_error("%s needs a value", arg);
                name = with_value[k];
                value = argv[++i];
            } else if (arg[n] == '=') {
                name = with_value[k];
                value = arg + n + 1;
            }
            if (name) break;
        }
        if (!name) return selfcheck_usage_error("unknown option '%s'", arg);
        uint64_t v;
        if (strcmp(name, "--backend") == 0) {
            o->backend = value;
        } else if (strcmp(name, "--threads") == 0) {
            if (selfcheck_parse_u64(value, 1, 4096, &v))
                return selfcheck_usage_error("--threads: '%s' is not a count in [1, 4096]", value);
            o->threads = (int)v;
        } else if (strcmp(name, "--seed") == 0) {
            if (selfcheck_parse_u64(value, 0, UINT64_MAX, &v))
                return selfcheck_usage_error("--seed: '%s' is not a non-negative integer", value);
            o->seed = v;
        } else if (strcmp(name, "--filter") == 0) {
            o->filter = value;
        } else if (strcmp(name, "--shape") == 0) {
            o->shape = value;
        } else if (strcmp(name, "--time") == 0) {
            if (selfcheck_parse_u64(value, 1, 1000000, &v))
                return selfcheck_usage_error("--time: '%s' is not a count in [1, 1000000]", value);
            o->time_reps = (int)v;
        } else {
            o->csv = value;
        }
    }
    if (o->gflops && (o->filter || o->shape))
        return selfcheck_usage_error("--gflops runs its own two shapes: drop %s",
                                     o->filter ? "--filter" : "--shape");
    return 0;
}

static const sg_backend *selfcheck_backend(const char *name) {
    const sg_backend *be = sg_backend_get(name);
    if (be) return be;
    fprintf(stderr,
            "stopgrad selfcheck: backend '%s': %s (this build has: %s)\n"
            "(see stopgrad selfcheck --help)\n",
            name, sg_backend_unavailable(name), sg_backend_compiled());
    return NULL;
}

static void selfcheck_list(void) {
    printf("%-20s %-48s %s\n", "op", "parameters", "default shape");
    for (int i = 0; i < SG_OP_COUNT; i++)
        printf("%-20s %-48s %s\n", sg_op_get(i)->name, sg_op_params_text(i),
               sg_op_get(i)->default_shape);
    /* the conv ops' algo values: conv.algo's names (kernels.h says which backend runs each) */
    printf("conv algorithms (algo=N):");
    for (int a = 0; a < SG_CONV_ALGO_COUNT; a++)
        printf("%s %d %s", a ? "," : "", a, sg_conv_algo_names[a]);
    printf("\n");
    /* the gemm and linear ops' gemm values: gemm.impl's names (the CPU backend runs each) */
    printf("CPU sgemms (gemm=N):");
    for (int g = 0; g < SG_GEMM_IMPL_COUNT; g++)
        printf("%s %d %s", g ? "," : "", g, sg_gemm_impl_names[g]);
    printf("\n");
}

/* The default shape of op `op` with its parameter `param` (a conv's algo, a gemm's sgemm) set to
 * a, into buf: a selfcheck row of its own when the backend runs it (0 when it does not). */
static int selfcheck_variant_shape(const sg_backend *be, int op, const char *param, int a,
                                   char *buf, size_t cap) {
    int val[SG_OP_MAXP];
    sg_err err;
    if (sg_op_parse_shape((sg_op)op, sg_op_get(op)->default_shape, val, &err)) return 0;
    val[sg_op_param_index((sg_op)op, param)] = a;
    if (!sg_backend_supports(be, (sg_op)op, val)) return 0;
    sg_op_format_shape((sg_op)op, val, buf, cap);
    return 1;
}

static double selfcheck_rate(double amount, const sg_opcheck_result *r) {
    return r->reps > 0 && r->seconds_median > 0 ? amount / r->seconds_median / 1e9 : 0;
}

static void selfcheck_print_header(int timed) {
    printf("%-20s %-52s %9s %8s %8s", "kernel", "shape", "err/tol", "atol", "rtol");
    printf(timed ? " %-7s" : " %s", "verdict");
    if (timed) printf(" %10s %9s %8s", "median_ms", "GFLOP/s", "GB/s");
    printf("\n");
}

static void selfcheck_print_row(const selfcheck_row *row, int timed) {
    const sg_opcheck_result *r = &row->res;
    if (!row->ran) {
        printf("%-20s ERROR: %s\n", r->kernel, row->error);
        return;
    }
    printf("%-20s %-52s %9.3g %8.1e %8.1e", r->kernel, r->shape, r->max_err, r->tol_atol,
           r->tol_rtol);
    printf(timed ? " %-7s" : " %s", r->ok ? "ok" : "FAIL");
    if (timed && r->reps > 0)
        printf(" %10.4f %9.2f %8.2f", 1e3 * r->seconds_median, selfcheck_rate(r->cost.flops, r),
               selfcheck_rate(r->cost.bytes, r));
    printf("\n");
    fflush(stdout);
}

/* The rows with the machine columns, written atomically. */
static int selfcheck_write_csv(const char *path, const char *backend, uint64_t seed,
                               const selfcheck_row *rows, int nrows, sg_err *err) {
    static const char *const own[] = {"backend", "kernel",       "shape",    "seed",
                                      "ok",      "max_err",      "tol_atol", "tol_rtol",
                                      "flops",   "bytes",        "reps",     "seconds_median",
                                      "gflops",  "gbytes_per_s", "error"};
    const int nown = (int)(sizeof own / sizeof own[0]);
    sg_machine m;
    if (sg_machine_probe_backend(&m, sg_backend_get(backend), sg_cpu_get_threads(), err)) return -1;
    int ncols = nown + sg_machine_ncols();
    const char **header = malloc(sizeof(char *) * (size_t)ncols);
    sg_csv_row *out = malloc(sizeof(sg_csv_row) * (size_t)(nrows ? nrows : 1));
    if (!header || !out) {
        free(header);
        free(out);
        return sg_errf(err, "%s: out of memory", path);
    }
    for (int c = 0; c < nown; c++) header[c] = own[c];
    for (int c = 0; c < sg_machine_ncols(); c++) header[nown + c] = sg_machine_header()[c];
    for (int k = 0; k < nrows; k++) {
        const sg_opcheck_result *r = &rows[k].res;
        sg_csv_row *o = &out[k];
        sg_csv_row_init(o);
        sg_csv_row_str(o, backend);
        sg_csv_row_str(o, r->kernel);
        sg_csv_row_str(o, rows[k].ran ? r->shape : "");
        char seed_text[24];
        snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
        sg_csv_row_str(o, seed_text);
        sg_csv_row_int(o, rows[k].ran && r->ok);
        sg_csv_row_double(o, r->max_err);
        sg_csv_row_double(o, r->tol_atol);
        sg_csv_row_double(o, r->tol_rtol);
        sg_csv_row_double(o, r->cost.flops);
        sg_csv_row_double(o, r->cost.bytes);
        sg_csv_row_int(o, r->reps);
        sg_csv_row_double(o, r->seconds_median);
        sg_csv_row_double(o, selfcheck_rate(r->cost.flops, r));
        sg_csv_row_double(o, selfcheck_rate(r->cost.bytes, r));
        sg_csv_row_str(o, rows[k].ran ? "" : rows[k].error);
        sg_machine_row(&m, o);
    }
    int rc = sg_csv_write_atomic(path, ncols, header, out, (size_t)nrows, err);
    for (int k = 0; k < nrows; k++) sg_csv_row_free(&out[k]);
    free(out);
    free(header);
    return rc;
}

static void selfcheck_run_one(const sg_backend *be, int op, const char *shape, uint64_t seed,
                              int reps, selfcheck_row *row) {
    sg_err err = {{0}};
    memset(row, 0, sizeof *row);
    row->ran = sg_opcheck_run(be, op, shape, seed, reps, &row->res, &err) == 0;
    if (!row->ran) snprintf(row->error, sizeof row->error, "%s", err.msg);
}

int sg_cmd_selfcheck(int argc, char **argv) {
    selfcheck_opts o;
    int prc = selfcheck_parse(argc, argv, &o);
    if (prc) return prc == 1 ? 0 : 2;
    if (o.list) {
        selfcheck_list();
        return 0;
    }
    const sg_backend *be = selfcheck_backend(o.backend);
    if (!be) return 2;
    if (o.threads) sg_cpu_set_threads(o.threads);

    /* the ops to run: --gflops' two, or those whose name contains --filter (conv ops once more
     * per other algorithm the backend runs, gemm and linear ops per other sgemm) */
    int nops = SG_OP_COUNT;
    enum { MOST_VARIANTS = 3 * SG_CONV_ALGO_COUNT + 9 * SG_GEMM_IMPL_COUNT };
    const int most = nops + 2 + MOST_VARIANTS;
    static char algo_shapes[MOST_VARIANTS][192];
    int *ops = malloc(sizeof(int) * (size_t)most);
    const char **shapes = malloc(sizeof(char *) * (size_t)most);
    selfcheck_row *rows = malloc(sizeof(selfcheck_row) * (size_t)most);
    if (!ops || !shapes || !rows) {
        fprintf(stderr, "stopgrad selfcheck: out of memory\n");
        free(ops), free(shapes), free(rows);
        return 1;
    }
    int nsel = 0, reps = o.time_reps, status = 0;
    if (o.gflops) {
        if (reps == 0) reps = SELFCHECK_DEFAULT_REPS;
        ops[0] = sg_op_find("gemm_nn"), shapes[0] = selfcheck_gemm_shape;
        ops[1] = sg_op_find("conv2d_fwd"), shapes[1] = selfcheck_conv_shape;
        nsel = 2;
    } else if (o.filter && sg_op_find(o.filter) >= 0) {
        ops[0] = sg_op_find(o.filter), shapes[0] = o.shape;
        nsel = 1;
    } else {
        for (int i = 0; i < nops; i++)
            if (!o.filter || strstr(sg_op_get(i)->name, o.filter))
                ops[nsel] = i, shapes[nsel++] = o.shape;
        if (nsel == 0) {
            status = selfcheck_usage_error("--filter '%s' matches no op name (--list lists them)",
                                           o.filter);
        } else if (o.shape && !o.filter) {
            status = selfcheck_usage_error("--shape needs --filter selecting exactly one op");
        } else if (o.shape && nsel != 1) {
            status = selfcheck_usage_error("--shape needs --filter selecting exactly one op; "
                                           "'%s' matches %d (%s, %s, ...)",
                                           o.filter, nsel, sg_op_get(ops[0])->name,
                                           sg_op_get(ops[1])->name);
        }
    }
    if (status) {
        free(ops), free(shapes), free(rows);
        return status;
    }
    if (!o.gflops && !o.shape) {
        const int nbase = nsel;
        int na = 0;
        /* im2col (algo) and OpenBLAS (gemm) are the default rows' computations */
        static const struct {
            const char *param;
            int first, end;
        } variants[2] = {{"algo", SG_CONV_IM2COL + 1, SG_CONV_ALGO_COUNT},
                         {"gemm", SG_GEMM_OPENBLAS + 1, SG_GEMM_IMPL_COUNT}};
        for (int k = 0; k < nbase; k++)
            for (int v = 0; v < 2; v++) {
                if (sg_op_param_index((sg_op)ops[k], variants[v].param) < 0) continue;
                for (int a = variants[v].first; a < variants[v].end && na < MOST_VARIANTS; a++)
                    if (selfcheck_variant_shape(be, ops[k], variants[v].param, a, algo_shapes[na],
                                                sizeof algo_shapes[na])) {
                        ops[nsel] = ops[k], shapes[nsel++] = algo_shapes[na];
                        na++;
                    }
            }
    }

    int failed = 0;
    for (int k = 0; k < nsel; k++) {
        selfcheck_run_one(be, ops[k], shapes[k], o.seed, reps, &rows[k]);
        if (!rows[k].ran && o.shape) {
            /* a shape the user gave that does not fit the op is a usage error */
            status = selfcheck_usage_error("--shape: %s", rows[k].error);
            free(ops), free(shapes), free(rows);
            return status;
        }
        if (k == 0) {
            printf("stopgrad selfcheck: backend %s, threads %d, seed %llu, %d op%s%s\n", be->name,
                   sg_cpu_get_threads(), (unsigned long long)o.seed, nsel, nsel == 1 ? "" : "s",
                   reps ? ", validated then timed" : "");
            selfcheck_print_header(reps > 0);
        }
        selfcheck_print_row(&rows[k], reps > 0);
        if (!rows[k].ran || !rows[k].res.ok) failed++;
    }
    printf("%d of %d ops passed%s\n", nsel - failed, nsel, failed ? "" : ": all match");

    if (o.gflops && failed == 0) {
        const sg_opcheck_result *g = &rows[0].res, *c = &rows[1].res;
        double gr = selfcheck_rate(g->cost.flops, g), cr = selfcheck_rate(c->cost.flops, c);
        printf("sgemm %s: %.2f GFLOP/s\n", g->shape, gr);
        printf("conv2d_fwd %s: %.2f GFLOP/s = %.3f of the sgemm rate\n", c->shape, cr,
               gr > 0 ? cr / gr : 0);
    }
    if (o.csv) {
        sg_err err = {{0}};
        if (selfcheck_write_csv(o.csv, be->name, o.seed, rows, nsel, &err)) {
            fprintf(stderr, "stopgrad selfcheck: %s\n", err.msg);
            if (!status) status = 1;
        }
    }
    free(ops), free(shapes), free(rows);
    if (status) return status;
    return failed ? 1 : 0;
}
