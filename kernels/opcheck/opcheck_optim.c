/* kernels/opcheck/opcheck_optim.c: the checks of SGD, LARS, EMA and DirectPred's correlation, eigendecomposition and rebuild (see opcheck_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/opcheck/opcheck_internal.h"
#include "kernels/ref/ref.h"

/* ---- optimiser and EMA ----------------------------------------------------------------------- */


typedef struct {
    int ngroups;
    sg_sgd_group groups[SG_OP_MAX_GROUPS];
    float momentum;
} sgd_args;

/* at = 1: each group's rate also in backend memory (lr_at), and a wrong value in lr, so the
 * check fails unless the kernel reads the rate where a step graph keeps it */
static float *rates_at(oc_run *r, int at, int n, const float *lr) {
    if (!at) return NULL;
    float *p = OC_F(r, (size_t)n);
    if (p)
        for (int k = 0; k < n; k++) p[k] = lr[k];
    return p;
}

static void sgd_call(const sg_backend *be, void *p) {
    sgd_args *a = p;
    sg_sgd_group g[SG_OP_MAX_GROUPS]; /* the table is host memory; its buffers the backend's */
    for (int k = 0; k < a->ngroups; k++) {
        g[k] = a->groups[k];
        g[k].w = OC_DEV(g[k].w), g[k].g = OC_DEV(g[k].g), g[k].m = OC_DEV(g[k].m);
        if (g[k].lr_at) g[k].lr_at = OC_DEV(g[k].lr_at);
    }
    sg_sgd_step(be, a->ngroups, g, a->momentum);
}

/* An optimiser's buffers: weights, gradients and momentum of nn parameters, random in [-1, 1],
 * with their double copies for the reference. */
static int optimizer_state(oc_run *r, size_t nn, float **w, float **g, float **m, double **wd,
                           double **gd, double **md) {
    *w = OC_F(r, nn), *g = OC_F(r, nn), *m = OC_F(r, nn);
    *wd = OC_D(r, nn), *gd = OC_D(r, nn), *md = OC_D(r, nn);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, *w, nn, -1, 1);
    oc_uniform(r, *g, nn, -1, 1);
    oc_uniform(r, *m, nn, -1, 1);
    oc_to_double(*w, *wd, nn);
    oc_to_double(*g, *gd, nn);
    oc_to_double(*m, *md, nn);
    return 0;
}

/* n parameters split into `groups` contiguous groups with their own lr and weight decay (one
 * without decay, as a predictor group may be). */
int oc_sgd_step(oc_run *r) {
    int n = oc_p(r, "n"), ngroups = oc_p(r, "groups"), on_backend = oc_p(r, "at");
    if (ngroups > n) return oc_bad_shape(r, "every group needs at least one parameter");
    size_t nn = (size_t)n;
    float *w, *g, *m;
    double *wd, *gd, *md;
    if (optimizer_state(r, nn, &w, &g, &m, &wd, &gd, &md)) return -1;
    sgd_args a = {.ngroups = ngroups, .momentum = 0.9f};
    ref_sgd_group rg[SG_OP_MAX_GROUPS];
    float lrs[SG_OP_MAX_GROUPS];
    for (int k = 0; k < ngroups; k++) lrs[k] = 0.03f * (float)(k + 1);
    const float *lr_at = rates_at(r, on_backend, ngroups, lrs);
    if (oc_alloc_status(r)) return -1;
    size_t at = 0;
    for (int k = 0; k < ngroups; k++) {
        size_t len = nn / (size_t)ngroups + ((size_t)k < nn % (size_t)ngroups);
        float lr = lrs[k], wdecay = (k == 1) ? 0.0f : 5e-4f * (float)(k + 1);
        a.groups[k] = (sg_sgd_group){w + at, g + at, m + at, len, lr_at ? -1.0f : lr, wdecay,
                                     lr_at ? lr_at + k : NULL};
        rg[k] = (ref_sgd_group){wd + at, gd + at, md + at, len, lr, wdecay};
        at += len;
    }
    oc_exec(r, sgd_call, &a);
    ref_sgd_step(ngroups, rg, (double)a.momentum);
    oc_tol(r, 4 * EPS32, 4 * EPS32); /* three dependent roundings per element */
    oc_cmp(r, w, wd, nn);
    oc_cmp(r, m, md, nn);
    return oc_finish(r, sgd_call, NULL, &a);
}

typedef struct {
    int ngroups;
    sg_lars_group groups[SG_OP_MAX_GROUPS];
    float lr, momentum, eta;
} lars_args;

static void lars_call(const sg_backend *be, void *p) {
    lars_args *a = p;
    sg_lars_group g[SG_OP_MAX_GROUPS];
    for (int k = 0; k < a->ngroups; k++) {
        g[k] = a->groups[k];
        g[k].w = OC_DEV(g[k].w), g[k].g = OC_DEV(g[k].g), g[k].m = OC_DEV(g[k].m);
        if (g[k].lr_at) g[k].lr_at = OC_DEV(g[k].lr_at);
    }
    sg_lars_step(be, a->ngroups, g, a->lr, a->momentum, a->eta);
}

/* n parameters in `groups` tensors; every third tensor excluded from adaptation (a bias). */
int oc_lars_step(oc_run *r) {
    int n = oc_p(r, "n"), ngroups = oc_p(r, "groups"), on_backend = oc_p(r, "at");
    if (ngroups > n) return oc_bad_shape(r, "every group needs at least one parameter");
    size_t nn = (size_t)n;
    float *w, *g, *m;
    double *wd, *gd, *md;
    if (optimizer_state(r, nn, &w, &g, &m, &wd, &gd, &md)) return -1;
    const float lr = 0.2f;
    lars_args a = {.ngroups = ngroups, .lr = lr, .momentum = 0.9f, .eta = 0.001f};
    ref_lars_group rg[SG_OP_MAX_GROUPS];
    float lrs[SG_OP_MAX_GROUPS];
    for (int k = 0; k < ngroups; k++) lrs[k] = lr;
    const float *lr_at = rates_at(r, on_backend, ngroups, lrs);
    if (oc_alloc_status(r)) return -1;
    if (lr_at) a.lr = -1.0f; /* read from lr_at or wrong */
    size_t at = 0;
    for (int k = 0; k < ngroups; k++) {
        size_t len = nn / (size_t)ngroups + ((size_t)k < nn % (size_t)ngroups);
        int adapt = k % 3 != 2;
        a.groups[k] = (sg_lars_group){w + at, g + at, m + at, len, 1.5e-6f, adapt,
                                      lr_at ? lr_at + k : NULL};
        rg[k] = (ref_lars_group){wd + at, gd + at, md + at, len, 1.5e-6f, adapt};
        at += len;
    }
    oc_exec(r, lars_call, &a);
    ref_lars_step(ngroups, rg, (double)lr, (double)a.momentum, (double)a.eta);
    oc_tol(r, 8 * EPS32, 8 * EPS32); /* the trust ratio adds a few roundings */
    oc_cmp(r, w, wd, nn);
    oc_cmp(r, m, md, nn);
    return oc_finish(r, lars_call, NULL, &a);
}

typedef struct {
    size_t n;
    float m;
    const float *m_at;
    const float *online;
    float *target;
} ema_args;

static void ema_call(const sg_backend *be, void *p) {
    ema_args *a = p;
    sg_ema_update(be, a->n, a->m, a->m_at ? OC_DEV(a->m_at) : NULL, OC_DEV(a->online),
                  OC_DEV(a->target));
}

int oc_ema_update(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    float *online = OC_F(r, n), *target = OC_F(r, n);
    double *od = OC_D(r, n), *td = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, online, n, -1, 1);
    oc_uniform(r, target, n, -1, 1);
    oc_to_double(online, od, n);
    oc_to_double(target, td, n);
    const float rate = 0.996f;
    ema_args a = {.n = n, .m = rate, .online = online, .target = target};
    if (oc_p(r, "at")) { /* the rate in backend memory, a wrong one by value */
        a.m_at = rates_at(r, 1, 1, &rate);
        if (oc_alloc_status(r)) return -1;
        a.m = 0.5f;
    }
    oc_exec(r, ema_call, &a);
    ref_ema_update(n, (double)rate, od, td);
    oc_tol(r, 2 * EPS32, 2 * EPS32); /* m*t + (1-m)*o: a few roundings of values <= 1 */
    oc_cmp(r, target, td, n);
    return oc_finish(r, ema_call, NULL, &a);
}

/* ---- DirectPred / DirectCopy ----------------------------------------------------------------- */

typedef struct {
    int N, D, init, center, ret;
    float rho;
    const float *f, *V, *p, *A0;
    float *F, *work, *A, *w, *W;
    void *ws;
    int *info_at;
} eig_args;

static void corr_call(const sg_backend *be, void *q) {
    eig_args *a = q;
    sg_corr_update(be, a->N, a->D, OC_DEV(a->f), a->rho, a->init, a->center, OC_DEV(a->F),
                    OC_DEV(a->work));
}

/* F starts as a random symmetric matrix (the running estimate) so rho is exercised; f has a
 * nonzero mean so centring matters. */
int oc_corr_update(oc_run *r) {
    int N = oc_p(r, "N"), D = oc_p(r, "D"), init = oc_p(r, "init"), center = oc_p(r, "center");
    size_t nf = oc_n(r, N, D, 1, 1), nF = oc_n(r, D, D, 1, 1);
    float *f = OC_F(r, nf), *F = OC_F(r, nF), *work = OC_F(r, (size_t)D);
    double *fd = OC_D(r, nf), *Fd = OC_D(r, nF);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, f, nf, -0.5f, 1);
    oc_symmetric(r, F, D, -1, 1);
    oc_uniform(r, work, (size_t)D, -100, 100);
    oc_to_double(f, fd, nf);
    oc_to_double(F, Fd, nF);
    eig_args a = {
        .N = N, .D = D, .init = init, .center = center, .rho = 0.3f, .f = f, .F = F, .work = work};
    oc_exec(r, corr_call, &a);
    ref_corr_update(N, D, fd, (double)a.rho, init, center, Fd);
    oc_tol(r, 2 * EPS32 * (N + 2), 1e-6); /* sums of N products <= 1, then the blend */
    oc_cmp(r, F, Fd, nF);
    return oc_finish(r, corr_call, NULL, &a);
}

static void syevd_call(const sg_backend *be, void *q) {
    eig_args *a = q;
    a->ret = sg_syevd(be, a->D, OC_DEV(a->A), OC_DEV(a->w), OC_DEV(a->ws),
                      a->info_at ? OC_DEV(a->info_at) : NULL);
}
static void syevd_restore(const sg_backend *be, void *q) {
    (void)be;
    eig_args *a = q;
    be->mem_copy(be, OC_DEV(a->A), OC_DEV(a->A0), sizeof(float) * (size_t)a->D * (size_t)a->D);
}

/* A = B B^T / D (symmetric, eigenvalues in about [0, 4/3], distinct). Eigenvector signs are
 * arbitrary, so the output is checked for what it must satisfy: eigenvalues ascending and equal
 * to the reference's, V^T diag(w) V = A, and V V^T = I, all in double from the float outputs. */
int oc_syevd(oc_run *r) {
    int D = oc_p(r, "D");
    size_t nA = oc_n(r, D, D, 1, 1);
    size_t ws_bytes = sg_syevd_workspace_bytes(r->be, D);
    float *B = OC_F(r, nA), *A0 = OC_F(r, nA), *A = OC_F(r, nA), *w = OC_F(r, (size_t)D);
    double *Ad = OC_D(r, nA), *wd = OC_D(r, (size_t)D), *recon = OC_D(r, nA), *gram = OC_D(r, nA),
           *ident = OC_D(r, nA);
    void *ws = OC_BACKEND(r, ws_bytes, 1);
    /* at = 1: the status in backend memory (a step's form), poisoned so a solver that leaves it
     * unwritten fails */
    int *info_at = oc_p(r, "at") ? OC_BACKEND(r, sizeof(int), 1) : NULL;
    if (oc_alloc_status(r)) return -1;
    if (info_at) *info_at = -12345;
    oc_uniform(r, B, nA, -1, 1);
    for (int i = 0; i < D; i++)
        for (int j = i; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += (double)B[(size_t)i * D + k] * B[(size_t)j * D + k];
            A0[(size_t)i * D + j] = A0[(size_t)j * D + i] = (float)(s / D);
        }
    memcpy(A, A0, sizeof(float) * nA);
    oc_uniform(r, w, (size_t)D, -100, 100);
    oc_to_double(A0, Ad, nA);
    eig_args a = {.D = D, .A0 = A0, .A = A, .w = w, .ws = ws, .info_at = info_at};
    oc_exec(r, syevd_call, &a);
    ref_syevd(D, Ad, wd);
    /* The float solver's backward error is O(D eps ||A||), ||A|| <= ~4/3; same for V V^T - I. */
    oc_tol(r, 4 * EPS32 * D, 0);
    if (a.ret != 0 || (info_at && *info_at != 0)) oc_worse(r, INFINITY);
    for (int j = 1; j < D; j++)
        if (!(w[j - 1] <= w[j])) oc_worse(r, INFINITY);
    oc_cmp(r, w, wd, (size_t)D);
    oc_to_double(A0, Ad, nA);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double rs = 0, gs = 0;
            for (int k = 0; k < D; k++) {
                rs += (double)w[k] * A[(size_t)k * D + i] * A[(size_t)k * D + j];
                gs += (double)A[(size_t)i * D + k] * A[(size_t)j * D + k];
            }
            recon[(size_t)i * D + j] = rs;
            gram[(size_t)i * D + j] = gs;
            ident[(size_t)i * D + j] = i == j;
        }
    oc_cmp_dd(r, recon, Ad, nA);
    oc_cmp_dd(r, gram, ident, nA);
    return oc_finish(r, syevd_call, syevd_restore, &a);
}

static void eig_rebuild_call(const sg_backend *be, void *q) {
    eig_args *a = q;
    sg_eig_rebuild(be, a->D, OC_DEV(a->V), OC_DEV(a->p), OC_DEV(a->W), OC_DEV(a->work));
}

/* Any V works (the formula holds for any rows), so V is random. */
int oc_eig_rebuild(oc_run *r) {
    int D = oc_p(r, "D");
    size_t nV = oc_n(r, D, D, 1, 1);
    float *V = OC_F(r, nV), *p = OC_F(r, (size_t)D), *W = OC_F(r, nV), *work = OC_F(r, nV);
    double *Vd = OC_D(r, nV), *pd = OC_D(r, (size_t)D), *Wd = OC_D(r, nV);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, V, nV, -1, 1);
    oc_uniform(r, p, (size_t)D, 0, 1);
    oc_uniform(r, W, nV, -100, 100);
    oc_uniform(r, work, nV, -100, 100);
    oc_to_double(V, Vd, nV);
    oc_to_double(p, pd, (size_t)D);
    eig_args a = {.D = D, .V = V, .p = p, .W = W, .work = work};
    oc_exec(r, eig_rebuild_call, &a);
    ref_eig_rebuild(D, Vd, pd, Wd);
    oc_tol(r, 2 * EPS32 * D, 1e-6); /* sums of D products <= 1 */
    oc_cmp(r, W, Wd, nV);
    return oc_finish(r, eig_rebuild_call, NULL, &a);
}

/* ---- the steps around the eigendecomposition -------------------------------------------------
 * Their float arguments (eps, shift_c, reg) are not shape parameters: each check draws them from
 * its seed, in the ranges the predictor settings take. */

typedef struct {
    int D, R, C, mode, normalize;
    double eps, shift_c, reg;
    const float *s, *mu, *F, *X0;
    float *p, *A, *B, *W, *X;
} pred_args;

static void eig_map_call(const sg_backend *be, void *q) {
    pred_args *a = q;
    sg_eig_map(be, a->D, OC_DEV(a->s), OC_DEV(a->p), a->mode, a->eps, a->shift_c);
}

/* s as syevd returns F's: mostly positive, some round-off negatives (not sorted: the map does
 * not need it); eps and c so that every branch (the 1e-4 floor, s - c <= 0) is taken. */
int oc_eig_map(oc_run *r) {
    int D = oc_p(r, "D"), mode = oc_p(r, "mode");
    float *s = OC_F(r, (size_t)D), *p = OC_F(r, (size_t)D);
    double *sd = OC_D(r, (size_t)D), *pd = OC_D(r, (size_t)D);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, s, (size_t)D, -0.25f, 1);
    oc_uniform(r, p, (size_t)D, -100, 100);
    oc_to_double(s, sd, (size_t)D);
    sg_rng g = oc_stream(r);
    pred_args a = {.D = D, .mode = mode, .s = s, .p = p};
    a.eps = sg_rng_uniform_range(&g, -0.05, 0.3);
    a.shift_c = sg_rng_uniform_range(&g, -0.1, 0.5);
    oc_exec(r, eig_map_call, &a);
    ref_eig_map(D, sd, pd, mode, a.eps, a.shift_c);
    /* computed in double, rounded to float once: <= EPS32/2 relative */
    oc_tol(r, 0, EPS32);
    oc_cmp(r, p, pd, (size_t)D);
    return oc_finish(r, eig_map_call, NULL, &a);
}

static void pred_sym_call(const sg_backend *be, void *q) {
    pred_args *a = q;
    sg_pred_symmetrize(be, a->R, a->C, OC_DEV(a->A), OC_DEV(a->B));
}

/* Symmetrising is idempotent, so the timed repeats need no restore. */
int oc_pred_symmetrize(oc_run *r) {
    int R = oc_p(r, "R"), C = oc_p(r, "C"), tied = oc_p(r, "tied");
    if (!tied && R != C) return oc_bad_shape(r, "in place (tied=0) takes a square R = C");
    size_t n = oc_n(r, R, C, 1, 1);
    float *A = OC_F(r, n), *B = tied ? OC_F(r, n) : NULL;
    double *Ad = OC_D(r, n), *Bd = tied ? OC_D(r, n) : NULL;
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, A, n, -1, 1);
    oc_to_double(A, Ad, n);
    if (tied) {
        oc_uniform(r, B, n, -1, 1);
        oc_to_double(B, Bd, n);
    }
    pred_args a = {.R = R, .C = C, .A = A, .B = B};
    oc_exec(r, pred_sym_call, &a);
    ref_pred_symmetrize(R, C, Ad, Bd);
    /* one rounded add (halving is exact): <= EPS32/2 relative; the diagonal is untouched */
    oc_tol(r, 0, EPS32);
    oc_cmp(r, A, Ad, n);
    if (tied) oc_cmp(r, B, Bd, n);
    return oc_finish(r, pred_sym_call, NULL, &a);
}

static void dcopy_call(const sg_backend *be, void *q) {
    pred_args *a = q;
    sg_directcopy_fill(be, a->D, OC_DEV(a->F), OC_DEV(a->s), a->normalize, a->eps, OC_DEV(a->W));
}

/* s[D-1] (lambda_max) is <= 0 a third of the time, the branch that keeps scale 1, and else at
 * least 0.25; without normalize s is NULL, which the contract allows. */
int oc_directcopy_fill(oc_run *r) {
    int D = oc_p(r, "D"), normalize = oc_p(r, "normalize");
    size_t nF = oc_n(r, D, D, 1, 1);
    float *F = OC_F(r, nF), *W = OC_F(r, nF), *s = normalize ? OC_F(r, (size_t)D) : NULL;
    double *Fd = OC_D(r, nF), *Wd = OC_D(r, nF), *sd = OC_D(r, (size_t)D);
    if (oc_alloc_status(r)) return -1;
    oc_symmetric(r, F, D, -1, 1);
    oc_uniform(r, W, nF, -100, 100);
    oc_to_double(F, Fd, nF);
    double scale = 1;
    if (normalize) {
        oc_uniform(r, s, (size_t)D, -0.5f, 1);
        if (s[D - 1] > 0 && s[D - 1] < 0.25f) s[D - 1] += 0.25f;
        oc_to_double(s, sd, (size_t)D);
        if (s[D - 1] > 0) scale = 1.0 / s[D - 1];
    }
    sg_rng g = oc_stream(r);
    pred_args a = {.D = D, .normalize = normalize, .F = F, .s = s, .W = W};
    a.eps = sg_rng_uniform_range(&g, -0.1, 0.5);
    oc_exec(r, dcopy_call, &a);
    ref_directcopy_fill(D, Fd, sd, normalize, a.eps, Wd);
    /* four roundings (1/s, the product, (float)eps, the sum) of terms <= t = scale + |eps|
     * (|F| <= 1): <= 2 EPS32 t; twice that */
    oc_tol(r, 4 * EPS32 * (scale + fabs(a.eps)), 0);
    oc_cmp(r, W, Wd, nF);
    return oc_finish(r, dcopy_call, NULL, &a);
}

static void pair_scale_call(const sg_backend *be, void *q) {
    pred_args *a = q;
    sg_eig_pair_scale(be, a->D, OC_DEV(a->X), OC_DEV(a->s), a->reg);
}
/* In-place ops that would drift under repetition start each timed call from their input. */
static void pred_restore_X(const sg_backend *be, void *q) {
    pred_args *a = q;
    be->mem_copy(be, OC_DEV(a->X), OC_DEV(a->X0), sizeof(float) * (size_t)a->D * (size_t)a->D);
}

/* s with some negatives (clamped to 0 by the op), reg in the settings' usual range. */
int oc_eig_pair_scale(oc_run *r) {
    int D = oc_p(r, "D");
    size_t nX = oc_n(r, D, D, 1, 1);
    float *X = OC_F(r, nX), *X0 = OC_F(r, nX), *s = OC_F(r, (size_t)D);
    double *Xd = OC_D(r, nX), *sd = OC_D(r, (size_t)D);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, X0, nX, -1, 1);
    memcpy(X, X0, sizeof(float) * nX);
    oc_uniform(r, s, (size_t)D, -0.25f, 1);
    oc_to_double(X0, Xd, nX);
    oc_to_double(s, sd, (size_t)D);
    sg_rng g = oc_stream(r);
    pred_args a = {.D = D, .X = X, .X0 = X0, .s = s};
    a.reg = sg_rng_uniform_range(&g, 0.01, 0.1);
    oc_exec(r, pair_scale_call, &a);
    ref_eig_pair_scale(D, Xd, sd, a.reg);
    /* the denominator rounded to float, then the float division: <= EPS32 relative */
    oc_tol(r, 0, 2 * EPS32);
    oc_cmp(r, X, Xd, nX);
    return oc_finish(r, pair_scale_call, pred_restore_X, &a);
}

static void rank1_call(const sg_backend *be, void *q) {
    pred_args *a = q;
    sg_rank1_sub(be, a->D, OC_DEV(a->mu), OC_DEV(a->X));
}

int oc_rank1_sub(oc_run *r) {
    int D = oc_p(r, "D");
    size_t nV = oc_n(r, D, D, 1, 1);
    float *V = OC_F(r, nV), *V0 = OC_F(r, nV), *mu = OC_F(r, (size_t)D);
    double *Vd = OC_D(r, nV), *mud = OC_D(r, (size_t)D);
    if (oc_alloc_status(r)) return -1;
    oc_symmetric(r, V0, D, -1, 1);
    memcpy(V, V0, sizeof(float) * nV);
    oc_uniform(r, mu, (size_t)D, -1, 1);
    oc_to_double(V0, Vd, nV);
    oc_to_double(mu, mud, (size_t)D);
    pred_args a = {.D = D, .X = V, .X0 = V0, .mu = mu};
    oc_exec(r, rank1_call, &a);
    ref_rank1_sub(D, mud, Vd);
    /* the product (<= 1) and the difference (<= 2) each rounded once: <= 1.5 EPS32 */
    oc_tol(r, 2 * EPS32, 0);
    oc_cmp(r, V, Vd, nV);
    return oc_finish(r, rank1_call, pred_restore_X, &a);
}
