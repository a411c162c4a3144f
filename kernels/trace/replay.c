/* kernels/trace/replay.c: the replaying backend (see replay.h). Every recordable slot packs its
 * arguments into one record and hands it to put(), which runs it at once outside a recording and
 * appends it to the graph inside one; run() is the one place a record reaches the wrapped
 * backend, so a call made directly and the same call launched from a graph take the same path. */
#include "kernels/trace/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/backend.h"
#include "kernels/ops.h"

typedef struct graph graph;

struct sg_replay {
    sg_backend be;           /* the replaying backend handed out */
    const sg_backend *inner; /* the backend calls run on */
    char name[64];
    graph *cur; /* the graph being recorded; NULL when not recording */
    long launches, last_calls;
};

#define R(be) ((sg_replay *)(be)->state)
#define IN(be) (R(be)->inner)

/* ---- records: one kind per recordable slot, its arguments by value ------------------------ */

typedef enum {
    K_gemm, K_linear_fwd, K_linear_bwd, K_conv2d_fwd, K_conv2d_bwd_data, K_conv2d_bwd_filter,
    K_batchnorm_fwd_train, K_batchnorm_fwd_eval, K_batchnorm_bwd, K_batchnorm_sums,
    K_batchnorm_bwd_apply, K_batchnorm_relu_fwd, K_batchnorm_relu_bwd, K_relu_fwd, K_relu_bwd,
    K_add_fwd, K_add_bwd, K_maxpool_fwd, K_maxpool_bwd, K_avgpool_global_fwd,
    K_avgpool_global_bwd, K_pair_loss_fwd, K_pair_loss_bwd, K_sgd_step, K_lars_step,
    K_ema_update, K_corr_update, K_eig_rebuild, K_eig_map, K_pred_symmetrize, K_directcopy_fill,
    K_eig_pair_scale, K_rank1_sub, K_aug_u8_to_float, K_aug_resized_crop, K_aug_hflip,
    K_aug_color_jitter, K_aug_grayscale, K_aug_gaussian_blur, K_aug_solarize, K_aug_normalize,
    K_aug_views, K_syevd, K_mem_copy, K_mem_zero
} kind;

/* Slots with the same parameters share a struct (fields in the slot's parameter order). */
typedef struct {
    int tA, tB, M, N, K;
    float alpha;
    const float *A;
    int lda;
    const float *B;
    int ldb;
    float beta;
    float *C;
    int ldc;
} a_gemm;
typedef struct {
    int N, In, Out;
    const float *x, *W, *b;
    float *y;
} a_linear_fwd;
typedef struct {
    int N, In, Out;
    const float *x, *W, *dy;
    float *dx, *dW, *db;
    int acc;
} a_linear_bwd;
/* fwd (x, w -> y), bwd_data (dy, w -> dx), bwd_filter (x, dy -> dw, acc); the shape by value */
typedef struct {
    sg_conv_shape s;
    const float *in0, *in1;
    float *out;
    int acc;
    void *ws;
} a_conv;
/* batchnorm_fwd_train and batchnorm_relu_fwd */
typedef struct {
    int N, C, HW;
    const float *x, *gamma, *beta;
    float eps, momentum;
    float *rm, *rv, *mean, *invstd, *y;
} a_bn_train;
typedef struct {
    int N, C, HW;
    const float *x, *gamma, *beta;
    float eps;
    const float *rm, *rv;
    float *y;
} a_bn_eval;
/* batchnorm_bwd (y unused) and batchnorm_relu_bwd */
typedef struct {
    int N, C, HW;
    const float *x, *y, *gamma, *mean, *invstd, *dy;
    float *dx, *dgamma, *dbeta;
    int acc;
} a_bn_bwd;
typedef struct {
    int N, C, HW;
    const float *x, *center, *dy;
    double *sums;
} a_bn_sums;
typedef struct {
    int N, C, HW;
    const float *x, *gamma, *mean, *invstd, *dy;
    const double *sums;
    double M;
    float *dx;
} a_bn_apply;
/* relu_fwd (x -> y), relu_bwd (y, dy -> dx), add_fwd (a, b -> y): n, two inputs, one output */
typedef struct {
    size_t n;
    const float *in0, *in1;
    float *out;
} a_ew;
typedef struct {
    size_t n;
    const float *dy;
    float *da, *db;
    int acc;
} a_add_bwd;
typedef struct {
    sg_pool_shape s;
    const float *x;
    float *y;
    int32_t *am;
} a_maxpool_fwd;
typedef struct {
    sg_pool_shape s;
    const float *dy;
    const int32_t *am;
    float *dx;
} a_maxpool_bwd;
/* avgpool_global_fwd (x -> y) and _bwd (dy -> dx) */
typedef struct {
    int N, C, HW;
    const float *in;
    float *out;
} a_avg;
/* pair_loss_fwd (-> row_loss in dp) and pair_loss_bwd (scale -> dp, dz) */
typedef struct {
    int N, D, normalize;
    const float *p, *z;
    float scale;
    float *dp, *dz;
} a_loss;
typedef struct {
    int ngroups;
    const sg_sgd_group *groups; /* the record's own copy */
    float momentum;
} a_sgd;
typedef struct {
    int ngroups;
    const sg_lars_group *groups; /* the record's own copy */
    float lr, momentum, eta;
} a_lars;
typedef struct {
    size_t n;
    float m;
    const float *m_at;
    const float *online;
    float *target;
} a_ema;
typedef struct {
    int N, D;
    const float *f;
    float rho;
    int init, center;
    float *F, *work;
} a_corr;
typedef struct {
    int D;
    const float *V, *p;
    float *W, *work;
} a_rebuild;
typedef struct {
    int D;
    const float *s;
    float *p;
    int mode;
    double eps, shift_c;
} a_eig_map;
typedef struct {
    int R, C;
    float *A, *B;
} a_sym;
typedef struct {
    int D;
    const float *F, *s;
    int normalize;
    double eps;
    float *W;
} a_dcopy;
typedef struct {
    int D;
    float *X;
    const float *s;
    double reg;
} a_pscale;
typedef struct {
    int D;
    const float *mu;
    float *V;
} a_rank1;
/* syevd with its status left in backend memory (info_at): it waits for nothing, so it records */
typedef struct {
    int D;
    float *A, *w;
    void *work;
    int *info_at;
} a_syevd;
typedef struct {
    size_t n;
    const uint8_t *src;
    float *dst;
} a_u8;
typedef struct {
    int C, H, W;
    const float *src;
    float y0, x0, h, w;
    int oH, oW;
    float *dst;
} a_crop;
typedef struct {
    int C, H, W;
    const float *src;
    float *dst;
} a_hflip;
typedef struct {
    int H, W;
    float *img;
    float b, c, s, hue;
    int order[4]; /* by value */
} a_jitter;
typedef struct {
    int H, W;
    float *img;
} a_gray;
typedef struct {
    int C, H, W;
    const float *src;
    float *dst;
    int ksize;
    float sigma;
    float *work;
} a_blur;
typedef struct {
    size_t n;
    float *img;
    float th;
} a_solarize;
typedef struct {
    int C, HW;
    float *img;
    const float *mean, *std; /* the record's own copy, one block */
} a_norm;
typedef struct {
    int N, Cin, H, W;
    const uint8_t *src;
    int C, S;
    const sg_aug_view *view; /* the record's own copy, one block with mean and std */
    int ksize;
    const float *mean, *std; /* NULL, or in that block after the views */
    float *dst;
    void *work;
} a_views;
/* mem_copy (src -> dst) and mem_zero (src NULL) */
typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} a_mem;

typedef struct {
    kind k;
    union {
        a_gemm gemm;
        a_linear_fwd linear_fwd;
        a_linear_bwd linear_bwd;
        a_conv conv;
        a_bn_train bn_train;
        a_bn_eval bn_eval;
        a_bn_bwd bn_bwd;
        a_bn_sums bn_sums;
        a_bn_apply bn_apply;
        a_ew ew;
        a_add_bwd add_bwd;
        a_maxpool_fwd maxpool_fwd;
        a_maxpool_bwd maxpool_bwd;
        a_avg avg;
        a_loss loss;
        a_sgd sgd;
        a_lars lars;
        a_ema ema;
        a_corr corr;
        a_rebuild rebuild;
        a_eig_map eig_map;
        a_sym sym;
        a_dcopy dcopy;
        a_pscale pscale;
        a_rank1 rank1;
        a_syevd syevd;
        a_u8 u8;
        a_crop crop;
        a_hflip hflip;
        a_jitter jitter;
        a_gray gray;
        a_blur blur;
        a_solarize solarize;
        a_norm norm;
        a_views views;
        a_mem mem;
    } u;
    void *own; /* host table copied at record time, freed with the graph */
} rec;

struct graph {
    const sg_replay *owner;
    rec *r;
    long n, cap;
};

/* Runs one record on the wrapped backend. */
static void run(const sg_backend *in, const rec *r) {
    switch (r->k) {
    case K_gemm: {
        const a_gemm *a = &r->u.gemm;
        in->gemm(in, a->tA, a->tB, a->M, a->N, a->K, a->alpha, a->A, a->lda, a->B, a->ldb,
                 a->beta, a->C, a->ldc);
        break;
    }
    case K_linear_fwd: {
        const a_linear_fwd *a = &r->u.linear_fwd;
        in->linear_fwd(in, a->N, a->In, a->Out, a->x, a->W, a->b, a->y);
        break;
    }
    case K_linear_bwd: {
        const a_linear_bwd *a = &r->u.linear_bwd;
        in->linear_bwd(in, a->N, a->In, a->Out, a->x, a->W, a->dy, a->dx, a->dW, a->db, a->acc);
        break;
    }
    case K_conv2d_fwd: {
        const a_conv *a = &r->u.conv;
        in->conv2d_fwd(in, &a->s, a->in0, a->in1, a->out, a->ws);
        break;
    }
    case K_conv2d_bwd_data: {
        const a_conv *a = &r->u.conv;
        in->conv2d_bwd_data(in, &a->s, a->in0, a->in1, a->out, a->ws);
        break;
    }
    case K_conv2d_bwd_filter: {
        const a_conv *a = &r->u.conv;
        in->conv2d_bwd_filter(in, &a->s, a->in0, a->in1, a->out, a->acc, a->ws);
        break;
    }
    case K_batchnorm_fwd_train:
    case K_batchnorm_relu_fwd: {
        const a_bn_train *a = &r->u.bn_train;
        (r->k == K_batchnorm_fwd_train ? in->batchnorm_fwd_train : in->batchnorm_relu_fwd)(
            in, a->N, a->C, a->HW, a->x, a->gamma, a->beta, a->eps, a->momentum, a->rm, a->rv,
            a->mean, a->invstd, a->y);
        break;
    }
    case K_batchnorm_fwd_eval: {
        const a_bn_eval *a = &r->u.bn_eval;
        in->batchnorm_fwd_eval(in, a->N, a->C, a->HW, a->x, a->gamma, a->beta, a->eps, a->rm,
                               a->rv, a->y);
        break;
    }
    case K_batchnorm_bwd: {
        const a_bn_bwd *a = &r->u.bn_bwd;
        in->batchnorm_bwd(in, a->N, a->C, a->HW, a->x, a->gamma, a->mean, a->invstd, a->dy,
                          a->dx, a->dgamma, a->dbeta, a->acc);
        break;
    }
    case K_batchnorm_relu_bwd: {
        const a_bn_bwd *a = &r->u.bn_bwd;
        in->batchnorm_relu_bwd(in, a->N, a->C, a->HW, a->x, a->y, a->gamma, a->mean, a->invstd,
                               a->dy, a->dx, a->dgamma, a->dbeta, a->acc);
        break;
    }
    case K_batchnorm_sums: {
        const a_bn_sums *a = &r->u.bn_sums;
        in->batchnorm_sums(in, a->N, a->C, a->HW, a->x, a->center, a->dy, a->sums);
        break;
    }
    case K_batchnorm_bwd_apply: {
        const a_bn_apply *a = &r->u.bn_apply;
        in->batchnorm_bwd_apply(in, a->N, a->C, a->HW, a->x, a->gamma, a->mean, a->invstd,
                                a->dy, a->sums, a->M, a->dx);
        break;
    }
    case K_relu_fwd: in->relu_fwd(in, r->u.ew.n, r->u.ew.in0, r->u.ew.out); break;
    case K_relu_bwd: in->relu_bwd(in, r->u.ew.n, r->u.ew.in0, r->u.ew.in1, r->u.ew.out); break;
    case K_add_fwd: in->add_fwd(in, r->u.ew.n, r->u.ew.in0, r->u.ew.in1, r->u.ew.out); break;
    case K_add_bwd: {
        const a_add_bwd *a = &r->u.add_bwd;
        in->add_bwd(in, a->n, a->dy, a->da, a->db, a->acc);
        break;
    }
    case K_maxpool_fwd: {
        const a_maxpool_fwd *a = &r->u.maxpool_fwd;
        in->maxpool_fwd(in, &a->s, a->x, a->y, a->am);
        break;
    }
    case K_maxpool_bwd: {
        const a_maxpool_bwd *a = &r->u.maxpool_bwd;
        in->maxpool_bwd(in, &a->s, a->dy, a->am, a->dx);
        break;
    }
    case K_avgpool_global_fwd:
    case K_avgpool_global_bwd: {
        const a_avg *a = &r->u.avg;
        (r->k == K_avgpool_global_fwd ? in->avgpool_global_fwd : in->avgpool_global_bwd)(
            in, a->N, a->C, a->HW, a->in, a->out);
        break;
    }
    case K_pair_loss_fwd: {
        const a_loss *a = &r->u.loss;
        in->pair_loss_fwd(in, a->N, a->D, a->normalize, a->p, a->z, a->dp);
        break;
    }
    case K_pair_loss_bwd: {
        const a_loss *a = &r->u.loss;
        in->pair_loss_bwd(in, a->N, a->D, a->normalize, a->p, a->z, a->scale, a->dp, a->dz);
        break;
    }
    case K_sgd_step: in->sgd_step(in, r->u.sgd.ngroups, r->u.sgd.groups, r->u.sgd.momentum); break;
    case K_lars_step: {
        const a_lars *a = &r->u.lars;
        in->lars_step(in, a->ngroups, a->groups, a->lr, a->momentum, a->eta);
        break;
    }
    case K_ema_update: {
        const a_ema *a = &r->u.ema;
        in->ema_update(in, a->n, a->m, a->m_at, a->online, a->target);
        break;
    }
    case K_corr_update: {
        const a_corr *a = &r->u.corr;
        in->corr_update(in, a->N, a->D, a->f, a->rho, a->init, a->center, a->F, a->work);
        break;
    }
    case K_eig_rebuild: {
        const a_rebuild *a = &r->u.rebuild;
        in->eig_rebuild(in, a->D, a->V, a->p, a->W, a->work);
        break;
    }
    case K_eig_map: {
        const a_eig_map *a = &r->u.eig_map;
        in->eig_map(in, a->D, a->s, a->p, a->mode, a->eps, a->shift_c);
        break;
    }
    case K_pred_symmetrize:
        in->pred_symmetrize(in, r->u.sym.R, r->u.sym.C, r->u.sym.A, r->u.sym.B);
        break;
    case K_directcopy_fill: {
        const a_dcopy *a = &r->u.dcopy;
        in->directcopy_fill(in, a->D, a->F, a->s, a->normalize, a->eps, a->W);
        break;
    }
    case K_eig_pair_scale: {
        const a_pscale *a = &r->u.pscale;
        in->eig_pair_scale(in, a->D, a->X, a->s, a->reg);
        break;
    }
    case K_rank1_sub: in->rank1_sub(in, r->u.rank1.D, r->u.rank1.mu, r->u.rank1.V); break;
    case K_syevd: {
        const a_syevd *a = &r->u.syevd;
        (void)in->syevd(in, a->D, a->A, a->w, a->work, a->info_at);
        break;
    }
    case K_aug_u8_to_float: in->aug_u8_to_float(in, r->u.u8.n, r->u.u8.src, r->u.u8.dst); break;
    case K_aug_resized_crop: {
        const a_crop *a = &r->u.crop;
        in->aug_resized_crop(in, a->C, a->H, a->W, a->src, a->y0, a->x0, a->h, a->w, a->oH,
                             a->oW, a->dst);
        break;
    }
    case K_aug_hflip: {
        const a_hflip *a = &r->u.hflip;
        in->aug_hflip(in, a->C, a->H, a->W, a->src, a->dst);
        break;
    }
    case K_aug_color_jitter: {
        const a_jitter *a = &r->u.jitter;
        in->aug_color_jitter(in, a->H, a->W, a->img, a->b, a->c, a->s, a->hue, a->order);
        break;
    }
    case K_aug_grayscale: in->aug_grayscale(in, r->u.gray.H, r->u.gray.W, r->u.gray.img); break;
    case K_aug_gaussian_blur: {
        const a_blur *a = &r->u.blur;
        in->aug_gaussian_blur(in, a->C, a->H, a->W, a->src, a->dst, a->ksize, a->sigma, a->work);
        break;
    }
    case K_aug_solarize: {
        const a_solarize *a = &r->u.solarize;
        in->aug_solarize(in, a->n, a->img, a->th);
        break;
    }
    case K_aug_normalize: {
        const a_norm *a = &r->u.norm;
        in->aug_normalize(in, a->C, a->HW, a->img, a->mean, a->std);
        break;
    }
    case K_aug_views: {
        const a_views *a = &r->u.views;
        in->aug_views(in, a->N, a->Cin, a->H, a->W, a->src, a->C, a->S, a->view, a->ksize,
                      a->mean, a->std, a->dst, a->work);
        break;
    }
    case K_mem_copy: in->mem_copy(in, r->u.mem.dst, r->u.mem.src, r->u.mem.bytes); break;
    case K_mem_zero: in->mem_zero(in, r->u.mem.dst, r->u.mem.bytes); break;
    }
}

/* bytes of p (p NULL: uninitialised), owned by the graph */
static void *dup_table(const void *p, size_t bytes) {
    void *q = malloc(bytes ? bytes : 1);
    SG_CHECK(q != NULL, "out of memory recording a graph");
    if (p && bytes) memcpy(q, p, bytes);
    return q;
}

/* Runs r now, or records it. A recorded call keeps its own copy of the host tables it points to
 * (a captured launch holds its arguments, the caller may reuse the tables at once); shapes and
 * the jitter order already travel by value. */
static void put(const sg_backend *be, rec r) {
    sg_replay *p = R(be);
    if (!p->cur) {
        run(p->inner, &r);
        return;
    }
    if (r.k == K_sgd_step)
        r.u.sgd.groups = r.own =
            dup_table(r.u.sgd.groups, (size_t)r.u.sgd.ngroups * sizeof(sg_sgd_group));
    else if (r.k == K_lars_step)
        r.u.lars.groups = r.own =
            dup_table(r.u.lars.groups, (size_t)r.u.lars.ngroups * sizeof(sg_lars_group));
    else if (r.k == K_aug_normalize) {
        const size_t c = (size_t)r.u.norm.C;
        float *t = r.own = dup_table(NULL, 2 * c * sizeof(float));
        memcpy(t, r.u.norm.mean, c * sizeof(float));
        memcpy(t + c, r.u.norm.std, c * sizeof(float));
        r.u.norm.mean = t;
        r.u.norm.std = t + c;
    } else if (r.k == K_aug_views) {
        /* the views, then mean and std when given (a view is 4-byte aligned, as floats are) */
        const size_t nv = (size_t)r.u.views.N * sizeof(sg_aug_view);
        const size_t c = r.u.views.mean ? (size_t)r.u.views.C : 0;
        char *t = r.own = dup_table(NULL, nv + 2 * c * sizeof(float));
        memcpy(t, r.u.views.view, nv);
        r.u.views.view = (const sg_aug_view *)t;
        if (c) {
            float *ms = (float *)(t + nv);
            memcpy(ms, r.u.views.mean, c * sizeof(float));
            memcpy(ms + c, r.u.views.std, c * sizeof(float));
            r.u.views.mean = ms;
            r.u.views.std = ms + c;
        }
    }
    graph *g = p->cur;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 256;
        g->r = realloc(g->r, (size_t)g->cap * sizeof *g->r);
        SG_CHECK(g->r != NULL, "out of memory recording a graph");
    }
    g->r[g->n++] = r;
}

/* ---- the recordable slots ------------------------------------------------------------------ */

#define PUT(be, K, member, ...) put((be), (rec){K_##K, .u.member = {__VA_ARGS__}})

static void r_gemm(const sg_backend *be, int tA, int tB, int M, int N, int K, float alpha,
                   const float *A, int lda, const float *B, int ldb, float beta, float *C,
                   int ldc) {
    PUT(be, gemm, gemm, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
static void r_linear_fwd(const sg_backend *be, int N, int In, int Out, const float *x,
                         const float *W, const float *b, float *y) {
    PUT(be, linear_fwd, linear_fwd, N, In, Out, x, W, b, y);
}
static void r_linear_bwd(const sg_backend *be, int N, int In, int Out, const float *x,
                         const float *W, const float *dy, float *dx, float *dW, float *db,
                         int acc) {
    PUT(be, linear_bwd, linear_bwd, N, In, Out, x, W, dy, dx, dW, db, acc);
}
/* a pure function of the shape, so it is asked for even while recording */
static size_t r_conv_ws(const sg_backend *be, const sg_conv_shape *s) {
    return IN(be)->conv2d_workspace_bytes(IN(be), s);
}
static void r_conv_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x,
                       const float *w, float *y, void *ws) {
    PUT(be, conv2d_fwd, conv, *s, x, w, y, 0, ws);
}
static void r_conv_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                            const float *w, float *dx, void *ws) {
    PUT(be, conv2d_bwd_data, conv, *s, dy, w, dx, 0, ws);
}
static void r_conv_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                              const float *dy, float *dw, int acc, void *ws) {
    PUT(be, conv2d_bwd_filter, conv, *s, x, dy, dw, acc, ws);
}
static void r_bn_train(const sg_backend *be, int N, int C, int HW, const float *x,
                       const float *gamma, const float *beta, float eps, float momentum,
                       float *rm, float *rv, float *mean, float *invstd, float *y) {
    PUT(be, batchnorm_fwd_train, bn_train, N, C, HW, x, gamma, beta, eps, momentum, rm, rv,
        mean, invstd, y);
}
static void r_bn_eval(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *gamma, const float *beta, float eps, const float *rm,
                      const float *rv, float *y) {
    PUT(be, batchnorm_fwd_eval, bn_eval, N, C, HW, x, gamma, beta, eps, rm, rv, y);
}
static void r_bn_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                     const float *gamma, const float *mean, const float *invstd, const float *dy,
                     float *dx, float *dgamma, float *dbeta, int acc) {
    PUT(be, batchnorm_bwd, bn_bwd, N, C, HW, x, NULL, gamma, mean, invstd, dy, dx, dgamma,
        dbeta, acc);
}
static void r_bn_sums(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *center, const float *dy, double *sums) {
    PUT(be, batchnorm_sums, bn_sums, N, C, HW, x, center, dy, sums);
}
static void r_bn_bwd_apply(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *gamma, const float *mean, const float *invstd,
                           const float *dy, const double *sums, double M, float *dx) {
    PUT(be, batchnorm_bwd_apply, bn_apply, N, C, HW, x, gamma, mean, invstd, dy, sums, M, dx);
}
static void r_bn_relu_train(const sg_backend *be, int N, int C, int HW, const float *x,
                            const float *gamma, const float *beta, float eps, float momentum,
                            float *rm, float *rv, float *mean, float *invstd, float *y) {
    PUT(be, batchnorm_relu_fwd, bn_train, N, C, HW, x, gamma, beta, eps, momentum, rm, rv,
        mean, invstd, y);
}
static void r_bn_relu_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                          const float *y, const float *gamma, const float *mean,
                          const float *invstd, const float *dy, float *dx, float *dgamma,
                          float *dbeta, int acc) {
    PUT(be, batchnorm_relu_bwd, bn_bwd, N, C, HW, x, y, gamma, mean, invstd, dy, dx, dgamma,
        dbeta, acc);
}
static void r_relu_fwd(const sg_backend *be, size_t n, const float *x, float *y) {
    PUT(be, relu_fwd, ew, n, x, NULL, y);
}
static void r_relu_bwd(const sg_backend *be, size_t n, const float *y, const float *dy,
                       float *dx) {
    PUT(be, relu_bwd, ew, n, y, dy, dx);
}
static void r_add_fwd(const sg_backend *be, size_t n, const float *a, const float *b, float *y) {
    PUT(be, add_fwd, ew, n, a, b, y);
}
static void r_add_bwd(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                      int acc) {
    PUT(be, add_bwd, add_bwd, n, dy, da, db, acc);
}
static void r_maxpool_fwd(const sg_backend *be, const sg_pool_shape *s, const float *x, float *y,
                          int32_t *am) {
    PUT(be, maxpool_fwd, maxpool_fwd, *s, x, y, am);
}
static void r_maxpool_bwd(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                          const int32_t *am, float *dx) {
    PUT(be, maxpool_bwd, maxpool_bwd, *s, dy, am, dx);
}
static void r_avg_fwd(const sg_backend *be, int N, int C, int HW, const float *x, float *y) {
    PUT(be, avgpool_global_fwd, avg, N, C, HW, x, y);
}
static void r_avg_bwd(const sg_backend *be, int N, int C, int HW, const float *dy, float *dx) {
    PUT(be, avgpool_global_bwd, avg, N, C, HW, dy, dx);
}
static void r_loss_fwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                       const float *z, float *l) {
    PUT(be, pair_loss_fwd, loss, N, D, normalize, p, z, 0.0f, l, NULL);
}
static void r_loss_bwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                       const float *z, float scale, float *dp, float *dz) {
    PUT(be, pair_loss_bwd, loss, N, D, normalize, p, z, scale, dp, dz);
}
static void r_sgd(const sg_backend *be, int ng, const sg_sgd_group *g, float momentum) {
    PUT(be, sgd_step, sgd, ng, g, momentum);
}
static void r_lars(const sg_backend *be, int ng, const sg_lars_group *g, float lr, float mom,
                   float eta) {
    PUT(be, lars_step, lars, ng, g, lr, mom, eta);
}
static void r_ema(const sg_backend *be, size_t n, float m, const float *m_at,
                  const float *online, float *target) {
    PUT(be, ema_update, ema, n, m, m_at, online, target);
}
static void r_corr(const sg_backend *be, int N, int D, const float *f, float rho, int init,
                   int center, float *F, float *work) {
    PUT(be, corr_update, corr, N, D, f, rho, init, center, F, work);
}
static void r_eig_rebuild(const sg_backend *be, int D, const float *V, const float *p, float *W,
                          float *work) {
    PUT(be, eig_rebuild, rebuild, D, V, p, W, work);
}
static void r_eig_map(const sg_backend *be, int D, const float *s, float *p, int mode,
                      double eps, double shift_c) {
    PUT(be, eig_map, eig_map, D, s, p, mode, eps, shift_c);
}
static void r_pred_sym(const sg_backend *be, int R, int C, float *A, float *B) {
    PUT(be, pred_symmetrize, sym, R, C, A, B);
}
static void r_dcopy(const sg_backend *be, int D, const float *F, const float *s, int normalize,
                    double eps, float *W) {
    PUT(be, directcopy_fill, dcopy, D, F, s, normalize, eps, W);
}
static void r_pair_scale(const sg_backend *be, int D, float *X, const float *s, double reg) {
    PUT(be, eig_pair_scale, pscale, D, X, s, reg);
}
static void r_rank1(const sg_backend *be, int D, const float *mu, float *V) {
    PUT(be, rank1_sub, rank1, D, mu, V);
}
static void r_u8(const sg_backend *be, size_t n, const uint8_t *src, float *dst) {
    PUT(be, aug_u8_to_float, u8, n, src, dst);
}
static void r_crop(const sg_backend *be, int C, int H, int W, const float *src, float y0,
                   float x0, float h, float w, int oH, int oW, float *dst) {
    PUT(be, aug_resized_crop, crop, C, H, W, src, y0, x0, h, w, oH, oW, dst);
}
static void r_hflip(const sg_backend *be, int C, int H, int W, const float *src, float *dst) {
    PUT(be, aug_hflip, hflip, C, H, W, src, dst);
}
static void r_jitter(const sg_backend *be, int H, int W, float *img, float b, float c, float s,
                     float hue, const int order[4]) {
    PUT(be, aug_color_jitter, jitter, H, W, img, b, c, s, hue,
        {order[0], order[1], order[2], order[3]});
}
static void r_gray(const sg_backend *be, int H, int W, float *img) {
    PUT(be, aug_grayscale, gray, H, W, img);
}
static void r_blur(const sg_backend *be, int C, int H, int W, const float *src, float *dst,
                   int ksize, float sigma, float *work) {
    PUT(be, aug_gaussian_blur, blur, C, H, W, src, dst, ksize, sigma, work);
}
static void r_solarize(const sg_backend *be, size_t n, float *img, float th) {
    PUT(be, aug_solarize, solarize, n, img, th);
}
static void r_normalize(const sg_backend *be, int C, int HW, float *img, const float *mean,
                        const float *std) {
    PUT(be, aug_normalize, norm, C, HW, img, mean, std);
}
static void r_views(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src, int C,
                    int S, const sg_aug_view *view, int ksize, const float *mean,
                    const float *std, float *dst, void *work) {
    PUT(be, aug_views, views, N, Cin, H, W, src, C, S, view, ksize, mean, std, dst, work);
}
static void r_copy(const sg_backend *be, void *d, const void *s, size_t n) {
    PUT(be, mem_copy, mem, d, s, n);
}
static void r_zero(const sg_backend *be, void *d, size_t n) {
    PUT(be, mem_zero, mem, d, NULL, n);
}

/* ---- the calls a capture cannot hold: forwarded, or fatal while recording ------------------ */

/* CUDA invalidates a capture that waits on the stream or allocates; the CPU would just run the
 * call, so the mistake would pass every test without a GPU: fail here as loudly as CUDA does. */
static void not_recording(const sg_backend *be, const char *call, const char *why) {
    SG_CHECK(!R(be)->cur, "%s: %s while a graph is being recorded: a captured step must not %s",
             be->name, call, why);
}
#define WAITS "wait on the backend"
#define TAKES "take or release memory"

static void *r_alloc(const sg_backend *be, size_t n) {
    not_recording(be, "mem_alloc", TAKES);
    return IN(be)->mem_alloc(IN(be), n);
}
static void r_free(const sg_backend *be, void *p) {
    not_recording(be, "mem_free", TAKES);
    IN(be)->mem_free(IN(be), p);
}
static void *r_halloc(const sg_backend *be, size_t n) {
    not_recording(be, "host_alloc", TAKES);
    return IN(be)->host_alloc(IN(be), n);
}
static void r_hfree(const sg_backend *be, void *p) {
    not_recording(be, "host_free", TAKES);
    IN(be)->host_free(IN(be), p);
}
static void r_up(const sg_backend *be, void *d, const void *s, size_t n) {
    not_recording(be, "mem_upload", WAITS);
    IN(be)->mem_upload(IN(be), d, s, n);
}
static void r_down(const sg_backend *be, void *d, const void *s, size_t n) {
    not_recording(be, "mem_download", WAITS);
    IN(be)->mem_download(IN(be), d, s, n);
}
static void r_sync(const sg_backend *be) {
    not_recording(be, "sync", WAITS);
    IN(be)->sync(IN(be));
}
static void r_tstart(const sg_backend *be) {
    not_recording(be, "timer_start", WAITS);
    IN(be)->timer_start(IN(be));
}
static double r_tstop(const sg_backend *be) {
    not_recording(be, "timer_stop", WAITS);
    return IN(be)->timer_stop(IN(be));
}
static size_t r_syevd_ws(const sg_backend *be, int D) {
    return IN(be)->syevd_workspace_bytes(IN(be), D);
}
/* without info_at its status is read on the host, which waits; with it, a kernel like the rest */
static int r_syevd(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at) {
    if (!info_at || !R(be)->cur) {
        not_recording(be, "syevd without info_at", WAITS);
        return IN(be)->syevd(IN(be), D, A, w, work, info_at);
    }
    PUT(be, syevd, syevd, D, A, w, work, info_at);
    return 0;
}

static int r_supports(const sg_backend *be, int op, const int *val) {
    return sg_backend_supports(IN(be), (sg_op)op, val);
}
static int r_precision(const sg_backend *be, int p) {
    return p < 0 ? (int)sg_backend_precision(IN(be))
                 : sg_backend_set_precision(IN(be), (sg_precision)p);
}

/* ---- graphs -------------------------------------------------------------------------------- */

static int r_graph_begin(const sg_backend *be, char *why, size_t why_len) {
    sg_replay *p = R(be);
    if (p->cur) {
        if (why && why_len) snprintf(why, why_len, "already recording");
        return -1;
    }
    p->cur = calloc(1, sizeof *p->cur);
    SG_CHECK(p->cur != NULL, "out of memory recording a graph");
    p->cur->owner = p;
    return 0;
}
static void *r_graph_end(const sg_backend *be, char *why, size_t why_len) {
    sg_replay *p = R(be);
    if (!p->cur) {
        if (why && why_len) snprintf(why, why_len, "not recording");
        return NULL;
    }
    graph *g = p->cur;
    p->cur = NULL;
    p->last_calls = g->n;
    return g;
}
static void r_graph_launch(const sg_backend *be, void *gp) {
    sg_replay *p = R(be);
    const graph *g = gp;
    not_recording(be, "graph_launch", "launch a graph");
    SG_CHECK(g != NULL && g->owner == p, "%s: graph_launch of a graph it did not record",
             be->name);
    for (long i = 0; i < g->n; i++) run(p->inner, &g->r[i]);
    p->launches++;
}
static void graph_release(graph *g) {
    if (!g) return;
    for (long i = 0; i < g->n; i++) free(g->r[i].own);
    free(g->r);
    free(g);
}
static void r_graph_free(const sg_backend *be, void *gp) {
    graph *g = gp;
    SG_CHECK(g == NULL || g->owner == R(be), "%s: graph_free of a graph it did not record",
             be->name);
    graph_release(g);
}

sg_replay *sg_replay_new(const sg_backend *inner, const sg_backend **out) {
    SG_CHECK(inner != NULL, "replay backend: no backend to wrap");
    sg_replay *r = calloc(1, sizeof *r);
    SG_CHECK(r != NULL, "out of memory");
    r->inner = inner;
    snprintf(r->name, sizeof r->name, "replay(%s)", inner->name);
    sg_backend *b = &r->be;
    b->name = r->name;
    b->state = r;
    b->host_memory = 0;
    b->supports = r_supports;
    b->precision = r_precision;
    b->gemm = r_gemm;
    b->linear_fwd = r_linear_fwd;
    b->linear_bwd = r_linear_bwd;
    b->conv2d_workspace_bytes = r_conv_ws;
    b->conv2d_fwd = r_conv_fwd;
    b->conv2d_bwd_data = r_conv_bwd_data;
    b->conv2d_bwd_filter = r_conv_bwd_filter;
    b->batchnorm_fwd_train = r_bn_train;
    b->batchnorm_fwd_eval = r_bn_eval;
    b->batchnorm_bwd = r_bn_bwd;
    b->batchnorm_sums = r_bn_sums;
    b->batchnorm_bwd_apply = r_bn_bwd_apply;
    b->batchnorm_relu_fwd = r_bn_relu_train;
    b->batchnorm_relu_bwd = r_bn_relu_bwd;
    b->relu_fwd = r_relu_fwd;
    b->relu_bwd = r_relu_bwd;
    b->add_fwd = r_add_fwd;
    b->add_bwd = r_add_bwd;
    b->maxpool_fwd = r_maxpool_fwd;
    b->maxpool_bwd = r_maxpool_bwd;
    b->avgpool_global_fwd = r_avg_fwd;
    b->avgpool_global_bwd = r_avg_bwd;
    b->pair_loss_fwd = r_loss_fwd;
    b->pair_loss_bwd = r_loss_bwd;
    b->sgd_step = r_sgd;
    b->lars_step = r_lars;
    b->ema_update = r_ema;
    b->corr_update = r_corr;
    b->syevd_workspace_bytes = r_syevd_ws;
    b->syevd = r_syevd;
    b->eig_rebuild = r_eig_rebuild;
    b->eig_map = r_eig_map;
    b->pred_symmetrize = r_pred_sym;
    b->directcopy_fill = r_dcopy;
    b->eig_pair_scale = r_pair_scale;
    b->rank1_sub = r_rank1;
    b->aug_u8_to_float = r_u8;
    b->aug_resized_crop = r_crop;
    b->aug_hflip = r_hflip;
    b->aug_color_jitter = r_jitter;
    b->aug_grayscale = r_gray;
    b->aug_gaussian_blur = r_blur;
    b->aug_solarize = r_solarize;
    b->aug_normalize = r_normalize;
    b->aug_views = r_views;
    b->mem_alloc = r_alloc;
    b->mem_free = r_free;
    b->host_alloc = r_halloc;
    b->host_free = r_hfree;
    b->mem_upload = r_up;
    b->mem_download = r_down;
    b->mem_copy = r_copy;
    b->mem_zero = r_zero;
    b->sync = r_sync;
    b->timer_start = r_tstart;
    b->timer_stop = r_tstop;
    b->graph_begin = r_graph_begin;
    b->graph_end = r_graph_end;
    b->graph_launch = r_graph_launch;
    b->graph_free = r_graph_free;
    /* a new kernel slot without a wrapper here is caught the first time a replay is made */
    const char *empty = sg_backend_empty_slot(b);
    SG_CHECK(empty == NULL, "replay backend: no wrapper for the slot %s", empty ? empty : "");
    *out = b;
    return r;
}

void sg_replay_free(sg_replay *r) {
    if (!r) return;
    graph_release(r->cur); /* a recording never ended */
    free(r);
}

long sg_replay_launches(const sg_replay *r) { return r->launches; }
long sg_replay_graph_calls(const sg_replay *r) { return r->last_calls; }
