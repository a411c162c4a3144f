/* core/nn/cudnn_algos.c */
#include "core/nn/cudnn_algos.h"

#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg_cudnn_default_cache(char *buf, size_t cap) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int w;
    if (xdg && xdg[0] == '/')
        w = snprintf(buf, cap, "%s/stopgrad/cudnn-algo.csv", xdg);
    else if (home && home[0])
        w = snprintf(buf, cap, "%s/.cache/stopgrad/cudnn-algo.csv", home);
    else
        w = -1;
    if (w < 0 || (size_t)w >= cap) buf[0] = 0;
}

void sg_cudnn_table_of(const sg_conv_auto_table *shapes, sg_cudnn_table *t) {
    memset(t, 0, sizeof *t);
    t->n = shapes->n;
    for (int i = 0; i < shapes->n; i++) {
        t->e[i].s = shapes->c[i].s;
        t->e[i].s.algo = SG_CONV_DEFAULT;
    }
}

#ifdef SG_HAVE_CUDA

int sg_cudnn_usable(const sg_backend *be) {
    return be && !strcmp(be->name, "cuda") && sg_cuda_cudnn_available(NULL);
}

static int device_measure(void *ctx, const sg_conv_shape *s, sg_cudnn_choice *out, sg_err *err) {
    (void)ctx;
    return sg_cuda_cudnn_choice(s, out, err);
}

static int device_preset(void *ctx, const sg_conv_shape *s, const int algo[SG_CUDNN_PASSES],
                         sg_err *err) {
    (void)ctx;
    return sg_cuda_cudnn_preset(s, algo, err);
}

const sg_cudnn_ops *sg_cudnn_device_ops(void) {
    static const sg_cudnn_ops ops = {device_measure, device_preset, NULL};
    return &ops;
}

void sg_cudnn_set_deterministic(int on) { sg_cuda_cudnn_set_deterministic(on); }

int sg_cudnn_key_of_device(sg_cudnn_key *k, int deterministic, sg_err *err) {
    memset(k, 0, sizeof *k);
    const char *why = "";
    if (!sg_cuda_cudnn_available(&why)) return sg_errf(err, "conv.algo=cudnn: %s", why);
    sg_cuda_info in;
    if (!sg_cuda_describe(&in)) return sg_errf(err, "conv.algo=cudnn: %s", sg_cuda_unavailable());
    snprintf(k->gpu, sizeof k->gpu, "%s", in.name);
    k->driver = in.driver_version;
    k->cudnn = sg_cuda_cudnn_version();
    k->deterministic = deterministic != 0;
    return 0;
}

void sg_cudnn_describe(const sg_cudnn_entry *e, char *buf, size_t cap) {
    static const char *const pass[SG_CUDNN_PASSES] = {"fwd", "bwd-data", "bwd-filter"};
    size_t at = 0;
    if (cap) buf[0] = 0;
    for (int p = 0; p < SG_CUDNN_PASSES && at < cap; p++) {
        const char *name = sg_cuda_cudnn_algo_name(p, e->c.algo[p]);
        int w = e->c.ms[p] >= 0
                    ? snprintf(buf + at, cap - at, "%s%s %s %.3f ms", p ? ", " : "", pass[p],
                               name ? name : "?", e->c.ms[p])
                    : snprintf(buf + at, cap - at, "%s%s %s", p ? ", " : "", pass[p],
                               name ? name : "?");
        if (w < 0) break;
        at += (size_t)w;
    }
}

/* ---- the CSV: cache and run record ------------------------------------------------------- */

enum { COL_GPU, COL_DRIVER, COL_CUDNN, COL_DET, COL_N, COL_C, COL_H, COL_W, COL_K, COL_R, COL_S,
       COL_STRIDE, COL_PAD, COL_ALGO0, COL_MS0 = COL_ALGO0 + SG_CUDNN_PASSES,
       COL_WS0 = COL_MS0 + SG_CUDNN_PASSES, NCOLS = COL_WS0 + SG_CUDNN_PASSES };
static const char *const header[NCOLS] = {
    "gpu", "driver", "cudnn", "deterministic", "N", "C", "H", "W", "K", "R", "S", "stride", "pad",
    "algo_fwd", "algo_bwd_data", "algo_bwd_filter", "ms_fwd", "ms_bwd_data", "ms_bwd_filter",
    "workspace_fwd", "workspace_bwd_data", "workspace_bwd_filter"};

static void entry_row(sg_csv_row *row, const sg_cudnn_key *key, const sg_cudnn_entry *e) {
    sg_csv_row_str(row, key->gpu);
    sg_csv_row_int(row, key->driver);
    sg_csv_row_int(row, key->cudnn);
    sg_csv_row_int(row, key->deterministic);
    const sg_conv_shape *s = &e->s;
    const int v[9] = {s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride, s->pad};
    for (int i = 0; i < 9; i++) sg_csv_row_int(row, v[i]);
    for (int p = 0; p < SG_CUDNN_PASSES; p++) {
        const char *name = sg_cuda_cudnn_algo_name(p, e->c.algo[p]);
        SG_CHECK(name != NULL, "cuDNN pass %d algorithm %d has no name", p, e->c.algo[p]);
        sg_csv_row_str(row, name);
    }
    for (int p = 0; p < SG_CUDNN_PASSES; p++) {
        if (e->c.ms[p] >= 0)
            sg_csv_row_double(row, e->c.ms[p]);
        else
            sg_csv_row_str(row, ""); /* preset, not measured here */
    }
    for (int p = 0; p < SG_CUDNN_PASSES; p++) sg_csv_row_int(row, (long long)e->c.workspace[p]);
}

static int header_ok(const sg_csv_table *t) {
    if (t->ncols != NCOLS) return 0;
    for (int c = 0; c < NCOLS; c++)
        if (strcmp(t->header[c], header[c]) != 0) return 0;
    return 1;
}

static int parse_long(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Row r of t into its key and entry: 0, or -1 when a cell is not what it should be. */
static int parse_row(const sg_csv_table *t, size_t r, sg_cudnn_key *key, sg_cudnn_entry *e) {
    long long x;
    memset(key, 0, sizeof *key);
    memset(e, 0, sizeof *e);
    const char *gpu = sg_csv_cell(t, r, COL_GPU);
    if (!gpu[0] || strlen(gpu) >= sizeof key->gpu) return -1;
    snprintf(key->gpu, sizeof key->gpu, "%s", gpu);
    if (parse_long(sg_csv_cell(t, r, COL_DRIVER), 0, 1 << 30, &x)) return -1;
    key->driver = (int)x;
    if (parse_long(sg_csv_cell(t, r, COL_CUDNN), 0, 1L << 40, &x)) return -1;
    key->cudnn = (long)x;
    if (parse_long(sg_csv_cell(t, r, COL_DET), 0, 1, &x)) return -1;
    key->deterministic = (int)x;
    int v[9];
    for (int i = 0; i < 9; i++) {
        if (parse_long(sg_csv_cell(t, r, COL_N + i), i == 8 ? 0 : 1, 1 << 30, &x)) return -1;
        v[i] = (int)x;
    }
    /* a window larger than the padded input is no shape (sg_conv_shape_make would abort) */
    if (v[2] + 2LL * v[8] < v[5] || v[3] + 2LL * v[8] < v[6]) return -1;
    e->s = sg_conv_shape_make(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    e->c.deterministic = key->deterministic;
    for (int p = 0; p < SG_CUDNN_PASSES; p++) {
        e->c.algo[p] = sg_cuda_cudnn_algo_find(p, sg_csv_cell(t, r, COL_ALGO0 + p));
        if (e->c.algo[p] < 0) return -1;
        const char *ms = sg_csv_cell(t, r, COL_MS0 + p);
        char *end;
        e->c.ms[p] = ms[0] ? strtof(ms, &end) : -1.0f;
        if (ms[0] && (*end || !(e->c.ms[p] >= 0))) return -1;
        if (parse_long(sg_csv_cell(t, r, COL_WS0 + p), 0, (long long)1 << 50, &x)) return -1;
        e->c.workspace[p] = (size_t)x;
    }
    return 0;
}

static int same_shape(const sg_conv_shape *a, const sg_conv_shape *b) {
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K &&
           a->R == b->R && a->S == b->S && a->stride == b->stride && a->pad == b->pad;
}

/* The environment part of the key (GPU, driver, cuDNN): what makes a row foreign. */
static int same_environment(const sg_cudnn_key *a, const sg_cudnn_key *b) {
    return !strcmp(a->gpu, b->gpu) && a->driver == b->driver && a->cudnn == b->cudnn;
}

static int same_key(const sg_cudnn_key *a, const sg_cudnn_key *b) {
    return same_environment(a, b) && a->deterministic == b->deterministic;
}

int sg_cudnn_write_run(const char *path, const sg_cudnn_table *t, const sg_cudnn_key *key,
                       sg_err *err) {
    sg_csv_row *rows = calloc((size_t)(t->n ? t->n : 1), sizeof *rows);
    if (!rows) return sg_errf(err, "out of memory writing %s", path);
    for (int i = 0; i < t->n; i++) {
        sg_csv_row_init(&rows[i]);
        entry_row(&rows[i], key, &t->e[i]);
    }
    int rc = sg_csv_write_atomic(path, NCOLS, header, rows, (size_t)t->n, err);
    for (int i = 0; i < t->n; i++) sg_csv_row_free(&rows[i]);
    free(rows);
    return rc;
}

int sg_cudnn_read_run(const char *path, sg_cudnn_table *t, sg_cudnn_key *key, sg_err *err) {
    sg_csv_table tab;
    t->n = 0;
    memset(key, 0, sizeof *key);
    if (sg_csv_read(path, &tab, err)) return -1;
    int rc = 0;
    if (!header_ok(&tab))
        rc = sg_errf(err, "%s is not a record of cuDNN algorithms (expected the columns %s,...)",
                     path, header[0]);
    for (size_t r = 0; rc == 0 && r < tab.nrows; r++) {
        sg_cudnn_key k;
        if (t->n >= SG_CONV_AUTO_MAX)
            rc = sg_errf(err, "%s: more than %d shapes", path, SG_CONV_AUTO_MAX);
        else if (parse_row(&tab, r, &k, &t->e[t->n]))
            rc = sg_errf(err, "%s line %zu: not a valid shape and cuDNN algorithms", path, r + 2);
        else if (r > 0 && !same_key(&k, key))
            rc = sg_errf(err, "%s line %zu: another GPU, driver, cuDNN or conv.deterministic "
                              "than line 2: not one run's record", path, r + 2);
        else {
            if (r == 0) *key = k;
            t->n++;
        }
    }
    sg_csv_table_free(&tab);
    return rc;
}

int sg_cudnn_apply(const sg_cudnn_table *t, const sg_cudnn_ops *ops, sg_err *err) {
    for (int i = 0; i < t->n; i++) {
        const sg_conv_shape *s = &t->e[i].s;
        sg_err e;
        if (ops->preset(ops->ctx, s, t->e[i].c.algo, &e))
            return sg_errf(err, "shape N=%d C=%d H=%d W=%d K=%d R=%d stride=%d: %s", s->N, s->C,
                           s->H, s->W, s->K, s->R, s->stride, e.msg);
    }
    return 0;
}

int sg_cudnn_choose(sg_cudnn_table *t, const sg_cudnn_key *key, const char *cache_path,
                    const sg_cudnn_ops *ops, sg_err *err) {
    const int use_cache = cache_path && cache_path[0];
    sg_csv_table tab;
    int writable = use_cache;
    int have = use_cache && sg_csv_read_cache(cache_path, "cuDNN algorithms", header_ok, &tab,
                                              &writable);
    if (have) {
        /* rows of another GPU, driver or cuDNN: one warning per file, naming what differs */
        size_t foreign = 0;
        char first[2 * sizeof key->gpu + 32] = "";
        for (size_t r = 0; r < tab.nrows; r++) {
            sg_cudnn_key k;
            sg_cudnn_entry e;
            if (parse_row(&tab, r, &k, &e) || same_environment(&k, key)) continue;
            if (!foreign++) {
                if (strcmp(k.gpu, key->gpu))
                    snprintf(first, sizeof first, "GPU '%s', this one '%s'", k.gpu, key->gpu);
                else if (k.driver != key->driver)
                    snprintf(first, sizeof first, "driver %d, this one %d", k.driver,
                             key->driver);
                else
                    snprintf(first, sizeof first, "cuDNN %ld, this one %ld", k.cudnn,
                             key->cudnn);
            }
        }
        if (foreign)
            sg_warn("cuDNN algorithms: %s: %zu row(s) of another GPU, driver or cuDNN ignored "
                    "(e.g. %s)", cache_path, foreign, first);
    }
    int measured = 0;
    for (int i = 0; i < t->n; i++) {
        sg_cudnn_entry *e = &t->e[i];
        int hit = 0;
        for (size_t r = 0; have && !hit && r < tab.nrows; r++) {
            sg_cudnn_key k;
            sg_cudnn_entry c;
            if (parse_row(&tab, r, &k, &c) || !same_key(&k, key) || !same_shape(&c.s, &e->s))
                continue;
            sg_err pe;
            if (ops->preset(ops->ctx, &e->s, c.c.algo, &pe)) {
                sg_warn("cuDNN algorithms: %s line %zu cannot be used, measuring instead: %s",
                        cache_path, r + 2, pe.msg);
                break;
            }
            e->c = c.c;
            hit = 1;
        }
        if (hit) continue;
        if (ops->measure(ops->ctx, &e->s, &e->c, err)) {
            if (have) sg_csv_table_free(&tab);
            return -1;
        }
        measured++;
    }
    if (measured && writable) {
        /* the cache again: its other rows as they were, this key's rows for t's shapes new */
        size_t keep = have ? tab.nrows : 0;
        sg_csv_row *rows = calloc(keep + (size_t)t->n + 1, sizeof *rows);
        size_t nr = 0;
        for (size_t r = 0; rows && r < keep; r++) {
            sg_cudnn_key k;
            sg_cudnn_entry c;
            int mine = 0;
            if (!parse_row(&tab, r, &k, &c) && same_key(&k, key))
                for (int i = 0; i < t->n && !mine; i++) mine = same_shape(&c.s, &t->e[i].s);
            if (mine) continue;
            sg_csv_row_init(&rows[nr]);
            for (int col = 0; col < NCOLS; col++)
                sg_csv_row_str(&rows[nr], sg_csv_cell(&tab, r, col));
            nr++;
        }
        for (int i = 0; rows && i < t->n; i++) {
            sg_csv_row_init(&rows[nr]);
            entry_row(&rows[nr++], key, &t->e[i]);
        }
        sg_err e;
        if (!rows)
            sg_warn("cuDNN algorithms: out of memory writing the cache %s", cache_path);
        else if (sg_csv_write_atomic(cache_path, NCOLS, header, rows, nr, &e))
            sg_warn("cuDNN algorithms: the cache cannot be written (the choices hold for this "
                    "process only): %s", e.msg);
        for (size_t r = 0; rows && r < nr; r++) sg_csv_row_free(&rows[r]);
        free(rows);
    }
    if (have) sg_csv_table_free(&tab);
    return measured;
}

#else /* !SG_HAVE_CUDA */

static const char no_cuda[] = "this build has no CUDA backend";

int sg_cudnn_usable(const sg_backend *be) {
    (void)be;
    return 0;
}

const sg_cudnn_ops *sg_cudnn_device_ops(void) { return NULL; }

/* nothing runs cuDNN in this build, so there is nothing the setting could change */
void sg_cudnn_set_deterministic(int on) { (void)on; }

int sg_cudnn_key_of_device(sg_cudnn_key *k, int deterministic, sg_err *err) {
    (void)deterministic;
    memset(k, 0, sizeof *k);
    return sg_errf(err, "conv.algo=cudnn: %s", no_cuda);
}

void sg_cudnn_describe(const sg_cudnn_entry *e, char *buf, size_t cap) {
    (void)e;
    snprintf(buf, cap, "(%s)", no_cuda);
}

int sg_cudnn_choose(sg_cudnn_table *t, const sg_cudnn_key *key, const char *cache_path,
                    const sg_cudnn_ops *ops, sg_err *err) {
    (void)t, (void)key, (void)cache_path, (void)ops;
    return sg_errf(err, "conv.algo=cudnn: %s", no_cuda);
}

int sg_cudnn_apply(const sg_cudnn_table *t, const sg_cudnn_ops *ops, sg_err *err) {
    (void)t, (void)ops;
    return sg_errf(err, "conv.algo=cudnn: %s", no_cuda);
}

int sg_cudnn_write_run(const char *path, const sg_cudnn_table *t, const sg_cudnn_key *key,
                       sg_err *err) {
    (void)t, (void)key;
    return sg_errf(err, "%s: %s", path, no_cuda);
}

int sg_cudnn_read_run(const char *path, sg_cudnn_table *t, sg_cudnn_key *key, sg_err *err) {
    t->n = 0;
    memset(key, 0, sizeof *key);
    return sg_errf(err, "%s: cuDNN algorithms: %s", path, no_cuda);
}

#endif /* SG_HAVE_CUDA */
