/* bench/kbench.c: the kernel suite (see kbench.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench/kbench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/gbench.h"
#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/log.h"
#include "core/base/machine.h"
#include "core/base/rng.h"
#include "core/base/text.h"
#include "core/data/augment.h"
#include "core/nn/conv_auto.h"
#include "core/ssl/ssl.h"
#include "core/ssl/train_config.h"
#include "kernels/backend.h"
#include "kernels/backend_machine.h"
#include "kernels/opcheck/opcheck.h"
#include "kernels/ops.h"
#include "kernels/trace/trace.h"


/* ---- the suite file ------------------------------------------------------------------------ */


int sg_kb_load(sg_kb_suite *s, const char *name_or_path, const char *suites_dir, sg_err *err) {
    memset(s, 0, sizeof *s);
    s->sgemm_n = 2048;
    s->copy_mib = 256;
    FILE *f = sg_open_named_file("bench suite", name_or_path, suites_dir, ".bench", s->path,
                                 sizeof s->path, s->name, sizeof s->name, err);
    if (!f) return -1;
    int rc = 0;
    char *line = NULL;
    size_t line_cap = 0;
    int lineno = 0;
    char *l;
    while (rc == 0) {
        int got = sg_next_statement(f, &line, &line_cap, SG_KB_MAX_LINE, s->path, &lineno, &l, err);
        if (got <= 0) {
            rc = got;
            break;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = sg_errf(err, "%s:%d: expected 'base = ...', 'config NAME = ...', 'sgemm = N' or "
                              "'copy_mib = N'", s->path, lineno);
            break;
        }
        *eq = 0;
        char *key = sg_trim(l), *val = sg_trim(eq + 1);
        if (!strcmp(key, "base")) {
            if (sg_append_word(s->base, sizeof s->base, val)) {
                rc = sg_errf(err, "%s:%d: the base settings are longer than the %zu characters "
                                  "a bench suite holds (all base lines together)",
                             s->path, lineno, sizeof s->base - 1);
                break;
            }
        } else if (!strncmp(key, "config ", 7)) {
            char *name = sg_trim(key + 7);
            int dup = 0;
            for (int i = 0; i < s->nconfigs; i++) dup |= !strcmp(s->configs[i].name, name);
            if (!sg_is_name(name) || dup || s->nconfigs == SG_KB_MAX_CONFIGS ||
                strlen(name) >= sizeof s->configs[0].name) {
                rc = sg_errf(err, "%s:%d: config name '%s' must be unique, at most %zu "
                                  "characters, and use letters, digits, '_' or '-' (at most %d "
                                  "configs)", s->path, lineno, name,
                             sizeof s->configs[0].name - 1, SG_KB_MAX_CONFIGS);
                break;
            }
            if (strlen(val) >= sizeof s->configs[0].overrides) {
                rc = sg_errf(err, "%s:%d: config %s: its settings are %zu characters, more than "
                                  "the %zu a config holds", s->path, lineno, name, strlen(val),
                             sizeof s->configs[0].overrides - 1);
                break;
            }
            sg_kb_config *c = &s->configs[s->nconfigs++];
            snprintf(c->name, sizeof c->name, "%s", name);
            snprintf(c->overrides, sizeof c->overrides, "%s", val);
        } else if (!strcmp(key, "sgemm") || !strcmp(key, "copy_mib")) {
            char *end;
            long v = strtol(val, &end, 10);
            if (!*val || *end || v < 16 || v > 65536) {
                rc = sg_errf(err, "%s:%d: %s = '%s': expected an integer in [16, 65536]", s->path,
                             lineno, key, val);
                break;
            }
            if (!strcmp(key, "sgemm")) s->sgemm_n = (int)v;
            else s->copy_mib = (int)v;
        } else {
            rc = sg_errf(err, "%s:%d: unknown statement '%s' (expected base, config NAME, sgemm, "
                              "copy_mib)", s->path, lineno, key);
        }
    }
    fclose(f);
    free(line);
    if (rc == 0 && s->nconfigs == 0)
        rc = sg_errf(err, "%s: no 'config NAME = ...' line", s->path);
    return rc;
}

/* ---- what is timed --------------------------------------------------------------------------- */

typedef enum { KB_CEIL_SGEMM, KB_CEIL_COPY, KB_KERNEL, KB_STEP } kb_kind;

/* One Google Benchmark entry and what it measured. */
typedef struct {
    kb_kind kind;
    char name[256];   /* registered benchmark name */
    char op[24];      /* opcheck op (kernels, sgemm ceiling) */
    char shape[160];  /* opcheck shape; "batch=B" for steps */
    int config;       /* step: its config */
    double flops, bytes;
    int calls_per_sample; /* back-to-back calls in one timed sample (Google Benchmark iteration) */
    /* what its timing needs, made on first use: a validated op, a model, or copy buffers */
    int ready;
    sg_opcheck_prepared *prep;
    sg_ssl *model;
    void *copy_src, *copy_dst;
    /* results */
    int ran, status;  /* status: 0 ok, 1 mismatch, 2 error */
    char message[1024];
    double median_s, mean_s, stddev_s, cv, min_s;
    double reps[64];
    int nreps;
} kb_bench;

/* A kernel's use in a configuration: calls per step (aug = 0), per augmented batch (aug = 1),
 * or, for a convolution, another algorithm at a shape the step calls with its own (aug = 2: the
 * `algorithm` rows, timed and validated beside the step, outside its sums). */
typedef struct {
    int config, bench;
    long calls;
    int aug;
} kb_use;

typedef struct {
    const sg_kb_suite *suite;
    const sg_kb_opts *o;
    kb_bench *b;
    int nb, cap;
    kb_use *u;
    int nu, capu;
    sg_ssl_settings set[SG_KB_MAX_CONFIGS];
    /* conv.algo=auto configs: each conv shape's choice, which set[i].trunk points at */
    sg_conv_shape conv_choices[SG_KB_MAX_CONFIGS][SG_CONV_AUTO_MAX];
    int batch[SG_KB_MAX_CONFIGS];
    double model_mib[SG_KB_MAX_CONFIGS];
    /* the bench whose state is held (without interleaving only one is, to bound memory) */
    int cached;
} kb_ctx;

static int kb_add_bench(kb_ctx *k, kb_kind kind, const char *op, const char *shape, int config) {
    for (int i = 0; i < k->nb; i++)
        if (k->b[i].kind == kind && !strcmp(k->b[i].op, op) && !strcmp(k->b[i].shape, shape) &&
            (kind != KB_STEP || k->b[i].config == config))
            return i;
    if (k->nb == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->b = realloc(k->b, (size_t)k->cap * sizeof *k->b);
        SG_CHECK(k->b != NULL, "out of memory");
    }
    kb_bench *b = &k->b[k->nb];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->config = config;
    b->calls_per_sample = 1;
    snprintf(b->op, sizeof b->op, "%s", op);
    snprintf(b->shape, sizeof b->shape, "%s", shape);
    static const char *const prefix[] = {"ceiling/sgemm", "ceiling/copy", "kernel", "step"};
    if (kind == KB_STEP)
        snprintf(b->name, sizeof b->name, "step/%s/%s", k->suite->configs[config].name, shape);
    else if (kind == KB_KERNEL)
        snprintf(b->name, sizeof b->name, "kernel/%s/%s", op, shape);
    else
        snprintf(b->name, sizeof b->name, "%s/%s", prefix[kind], shape);
    return k->nb++;
}

static void kb_add_use(kb_ctx *k, int config, int bench, long calls, int aug) {
    if (k->nu == k->capu) {
        k->capu = k->capu ? 2 * k->capu : 128;
        k->u = realloc(k->u, (size_t)k->capu * sizeof *k->u);
        SG_CHECK(k->u != NULL, "out of memory");
    }
    k->u[k->nu++] = (kb_use){config, bench, calls, aug};
}

/* Applies space-separated key=value overrides. */
static int kb_apply(sg_config *c, const char *text, sg_err *err) {
    char *buf = strdup(text), *save = NULL;
    SG_CHECK(buf != NULL, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(buf, " \t", &save); t && !rc; t = strtok_r(NULL, " \t", &save))
        rc = sg_train_config_set_arg(c, t, err);
    free(buf);
    return rc;
}

int sg_kb_select(const sg_kb_suite *s, const char *configs, sg_kb_suite *sel, sg_err *err) {
    *sel = *s;
    if (!configs || !configs[0]) return 0;
    sel->nconfigs = 0;
    char *buf = strdup(configs), *save = NULL; /* a list of any length, none of it dropped */
    SG_CHECK(buf != NULL, "out of memory");
    int rc = 0;
    for (char *t = strtok_r(buf, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        int found = -1, twice = 0;
        for (int i = 0; i < s->nconfigs; i++)
            if (!strcmp(s->configs[i].name, t)) found = i;
        /* each at most once: sel has room for the suite's configs, not for repeats */
        for (int i = 0; i < sel->nconfigs; i++) twice |= !strcmp(sel->configs[i].name, t);
        if (found < 0)
            rc = sg_errf(err, "--configs: %s has no config '%s'", s->path, t);
        else if (twice)
            rc = sg_errf(err, "--configs: config '%s' is named twice", t);
        else
            sel->configs[sel->nconfigs++] = s->configs[found];
    }
    free(buf);
    return rc;
}

int sg_kb_config_settings(const sg_kb_suite *s, int i, sg_ssl_settings *set, int *C, int *S,
                          const char **dataset, sg_err *err) {
    sg_config *c = sg_train_config_new();
    int rc = kb_apply(c, s->base, err);
    if (rc == 0) rc = kb_apply(c, s->configs[i].overrides, err);
    if (rc == 0) rc = sg_train_input_shape(c, C, S, err);
    if (rc == 0) rc = sg_train_settings(c, *C, *S, *S, 1000, set, err);
    static char ds[SG_KB_MAX_CONFIGS][32];
    if (rc == 0) snprintf(ds[i], sizeof ds[i], "%s", sg_config_str(c, "data.dataset"));
    *dataset = ds[i];
    sg_config_free(c);
    if (rc) {
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        sg_errf(err, "%s, config %s: %s", s->path, s->configs[i].name, m);
    }
    return rc;
}

/* Config i's CPU sgemm (gemm.impl, process-wide) and precision: set before anything of config
 * i runs (its trace, its auto measurement, each step); kernel rows carry their own (gemm=N,
 * prec=N). */
static void kb_use_gemm(kb_ctx *k, int i) {
    SG_CHECK(sg_cpu_set_gemm_impl(k->set[i].gemm_impl) == 0, "gemm.impl=%s: checked available",
             sg_gemm_impl_names[k->set[i].gemm_impl]);
    /* and its precision (trainer.precision), on the backend that runs it */
    SG_CHECK(sg_backend_set_precision(k->o->be, k->set[i].precision) >= 0,
             "trainer.precision=%s: backend %s does not run it",
             sg_precision_names[k->set[i].precision], k->o->be->name);
}

/* 1 when config i asks for conv.algo=auto (its settings carry the default until resolved). */
static int kb_conv_auto(const sg_kb_suite *s, int i) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    int is_auto = kb_apply(c, s->base, &err) == 0 &&
                  kb_apply(c, s->configs[i].overrides, &err) == 0 &&
                  !strcmp(sg_config_str(c, "conv.algo"), "auto");
    sg_config_free(c);
    return is_auto;
}

/* conv.algo=auto for config i as a training run resolves it: each conv shape's fastest
 * algorithm on this backend and thread count, from the machine's cache or measured and cached
 * (core/nn/conv_auto.h), so the suite times the step a run with auto would take. */
static int kb_resolve_conv_auto(kb_ctx *k, int i, sg_err *err) {
    kb_use_gemm(k, i); /* im2col and Winograd are timed on the config's sgemm */
    sg_conv_auto_table *t = malloc(sizeof *t);
    SG_CHECK(t != NULL, "out of memory");
    int rc = sg_conv_auto_shapes(&k->set[i].trunk, k->set[i].batch, k->o->be, t, err);
    sg_machine mach;
    if (rc == 0) rc = sg_machine_probe_backend(&mach, k->o->be, k->o->threads, err);
    if (rc == 0) {
        sg_conv_auto_key key;
        sg_conv_auto_key_make(&key, mach.machine_id, mach.git_commit, mach.build_type,
                              mach.build_flags, k->o->be, k->o->threads, 0);
        char cache[4096];
        sg_conv_auto_default_cache(cache, sizeof cache);
        int measured = sg_conv_auto_choose(k->o->be, t, &key, cache, NULL, NULL);
        for (int j = 0; j < t->n; j++) {
            k->conv_choices[i][j] = t->c[j].s;
            sg_info("  %s: N=%d C=%d %dx%d K=%d %dx%d/%d: %s", k->suite->configs[i].name,
                    t->c[j].s.N, t->c[j].s.C, t->c[j].s.H, t->c[j].s.W, t->c[j].s.K,
                    t->c[j].s.R, t->c[j].s.S, t->c[j].s.stride,
                    sg_conv_algo_names[t->c[j].s.algo]);
        }
        k->set[i].trunk.conv_choices = k->conv_choices[i];
        k->set[i].trunk.n_conv_choices = t->n;
        sg_info("%s: conv.algo=auto: %d conv shape(s), %d measured, %d from the cache %s",
                k->suite->configs[i].name, t->n, measured, t->n - measured,
                cache[0] ? cache : "(none)");
    }
    free(t);
    return rc;
}

/* The settings and input shape of config i (conv.algo=auto resolved). */
static int kb_settings(kb_ctx *k, int i, int *C, int *S, const char **dataset, sg_err *err) {
    if (sg_kb_config_settings(k->suite, i, &k->set[i], C, S, dataset, err)) return -1;
    const sg_precision p = k->set[i].precision, was = sg_backend_precision(k->o->be);
    if (sg_backend_set_precision(k->o->be, p) < 0)
        return sg_errf(err, "%s, config %s: trainer.precision=%s: backend %s does not run it",
                       k->suite->path, k->suite->configs[i].name, sg_precision_names[p],
                       k->o->be->name);
    (void)sg_backend_set_precision(k->o->be, was);
    return kb_conv_auto(k->suite, i) ? kb_resolve_conv_auto(k, i, err) : 0;
}

/* The raw image a dataset's loader hands to augmentation: the table's typical stored image
 * (ImageNet: 375 x 500), or the view side where images come at it (synthetic data). */
static void kb_raw_image(const sg_dataset_info *ds, int S, int *C, int *H, int *W) {
    *C = ds->channels;
    *H = ds->raw_h > 0 ? ds->raw_h : S;
    *W = ds->raw_w > 0 ? ds->raw_w : S;
}

/* The other convolution algorithms the backend runs at a traced conv's shape, and the other
 * sgemms at a traced gemm, linear or conv shape, each its own bench (validated and timed like
 * the step's kernels), so the suite shows every algorithm per shape. */
static void kb_add_algorithms(kb_ctx *k, int config, const sg_trace_entry *x) {
    int op = sg_op_find(x->op), val[SG_OP_MAXP];
    sg_err err;
    if (op < 0 || sg_op_parse_shape((sg_op)op, x->shape, val, &err)) return;
    const int kg = sg_op_param_index((sg_op)op, "gemm"), ka0 = sg_op_param_index((sg_op)op, "algo");
    /* oneDNN's and cuDNN's convolutions call no sgemm of ours */
    const int sgemm_free = ka0 >= 0 && (val[ka0] == SG_CONV_DNNL || val[ka0] == SG_CONV_CUDNN);
    if (kg >= 0 && !sgemm_free) {
        const int used_gemm = val[kg];
        for (int g = 0; g < SG_GEMM_IMPL_COUNT; g++) {
            val[kg] = g;
            if (g == used_gemm || !sg_backend_supports(k->o->be, (sg_op)op, val)) continue;
            char shape[160];
            sg_op_format_shape((sg_op)op, val, shape, sizeof shape);
            kb_add_use(k, config, kb_add_bench(k, KB_KERNEL, x->op, shape, -1), x->calls, 2);
        }
        val[kg] = used_gemm;
    }
    if (strncmp(x->op, "conv2d_", 7) != 0) return;
    const int ka = sg_op_param_index((sg_op)op, "algo"), used = val[ka];
    for (int a = SG_CONV_IM2COL; a < SG_CONV_ALGO_COUNT; a++) {
        /* the backend's default is im2col on every backend: the traced call already times it */
        if (a == used || (used == SG_CONV_DEFAULT && a == SG_CONV_IM2COL)) continue;
        val[ka] = a;
        if (!sg_backend_supports(k->o->be, (sg_op)op, val)) continue;
        char shape[160];
        sg_op_format_shape((sg_op)op, val, shape, sizeof shape);
        kb_add_use(k, config, kb_add_bench(k, KB_KERNEL, x->op, shape, -1), x->calls, 2);
    }
}

/* Traces config i: the kernels of its second step and of one augmented image (both views). */
static int kb_trace(kb_ctx *k, int i, sg_err *err) {
    int C, S;
    const char *dataset;
    if (kb_settings(k, i, &C, &S, &dataset, err)) return -1;
    const sg_backend *tbe;
    kb_use_gemm(k, i); /* the trace records it in the gemm, linear and conv shapes */
    sg_trace *t = sg_trace_new(NULL, &tbe);
    (void)sg_backend_set_precision(tbe, k->set[i].precision); /* a dry trace takes any */
    sg_ssl m;
    /* a graph launches the kernels the eager step calls: the trace takes them eagerly */
    sg_ssl_settings eager = k->set[i];
    eager.graph = 0;
    if (sg_ssl_build(&m, &eager, tbe, err)) {
        sg_trace_free(t);
        return -1;
    }
    k->batch[i] = m.B;
    /* what the model takes from the backend: activations, parameters, gradients, momentum */
    k->model_mib[i] = ((double)m.arena.cap +
                       sizeof(float) * ((double)m.online.total * 3 + (double)m.online.nbuf +
                                        (double)m.target.total * 2 + (double)m.target.nbuf)) /
                      (1024.0 * 1024.0);
    sg_trace_enable(t, 0);
    sg_ssl_step(&m); /* the first step initialises F; the second is every later step */
    sg_trace_reset(t);
    sg_trace_enable(t, 1);
    sg_ssl_step(&m);
    for (int e = 0; e < sg_trace_count(t); e++) {
        const sg_trace_entry *x = sg_trace_get(t, e);
        kb_add_use(k, i, kb_add_bench(k, KB_KERNEL, x->op, x->shape, -1), x->calls, 0);
        kb_add_algorithms(k, i, x);
    }
    sg_ssl_free(&m);
    /* augmentation of one image, both views: per step that is B images */
    sg_trace_reset(t);
    int rc_ = 0, iC, iH, iW;
    const sg_dataset_info *ds = sg_dataset_find(dataset);
    SG_CHECK(ds != NULL, "config %s: data.dataset=%s has no row", k->suite->configs[i].name, dataset);
    kb_raw_image(ds, S, &iC, &iH, &iW);
    sg_aug_recipe rec[2];
    for (int v = 0; v < 2; v++) sg_aug_recipe_make(ds, v, iC, S, &rec[v]);
    size_t cap = sg_aug_scratch_floats(iC, iH, iW, S);
    uint8_t *img = calloc((size_t)iC * iH * iW, 1);
    float *dst = malloc((size_t)(C > 3 ? C : 3) * S * S * sizeof(float));
    sg_aug_scratch sc = {malloc(cap * sizeof(float)), malloc(cap * sizeof(float)),
                         malloc(cap * sizeof(float)), cap};
    if (rc_ == 0 && img && dst && sc.a && sc.b && sc.c)
        for (int v = 0; v < 2; v++) sg_augment(tbe, &rec[v], img, iC, iH, iW, 1, 0, 0, (uint32_t)v, dst, &sc);
    for (int e = 0; e < sg_trace_count(t); e++) {
        const sg_trace_entry *x = sg_trace_get(t, e);
        kb_add_use(k, i, kb_add_bench(k, KB_KERNEL, x->op, x->shape, -1),
                   x->calls * k->batch[i], 1);
    }
    free(img), free(dst), free(sc.a), free(sc.b), free(sc.c);
    sg_trace_free(t);
    if (rc_) return sg_errf(err, "no augmentation recipe for %s", dataset);
    return 0;
}

/* ---- benchmark functions ------------------------------------------------------------------- */

static kb_ctx *kb_active;

static void kb_release(kb_ctx *k, kb_bench *b) {
    if (b->prep) sg_opcheck_release(b->prep);
    b->prep = NULL;
    if (b->model) {
        sg_ssl_free(b->model);
        free(b->model);
    }
    b->model = NULL;
    if (b->copy_src) k->o->be->mem_free(k->o->be, b->copy_src);
    if (b->copy_dst) k->o->be->mem_free(k->o->be, b->copy_dst);
    b->copy_src = b->copy_dst = NULL;
    b->ready = 0;
}

/* Before bench i runs: without interleaving Google Benchmark runs a benchmark's repetitions in
 * a row, so the previous bench's state is released (one op's buffers or one model in memory at
 * a time). With interleaving every state is kept until the end. Returns 1 when i's state must
 * be made. */
static int kb_switch_to(kb_ctx *k, int i) {
    if (!k->o->interleave && k->cached >= 0 && k->cached != i) kb_release(k, &k->b[k->cached]);
    k->cached = i;
    return !k->b[i].ready;
}

static void kb_timed_loop(sg_gb_state *st, double (*once)(void *), void *arg, double flops,
                          double bytes) {
    int64_t iters = 0;
    while (sg_gb_keep_running(st)) {
        sg_gb_set_iteration_time(st, once(arg));
        iters++;
    }
    if (bytes > 0) sg_gb_set_bytes_processed(st, (int64_t)(bytes * (double)iters));
    if (flops > 0) sg_gb_counter(st, "FLOPS", flops * (double)iters, 1);
}

/* Calls per timed sample: enough back-to-back calls to fill about a millisecond (at most 256),
 * so that a kernel of a few microseconds is not timed as mostly timer and launch overhead. */
static int kb_calls_per_sample(sg_opcheck_prepared *p) {
    if (sg_opcheck_restores(p)) return 1;
    double t = sg_opcheck_time_n(p, 1);
    int n = t > 0 ? (int)(1e-3 / t) : 256;
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

/* One Google Benchmark iteration = calls_per_sample back-to-back calls; the iteration's time is
 * their total (so Google Benchmark's iteration count and min_time mean what they say), and
 * kb_sink divides every time by calls_per_sample for the CSV. */
static int kb_ncalls;
static double kb_op_once(void *p) { return kb_ncalls * sg_opcheck_time_n(p, kb_ncalls); }

static void kb_fn_op(sg_gb_state *st, void *user) {
    kb_ctx *k = kb_active;
    int i = (int)(intptr_t)user;
    kb_bench *b = &k->b[i];
    if (kb_switch_to(k, i)) {
        b->ready = 1;
        sg_opcheck_result res;
        sg_err err = {{0}};
        int op = sg_op_find(b->op);
        SG_CHECK(op >= 0, "traced op %s is not in the checker's table", b->op);
        int rc = sg_opcheck_prepare(k->o->be, op, b->shape, 1, &b->prep, &res, &err);
        b->flops = res.cost.flops;
        b->bytes = res.cost.bytes;
        if (rc != 0) {
            b->status = 2;
            snprintf(b->message, sizeof b->message, "%s", err.msg);
        } else if (!res.ok) {
            b->status = 1;
            snprintf(b->message, sizeof b->message,
                     "mismatch against the reference: max err/tol %.3g (atol %.3g, rtol %.3g)",
                     res.max_err, res.tol_atol, res.tol_rtol);
        }
        b->calls_per_sample = b->prep ? kb_calls_per_sample(b->prep) : 1;
        sg_info("%s: %s", b->name, b->prep ? "validated, timing" : b->message);
    }
    if (!b->prep) {
        sg_gb_skip_with_error(st, b->message);
        return;
    }
    kb_ncalls = b->calls_per_sample;
    kb_timed_loop(st, kb_op_once, b->prep, b->flops * kb_ncalls, b->bytes * kb_ncalls);
    sg_gb_counter(st, "calls_per_iteration", kb_ncalls, 0);
}

static double kb_copy_once(void *p) {
    kb_ctx *k = kb_active;
    kb_bench *b = p;
    const sg_backend *be = k->o->be;
    size_t n = (size_t)k->suite->copy_mib << 20;
    be->timer_start(be);
    be->mem_copy(be, b->copy_dst, b->copy_src, n);
    return be->timer_stop(be);
}

static void kb_fn_copy(sg_gb_state *st, void *user) {
    kb_ctx *k = kb_active;
    int i = (int)(intptr_t)user;
    kb_bench *b = &k->b[i];
    const sg_backend *be = k->o->be;
    size_t n = (size_t)k->suite->copy_mib << 20;
    if (kb_switch_to(k, i)) {
        b->ready = 1;
        b->copy_src = be->mem_alloc(be, n);
        b->copy_dst = be->mem_alloc(be, n);
        if (!b->copy_src || !b->copy_dst) {
            b->status = 2;
            snprintf(b->message, sizeof b->message, "out of %s memory for two %d MiB buffers",
                     be->name, k->suite->copy_mib);
        } else {
            /* the source is written once so its pages exist (and are not all-zero pages) */
            float *h = malloc(n);
            if (h) {
                for (size_t j = 0; j < n / sizeof(float); j++) h[j] = (float)(j % 977);
                be->mem_upload(be, b->copy_src, h, n);
                free(h);
            }
            kb_copy_once(b);
        }
        b->bytes = 2.0 * (double)n; /* read + written */
    }
    if (b->status) {
        sg_gb_skip_with_error(st, b->message);
        return;
    }
    kb_timed_loop(st, kb_copy_once, b, 0, b->bytes);
}

/* A step of a model with deferred losses (trainer.loss_readback > 1, CUDA's default): read the
 * log when it is full, as a run does, so the timed steps carry their share of the reads. */
static void kb_read_losses(sg_ssl *m) {
    if (!sg_ssl_log_full(m)) return;
    double *l = malloc(sizeof(double) * (size_t)m->log_steps);
    SG_CHECK(l != NULL, "out of memory");
    (void)sg_ssl_losses(m, l, m->log_steps);
    free(l);
}

static double kb_step_once(void *p) {
    kb_ctx *k = kb_active;
    kb_bench *b = p;
    const sg_backend *be = k->o->be;
    kb_use_gemm(k, b->config); /* interleaved benches of other configs may have changed it */
    be->timer_start(be);
    sg_ssl_step(b->model);
    kb_read_losses(b->model);
    return be->timer_stop(be);
}

static void kb_fn_step(sg_gb_state *st, void *user) {
    kb_ctx *k = kb_active;
    int i = (int)(intptr_t)user;
    kb_bench *b = &k->b[i];
    const sg_backend *be = k->o->be;
    if (kb_switch_to(k, i)) {
        b->ready = 1;
        sg_err err = {{0}};
        b->model = calloc(1, sizeof *b->model);
        SG_CHECK(b->model != NULL, "out of memory");
        kb_use_gemm(k, b->config);
        if (sg_ssl_build(b->model, &k->set[b->config], be, &err)) {
            b->status = 2;
            snprintf(b->message, sizeof b->message, "%s", err.msg);
            free(b->model);
            b->model = NULL;
        } else {
            /* random views in [0, 1): a real step's numbers, not zeros */
            const sg_resnet_spec *t = &k->set[b->config].trunk;
            size_t n = (size_t)b->model->B * t->in_channels * t->H * t->W;
            float *x = malloc(n * sizeof(float));
            SG_CHECK(x != NULL, "out of memory for a batch");
            sg_rng g;
            sg_rng_init(&g, 7, 0x62656e63u /* "benc" */, (uint32_t)b->config, 0);
            for (int v = 0; v < 2; v++) {
                sg_rng_fill_uniform(&g, x, (long)n, 0.0f, 1.0f);
                sg_ssl_put(b->model, b->model->x[v], x, n);
            }
            free(x);
            for (int w = 0; w < 2; w++) { /* warm-up; F initialised */
                sg_ssl_step(b->model);
                kb_read_losses(b->model);
            }
        }
    }
    if (b->status) {
        sg_gb_skip_with_error(st, b->message);
        return;
    }
    kb_timed_loop(st, kb_step_once, b, b->flops, 0);
}

/* Google Benchmark's rows: iteration rows carry each repetition's time, aggregate rows the
 * statistics. A row's name is the registered name plus suffixes ("/manual_time", "_mean"). */
static void kb_sink(const sg_gb_result *r, void *user) {
    kb_ctx *k = user;
    int best = -1;
    size_t bl = 0;
    for (int i = 0; i < k->nb; i++) {
        size_t l = strlen(k->b[i].name);
        if (!strncmp(r->name, k->b[i].name, l) && (r->name[l] == '/' || r->name[l] == 0 ||
                                                     r->name[l] == '_') && l > bl)
            best = i, bl = l;
    }
    if (best < 0) return;
    kb_bench *b = &k->b[best];
    const double per_call = 1e-9 / (b->calls_per_sample > 0 ? b->calls_per_sample : 1);
    if (r->error) {
        if (!b->status) b->status = 2;
        if (!b->message[0]) snprintf(b->message, sizeof b->message, "%s", r->error_message);
        return;
    }
    b->ran = 1;
    if (!strcmp(r->run_type, "iteration")) {
        if (b->nreps < (int)(sizeof b->reps / sizeof b->reps[0]))
            b->reps[b->nreps++] = r->real_time_ns * per_call;
    } else if (!strcmp(r->aggregate, "median")) {
        b->median_s = r->real_time_ns * per_call;
    } else if (!strcmp(r->aggregate, "mean")) {
        b->mean_s = r->real_time_ns * per_call;
    } else if (!strcmp(r->aggregate, "stddev")) {
        b->stddev_s = r->real_time_ns * per_call;
    } else if (r->is_cv) {
        b->cv = r->cv_real;
    }
}

/* ---- the CSV ---------------------------------------------------------------------------------- */

static const char *const kb_cols[] = {
    "run_id",    "time_utc",  "backend",   "suite",
    "kind",      "config",    "kernel",     "shape",      "calls",     "flops",
    "bytes",     "reps",      "median_s",   "mean_s",     "stddev_s",  "cv",
    "min_s",     "gflops",    "gbs",        "frac_sgemm", "frac_copy", "share_of_step",
    "model_mib", "status",    "message",    "rep_times_s"};
#define KB_NBASE ((int)(sizeof kb_cols / sizeof kb_cols[0]))

int sg_kb_ncols(void) { return KB_NBASE + sg_machine_ncols(); }

const char *const *sg_kb_header(void) {
    static const char *hdr[KB_NBASE + 64];
    return sg_machine_join_header(kb_cols, KB_NBASE, hdr, KB_NBASE + 64);
}

typedef struct {
    const char *run_id, *time_utc;
    const sg_machine *mach;
    const kb_ctx *k;
    double sgemm_gflops, copy_gbs;
} kb_rowctx;

static void kb_opt_double(sg_csv_row *row, double v) {
    if (isfinite(v)) sg_csv_row_double(row, v);
    else sg_csv_row_str(row, "");
}

static void kb_row(sg_csv_row *row, const kb_rowctx *rc, const char *kind, const char *config,
                   const kb_bench *b, const char *kernel, long calls, double flops, double bytes,
                   double median, double share, double model_mib) {
    const kb_ctx *k = rc->k;
    sg_csv_row_init(row);
    sg_csv_row_str(row, rc->run_id);
    sg_csv_row_str(row, rc->time_utc);
    sg_csv_row_str(row, k->o->be->name);
    sg_csv_row_str(row, k->suite->name);
    sg_csv_row_str(row, kind);
    sg_csv_row_str(row, config);
    sg_csv_row_str(row, kernel);
    sg_csv_row_str(row, b ? b->shape : "");
    sg_csv_row_int(row, calls);
    sg_csv_row_double(row, flops);
    sg_csv_row_double(row, bytes);
    int ok = b && b->ran && !b->status && median > 0;
    sg_csv_row_int(row, b ? b->nreps : 0);
    kb_opt_double(row, ok ? median : NAN);
    kb_opt_double(row, ok && b->mean_s > 0 ? b->mean_s : NAN);
    kb_opt_double(row, ok ? b->stddev_s : NAN);
    kb_opt_double(row, ok ? b->cv : NAN);
    kb_opt_double(row, ok ? b->min_s : NAN);
    double gf = ok && flops > 0 ? flops / median / 1e9 : NAN;
    double gb = ok && bytes > 0 ? bytes / median / 1e9 : NAN;
    kb_opt_double(row, gf);
    kb_opt_double(row, gb);
    kb_opt_double(row, rc->sgemm_gflops > 0 ? gf / rc->sgemm_gflops : NAN);
    kb_opt_double(row, rc->copy_gbs > 0 ? gb / rc->copy_gbs : NAN);
    kb_opt_double(row, share);
    kb_opt_double(row, model_mib);
    sg_csv_row_str(row, !b ? "ok" : b->status == 1 ? "mismatch" : b->status == 2 ? "error" :
                        b->ran ? "ok" : "not_run");
    sg_csv_row_str(row, b ? b->message : "");
    char reps[64 * 24] = "";
    size_t at = 0;
    for (int j = 0; b && ok && j < b->nreps && at < sizeof reps; j++) {
        int w = snprintf(reps + at, sizeof reps - at, "%s%.9g", j ? ";" : "", b->reps[j]);
        if (w < 0) break;
        at += (size_t)w;
    }
    sg_csv_row_str(row, reps);
    sg_machine_row(rc->mach, row);
}

/* ---- the run ---------------------------------------------------------------------------------- */

static int kb_matches(const sg_kb_opts *o, const char *name) {
    return !o->filter || !o->filter[0] || strstr(name, o->filter) != NULL;
}

static void kb_finish_stats(kb_bench *b) {
    if (b->nreps == 0) return;
    double mn = b->reps[0];
    for (int j = 1; j < b->nreps; j++) mn = b->reps[j] < mn ? b->reps[j] : mn;
    b->min_s = mn;
    if (b->median_s <= 0) { /* one repetition: no aggregate rows */
        b->median_s = b->mean_s = b->reps[0];
    }
}

int sg_kb_run(const sg_kb_suite *s, const sg_kb_opts *o, sg_err *err) {
    char a_out[4300]; /* Google Benchmark's --benchmark_out=JSON */
    if (o->json_path &&
        sg_path_printf(a_out, sizeof a_out, err, "--benchmark_out=%s", o->json_path))
        return -1;
    /* results are never overwritten: a second run writing the same file is refused up front */
    if (!o->list && o->csv_path && sg_file_exists(o->csv_path)) {
        return sg_errf(err, "%s already exists: results are never overwritten; choose another "
                            "--out or delete it", o->csv_path);
    }
    if (!o->list && o->json_path && sg_file_exists(o->json_path)) {
        return sg_errf(err, "%s already exists: results are never overwritten; choose another "
                            "--json or delete it", o->json_path);
    }
    kb_ctx k;
    memset(&k, 0, sizeof k);
    k.suite = s;
    k.o = o;
    k.cached = -1;
    int rc = 0;
    char shape[160];
    snprintf(shape, sizeof shape, "M=%d,N=%d,K=%d,ldpad=0", s->sgemm_n, s->sgemm_n, s->sgemm_n);
    int sgemm = kb_add_bench(&k, KB_CEIL_SGEMM, "gemm_nn", shape, -1), sgemm_dnnl = -1;
    /* oneDNN's sgemm too where the backend runs it (gemm.impl=dnnl): a config on it is compared
     * with the faster ceiling, not with an sgemm it does not call */
    snprintf(shape, sizeof shape, "M=%d,N=%d,K=%d,ldpad=0,gemm=%d", s->sgemm_n, s->sgemm_n,
             s->sgemm_n, SG_GEMM_DNNL);
    {
        int val[SG_OP_MAXP];
        sg_err perr;
        if (sg_op_parse_shape(SG_OP_gemm_nn, shape, val, &perr) == 0 &&
            sg_backend_supports(o->be, SG_OP_gemm_nn, val))
            sgemm_dnnl = kb_add_bench(&k, KB_CEIL_SGEMM, "gemm_nn", shape, -1);
    }
    snprintf(shape, sizeof shape, "mib=%d", s->copy_mib);
    int copy = kb_add_bench(&k, KB_CEIL_COPY, "copy", shape, -1);
    /* --configs: the named configurations only (each must exist) */
    static sg_kb_suite sel;
    if (sg_kb_select(s, o->configs, &sel, err)) {
        rc = -1;
        goto done;
    }
    s = &sel;
    k.suite = s;
    for (int i = 0; i < s->nconfigs && rc == 0; i++) {
        sg_info("tracing %s", s->configs[i].name);
        rc = kb_trace(&k, i, err);
    }
    if (rc) goto done;
    int first_step = k.nb;
    for (int i = 0; i < s->nconfigs; i++) {
        snprintf(shape, sizeof shape, "batch=%d", k.batch[i]);
        kb_add_bench(&k, KB_STEP, "step", shape, i);
    }
    /* a step's FLOPs are the sum over its kernels', known once the checker has run them: they
     * are added up when the rows are written */
    if (o->list) {
        printf("%-10s %-22s %-64s %s\n", "config", "kernel", "shape", "calls/step");
        for (int j = 0; j < k.nu; j++)
            printf("%-10s %-22s %-64s %ld%s\n", s->configs[k.u[j].config].name, k.b[k.u[j].bench].op,
                   k.b[k.u[j].bench].shape, k.u[j].calls,
                   k.u[j].aug == 1 ? " (augmentation)" : k.u[j].aug == 2 ? " (another algorithm)" : "");
        goto done;
    }
    /* register: ceilings first (every fraction refers to them), kernels, then whole steps */
    for (int i = 0; i < k.nb; i++) {
        kb_bench *b = &k.b[i];
        int want = b->kind == KB_CEIL_SGEMM || b->kind == KB_CEIL_COPY ||
                   (kb_matches(o, b->name) && (b->kind == KB_STEP || !o->step_only));
        if (!want) continue;
        sg_gb_spec spec = {.name = b->name,
                           .fn = b->kind == KB_STEP        ? kb_fn_step
                                 : b->kind == KB_CEIL_COPY ? kb_fn_copy
                                                           : kb_fn_op,
                           .user = (void *)(intptr_t)i,
                           .manual_time = 1,
                           .repetitions = o->repetitions,
                           .min_time = o->min_time};
        sg_gb_register(&spec);
    }
    kb_active = &k;
    char a_fmt[] = "--benchmark_out_format=json",
         a_agg[] = "--benchmark_report_aggregates_only=false";
    char a_int[] = "--benchmark_enable_random_interleaving=true";
    char *argv[5] = {"stopgrad-bench", a_agg, NULL, NULL, NULL};
    int argc = 2;
    if (o->interleave) argv[argc++] = a_int;
    if (o->json_path) {
        argv[argc++] = a_out;
        argv[argc++] = a_fmt;
    }
    int n = sg_gb_run(argc, argv, kb_sink, &k, o->quiet, err);
    for (int i = 0; i < k.nb; i++) kb_release(&k, &k.b[i]);
    kb_active = NULL;
    if (n < 0) {
        rc = -1;
        goto done;
    }
    for (int i = 0; i < k.nb; i++) kb_finish_stats(&k.b[i]);

    /* derived numbers */
    kb_rowctx rcx = {.k = &k};
    /* frac_sgemm: against the fastest sgemm the run measured */
    for (int c = 0; c < 2; c++) {
        const int i = c ? sgemm_dnnl : sgemm;
        if (i >= 0 && k.b[i].ran && !k.b[i].status && k.b[i].median_s > 0 &&
            k.b[i].flops / k.b[i].median_s / 1e9 > rcx.sgemm_gflops)
            rcx.sgemm_gflops = k.b[i].flops / k.b[i].median_s / 1e9;
    }
    if (k.b[copy].ran && !k.b[copy].status && k.b[copy].median_s > 0)
        rcx.copy_gbs = k.b[copy].bytes / k.b[copy].median_s / 1e9;
    sg_machine mach;
    if (sg_machine_probe_backend(&mach, o->be, o->threads, err)) {
        rc = -1;
        goto done;
    }
    char run_id[96], tbuf[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(run_id, sizeof run_id, "bench-%.40s-%s-%s-%ld", s->name, o->be->name, mach.machine_id,
             (long)now);
    rcx.run_id = run_id;
    rcx.time_utc = tbuf;
    rcx.mach = &mach;

    int maxrows = k.nb + k.nu + 4 * s->nconfigs + 4, nrows = 0;
    sg_csv_row *rows = calloc((size_t)maxrows, sizeof *rows);
    SG_CHECK(rows != NULL, "out of memory");
    kb_row(&rows[nrows++], &rcx, "ceiling", "", &k.b[sgemm], "sgemm", 1, k.b[sgemm].flops,
           k.b[sgemm].bytes, k.b[sgemm].median_s, NAN, NAN);
    if (sgemm_dnnl >= 0)
        kb_row(&rows[nrows++], &rcx, "ceiling", "", &k.b[sgemm_dnnl], "sgemm_dnnl", 1,
               k.b[sgemm_dnnl].flops, k.b[sgemm_dnnl].bytes, k.b[sgemm_dnnl].median_s, NAN, NAN);
    kb_row(&rows[nrows++], &rcx, "ceiling", "", &k.b[copy], "copy", 1, 0, k.b[copy].bytes,
           k.b[copy].median_s, NAN, NAN);
    int mismatches = 0;
    for (int c = 0; c < s->nconfigs; c++) {
        const kb_bench *st = &k.b[first_step + c];
        double step_s = st->ran && !st->status ? st->median_s : NAN;
        double sum_kernels = 0, flops = 0, eig = 0;
        int eig_parts = 0, kernels_timed = 1;
        for (int j = 0; j < k.nu; j++) {
            const kb_use *u = &k.u[j];
            if (u->config != c) continue;
            const kb_bench *b = &k.b[u->bench];
            int timed = b->ran && !b->status && b->median_s > 0;
            mismatches += b->status == 1;
            double t = timed ? (double)u->calls * b->median_s : NAN;
            if (u->aug == 0) {
                flops += (double)u->calls * b->flops;
                if (timed) sum_kernels += t;
                else kernels_timed = 0;
                if (!strcmp(b->op, "corr_update") || !strcmp(b->op, "syevd") ||
                    !strcmp(b->op, "eig_rebuild") || !strcmp(b->op, "eig_map") ||
                    !strcmp(b->op, "directcopy_fill") || !strcmp(b->op, "eig_pair_scale") ||
                    !strcmp(b->op, "rank1_sub")) {
                    eig += t;
                    eig_parts++;
                }
            }
            static const char *const kinds[3] = {"kernel", "augment", "algorithm"};
            kb_row(&rows[nrows++], &rcx, kinds[u->aug], s->configs[c].name, b, b->op, u->calls,
                   b->flops, b->bytes, b->median_s, u->aug ? NAN : t / step_s, NAN);
        }
        if (eig_parts) {
            kb_bench e = {0};
            snprintf(e.shape, sizeof e.shape, "D=%d", k.set[c].proj_out);
            e.ran = isfinite(eig);
            e.median_s = eig;
            kb_row(&rows[nrows++], &rcx, "eigen_update", s->configs[c].name, &e,
                   "directpred_eigen_update", 1, 0, 0, eig, eig / step_s, NAN);
        }
        if (!st->status && st->ran) {
            kb_bench sb = *st;
            sb.flops = flops;
            kb_row(&rows[nrows++], &rcx, "step", s->configs[c].name, &sb, "step", 1, flops, 0,
                   st->median_s, 1.0, k.model_mib[c]);
            if (kernels_timed) {
                kb_bench ob = {0};
                snprintf(ob.shape, sizeof ob.shape, "%s", st->shape);
                ob.ran = 1;
                ob.median_s = step_s - sum_kernels;
                kb_row(&rows[nrows++], &rcx, "step_overhead", s->configs[c].name, &ob,
                       "outside_kernels", 1, 0, 0, ob.median_s, ob.median_s / step_s, NAN);
            }
            printf("step %-14s batch %4d: %9.3f ms, %8.1f img/s, kernels %5.1f%% of the step\n",
                   s->configs[c].name, k.batch[c], 1e3 * step_s, k.batch[c] / step_s,
                   kernels_timed ? 100.0 * sum_kernels / step_s : NAN);
            if (eig_parts)
                printf("     eigen-update (corr_update, syevd, eig_map, eig_rebuild, ...): %.3f "
                       "ms = %.2f%% of the step\n", 1e3 * eig, 100.0 * eig / step_s);
        } else if (st->status) {
            kb_row(&rows[nrows++], &rcx, "step", s->configs[c].name, st, "step", 1, flops, 0,
                   NAN, NAN, k.model_mib[c]);
        }
    }
    /* kernels named by no config use (filtered out) are not rows: every row says where it is from */
    for (int c = 0; c < 2; c++) {
        const int i = c ? sgemm_dnnl : sgemm;
        if (i >= 0 && k.b[i].ran && !k.b[i].status && k.b[i].median_s > 0)
            printf("ceiling %s %s: %.1f GFLOP/s\n", c ? "sgemm_dnnl" : "sgemm", k.b[i].shape,
                   k.b[i].flops / k.b[i].median_s / 1e9);
    }
    if (rcx.copy_gbs > 0) printf("ceiling copy %s: %.1f GB/s\n", k.b[copy].shape, rcx.copy_gbs);
    rc = sg_csv_write_atomic(o->csv_path, sg_kb_ncols(), sg_kb_header(), rows, (size_t)nrows, err);
    for (int j = 0; j < nrows; j++) sg_csv_row_free(&rows[j]);
    free(rows);
    if (rc == 0 && mismatches) {
        sg_errf(err, "%d kernel(s) did not match their reference; see status=mismatch in %s",
                mismatches, o->csv_path);
        rc = 1;
    }
done:
    free(k.b);
    free(k.u);
    return rc;
}
