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

/* "RUNS METRIC OP TARGET [+ M | - M] [per seed]" after an expect line's colon, and its label:
 * every field whole, and nothing after them. */
static int parse_expect(sg_suite_expect *e, const char *label, const char *rest) {
    char op[2], tok[32];
    if (strlen(label) >= sizeof e->label) return -1;
    snprintf(e->label, sizeof e->label, "%s", label);
    if (next_token(&rest, e->runs, sizeof e->runs) ||
        next_token(&rest, e->metric, sizeof e->metric) || next_token(&rest, op, sizeof op) ||
        next_token(&rest, e->target, sizeof e->target) || (op[0] != '<' && op[0] != '>'))
        return -1;
    e->op = op[0];
    e->margin = 0;
    e->per_seed = 0;
    int got = next_token(&rest, tok, sizeof tok);
    if (got == 0 && (!strcmp(tok, "+") || !strcmp(tok, "-"))) {
        char num[32], *end;
        if (next_token(&rest, num, sizeof num)) return -1;
        double m = strtod(num, &end);
        if (*end || !isfinite(m) || m < 0) return -1;
        e->margin = tok[0] == '-' ? -m : m;
        got = next_token(&rest, tok, sizeof tok);
    }
    if (got == 0) {
        char seed[8];
        if (strcmp(tok, "per") || next_token(&rest, seed, sizeof seed) || strcmp(seed, "seed"))
            return -1;
        e->per_seed = 1;
    }
    while (isspace((unsigned char)*rest)) rest++;
    return *rest ? -1 : 0;
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
                rc = sg_errf(err, "%s:%d: expected 'expect LABEL: RUNS METRIC < or > TARGET "
                                  "[+ MARGIN | - MARGIN] [per seed]' (MARGIN a number >= 0; label at most %zu characters, RUNS %zu, METRIC %zu, TARGET %zu)",
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
        } else if (!strncmp(l, "duration", 8) && (l[8] == '=' || l[8] == ' ' || l[8] == '\t')) {
            char *eq = strchr(l, '=');
            const char *text = eq ? sg_trim(eq + 1) : "";
            if (!eq || strspn(l + 8, " \t") != (size_t)(eq - l - 8) || !text[0] ||
                strlen(text) >= sizeof s->duration) {
                rc = sg_errf(err, "%s:%d: expected 'duration = TEXT' of 1 to %zu characters",
                             s->path, lineno, sizeof s->duration - 1);
                break;
            }
            snprintf(s->duration, sizeof s->duration, "%s", text);
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
                              "expect, answers or duration)", s->path, lineno, l);
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
        if (!*end && s->expect[i].per_seed)
            return sg_errf(err, "%s: expect '%s': 'per seed' compares with another run's seeds, "
                                "but target '%s' is a number",
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

/* Run r's metric at one seed into *v: 0, or -1 when the (run, seed) has no row, 1 when its cell
 * is not a number (a seed recorded twice is refused before this is asked). */
static int seed_value(const sg_suite *s, const sg_csv_table *t, int r, long seed,
                      const char *metric, double *v) {
    char id[160];
    run_id(s, r, seed, id, sizeof id);
    int cid = sg_csv_col(t, "run_id"), cm = sg_csv_col(t, metric);
    for (size_t i = 0; cid >= 0 && i < t->nrows; i++) {
        if (strcmp(sg_csv_cell(t, i, cid), id) != 0) continue;
        const char *cell = cm >= 0 ? sg_csv_cell(t, i, cm) : "";
        char *end;
        *v = cell[0] ? strtod(cell, &end) : NAN;
        return !cell[0] || *end || isnan(*v) ? 1 : 0;
    }
    return -1;
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
    printf("| run | seeds | probe %% | probe %% per seed | probe top-5 %% | probe, best test "
           "epoch %% (reference code) | kNN %% | collapse std | eff. rank F | img/s | minutes |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int r = 0; r < s->nruns; r++) {
        metric_stat p = metric_of(s, &t, r, "probe");
        /* each seed's probe, so a reader sees the spread the mean hides */
        char per[16 * SG_SUITE_MAX_SEEDS] = "";
        size_t used = 0;
        for (int k = 0; k < s->nseeds && used < sizeof per; k++) {
            double v;
            int got = seed_value(s, &t, r, s->seeds[k], "probe", &v);
            used += (size_t)snprintf(per + used, sizeof per - used, "%s%s", k ? " / " : "",
                                     got < 0 ? "-" : got > 0 ? "?" : "");
            if (got == 0 && used < sizeof per)
                used += (size_t)snprintf(per + used, sizeof per - used, "%.2f", v);
        }
        printf("| %s | %d | %.2f | %s | %.2f | %.2f | %.2f | %.4f | %.1f | %.1f | %.1f |\n",
               s->runs[r].name, p.rows, p.mean, per, metric_mean(s, &t, r, "probe_top5"),
               metric_mean(s, &t, r, "probe_best"), metric_mean(s, &t, r, "knn_acc"),
               metric_mean(s, &t, r, "collapse_std"), metric_mean(s, &t, r, "eff_rank_F"),
               metric_mean(s, &t, r, "img_per_s"), metric_mean(s, &t, r, "wall_s") / 60);
    }
    int failed = 0;
    if (s->nexpect) printf("\n");
    for (int i = 0; i < s->nexpect; i++) {
        const sg_suite_expect *e = &s->expect[i];
        char tdesc[96];
        if (e->margin != 0)
            snprintf(tdesc, sizeof tdesc, "%s %c %g", e->target, e->margin < 0 ? '-' : '+',
                     fabs(e->margin));
        else
            snprintf(tdesc, sizeof tdesc, "%s", e->target);
        char buf[512], *save = NULL;
        snprintf(buf, sizeof buf, "%s", e->runs);
        for (char *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
            const char *verdict;
            sg_sbuf detail = {0};
            if (e->per_seed) {
                /* each seed against the same seed of the target run: every one must hold */
                int tr = find_run(s, e->target), nrun = 0, nmiss = 0, nfail = 0;
                for (int k = 0; k < s->nseeds; k++) {
                    double v, tv;
                    int a = seed_value(s, &t, find_run(s, r), s->seeds[k], e->metric, &v);
                    int b = seed_value(s, &t, tr, s->seeds[k], e->metric, &tv);
                    if (a < 0 || b < 0) {
                        nrun++;
                        sg_sbuf_printf(&detail, "%sseed %ld not run", k ? ", " : "", s->seeds[k]);
                    } else if (a > 0 || b > 0) {
                        nmiss++;
                        sg_sbuf_printf(&detail, "%sseed %ld missing", k ? ", " : "", s->seeds[k]);
                    } else {
                        int ok = e->op == '<' ? v < tv + e->margin : v > tv + e->margin;
                        nfail += !ok;
                        sg_sbuf_printf(&detail, "%sseed %ld %.4g vs %.4g (%+.3g)", k ? ", " : "",
                                       s->seeds[k], v, tv, v - tv);
                    }
                }
                verdict = nrun ? "NOT RUN" : nmiss ? "MISSING" : nfail ? "FAIL" : "PASS";
                failed |= strcmp(verdict, "PASS") != 0;
                printf("%-7s %s: %s %s %c %s per seed: %s\n", verdict, e->label, r, e->metric,
                       e->op, tdesc, detail.s ? detail.s : "");
                sg_sbuf_free(&detail);
                continue;
            }
            char *end;
            double target = strtod(e->target, &end);
            metric_stat tm = {target, 1, 0, -1};
            if (*end) tm = metric_of(s, &t, find_run(s, e->target), e->metric);
            metric_stat m = metric_of(s, &t, find_run(s, r), e->metric);
            double v = m.mean, bar = tm.mean + e->margin;
            /* a value that is not a number is MISSING, a run without rows NOT RUN: neither
             * passes */
            verdict = !m.rows || !tm.rows ? "NOT RUN"
                      : m.missing || tm.missing || isnan(v) || isnan(tm.mean) ? "MISSING"
                      : (e->op == '<' ? v < bar : v > bar) ? "PASS"
                                                           : "FAIL";
            failed |= strcmp(verdict, "PASS") != 0;
            printf("%-7s %s: %s %s = %.4g %c %s (%.4g)\n", verdict, e->label, r, e->metric, v,
                   e->op, tdesc, bar);
        }
    }
    sg_csv_table_free(&t);
    return failed ? 1 : 0;
}

/* ---- parts of a suite ---------------------------------------------------------------------- */

/* Calls fn(ctx, name) for each name of the comma-separated list; stops at the first nonzero. */
static int each_name(const char *list, int (*fn)(void *ctx, const char *name), void *ctx) {
    char *buf = strdup(list), *save = NULL;
    SG_CHECK(buf != NULL, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(buf, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save))
        rc = fn(ctx, sg_trim(t));
    free(buf);
    return rc;
}

typedef struct {
    const sg_suite *s;
    unsigned char *pick; /* [SG_SUITE_MAX_RUNS]: 1 for each run named */
    sg_err *err;
} pick_ctx;

static int pick_name(void *ctx, const char *name) {
    pick_ctx *p = ctx;
    int r = *name ? find_run(p->s, name) : -1;
    if (r < 0) {
        sg_sbuf names = {0};
        for (int i = 0; i < p->s->nruns; i++)
            sg_sbuf_printf(&names, "%s%s", i ? ", " : "", p->s->runs[i].name);
        sg_errf(p->err, "suite %s has no run named '%s' (its runs: %s)", p->s->name, name,
                names.s);
        sg_sbuf_free(&names);
        return -1;
    }
    p->pick[r] = 1;
    return 0;
}

/* pick[r] = 1 for the runs f selects; -1 with err for a name or seed the suite lacks. */
static int select_runs(const sg_suite *s, const sg_suite_filter *f, unsigned char *pick,
                       sg_err *err) {
    memset(pick, f && f->only ? 0 : 1, SG_SUITE_MAX_RUNS);
    if (f && f->only) {
        pick_ctx p = {s, pick, err};
        if (each_name(f->only, pick_name, &p)) return -1;
        int any = 0;
        for (int r = 0; r < s->nruns; r++) any |= pick[r];
        if (!any) return pick_name(&p, f->only); /* "" or only commas: no run named that */
    }
    if (f && f->one_seed) {
        int ok = 0;
        for (int k = 0; k < s->nseeds; k++) ok |= s->seeds[k] == f->seed;
        if (!ok) {
            sg_sbuf seeds = {0};
            for (int k = 0; k < s->nseeds; k++)
                sg_sbuf_printf(&seeds, "%s%ld", k ? " " : "", s->seeds[k]);
            sg_errf(err, "seed %ld is not one of suite %s's seeds (%s), which every run of it "
                         "trains with", f->seed, s->name, seeds.s);
            sg_sbuf_free(&seeds);
            return -1;
        }
    }
    return 0;
}

int sg_suite_filter_check(const sg_suite *s, const sg_suite_filter *f, sg_err *err) {
    unsigned char pick[SG_SUITE_MAX_RUNS];
    return select_runs(s, f, pick, err);
}

static int filtered(const sg_suite_filter *f) { return f && (f->only || f->one_seed); }

/* have[r * SG_SUITE_MAX_SEEDS + k]: whether results holds run r with the suite's seed k (a file
 * that does not exist holds nothing). One read of the file. */
static int recorded_pairs(const sg_suite *s, const char *results, unsigned char *have,
                          sg_err *err) {
    memset(have, 0, SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS);
    if (!sg_file_exists(results)) return 0;
    sg_csv_table t;
    if (sg_csv_read(results, &t, err)) return -1;
    int cid = sg_csv_col(&t, "run_id");
    for (int r = 0; r < s->nruns && cid >= 0; r++)
        for (int k = 0; k < s->nseeds; k++) {
            char id[160];
            run_id(s, r, s->seeds[k], id, sizeof id);
            for (size_t i = 0; i < t.nrows && !have[r * SG_SUITE_MAX_SEEDS + k]; i++)
                have[r * SG_SUITE_MAX_SEEDS + k] = !strcmp(sg_csv_cell(&t, i, cid), id);
        }
    sg_csv_table_free(&t);
    return 0;
}

static int pending_pairs(const sg_suite *s, const sg_suite_filter *f, const char *results,
                         int *runs, long *seeds, int *nrecorded, int log_skipped, sg_err *err) {
    unsigned char pick[SG_SUITE_MAX_RUNS], have[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    if (select_runs(s, f, pick, err) || recorded_pairs(s, results, have, err)) return -1;
    int n = 0, nrec = 0;
    for (int k = 0; k < s->nseeds; k++)
        for (int r = 0; r < s->nruns; r++) {
            int got = have[r * SG_SUITE_MAX_SEEDS + k];
            nrec += got;
            if (!pick[r] || (f && f->one_seed && s->seeds[k] != f->seed)) continue;
            if (got) {
                if (log_skipped) {
                    char id[160];
                    run_id(s, r, s->seeds[k], id, sizeof id);
                    sg_info("%s: already in %s, skipped", id, results);
                }
                continue;
            }
            runs[n] = r;
            seeds[n++] = s->seeds[k];
        }
    if (nrecorded) *nrecorded = nrec;
    return n;
}

int sg_suite_pending(const sg_suite *s, const sg_suite_filter *f, const char *results_csv,
                     int *runs, long *seeds, int *recorded, sg_err *err) {
    return pending_pairs(s, f, results_csv, runs, seeds, recorded, 0, err);
}

/* The config of run r: base, the run's overrides, then extra. NULL with err. */
static sg_config *run_config(const sg_suite *s, int r, const char *extra, sg_err *err) {
    sg_config *c = sg_train_config_new();
    int rc = apply(c, s->base, err);
    if (!rc) rc = apply(c, s->runs[r].overrides, err);
    if (!rc && extra) rc = apply(c, extra, err);
    if (rc) {
        sg_config_free(c);
        return NULL;
    }
    return c;
}

int sg_suite_run_uses_cuda(const sg_suite *s, int r, const char *extra, sg_err *err) {
    sg_config *c = run_config(s, r, extra, err);
    if (!c) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return sg_errf(err, "suite %s, run %s: %s", s->name, s->runs[r].name, msg);
    }
    int cuda = !strcmp(sg_config_str(c, "trainer.backend"), "cuda");
    sg_config_free(c);
    return cuda;
}

int sg_suite_run_ranks(const sg_suite *s, int r, const char *extra, sg_err *err) {
    sg_config *c = run_config(s, r, extra, err);
    if (!c) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return sg_errf(err, "suite %s, run %s: %s", s->name, s->runs[r].name, msg);
    }
    long ranks = sg_config_int(c, "trainer.ranks");
    sg_config_free(c);
    return ranks > 1 ? (int)ranks : 1;
}

/* ---- GPUs of the parallel children ------------------------------------------------------------ */

#define MAX_GPUS 64

/* The visible GPUs, as the values CUDA_VISIBLE_DEVICES takes: the entries of the parent's
 * CUDA_VISIBLE_DEVICES when it is set (none when it is empty), else 0..n-1 for the n lines
 * "GPU i: ..." of `nvidia-smi -L`, else none. dev[i] point into buf. */
static int visible_gpus(char *buf, size_t cap, const char **dev) {
    int n = 0;
    const char *env = getenv("CUDA_VISIBLE_DEVICES");
    if (env) {
        snprintf(buf, cap, "%s", env);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t && n < MAX_GPUS; t = strtok_r(NULL, ",", &save))
            if (*(t = sg_trim(t))) dev[n++] = t;
        return n;
    }
    char exe[1024];
    int fd[2];
    if (!sg_find_program("nvidia-smi", exe, sizeof exe) || pipe(fd)) return 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) dup2(nul, 2);
        execl(exe, exe, "-L", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = pid > 0 ? fdopen(fd[0], "r") : NULL;
    if (!f) {
        close(fd[0]);
    } else {
        char line[512];
        size_t at = 0;
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "GPU ", 4) && n < MAX_GPUS && at + 4 < cap) {
                dev[n] = buf + at;
                at += (size_t)snprintf(buf + at, cap - at, "%d", n) + 1;
                n++;
            }
        fclose(f);
    }
    int status;
    if (pid > 0) waitpid(pid, &status, 0);
    return n;
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

/* A run with trainer.ranks = N > 1 is a data-parallel job of its own: its resolved config goes
 * to runs_dir/ID.cfg and `stopgrad train ID.cfg` runs as N ranks, under srun inside a Slurm
 * allocation (an array task of `suite submit --slurm`, which asks for the ranks) and under
 * mpirun elsewhere. Its rank 0 appends the row under the results lock, as an in-process run
 * does; the runner keeps the claim until the job ends. */
static int run_ranks(const sg_suite *s, const sg_config *c, const char *id, const char *runs_dir,
                     int ranks, const sg_train_opts *to, sg_err *err) {
    char cfg[4400], exe[4096], launcher[1024], n[16];
    snprintf(cfg, sizeof cfg, "%s/%s.cfg", runs_dir, id);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) return sg_errf(err, "out of memory writing %s", cfg);
    sg_config_write(c, mem);
    int rc = fclose(mem) != 0 ? sg_errf(err, "out of memory writing %s", cfg)
                              : sg_write_file_atomic(cfg, text, len, err);
    free(text);
    if (rc) return -1;
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0) return sg_errf(err, "cannot find this stopgrad executable: %s", strerror(errno));
    exe[el] = 0;
    const int in_slurm = getenv("SLURM_JOB_ID") != NULL;
    const char *tool = in_slurm ? "srun" : "mpirun";
    if (!sg_find_program(tool, launcher, sizeof launcher))
        return sg_errf(err, "suite %s, run %s: trainer.ranks=%d needs %s, which is not on the PATH "
                            "(scripts/setup.sh installs openmpi-bin)", s->name, id, ranks, tool);
    snprintf(n, sizeof n, "%d", ranks);
    const char *argv[16];
    int a = 0;
    argv[a++] = launcher;
    argv[a++] = in_slurm ? "--ntasks" : "-np";
    argv[a++] = n;
    argv[a++] = exe;
    argv[a++] = "train";
    argv[a++] = cfg;
    if (to->resume) argv[a++] = "--resume";
    if (to->progress == SG_TRAIN_PROGRESS_NONE) argv[a++] = "--quiet";
    argv[a] = NULL;
    sg_info("%s: %s %s %s %s train %s%s", id, tool, argv[1], n, exe, cfg,
            to->resume ? " --resume" : "");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return sg_errf(err, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        execv(launcher, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0)
        return sg_errf(err, "suite %s, run %s: waiting for %s: %s", s->name, id, tool,
                       strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return sg_errf(err, "suite %s, run %s: `%s %s %s ... train %s` %s %d (its messages are "
                            "above)", s->name, id, tool, argv[1], n, cfg,
                       WIFEXITED(status) ? "exited with status" : "was killed by signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    sg_info("%s finished (%d ranks)", id, ranks);
    return 0;
}

/* Trains run r with seed `seed` into the suite's folders. */
static int run_one(const sg_suite *s, const sg_suite_opts *o, int r, long seed, const char *runs_dir,
                   const char *results, sg_err *err) {
    char id[160];
    run_id(s, r, seed, id, sizeof id);
    sg_config *c = run_config(s, r, o->extra, err);
    char kv[4400];
    int rc = c ? 0 : -1;
    if (!c) c = sg_train_config_new(); /* the error below frees it */
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
    const int ranks = (int)sg_config_int(c, "trainer.ranks");
    if (ranks > 1) {
        rc = run_ranks(s, c, id, runs_dir, ranks, &to, err);
        sg_config_free(c);
        close(cfd);
        return rc;
    }
    sg_train_summary sum;
    rc = sg_train_run(c, &to, &sum, err);
    sg_config_free(c);
    close(cfd); /* the claim ends with the run */
    if (!rc) sg_info("%s finished in %.1f min", id, sum.wall_s / 60);
    return rc;
}

int sg_suite_run_all(const sg_suite *s, const sg_suite_opts *o, sg_err *err) {
    return sg_suite_run_part(s, o, NULL, err);
}

/* The table and verdicts after a run; a part that leaves the suite incomplete returns 0. */
static int report_after(const sg_suite *s, const sg_suite_filter *f, const char *results,
                        sg_err *err) {
    if (!filtered(f)) return sg_suite_report(s, results, err);
    int runs[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS], nrec = 0;
    long seeds[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    if (pending_pairs(s, NULL, results, runs, seeds, &nrec, 0, err) < 0) return -1;
    if (!sg_file_exists(results)) {
        printf("\nsuite %s: no results in %s yet\n", s->name, results);
        return 0;
    }
    int rc = sg_suite_report(s, results, err);
    int total = s->nruns * s->nseeds;
    if (rc >= 0 && nrec < total) {
        printf("\nsuite %s: %d of %d (run, seed) recorded; the expectations decide the exit "
               "status once all are\n", s->name, nrec, total);
        rc = 0;
    }
    return rc;
}

int sg_suite_run_part(const sg_suite *s, const sg_suite_opts *o, const sg_suite_filter *f,
                      sg_err *err) {
    char results[4200], runs_dir[4200];
    if (sg_path_printf(results, sizeof results, err, "%s/results.csv", o->out_dir) ||
        sg_path_printf(runs_dir, sizeof runs_dir, err, "%s/runs", o->out_dir))
        return -1;
    if (filtered(f) && sg_suite_filter_check(s, f, err)) return -1;
    if (sg_mkdirs(o->out_dir, err)) return -1;
    /* the (run, seed) pairs not yet in the results */
    int pending_run[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    long pending_seed[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    int npending = pending_pairs(s, f, results, pending_run, pending_seed, NULL, 1, err);
    if (npending < 0) return -1;
    if (filtered(f)) {
        char seed[40] = "";
        if (f->one_seed) snprintf(seed, sizeof seed, ", seed %ld", f->seed);
        sg_info("suite %s, only %s%s: %d (run, seed) pending", s->name,
                f->only ? f->only : "every run", seed, npending);
    } else
        sg_info("suite %s: %d of %d runs pending%s", s->name, npending, s->nruns * s->nseeds,
                o->jobs > 1 ? ", in parallel, one thread each" : "");
    /* what the whole suite took where it was measured, so a user knows what to expect */
    if (npending > 0 && s->duration[0])
        sg_info("suite %s takes %s (the suite file's measurement)", s->name, s->duration);
    if (o->jobs <= 1) {
        for (int i = 0; i < npending; i++)
            if (run_one(s, o, pending_run[i], pending_seed[i], runs_dir, results, err)) return -1;
        return report_after(s, f, results, err);
    }
    /* Each child training on CUDA gets a GPU of its own, when there are several: the one of
     * its slot (which of the `jobs` running at once it is). */
    int cuda[SG_SUITE_MAX_RUNS] = {0}, any_cuda = 0, ngpu = 0;
    for (int i = 0; i < npending; i++) {
        int r = pending_run[i];
        if (!cuda[r]) {
            int u = sg_suite_run_uses_cuda(s, r, o->extra, err);
            if (u < 0) return -1;
            cuda[r] = u ? 1 : -1;
            any_cuda |= u;
        }
    }
    char gpubuf[4096];
    const char *gpu[MAX_GPUS];
    if (any_cuda) {
        ngpu = visible_gpus(gpubuf, sizeof gpubuf, gpu);
        if (ngpu)
            sg_info("suite %s: the CUDA runs take %d GPU(s) round-robin (CUDA_VISIBLE_DEVICES "
                    "of each child)", s->name, ngpu);
        else
            sg_info("suite %s: no GPU list (CUDA_VISIBLE_DEVICES unset, no nvidia-smi): the "
                    "children's CUDA_VISIBLE_DEVICES left as it is", s->name);
    }
    /* Parallel: one child process per run (the parent never starts OpenMP, so forking is safe);
     * results are appended under the CSV's lock. A failed run fails the suite after the
     * others finish. */
    fflush(NULL);
    pid_t slot[256] = {0};
    int next = 0, running = 0, failed = 0;
    while (next < npending || running > 0) {
        while (running < o->jobs && next < npending) {
            int k = 0;
            while (slot[k]) k++; /* a free one: running < jobs <= 256 */
            pid_t pid = fork();
            if (pid < 0) return sg_errf(err, "fork failed: %s", strerror(errno));
            if (pid == 0) {
                sg_err e;
                if (ngpu && cuda[pending_run[next]] > 0) {
                    setenv("CUDA_VISIBLE_DEVICES", gpu[k % ngpu], 1);
                    char id[160];
                    run_id(s, pending_run[next], pending_seed[next], id, sizeof id);
                    sg_info("%s: CUDA_VISIBLE_DEVICES=%s", id, gpu[k % ngpu]);
                }
                int rc = run_one(s, o, pending_run[next], pending_seed[next], runs_dir, results, &e);
                if (rc) fprintf(stderr, "stopgrad suite: %s\n", e.msg);
                fflush(NULL);
                _exit(rc ? 1 : 0);
            }
            slot[k] = pid;
            next++;
            running++;
        }
        int status;
        pid_t done = wait(&status);
        if (done > 0) {
            for (int k = 0; k < 256; k++)
                if (slot[k] == done) slot[k] = 0;
            running--;
            failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        }
    }
    if (failed) return sg_errf(err, "suite %s: a run failed (its message is above)", s->name);
    return report_after(s, f, results, err);
}

/* ---- Slurm ------------------------------------------------------------------------------------ */

/* word in single quotes for bash ('\'' for each quote in it) */
static void shell_quote(sg_sbuf *b, const char *word) {
    sg_sbuf_printf(b, "'");
    for (const char *p = word; *p; p++) {
        if (*p == '\'')
            sg_sbuf_printf(b, "'\\''");
        else
            sg_sbuf_printf(b, "%c", *p);
    }
    sg_sbuf_printf(b, "'");
}

int sg_suite_slurm_script(const sg_suite *s, const sg_suite_slurm_opts *o, const int *runs,
                          const long *seeds, int n, sg_sbuf *out, sg_err *err) {
    if (n <= 0) return sg_errf(err, "suite %s: no (run, seed) to submit", s->name);
    /* #SBATCH lines are not read by a shell: a folder name they could not hold is refused */
    for (const char *p = o->out_dir; *p; p++)
        if (isspace((unsigned char)*p) || *p == '%' || *p == '"' || *p == '\'' || *p == '\\')
            return sg_errf(err, "the results folder '%s' holds '%c', which Slurm's --output "
                                "pattern cannot carry: use a folder without spaces, quotes, "
                                "'%%' or '\\\\'",
                           o->out_dir, *p);
    int any_cuda = 0, max_ranks = 1;
    for (int i = 0; i < n; i++) {
        int u = sg_suite_run_uses_cuda(s, runs[i], o->extra, err);
        int k = u < 0 ? -1 : sg_suite_run_ranks(s, runs[i], o->extra, err);
        if (u < 0 || k < 0) return -1;
        any_cuda |= u;
        if (k > max_ranks) max_ranks = k;
    }
    char job[64];
    snprintf(job, sizeof job, "%s", s->name);
    for (char *p = job; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') *p = '_';
    sg_sbuf_printf(out,
                   "#!/bin/bash\n"
                   "# Written by `stopgrad suite submit --slurm`: suite %s, the %d (run, seed) "
                   "not yet in\n"
                   "# %s/results.csv when it was written, one array task each. A task runs\n"
                   "# `stopgrad suite run --only RUN --seed S`: it takes the pair's claim, trains "
                   "it (or\n"
                   "# resumes its checkpoint) and appends its row under the results lock, as a "
                   "local runner\n"
                   "# does; a pair recorded meanwhile is skipped. Submit again for what is still "
                   "missing.\n",
                   s->name, n, o->out_dir);
    sg_sbuf_printf(out, "#SBATCH --job-name=sg-%s\n", job);
    sg_sbuf_printf(out, "#SBATCH --array=0-%d\n", n - 1);
    sg_sbuf_printf(out, "#SBATCH --output=%s/slurm/%%A_%%a.out\n", o->out_dir);
    if (max_ranks > 1)
        sg_sbuf_printf(out, "# trainer.ranks=%d: the data-parallel runs start their ranks with "
                            "srun inside the task's\n# allocation (the directives of an array "
                            "apply to all of its tasks)\n", max_ranks);
    sg_sbuf_printf(out, "#SBATCH --ntasks=%d\n", max_ranks);
    if (any_cuda && max_ranks > 1)
        sg_sbuf_printf(out, "# trainer.backend=cuda: a GPU for every rank\n"
                            "#SBATCH --gpus-per-task=1\n");
    else if (any_cuda)
        sg_sbuf_printf(out, "# trainer.backend=cuda: a GPU for every task of the array (the "
                            "directives of an array\n# apply to all of its tasks)\n"
                            "#SBATCH --gres=gpu:1\n");
    sg_sbuf_printf(out, "set -eu\n");
    if (o->cwd) {
        sg_sbuf_printf(out, "# relative paths of the settings (data.dir) are the submit "
                            "folder's\ncd ");
        shell_quote(out, o->cwd);
        sg_sbuf_printf(out, "\n");
    }
    sg_sbuf_printf(out, "case \"${SLURM_ARRAY_TASK_ID:-}\" in\n");
    for (int i = 0; i < n; i++)
        sg_sbuf_printf(out, "  %d) run=%s seed=%ld ;;\n", i, s->runs[runs[i]].name, seeds[i]);
    sg_sbuf_printf(out,
                   "  *) echo \"stopgrad suite: array task '${SLURM_ARRAY_TASK_ID:-}' is not one "
                   "of 0-%d\" >&2; exit 2 ;;\n"
                   "esac\n"
                   "echo \"stopgrad suite %s: task $SLURM_ARRAY_TASK_ID: run $run seed $seed on "
                   "$(hostname)\"\n"
                   "exec ",
                   n - 1, s->name);
    shell_quote(out, o->exe);
    sg_sbuf_printf(out, " suite run ");
    shell_quote(out, o->suite_path);
    sg_sbuf_printf(out, " --out ");
    shell_quote(out, o->out_dir);
    sg_sbuf_printf(out, " --only \"$run\" --seed \"$seed\"");
    if (o->extra) {
        char *buf = strdup(o->extra), *save = NULL;
        SG_CHECK(buf != NULL, "out of memory");
        for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            sg_sbuf_printf(out, " ");
            shell_quote(out, t);
        }
        free(buf);
    }
    sg_sbuf_printf(out, "\n");
    return 0;
}
