/* kernels/cpu/conv_dnnl.c: the three conv2d passes and sgemm through oneDNN's C API, when the
 * build found oneDNN (SG_HAVE_DNNL); without it, sg_cpu_dnnl_available says why and the kernels
 * refuse to run.
 *
 * Primitives are created on a shape's first use and cached for the life of the process (creation
 * takes milliseconds; the cache is the one allocation this file makes, oneDNN's execution context
 * makes ~20 small ones per call inside the library). A cache entry is keyed
 * by shape, pass, layout choice and thread count: oneDNN's implementations fix their thread
 * partitioning (and scratchpad size) when created, so a primitive made for 1 thread is not reused
 * at 2. Scratchpads are user-provided (dnnl_scratchpad_mode_user), carved from the caller's
 * workspace like every other kernel's scratch memory.
 *
 * Layouts: the interface is NCHW / KCRS. With SG_DNNL_LAYOUT_BLOCKED the primitive picks its own
 * layouts (format_tag_any, nChw16c / OIhw16i16o on AVX-512) and reorders convert at the interface,
 * through buffers in the workspace; with SG_DNNL_LAYOUT_PLAIN it works on NCHW directly.
 * Measured in the STL-10 ResNet-18 BYOL step (batch 64, 2 threads, ONEDNN_VERBOSE): the reorders
 * are 9% of the oneDNN time (138 of 1541 ms per step; forward 68, backward data 32, backward
 * weights 38; activations 102, weights 36). None can be folded into the primitives: with any one
 * interface tensor left plain, oneDNN 2.6 leaves its jit kernels for gemm:jit at every shape of
 * that network, except the stem's 3-channel src, which the blocked plan already keeps plain. The
 * backward-data weights layout (OIhw16o16i) is not the forward's (OIhw16i16o), so the passes
 * cannot share one reordered copy of the weights either.
 *
 * Determinism: oneDNN's CPU primitives give each output element to one thread with a fixed
 * partitioning for a given thread count (checked by tests/kernels/test_conv_dnnl.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/cpu/conv_algos.h"

#ifdef SG_HAVE_DNNL

#include <omp.h>
#include <pthread.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#if DNNL_CPU_RUNTIME != DNNL_RUNTIME_OMP
#define DNNL_WRONG_RUNTIME 1
#endif

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_FILTER, NPASS };
static const char *pass_name[NPASS] = {"forward", "backward data", "backward weights"};

static sg_dnnl_layout layout_mode = SG_DNNL_LAYOUT_AUTO;

/* AUTO: blocked layouts with reorders. On NCHW oneDNN 2.6 falls back to its im2col + gemm
 * implementation (gemm:jit); with its own layouts it runs its direct jit convolutions, 1.25-3.2x
 * faster including the reorders at all four ResNet-18 STL-10 3x3 stride-1 shapes, all passes,
 * batch 64, 2 threads (AVX-512 machine). */
static int use_blocked(void) { return layout_mode != SG_DNNL_LAYOUT_PLAIN; }

int sg_cpu_dnnl_set_layout(sg_dnnl_layout layout) {
    if (layout != SG_DNNL_LAYOUT_AUTO && layout != SG_DNNL_LAYOUT_PLAIN &&
        layout != SG_DNNL_LAYOUT_BLOCKED)
        return -1;
    layout_mode = layout;
    return 0;
}

/* ---- engine and stream ------------------------------------------------------------------- */

static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static char engine_why[256] = "";

static void engine_init(void) {
#ifdef DNNL_WRONG_RUNTIME
    snprintf(engine_why, sizeof engine_why,
             "oneDNN was built with a CPU runtime other than OpenMP: its threads would compete "
             "with the backend's");
    return;
#else
    dnnl_status_t st = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (st == dnnl_success) st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (st != dnnl_success)
        snprintf(engine_why, sizeof engine_why, "oneDNN CPU engine or stream creation failed: %s",
                 dnnl_status2str(st));
#endif
}

int sg_cpu_dnnl_available(const char **why) {
    pthread_once(&engine_once, engine_init);
    if (why) *why = engine_why[0] ? engine_why : "available";
    return engine_why[0] == 0;
}

/* oneDNN errors abort with the call, the primitive and the shape. */
#define DNNL_OK(call, what, s)                                                                  \
    do {                                                                                        \
        dnnl_status_t st_ = (call);                                                             \
        SG_CHECK(st_ == dnnl_success,                                                           \
                 "oneDNN %s: %s failed: %s (conv N%d C%d %dx%d K%d %dx%d/%d pad %d)", (what),   \
                 #call, dnnl_status2str(st_), (s)->N, (s)->C, (s)->H, (s)->W, (s)->K, (s)->R,   \
                 (s)->S, (s)->stride, (s)->pad);                                                \
    } while (0)

/* ---- the primitive cache ------------------------------------------------------------------- */

typedef struct {
    sg_conv_shape s;
    int pass, blocked, threads;
    dnnl_primitive_t prim;
    /* per interface tensor: a reorder between the plain and the primitive's layout (NULL when
     * they agree), its buffer's offset in the workspace and size */
    dnnl_primitive_t reorder[3];
    dnnl_memory_t user_mem[3], prim_mem[3], scratch_mem;
    size_t buf_off[3], buf_bytes[3];
    size_t scratch_off, acc_off; /* acc: dw before it is added in (accumulate) */
    size_t workspace;
    pthread_mutex_t lock; /* memory objects get the call's pointers: one call at a time */
} dnnl_plan;

#define CACHE_MAX 1024 /* a ResNet-50 run needs ~60 (shapes x passes); the tests ~300 */
static dnnl_plan *cache[CACHE_MAX];
static int cache_n = 0;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_shape(const sg_conv_shape *a, const sg_conv_shape *b) {
    return a->N == b->N && a->C == b->C && a->H == b->H && a->W == b->W && a->K == b->K &&
           a->R == b->R && a->S == b->S && a->stride == b->stride && a->pad == b->pad &&
           a->P == b->P && a->Q == b->Q;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static void md_plain(dnnl_memory_desc_t *md, int a, int b, int c, int d, const sg_conv_shape *s) {
    dnnl_dims_t dims = {a, b, c, d};
    DNNL_OK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nchw), "memory desc", s);
}
static void md_any(dnnl_memory_desc_t *md, int a, int b, int c, int d, const sg_conv_shape *s) {
    dnnl_dims_t dims = {a, b, c, d};
    DNNL_OK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any),
            "memory desc", s);
}

static dnnl_plan *plan_create(const sg_conv_shape *s, int pass, int blocked, int threads) {
    const char *what = pass_name[pass];
    dnnl_memory_desc_t src, wei, dst, plain[3];
    md_plain(&plain[0], s->N, s->C, s->H, s->W, s); /* x / dx */
    md_plain(&plain[1], s->K, s->C, s->R, s->S, s); /* w / dw (oihw = KCRS) */
    md_plain(&plain[2], s->N, s->K, s->P, s->Q, s); /* y / dy */
    if (blocked) {
        md_any(&src, s->N, s->C, s->H, s->W, s);
        md_any(&wei, s->K, s->C, s->R, s->S, s);
        md_any(&dst, s->N, s->K, s->P, s->Q, s);
    } else {
        src = plain[0], wei = plain[1], dst = plain[2];
    }
    const dnnl_dims_t strides = {s->stride, s->stride}, pads = {s->pad, s->pad};
    dnnl_primitive_attr_t attr;
    DNNL_OK(dnnl_primitive_attr_create(&attr), what, s);
    DNNL_OK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), what, s);

    /* the forward descriptor: the primitive itself, or the hint of a backward one */
    dnnl_convolution_desc_t fd, bd;
    DNNL_OK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                               &src, &wei, NULL, &dst, strides, pads, pads),
            what, s);
    dnnl_primitive_desc_t fpd, pd;
    DNNL_OK(dnnl_primitive_desc_create(&fpd, &fd, attr, engine, NULL), what, s);
    if (pass == PASS_FWD) {
        pd = fpd;
    } else {
        if (pass == PASS_BWD_DATA)
            DNNL_OK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src,
                                                              &wei, &dst, strides, pads, pads),
                    what, s);
        else
            DNNL_OK(dnnl_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &src,
                                                                 &wei, NULL, &dst, strides, pads,
                                                                 pads),
                    what, s);
        DNNL_OK(dnnl_primitive_desc_create(&pd, &bd, attr, engine, fpd), what, s);
        DNNL_OK(dnnl_primitive_desc_destroy(fpd), what, s);
    }
    DNNL_OK(dnnl_primitive_attr_destroy(attr), what, s);

    dnnl_plan *p = malloc(sizeof *p);
    SG_CHECK(p != NULL, "oneDNN plan: out of memory");
    memset(p, 0, sizeof *p);
    p->s = *s;
    p->pass = pass;
    p->blocked = blocked;
    p->threads = threads;
    pthread_mutex_init(&p->lock, NULL);
    DNNL_OK(dnnl_primitive_create(&p->prim, pd), what, s);

    /* the primitive's layout of each interface tensor; interface index: x, w, y */
    static const dnnl_query_t queries[NPASS][3] = {
        {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
        {dnnl_query_diff_src_md, dnnl_query_weights_md, dnnl_query_diff_dst_md},
        {dnnl_query_src_md, dnnl_query_diff_weights_md, dnnl_query_diff_dst_md},
    };
    /* which interface tensor is the pass's output: bwd data writes x's, bwd filter w's */
    const int out_tensor = pass == PASS_FWD ? 2 : pass == PASS_BWD_DATA ? 0 : 1;
    size_t off = 0;
    for (int t = 0; t < 3; t++) {
        const dnnl_memory_desc_t *pmd = dnnl_primitive_desc_query_md(pd, queries[pass][t], 0);
        SG_CHECK(pmd != NULL, "oneDNN %s: no memory desc for tensor %d", what, t);
        DNNL_OK(dnnl_memory_create(&p->user_mem[t], &plain[t], engine, DNNL_MEMORY_NONE), what, s);
        if (dnnl_memory_desc_equal(pmd, &plain[t])) continue;
        DNNL_OK(dnnl_memory_create(&p->prim_mem[t], pmd, engine, DNNL_MEMORY_NONE), what, s);
        dnnl_primitive_desc_t rpd;
        const int out = t == out_tensor;
        DNNL_OK(dnnl_reorder_primitive_desc_create(&rpd, out ? pmd : &plain[t], engine,
                                                   out ? &plain[t] : pmd, engine, NULL),
                "reorder", s);
        DNNL_OK(dnnl_primitive_create(&p->reorder[t], rpd), "reorder", s);
        DNNL_OK(dnnl_primitive_desc_destroy(rpd), "reorder", s);
        p->buf_off[t] = off;
        p->buf_bytes[t] = dnnl_memory_desc_get_size(pmd);
        off += align64(p->buf_bytes[t]);
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const size_t sbytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    p->scratch_off = off;
    if (sbytes) {
        DNNL_OK(dnnl_memory_create(&p->scratch_mem, smd, engine, DNNL_MEMORY_NONE), what, s);
        off += align64(sbytes);
    }
    p->acc_off = off;
    if (pass == PASS_BWD_FILTER) off += align64((size_t)s->K * s->C * s->R * s->S * sizeof(float));
    p->workspace = off + 64; /* the base is aligned up to 64 bytes */
    DNNL_OK(dnnl_primitive_desc_destroy(pd), what, s);
    return p;
}

static const dnnl_plan *plan_get(const sg_conv_shape *s, int pass) {
    const char *why;
    SG_CHECK(sg_cpu_dnnl_available(&why), "oneDNN conv called but oneDNN is not usable: %s", why);
    const int blocked = use_blocked(), threads = omp_get_max_threads();
    pthread_mutex_lock(&cache_lock);
    dnnl_plan *p = NULL;
    for (int i = 0; i < cache_n && !p; i++)
        if (cache[i]->pass == pass && cache[i]->blocked == blocked &&
            cache[i]->threads == threads && same_shape(&cache[i]->s, s))
            p = cache[i];
    if (!p) {
        SG_CHECK(cache_n < CACHE_MAX, "oneDNN primitive cache full (%d shapes x passes)", CACHE_MAX);
        p = plan_create(s, pass, blocked, threads);
        cache[cache_n++] = p;
    }
    pthread_mutex_unlock(&cache_lock);
    return p;
}

static void check_shape(const sg_conv_shape *s) {
    SG_CHECK(s->N > 0 && s->C > 0 && s->K > 0 && s->R > 0 && s->S > 0 && s->stride > 0 &&
                 s->pad >= 0 && s->P == (s->H + 2 * s->pad - s->R) / s->stride + 1 &&
                 s->Q == (s->W + 2 * s->pad - s->S) / s->stride + 1 && s->P > 0 && s->Q > 0,
             "oneDNN conv: bad shape N%d C%d %dx%d K%d %dx%d/%d pad %d P%d Q%d (use "
             "sg_conv_shape_make)",
             s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride, s->pad, s->P, s->Q);
}

size_t sg_cpu_dnnl_workspace_bytes(const sg_conv_shape *s) {
    check_shape(s);
    size_t most = 0;
    for (int pass = 0; pass < NPASS; pass++) {
        const dnnl_plan *p = plan_get(s, pass);
        if (p->workspace > most) most = p->workspace;
    }
    return most;
}

/* Runs one pass: t[0..2] are the interface tensors x, w, y (const-ness per pass). */
static void run(const sg_conv_shape *s, int pass, float *t[3], int accumulate, void *workspace) {
    check_shape(s);
    dnnl_plan *p = (dnnl_plan *)plan_get(s, pass);
    const char *what = pass_name[pass];
    SG_CHECK(workspace != NULL, "oneDNN %s needs a workspace", what);
    char *ws = (char *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    const int out_tensor = pass == PASS_FWD ? 2 : pass == PASS_BWD_DATA ? 0 : 1;
    float *dw_out = t[1];
    if (pass == PASS_BWD_FILTER && accumulate) t[1] = (float *)(ws + p->acc_off);

    pthread_mutex_lock(&p->lock);
    /* the argument roles of the pass, in x, w, y order */
    static const int role_of[NPASS][3] = {
        {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
        {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST},
        {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST},
    };
    dnnl_exec_arg_t args[4];
    int nargs = 0;
    for (int i = 0; i < 3; i++) {
        DNNL_OK(dnnl_memory_set_data_handle(p->user_mem[i], t[i]), what, s);
        dnnl_memory_t mem = p->user_mem[i];
        if (p->reorder[i]) {
            DNNL_OK(dnnl_memory_set_data_handle(p->prim_mem[i], ws + p->buf_off[i]), what, s);
            mem = p->prim_mem[i];
        }
        args[nargs++] = (dnnl_exec_arg_t){role_of[pass][i], mem};
    }
    if (p->scratch_mem) {
        DNNL_OK(dnnl_memory_set_data_handle(p->scratch_mem, ws + p->scratch_off), what, s);
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratch_mem};
    }
    /* inputs into the primitive's layouts */
    for (int i = 0; i < 3; i++) {
        if (!p->reorder[i] || i == out_tensor) continue;
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->user_mem[i]}, {DNNL_ARG_TO, p->prim_mem[i]}};
        DNNL_OK(dnnl_primitive_execute(p->reorder[i], stream, 2, r), "reorder in", s);
    }
    DNNL_OK(dnnl_primitive_execute(p->prim, stream, nargs, args), what, s);
    if (p->reorder[out_tensor]) {
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, p->prim_mem[out_tensor]},
                                {DNNL_ARG_TO, p->user_mem[out_tensor]}};
        DNNL_OK(dnnl_primitive_execute(p->reorder[out_tensor], stream, 2, r), "reorder out", s);
    }
    DNNL_OK(dnnl_stream_wait(stream), what, s);
    pthread_mutex_unlock(&p->lock);

    if (pass == PASS_BWD_FILTER && accumulate) { /* dw += the gradient, elementwise */
        const float *g = t[1];
        const long n = (long)s->K * s->C * s->R * s->S;
#pragma omp parallel for schedule(static) if (n > 32768)
        for (long i = 0; i < n; i++) dw_out[i] += g[i];
    }
}

void sg_cpu_dnnl_fwd(const sg_conv_shape *s, const float *x, const float *w, float *y,
                     void *workspace) {
    float *t[3] = {(float *)x, (float *)w, y}; /* oneDNN's handles are not const */
    run(s, PASS_FWD, t, 0, workspace);
}

void sg_cpu_dnnl_bwd_data(const sg_conv_shape *s, const float *dy, const float *w, float *dx,
                          void *workspace) {
    float *t[3] = {dx, (float *)w, (float *)dy};
    run(s, PASS_BWD_DATA, t, 0, workspace);
}

void sg_cpu_dnnl_bwd_filter(const sg_conv_shape *s, const float *x, const float *dy, float *dw,
                            int accumulate, void *workspace) {
    float *t[3] = {(float *)x, dw, (float *)dy};
    run(s, PASS_BWD_FILTER, t, accumulate, workspace);
}

const char *sg_cpu_dnnl_impl(const sg_conv_shape *s, int pass) {
    SG_CHECK(pass >= 0 && pass < NPASS, "oneDNN pass %d", pass);
    const dnnl_plan *p = plan_get(s, pass);
    const_dnnl_primitive_desc_t pd;
    DNNL_OK(dnnl_primitive_get_primitive_desc(p->prim, &pd), pass_name[pass], s);
    const char *impl = NULL;
    DNNL_OK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl), pass_name[pass], s);
    return impl;
}

void sg_cpu_dnnl_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    const char *why;
    SG_CHECK(sg_cpu_dnnl_available(&why), "dnnl_sgemm called but oneDNN is not usable: %s", why);
    SG_CHECK(M >= 0 && N >= 0 && K >= 0, "dnnl_sgemm M%d N%d K%d", M, N, K);
    if (M == 0 || N == 0) return;
    dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda,
                                  B, ldb, beta, C, ldc);
    SG_CHECK(st == dnnl_success,
             "oneDNN dnnl_sgemm failed: %s (M%d N%d K%d transA%d transB%d lda%d ldb%d ldc%d)",
             dnnl_status2str(st), M, N, K, transA, transB, lda, ldb, ldc);
}

#else /* !SG_HAVE_DNNL */

/* Built without oneDNN: callers check sg_cpu_dnnl_available first; a kernel called anyway is a
 * programming error and stops with the reason. */
static const char *not_built =
    "not built: oneDNN (libdnnl-dev) was not found when this binary was configured";

int sg_cpu_dnnl_available(const char **why) {
    if (why) *why = not_built;
    return 0;
}
int sg_cpu_dnnl_set_layout(sg_dnnl_layout layout) {
    (void)layout;
    return -1;
}
#define REFUSE(name) SG_CHECK(0, "%s: oneDNN %s", name, not_built)
size_t sg_cpu_dnnl_workspace_bytes(const sg_conv_shape *s) {
    (void)s;
    REFUSE("sg_cpu_dnnl_workspace_bytes");
    return 0;
}
void sg_cpu_dnnl_fwd(const sg_conv_shape *s, const float *x, const float *w, float *y,
                     void *workspace) {
    (void)s, (void)x, (void)w, (void)y, (void)workspace;
    REFUSE("sg_cpu_dnnl_fwd");
}
void sg_cpu_dnnl_bwd_data(const sg_conv_shape *s, const float *dy, const float *w, float *dx,
                          void *workspace) {
    (void)s, (void)dy, (void)w, (void)dx, (void)workspace;
    REFUSE("sg_cpu_dnnl_bwd_data");
}
void sg_cpu_dnnl_bwd_filter(const sg_conv_shape *s, const float *x, const float *dy, float *dw,
                            int accumulate, void *workspace) {
    (void)s, (void)x, (void)dy, (void)dw, (void)accumulate, (void)workspace;
    REFUSE("sg_cpu_dnnl_bwd_filter");
}
const char *sg_cpu_dnnl_impl(const sg_conv_shape *s, int pass) {
    (void)s, (void)pass;
    REFUSE("sg_cpu_dnnl_impl");
    return "";
}
void sg_cpu_dnnl_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    (void)transA, (void)transB, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda;
    (void)B, (void)ldb, (void)beta, (void)C, (void)ldc;
    REFUSE("sg_cpu_dnnl_sgemm");
}

#endif /* SG_HAVE_DNNL */
