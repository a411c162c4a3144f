/* core/nn/conv_auto.c */
#include "core/nn/conv_auto.h"

#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/rng.h"
#include "kernels/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long timer_calls;

long sg_conv_auto_timer_calls(void) { return timer_calls; }

void sg_conv_auto_key_make(sg_conv_auto_key *k, const char *machine_id, const char *git_commit,
                           const char *build_type, const char *build_flags, const sg_backend *be,
                           int threads, int nondet) {
    memset(k, 0, sizeof *k);
    snprintf(k->machine_id, sizeof k->machine_id, "%s", machine_id);
    snprintf(k->build, sizeof k->build, "%s %s %s", git_commit, build_type, build_flags);
    const int cpu = be->host_memory && !strcmp(be->name, "cpu");
    const sg_gemm_impl g = sg_cpu_get_gemm_impl();
    const sg_precision p = sg_backend_precision(be);
    snprintf(k->backend, sizeof k->backend, "%s%s%s%s%s%s", be->name, nondet ? ":nondet" : "",
             cpu && g != SG_GEMM_OPENBLAS ? ":gemm=" : "",
             cpu && g != SG_GEMM_OPENBLAS ? sg_gemm_impl_names[g] : "", p != SG_PREC_FP32 ? ":" : "",
             p != SG_PREC_FP32 ? sg_precision_names[p] : "");
    k->threads = threads;
}

sg_conv_algo sg_conv_auto_pick(const double sec[SG_CONV_ALGO_COUNT]) {
    sg_conv_algo best = SG_CONV_IM2COL;
    double t = sec[SG_CONV_IM2COL];
    for (int a = SG_CONV_IM2COL + 1; a < SG_CONV_ALGO_COUNT; a++) {
        if (!(sec[a] >= 0)) continue;
        if (!(t >= 0) || sec[a] < t) { /* strictly faster: a tie keeps the earlier (im2col) */
            best = (sg_conv_algo)a;
            t = sec[a];
        }
    }
    return t >= 0 ? best : SG_CONV_IM2COL;
}

static int same_shape(const sg_conv_shape *a, const sg_conv_shape *b) {
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K &&
           a->R == b->R && a->S == b->S && a->stride == b->stride && a->pad == b->pad;
}

const sg_conv_auto_choice *sg_conv_auto_find(const sg_conv_auto_table *t, const sg_conv_shape *s) {
    for (int i = 0; i < t->n; i++)
        if (same_shape(&t->c[i].s, s)) return &t->c[i];
    return NULL;
}

static void add_shape(sg_conv_auto_table *t, const sg_conv *c) {
    for (int i = 0; i < t->n; i++)
        if (same_shape(&t->c[i].s, &c->s)) {
            t->c[i].layers++;
            return;
        }
    SG_CHECK(t->n < SG_CONV_AUTO_MAX, "more than %d conv shapes", SG_CONV_AUTO_MAX);
    sg_conv_auto_choice *e = &t->c[t->n++];
    memset(e, 0, sizeof *e);
    e->s = c->s;
    e->s.algo = SG_CONV_DEFAULT;
    for (int a = 0; a < SG_CONV_ALGO_COUNT; a++) e->sec[a] = -1;
    e->layers = 1;
}

int sg_conv_auto_shapes(const sg_resnet_spec *spec, int N, const sg_backend *be,
                        sg_conv_auto_table *t, sg_err *err) {
    sg_resnet_spec sp = *spec;
    sp.conv_algo = SG_CONV_DEFAULT;
    sp.conv_choices = NULL;
    sp.n_conv_choices = 0;
    sg_params p;
    sg_params_init_measure(&p);
    sg_resnet *net = malloc(sizeof *net);
    if (!net) return sg_errf(err, "out of memory");
    int rc = sg_resnet_build(net, &sp, N, &p, SG_PG_TRUNK, be, err);
    t->n = 0;
    if (rc == 0) {
        add_shape(t, &net->stem_conv);
        for (int i = 0; i < net->nblocks; i++) {
            const sg_block *b = &net->blocks[i];
            add_shape(t, &b->c1);
            add_shape(t, &b->c2);
            if (b->bottleneck) add_shape(t, &b->c3);
            if (b->has_down) add_shape(t, &b->cd);
        }
    }
    free(net);
    sg_params_free(&p);
    return rc;
}

/* ---- the real timer ---------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void three_passes(const sg_backend *be, const sg_conv_shape *s, float *const *buf,
                         void *ws) {
    /* buf: x, w, y, dy, dx, dw */
    sg_conv2d_fwd(be, s, buf[0], buf[1], buf[2], ws);
    sg_conv2d_bwd_data(be, s, buf[3], buf[1], buf[4], ws);
    sg_conv2d_bwd_filter(be, s, buf[0], buf[3], buf[5], 0, ws);
}

double sg_conv_auto_time(void *ctx, const sg_backend *be, const sg_conv_shape *s) {
    (void)ctx;
    const size_t n[6] = {(size_t)s->N * s->C * s->H * s->W, (size_t)s->K * s->C * s->R * s->S,
                         (size_t)s->N * s->K * s->P * s->Q, (size_t)s->N * s->K * s->P * s->Q,
                         (size_t)s->N * s->C * s->H * s->W, (size_t)s->K * s->C * s->R * s->S};
    float *buf[6] = {NULL};
    const size_t wsb = sg_conv2d_workspace_bytes(be, s);
    void *ws = wsb ? be->mem_alloc(be, wsb) : NULL;
    size_t most = 0;
    for (int i = 0; i < 6; i++) most = n[i] > most ? n[i] : most;
    float *host = malloc(most * sizeof(float));
    int ok = host && (ws || !wsb);
    sg_rng r;
    sg_rng_init(&r, 0x636f6e76u, (uint32_t)s->C, (uint32_t)s->K, (uint32_t)s->H);
    for (int i = 0; i < 6 && ok; i++) {
        buf[i] = be->mem_alloc(be, n[i] * sizeof(float));
        ok = buf[i] != NULL;
        if (ok && (i == 0 || i == 1 || i == 3)) { /* the inputs: random, never zeros */
            sg_rng_fill_uniform(&r, host, (long)n[i], -1.0f, 1.0f);
            be->mem_upload(be, buf[i], host, n[i] * sizeof(float));
        }
    }
    double med = -1;
    if (ok) {
        three_passes(be, s, buf, ws); /* warm-up: caches, thread pools, oneDNN primitives */
        be->sync(be);
        /* the backend's timer: CUDA events around the queued passes on a GPU (timer_stop waits
         * for them), the host clock around the CPU's synchronous kernels */
        double t[SG_CONV_AUTO_REPS];
        for (int k = 0; k < SG_CONV_AUTO_REPS; k++) {
            be->timer_start(be);
            three_passes(be, s, buf, ws);
            t[k] = be->timer_stop(be);
        }
        qsort(t, SG_CONV_AUTO_REPS, sizeof t[0], cmp_double);
        med = t[SG_CONV_AUTO_REPS / 2];
    }
    for (int i = 0; i < 6; i++)
        if (buf[i]) be->mem_free(be, buf[i]);
    if (ws) be->mem_free(be, ws);
    free(host);
    return med;
}

/* ---- the CSV: cache and run record ------------------------------------------------------------- */

enum { COL_MACHINE, COL_BUILD, COL_BACKEND, COL_THREADS, COL_N, COL_C, COL_H, COL_W, COL_K,
       COL_R, COL_S, COL_STRIDE, COL_PAD, COL_ALGO, COL_LAYERS, COL_SEC0 };
#define NCOLS (COL_SEC0 + SG_CONV_ALGO_COUNT - 1)
static const char *const header[NCOLS] = {
    "machine_id", "build", "backend", "threads", "N", "C", "H", "W", "K", "R", "S", "stride",
    "pad", "algo", "layers", "sec_im2col", "sec_winograd", "sec_dnnl", "sec_cudnn"};
_Static_assert(SG_CONV_ALGO_COUNT == 5, "a sec_ column per algorithm but the default");
/* Files written before cudnn existed end at sec_dnnl: read as if sec_cudnn were empty (so a run
 * started then resumes, and a cache of then is used and rewritten with the column). */
#define NCOLS_BEFORE_CUDNN (NCOLS - 1)

static void choice_row(sg_csv_row *row, const sg_conv_auto_key *key, const sg_conv_auto_choice *e) {
    sg_csv_row_str(row, key->machine_id);
    sg_csv_row_str(row, key->build);
    sg_csv_row_str(row, key->backend);
    sg_csv_row_int(row, key->threads);
    const sg_conv_shape *s = &e->s;
    const int v[9] = {s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride, s->pad};
    for (int i = 0; i < 9; i++) sg_csv_row_int(row, v[i]);
    sg_csv_row_str(row, sg_conv_algo_names[s->algo]);
    sg_csv_row_int(row, e->layers);
    for (int a = SG_CONV_IM2COL; a < SG_CONV_ALGO_COUNT; a++) {
        if (e->sec[a] >= 0)
            sg_csv_row_double(row, e->sec[a]);
        else
            sg_csv_row_str(row, "");
    }
}

static int header_ok(const sg_csv_table *t) {
    if (t->ncols != NCOLS && t->ncols != NCOLS_BEFORE_CUDNN) return 0;
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->header[c], header[c]) != 0) return 0;
    return 1;
}

/* Cell c of row r, "" for a column the file was written without. */
static const char *cell_or_empty(const sg_csv_table *t, size_t r, int c) {
    return c < t->ncols ? sg_csv_cell(t, r, c) : "";
}

static int parse_int(const char *s, int lo, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > (1 << 30)) return -1;
    *out = (int)v;
    return 0;
}

/* Row r of t into e: 0, or -1 when a cell is not what it should be. */
static int parse_row(const sg_csv_table *t, size_t r, sg_conv_auto_choice *e) {
    int v[9];
    for (int i = 0; i < 9; i++)
        if (parse_int(sg_csv_cell(t, r, COL_N + i), i >= 7 ? 0 : 1, &v[i])) return -1;
    if (v[7] < 1) return -1;
    memset(e, 0, sizeof *e);
    e->s = sg_conv_shape_make(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    if (e->s.P < 1 || e->s.Q < 1) return -1;
    int algo = -1;
    for (int a = 0; a < SG_CONV_ALGO_COUNT; a++)
        if (!strcmp(sg_csv_cell(t, r, COL_ALGO), sg_conv_algo_names[a])) algo = a;
    if (algo < 0) return -1;
    e->s.algo = algo;
    if (parse_int(sg_csv_cell(t, r, COL_LAYERS), 0, &e->layers)) return -1;
    e->sec[SG_CONV_DEFAULT] = -1;
    for (int a = SG_CONV_IM2COL; a < SG_CONV_ALGO_COUNT; a++) {
        const char *c = cell_or_empty(t, r, COL_SEC0 + a - 1);
        char *end;
        e->sec[a] = c[0] ? strtod(c, &end) : -1;
        if (c[0] && (*end || !(e->sec[a] >= 0))) return -1;
    }
    return 0;
}

int sg_conv_auto_write_run(const char *path, const sg_conv_auto_table *t,
                           const sg_conv_auto_key *key, sg_err *err) {
    sg_csv_row *rows = calloc((size_t)(t->n ? t->n : 1), sizeof *rows);
    if (!rows) return sg_errf(err, "out of memory writing %s", path);
    for (int i = 0; i < t->n; i++) {
        sg_csv_row_init(&rows[i]);
        choice_row(&rows[i], key, &t->c[i]);
    }
    int rc = sg_csv_write_atomic(path, NCOLS, header, rows, (size_t)t->n, err);
    for (int i = 0; i < t->n; i++) sg_csv_row_free(&rows[i]);
    free(rows);
    return rc;
}

int sg_conv_auto_read_run(const char *path, sg_conv_auto_table *t, sg_err *err) {
    sg_csv_table tab;
    t->n = 0;
    if (sg_csv_read(path, &tab, err)) return -1;
    int rc = 0;
    if (!header_ok(&tab))
        rc = sg_errf(err, "%s is not a conv.algo=auto record (expected the columns %s,...)", path,
                     header[0]);
    for (size_t r = 0; rc == 0 && r < tab.nrows; r++) {
        if (t->n >= SG_CONV_AUTO_MAX)
            rc = sg_errf(err, "%s: more than %d shapes", path, SG_CONV_AUTO_MAX);
        else if (parse_row(&tab, r, &t->c[t->n]))
            rc = sg_errf(err, "%s line %zu: not a valid shape and choice", path, r + 2);
        else
            t->n++;
    }
    sg_csv_table_free(&tab);
    return rc;
}

void sg_conv_auto_default_cache(char *buf, size_t cap) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int w;
    if (xdg && xdg[0] == '/')
        w = snprintf(buf, cap, "%s/stopgrad/conv-algo.csv", xdg);
    else if (home && home[0])
        w = snprintf(buf, cap, "%s/.cache/stopgrad/conv-algo.csv", home);
    else
        w = -1;
    if (w < 0 || (size_t)w >= cap) buf[0] = 0;
}

/* The row of t matching key and shape s, or -1; rows of another machine or build are counted. */
static int cache_lookup(const sg_csv_table *tab, const sg_conv_auto_key *key,
                        const sg_conv_shape *s, sg_conv_auto_choice *out) {
    char threads[24];
    snprintf(threads, sizeof threads, "%d", key->threads);
    for (size_t r = 0; r < tab->nrows; r++) {
        if (strcmp(sg_csv_cell(tab, r, COL_MACHINE), key->machine_id) ||
            strcmp(sg_csv_cell(tab, r, COL_BUILD), key->build) ||
            strcmp(sg_csv_cell(tab, r, COL_BACKEND), key->backend) ||
            strcmp(sg_csv_cell(tab, r, COL_THREADS), threads))
            continue;
        sg_conv_auto_choice e;
        if (parse_row(tab, r, &e) || !same_shape(&e.s, s)) continue;
        *out = e;
        return (int)r;
    }
    return -1;
}

int sg_conv_auto_choose(const sg_backend *be, sg_conv_auto_table *t, const sg_conv_auto_key *key,
                        const char *cache_path, sg_conv_auto_timer timer, void *ctx) {
    if (!timer) timer = sg_conv_auto_time;
    const int use_cache = cache_path && cache_path[0];
    sg_csv_table tab;
    int writable = use_cache;
    int have = use_cache && sg_csv_read_cache(cache_path, "conv.algo=auto", header_ok, &tab,
                                              &writable);
    if (have) {
        /* rows that cannot be trusted: one warning per file, naming what differs */
        size_t foreign = 0;
        const char *what = NULL;
        char first[400] = "";
        for (size_t r = 0; r < tab.nrows; r++) {
            const char *m = sg_csv_cell(&tab, r, COL_MACHINE), *b = sg_csv_cell(&tab, r, COL_BUILD);
            const int om = strcmp(m, key->machine_id) != 0, ob = strcmp(b, key->build) != 0;
            if (!om && !ob) continue;
            if (!foreign++) {
                what = om ? "machine_id" : "build";
                snprintf(first, sizeof first, "%s", om ? m : b);
            }
        }
        if (foreign)
            sg_warn("conv.algo=auto: %s: %zu row(s) from another machine or build ignored (e.g. "
                    "%s '%s', this one '%s')", cache_path, foreign, what, first,
                    !strcmp(what, "machine_id") ? key->machine_id : key->build);
    }
    int measured = 0;
    for (int i = 0; i < t->n; i++) {
        sg_conv_auto_choice *e = &t->c[i];
        sg_conv_auto_choice hit;
        if (have && cache_lookup(&tab, key, &e->s, &hit) >= 0 &&
            (int)sg_conv_algo_for(be, (sg_conv_algo)hit.s.algo, &e->s) == hit.s.algo) {
            e->s.algo = hit.s.algo;
            memcpy(e->sec, hit.sec, sizeof e->sec);
            continue;
        }
        for (int a = 0; a < SG_CONV_ALGO_COUNT; a++) e->sec[a] = -1;
        for (int a = SG_CONV_IM2COL; a < SG_CONV_ALGO_COUNT; a++) {
            if ((int)sg_conv_algo_for(be, (sg_conv_algo)a, &e->s) != a) continue;
            sg_conv_shape s = e->s;
            s.algo = a;
            timer_calls++;
            e->sec[a] = timer(ctx, be, &s);
        }
        e->s.algo = sg_conv_auto_pick(e->sec);
        measured++;
    }
    if (measured && writable) {
        /* the cache again: its other rows as they were, this key's rows for t's shapes new,
         * and none of this machine's other builds (this build never trusts them, and a cache
         * kept across rebuilds would otherwise grow by a model's shapes with every commit;
         * other machines' rows stay: a home directory may be shared by a cluster's nodes) */
        size_t keep = have ? tab.nrows : 0;
        sg_csv_row *rows = calloc(keep + (size_t)t->n + 1, sizeof *rows);
        size_t nr = 0;
        for (size_t r = 0; rows && r < keep; r++) {
            sg_conv_auto_choice e;
            int mine = 0;
            char threads[24];
            snprintf(threads, sizeof threads, "%d", key->threads);
            if (!strcmp(sg_csv_cell(&tab, r, COL_MACHINE), key->machine_id) &&
                !strcmp(sg_csv_cell(&tab, r, COL_BUILD), key->build) &&
                !strcmp(sg_csv_cell(&tab, r, COL_BACKEND), key->backend) &&
                !strcmp(sg_csv_cell(&tab, r, COL_THREADS), threads) && !parse_row(&tab, r, &e) &&
                sg_conv_auto_find(t, &e.s))
                mine = 1;
            if (mine) continue;
            if (!strcmp(sg_csv_cell(&tab, r, COL_MACHINE), key->machine_id) &&
                strcmp(sg_csv_cell(&tab, r, COL_BUILD), key->build))
                continue;
            sg_csv_row_init(&rows[nr]);
            for (int c = 0; c < NCOLS; c++) sg_csv_row_str(&rows[nr], cell_or_empty(&tab, r, c));
            nr++;
        }
        for (int i = 0; rows && i < t->n; i++) {
            sg_csv_row_init(&rows[nr]);
            sg_conv_auto_choice e = t->c[i];
            e.layers = 0; /* a property of the model, not of the shape */
            choice_row(&rows[nr++], key, &e);
        }
        sg_err e;
        if (!rows)
            sg_warn("conv.algo=auto: out of memory writing the cache %s", cache_path);
        else if (sg_csv_write_atomic(cache_path, NCOLS, header, rows, nr, &e))
            sg_warn("conv.algo=auto: the cache cannot be written (the choices hold for this run "
                    "only): %s", e.msg);
        for (size_t r = 0; rows && r < nr; r++) sg_csv_row_free(&rows[r]);
        free(rows);
    }
    if (have) sg_csv_table_free(&tab);
    return measured;
}

void sg_conv_auto_summary(const sg_resnet *net, char *buf, size_t cap) {
    int count[SG_CONV_ALGO_COUNT] = {0};
    count[net->stem_conv.s.algo]++;
    for (int i = 0; i < net->nblocks; i++) {
        const sg_block *b = &net->blocks[i];
        count[b->c1.s.algo]++;
        count[b->c2.s.algo]++;
        if (b->bottleneck) count[b->c3.s.algo]++;
        if (b->has_down) count[b->cd.s.algo]++;
    }
    size_t at = 0;
    buf[0] = 0;
    for (int a = 0; a < SG_CONV_ALGO_COUNT; a++) {
        if (!count[a]) continue;
        int w = snprintf(buf + at, cap - at, "%s%s:%d", at ? "," : "", sg_conv_algo_names[a],
                         count[a]);
        if (w < 0 || (size_t)w >= cap - at) break;
        at += (size_t)w;
    }
}
