/* app/cmd_history.c: `stopgrad history`: results over commits and machines in one SQLite file
 * (bench/history.h): add, show, regress, html. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "bench/history.h"

static void history_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad history add FILE.csv... [--db F] [--commit C] [--time T]\n"
            "                            [--machine MACHINE.csv]\n"
            "       stopgrad history show [--db F]\n"
            "       stopgrad history regress [--db F] [--threshold F] [--points P] [--alpha A]\n"
            "                                [--window N] [--since COMMIT] [--csv OUT]\n"
            "       stopgrad history html --out DIR [--db F] [--baseline COMMIT]\n"
            "                             [regress options] [--gnuplot PATH]\n"
            "                             [--screenshot PNG] [--chromium PATH]\n\n"
            "A results history: every measurement of the CSVs stopgrad writes, with its machine\n"
            "and git commit, in one SQLite file (default %s; WAL, so\n"
            "concurrent CI jobs can add at once). A series is one benchmark's metric on one\n"
            "machine, backend and thread count over commits, ordered by each commit's first\n"
            "result.\n\n"
            "add      ingests kernel-suite CSVs (`stopgrad bench`: each benchmark's median time,\n"
            "         its repetitions, FLOPs and bytes), training-results CSVs (probe_best,\n"
            "         knn_acc, img_per_s per run; the seeds of a setting are its samples) and\n"
            "         check CSVs (`stopgrad check`: ours_mean per published row; they name no\n"
            "         commit: give --commit, and --machine, --time if wanted). The kind is told\n"
            "         by the header. The same file twice adds nothing; runs already present are\n"
            "         skipped. Each file is one transaction.\n"
            "show     the machines, the suites and sources, the commits in order.\n"
            "regress  per series, the commit where a significant change began: at every commit\n"
            "         after the first N, the N commits before against the commit and up to N-1\n"
            "         after; a change when the ratio of their medians is beyond F (accuracies\n"
            "         in %%: the difference beyond P points) and a one-sided Mann-Whitney U test\n"
            "         over the commits' medians gives p < A (near the newest commit, where too\n"
            "         few commits follow, over their pooled repetitions or seeds, as compare\n"
            "         does); candidates within N commits are one change, placed at the\n"
            "         smallest p. Prints the commit range and exits 1 when a\n"
            "         series' latest change made it worse (an open regression at the newest\n"
            "         commit), unless it began at or before --since.\n"
            "html     a static site in DIR: index.html (changes found, a roofline per machine,\n"
            "         backend and suite of the newest kernel-suite runs, the machines, the\n"
            "         latest results against the baseline, the commits) and bench/*.html, one\n"
            "         page per benchmark or training setting with an SVG chart (gnuplot) per\n"
            "         metric over commits, one line per machine. --screenshot renders\n"
            "         index.html to a PNG with headless Chromium.\n\n"
            "options:\n"
            "  --db F            the database (default %s)\n"
            "  --commit C        add: the git commit of a check CSV\n"
            "  --time T          add: its time, YYYY-MM-DDTHH:MM:SSZ (default now)\n"
            "  --machine M.csv   add: its machine (`stopgrad machine --csv M.csv`)\n"
            "  --threshold F     relative change that matters for times and rates (default 0.10)\n"
            "  --points P        change in points that matters for accuracies (default 1.5)\n"
            "  --alpha A         significance level, in (0, 1) (default 0.01)\n"
            "  --window N        commits on each side of a candidate (default 8)\n"
            "  --since COMMIT    regress: changes begun at or before COMMIT are accepted\n"
            "  --csv OUT         regress: also write the changes as CSV\n"
            "  --out DIR         html: the site's folder (created; its pages are written over)\n"
            "  --baseline COMMIT html: the baseline of the latest-results table (default: each\n"
            "                    series' commit before its newest)\n"
            "  --gnuplot PATH    html: the gnuplot executable (default gnuplot on PATH)\n"
            "  --screenshot PNG  html: also render index.html to PNG (1400x1800) with Chromium\n"
            "  --chromium PATH   html: the Chromium executable (default chromium on PATH)\n\n"
            "exit status: 0 success; 1 regress found an open regression, or html could not make\n"
            "its charts (no gnuplot) or screenshot (no Chromium); 2 usage or input error (an\n"
            "unreadable or unknown CSV, a database of a newer schema, an unwritable --out).\n",
            SG_HISTORY_DEFAULT_DB, SG_HISTORY_DEFAULT_DB);
}

static int num_opt(const char *opt, const char *v, double lo, double hi, int open_lo, int open_hi,
                   double *out) {
    char *end;
    double d = strtod(v, &end);
    int ok = end != v && !*end && isfinite(d) && (open_lo ? d > lo : d >= lo) &&
             (open_hi ? d < hi : d <= hi);
    if (!ok) {
        fprintf(stderr, "stopgrad history: %s expects a number in %c%g, %g%c, got '%s'\n", opt,
                open_lo ? '(' : '[', lo, hi, open_hi ? ')' : ']', v);
        return -1;
    }
    *out = d;
    return 0;
}

#define HISTORY_MAX_FILES 4096

int sg_cmd_history(int argc, char **argv) {
    if (argc < 2) {
        history_help(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        history_help(stdout);
        return 0;
    }
    int is_add = !strcmp(sub, "add"), is_show = !strcmp(sub, "show"),
        is_regress = !strcmp(sub, "regress"), is_html = !strcmp(sub, "html");
    if (!is_add && !is_show && !is_regress && !is_html) {
        fprintf(stderr,
                "stopgrad history: unknown subcommand '%s'; expected add, show, regress or html "
                "(see --help)\n",
                sub);
        return 2;
    }
    const char *db = SG_HISTORY_DEFAULT_DB, *csv = NULL, *out = NULL, *baseline = NULL,
               *gnuplot = NULL, *screenshot = NULL, *chromium = NULL;
    sg_history_add_opts ao = {0};
    sg_regress_opts ro;
    sg_regress_defaults(&ro);
    const char **files = malloc(HISTORY_MAX_FILES * sizeof *files);
    if (!files) return 2;
    int nfiles = 0, rc = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        /* which options each subcommand takes */
        int add_opt = !strcmp(a, "--commit") || !strcmp(a, "--time") || !strcmp(a, "--machine");
        int reg_opt = !strcmp(a, "--threshold") || !strcmp(a, "--points") ||
                      !strcmp(a, "--alpha") || !strcmp(a, "--window");
        int regress_only = !strcmp(a, "--since") || !strcmp(a, "--csv");
        int html_opt = !strcmp(a, "--out") || !strcmp(a, "--baseline") ||
                       !strcmp(a, "--gnuplot") || !strcmp(a, "--screenshot") ||
                       !strcmp(a, "--chromium");
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            history_help(stdout);
            free(files);
            return 0;
        }
        int valued = !strcmp(a, "--db") || add_opt || reg_opt || regress_only || html_opt;
        if (valued) {
            int allowed = !strcmp(a, "--db") || (add_opt && is_add) ||
                          (reg_opt && (is_regress || is_html)) || (regress_only && is_regress) ||
                          (html_opt && is_html);
            if (!allowed) {
                fprintf(stderr, "stopgrad history %s: %s is not an option of %s (see --help)\n",
                        sub, a, sub);
                rc = 2;
                break;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "stopgrad history %s: %s needs a value (see --help)\n", sub, a);
                rc = 2;
                break;
            }
            const char *v = argv[++i];
            double x;
            if (!strcmp(a, "--db")) db = v;
            else if (!strcmp(a, "--commit")) ao.commit = v;
            else if (!strcmp(a, "--time")) ao.time_utc = v;
            else if (!strcmp(a, "--machine")) ao.machine_csv = v;
            else if (!strcmp(a, "--since")) ro.since = v;
            else if (!strcmp(a, "--csv")) csv = v;
            else if (!strcmp(a, "--out")) out = v;
            else if (!strcmp(a, "--baseline")) baseline = v;
            else if (!strcmp(a, "--gnuplot")) gnuplot = v;
            else if (!strcmp(a, "--screenshot")) screenshot = v;
            else if (!strcmp(a, "--chromium")) chromium = v;
            else if (!strcmp(a, "--threshold")) {
                if (num_opt(a, v, 0, 100, 0, 0, &ro.threshold)) rc = 2;
            } else if (!strcmp(a, "--points")) {
                if (num_opt(a, v, 0, 100, 0, 0, &ro.points)) rc = 2;
            } else if (!strcmp(a, "--alpha")) {
                if (num_opt(a, v, 0, 1, 1, 1, &ro.alpha)) rc = 2;
            } else if (!strcmp(a, "--window")) {
                if (num_opt(a, v, 1, 1000, 0, 0, &x) || x != floor(x)) {
                    if (x != floor(x))
                        fprintf(stderr, "stopgrad history: --window expects a whole number of "
                                        "commits, got '%s'\n",
                                v);
                    rc = 2;
                } else {
                    ro.window = (int)x;
                }
            }
            if (rc) break;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stopgrad history %s: unknown option '%s' (see --help)\n", sub, a);
            rc = 2;
            break;
        } else if (!is_add) {
            fprintf(stderr, "stopgrad history %s: unexpected argument '%s' (see --help)\n", sub, a);
            rc = 2;
            break;
        } else if (nfiles == HISTORY_MAX_FILES) {
            fprintf(stderr, "stopgrad history add: at most %d files at once\n", HISTORY_MAX_FILES);
            rc = 2;
            break;
        } else {
            files[nfiles++] = a;
        }
    }
    if (!rc && is_add && !nfiles) {
        fprintf(stderr, "stopgrad history add: expected one or more CSV files (see --help)\n");
        rc = 2;
    }
    if (!rc && is_html && !out) {
        fprintf(stderr, "stopgrad history html: --out DIR is required (see --help)\n");
        rc = 2;
    }
    if (rc) {
        free(files);
        return rc;
    }
    sg_history *h;
    sg_err err;
    if (sg_history_open(&h, db, is_add, &err)) {
        fprintf(stderr, "stopgrad history %s: %s\n", sub, err.msg);
        free(files);
        return 2;
    }
    if (is_add) {
        for (int i = 0; i < nfiles && !rc; i++) {
            sg_history_add_result r;
            if (sg_history_add(h, files[i], &ao, &r, &err)) {
                fprintf(stderr, "stopgrad history add: %s (nothing added from it%s)\n", err.msg,
                        i ? "; the files before it were added" : "");
                rc = 2;
            } else if (r.already) {
                printf("%s: %s CSV already in %s: nothing added\n", files[i], r.kind, db);
            } else {
                printf("%s: %s CSV: %d run(s) added, %d already present, %d value(s) added, %d "
                       "unmeasured row(s) or cell(s) skipped\n",
                       files[i], r.kind, r.runs_added, r.runs_present, r.values_added,
                       r.rows_unmeasured);
            }
        }
    } else if (is_show) {
        if (sg_history_show(h, stdout, &err)) {
            fprintf(stderr, "stopgrad history show: %s\n", err.msg);
            rc = 2;
        }
    } else if (is_regress) {
        sg_hist_data d;
        sg_regress_result r;
        if (sg_history_load(h, &d, &err)) {
            fprintf(stderr, "stopgrad history regress: %s\n", err.msg);
            rc = 2;
        } else {
            if (sg_history_regress(&d, &ro, &r, &err)) {
                fprintf(stderr, "stopgrad history regress: %s\n", err.msg);
                rc = 2;
            } else {
                printf("history %s: ", db);
                sg_regress_print(&d, &ro, &r, stdout);
                if (csv && sg_regress_write_csv(&d, &r, csv, &err)) {
                    fprintf(stderr, "stopgrad history regress: %s\n", err.msg);
                    rc = 2;
                } else if (csv) {
                    printf("wrote %s\n", csv);
                }
                if (!rc) rc = r.regressions ? 1 : 0;
                sg_regress_result_free(&r);
            }
            sg_hist_data_free(&d);
        }
    } else {
        sg_history_html_opts o = {.out_dir = out, .regress = ro, .baseline = baseline,
                                  .gnuplot = gnuplot, .log = stdout};
        sg_history_html_summary s;
        int hr = sg_history_html(h, &o, &s, &err);
        if (hr) {
            fprintf(stderr, "stopgrad history html: %s\n", err.msg);
            rc = hr == 1 ? 1 : 2;
        } else if (screenshot) {
            int sr = sg_history_screenshot(s.index_path, screenshot, 1400, 1800, chromium, &err);
            if (sr) {
                fprintf(stderr, "stopgrad history html: %s\n", err.msg);
                rc = sr == 1 ? 1 : 2;
            } else {
                printf("wrote %s (headless Chromium)\n", screenshot);
            }
        }
    }
    sg_history_close(h);
    free(files);
    return rc;
}
