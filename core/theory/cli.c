/* core/theory/cli.c: `stopgrad theory check|figures` (see cli.h). */
#define _POSIX_C_SOURCE 200809L
#include "core/theory/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/file.h"
#include "core/base/config.h"
#include "core/theory/claims.h"
#include "core/theory/figures.h"

#define DEFAULT_OUT "results/runs/theory"

static void usage_top(FILE *f) {
    fprintf(f,
            "usage: stopgrad theory SUBCOMMAND [options]   (stopgrad theory SUBCOMMAND --help)\n\n"
            "The linear-network theory of Tian, Chen & Ganguli (ICML 2021): per-eigenmode and\n"
            "matrix gradient-flow simulators, discrete SGD on the linear model.\n\n"
            "subcommands:\n"
            "  check     run every claim as a PASS/FAIL check; print the table, write a CSV\n"
            "  figures   write trajectory CSVs and render PNG figures with gnuplot\n");
}

static void usage_check(FILE *f) {
    fprintf(
        f, "usage: stopgrad theory check [--out DIR] [--csv FILE] [--only NAME[,NAME...]] "
           "[--list]\n\n"
           "Runs the theory's claims as named checks and prints check / verdict / seconds /\n"
           "measured. The CSV has columns check, claim, measured, expected, tolerance, verdict,\n"
           "parameters, detail, seconds. Exit status 0 when every check passes, 1 otherwise.\n\n"
           "options:\n"
           "  --out DIR     output directory (default " DEFAULT_OUT "); the CSV is DIR/checks.csv\n"
           "  --csv FILE    write the CSV to FILE instead\n"
           "  --only NAMES  run only these checks (comma-separated; see --list)\n"
           "  --list        list the checks and their claims, run nothing\n"
           "  --help        this text\n");
}

static void usage_figures(FILE *f) {
    fprintf(f, "usage: stopgrad theory figures [--out DIR] [--gnuplot PATH] [--no-render]\n\n"
               "Writes the data of each figure as CSV, a gnuplot script reading it, and the PNG\n"
               "rendered by gnuplot (pngcairo when available, else png), with the parameters in\n"
               "the title; DIR/figures.csv indexes them.\n\n"
               "options:\n"
               "  --out DIR       output directory (default " DEFAULT_OUT ")\n"
               "  --gnuplot PATH  the gnuplot executable (default: gnuplot on PATH)\n"
               "  --no-render     write the CSVs and scripts only, do not run gnuplot\n"
               "  --help          this text\n");
}

/* Matches "--name VALUE" or "--name=VALUE"; advances *i past the value. 1 matched, 0 not,
 * -1 the value is missing (reported). */
static int opt_value(const char *sub, int argc, char **argv, int *i, const char *name,
                     const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        if (!**value) goto missing;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) goto missing;
    *value = argv[++*i];
    return 1;
missing:
    fprintf(stderr, "stopgrad theory %s: option '%s' needs a value\n", sub, name);
    return -1;
}

static int unknown_option(const char *sub, const char *arg, const char *const *known, int nknown) {
    const char *best = NULL;
    int best_d = 1 << 30;
    char name[128];
    snprintf(name, sizeof name, "%s", arg);
    char *eq = strchr(name, '=');
    if (eq) *eq = 0;
    for (int k = 0; k < nknown; k++) {
        int d = sg_edit_distance(name, known[k]);
        if (d < best_d) best_d = d, best = known[k];
    }
    fprintf(stderr, "stopgrad theory %s: unknown option '%s'", sub, arg);
    if (best && best_d <= 3) fprintf(stderr, "; did you mean '%s'?", best);
    fprintf(stderr, " (see stopgrad theory %s --help)\n", sub);
    return 2;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmd_check(int argc, char **argv) {
    static const char *const known[] = {"--out", "--csv", "--only", "--list", "--help"};
    const char *out = DEFAULT_OUT, *csv = NULL, *only = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_check(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--list")) {
            list = 1;
        } else if ((m = opt_value("check", argc, argv, &i, "--out", &out)) != 0) {
            if (m < 0) return 2;
        } else if ((m = opt_value("check", argc, argv, &i, "--csv", &csv)) != 0) {
            if (m < 0) return 2;
        } else if ((m = opt_value("check", argc, argv, &i, "--only", &only)) != 0) {
            if (m < 0) return 2;
        } else if (argv[i][0] == '-') {
            return unknown_option("check", argv[i], known, 5);
        } else {
            fprintf(stderr, "stopgrad theory check: unexpected argument '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
    }
    int n = sg_th_claim_count();
    if (list) {
        for (int i = 0; i < n; i++)
            printf("%-24s %s\n", sg_th_claim_at(i)->name, sg_th_claim_at(i)->statement);
        return 0;
    }
    /* Which checks: all, or the --only list (every name must exist). */
    int *sel = calloc((size_t)n, sizeof(int));
    sg_th_claim_result *rs = calloc((size_t)n, sizeof(sg_th_claim_result));
    if (!sel || !rs) {
        free(sel);
        free(rs);
        fprintf(stderr, "stopgrad theory check: out of memory\n");
        return 1;
    }
    if (only) {
        char *buf = strdup(only); /* a list of any length: none of it is dropped */
        SG_CHECK(buf != NULL, "out of memory");
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            const sg_th_claim *c = sg_th_claim_find(tok);
            if (!c) {
                fprintf(stderr, "stopgrad theory check: --only: unknown check '%s' (see --list)\n",
                        tok);
                free(buf);
                free(sel);
                free(rs);
                return 2;
            }
            for (int i = 0; i < n; i++)
                if (sg_th_claim_at(i) == c) sel[i] = 1;
        }
        free(buf);
    } else {
        for (int i = 0; i < n; i++) sel[i] = 1;
    }
    double t0 = wall_s();
    size_t m = 0;
    for (int i = 0; i < n; i++)
        if (sel[i]) sg_th_claim_run(sg_th_claim_at(i), SG_TH_PERTURB_NONE, &rs[m++]);
    double elapsed = wall_s() - t0;
    sg_th_claims_print(rs, m, stdout);
    printf("total %.2f s\n", elapsed);
    char path[4096];
    sg_err err;
    int rc = 0;
    if (csv) {
        rc = sg_path_printf(path, sizeof path, &err, "%s", csv) ? 2 : 0;
    } else {
        rc = sg_path_printf(path, sizeof path, &err, "%s/checks.csv", out) ? 2 : 0;
        if (!rc && sg_mkdirs(out, &err)) rc = 1;
    }
    if (rc) fprintf(stderr, "stopgrad theory check: %s\n", err.msg);
    if (!rc && sg_th_claims_write_csv(path, rs, m, &err)) {
        fprintf(stderr, "stopgrad theory check: %s\n", err.msg);
        rc = 1;
    }
    if (!rc) printf("wrote %s\n", path);
    for (size_t i = 0; i < m; i++)
        if (!rs[i].pass && !rc) rc = 1;
    free(sel);
    free(rs);
    return rc;
}

static int cmd_figures(int argc, char **argv) {
    static const char *const known[] = {"--out", "--gnuplot", "--no-render", "--help"};
    sg_th_figures_opts o = {
        .out_dir = DEFAULT_OUT, .gnuplot = "gnuplot", .render = 1, .verbose = 0};
    for (int i = 1; i < argc; i++) {
        int m;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_figures(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--no-render")) {
            o.render = 0;
        } else if ((m = opt_value("figures", argc, argv, &i, "--out", &o.out_dir)) != 0) {
            if (m < 0) return 2;
        } else if ((m = opt_value("figures", argc, argv, &i, "--gnuplot", &o.gnuplot)) != 0) {
            if (m < 0) return 2;
        } else if (argv[i][0] == '-') {
            return unknown_option("figures", argv[i], known, 4);
        } else {
            fprintf(stderr, "stopgrad theory figures: unexpected argument '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
    }
    double t0 = wall_s();
    sg_err err;
    if (sg_th_figures(&o, &err)) {
        fprintf(stderr, "stopgrad theory figures: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < sg_th_figure_count(); i++)
        printf("%s/%s.%s\n", o.out_dir, sg_th_figure_name(i), o.render ? "png" : "gp");
    printf("wrote %s/figures.csv (%.1f s)\n", o.out_dir, wall_s() - t0);
    return 0;
}

int sg_th_cli(int argc, char **argv) {
    if (argc < 2) {
        usage_top(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        usage_top(stdout);
        return 0;
    }
    if (!strcmp(sub, "check")) return cmd_check(argc - 1, argv + 1);
    if (!strcmp(sub, "figures")) return cmd_figures(argc - 1, argv + 1);
    fprintf(stderr, "stopgrad theory: unknown subcommand '%s'", sub);
    if (sg_edit_distance(sub, "check") <= 2)
        fprintf(stderr, "; did you mean 'check'?");
    else if (sg_edit_distance(sub, "figures") <= 3)
        fprintf(stderr, "; did you mean 'figures'?");
    fprintf(stderr, "\n\n");
    usage_top(stderr);
    return 2;
}
