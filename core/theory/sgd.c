/* core/theory/sgd.c: discrete SGD on the linear model (see sgd.h). */
#include "core/theory/sgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/theory/linalg.h"

/* S = A^{1/2} for symmetric PSD A [n x n] (negative rounding-level eigenvalues clipped). */
static void sym_sqrt(int n, const double *A, double *S) {
    double *w = malloc(sizeof(double) * (2 * (size_t)n + 2 * (size_t)n * n));
    SG_CHECK(w != NULL, "out of memory");
    double *root = w + n, *V = root + n, *work = V + (size_t)n * n;
    sg_th_sym_eig(n, A, w, V, work);
    for (int j = 0; j < n; j++) root[j] = sqrt(fmax(w[j], 0.0));
    sg_th_mm_diag_nt(S, V, n, root, V, n, n, n, n);
    free(w);
}

int sg_th_sgd_init(sg_th_sgd *s, const sg_th_sgd_params *p, sg_err *err) {
    memset(s, 0, sizeof *s);
    if (!(p->opt.lr > 0)) return sg_errf(err, "theory sgd: lr = %g: expected > 0", p->opt.lr);
    if (p->opt.batch < 1)
        return sg_errf(err, "theory sgd: batch = %d: expected >= 1", p->opt.batch);
    if (!(p->opt.dp_rho >= 0 && p->opt.dp_rho < 1))
        return sg_errf(err, "theory sgd: dp_rho = %g: expected in [0, 1)", p->opt.dp_rho);
    if (p->model.pred == SG_TH_PRED_DIRECTPRED && p->opt.dp_freq < 1)
        return sg_errf(err, "theory sgd: dp_freq = %d: expected >= 1", p->opt.dp_freq);
    if (sg_th_flow_init(&s->flow, &p->model, err)) return -1;
    s->p = *p;
    s->p.model = s->flow.p;
    int n1 = p->model.n1, n2 = p->model.n2;
    size_t nn1 = (size_t)n1 * n1, w = (size_t)n2 * n1, q = (size_t)n2 * n2;
    double **const parts[] = {&s->Sx, &s->Sxp, &s->z, &s->xb, &s->x1,  &s->x2,   &s->h1,
                              &s->h2, &s->r,   &s->v, &s->gW, &s->gWp, &s->Fhat, &s->Fb};
    const size_t len[] = {nn1, nn1, n1, n1, n1, n1, n2, n2, n2, n2, w, q, q, q};
    if (!sg_th_alloc_parts(14, parts, len)) {
        sg_th_flow_free(&s->flow);
        return sg_errf(err, "theory sgd: out of memory");
    }
    sym_sqrt(n1, s->flow.X, s->Sx);
    sym_sqrt(n1, s->flow.Xp, s->Sxp);
    return 0;
}

void sg_th_sgd_free(sg_th_sgd *s) {
    sg_th_flow_free(&s->flow);
    free(s->Sx);
    memset(s, 0, sizeof *s);
}

/* z[n] ~ N(0, 1): Box-Muller keeping both outputs of each pair of uniforms (the normals are
 * most of an SGD step's cost at these sizes). */
static void fill_normals(sg_rng *r, double *z, int n) {
    for (int i = 0; i < n; i += 2) {
        double u1 = sg_rng_uniform_double(r), u2 = sg_rng_uniform_double(r);
        if (u1 < 1e-300) u1 = 1e-300;
        double rad = sqrt(-2.0 * log(u1)), ang = 6.283185307179586476925 * u2;
        z[i] = rad * cos(ang);
        if (i + 1 < n) z[i + 1] = rad * sin(ang);
    }
}

/* y[m] = S[m x n] z[n] */
static void matvec(double *y, const double *S, const double *z, int m, int n) {
    for (int i = 0; i < m; i++) {
        double acc = 0;
        for (int j = 0; j < n; j++) acc += S[(size_t)i * n + j] * z[j];
        y[i] = acc;
    }
}

void sg_th_sgd_step(sg_th_sgd *s, double *y) {
    const sg_th_flow_params *m = &s->p.model;
    int n1 = m->n1, n2 = m->n2, B = s->p.opt.batch;
    size_t w = (size_t)n2 * n1, q = (size_t)n2 * n2;
    double *W = y, *Wp_state = y + w, *Wa_state = y + w + q;
    const double *Wa = m->target == SG_TH_TARGET_ONLINE ? W : Wa_state;
    double eta = sg_th_eff_eta(m->perturb, m->eta);
    double noise = sg_th_eff_noise(m->perturb, 1.0); /* 0: views without augmentation noise */
    int directpred = m->pred == SG_TH_PRED_DIRECTPRED;

    /* The predictor in force during this step. */
    double *Wp = s->flow.R;
    if (m->pred == SG_TH_PRED_IDENTITY) {
        sg_th_flow_predictor(&s->flow, y, Wp);
    } else {
        memcpy(Wp, Wp_state, q * sizeof(double));
    }

    sg_rng rng;
    sg_rng_init(&rng, s->p.opt.seed, (uint32_t)s->step, (uint32_t)((uint64_t)s->step >> 32),
                0x5D6u);
    memset(s->gW, 0, w * sizeof(double));
    memset(s->gWp, 0, q * sizeof(double));
    if (directpred) memset(s->Fb, 0, q * sizeof(double));
    for (int b = 0; b < B; b++) {
        fill_normals(&rng, s->z, n1);
        matvec(s->xb, s->Sx, s->z, n1, n1);
        fill_normals(&rng, s->z, n1);
        matvec(s->x1, s->Sxp, s->z, n1, n1);
        fill_normals(&rng, s->z, n1);
        matvec(s->x2, s->Sxp, s->z, n1, n1);
        for (int i = 0; i < n1; i++) {
            s->x1[i] = s->xb[i] + noise * s->x1[i];
            s->x2[i] = s->xb[i] + noise * s->x2[i];
        }
        matvec(s->h1, W, s->x1, n2, n1);                 /* h1 = W x1: predictor input */
        matvec(s->r, Wp, s->h1, n2, n2);                 /* W_p h1 */
        matvec(s->v, Wa, s->x2, n2, n1);                 /* target W_a x2 */
        for (int i = 0; i < n2; i++) s->r[i] -= s->v[i]; /* r = W_p W x1 - W_a x2 */
        /* gWp += r h1^T; v = W_p^T r; gW += v x1^T (and -r x2^T through the target). */
        for (int i = 0; i < n2; i++)
            for (int j = 0; j < n2; j++) s->gWp[(size_t)i * n2 + j] += s->r[i] * s->h1[j];
        for (int j = 0; j < n2; j++) {
            double acc = 0;
            for (int i = 0; i < n2; i++) acc += Wp[(size_t)i * n2 + j] * s->r[i];
            s->v[j] = acc;
        }
        for (int i = 0; i < n2; i++)
            for (int j = 0; j < n1; j++) {
                double g = s->v[i] * s->x1[j];
                if (!m->stop_grad) g -= s->r[i] * s->x2[j];
                s->gW[(size_t)i * n1 + j] += g;
            }
        if (directpred) {
            matvec(s->h2, W, s->x2, n2, n1);
            for (int i = 0; i < n2; i++)
                for (int j = 0; j < n2; j++)
                    s->Fb[(size_t)i * n2 + j] += s->h1[i] * s->h1[j] + s->h2[i] * s->h2[j];
        }
    }
    double inv_b = 1.0 / B;
    double lr = s->p.opt.lr;
    if (directpred) {
        double rho = s->fhat_ready ? s->p.opt.dp_rho : 0.0; /* the first batch initialises F_hat */
        for (size_t i = 0; i < q; i++)
            s->Fhat[i] = rho * s->Fhat[i] + (1 - rho) * s->Fb[i] * 0.5 * inv_b;
        s->fhat_ready = 1;
    }
    /* Parameter updates. */
    if (m->pred != SG_TH_PRED_IDENTITY) {
        for (size_t i = 0; i < q; i++)
            Wp_state[i] -= lr * (m->alpha_p * s->gWp[i] * inv_b + eta * Wp_state[i]);
        if (m->pred == SG_TH_PRED_SYMMETRIC) sg_th_symmetrize(Wp_state, n2);
    }
    for (size_t i = 0; i < w; i++) W[i] -= lr * (s->gW[i] * inv_b + eta * W[i]);
    if (m->target == SG_TH_TARGET_EMA) {
        double beta = sg_th_eff_beta(m->perturb, m->beta);
        for (size_t i = 0; i < w; i++) Wa_state[i] += lr * beta * (W[i] - Wa_state[i]);
    } else {
        memcpy(Wa_state, W, w * sizeof(double));
    }
    if (directpred && s->step % s->p.opt.dp_freq == 0)
        sg_th_flow_directpred_from(&s->flow, s->Fhat, Wp_state);
    s->step++;
}
