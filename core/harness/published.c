/* core/harness/published.c: stopgrad's results against the published numbers (published.h). */
#define _XOPEN_SOURCE 700 /* realpath, strdup, strtok_r */
#include "core/harness/published.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/csv.h"
#include "core/base/gnuplot.h"
#include "core/base/file.h"
#include "core/base/text.h"
#include "core/harness/suite.h"

static const char *const verdict_names[SG_PUB_NVERDICTS] = {"PASS", "FAIL", "NOT RUN", "UNMAPPED",
                                                              "NO METRIC"};

const char *sg_published_verdict_name(sg_published_verdict v) {
    return (unsigned)v < SG_PUB_NVERDICTS ? verdict_names[v] : "?";
}

static char *xstrdup(const char *s) {
    char *d = strdup(s ? s : "");
    SG_CHECK(d != NULL, "out of memory");
    return d;
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    SG_CHECK(p != NULL, "out of memory");
    return p;
}

/* ---- the reference ----------------------------------------------------------------------------
 */

/* Classes of a reference dataset; 0 when unknown. */
static int dataset_classes(const char *ds) {
    if (!strcmp(ds, "stl10") || !strcmp(ds, "cifar10") || !strcmp(ds, "fashion_mnist")) return 10;
    if (!strcmp(ds, "cifar100")) return 100;
    if (!strcmp(ds, "imagenet")) return 1000;
    return 0;
}

/* A finite number in cell s; empty allowed when `optional` (NaN). */
static int parse_num(const char *path, size_t line, const char *col, const char *s, int optional,
                     double *v, sg_err *err) {
    *v = NAN;
    if (!*s) {
        if (optional) return 0;
        return sg_errf(err, "%s: line %zu, column %s: empty; expected a number", path, line, col);
    }
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return sg_errf(err,
                       "%s: line %zu, column %s: '%s' is not a number; expected a finite "
                       "number%s",
                       path, line, col, s, optional ? " or an empty cell" : "");
    *v = d;
    return 0;
}

static int load_reference(sg_published *c, const char *path, sg_err *err) {
    static const char *const need[] = {"ref_id", "source", "table", "dataset", "epochs", "setting",
                                       "metric", "mean",   "std",   "seeds",   "rule"};
    enum {
        R_ID,
        R_SOURCE,
        R_TABLE,
        R_DATASET,
        R_EPOCHS,
        R_SETTING,
        R_METRIC,
        R_MEAN,
        R_STD,
        R_SEEDS,
        R_RULE,
        R_N
    };
    snprintf(c->reference, sizeof c->reference, "%s", path);
    sg_csv_table t;
    if (sg_csv_read(path, &t, err)) return -1;
    int col[R_N];
    for (int k = 0; k < R_N; k++) {
        col[k] = sg_csv_col(&t, need[k]);
        if (col[k] < 0) {
            sg_csv_table_free(&t);
            return sg_errf(err,
                           "%s: no column '%s' (expected the published numbers: ref_id, "
                           "source, table, dataset, epochs, setting, metric, mean, std, "
                           "seeds, rule, and optionally eval, higher_is_better, note)",
                           path, need[k]);
        }
    }
    int ceval = sg_csv_col(&t, "eval"), cnote = sg_csv_col(&t, "note"),
        chib = sg_csv_col(&t, "higher_is_better");
    c->rows = calloc(t.nrows ? t.nrows : 1, sizeof *c->rows);
    SG_CHECK(c->rows != NULL, "out of memory");
    int rc = 0;
    for (size_t r = 0; r < t.nrows && !rc; r++) {
        size_t line = r + 2;
        sg_published_row *row = &c->rows[c->nrows];
        const char *id = sg_csv_cell(&t, r, col[R_ID]);
        if (!*id) {
            rc = sg_errf(err, "%s: line %zu, column ref_id: empty; expected a unique id", path,
                         line);
            break;
        }
        for (int i = 0; i < c->nrows; i++)
            if (!strcmp(c->rows[i].ref_id, id)) {
                rc = sg_errf(err,
                             "%s: line %zu, column ref_id: '%s' already on line %d; expected "
                             "unique ids",
                             path, line, id, c->rows[i].line);
                break;
            }
        if (rc) break;
        row->line = (int)line;
        row->ref_id = xstrdup(id);
        row->source = xstrdup(sg_csv_cell(&t, r, col[R_SOURCE]));
        row->table = xstrdup(sg_csv_cell(&t, r, col[R_TABLE]));
        row->dataset = xstrdup(sg_csv_cell(&t, r, col[R_DATASET]));
        row->epochs = xstrdup(sg_csv_cell(&t, r, col[R_EPOCHS]));
        row->setting = xstrdup(sg_csv_cell(&t, r, col[R_SETTING]));
        row->metric = xstrdup(sg_csv_cell(&t, r, col[R_METRIC]));
        row->rule = xstrdup(sg_csv_cell(&t, r, col[R_RULE]));
        row->eval = xstrdup(ceval >= 0 ? sg_csv_cell(&t, r, ceval) : "");
        row->note = xstrdup(cnote >= 0 ? sg_csv_cell(&t, r, cnote) : "");
        row->ours_mean = row->ours_std = row->ours_collapse_std = row->diff = row->tolerance = NAN;
        c->nrows++;
        double seeds;
        if (parse_num(path, line, "mean", sg_csv_cell(&t, r, col[R_MEAN]), 0, &row->pub_mean,
                      err) ||
            parse_num(path, line, "std", sg_csv_cell(&t, r, col[R_STD]), 1, &row->pub_std, err) ||
            parse_num(path, line, "seeds", sg_csv_cell(&t, r, col[R_SEEDS]), 1, &seeds, err)) {
            rc = -1;
            break;
        }
        if (!isnan(row->pub_std) && row->pub_std < 0) {
            rc = sg_errf(err,
                         "%s: line %zu, column std: %s is negative; expected a std >= 0 or "
                         "an empty cell",
                         path, line, sg_csv_cell(&t, r, col[R_STD]));
            break;
        }
        if (!isnan(seeds) && (seeds < 1 || seeds != floor(seeds) || seeds > 1e6)) {
            rc = sg_errf(err,
                         "%s: line %zu, column seeds: '%s'; expected a positive integer or "
                         "an empty cell (not published)",
                         path, line, sg_csv_cell(&t, r, col[R_SEEDS]));
            break;
        }
        row->pub_seeds = isnan(seeds) ? 0 : (int)seeds;
        if (strcmp(row->rule, "within") && strcmp(row->rule, "collapse")) {
            rc = sg_errf(err, "%s: line %zu, column rule: '%s'; expected within or collapse", path,
                         line, row->rule);
            break;
        }
        if (!strcmp(row->rule, "collapse") && !dataset_classes(row->dataset)) {
            rc = sg_errf(err,
                         "%s: line %zu, column dataset: '%s' has no known class count, which "
                         "rule collapse needs (expected stl10, cifar10, cifar100 or imagenet)",
                         path, line, row->dataset);
            break;
        }
        if (chib >= 0) {
            const char *h = sg_csv_cell(&t, r, chib);
            if (strcmp(h, "1") && strcmp(h, "0")) {
                rc = sg_errf(err, "%s: line %zu, column higher_is_better: '%s'; expected 1 or 0",
                             path, line, h);
                break;
            }
        }
    }
    sg_csv_table_free(&t);
    return rc;
}

/* ---- suites: which run answers which row ------------------------------------------------------
 */

typedef struct {
    long seed;
    double probe, probe5, cstd; /* probe_best (top-1), probe_top5, collapse_std; NaN: none */
    char dataset[32];
    long epochs;
    const char *file;
    size_t line;
} res_entry;

typedef struct {
    char tag[160];
    res_entry *e;
    int n, cap;
} tag_group;

typedef struct {
    tag_group *g;
    int ng, capg;
    int **row_tags; /* per reference row: indices into g */
    int *row_ntags;
} mapping;

static int find_tag(const mapping *m, const char *tag) {
    for (int i = 0; i < m->ng; i++)
        if (!strcmp(m->g[i].tag, tag)) return i;
    return -1;
}

static int add_tag(mapping *m, const char *tag) {
    int i = find_tag(m, tag);
    if (i >= 0) return i;
    if (m->ng == m->capg) {
        m->capg = m->capg ? 2 * m->capg : 32;
        m->g = xrealloc(m->g, (size_t)m->capg * sizeof *m->g);
    }
    tag_group *g = &m->g[m->ng];
    memset(g, 0, sizeof *g);
    snprintf(g->tag, sizeof g->tag, "%s", tag);
    return m->ng++;
}

static void mapping_free(mapping *m, int nrows) {
    for (int i = 0; i < m->ng; i++) free(m->g[i].e);
    free(m->g);
    if (m->row_tags)
        for (int r = 0; r < nrows; r++) free(m->row_tags[r]);
    free(m->row_tags);
    free(m->row_ntags);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_suites(sg_published *c, mapping *m, const char *dir, sg_err *err) {
    DIR *d = opendir(dir);
    if (!d) return sg_errf(err, "%s: cannot open the suites folder: %s", dir, strerror(errno));
    char **names = NULL;
    int nn = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 6 && !strcmp(e->d_name + n - 6, ".suite") && e->d_name[0] != '.') {
            names = xrealloc(names, (size_t)(nn + 1) * sizeof *names);
            names[nn++] = xstrdup(e->d_name);
        }
    }
    closedir(d);
    if (nn > 1) qsort(names, (size_t)nn, sizeof *names, by_name);
    int rc = 0;
    sg_suite *s = malloc(sizeof *s);
    SG_CHECK(s != NULL, "out of memory");
    for (int i = 0; i < nn && !rc; i++) {
        char path[4400];
        if (sg_path_printf(path, sizeof path, err, "%s/%s", dir, names[i]) ||
            sg_suite_load(s, path, dir, err)) {
            rc = -1;
            break;
        }
        c->nsuites++;
        for (int r = 0; r < s->nruns && !rc; r++) {
            if (!s->runs[r].answers[0]) continue;
            char tag[160], buf[sizeof s->runs[r].answers], *save = NULL;
            snprintf(tag, sizeof tag, "%s/%s", s->name, s->runs[r].name);
            int gi = add_tag(m, tag);
            snprintf(buf, sizeof buf, "%s", s->runs[r].answers);
            for (char *id = strtok_r(buf, " \t", &save); id; id = strtok_r(NULL, " \t", &save)) {
                int row = -1;
                for (int k = 0; k < c->nrows && row < 0; k++)
                    if (!strcmp(c->rows[k].ref_id, id)) row = k;
                if (row < 0) {
                    rc = sg_errf(err,
                                 "%s: run %s answers '%s', which %s does not have (expected "
                                 "a ref_id of that file)",
                                 path, s->runs[r].name, id, c->reference);
                    break;
                }
                int dup = 0;
                for (int k = 0; k < m->row_ntags[row]; k++) dup |= m->row_tags[row][k] == gi;
                if (dup) continue;
                m->row_tags[row] =
                    xrealloc(m->row_tags[row], (size_t)(m->row_ntags[row] + 1) * sizeof(int));
                m->row_tags[row][m->row_ntags[row]++] = gi;
                sg_published_row *cr = &c->rows[row];
                if (sg_append_word(cr->runs, sizeof cr->runs, tag)) {
                    rc = sg_errf(err, "%s: reference row %s is answered by more runs than fit "
                                      "in %zu characters", path, id, sizeof cr->runs - 1);
                    break;
                }
                cr->nruns++;
            }
        }
    }
    free(s);
    for (int i = 0; i < nn; i++) free(names[i]);
    free(names);
    return rc;
}

/* ---- results ----------------------------------------------------------------------------------
 */

static int load_results(sg_published *c, mapping *m, const char *path, sg_err *err) {
    static const char *const need[] = {"tag",    "seed",       "dataset",
                                       "epochs", "probe_best", "collapse_std"};
    enum { X_TAG, X_SEED, X_DATASET, X_EPOCHS, X_PROBE, X_CSTD, X_N };
    sg_csv_table t;
    if (sg_csv_read(path, &t, err)) return -1;
    int col[X_N];
    for (int k = 0; k < X_N; k++) {
        col[k] = sg_csv_col(&t, need[k]);
        if (col[k] < 0) {
            sg_csv_table_free(&t);
            return sg_errf(err,
                           "%s: no column '%s' (expected a results CSV of `stopgrad suite run` "
                           "or `stopgrad train`, with the columns tag, seed, dataset, epochs, "
                           "probe_best and collapse_std)",
                           path, need[k]);
        }
    }
    c->nfiles++;
    const int c5 = sg_csv_col(&t, "probe_top5");
    /* the protocol of each row's evaluation, and the held-out-chosen accuracy BYOL's reports */
    const int cproto = sg_csv_col(&t, "probe_protocol"), cheld = sg_csv_col(&t, "probe");
    int rc = 0;
    for (size_t r = 0; r < t.nrows && !rc; r++) {
        size_t line = r + 2;
        c->nresult_rows++;
        int gi = find_tag(m, sg_csv_cell(&t, r, col[X_TAG]));
        if (gi < 0) {
            c->nignored++;
            continue;
        }
        res_entry e = {0};
        double seed, epochs;
        if (parse_num(path, line, "seed", sg_csv_cell(&t, r, col[X_SEED]), 0, &seed, err) ||
            parse_num(path, line, "epochs", sg_csv_cell(&t, r, col[X_EPOCHS]), 0, &epochs, err)) {
            rc = -1;
            break;
        }
        if (seed != floor(seed) || epochs != floor(epochs) || epochs < 0) {
            rc = sg_errf(err,
                         "%s: line %zu: seed '%s' and epochs '%s' must be integers (epochs "
                         ">= 0)",
                         path, line, sg_csv_cell(&t, r, col[X_SEED]),
                         sg_csv_cell(&t, r, col[X_EPOCHS]));
            break;
        }
        e.seed = (long)seed;
        e.epochs = (long)epochs;
        /* an empty or nan probe / collapse std: not measured */
        const char *ps = sg_csv_cell(&t, r, col[X_PROBE]), *cs = sg_csv_cell(&t, r, col[X_CSTD]);
        if (strcmp(ps, "nan") && parse_num(path, line, "probe_best", ps, 1, &e.probe, err)) {
            rc = -1;
            break;
        }
        if (!strcmp(ps, "nan")) e.probe = NAN;
        /* BYOL's linear evaluation chooses its lr and epoch on a held-out split and reports the
         * test accuracy there: `probe`, not the best test epoch */
        if (cproto >= 0 && cheld >= 0 && !strncmp(sg_csv_cell(&t, r, cproto), "byol:", 5)) {
            const char *hs = sg_csv_cell(&t, r, cheld);
            if (!hs[0] || !strcmp(hs, "nan")) {
                e.probe = NAN;
            } else if (parse_num(path, line, "probe", hs, 1, &e.probe, err)) {
                rc = -1;
                break;
            }
        }
        if (strcmp(cs, "nan") && parse_num(path, line, "collapse_std", cs, 1, &e.cstd, err)) {
            rc = -1;
            break;
        }
        if (!strcmp(cs, "nan")) e.cstd = NAN;
        /* top-5 (results of builds before it lack the column: not measured) */
        const char *p5 = c5 >= 0 ? sg_csv_cell(&t, r, c5) : "";
        char *end5;
        e.probe5 = p5[0] ? strtod(p5, &end5) : NAN;
        if (p5[0] && (*end5 || (!isnan(e.probe5) && (e.probe5 < 0 || e.probe5 > 100)))) {
            rc = sg_errf(err, "%s: line %zu, column probe_top5: '%s' is not an accuracy in "
                              "percent", path, line, p5);
            break;
        }
        if (!isnan(e.probe) && (e.probe < 0 || e.probe > 100)) {
            rc = sg_errf(err,
                         "%s: line %zu, column probe_best: %s is outside [0, 100]; expected "
                         "an accuracy in percent",
                         path, line, ps);
            break;
        }
        const char *ds = sg_csv_cell(&t, r, col[X_DATASET]);
        if (strlen(ds) >= sizeof e.dataset) {
            rc = sg_errf(err, "%s: line %zu, column dataset: '%.40s...' is longer than the %zu "
                              "characters of a dataset name", path, line, ds,
                         sizeof e.dataset - 1);
            break;
        }
        snprintf(e.dataset, sizeof e.dataset, "%s", ds);
        e.file = path;
        e.line = line;
        tag_group *g = &m->g[gi];
        for (int k = 0; k < g->n; k++)
            if (g->e[k].seed == e.seed) {
                rc = sg_errf(err,
                             "%s line %zu and %s line %zu: run %s, seed %ld twice; expected "
                             "each (run, seed) once (the same results file given twice?)",
                             g->e[k].file, g->e[k].line, path, line, g->tag, e.seed);
                break;
            }
        if (rc) break;
        if (g->n == g->cap) {
            g->cap = g->cap ? 2 * g->cap : 8;
            g->e = xrealloc(g->e, (size_t)g->cap * sizeof *g->e);
        }
        g->e[g->n++] = e;
    }
    sg_csv_table_free(&t);
    return rc;
}

/* ---- judging ----------------------------------------------------------------------------------
 */

/* The number a result gives for the row's metric: top-1 is probe_best (the best test epoch: the
 * reference code's and SimSiam's evaluations report it), or `probe` for rows evaluated with
 * BYOL's protocol (chosen on a held-out split); top-5 the probe's top-5 at its chosen epoch. */
static double metric_of(const res_entry *e, int top5) { return top5 ? e->probe5 : e->probe; }

static void judge(sg_published_row *row, const mapping *m, int ri) {
    if (m->row_ntags[ri] == 0) {
        row->verdict = SG_PUB_UNMAPPED;
        return;
    }
    const int top5 = !strcmp(row->metric, "top5");
    double sum = 0, sum2 = 0, csum = 0;
    int n = 0, nc = 0, setup_differs = 0;
    for (int k = 0; k < m->row_ntags[ri]; k++) {
        const tag_group *g = &m->g[m->row_tags[ri][k]];
        for (int j = 0; j < g->n; j++) {
            const res_entry *e = &g->e[j];
            row->nresults++;
            if (!isnan(metric_of(e, top5))) {
                sum += metric_of(e, top5);
                n++;
            }
            if (!isnan(e->cstd)) {
                csum += e->cstd;
                nc++;
            }
            int differs = strcmp(e->dataset, row->dataset) != 0 ||
                          (*row->epochs && e->epochs != strtol(row->epochs, NULL, 10));
            setup_differs |= differs;
            char one[80];
            snprintf(one, sizeof one, "%s, %ld epochs", e->dataset, e->epochs);
            if (!strstr(row->ours_setup, one)) {
                size_t at = strlen(row->ours_setup);
                snprintf(row->ours_setup + at, sizeof row->ours_setup - at, "%s%s", at ? "; " : "",
                         one);
            }
        }
    }
    if (row->nresults == 0) {
        row->verdict = SG_PUB_NOT_RUN;
        return;
    }
    if (strcmp(row->metric, "top1") != 0 && !top5) { /* stopgrad measures top-1 and top-5 */
        row->verdict = SG_PUB_NO_METRIC;
        return;
    }
    row->n = n;
    if (n) {
        row->ours_mean = sum / n;
        for (int k = 0; k < m->row_ntags[ri]; k++) {
            const tag_group *g = &m->g[m->row_tags[ri][k]];
            for (int j = 0; j < g->n; j++)
                if (!isnan(metric_of(&g->e[j], top5)))
                    sum2 += (metric_of(&g->e[j], top5) - row->ours_mean) *
                            (metric_of(&g->e[j], top5) - row->ours_mean);
        }
        row->ours_std = n > 1 ? sqrt(sum2 / (n - 1)) : NAN;
    }
    row->ours_collapse_std = nc ? csum / nc : NAN;
    if (n == 0) { /* the metric empty or nan in every seed */
        row->verdict = SG_PUB_NO_METRIC;
        return;
    }
    row->diff = row->ours_mean - row->pub_mean;
    row->partial_seeds = row->pub_seeds > 0 && n < row->pub_seeds;
    row->setup_differs = setup_differs;
    int pass;
    if (!strcmp(row->rule, "within")) {
        double band = 2 * row->pub_std;
        row->tolerance = isnan(band) || band < SG_PUB_WITHIN_FLOOR ? SG_PUB_WITHIN_FLOOR : band;
        pass = fabs(row->diff) <= row->tolerance + 1e-9;
    } else {
        row->tolerance = 100.0 / dataset_classes(row->dataset) + SG_PUB_COLLAPSE_MARGIN;
        row->collapsed =
            (!isnan(row->ours_collapse_std) && row->ours_collapse_std < SG_PUB_COLLAPSE_STD) ||
            row->ours_mean < row->tolerance;
        pass = row->collapsed;
    }
    row->verdict = pass ? SG_PUB_PASS : SG_PUB_FAIL;
}

int sg_published_compute(const sg_published_inputs *in, sg_published *c, sg_err *err) {
    memset(c, 0, sizeof *c);
    if (load_reference(c, in->reference, err)) return -1;
    mapping m = {0};
    m.row_tags = calloc((size_t)(c->nrows ? c->nrows : 1), sizeof *m.row_tags);
    m.row_ntags = calloc((size_t)(c->nrows ? c->nrows : 1), sizeof *m.row_ntags);
    SG_CHECK(m.row_tags && m.row_ntags, "out of memory");
    int rc = load_suites(c, &m, in->suites_dir, err);
    for (int f = 0; f < in->nresults && !rc; f++) rc = load_results(c, &m, in->results[f], err);
    if (!rc)
        for (int r = 0; r < c->nrows; r++) {
            judge(&c->rows[r], &m, r);
            c->count[c->rows[r].verdict]++;
            c->npartial += c->rows[r].partial_seeds;
            c->nsetup += c->rows[r].setup_differs;
        }
    mapping_free(&m, c->nrows);
    return rc;
}

void sg_published_free(sg_published *c) {
    for (int i = 0; i < c->nrows; i++) {
        sg_published_row *r = &c->rows[i];
        free(r->ref_id), free(r->source), free(r->table), free(r->dataset), free(r->epochs);
        free(r->setting), free(r->metric), free(r->rule), free(r->eval), free(r->note);
    }
    free(c->rows);
    memset(c, 0, sizeof *c);
}

/* ---- text -------------------------------------------------------------------------------------
 */

/* "77.86 ± 0.16 (5 seeds)", "64.70 (std ?, seeds ?)" */
static void fmt_published(char *b, size_t cap, const sg_published_row *r) {
    char std[32], seeds[32];
    if (isnan(r->pub_std))
        snprintf(std, sizeof std, "?");
    else
        snprintf(std, sizeof std, "%.2f", r->pub_std);
    if (r->pub_seeds)
        snprintf(seeds, sizeof seeds, "%d seed%s", r->pub_seeds, r->pub_seeds == 1 ? "" : "s");
    else
        snprintf(seeds, sizeof seeds, "seeds ?");
    snprintf(b, cap, "%.2f ± %s (%s)", r->pub_mean, std, seeds);
}

static void fmt_ours(char *b, size_t cap, const sg_published_row *r) {
    if (r->n == 0)
        snprintf(b, cap, "-");
    else if (r->n == 1)
        snprintf(b, cap, "%.2f (1 seed)", r->ours_mean);
    else
        snprintf(b, cap, "%.2f ± %.2f (%d seeds)", r->ours_mean, r->ours_std, r->n);
}

static void fmt_diff(char *b, size_t cap, const sg_published_row *r) {
    if (isnan(r->diff))
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%+.2f", r->diff);
}

/* "directpred rho=0.3 (cifar10, 100 ep)", "linear-predictor (imagenet, 60 ep, top5)" */
static void fmt_setting(char *b, size_t cap, const sg_published_row *r) {
    int top1 = !strcmp(r->metric, "top1");
    snprintf(b, cap, "%s (%s%s%s%s%s%s)", r->setting, r->dataset, *r->epochs ? ", " : "", r->epochs,
             *r->epochs ? " ep" : "", top1 ? "" : ", ", top1 ? "" : r->metric);
}

/* "PASS", "FAIL PARTIAL-SEEDS SETUP-DIFFERS" */
static void fmt_verdict(char *b, size_t cap, const sg_published_row *r) {
    snprintf(b, cap, "%s%s%s", sg_published_verdict_name(r->verdict),
             r->partial_seeds ? " PARTIAL-SEEDS" : "", r->setup_differs ? " SETUP-DIFFERS" : "");
}

/* What the rule asked: "|diff| <= 1.50", "collapsed: std 0.0004 < 0.01 or probe < 5.10" */
static void fmt_judged(char *b, size_t cap, const sg_published_row *r) {
    if (isnan(r->tolerance))
        snprintf(b, cap, "-");
    else if (!strcmp(r->rule, "within"))
        snprintf(b, cap, "|diff| <= %.2f", r->tolerance);
    else if (isnan(r->ours_collapse_std))
        snprintf(b, cap, "collapse: probe < %.2f", r->tolerance);
    else
        snprintf(b, cap, "collapse: collapse_std %.4f < %.2f or probe < %.2f", r->ours_collapse_std,
                 SG_PUB_COLLAPSE_STD, r->tolerance);
}

/* Display width of UTF-8 text (continuation bytes take no column). */
static int width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(FILE *f, const char *s, int w) {
    fputs(s, f);
    for (int k = width(s); k < w; k++) fputc(' ', f);
}

void sg_published_print(const sg_published *c, FILE *f) {
    enum { NC = 8 };
    static const char *const head[NC] = {"ref_id", "table", "setting",   "published",
                                         "ours",   "diff",  "judged by", "verdict"};
    int w[NC];
    for (int k = 0; k < NC; k++) w[k] = width(head[k]);
    char cell[NC][512];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int k = 0; k < NC; k++) {
                if (k == NC - 1)
                    fprintf(f, "%s\n", head[k]);
                else
                    pad(f, head[k], w[k] + 2);
            }
        }
        for (int i = 0; i < c->nrows; i++) {
            const sg_published_row *r = &c->rows[i];
            snprintf(cell[0], sizeof cell[0], "%s", r->ref_id);
            snprintf(cell[1], sizeof cell[1], "%s", r->table);
            fmt_setting(cell[2], sizeof cell[2], r);
            fmt_published(cell[3], sizeof cell[3], r);
            fmt_ours(cell[4], sizeof cell[4], r);
            fmt_diff(cell[5], sizeof cell[5], r);
            fmt_judged(cell[6], sizeof cell[6], r);
            fmt_verdict(cell[7], sizeof cell[7], r);
            for (int k = 0; k < NC; k++) {
                if (pass == 0) {
                    int cw = width(cell[k]);
                    if (cw > w[k]) w[k] = cw;
                } else if (k == NC - 1) {
                    fprintf(f, "%s\n", cell[k]);
                } else {
                    pad(f, cell[k], w[k] + 2);
                }
            }
        }
    }
}

void sg_published_print_summary(const sg_published *c, FILE *f) {
    fprintf(f,
            "check: %d reference rows: %d PASS, %d FAIL, %d NOT RUN, %d UNMAPPED, %d NO METRIC; "
            "%d PARTIAL-SEEDS, %d SETUP-DIFFERS (results: %ld rows from %d file(s), %ld with a tag "
            "no suite's answers name; %d suite(s))\n",
            c->nrows, c->count[SG_PUB_PASS], c->count[SG_PUB_FAIL], c->count[SG_PUB_NOT_RUN],
            c->count[SG_PUB_UNMAPPED], c->count[SG_PUB_NO_METRIC], c->npartial, c->nsetup,
            c->nresult_rows, c->nfiles, c->nignored, c->nsuites);
}

/* ---- files ------------------------------------------------------------------------------------
 */

static void num_cell(char *b, size_t cap, double v, int prec) {
    if (isnan(v))
        b[0] = 0;
    else
        snprintf(b, cap, "%.*f", prec, v);
}

static int write_csv(const sg_published *c, const char *path, sg_err *err) {
    static const char *const head[] = {
        "ref_id",         "source",        "table",           "dataset",
        "epochs",         "setting",       "metric",          "rule",
        "published_mean", "published_std", "published_seeds", "tolerance",
        "ours_mean",      "ours_std",      "ours_seeds",      "ours_collapse_std",
        "diff",           "verdict",       "flags",           "runs",
        "ours_setup",     "note"};
    enum { NH = sizeof head / sizeof head[0] };
    sg_csv_row *rows = calloc((size_t)(c->nrows ? c->nrows : 1), sizeof *rows);
    SG_CHECK(rows != NULL, "out of memory");
    for (int i = 0; i < c->nrows; i++) {
        const sg_published_row *r = &c->rows[i];
        sg_csv_row *o = &rows[i];
        char b[64];
        sg_csv_row_init(o);
        sg_csv_row_str(o, r->ref_id);
        sg_csv_row_str(o, r->source);
        sg_csv_row_str(o, r->table);
        sg_csv_row_str(o, r->dataset);
        sg_csv_row_str(o, r->epochs);
        sg_csv_row_str(o, r->setting);
        sg_csv_row_str(o, r->metric);
        sg_csv_row_str(o, r->rule);
        snprintf(b, sizeof b, "%.10g", r->pub_mean);
        sg_csv_row_str(o, b);
        num_cell(b, sizeof b, r->pub_std, 2);
        sg_csv_row_str(o, b);
        if (r->pub_seeds)
            sg_csv_row_int(o, r->pub_seeds);
        else
            sg_csv_row_str(o, "");
        num_cell(b, sizeof b, r->tolerance, 4);
        sg_csv_row_str(o, b);
        num_cell(b, sizeof b, r->ours_mean, 4);
        sg_csv_row_str(o, b);
        num_cell(b, sizeof b, r->ours_std, 4);
        sg_csv_row_str(o, b);
        sg_csv_row_int(o, r->n);
        num_cell(b, sizeof b, r->ours_collapse_std, 6);
        sg_csv_row_str(o, b);
        num_cell(b, sizeof b, r->diff, 4);
        sg_csv_row_str(o, b);
        sg_csv_row_str(o, sg_published_verdict_name(r->verdict));
        snprintf(b, sizeof b, "%s%s%s", r->partial_seeds ? "PARTIAL-SEEDS" : "",
                 r->partial_seeds && r->setup_differs ? " " : "",
                 r->setup_differs ? "SETUP-DIFFERS" : "");
        sg_csv_row_str(o, b);
        sg_csv_row_str(o, r->runs);
        sg_csv_row_str(o, r->ours_setup);
        sg_csv_row_str(o, r->note);
    }
    int rc = sg_csv_write_atomic(path, NH, head, rows, (size_t)c->nrows, err);
    for (int i = 0; i < c->nrows; i++) sg_csv_row_free(&rows[i]);
    free(rows);
    return rc;
}

static void md_cell(sg_sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            sg_sbuf_printf(b, "\\|");
        else
            sg_sbuf_printf(b, "%c", *s == '\n' ? ' ' : *s);
    }
}

/* Rows of one published table (source + table) are contiguous groups in first-seen order. */
static int same_table(const sg_published_row *a, const sg_published_row *b) {
    return !strcmp(a->source, b->source) && !strcmp(a->table, b->table);
}

static int first_of_table(const sg_published *c, int i) {
    for (int k = 0; k < i; k++)
        if (same_table(&c->rows[k], &c->rows[i])) return 0;
    return 1;
}

static void build_markdown(const sg_published *c, sg_sbuf *b) {
    sg_sbuf_printf(b, "# stopgrad check: ours against the published numbers\n\n");
    sg_sbuf_printf(b, "Reference: `");
    md_cell(b, c->reference);
    sg_sbuf_printf(
        b,
        "`. Results: %ld rows from %d file(s), %ld of them with a tag no suite's `answers` "
        "name; %d suite file(s).\n\n",
        c->nresult_rows, c->nfiles, c->nignored, c->nsuites);
    sg_sbuf_printf(
        b,
        "stopgrad's number is `probe_best`: the reference code reports the best test "
        "accuracy over its linear probe's epochs. Ours: mean ± sample std over seeds. "
        "Rules: `within` passes when |ours - published| <= max(2 x published std, %.1f) "
        "points; `collapse` passes when ours collapsed too (collapse_std < %.2f or probe "
        "below chance + %.0f points). NOT RUN: a suite answers the row but no results; "
        "UNMAPPED: no suite answers it; NO METRIC: results without the row's metric. "
        "PARTIAL-SEEDS: fewer seeds than published; SETUP-DIFFERS: our dataset or epochs "
        "differ from the row's. \"?\": not published.\n\n",
        SG_PUB_WITHIN_FLOOR, SG_PUB_COLLAPSE_STD, SG_PUB_COLLAPSE_MARGIN);
    sg_sbuf_printf(b,
                   "**%d PASS, %d FAIL, %d NOT RUN, %d UNMAPPED, %d NO METRIC** of %d rows; %d "
                   "PARTIAL-SEEDS, %d SETUP-DIFFERS.\n",
                   c->count[SG_PUB_PASS], c->count[SG_PUB_FAIL], c->count[SG_PUB_NOT_RUN],
                   c->count[SG_PUB_UNMAPPED], c->count[SG_PUB_NO_METRIC], c->nrows, c->npartial,
                   c->nsetup);
    for (int i = 0; i < c->nrows; i++) {
        if (!first_of_table(c, i)) continue;
        sg_sbuf_printf(b, "\n## ");
        md_cell(b, c->rows[i].source);
        sg_sbuf_printf(b, ", table ");
        md_cell(b, c->rows[i].table);
        sg_sbuf_printf(b, "\n\n| ref_id | setting | dataset | epochs | metric | published | ours | "
                          "diff | judged by | verdict | runs |\n"
                          "|---|---|---|---:|---|---:|---:|---:|---|---|---|\n");
        for (int k = i; k < c->nrows; k++) {
            const sg_published_row *r = &c->rows[k];
            if (!same_table(r, &c->rows[i])) continue;
            char pub[128], ours[128], diff[32], judged[160], verdict[96];
            fmt_published(pub, sizeof pub, r);
            fmt_ours(ours, sizeof ours, r);
            fmt_diff(diff, sizeof diff, r);
            fmt_judged(judged, sizeof judged, r);
            fmt_verdict(verdict, sizeof verdict, r);
            const char *cells[] = {r->ref_id,
                                   r->setting,
                                   r->dataset,
                                   *r->epochs ? r->epochs : "-",
                                   r->metric,
                                   pub,
                                   ours,
                                   diff,
                                   judged,
                                   verdict,
                                   *r->runs ? r->runs : "-"};
            sg_sbuf_printf(b, "|");
            for (size_t j = 0; j < sizeof cells / sizeof cells[0]; j++) {
                sg_sbuf_printf(b, " %s", j == 9 ? "**" : "");
                md_cell(b, cells[j]);
                sg_sbuf_printf(b, "%s |", j == 9 ? "**" : "");
            }
            sg_sbuf_printf(b, "\n");
        }
    }
}

/* ---- the chart --------------------------------------------------------------------------------
 */

static int table_has_results(const sg_published *c, int first) {
    for (int k = first; k < c->nrows; k++)
        if (same_table(&c->rows[k], &c->rows[first]) && c->rows[k].n > 0) return 1;
    return 0;
}

/* Data and script of the chart: one panel per published table with any results; returns the
 * rows drawn (0: nothing to chart). */
static int build_chart(const sg_published *c, const char *dat_path, const char *png, sg_sbuf *dat,
                       sg_sbuf *gp) {
    int npanels = 0, nrows = 0;
    for (int i = 0; i < c->nrows; i++)
        if (first_of_table(c, i) && table_has_results(c, i)) {
            npanels++;
            for (int k = i; k < c->nrows; k++) nrows += same_table(&c->rows[k], &c->rows[i]);
        }
    if (!npanels) return 0;
    const int row_px = 30, head_px = 70, W = 1500;
    int H = npanels * head_px + nrows * row_px + 10;
    sg_sbuf_printf(gp,
                   "# check.gp: written by `stopgrad check`; reads check.dat beside it and writes\n"
                   "# check.png (or the file named by OUT: gnuplot -e \"OUT='x.png'\").\n");
    sg_gp_png_output(gp, W, H, png);
    sg_sbuf_printf(gp, "set multiplot\nset lmargin at screen 0.40\n"
                       "set rmargin at screen 0.97\nset grid xtics lc rgb '#dddddd'\n"
                       "set ytics nomirror scale 0\nset xtics nomirror\nset border 3\n"
                       "set xrange [0:100]\nset xlabel 'accuracy (%%)' offset 0,0.6\n");
    double top = 1.0;
    int index = 0;
    for (int i = 0; i < c->nrows; i++) {
        if (!first_of_table(c, i) || !table_has_results(c, i)) continue;
        int n = 0;
        sg_sbuf_printf(dat, "# %s %s: row published published_std ours ours_std # ref_id\n",
                       c->rows[i].source, c->rows[i].table);
        sg_sbuf tics = {0};
        for (int k = i; k < c->nrows; k++) {
            const sg_published_row *r = &c->rows[k];
            if (!same_table(r, &c->rows[i])) continue;
            /* NaN: not published / not measured (gnuplot skips the bar) */
            char ps[32] = "NaN", om[32] = "NaN", os[32] = "NaN";
            if (!isnan(r->pub_std)) snprintf(ps, sizeof ps, "%.6g", r->pub_std);
            if (r->n) snprintf(om, sizeof om, "%.6g", r->ours_mean);
            if (!isnan(r->ours_std)) snprintf(os, sizeof os, "%.6g", r->ours_std);
            sg_sbuf_printf(dat, "%d %.6g %s %s %s # %s\n", n, r->pub_mean, ps, om, os, r->ref_id);
            char label[400], verdict[96];
            fmt_verdict(verdict, sizeof verdict, r);
            char setting[300];
            fmt_setting(setting, sizeof setting, r);
            snprintf(label, sizeof label, "%s %s [%s]", r->ref_id, setting, verdict);
            sg_sbuf_printf(&tics, "%s\"", n ? ", " : "");
            sg_gp_dq(&tics, label, 110);
            sg_sbuf_printf(&tics, "\" %d", n);
            n++;
        }
        sg_sbuf_printf(dat, "\n\n");
        double h = (double)(head_px + n * row_px) / H;
        top -= h;
        sg_sbuf_printf(gp, "\nset origin 0,%.4f\nset size 1,%.4f\nset title \"", top < 0 ? 0 : top,
                       h);
        sg_gp_dq(gp, c->rows[i].source, 60);
        sg_sbuf_printf(gp, ", table ");
        sg_gp_dq(gp, c->rows[i].table, 40);
        sg_sbuf_printf(gp, ": published vs stopgrad (probe_best), mean and std over seeds\"\n");
        if (index == 0)
            sg_sbuf_printf(gp, "set key outside top right horizontal\n");
        else
            sg_sbuf_printf(gp, "unset key\n");
        sg_sbuf_printf(gp, "set yrange [%.2f:-0.6]\nset ytics (%s)\n", n - 0.4,
                       tics.s ? tics.s : "");
        sg_sbuf_free(&tics);
        const char *what[2] = {"published", "stopgrad"};
        sg_sbuf_printf(gp, "plot ");
        for (int j = 0; j < 2; j++) {
            int cv = j ? 4 : 2, cs = j ? 5 : 3;
            double off = j ? 0.19 : -0.19;
            sg_sbuf_printf(gp, "%s'", j ? ", \\\n     " : "");
            sg_gp_sq(gp, dat_path);
            sg_sbuf_printf(
                gp,
                "' index %d using %d:($1%+.2f):(0):%d:($1%+.2f):($1%+.2f) with boxxyerror "
                "fillstyle solid 0.85 noborder lc %d title '%s', \\\n     '",
                index, cv, off, cv, off - 0.17, off + 0.17, j + 1, what[j]);
            sg_gp_sq(gp, dat_path);
            sg_sbuf_printf(gp,
                           "' index %d using %d:($1%+.2f):%d with xerrorbars pointsize 0 lc "
                           "rgb '#333333' notitle",
                           index, cv, off, cs);
        }
        sg_sbuf_printf(gp, "\n");
        index++;
    }
    sg_sbuf_printf(gp, "\nunset multiplot\nunset output\n");
    return nrows;
}

int sg_published_write(const sg_published *c, const sg_published_out_opts *o, sg_published_written *w,
                   sg_err *err) {
    sg_published_written s;
    memset(&s, 0, sizeof s);
    if (!o->out_dir || !*o->out_dir) return sg_errf(err, "--out: empty folder name");
    if (sg_path_printf(s.csv_path, sizeof s.csv_path, err, "%s/check.csv", o->out_dir) ||
        sg_path_printf(s.md_path, sizeof s.md_path, err, "%s/check.md", o->out_dir) ||
        sg_path_printf(s.png_path, sizeof s.png_path, err, "%s/check.png", o->out_dir) ||
        sg_path_printf(s.dat_path, sizeof s.dat_path, err, "%s/check.dat", o->out_dir) ||
        sg_path_printf(s.gp_path, sizeof s.gp_path, err, "%s/check.gp", o->out_dir))
        return -1;
    if (w) *w = s;
    const char *old = sg_file_exists(s.csv_path)   ? s.csv_path
                      : sg_file_exists(s.md_path)  ? s.md_path
                      : sg_file_exists(s.png_path) ? s.png_path
                                                   : NULL;
    if (old && !o->force)
        return sg_errf(err,
                       "%s already exists: a check is not overwritten; choose another --out "
                       "or pass --force",
                       old);
    if (sg_mkdirs(o->out_dir, err)) return -2;
    char abs_dir[4096];
    if (!realpath(o->out_dir, abs_dir)) {
        sg_errf(err, "%s: cannot resolve the folder: %s", o->out_dir, strerror(errno));
        return -2;
    }
    char abs_dat[4200], abs_png[4200];
    snprintf(abs_dat, sizeof abs_dat, "%s/check.dat", abs_dir);
    snprintf(abs_png, sizeof abs_png, "%s/check.png", abs_dir);
    if (write_csv(c, s.csv_path, err)) return -2;
    if (o->log) fprintf(o->log, "wrote %s (%d rows)\n", s.csv_path, c->nrows);
    sg_sbuf md = {0}, dat = {0}, gp = {0};
    build_markdown(c, &md);
    int rc = sg_write_file_atomic(s.md_path, md.s, md.len, err) ? -2 : 0;
    sg_sbuf_free(&md);
    if (rc) return rc;
    if (o->log) fprintf(o->log, "wrote %s\n", s.md_path);
    /* --force: an old chart must not stay beside a new table */
    if (sg_file_exists(s.png_path) && remove(s.png_path) != 0) {
        sg_errf(err, "%s: cannot remove the old chart: %s", s.png_path, strerror(errno));
        return -2;
    }
    s.charted = build_chart(c, abs_dat, abs_png, &dat, &gp);
    if (!s.charted) {
        if (o->log)
            fprintf(o->log, "%s not written: no reference row has results, nothing to chart\n",
                    s.png_path);
    } else if (sg_write_file_atomic(s.dat_path, dat.s, dat.len, err) ||
               sg_write_file_atomic(s.gp_path, gp.s, gp.len, err)) {
        rc = -2;
    } else {
        char exe[4200];
        const char *gnuplot = o->gnuplot && *o->gnuplot ? o->gnuplot : "gnuplot";
        if (!sg_find_program(gnuplot, exe, sizeof exe)) {
            sg_errf(err,
                    "%s needs gnuplot, and '%s' is not %s (Debian's gnuplot-nox provides it; "
                    "scripts/setup.sh installs it); %s, %s, %s and %s were written",
                    s.png_path, gnuplot, strchr(gnuplot, '/') ? "an executable" : "on PATH",
                    s.csv_path, s.md_path, s.dat_path, s.gp_path);
            rc = 1;
        } else {
            rc = sg_gnuplot_png(exe, &gp, s.gp_path, s.png_path, abs_png, err);
            s.png = rc == 0;
            if (s.png && o->log)
                fprintf(o->log, "wrote %s (%d rows charted)\n", s.png_path, s.charted);
        }
    }
    sg_sbuf_free(&dat);
    sg_sbuf_free(&gp);
    if (w) *w = s;
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------
 */

int sg_published_run(const sg_published_opts *o, FILE *out, FILE *errf) {
    sg_published c;
    sg_err err;
    if (sg_published_compute(&o->in, &c, &err)) {
        fprintf(errf, "stopgrad check: %s\n", err.msg);
        sg_published_free(&c);
        return 2;
    }
    if (o->list_unmapped) {
        for (int i = 0; i < c.nrows; i++)
            if (c.rows[i].verdict == SG_PUB_UNMAPPED) fprintf(out, "%s\n", c.rows[i].ref_id);
        int n = c.count[SG_PUB_UNMAPPED];
        fprintf(errf, "check: %d of %d reference rows are unmapped (no suite in %s answers them)\n",
                n, c.nrows, o->in.suites_dir);
        sg_published_free(&c);
        return n ? 1 : 0;
    }
    sg_published_print(&c, out);
    fprintf(out, "\n");
    sg_published_print_summary(&c, out);
    fflush(out);
    sg_published_out_opts wo = o->out;
    if (!wo.log) wo.log = out;
    int wrc = sg_published_write(&c, &wo, NULL, &err);
    int failed = c.count[SG_PUB_FAIL] > 0;
    sg_published_free(&c);
    if (wrc < 0) {
        fprintf(errf, "stopgrad check: %s\n", err.msg);
        return 2;
    }
    if (wrc == 1) fprintf(errf, "stopgrad check: %s\n", err.msg);
    return failed || wrc == 1 ? 1 : 0;
}
