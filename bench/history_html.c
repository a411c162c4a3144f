/* bench/history_html.c: the static site of a results history (history.h, sg_history_html) and
 * its screenshot in headless Chromium. */
#define _XOPEN_SOURCE 700 /* realpath, fdopen */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/history.h"
#include "bench/history_db.h"
#include "bench/roofline.h"
#include "core/base/file.h"
#include "core/base/gnuplot.h"
#include "core/base/hash.h"
#include "core/base/stats.h"
#include "core/base/text.h"

/* ---- small helpers ------------------------------------------------------------------------- */

static void html(sg_sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
            case '<': sg_sbuf_printf(b, "&lt;"); break;
            case '>': sg_sbuf_printf(b, "&gt;"); break;
            case '&': sg_sbuf_printf(b, "&amp;"); break;
            case '"': sg_sbuf_printf(b, "&quot;"); break;
            default: sg_sbuf_printf(b, "%c", *s);
        }
    }
}

static const char *cell_text(sqlite3_stmt *st, int i) {
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

static const char *const style =
    "<style>body{font-family:'DejaVu Sans',sans-serif;font-size:14px;margin:24px;color:#222}"
    "table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 7px;"
    "text-align:left}td.n{text-align:right}th{background:#f0f0f0}.bad{color:#b00;font-weight:bold}"
    ".good{color:#070}img.chart{display:block;margin:6px 0 18px;border:1px solid #ddd}"
    "code{font-size:12px}</style>\n";

/* Every page checks in the browser that its charts loaded: the count lands in the page (and in
 * body's data-charts-loaded, which the browser test reads from the DOM). */
static const char *const load_check =
    "<p id=\"load-check\">charts: not checked (scripts disabled)</p>\n"
    "<script>window.addEventListener('load',function(){var c=document.querySelectorAll("
    "'img.chart'),ok=0;c.forEach(function(i){if(i.complete&&i.naturalWidth>0)ok++;});"
    "document.getElementById('load-check').textContent='charts: '+ok+' of '+c.length+"
    "' loaded';document.body.setAttribute('data-charts-loaded',ok+'/'+c.length);});</script>\n";

static void page_start(sg_sbuf *b, const char *title) {
    sg_sbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
    html(b, title);
    sg_sbuf_printf(b, "</title>\n%s</head><body>\n", style);
}

static void page_end(sg_sbuf *b) { sg_sbuf_printf(b, "%s</body></html>\n", load_check); }

/* ---- environments and pages ------------------------------------------------------------------ */

typedef struct {
    char *id, *cpu, *acc;
} machine_desc;

typedef struct {
    machine_desc *m;
    int n;
} machines;

static int load_machines(sg_history *h, machines *ms, sg_err *err) {
    memset(ms, 0, sizeof *ms);
    sqlite3_stmt *st;
    const char *sql = "SELECT machine_id, cpu_model, accelerator FROM machines ORDER BY machine_id";
    if (sqlite3_prepare_v2(sg_history_db(h), sql, -1, &st, NULL) != SQLITE_OK)
        return sg_hdb_errf(h, err, sql);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ms->m = realloc(ms->m, (size_t)(ms->n + 1) * sizeof *ms->m);
        SG_CHECK(ms->m != NULL, "out of memory");
        machine_desc *d = &ms->m[ms->n++];
        d->id = strdup(cell_text(st, 0));
        d->cpu = strdup(cell_text(st, 1));
        d->acc = strdup(cell_text(st, 2));
        SG_CHECK(d->id && d->cpu && d->acc, "out of memory");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : sg_hdb_errf(h, err, sql);
}

static void free_machines(machines *ms) {
    for (int i = 0; i < ms->n; i++) {
        free(ms->m[i].id);
        free(ms->m[i].cpu);
        free(ms->m[i].acc);
    }
    free(ms->m);
}

/* "cuda NVIDIA H200 (6c899c), 16 threads"; "any machine" for a check without one. */
static void env_label(const machines *ms, const char *machine_id, const char *backend, int threads,
                      char *buf, size_t cap) {
    if (!*machine_id) {
        snprintf(buf, cap, "any machine");
        return;
    }
    const char *dev = "unknown machine";
    int devlen = (int)strlen(dev);
    for (int i = 0; i < ms->n; i++)
        if (!strcmp(ms->m[i].id, machine_id)) {
            dev = *ms->m[i].acc ? ms->m[i].acc : ms->m[i].cpu;
            devlen = (int)strcspn(dev, ",");
        }
    snprintf(buf, cap, "%s %.*s (%.6s), %d thread%s", *backend ? backend : "?", devlen, dev,
             machine_id, threads, threads == 1 ? "" : "s");
}

static const char *series_env_label(const machines *ms, const sg_hist_series *s, char *buf,
                                    size_t cap) {
    env_label(ms, s->machine_id, s->backend, s->threads, buf, cap);
    return buf;
}

static int same_bench(const sg_hist_series *a, const sg_hist_series *b) {
    return !strcmp(a->kind, b->kind) && !strcmp(a->config, b->config) &&
           !strcmp(a->name, b->name) && !strcmp(a->shape, b->shape);
}

static const sg_hist_data *g_data; /* qsort has no context argument in C11 */

/* by benchmark, then metric, then environment (the load order) */
static int by_bench(const void *pa, const void *pb) {
    const sg_hist_series *a = &g_data->series[*(const int *)pa],
                         *b = &g_data->series[*(const int *)pb];
    int c = strcmp(a->kind, b->kind);
    if (!c) c = strcmp(a->config, b->config);
    if (!c) c = strcmp(a->name, b->name);
    if (!c) c = strcmp(a->shape, b->shape);
    if (!c) c = strcmp(a->metric, b->metric);
    if (!c) c = (*(const int *)pa > *(const int *)pb) - (*(const int *)pa < *(const int *)pb);
    return c;
}

/* A file name for a benchmark: its readable part, then a hash of the whole key so that two
 * benchmarks never share a page. */
static void slug_of(const sg_hist_series *s, char *buf, size_t cap) {
    char key[2400];
    snprintf(key, sizeof key, "%s|%s|%s|%s", s->kind, s->config, s->name, s->shape);
    uint64_t h = sg_fnv1a64_str(SG_FNV1A64_INIT, key);
    char readable[64];
    snprintf(readable, sizeof readable, "%s-%s-%s", s->kind, s->config, s->name);
    size_t n = 0;
    for (const char *p = readable; *p && n < 48; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '-' || ch == '_' || ch == '.';
        readable[n++] = ok ? ch : '_';
    }
    readable[n] = 0;
    snprintf(buf, cap, "%s-%08llx", readable, (unsigned long long)(h & 0xffffffffu));
}

static void bench_title(const sg_hist_series *s, sg_sbuf *b) {
    sg_sbuf_printf(b, "%s", s->kind);
    if (*s->config) sg_sbuf_printf(b, " %s", s->config);
    sg_sbuf_printf(b, " %s", s->name);
    if (*s->shape) sg_sbuf_printf(b, " %s", s->shape);
}

/* ---- the charts ------------------------------------------------------------------------------ */

typedef struct {
    sg_atomic_file *files;
    int n, cap;
} chart_files;

/* A chart's file: created under its temporary name now, renamed in once gnuplot has run. */
static int chart_open(chart_files *cf, const char *path, sg_sbuf *gp, int w, int h, sg_err *err) {
    if (cf->n == cf->cap) {
        cf->cap = cf->cap ? 2 * cf->cap : 64;
        cf->files = realloc(cf->files, (size_t)cf->cap * sizeof *cf->files);
        SG_CHECK(cf->files != NULL, "out of memory");
    }
    sg_atomic_file *f = &cf->files[cf->n];
    if (sg_atomic_open(f, path, -1, err)) return -1;
    close(sg_atomic_release_fd(f));
    cf->n++;
    sg_sbuf_printf(gp,
                   "\nreset\nset terminal svg size %d,%d font 'DejaVu Sans,11' noenhanced "
                   "background rgb 'white'\nset output '",
                   w, h);
    sg_gp_sq(gp, f->tmp);
    sg_sbuf_printf(gp, "'\n");
    return 0;
}

static void charts_abort(chart_files *cf) {
    for (int i = 0; i < cf->n; i++) sg_atomic_abort(&cf->files[i]);
    free(cf->files);
    memset(cf, 0, sizeof *cf);
}

static int charts_commit(chart_files *cf, sg_err *err) {
    int rc = 0;
    for (int i = 0; i < cf->n; i++) {
        if (rc)
            sg_atomic_abort(&cf->files[i]);
        else if (sg_atomic_commit(&cf->files[i], err))
            rc = -1;
    }
    free(cf->files);
    memset(cf, 0, sizeof *cf);
    return rc;
}

/* One metric of one benchmark over commits: a line per environment (the commit's median, bars
 * from its smallest to its largest sample) and a dashed line where a change was found. */
static void series_chart(sg_sbuf *gp, const sg_hist_data *d, const machines *ms, const int *idx,
                         int n, const sg_regress_result *rr, int id) {
    const sg_hist_series *s0 = &d->series[idx[0]];
    double scale;
    const char *unit = sg_hist_display_unit(s0, &scale);
    int lo = d->ncommits, hi = -1;
    double vmin = INFINITY, vmax = 0;
    for (int k = 0; k < n; k++) {
        const sg_hist_series *s = &d->series[idx[k]];
        sg_sbuf_printf(gp, "$s%d_%d << EOD\n", id, k);
        for (int p = 0; p < s->npts; p++) {
            const sg_hist_point *pt = &s->pts[p];
            double mn = INFINITY, mx = -INFINITY;
            for (int i = 0; i < pt->n; i++) {
                mn = fmin(mn, pt->samples[i]);
                mx = fmax(mx, pt->samples[i]);
            }
            sg_sbuf_printf(gp, "%d %.9g %.9g %.9g\n", pt->commit, pt->level * scale, mn * scale,
                           mx * scale);
            lo = pt->commit < lo ? pt->commit : lo;
            hi = pt->commit > hi ? pt->commit : hi;
            if (mn > 0) vmin = fmin(vmin, mn * scale);
            vmax = fmax(vmax, mx * scale);
        }
        sg_sbuf_printf(gp, "EOD\n");
    }
    sg_sbuf_printf(gp, "set title \"%s over commits (%s, %s is better)\"\n", s0->metric, unit,
                   s0->higher_is_better ? "higher" : "lower");
    sg_sbuf_printf(gp, "set xrange [%g:%g]\nset xtics rotate by 45 right (", lo - 0.5, hi + 0.5);
    int every = (hi - lo) / 30 + 1;
    for (int c = lo, first = 1; c <= hi; c += every, first = 0)
        sg_sbuf_printf(gp, "%s\"%.10s\" %d", first ? "" : ", ", d->commits[c].commit, c);
    sg_sbuf_printf(gp, ")\nset ylabel '%s'\nset grid ytics lc rgb '#e6e6e6'\n"
                       "set key below\nset bmargin 7\n",
                   unit);
    if (vmin > 0 && vmax / vmin > 30)
        sg_sbuf_printf(gp, "set logscale y\n");
    else if (vmax > 0 && vmax - vmin < 1e-9 * vmax) /* one value: gnuplot needs a range */
        sg_sbuf_printf(gp, "set yrange [%.9g:%.9g]\n", vmin * 0.9, vmax * 1.1);
    for (int c = 0; c < rr->nchanges; c++) {
        const sg_change *ch = &rr->changes[c];
        for (int k = 0; k < n; k++)
            if (ch->series == idx[k])
                sg_sbuf_printf(gp,
                               "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lw 1.5 "
                               "lc rgb '%s'\n",
                               ch->commit - 0.5, ch->commit - 0.5,
                               ch->worse ? "#cc0000" : "#008800");
    }
    sg_sbuf_printf(gp, "plot ");
    for (int k = 0; k < n; k++) {
        char label[400];
        series_env_label(ms, &d->series[idx[k]], label, sizeof label);
        sg_sbuf_printf(gp, "%s$s%d_%d using 1:2:3:4 with yerrorlines pt 7 ps 0.6 lw 1.5 title \"",
                       k ? ", \\\n     " : "", id, k);
        sg_gp_dq(gp, label, 120);
        sg_sbuf_printf(gp, "\"");
    }
    sg_sbuf_printf(gp, "\n");
}

/* ---- rooflines ------------------------------------------------------------------------------ */

typedef struct {
    char *run_id, *machine_id, *backend, *suite, *commit, *time;
    int threads;
    sg_roofline roof;
    sg_roofline_point *pts;
    int npts;
    double median_frac; /* the kernels' median fraction of the roofline */
} roof_run;

static void roof_free(roof_run *r, int n) {
    for (int i = 0; i < n; i++) {
        free(r[i].run_id);
        free(r[i].machine_id);
        free(r[i].backend);
        free(r[i].suite);
        free(r[i].commit);
        free(r[i].time);
        for (int k = 0; k < r[i].npts; k++) free((char *)r[i].pts[k].kernel);
        free(r[i].pts);
    }
    free(r);
}

/* The newest kernel-suite run of every (machine, backend, threads, suite), with its ceilings and
 * kernels. Runs without both ceilings are left out. */
static int load_rooflines(sg_history *h, roof_run **out, int *nout, sg_err *err) {
    *out = NULL;
    *nout = 0;
    sqlite3 *db = sg_history_db(h);
    const char *sql =
        "SELECT r.run_id, r.machine_id, r.backend, r.threads, r.suite, r.git_commit, r.time_utc "
        "FROM runs r WHERE r.source = 'kernel-suite' AND r.time_utc = (SELECT max(q.time_utc) "
        "FROM runs q WHERE q.source = 'kernel-suite' AND q.machine_id = r.machine_id AND "
        "q.backend = r.backend AND q.threads = r.threads AND q.suite = r.suite) "
        "ORDER BY r.machine_id, r.backend, r.threads, r.suite, r.run_id";
    const char *ksql = "SELECT kind, name, value, flops, bytes FROM results WHERE run_id = ? AND "
                       "metric = 'median_s' AND kind IN ('ceiling', 'kernel')";
    sqlite3_stmt *st, *ks;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return sg_hdb_errf(h, err, sql);
    if (sqlite3_prepare_v2(db, ksql, -1, &ks, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return sg_hdb_errf(h, err, ksql);
    }
    roof_run *rs = NULL;
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rs = realloc(rs, (size_t)(n + 1) * sizeof *rs);
        SG_CHECK(rs != NULL, "out of memory");
        roof_run *r = &rs[n++];
        memset(r, 0, sizeof *r);
        r->run_id = strdup(cell_text(st, 0));
        r->machine_id = strdup(cell_text(st, 1));
        r->backend = strdup(cell_text(st, 2));
        r->threads = sqlite3_column_int(st, 3);
        r->suite = strdup(cell_text(st, 4));
        r->commit = strdup(cell_text(st, 5));
        r->time = strdup(cell_text(st, 6));
        sqlite3_bind_text(ks, 1, r->run_id, -1, SQLITE_TRANSIENT);
        int krc;
        while ((krc = sqlite3_step(ks)) == SQLITE_ROW) {
            double sec = sqlite3_column_double(ks, 2);
            double flops = sqlite3_column_type(ks, 3) == SQLITE_NULL ? NAN
                                                                     : sqlite3_column_double(ks, 3);
            double bytes = sqlite3_column_type(ks, 4) == SQLITE_NULL ? NAN
                                                                     : sqlite3_column_double(ks, 4);
            const char *kind = cell_text(ks, 0), *name = cell_text(ks, 1);
            if (!strcmp(kind, "ceiling")) {
                if (!strncmp(name, "sgemm", 5)) { /* sgemm, sgemm_dnnl: the faster is the roof */
                    if (!(r->roof.peak_gflops >= flops / sec / 1e9))
                        r->roof.peak_gflops = flops / sec / 1e9;
                } else {
                    r->roof.bw_gbs = bytes / sec / 1e9;
                }
                continue;
            }
            r->pts = realloc(r->pts, (size_t)(r->npts + 1) * sizeof *r->pts);
            SG_CHECK(r->pts != NULL, "out of memory");
            r->pts[r->npts++] = (sg_roofline_point){strdup(name), sg_roofline_intensity(flops, bytes),
                                                    flops / sec / 1e9};
        }
        sqlite3_reset(ks);
        if (krc != SQLITE_DONE) {
            rc = krc;
            break;
        }
        double *fr = malloc((size_t)(r->npts + 1) * sizeof *fr);
        SG_CHECK(fr != NULL, "out of memory");
        int nf = 0;
        for (int k = 0; k < r->npts; k++) {
            double roof = sg_roofline_attainable(&r->roof, r->pts[k].intensity);
            if (isfinite(roof) && r->pts[k].gflops > 0) fr[nf++] = r->pts[k].gflops / roof;
        }
        r->median_frac = sg_median(fr, nf);
        free(fr);
        if (!(r->roof.peak_gflops > 0 && r->roof.bw_gbs > 0 && isfinite(r->roof.peak_gflops) &&
              isfinite(r->roof.bw_gbs))) {
            roof_free(r, 1);
            n--;
        }
    }
    sqlite3_finalize(st);
    sqlite3_finalize(ks);
    if (rc != SQLITE_DONE) {
        roof_free(rs, n);
        return sg_hdb_errf(h, err, "reading the kernel-suite runs");
    }
    *out = rs;
    *nout = n;
    return 0;
}

/* ---- latest against the baseline ------------------------------------------------------------ */

typedef struct {
    int series;
    int base, latest; /* points; base -1: none */
    double change, p;
    int worse, regression;
    const char *verdict;
} latest_row;

static void compare_latest(const sg_hist_series *s, int si, int base_commit,
                           const sg_regress_opts *o, latest_row *r) {
    memset(r, 0, sizeof *r);
    r->series = si;
    r->latest = s->npts - 1;
    r->base = -1;
    r->change = r->p = NAN;
    if (base_commit >= 0) {
        for (int p = 0; p < s->npts; p++)
            if (s->pts[p].commit == base_commit) r->base = p;
        if (r->base == r->latest) r->base = -1;
    } else if (s->npts > 1) {
        r->base = s->npts - 2;
    }
    if (r->base < 0) {
        r->verdict = "no baseline";
        return;
    }
    const sg_hist_point *b = &s->pts[r->base], *l = &s->pts[r->latest];
    int points = !strcmp(s->unit, "%");
    r->change = points ? l->level - b->level : l->level / b->level;
    int up = l->level > b->level;
    r->worse = s->higher_is_better ? !up : up;
    int large = points ? fabs(r->change) > o->points
                       : (r->change > 1 + o->threshold || r->change < 1 / (1 + o->threshold));
    r->p = r->worse == up ? sg_mann_whitney_p_greater(b->samples, b->n, l->samples, l->n)
                          : sg_mann_whitney_p_greater(l->samples, l->n, b->samples, b->n);
    if (!large)
        r->verdict = "ok";
    else if (!(r->p < o->alpha))
        r->verdict = r->worse ? "worse, not significant" : "better, not significant";
    else if (r->worse)
        r->verdict = "REGRESSION", r->regression = 1;
    else
        r->verdict = "better";
}

static const sg_hist_data *g_latest_data;
static int by_latest(const void *pa, const void *pb) {
    const latest_row *a = pa, *b = pb;
    if (a->regression != b->regression) return b->regression - a->regression;
    int ab = a->base >= 0, bb = b->base >= 0;
    if (ab != bb) return bb - ab;
    if (ab) {
        const sg_hist_series *sa = &g_latest_data->series[a->series],
                             *sb = &g_latest_data->series[b->series];
        double ea = !strcmp(sa->unit, "%") ? fabs(a->change) / 10 : fabs(log(a->change));
        double eb = !strcmp(sb->unit, "%") ? fabs(b->change) / 10 : fabs(log(b->change));
        if (ea != eb) return ea > eb ? -1 : 1;
    }
    return (a->series > b->series) - (a->series < b->series);
}

static void fmt_value(const sg_hist_series *s, double v, char *buf, size_t cap) {
    double scale;
    const char *unit = sg_hist_display_unit(s, &scale);
    snprintf(buf, cap, "%.4g %s", v * scale, unit);
}

/* ---- the pages ------------------------------------------------------------------------------ */

static void changes_table(sg_sbuf *b, const sg_hist_data *d, const machines *ms,
                          const sg_regress_result *rr, const int *only, int nonly,
                          const char *link_prefix, char (*slugs)[96]) {
    int shown = 0;
    for (int c = 0; c < rr->nchanges; c++) {
        const sg_change *ch = &rr->changes[c];
        int in = !only;
        for (int k = 0; only && k < nonly; k++) in |= only[k] == ch->series;
        if (!in) continue;
        if (!shown++)
            sg_sbuf_printf(b, "<table><tr><th>verdict</th><th>benchmark</th><th>metric</th>"
                              "<th>environment</th><th>began at (commit range)</th><th>before"
                              "</th><th>after</th><th>change</th><th>p</th></tr>\n");
        const sg_hist_series *s = &d->series[ch->series];
        char label[400], before[64], after[64], change[64];
        fmt_value(s, ch->before, before, sizeof before);
        fmt_value(s, ch->after, after, sizeof after);
        sg_hist_fmt_change(s, ch->change, change, sizeof change);
        sg_sbuf_printf(b, "<tr><td class=\"%s\">%s</td><td>",
                       ch->verdict == SG_CHANGE_IMPROVEMENT ? "good"
                       : ch->verdict == SG_CHANGE_REGRESSION ? "bad"
                                                             : "",
                       sg_change_verdict_name(ch->verdict));
        sg_sbuf tl = {0};
        bench_title(s, &tl);
        if (slugs) {
            sg_sbuf_printf(b, "<a href=\"%s%s.html\">", link_prefix, slugs[ch->series]);
            html(b, tl.s);
            sg_sbuf_printf(b, "</a>");
        } else {
            html(b, tl.s);
        }
        sg_sbuf_free(&tl);
        sg_sbuf_printf(b, "</td><td>");
        html(b, s->metric);
        sg_sbuf_printf(b, "</td><td>");
        html(b, series_env_label(ms, s, label, sizeof label));
        sg_sbuf_printf(b, "</td><td><code>");
        html(b, d->commits[ch->commit].commit);
        sg_sbuf_printf(b, "</code> (<code>");
        html(b, d->commits[ch->prev].commit);
        sg_sbuf_printf(b, "</code>..<code>");
        html(b, d->commits[ch->commit].commit);
        sg_sbuf_printf(b, "</code>)</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                          "<td class=\"n\">%s</td><td class=\"n\">%.2g</td></tr>\n",
                       before, after, change, ch->p);
    }
    if (shown)
        sg_sbuf_printf(b, "</table>\n");
    else
        sg_sbuf_printf(b, "<p>No significant change found.</p>\n");
}

static int write_page(const char *dir, const char *slug, const sg_hist_data *d, const machines *ms,
                      const int *idx, int n, const sg_regress_result *rr, sg_err *err) {
    sg_sbuf b = {0}, title = {0};
    bench_title(&d->series[idx[0]], &title);
    page_start(&b, title.s);
    sg_sbuf_printf(&b, "<p><a href=\"../index.html\">&larr; all results</a></p>\n<h1>");
    html(&b, title.s);
    sg_sbuf_printf(&b, "</h1>\n");
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && !strcmp(d->series[idx[j]].metric, d->series[idx[i]].metric)) j++;
        const sg_hist_series *s0 = &d->series[idx[i]];
        sg_sbuf_printf(&b, "<h2>");
        html(&b, s0->metric);
        sg_sbuf_printf(&b, "</h2>\n<img class=\"chart\" src=\"%s-", slug);
        html(&b, s0->metric);
        sg_sbuf_printf(&b, ".svg\" alt=\"");
        html(&b, s0->metric);
        sg_sbuf_printf(&b, " over commits\">\n<table><tr><th>commit</th>");
        for (int k = i; k < j; k++) {
            char label[400];
            sg_sbuf_printf(&b, "<th>");
            html(&b, series_env_label(ms, &d->series[idx[k]], label, sizeof label));
            sg_sbuf_printf(&b, "</th>");
        }
        sg_sbuf_printf(&b, "</tr>\n");
        for (int c = 0; c < d->ncommits; c++) {
            int any = 0;
            for (int k = i; k < j && !any; k++)
                for (int p = 0; p < d->series[idx[k]].npts; p++)
                    any |= d->series[idx[k]].pts[p].commit == c;
            if (!any) continue;
            sg_sbuf_printf(&b, "<tr><td><code>");
            html(&b, d->commits[c].commit);
            sg_sbuf_printf(&b, "</code> %s</td>", d->commits[c].first_utc);
            for (int k = i; k < j; k++) {
                const sg_hist_series *s = &d->series[idx[k]];
                char v[64] = "-";
                for (int p = 0; p < s->npts; p++)
                    if (s->pts[p].commit == c) {
                        fmt_value(s, s->pts[p].level, v, sizeof v);
                        size_t at = strlen(v);
                        snprintf(v + at, sizeof v - at, " (%d)", s->pts[p].n);
                    }
                sg_sbuf_printf(&b, "<td class=\"n\">%s</td>", v);
            }
            sg_sbuf_printf(&b, "</tr>\n");
        }
        sg_sbuf_printf(&b, "</table>\n<p>The commit's median; in parentheses, how many samples "
                           "(repetitions, seeds) it has.</p>\n<h3>Changes found</h3>\n");
        changes_table(&b, d, ms, rr, idx + i, j - i, "", NULL);
        i = j;
    }
    page_end(&b);
    char path[4400];
    snprintf(path, sizeof path, "%s/bench/%s.html", dir, slug);
    int rc = sg_write_file_atomic(path, b.s, b.len, err);
    sg_sbuf_free(&b);
    sg_sbuf_free(&title);
    return rc;
}

static int query_machines_table(sg_history *h, sg_sbuf *b, sg_err *err) {
    const char *sql =
        "SELECT m.machine_id, m.cpu_model, m.accelerator, m.packages, m.cores, m.pus, "
        "m.numa_nodes, m.l1d_bytes, m.l2_bytes, m.l3_bytes, m.memory_bytes, r.os, r.compiler, "
        "r.openblas_config, r.openblas_parallel, (SELECT count(*) FROM runs q WHERE q.machine_id "
        "= m.machine_id) FROM machines m LEFT JOIN runs r ON r.run_id = (SELECT q.run_id FROM runs "
        "q WHERE q.machine_id = m.machine_id ORDER BY q.time_utc DESC LIMIT 1) ORDER BY "
        "m.machine_id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(sg_history_db(h), sql, -1, &st, NULL) != SQLITE_OK)
        return sg_hdb_errf(h, err, sql);
    sg_sbuf_printf(b, "<table><tr><th>machine_id</th><th>CPU</th><th>accelerator</th><th>"
                      "topology</th><th>caches</th><th>memory</th><th>OS (newest run)</th><th>"
                      "compiler</th><th>OpenBLAS</th><th>runs</th></tr>\n");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sg_sbuf_printf(b, "<tr><td><code>");
        html(b, cell_text(st, 0));
        sg_sbuf_printf(b, "</code></td><td>");
        html(b, cell_text(st, 1));
        sg_sbuf_printf(b, "</td><td>");
        html(b, *cell_text(st, 2) ? cell_text(st, 2) : "-");
        sg_sbuf_printf(b,
                       "</td><td>%lld package(s), %lld cores, %lld PUs, %lld NUMA</td><td>L1d "
                       "%lld KiB, L2 %lld KiB, L3 %lld MiB</td><td class=\"n\">%.1f GiB</td><td>",
                       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
                       sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6),
                       sqlite3_column_int64(st, 7) >> 10, sqlite3_column_int64(st, 8) >> 10,
                       sqlite3_column_int64(st, 9) >> 20,
                       (double)sqlite3_column_int64(st, 10) / (1 << 30));
        html(b, cell_text(st, 11));
        sg_sbuf_printf(b, "</td><td>");
        html(b, cell_text(st, 12));
        sg_sbuf_printf(b, "</td><td>");
        html(b, cell_text(st, 13));
        sg_sbuf_printf(b, " (");
        html(b, cell_text(st, 14));
        sg_sbuf_printf(b, ")</td><td class=\"n\">%d</td></tr>\n", sqlite3_column_int(st, 15));
    }
    sqlite3_finalize(st);
    sg_sbuf_printf(b, "</table>\n");
    return rc == SQLITE_DONE ? 0 : sg_hdb_errf(h, err, sql);
}

int sg_history_html(sg_history *h, const sg_history_html_opts *o, sg_history_html_summary *sum,
                    sg_err *err) {
    sg_history_html_summary s;
    memset(&s, 0, sizeof s);
    if (sum) *sum = s;
    if (!o->out_dir || !*o->out_dir) return sg_errf(err, "--out: empty folder name");
    char exe[4200];
    const char *gnuplot = o->gnuplot && *o->gnuplot ? o->gnuplot : "gnuplot";
    if (!sg_find_program(gnuplot, exe, sizeof exe)) {
        sg_errf(err,
                "the site's charts need gnuplot, and '%s' is not %s (scripts/setup.sh installs "
                "Debian's gnuplot-nox); nothing written",
                gnuplot, strchr(gnuplot, '/') ? "an executable" : "on PATH");
        return 1;
    }
    sg_hist_data d;
    if (sg_history_load(h, &d, err)) return -2;
    int rc = 0, base_commit = -1;
    sg_regress_result rr = {0};
    machines ms = {0};
    roof_run *roofs = NULL;
    int nroofs = 0;
    int *order = NULL;
    char(*slugs)[96] = NULL;
    latest_row *latest = NULL;
    chart_files cf = {0};
    sg_sbuf gp = {0}, idx = {0};
    if (o->baseline && (base_commit = sg_hist_find_commit(&d, o->baseline, err)) < 0) {
        rc = -1;
        goto out;
    }
    if (sg_history_regress(&d, &o->regress, &rr, err)) {
        rc = -1;
        goto out;
    }
    if (load_machines(h, &ms, err) || load_rooflines(h, &roofs, &nroofs, err)) {
        rc = -2;
        goto out;
    }
    char bench_dir[4300];
    snprintf(bench_dir, sizeof bench_dir, "%s/bench", o->out_dir);
    if (sg_mkdirs(bench_dir, err)) {
        rc = -2;
        goto out;
    }
    order = malloc((size_t)(d.nseries + 1) * sizeof *order);
    slugs = malloc((size_t)(d.nseries + 1) * sizeof *slugs);
    SG_CHECK(order && slugs, "out of memory");
    for (int i = 0; i < d.nseries; i++) {
        order[i] = i;
        slug_of(&d.series[i], slugs[i], sizeof slugs[i]);
    }
    g_data = &d;
    qsort(order, (size_t)d.nseries, sizeof *order, by_bench);

    /* the charts, all in one gnuplot run */
    int chart_id = 0;
    for (int i = 0; i < d.nseries && !rc;) {
        int j = i;
        while (j < d.nseries && same_bench(&d.series[order[i]], &d.series[order[j]])) j++;
        for (int m = i; m < j && !rc;) {
            int e = m;
            while (e < j && !strcmp(d.series[order[e]].metric, d.series[order[m]].metric)) e++;
            char path[4600];
            snprintf(path, sizeof path, "%s/%s-%s.svg", bench_dir, slugs[order[m]],
                     d.series[order[m]].metric);
            if (chart_open(&cf, path, &gp, 900, 430, err))
                rc = -2;
            else
                series_chart(&gp, &d, &ms, order + m, e - m, &rr, chart_id++);
            m = e;
        }
        s.pages++;
        i = j;
    }
    for (int r = 0; r < nroofs && !rc; r++) {
        char path[4400], label[400], title[700];
        snprintf(path, sizeof path, "%s/roofline-%d.svg", o->out_dir, r + 1);
        env_label(&ms, roofs[r].machine_id, roofs[r].backend, roofs[r].threads, label, sizeof label);
        snprintf(title, sizeof title, "%s, suite %s, commit %.12s", label, roofs[r].suite,
                 roofs[r].commit);
        if (chart_open(&cf, path, &gp, 900, 600, err))
            rc = -2;
        else
            sg_roofline_gp_chart(&gp, r, title, &roofs[r].roof, roofs[r].pts, roofs[r].npts);
        s.rooflines++;
    }
    s.charts = cf.n;
    if (!rc && cf.n && sg_gnuplot_run(exe, &gp, "the history site's charts", err)) rc = 1;
    if (rc) {
        charts_abort(&cf);
        goto out;
    }
    if (charts_commit(&cf, err)) {
        rc = -2;
        goto out;
    }

    /* the benchmark pages */
    for (int i = 0; i < d.nseries && !rc;) {
        int j = i;
        while (j < d.nseries && same_bench(&d.series[order[i]], &d.series[order[j]])) j++;
        if (write_page(o->out_dir, slugs[order[i]], &d, &ms, order + i, j - i, &rr, err)) rc = -2;
        i = j;
    }
    if (rc) goto out;

    /* the index */
    page_start(&idx, "stopgrad results history");
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sg_sbuf_printf(&idx, "<h1>stopgrad results history</h1>\n<p>From <code>");
    html(&idx, sg_history_path(h));
    sg_sbuf_printf(&idx,
                   "</code>: %d series (a benchmark's metric on one machine, backend and thread "
                   "count) over %d commit(s) on %d machine(s); %d benchmark page(s). Written by "
                   "<code>stopgrad history html</code> at %s.</p>\n",
                   d.nseries, d.ncommits, ms.n, s.pages, now);
    sg_sbuf_printf(&idx,
                   "<h2>Changes found</h2>\n<p>Per series, a step-change test at every commit: "
                   "the %d commit(s) before against the commit and up to %d after, the ratio of "
                   "their medians (accuracies: the difference in points) beyond %g%% (%g points) "
                   "and a one-sided Mann-Whitney U test at p &lt; %g over the commits' medians "
                   "(near the newest commit, where too few commits follow, over their pooled "
                   "repetitions or seeds). "
                   "REGRESSION: the series' latest change made it worse, so the newest commit is "
                   "still affected.</p>\n",
                   o->regress.window, o->regress.window - 1, 100 * o->regress.threshold,
                   o->regress.points, o->regress.alpha);
    changes_table(&idx, &d, &ms, &rr, NULL, 0, "bench/", slugs);

    sg_sbuf_printf(&idx, "<h2>Roofline</h2>\n");
    if (!nroofs)
        sg_sbuf_printf(&idx, "<p>No kernel-suite run with both ceilings in the history.</p>\n");
    else
        sg_sbuf_printf(&idx,
                       "<p>The newest kernel-suite run of each machine, backend and suite: every "
                       "kernel's GFLOP/s against its arithmetic intensity (FLOPs over bytes, from "
                       "the cost functions) under the same run's sgemm and copy ceilings.</p>\n"
                       "<table><tr><th>chart</th><th>environment</th><th>suite</th><th>commit"
                       "</th><th>time</th><th>sgemm GFLOP/s</th><th>copy GB/s</th><th>kernels"
                       "</th><th>median fraction of the roofline</th></tr>\n");
    for (int r = 0; r < nroofs; r++) {
        char label[400];
        env_label(&ms, roofs[r].machine_id, roofs[r].backend, roofs[r].threads, label, sizeof label);
        sg_sbuf_printf(&idx, "<tr><td class=\"n\">%d</td><td>", r + 1);
        html(&idx, label);
        sg_sbuf_printf(&idx, "</td><td>");
        html(&idx, roofs[r].suite);
        sg_sbuf_printf(&idx, "</td><td><code>");
        html(&idx, roofs[r].commit);
        sg_sbuf_printf(&idx, "</code></td><td>");
        html(&idx, roofs[r].time);
        sg_sbuf_printf(&idx,
                       "</td><td class=\"n\">%.4g</td><td class=\"n\">%.4g</td><td class=\"n\">%d"
                       "</td><td class=\"n\">%.3g</td></tr>\n",
                       roofs[r].roof.peak_gflops, roofs[r].roof.bw_gbs, roofs[r].npts,
                       roofs[r].median_frac);
    }
    if (nroofs) sg_sbuf_printf(&idx, "</table>\n");
    for (int r = 0; r < nroofs; r++)
        sg_sbuf_printf(&idx, "<img class=\"chart\" src=\"roofline-%d.svg\" alt=\"roofline %d\">\n",
                       r + 1, r + 1);

    sg_sbuf_printf(&idx, "<h2>Machines</h2>\n");
    if (query_machines_table(h, &idx, err)) {
        rc = -2;
        goto out;
    }

    latest = malloc((size_t)(d.nseries + 1) * sizeof *latest);
    SG_CHECK(latest != NULL, "out of memory");
    for (int i = 0; i < d.nseries; i++)
        compare_latest(&d.series[i], i, base_commit, &o->regress, &latest[i]);
    g_latest_data = &d;
    qsort(latest, (size_t)d.nseries, sizeof *latest, by_latest);
    sg_sbuf_printf(&idx, "<h2>Latest results against the baseline</h2>\n<p>Each series' newest "
                         "commit against ");
    if (base_commit >= 0) {
        sg_sbuf_printf(&idx, "commit <code>");
        html(&idx, d.commits[base_commit].commit);
        sg_sbuf_printf(&idx, "</code>");
    } else {
        sg_sbuf_printf(&idx, "its commit before");
    }
    sg_sbuf_printf(&idx,
                   " (the baseline): the ratio of their medians (accuracies: the difference) and "
                   "the one-sided Mann-Whitney p in the direction that would be worse; "
                   "REGRESSION when beyond the threshold at p &lt; %g. Worst first; every "
                   "benchmark links to its page.</p>\n<table><tr><th>verdict</th><th>benchmark"
                   "</th><th>metric</th><th>environment</th><th>baseline</th><th>latest</th><th>"
                   "change</th><th>p</th></tr>\n",
                   o->regress.alpha);
    for (int i = 0; i < d.nseries; i++) {
        const latest_row *lr = &latest[i];
        const sg_hist_series *sr = &d.series[lr->series];
        const sg_hist_point *lp = &sr->pts[lr->latest];
        char label[400], bv[64] = "-", lv[64], ch[64] = "-", pv[32] = "-";
        fmt_value(sr, lp->level, lv, sizeof lv);
        if (lr->base >= 0) {
            fmt_value(sr, sr->pts[lr->base].level, bv, sizeof bv);
            sg_hist_fmt_change(sr, lr->change, ch, sizeof ch);
            if (isfinite(lr->p)) snprintf(pv, sizeof pv, "%.2g", lr->p);
        }
        sg_sbuf_printf(&idx, "<tr><td class=\"%s\">%s</td><td><a href=\"bench/%s.html\">",
                       lr->regression ? "bad" : "", lr->verdict, slugs[lr->series]);
        sg_sbuf tl = {0};
        bench_title(sr, &tl);
        html(&idx, tl.s);
        sg_sbuf_free(&tl);
        sg_sbuf_printf(&idx, "</a></td><td>");
        html(&idx, sr->metric);
        sg_sbuf_printf(&idx, "</td><td>");
        html(&idx, series_env_label(&ms, sr, label, sizeof label));
        sg_sbuf_printf(&idx, "</td><td class=\"n\">%s%s%.10s%s</td><td class=\"n\">%s <code>%.10s"
                             "</code></td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
                       bv, lr->base >= 0 ? " <code>" : "",
                       lr->base >= 0 ? d.commits[sr->pts[lr->base].commit].commit : "",
                       lr->base >= 0 ? "</code>" : "", lv, d.commits[lp->commit].commit, ch, pv);
    }
    sg_sbuf_printf(&idx, "</table>\n<h2>Commits</h2>\n<p>Oldest first, ordered by their first "
                         "result.</p>\n<table><tr><th>#</th><th>commit</th><th>first result"
                         "</th></tr>\n");
    for (int c = 0; c < d.ncommits; c++) {
        sg_sbuf_printf(&idx, "<tr><td class=\"n\">%d</td><td><code>", c + 1);
        html(&idx, d.commits[c].commit);
        sg_sbuf_printf(&idx, "</code></td><td>%s</td></tr>\n", d.commits[c].first_utc);
    }
    sg_sbuf_printf(&idx, "</table>\n");
    page_end(&idx);
    snprintf(s.index_path, sizeof s.index_path, "%s/index.html", o->out_dir);
    if (sg_write_file_atomic(s.index_path, idx.s, idx.len, err)) rc = -2;
    if (!rc && o->log)
        fprintf(o->log, "wrote %s (%d benchmark page(s), %d chart(s), %d roofline(s))\n",
                s.index_path, s.pages, s.charts, s.rooflines);
out:
    sg_sbuf_free(&gp);
    sg_sbuf_free(&idx);
    free(latest);
    free(order);
    free(slugs);
    roof_free(roofs, nroofs);
    free_machines(&ms);
    sg_regress_result_free(&rr);
    sg_hist_data_free(&d);
    if (sum) *sum = s;
    return rc;
}

/* ---- the screenshot ------------------------------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int sg_history_screenshot(const char *index_html, const char *png_path, int width, int height,
                          const char *chromium_exe, sg_err *err) {
    char exe[4200];
    const char *names[] = {chromium_exe, "chromium", "chromium-browser"};
    int found = 0;
    for (int i = chromium_exe ? 0 : 1; i < 3 && !found; i++) {
        found = sg_find_program(names[i], exe, sizeof exe);
        if (chromium_exe) break;
    }
    if (!found) {
        sg_errf(err, "no Chromium: %s (Debian's chromium package: apt-get install chromium); %s "
                     "not written",
                chromium_exe ? chromium_exe : "neither chromium nor chromium-browser is on PATH",
                png_path);
        return 1;
    }
    char abs_index[4096];
    if (!realpath(index_html, abs_index)) {
        sg_errf(err, "%s: %s", index_html, strerror(errno));
        return -2;
    }
    /* Chromium writes the PNG into its throwaway profile folder (it wants a .png name), and
     * from there it is written whole to png_path */
    char shot[128], shot_path[96], size[64], url[4200], profile[] = "/tmp/sg-chromium-XXXXXX";
    if (!mkdtemp(profile)) {
        sg_errf(err, "cannot make a Chromium profile folder in /tmp: %s", strerror(errno));
        return -2;
    }
    char prof_arg[64];
    snprintf(prof_arg, sizeof prof_arg, "--user-data-dir=%s", profile);
    snprintf(shot_path, sizeof shot_path, "%s/screenshot.png", profile);
    snprintf(shot, sizeof shot, "--screenshot=%s", shot_path);
    snprintf(size, sizeof size, "--window-size=%d,%d", width, height);
    snprintf(url, sizeof url, "file://%s", abs_index);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* its console chatter (no D-Bus in a container) is not ours to show */
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(127);
        /* --no-sandbox: as root in a container the sandbox cannot start */
        execl(exe, exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              prof_arg, "--virtual-time-budget=10000", shot, size, url, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    int waited = pid > 0 ? (int)waitpid(pid, &st, 0) : -1;
    char *png = NULL;
    size_t len = 0, cap = 0;
    FILE *in = fopen(shot_path, "rb");
    for (size_t n = 1; in && n;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            png = realloc(png, cap);
            SG_CHECK(png != NULL, "out of memory");
        }
        n = fread(png + len, 1, cap - len, in);
        len += n;
    }
    if (in) fclose(in);
    /* the throwaway profile Chromium filled */
    if (nftw(profile, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "note: could not remove %s entirely\n", profile);
    int rc = 0;
    if (waited < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || len < 8 ||
        memcmp(png, "\x89PNG", 4) != 0) {
        sg_errf(err, "%s failed to render %s to a PNG (exit status %d, %zu bytes); %s not written",
                exe, url, waited >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, len, png_path);
        rc = -2;
    } else if (sg_write_file_atomic(png_path, png, len, err)) {
        rc = -2;
    }
    free(png);
    return rc;
}
