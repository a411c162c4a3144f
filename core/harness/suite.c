/* core/harness/suite.c: the suite runner (suite.h). */
#define _GNU_SOURCE /* strtok_r, mkdir with -std=c11 */
#include "core/harness/suite.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sys/file.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/text.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"

static int find_run(const sg_suite *s, const char *name) {
    for (int i = 0; i < s->nruns; i++)
        if (!strcmp(s->runs[i].name, name)) return i;
    return -1;
}

/* Copies the next white-space separated token of *p into out[cap] and moves *p past it; -1 when
 * there is none or it does not fit. */
static int next_token(const char **p, char *out, size_t cap) {
    const char *b = *p;
    while (isspace((unsigned char)*b)) b++;
    const char *e = b;
    while (*e && !isspace((unsigned char)*e)) e++;
    if (e == b || (size_t)(e - b) >= cap) return -1;
    memcpy(out, b, (size_t)(e - b));
    out[e - b] = 0;
    *p = e;
    return 0;
}

/* "RUNS METRIC OP TARGET" after an expect line's colon, and its label: every field whole, and
 * nothing after TARGET. */
static int parse_expect(sg_suite_expect *e, const char *label, const char *rest) {
    char op[2];
    if (strlen(label) >= sizeof e->label) return -1;
    snprintf(e->label, sizeof e->label, "%s", label);
    if (next_token(&rest, e->runs, sizeof e->runs) ||
        next_token(&rest, e->metric, sizeof e->metric) || next_token(&rest, op, sizeof op) ||
        next_token(&rest, e->target, sizeof e->target) || (op[0] != '<' && op[0] != '>'))
        return -1;
    while (isspace((unsigned char)*rest)) rest++;
    if (*rest) return -1;
    e->op = op[0];
    return 0;
}

static const char *const metrics[] = {"probe",      "probe_top5",   "probe_best",
                                      "probe_final", "knn_acc",     "knn_top5",
                                      "collapse_std", "eff_rank_F", "final_loss"};

int sg_suite_load(sg_suite *s, const char *name_or_path, const char *suites_dir, sg_err *err) {
    memset(s, 0, sizeof *s);
    FILE *f = sg_open_named_file("suite", name_or_path, suites_dir, ".suite", s->path,
                                 sizeof s->path, s->name, sizeof s->name, err);
    if (!f) return -1;
    int rc = 0;
    char *line = NULL;
    size_t line_cap = 0;
    int lineno = 0;
    char *l;
    while (rc == 0) {
        int got = sg_next_statement(f, &line, &line_cap, SG_SUITE_MAX_LINE, s->path, &lineno, &l,
                                    err);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (!strncmp(l, "base", 4) && (l[4] == ' ' || l[4] == '=')) {
            char *eq = strchr(l, '=');
            if (!eq) {
                rc = sg_errf(err, "%s:%d: expected 'base = key=value ...'", s->path, lineno);
                break;
            }
            if (sg_append_word(s->base, sizeof s->base, sg_trim(eq + 1))) {
                rc = sg_errf(err, "%s:%d: the base settings are longer than the %zu characters "
                                  "a suite holds (all base lines together)",
                             s->path, lineno, sizeof s->base - 1);
                break;
            }
        } else if (!strncmp(l, "run ", 4)) {
            char *eq = strchr(l, '=');
            if (!eq || s->nruns == SG_SUITE_MAX_RUNS) {
                rc = sg_errf(err, "%s:%d: expected 'run NAME = key=value ...' (at most %d runs)",
                             s->path, lineno, SG_SUITE_MAX_RUNS);
                break;
            }
            *eq = 0;
            char *name = sg_trim(l + 4);
            if (!sg_is_name(name) || find_run(s, name) >= 0 ||
                strlen(name) >= sizeof s->runs[0].name) {
                rc = sg_errf(err, "%s:%d: run name '%s' must be unique, at most %zu characters, "
                                  "and use letters, digits, '_' or '-'",
                             s->path, lineno, name, sizeof s->runs[0].name - 1);
                break;
            }
            const char *ov = sg_trim(eq + 1);
            if (strlen(ov) >= sizeof s->runs[0].overrides) {
                rc = sg_errf(err, "%s:%d: run %s: its settings are %zu characters, more than the "
                                  "%zu a run holds", s->path, lineno, name, strlen(ov),
                             sizeof s->runs[0].overrides - 1);
                break;
            }
            sg_suite_run *r = &s->runs[s->nruns++];
            snprintf(r->name, sizeof r->name, "%s", name);
            snprintf(r->overrides, sizeof r->overrides, "%s", ov);
        } else if (!strncmp(l, "seeds", 5)) {
            char *eq = strchr(l, '='), *save = NULL;
            if (!eq) {
                rc = sg_errf(err, "%s:%d: expected 'seeds = 1 2 3'", s->path, lineno);
                break;
            }
            for (char *t = strtok_r(eq + 1, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                char *end;
                errno = 0;
                long v = strtol(t, &end, 10);
                if (*end || v < 0 || errno == ERANGE || s->nseeds == SG_SUITE_MAX_SEEDS) {
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
            if (parse_expect(e, sg_trim(l + 7), colon + 1)) {
                rc = sg_errf(err, "%s:%d: expected 'expect LABEL: RUNS METRIC < or > TARGET' "
                                  "(label at most %zu characters, RUNS %zu, METRIC %zu, TARGET %zu)",
                             s->path, lineno, sizeof e->label - 1, sizeof e->runs - 1,
                             sizeof e->metric - 1, sizeof e->target - 1);
                break;
            }
            int known = 0;
            for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++)
                known |= !strcmp(metrics[k], e->metric);
            if (!known) {
                rc = sg_errf(err, "%s:%d: unknown metric '%s' (expected probe, probe_top5, "
                                  "probe_best, probe_final, knn_acc, knn_top5, collapse_std, "
                                  "eff_rank_F or final_loss)",
                             s->path, lineno, e->metric);
                break;
            }
            s->nexpect++;
        } else if (!strncmp(l, "answers ", 8)) {
            char *eq = strchr(l, '=');
            int r = -1;
            if (eq) {
                *eq = 0;
                r = find_run(s, sg_trim(l + 8));
            }
            if (!eq || r < 0) {
                rc = sg_errf(err, "%s:%d: expected 'answers RUN = REF_ID ...' after the run's own "
                                  "'run RUN = ...' line%s%s", s->path, lineno,
                             eq ? "; no run named " : "", eq ? sg_trim(l + 8) : "");
                break;
            }
            sg_suite_run *run = &s->runs[r];
            if (sg_append_word(run->answers, sizeof run->answers, sg_trim(eq + 1))) {
                rc = sg_errf(err, "%s:%d: run %s answers more reference rows than fit in %zu "
                                  "characters", s->path, lineno, run->name,
                             sizeof run->answers - 1);
                break;
            }
        } else {
            rc = sg_errf(err, "%s:%d: unknown statement '%.40s' (expected base, run, seeds, "
                              "expect or answers)", s->path, lineno, l);
        }
    }
    fclose(f);
    free(line);
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
    char *buf = strdup(list), *save = NULL; /* the command line's may be of any length */
    SG_CHECK(buf != NULL, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(buf, " \t", &save); t && !rc; t = strtok_r(NULL, " \t", &save))
        rc = sg_train_config_set_arg(c, t, err);
    free(buf);
    return rc;
}

static void run_id(const sg_suite *s, int r, long seed, char *buf, size_t len) {
    snprintf(buf, len, "%s-%s-s%ld", s->name, s->runs[r].name, seed);
}

/* A metric of run r over the suite's seeds: the mean of the values that parse as numbers; how
 * many rows there were, how many of them had no number (an empty, non-numeric or nan cell:
 * never counted as 0), and a seed recorded more than once (an error, never extra seeds). */
typedef struct {
    double mean;
    int rows, missing;
    long dup_seed; /* -1: none */
} metric_stat;

static metric_stat metric_of(const sg_suite *s, const sg_csv_table *t, int r, const char *metric) {
    metric_stat m = {NAN, 0, 0, -1};
    int cid = sg_csv_col(t, "run_id"), cm = sg_csv_col(t, metric);
    double sum = 0;
    int n = 0;
    for (int k = 0; k < s->nseeds && cid >= 0; k++) {
        char id[160];
        run_id(s, r, s->seeds[k], id, sizeof id);
        int seen = 0;
        for (size_t i = 0; i < t->nrows; i++) {
            if (strcmp(sg_csv_cell(t, i, cid), id) != 0) continue;
            if (seen++) m.dup_seed = s->seeds[k];
            m.rows++;
            const char *cell = cm >= 0 ? sg_csv_cell(t, i, cm) : "";
            char *end;
            double v = cell[0] ? strtod(cell, &end) : NAN;
            if (!cell[0] || *end || isnan(v)) {
                m.missing++;
                continue;
            }
            sum += v;
            n++;
        }
    }
    if (n) m.mean = sum / n;
    return m;
}

static double metric_mean(const sg_suite *s, const sg_csv_table *t, int r, const char *metric) {
    return metric_of(s, t, r, metric).mean;
}

int sg_suite_report(const sg_suite *s, const char *results_csv, sg_err *err) {
    sg_csv_table t;
    if (sg_csv_read(results_csv, &t, err)) return -1;
    for (int r = 0; r < s->nruns; r++) {
        metric_stat m = metric_of(s, &t, r, "run_id");
        if (m.dup_seed >= 0) {
            sg_csv_table_free(&t);
            return sg_errf(err, "%s holds run %s seed %ld more than once: a run is recorded once "
                                "(remove the extra row)",
                           results_csv, s->runs[r].name, m.dup_seed);
        }
    }
    printf("\nsuite %s (%s), %d run(s) x %d seed(s); means over seeds\n\n", s->name, s->path,
           s->nruns, s->nseeds);
    printf("| run | seeds | probe %% | probe top-5 %% | probe, best test epoch %% (reference "
           "code) | kNN %% | collapse std | eff. rank F | img/s | minutes |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < s->nruns; r++) {
        metric_stat p = metric_of(s, &t, r, "probe");
        printf("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.4f | %.1f | %.1f | %.1f |\n",
               s->runs[r].name, p.rows, p.mean, metric_mean(s, &t, r, "probe_top5"),
               metric_mean(s, &t, r, "probe_best"), metric_mean(s, &t, r, "knn_acc"),
               metric_mean(s, &t, r, "collapse_std"), metric_mean(s, &t, r, "eff_rank_F"),
               metric_mean(s, &t, r, "img_per_s"), metric_mean(s, &t, r, "wall_s") / 60);
    }
    int failed = 0;
    if (s->nexpect) printf("\n");
    for (int i = 0; i < s->nexpect; i++) {
        const sg_suite_expect *e = &s->expect[i];
        char *end;
        double target = strtod(e->target, &end);
        metric_stat tm = {target, 1, 0, -1};
        if (*end) tm = metric_of(s, &t, find_run(s, e->target), e->metric);
        char buf[512], *save = NULL;
        snprintf(buf, sizeof buf, "%s", e->runs);
        for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
            metric_stat m = metric_of(s, &t, find_run(s, r), e->metric);
            double v = m.mean;
            /* a value that is not a number is MISSING, a run without rows NOT RUN: neither
             * passes */
            const char *verdict = !m.rows || !tm.rows ? "NOT RUN"
                                  : m.missing || tm.missing || isnan(v) || isnan(tm.mean)
                                      ? "MISSING"
                                  : (e->op == '<' ? v < tm.mean : v > tm.mean) ? "PASS"
                                                                               : "FAIL";
            failed |= strcmp(verdict, "PASS") != 0;
            printf("%-7s %s: %s %s = %.4g %c %s (%.4g)\n", verdict, e->label, r, e->metric, v,
                   e->op, e->target, tm.mean);
        }
    }
    sg_csv_table_free(&t);
    return failed ? 1 : 0;
}

/* Whether run id is already in the results file. */
static int recorded(const char *results, const char *id, int *found, sg_err *err) {
    *found = 0;
    if (!sg_file_exists(results)) return 0;
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
    /* The run's claim: an exclusive lock on runs_dir/ID.claim, held by the process training it
     * until it exits (the kernel drops it then, even after a kill). Another runner of the same
     * suite and folder that finds it held leaves the run to its owner; one that gets it checks
     * the results again, since the owner may have finished meanwhile. So two runners share the
     * work and never train the same (run, seed) twice. */
    char claim[4400];
    snprintf(claim, sizeof claim, "%s/%s.claim", runs_dir, id);
    int cfd = -1, found = 0;
    if (!sg_mkdirs(runs_dir, err)) cfd = open(claim, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (cfd < 0) {
        sg_config_free(c);
        return sg_errf(err, "suite %s, run %s: cannot open its claim %s: %s", s->name, id, claim,
                       strerror(errno));
    }
    if (flock(cfd, LOCK_EX | LOCK_NB) != 0) {
        close(cfd);
        sg_config_free(c);
        if (errno != EWOULDBLOCK)
            return sg_errf(err, "suite %s, run %s: cannot lock %s: %s", s->name, id, claim,
                           strerror(errno));
        sg_info("%s: being trained by another runner, left to it", id);
        return 0;
    }
    if (recorded(results, id, &found, err) || found) {
        close(cfd);
        sg_config_free(c);
        if (found) sg_info("%s: recorded by another runner meanwhile", id);
        return found ? 0 : -1;
    }
    /* a run folder left by a killed run is resumed (from its checkpoint, or from step 0 when it
     * died before the first one) */
    char steps[4400];
    snprintf(steps, sizeof steps, "%s/%s/steps.csv", runs_dir, id);
    /* parallel runs share the terminal: whole lines, never bars drawn over each other */
    sg_train_opts to = {sg_file_exists(steps),
                        o->quiet      ? SG_TRAIN_PROGRESS_NONE
                        : o->jobs > 1 ? SG_TRAIN_PROGRESS_LINES
                                      : SG_TRAIN_PROGRESS_AUTO,
                        0};
    sg_info("%s%s", id, to.resume ? " (resuming)" : "");
    sg_train_summary sum;
    rc = sg_train_run(c, &to, &sum, err);
    sg_config_free(c);
    close(cfd); /* the claim ends with the run */
    if (!rc) sg_info("%s finished in %.1f min", id, sum.wall_s / 60);
    return rc;
}

int sg_suite_run_all(const sg_suite *s, const sg_suite_opts *o, sg_err *err) {
    char results[4200], runs_dir[4200];
    if (sg_path_printf(results, sizeof results, err, "%s/results.csv", o->out_dir) ||
        sg_path_printf(runs_dir, sizeof runs_dir, err, "%s/runs", o->out_dir) ||
        sg_mkdirs(o->out_dir, err))
        return -1;
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
