/* core/harness/suite.c: the suite runner (suite.h). */
#define _GNU_SOURCE /* strtok_r, mkdir with -std=c11 */
#include "core/harness/suite.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int valid_name(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

static int find_run(const sg_suite *s, const char *name) {
    for (int i = 0; i < s->nruns; i++)
        if (!strcmp(s->runs[i].name, name)) return i;
    return -1;
}

static const char *const metrics[] = {"probe_best", "probe_final", "knn_acc", "collapse_std",
                                      "eff_rank_F", "final_loss"};

int sg_suite_load(sg_suite *s, const char *name_or_path, const char *suites_dir, sg_err *err) {
    memset(s, 0, sizeof *s);
    if (strchr(name_or_path, '/') || strstr(name_or_path, ".suite"))
        snprintf(s->path, sizeof s->path, "%s", name_or_path);
    else
        snprintf(s->path, sizeof s->path, "%s/%s.suite", suites_dir, name_or_path);
    FILE *f = fopen(s->path, "r");
    if (!f) return sg_errf(err, "suite '%s' not found: cannot open %s", name_or_path, s->path);
    const char *base = strrchr(s->path, '/');
    base = base ? base + 1 : s->path;
    if (strlen(base) >= sizeof s->name)
        return sg_errf(err, "suite file name %s is longer than %zu characters", base, sizeof s->name - 1);
    memcpy(s->name, base, strlen(base) + 1);
    char *dot = strstr(s->name, ".suite");
    if (dot) *dot = 0;
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *l = trim(line);
        if (!*l) continue;
        if (!strncmp(l, "base", 4) && (l[4] == ' ' || l[4] == '=')) {
            char *eq = strchr(l, '=');
            if (!eq) {
                rc = sg_errf(err, "%s:%d: expected 'base = key=value ...'", s->path, lineno);
                break;
            }
            size_t at = strlen(s->base);
            snprintf(s->base + at, sizeof s->base - at, "%s%s", at ? " " : "", trim(eq + 1));
        } else if (!strncmp(l, "run ", 4)) {
            char *eq = strchr(l, '=');
            if (!eq || s->nruns == SG_SUITE_MAX_RUNS) {
                rc = sg_errf(err, "%s:%d: expected 'run NAME = key=value ...' (at most %d runs)",
                             s->path, lineno, SG_SUITE_MAX_RUNS);
                break;
            }
            *eq = 0;
            char *name = trim(l + 4);
            if (!valid_name(name) || find_run(s, name) >= 0) {
                rc = sg_errf(err, "%s:%d: run name '%s' must be unique and use letters, digits, "
                                  "'_' or '-'", s->path, lineno, name);
                break;
            }
            sg_suite_run *r = &s->runs[s->nruns++];
            snprintf(r->name, sizeof r->name, "%s", name);
            snprintf(r->overrides, sizeof r->overrides, "%s", trim(eq + 1));
        } else if (!strncmp(l, "seeds", 5)) {
            char *eq = strchr(l, '='), *save = NULL;
            if (!eq) {
                rc = sg_errf(err, "%s:%d: expected 'seeds = 1 2 3'", s->path, lineno);
                break;
            }
            for (char *t = strtok_r(eq + 1, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                char *end;
                long v = strtol(t, &end, 10);
                if (*end || v < 0 || s->nseeds == SG_SUITE_MAX_SEEDS) {
                    rc = sg_errf(err, "%s:%d: seed '%s' is not a non-negative integer (at most %d "
                                      "seeds)", s->path, lineno, t, SG_SUITE_MAX_SEEDS);
                    break;
                }
                s->seeds[s->nseeds++] = v;
            }
        } else if (!strncmp(l, "expect ", 7)) {
            sg_suite_expect *e = &s->expect[s->nexpect];
            char *colon = strchr(l, ':');
            if (!colon || s->nexpect == SG_SUITE_MAX_EXPECT) {
                rc = sg_errf(err, "%s:%d: expected 'expect LABEL: RUNS METRIC < or > TARGET'",
                             s->path, lineno);
                break;
            }
            *colon = 0;
            snprintf(e->label, sizeof e->label, "%s", trim(l + 7));
            char op[4] = "";
            if (sscanf(colon + 1, " %511s %31s %3s %63s", e->runs, e->metric, op, e->target) != 4 ||
                (strcmp(op, "<") && strcmp(op, ">"))) {
                rc = sg_errf(err, "%s:%d: expected 'expect LABEL: RUNS METRIC < or > TARGET'",
                             s->path, lineno);
                break;
            }
            e->op = op[0];
            int known = 0;
            for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++)
                known |= !strcmp(metrics[k], e->metric);
            if (!known) {
                rc = sg_errf(err, "%s:%d: unknown metric '%s' (expected probe_best, probe_final, "
                                  "knn_acc, collapse_std, eff_rank_F or final_loss)",
                             s->path, lineno, e->metric);
                break;
            }
            s->nexpect++;
        } else if (!strncmp(l, "answers ", 8)) {
            char *eq = strchr(l, '=');
            int r = -1;
            if (eq) {
                *eq = 0;
                r = find_run(s, trim(l + 8));
            }
            if (!eq || r < 0) {
                rc = sg_errf(err, "%s:%d: expected 'answers RUN = REF_ID ...' after the run's own "
                                  "'run RUN = ...' line%s%s", s->path, lineno,
                             eq ? "; no run named " : "", eq ? trim(l + 8) : "");
                break;
            }
            sg_suite_run *run = &s->runs[r];
            size_t at = strlen(run->answers);
            snprintf(run->answers + at, sizeof run->answers - at, "%s%s", at ? " " : "",
                     trim(eq + 1));
        } else {
            rc = sg_errf(err, "%s:%d: unknown statement '%.40s' (expected base, run, seeds, "
                              "expect or answers)", s->path, lineno, l);
        }
    }
    fclose(f);
    if (rc) return -1;
    if (s->nruns == 0) return sg_errf(err, "%s: no runs", s->path);
    if (s->nseeds == 0) s->seeds[s->nseeds++] = 1;
    /* every run named by an expectation exists */
    for (int i = 0; i < s->nexpect; i++) {
        char buf[512], *save = NULL;
        snprintf(buf, sizeof buf, "%s", s->expect[i].runs);
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (find_run(s, t) < 0)
                return sg_errf(err, "%s: expect '%s' names run '%s', which the suite does not have",
                               s->path, s->expect[i].label, t);
        char *end;
        strtod(s->expect[i].target, &end);
        if (*end && find_run(s, s->expect[i].target) < 0)
            return sg_errf(err, "%s: expect '%s': target '%s' is neither a number nor a run",
                           s->path, s->expect[i].label, s->expect[i].target);
    }
    return 0;
}

/* Applies "k=v k=v" to the config. */
static int apply(sg_config *c, const char *list, sg_err *err) {
    char buf[4096], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
        if (sg_train_config_set_arg(c, t, err)) return -1;
    return 0;
}

static void run_id(const sg_suite *s, int r, long seed, char *buf, size_t len) {
    snprintf(buf, len, "%s-%s-s%ld", s->name, s->runs[r].name, seed);
}

/* Mean over seeds of `metric` for run r; NAN when no row. */
static double metric_mean(const sg_suite *s, const sg_csv_table *t, int r, const char *metric,
                          int *nfound) {
    int cid = sg_csv_col(t, "run_id"), cm = sg_csv_col(t, metric);
    double sum = 0;
    int n = 0;
    for (int k = 0; k < s->nseeds; k++) {
        char id[160];
        run_id(s, r, s->seeds[k], id, sizeof id);
        for (size_t i = 0; cid >= 0 && cm >= 0 && i < t->nrows; i++)
            if (!strcmp(sg_csv_cell(t, i, cid), id)) {
                double v = strtod(sg_csv_cell(t, i, cm), NULL);
                if (!isnan(v)) {
                    sum += v;
                    n++;
                }
            }
    }
    if (nfound) *nfound = n;
    return n ? sum / n : NAN;
}

int sg_suite_report(const sg_suite *s, const char *results_csv, sg_err *err) {
    sg_csv_table t;
    if (sg_csv_read(results_csv, &t, err)) return -1;
    printf("\nsuite %s (%s), %d run(s) x %d seed(s); means over seeds\n\n", s->name, s->path,
           s->nruns, s->nseeds);
    printf("| run | seeds | probe best %% | probe final %% | kNN %% | collapse std | eff. rank F | "
           "img/s | minutes |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < s->nruns; r++) {
        int n;
        double pb = metric_mean(s, &t, r, "probe_best", &n);
        printf("| %s | %d | %.2f | %.2f | %.2f | %.4f | %.1f | %.1f | %.1f |\n", s->runs[r].name, n,
               pb, metric_mean(s, &t, r, "probe_final", NULL), metric_mean(s, &t, r, "knn_acc", NULL),
               metric_mean(s, &t, r, "collapse_std", NULL), metric_mean(s, &t, r, "eff_rank_F", NULL),
               metric_mean(s, &t, r, "img_per_s", NULL), metric_mean(s, &t, r, "wall_s", NULL) / 60);
    }
    int failed = 0;
    if (s->nexpect) printf("\n");
    for (int i = 0; i < s->nexpect; i++) {
        const sg_suite_expect *e = &s->expect[i];
        char *end;
        double target = strtod(e->target, &end);
        if (*end) target = metric_mean(s, &t, find_run(s, e->target), e->metric, NULL);
        char buf[512], *save = NULL;
        snprintf(buf, sizeof buf, "%s", e->runs);
        for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
            int n;
            double v = metric_mean(s, &t, find_run(s, r), e->metric, &n);
            int ok = !isnan(v) && !isnan(target) && (e->op == '<' ? v < target : v > target);
            const char *verdict = (isnan(v) || isnan(target)) ? "NOT RUN" : ok ? "PASS" : "FAIL";
            failed |= !ok;
            printf("%-7s %s: %s %s = %.4g %c %s (%.4g)\n", verdict, e->label, r, e->metric, v, e->op,
                   e->target, target);
        }
    }
    sg_csv_table_free(&t);
    return failed ? 1 : 0;
}

/* Whether run id is already in the results file. */
static int recorded(const char *results, const char *id, int *found, sg_err *err) {
    *found = 0;
    FILE *probe = fopen(results, "r");
    if (!probe) return 0;
    fclose(probe);
    sg_csv_table t;
    if (sg_csv_read(results, &t, err)) return -1;
    int cid = sg_csv_col(&t, "run_id");
    for (size_t i = 0; cid >= 0 && i < t.nrows; i++) *found |= !strcmp(sg_csv_cell(&t, i, cid), id);
    sg_csv_table_free(&t);
    return 0;
}

/* Trains run r with seed `seed` into the suite's folders. */
static int run_one(const sg_suite *s, const sg_suite_opts *o, int r, long seed, const char *runs_dir,
                   const char *results, sg_err *err) {
    char id[160];
    run_id(s, r, seed, id, sizeof id);
    sg_config *c = sg_train_config_new();
    char kv[4400];
    int rc = apply(c, s->base, err);
    if (!rc) rc = apply(c, s->runs[r].overrides, err);
    if (!rc && o->extra) rc = apply(c, o->extra, err);
    if (!rc && o->jobs > 1) rc = sg_train_config_set_arg(c, "trainer.threads=1", err);
    snprintf(kv, sizeof kv, "trainer.seed=%ld", seed);
    if (!rc) rc = sg_train_config_set_arg(c, kv, err);
    snprintf(kv, sizeof kv, "run.name=%s", id);
    if (!rc) rc = sg_train_config_set_arg(c, kv, err);
    snprintf(kv, sizeof kv, "run.dir=%s", runs_dir);
    if (!rc) rc = sg_train_config_set_arg(c, kv, err);
    snprintf(kv, sizeof kv, "run.results=%s", results);
    if (!rc) rc = sg_train_config_set_arg(c, kv, err);
    snprintf(kv, sizeof kv, "run.tag=%s/%s", s->name, s->runs[r].name);
    if (!rc) rc = sg_train_config_set_arg(c, kv, err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        sg_config_free(c);
        return sg_errf(err, "suite %s, run %s: %s", s->name, s->runs[r].name, msg);
    }
    /* a run folder left by a killed run is resumed (from its checkpoint, or from step 0 when it
     * died before the first one) */
    char steps[4400];
    snprintf(steps, sizeof steps, "%s/%s/steps.csv", runs_dir, id);
    FILE *sf = fopen(steps, "rb");
    /* parallel runs share the terminal: whole lines, never bars drawn over each other */
    sg_train_opts to = {sf != NULL,
                        o->quiet      ? SG_TRAIN_PROGRESS_NONE
                        : o->jobs > 1 ? SG_TRAIN_PROGRESS_LINES
                                      : SG_TRAIN_PROGRESS_AUTO,
                        0};
    if (sf) fclose(sf);
    sg_info("%s%s", id, to.resume ? " (resuming)" : "");
    sg_train_summary sum;
    rc = sg_train_run(c, &to, &sum, err);
    sg_config_free(c);
    if (!rc) sg_info("%s finished in %.1f min", id, sum.wall_s / 60);
    return rc;
}

int sg_suite_run_all(const sg_suite *s, const sg_suite_opts *o, sg_err *err) {
    char results[4200], runs_dir[4200];
    snprintf(results, sizeof results, "%s/results.csv", o->out_dir);
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", o->out_dir);
    if (sg_mkdirs(o->out_dir, err)) return -1;
    /* the (run, seed) pairs not yet in the results */
    int pending_run[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    long pending_seed[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    int npending = 0;
    for (int k = 0; k < s->nseeds; k++)
        for (int r = 0; r < s->nruns; r++) {
            char id[160];
            int found;
            run_id(s, r, s->seeds[k], id, sizeof id);
            if (recorded(results, id, &found, err)) return -1;
            if (found) {
                sg_info("%s: already in %s, skipped", id, results);
                continue;
            }
            pending_run[npending] = r;
            pending_seed[npending++] = s->seeds[k];
        }
    sg_info("suite %s: %d of %d runs pending%s", s->name, npending, s->nruns * s->nseeds,
            o->jobs > 1 ? ", in parallel, one thread each" : "");
    if (o->jobs <= 1) {
        for (int i = 0; i < npending; i++)
            if (run_one(s, o, pending_run[i], pending_seed[i], runs_dir, results, err)) return -1;
        return sg_suite_report(s, results, err);
    }
    /* Parallel: one child process per run (the parent never starts OpenMP, so forking is safe);
     * results are appended under the CSV's lock. A failed run fails the suite after the
     * others finish. */
    fflush(NULL);
    int next = 0, running = 0, failed = 0;
    while (next < npending || running > 0) {
        while (running < o->jobs && next < npending) {
            pid_t pid = fork();
            if (pid < 0) return sg_errf(err, "fork failed: %s", strerror(errno));
            if (pid == 0) {
                sg_err e;
                int rc = run_one(s, o, pending_run[next], pending_seed[next], runs_dir, results, &e);
                if (rc) fprintf(stderr, "stopgrad suite: %s\n", e.msg);
                fflush(NULL);
                _exit(rc ? 1 : 0);
            }
            next++;
            running++;
        }
        int status;
        if (wait(&status) > 0) {
            running--;
            failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
    }
    if (failed) return sg_errf(err, "suite %s: a run failed (its message is above)", s->name);
    return sg_suite_report(s, results, err);
}
