/* app/cmd_check.c: `stopgrad check`: results against the published numbers, row by row of
 * results/reference/published.csv (core/harness/published.h). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "build_info.h"
#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/harness/published.h"
#include "core/harness/suite.h"

#define CHECK_MAX_INPUTS 64
#define CHECK_DEFAULT_REFERENCE SG_SUITES_DIR "/../results/reference/published.csv"

static void check_help(FILE *f) {
    fprintf(
        f,
        "usage: stopgrad check RESULTS.csv [MORE.csv ...] [--suites DIR] [--reference FILE]\n"
        "                      [--out DIR] [--force] [--gnuplot PATH]\n"
        "       stopgrad check --list-unmapped [--suites DIR] [--reference FILE]\n\n"
        "Compares stopgrad's results with the published numbers, one line per row of the\n"
        "reference file. Each suite file's `answers RUN = REF_ID ...` says which reference\n"
        "rows the suite's run reproduces; results rows are grouped by their tag (SUITE/RUN),\n"
        "over seeds (mean and sample std; several runs answering one row are pooled).\n\n"
        "stopgrad's accuracy is probe_best: the reference code reports the best test accuracy\n"
        "over its linear probe's epochs, and so does stopgrad (so does SimSiam's evaluation,\n"
        "eval.protocol=simsiam); rows evaluated with BYOL's protocol (eval.protocol=byol) use\n"
        "`probe`, the test accuracy at the lr and epoch chosen on a held-out split. Top-5\n"
        "rows use probe_top5 (at the chosen epoch).\n\n"
        "verdicts, by the reference row's rule:\n"
        "  PASS / FAIL    within:   |ours - published| <= max(2 x published std, %.1f) points\n"
        "                           (%.1f when the std is not published);\n"
        "                 collapse: ours collapsed too: collapse_std < %.2f or probe_best below\n"
        "                           chance + %.0f points (chance = 100 / classes: 10 classes for\n"
        "                           STL-10 and CIFAR-10, 1000 for ImageNet)\n"
        "  NOT RUN        a suite answers the row, but the results have none of its runs\n"
        "  UNMAPPED       no suite answers the row\n"
        "  NO METRIC      results exist, but not the row's metric\n"
        "  flags: PARTIAL-SEEDS (fewer seeds than published; still judged), SETUP-DIFFERS\n"
        "  (a run's dataset or epochs differ from the row's; still judged).\n"
        "A row without results is never PASS.\n\n"
        "Then, for every suite with results here and `expect` lines (the CPU-scale mirror's\n"
        "qualitative claims: which settings collapse, orderings), its table and each claim's\n"
        "PASS / FAIL / NOT RUN; a failed claim also makes the exit status 1.\n\n"
        "Writes DIR/check.csv, DIR/check.md (a markdown table per published table) and\n"
        "DIR/check.png (per published table with results, bars of published vs ours, drawn by\n"
        "gnuplot: Debian's gnuplot-nox; its data and script are kept as check.dat, check.gp).\n\n"
        "options:\n"
        "  --suites DIR      the suite files (default %s)\n"
        "  --reference FILE  the published numbers (default %s)\n"
        "  --out DIR         output folder (default results/check), created when missing\n"
        "  --force           overwrite an existing DIR/check.csv, check.md, check.png\n"
        "  --gnuplot PATH    the gnuplot executable (default: gnuplot on PATH)\n"
        "  --list-unmapped   print only the ref_ids no suite answers (no results needed,\n"
        "                    nothing written); exit 0 when there are none, else 1\n\n"
        "exit status: 0 no FAIL; 1 a FAIL, or check.png could not be made (no gnuplot: the\n"
        "CSV and markdown are written); 2 usage or input error (unreadable or malformed file,\n"
        "missing column, unknown ref_id in a suite, an existing output without --force).\n",
        SG_PUB_WITHIN_FLOOR, SG_PUB_WITHIN_FLOOR, SG_PUB_COLLAPSE_STD,
        SG_PUB_COLLAPSE_MARGIN, SG_SUITES_DIR, CHECK_DEFAULT_REFERENCE);
}

/* The suites' own claims (their `expect` lines: which settings collapse, orderings) on the runs
 * the results hold: the checks of the CPU-scale mirror, which answers no published row, and of
 * any suite with expectations. Returns 0 when every claim with results holds, 1 when one fails
 * (a claim without results is NOT RUN, never PASS), 2 on an input error. */
static int check_claims(const char *const *results, int nresults, const char *suites_dir) {
    DIR *d = opendir(suites_dir);
    if (!d) return 0;
    sg_suite *s = malloc(sizeof *s);
    if (!s) {
        closedir(d);
        fprintf(stderr, "stopgrad check: out of memory\n");
        return 2;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 7 || strcmp(e->d_name + n - 6, ".suite")) continue;
        char path[4200];
        sg_err err;
        /* a suite that does not load (nor a path that does not fit) was reported by the
         * reference check, which read the same folder */
        if (sg_path_printf(path, sizeof path, &err, "%s/%s", suites_dir, e->d_name) ||
            sg_suite_load(s, path, suites_dir, &err))
            continue;
        if (s->nexpect == 0) continue;
        for (int i = 0; i < nresults; i++) {
            sg_csv_table t;
            if (sg_csv_read(results[i], &t, &err)) continue;
            int col = sg_csv_col(&t, "tag"), found = 0;
            size_t pl = strlen(s->name);
            for (size_t r = 0; col >= 0 && r < t.nrows && !found; r++) {
                const char *tag = sg_csv_cell(&t, r, col);
                found = !strncmp(tag, s->name, pl) && tag[pl] == '/';
            }
            sg_csv_table_free(&t);
            if (!found) continue;
            printf("\nclaims of suite %s on %s:", s->name, results[i]);
            int src = sg_suite_report(s, results[i], &err);
            if (src < 0) {
                fprintf(stderr, "stopgrad check: %s\n", err.msg);
                rc = 2;
            } else if (src > 0 && rc == 0) {
                rc = 1;
            }
        }
    }
    closedir(d);
    free(s);
    return rc;
}

int sg_cmd_check(int argc, char **argv) {
    const char *inputs[CHECK_MAX_INPUTS];
    sg_published_opts o;
    memset(&o, 0, sizeof o);
    o.in.results = inputs;
    o.in.suites_dir = SG_SUITES_DIR;
    o.in.reference = CHECK_DEFAULT_REFERENCE;
    o.out.out_dir = "results/check";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            check_help(stdout);
            return 0;
        } else if (!strcmp(a, "--force")) {
            o.out.force = 1;
        } else if (!strcmp(a, "--list-unmapped")) {
            o.list_unmapped = 1;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--suites") || !strcmp(a, "--reference") ||
                   !strcmp(a, "--gnuplot")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "stopgrad check: %s needs a value (see --help)\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--out"))
                o.out.out_dir = v;
            else if (!strcmp(a, "--suites"))
                o.in.suites_dir = v;
            else if (!strcmp(a, "--reference"))
                o.in.reference = v;
            else
                o.out.gnuplot = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stopgrad check: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (o.in.nresults == CHECK_MAX_INPUTS) {
            fprintf(stderr, "stopgrad check: at most %d results files, got more ('%s')\n",
                    CHECK_MAX_INPUTS, a);
            return 2;
        } else {
            inputs[o.in.nresults++] = a;
        }
    }
    if (o.in.nresults < 1 && !o.list_unmapped) {
        fprintf(stderr, "stopgrad check: expected one or more results CSVs, or --list-unmapped "
                        "(see --help)\n");
        return 2;
    }
    int rc = sg_published_run(&o, stdout, stderr);
    if (rc == 2 || o.list_unmapped) return rc;
    int crc = check_claims(inputs, o.in.nresults, o.in.suites_dir);
    return crc > rc ? crc : rc;
}
