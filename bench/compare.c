/* bench/compare.c: regression check between two kernel-suite CSVs (compare.h). */
#include "bench/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/csv.h"
#include "core/base/stats.h"

static const char *const verdict_names[SG_CMP_NVERDICTS] = {
    "REGRESSION", "MISSING", "FAILED", "slower", "slower, untested", "ok", "faster", "NEW"};

const char *sg_compare_verdict_name(sg_compare_verdict v) {
    return v >= 0 && v < SG_CMP_NVERDICTS ? verdict_names[v] : "?";
}

int sg_compare_verdict_fails(sg_compare_verdict v) {
    return v == SG_CMP_REGRESSION || v == SG_CMP_MISSING || v == SG_CMP_FAILED;
}

void sg_compare_defaults(sg_compare_opts *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.10;
    o->alpha = 0.01;
    o->kinds = SG_COMPARE_DEFAULT_KINDS;
}

void sg_compare_summary_free(sg_compare_summary *s) {
    free(s->rows);
    s->rows = NULL;
    s->nrows = 0;
}

/* ---- reading a kernel-suite CSV ------------------------------------------------------------- */

static const char *const known_kinds[] = {"ceiling",      "kernel", "augment",
                                          "eigen_update", "step",   "step_overhead"};
#define NKNOWN ((int)(sizeof known_kinds / sizeof known_kinds[0]))

typedef struct {
    const char *kind, *config, *kernel, *shape, *status, *message;
    double median; /* NaN when the cell is empty */
    double *reps;
    int nreps;
    size_t line;
    int matched;
} cmp_rec;

typedef struct {
    const char *path;
    sg_csv_table t;
    int have_table;
    cmp_rec *recs;
    int n;
    const char *machine, *cpu_model, *accelerator; /* of the first row ("" when empty file) */
    int machines; /* 1 when every row has the first row's machine_id */
} cmp_file;

/* A row r of the table sits on line r + 2 (the header is line 1; kbench writes no field with a
 * line break). */
static size_t line_of(size_t r) { return r + 2; }

static int parse_number(const cmp_file *f, size_t r, const char *col, const char *s, double *v,
                        sg_err *err) {
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end || !isfinite(*v))
        return sg_errf(err,
                       "%s: line %zu, column %s: '%s' is not a number; expected seconds "
                       "(a finite float) or an empty cell",
                       f->path, line_of(r), col, s);
    return 0;
}

static int parse_reps(const cmp_file *f, size_t r, const char *s, cmp_rec *rec, sg_err *err) {
    rec->nreps = 0;
    rec->reps = NULL;
    if (!*s) return 0;
    int n = 1;
    for (const char *p = s; *p; p++) n += *p == ';';
    rec->reps = malloc((size_t)n * sizeof *rec->reps);
    SG_CHECK(rec->reps != NULL, "out of memory");
    const char *p = s;
    for (int i = 0; i < n; i++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end != ';' && *end != '\0') || !isfinite(v) || v <= 0) {
            size_t len = strcspn(p, ";");
            return sg_errf(err,
                           "%s: line %zu, column rep_times_s: repetition %d is '%.*s'; "
                           "expected positive seconds separated by ';'",
                           f->path, line_of(r), i + 1, (int)(len > 64 ? 64 : len), p);
        }
        rec->reps[i] = v;
        p = *end ? end + 1 : end;
    }
    rec->nreps = n;
    return 0;
}

/* A cell copied into a fixed field of sg_compare_row / sg_compare_summary: longer is an error
 * naming the limit, never a cut value in the table. */
static int cell_fits(const cmp_file *f, size_t r, const char *col, const char *s, size_t cap,
                     sg_err *err) {
    size_t n = strlen(s);
    if (n < cap) return 0;
    return sg_errf(err, "%s: line %zu, column %s: %zu characters, more than the %zu it may have",
                   f->path, line_of(r), col, n, cap - 1);
}

static int kind_selected(const char *kinds, const char *kind) {
    size_t n = strlen(kind);
    for (const char *p = kinds; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, kind, n)) return 1;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

static int check_kinds(const char *kinds, sg_err *err) {
    if (!*kinds)
        return sg_errf(err, "--kinds: empty list; expected kinds among ceiling, kernel, "
                            "augment, eigen_update, step, step_overhead");
    for (const char *p = kinds; *p;) {
        size_t len = strcspn(p, ",");
        int ok = 0;
        for (int i = 0; i < NKNOWN; i++)
            if (len == strlen(known_kinds[i]) && !strncmp(p, known_kinds[i], len)) ok = 1;
        if (!ok)
            return sg_errf(err,
                           "--kinds: unknown kind '%.*s'; expected a comma-separated list "
                           "of ceiling, kernel, augment, eigen_update, step, step_overhead",
                           (int)(len > 64 ? 64 : len), p);
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

static int key_cmp(const cmp_rec *a, const cmp_rec *b) {
    int c = strcmp(a->kind, b->kind);
    if (!c) c = strcmp(a->config, b->config);
    if (!c) c = strcmp(a->kernel, b->kernel);
    if (!c) c = strcmp(a->shape, b->shape);
    return c;
}

static int rec_sort_cmp(const void *a, const void *b) {
    const cmp_rec *x = a, *y = b;
    int c = key_cmp(x, y);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static void file_free(cmp_file *f) {
    for (int i = 0; i < f->n; i++) free(f->recs[i].reps);
    free(f->recs);
    if (f->have_table) sg_csv_table_free(&f->t);
    memset(f, 0, sizeof *f);
}

static int file_load(cmp_file *f, const char *path, const char *kinds, sg_err *err) {
    memset(f, 0, sizeof *f);
    f->path = path;
    if (sg_csv_read(path, &f->t, err)) return -1;
    f->have_table = 1;
    static const char *const need[] = {"kind",       "config",    "kernel",     "shape",
                                       "status",     "message",   "median_s",   "rep_times_s",
                                       "machine_id", "cpu_model", "accelerator"};
    int col[11];
    for (int i = 0; i < 11; i++) {
        col[i] = sg_csv_col(&f->t, need[i]);
        if (col[i] < 0)
            return sg_errf(err,
                           "%s: no column '%s' (expected the kernel-suite CSV of `stopgrad "
                           "bench`, whose header has kind, config, kernel, shape, status, "
                           "median_s, rep_times_s and the machine columns)",
                           path, need[i]);
    }
    f->machine = f->cpu_model = f->accelerator = "";
    f->machines = 1;
    if (f->t.nrows) {
        f->machine = sg_csv_cell(&f->t, 0, col[8]);
        f->cpu_model = sg_csv_cell(&f->t, 0, col[9]);
        f->accelerator = sg_csv_cell(&f->t, 0, col[10]);
    }
    f->recs = calloc(f->t.nrows ? f->t.nrows : 1, sizeof *f->recs);
    SG_CHECK(f->recs != NULL, "out of memory");
    for (size_t r = 0; r < f->t.nrows; r++) {
        if (strcmp(sg_csv_cell(&f->t, r, col[8]), f->machine)) f->machines = 0;
        const char *kind = sg_csv_cell(&f->t, r, col[0]);
        const sg_compare_row *fields = NULL;
        const sg_compare_summary *sum = NULL;
        if (cell_fits(f, r, "machine_id", sg_csv_cell(&f->t, r, col[8]), sizeof sum->base_machine,
                      err))
            return -1;
        if (!kind_selected(kinds, kind)) continue;
        if (cell_fits(f, r, "config", sg_csv_cell(&f->t, r, col[1]), sizeof fields->config, err) ||
            cell_fits(f, r, "kernel", sg_csv_cell(&f->t, r, col[2]), sizeof fields->kernel, err) ||
            cell_fits(f, r, "shape", sg_csv_cell(&f->t, r, col[3]), sizeof fields->shape, err))
            return -1;
        cmp_rec *rec = &f->recs[f->n];
        rec->kind = kind;
        rec->config = sg_csv_cell(&f->t, r, col[1]);
        rec->kernel = sg_csv_cell(&f->t, r, col[2]);
        rec->shape = sg_csv_cell(&f->t, r, col[3]);
        rec->status = sg_csv_cell(&f->t, r, col[4]);
        rec->message = sg_csv_cell(&f->t, r, col[5]);
        rec->line = line_of(r);
        rec->median = NAN;
        const char *med = sg_csv_cell(&f->t, r, col[6]);
        f->n++; /* counted now so that file_free releases its repetitions on an error */
        if (*med && parse_number(f, r, "median_s", med, &rec->median, err)) return -1;
        if (parse_reps(f, r, sg_csv_cell(&f->t, r, col[7]), rec, err)) return -1;
    }
    qsort(f->recs, (size_t)f->n, sizeof *f->recs, rec_sort_cmp);
    for (int i = 1; i < f->n; i++)
        if (!key_cmp(&f->recs[i - 1], &f->recs[i]))
            return sg_errf(err,
                           "%s: lines %zu and %zu are the same benchmark (kind %s, config "
                           "'%s', kernel %s, shape %s); expected one row per benchmark "
                           "(one run per file)",
                           path, f->recs[i - 1].line, f->recs[i].line, f->recs[i].kind,
                           f->recs[i].config, f->recs[i].kernel, f->recs[i].shape);
    return 0;
}

static int rec_key_cmp(const void *a, const void *b) { return key_cmp(a, b); }

static cmp_rec *file_find(cmp_file *f, const cmp_rec *key) {
    return f->n ? bsearch(key, f->recs, (size_t)f->n, sizeof *f->recs, rec_key_cmp) : NULL;
}

/* ---- the comparison ------------------------------------------------------------------------- */

static void row_init(sg_compare_row *o, const cmp_rec *r) {
    memset(o, 0, sizeof *o);
    snprintf(o->kind, sizeof o->kind, "%s", r->kind);
    snprintf(o->config, sizeof o->config, "%s", r->config);
    snprintf(o->kernel, sizeof o->kernel, "%s", r->kernel);
    snprintf(o->shape, sizeof o->shape, "%s", r->shape);
    o->base_s = o->new_s = o->ratio = o->p = NAN;
}

static int row_cmp(const void *a, const void *b) {
    const sg_compare_row *x = a, *y = b;
    if (x->verdict != y->verdict) return x->verdict < y->verdict ? -1 : 1;
    int xn = isnan(x->ratio), yn = isnan(y->ratio);
    if (xn != yn) return xn - yn;
    if (!xn && x->ratio != y->ratio) return x->ratio > y->ratio ? -1 : 1;
    int c = strcmp(x->kind, y->kind);
    if (!c) c = strcmp(x->config, y->config);
    if (!c) c = strcmp(x->kernel, y->kernel);
    if (!c) c = strcmp(x->shape, y->shape);
    return c;
}

/* The smallest p the test can give with nb and nn repetitions (perfectly separated samples). */
static double min_p(int nb, int nn) {
    double *x = malloc((size_t)(nb + nn) * sizeof *x);
    SG_CHECK(x != NULL, "out of memory");
    for (int i = 0; i < nb + nn; i++) x[i] = (double)i;
    double p = sg_mann_whitney_p_greater(x, nb, x + nb, nn);
    free(x);
    return p;
}

typedef struct {
    int nb, nn; /* repetition counts of the cached minimum p */
    double min_p;
    int under_nb, under_nn; /* the first underpowered pair's counts, for the warning */
} power_cache;

static void compare_pair(const sg_compare_opts *o, const cmp_rec *b, const cmp_rec *n,
                         sg_compare_row *row, sg_compare_summary *s, power_cache *pc) {
    row->base_s = b->median;
    if (!n) {
        row->verdict = SG_CMP_MISSING;
        snprintf(row->note, sizeof row->note, "not in NEW");
        return;
    }
    row->new_s = n->median;
    row->base_reps = b->nreps;
    row->new_reps = n->nreps;
    if (strcmp(n->status, "ok") != 0) {
        row->verdict = SG_CMP_FAILED;
        snprintf(row->note, sizeof row->note, "NEW status %s%s%.100s", n->status,
                 *n->message ? ": " : "", n->message);
        return;
    }
    if (!(n->median > 0)) {
        row->verdict = SG_CMP_FAILED;
        snprintf(row->note, sizeof row->note, "NEW has no median (line %zu)", n->line);
        return;
    }
    s->matched++;
    double hi = 1.0 + o->threshold, lo = 1.0 / (1.0 + o->threshold);
    row->ratio = n->median / b->median;
    if (b->nreps > 0 && n->nreps > 0) {
        s->tested++;
        row->p = sg_mann_whitney_p_greater(b->reps, b->nreps, n->reps, n->nreps);
        if (b->nreps != pc->nb || n->nreps != pc->nn) {
            pc->nb = b->nreps;
            pc->nn = n->nreps;
            pc->min_p = min_p(b->nreps, n->nreps);
        }
        if (!(pc->min_p < o->alpha)) {
            if (!s->underpowered) pc->under_nb = b->nreps, pc->under_nn = n->nreps;
            s->underpowered++;
        }
        if (row->ratio > hi) {
            row->verdict = row->p < o->alpha ? SG_CMP_REGRESSION : SG_CMP_SLOWER;
            if (row->verdict == SG_CMP_SLOWER)
                snprintf(row->note, sizeof row->note, "not significant at alpha %g", o->alpha);
        } else if (row->ratio < lo &&
                   sg_mann_whitney_p_greater(n->reps, n->nreps, b->reps, b->nreps) < o->alpha) {
            row->verdict = SG_CMP_FASTER;
        } else {
            row->verdict = SG_CMP_OK;
        }
    } else {
        s->median_only++;
        row->verdict = row->ratio > hi   ? SG_CMP_SLOWER_UNTESTED
                       : row->ratio < lo ? SG_CMP_FASTER
                                         : SG_CMP_OK;
        snprintf(row->note, sizeof row->note, "median only: no repetition times, no test");
    }
}

/* "AMD EPYC" or "NVIDIA H200" (the accelerator up to its first comma when there is one). */
static void describe_machine(const cmp_file *f, char *buf, size_t cap) {
    if (*f->accelerator)
        snprintf(buf, cap, "%s, %.*s", f->cpu_model, (int)strcspn(f->accelerator, ","),
                 f->accelerator);
    else
        snprintf(buf, cap, "%s", *f->cpu_model ? f->cpu_model : "unknown CPU");
}

static void fmt_ms(char *buf, size_t cap, double s) {
    if (isnan(s))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.4g", 1e3 * s);
}

static int iwidth(int w, const char *s, int cap) {
    int n = (int)strlen(s);
    if (n > cap) n = cap;
    return n > w ? n : w;
}

static void print_table(FILE *out, const sg_compare_summary *s) {
    int wk = 4, wc = 6, wn = 6, ws = 5;
    for (int i = 0; i < s->nrows; i++) {
        wk = iwidth(wk, s->rows[i].kind, 32);
        wc = iwidth(wc, s->rows[i].config, 64);
        wn = iwidth(wn, s->rows[i].kernel, 64);
        ws = iwidth(ws, s->rows[i].shape, 90);
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %10s  %10s  %7s  %8s  %s\n", wk, "kind", wc, "config", wn,
            "kernel", ws, "shape", "base ms", "new ms", "ratio", "p", "verdict");
    for (int i = 0; i < s->nrows; i++) {
        const sg_compare_row *r = &s->rows[i];
        char bm[32], nm[32], ra[32], pv[32];
        fmt_ms(bm, sizeof bm, r->base_s);
        fmt_ms(nm, sizeof nm, r->new_s);
        if (isnan(r->ratio))
            snprintf(ra, sizeof ra, "-");
        else
            snprintf(ra, sizeof ra, "%.3f", r->ratio);
        if (isnan(r->p))
            snprintf(pv, sizeof pv, "-");
        else
            snprintf(pv, sizeof pv, "%.2g", r->p);
        fprintf(out, "%-*s  %-*s  %-*s  %-*.*s  %10s  %10s  %7s  %8s  %s", wk, r->kind, wc,
                *r->config ? r->config : "-", wn, r->kernel, ws, ws, r->shape, bm, nm, ra, pv,
                sg_compare_verdict_name(r->verdict));
        if (*r->note) fprintf(out, " (%s)", r->note);
        fputc('\n', out);
    }
}

static int write_csv(const char *path, const sg_compare_summary *s, sg_err *err) {
    static const char *const hdr[] = {"kind",          "config",       "kernel",  "shape",
                                      "base_median_s", "new_median_s", "ratio",   "p_value",
                                      "base_reps",     "new_reps",     "verdict", "note"};
    sg_csv_row *rows = calloc((size_t)(s->nrows ? s->nrows : 1), sizeof *rows);
    SG_CHECK(rows != NULL, "out of memory");
    for (int i = 0; i < s->nrows; i++) {
        const sg_compare_row *r = &s->rows[i];
        sg_csv_row *w = &rows[i];
        sg_csv_row_init(w);
        sg_csv_row_str(w, r->kind);
        sg_csv_row_str(w, r->config);
        sg_csv_row_str(w, r->kernel);
        sg_csv_row_str(w, r->shape);
        const double v[4] = {r->base_s, r->new_s, r->ratio, r->p};
        for (int j = 0; j < 4; j++) {
            if (isnan(v[j]))
                sg_csv_row_str(w, "");
            else
                sg_csv_row_double(w, v[j]);
        }
        sg_csv_row_int(w, r->base_reps);
        sg_csv_row_int(w, r->new_reps);
        sg_csv_row_str(w, sg_compare_verdict_name(r->verdict));
        sg_csv_row_str(w, r->note);
    }
    int rc = sg_csv_write_atomic(path, (int)(sizeof hdr / sizeof hdr[0]), hdr, rows,
                                 (size_t)s->nrows, err);
    for (int i = 0; i < s->nrows; i++) sg_csv_row_free(&rows[i]);
    free(rows);
    return rc;
}

/* Whether a and b name the same file (the same name, or links to one file). */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!strcmp(a, b)) return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int sg_compare_files(const char *base, const char *new_csv, const sg_compare_opts *opts,
                     sg_compare_summary *out, sg_err *err) {
    sg_compare_opts o;
    if (opts)
        o = *opts;
    else
        sg_compare_defaults(&o);
    if (!o.kinds || !*o.kinds) o.kinds = SG_COMPARE_DEFAULT_KINDS;
    if (!(o.threshold >= 0 && o.threshold <= 100))
        return sg_errf(err,
                       "--threshold: %g is out of range; expected a relative slowdown in "
                       "[0, 100] (0.10 = 10%%)",
                       o.threshold);
    if (!(o.alpha > 0 && o.alpha < 1))
        return sg_errf(err,
                       "--alpha: %g is out of range; expected a significance level in "
                       "(0, 1)",
                       o.alpha);
    if (check_kinds(o.kinds, err)) return -1;
    if (o.csv_out && (same_file(o.csv_out, base) || same_file(o.csv_out, new_csv)))
        return sg_errf(err,
                       "--csv %s is the input %s: the comparison would overwrite what it "
                       "compares; choose another --csv",
                       o.csv_out, same_file(o.csv_out, base) ? base : new_csv);

    cmp_file fb, fn;
    if (file_load(&fb, base, o.kinds, err)) {
        file_free(&fb);
        return -1;
    }
    if (file_load(&fn, new_csv, o.kinds, err)) {
        file_free(&fb);
        file_free(&fn);
        return -1;
    }
    sg_compare_summary s;
    memset(&s, 0, sizeof s);
    s.rows = calloc((size_t)(fb.n + fn.n + 1), sizeof *s.rows);
    SG_CHECK(s.rows != NULL, "out of memory");
    snprintf(s.base_machine, sizeof s.base_machine, "%s", fb.machine);
    snprintf(s.new_machine, sizeof s.new_machine, "%s", fn.machine);
    s.same_machine = fb.machines && fn.machines && !strcmp(fb.machine, fn.machine);

    power_cache pc = {.nb = -1, .nn = -1, .min_p = NAN};
    for (int i = 0; i < fb.n; i++) {
        cmp_rec *b = &fb.recs[i];
        cmp_rec *n = file_find(&fn, b);
        if (n) n->matched = 1;
        if (strcmp(b->status, "ok") != 0 || !(b->median > 0)) {
            s.skipped++;
            continue;
        }
        sg_compare_row *row = &s.rows[s.nrows++];
        row_init(row, b);
        compare_pair(&o, b, n, row, &s, &pc);
    }
    for (int i = 0; i < fn.n; i++) {
        const cmp_rec *n = &fn.recs[i];
        if (n->matched) continue;
        sg_compare_row *row = &s.rows[s.nrows++];
        row_init(row, n);
        row->new_s = n->median;
        row->new_reps = n->nreps;
        row->verdict = SG_CMP_NEW;
        int bad = strcmp(n->status, "ok") != 0;
        snprintf(row->note, sizeof row->note, "not in BASE%s%.32s", bad ? "; status " : "",
                 bad ? n->status : "");
    }
    qsort(s.rows, (size_t)s.nrows, sizeof *s.rows, row_cmp);
    for (int i = 0; i < s.nrows; i++) {
        s.count[s.rows[i].verdict]++;
        s.failures += sg_compare_verdict_fails(s.rows[i].verdict);
    }

    FILE *w = o.out;
    if (w) {
        char mb[512], mn[512];
        describe_machine(&fb, mb, sizeof mb);
        describe_machine(&fn, mn, sizeof mn);
        fprintf(w, "BASE %s: machine %s (%s), %zu rows\nNEW  %s: machine %s (%s), %zu rows\n", base,
                *fb.machine ? fb.machine : "-", mb, fb.t.nrows, new_csv,
                *fn.machine ? fn.machine : "-", mn, fn.t.nrows);
        if (strcmp(fb.machine, fn.machine) != 0)
            fprintf(w,
                    "warning: hardware differs: BASE %s ran on machine %s (%s), NEW %s on "
                    "machine %s (%s): this is a hardware comparison, not a regression check\n",
                    base, fb.machine, mb, new_csv, fn.machine, mn);
        if (!fb.machines || !fn.machines)
            fprintf(w,
                    "warning: %s holds rows of more than one machine_id: some rows compare "
                    "different hardware\n",
                    !fb.machines ? base : new_csv);
        fputc('\n', w);
        print_table(w, &s);
        fputc('\n', w);
        if (s.median_only)
            fprintf(w,
                    "note: %d benchmark(s) have no repetition times (eigen_update, "
                    "step_overhead: sums of kernel medians) and were compared by their "
                    "medians only, without a test: never a REGRESSION, \"slower, untested\" "
                    "over the threshold\n",
                    s.median_only);
        if (s.underpowered)
            fprintf(w,
                    "warning: %d of %d tested benchmark(s) have too few repetitions for the "
                    "test to reach p < %g (%d and %d repetitions give p >= %.3g at best): no "
                    "regression can be detected there; run stopgrad bench with more "
                    "--repetitions (9 is the default)\n",
                    s.underpowered, s.tested, o.alpha, pc.under_nb, pc.under_nn,
                    min_p(pc.under_nb, pc.under_nn));
        if (s.skipped)
            fprintf(w,
                    "note: %d BASE benchmark(s) skipped: status not ok or no median in "
                    "BASE, nothing to compare against\n",
                    s.skipped);
        fprintf(w,
                "compare: %d benchmarks matched (%d tested, %d by median only), "
                "%d regression(s), %d missing, %d failed in NEW, %d new, %d skipped; "
                "threshold +%g%%, alpha %g: %s\n",
                s.matched, s.tested, s.median_only, s.count[SG_CMP_REGRESSION],
                s.count[SG_CMP_MISSING], s.count[SG_CMP_FAILED], s.count[SG_CMP_NEW], s.skipped,
                100.0 * o.threshold, o.alpha, s.failures ? "FAIL" : "PASS");
    }
    int rc = s.failures ? 1 : 0;
    if (o.csv_out && write_csv(o.csv_out, &s, err)) rc = -2;
    file_free(&fb);
    file_free(&fn);
    if (out)
        *out = s;
    else
        sg_compare_summary_free(&s);
    return rc;
}
