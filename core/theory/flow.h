/* core/theory/flow.h: the full matrix gradient flow of the linear model (paper, Lemma 1).
 *
 * Online network W [n2 x n1], predictor W_p [n2 x n2], target W_a [n2 x n1];
 * X = E[xbar xbar^T] [n1 x n1] (augmentation-averaged input), X' = E[V[x'|x]] [n1 x n1]
 * (augmentation covariance). Loss per pair J = 1/2 E || W_p W x1 - W_a x2 ||^2, so
 * E[x1 x1^T] = X + X' and E[x1 x2^T] = X. With M = -W_p W (X+X') + W_a X [n2 x n1]:
 *     dW_p/dt = alpha_p M W^T - eta W_p
 *     dW/dt   = W_p^T M - eta W
 *     dW_a/dt = beta (W - W_a)
 * Variants (fields of sg_th_flow_params):
 *  - target ONLINE: W_a = W (SimSiam); EMA: W_a is its own state (BYOL).
 *  - stop_grad = 0 (Theorem 2): the gradient also flows through the target branch (W_a = W):
 *    dW/dt gains W_p W X - W (X+X'), i.e. the flow is plain gradient descent on J(W, W_p, W).
 *  - pred LEARNED (free W_p), SYMMETRIC (W_p symmetric: its gradient is symmetrised, the flow
 *    form of W_p <- (W_p + W_p^T)/2 after each step), IDENTITY (W_p = I, "no predictor"),
 *    DIRECTPRED (W_p = U diag(sqrt(s_j) + eps s_max) U^T from F_in = W (X+X') W^T = U diag(s) U^T,
 *    the correlation of the predictor's input, recomputed at every evaluation: paper Eq. 18).
 *
 * The state vector is [W (n2*n1), W_p (n2*n2), W_a (n2*n1)], row-major. Parts a variant does
 * not evolve keep their value (W_p = I for IDENTITY; for DIRECTPRED the stored W_p is unused:
 * sg_th_flow_predictor gives the one in force); for an ONLINE target the stored W_a follows W.
 */
#pragma once
#include <stdint.h>

#include "core/base/err.h"
#include "core/theory/perturb.h"

typedef enum {
    SG_TH_PRED_LEARNED = 0,
    SG_TH_PRED_SYMMETRIC,
    SG_TH_PRED_IDENTITY,
    SG_TH_PRED_DIRECTPRED,
} sg_th_pred;

typedef enum { SG_TH_TARGET_ONLINE = 0, SG_TH_TARGET_EMA = 1 } sg_th_target;

typedef struct {
    int n1, n2;
    const double *X;  /* [n1 x n1], symmetric PSD; copied by sg_th_flow_init */
    const double *Xp; /* [n1 x n1], symmetric PSD; copied by sg_th_flow_init */
    double alpha_p, eta, beta;
    sg_th_target target;
    int stop_grad; /* 1: the paper's methods; 0: Theorem 2's flow (needs target ONLINE) */
    sg_th_pred pred;
    double dp_eps; /* DIRECTPRED's boost eps (Eq. 18): p_j = sqrt(max(s_j,0)) + eps*max_j s_j */
    sg_th_perturb perturb; /* SG_TH_PERTURB_NONE except in sensitivity tests */
} sg_th_flow_params;

typedef struct {
    sg_th_flow_params p;           /* p.X / p.Xp point at the copies below */
    int dim;                       /* state length 2*n2*n1 + n2*n2 */
    double *X, *Xp;                /* nominal copies [n1 x n1] */
    double *Xs;                    /* X + X' as the dynamics see it (X' dropped under NOISE_DROP) */
    double *A, *M, *G;             /* [n2 x n1] scratch */
    double *P, *Q, *R;             /* [n2 x n2] scratch */
    double *evals, *evecs, *ework; /* Jacobi buffers */
} sg_th_flow;

/* Validates the parameters (sizes >= 1, alpha_p > 0, eta >= 0, beta >= 0, stop_grad = 0 only
 * with an ONLINE target, X and X' symmetric) and allocates. Errors name the field. */
int sg_th_flow_init(sg_th_flow *f, const sg_th_flow_params *p, sg_err *err);
void sg_th_flow_free(sg_th_flow *f);

/* The right-hand side in sg_th_rhs form (ctx: sg_th_flow*). */
void sg_th_flow_rhs(void *ctx, double t, const double *y, double *dydt);

/* Views of a state vector (W is y itself). */
static inline double *sg_th_flow_Wp(const sg_th_flow *f, double *y) {
    return y + (long)f->p.n2 * f->p.n1;
}
static inline double *sg_th_flow_Wa(const sg_th_flow *f, double *y) {
    return y + (long)f->p.n2 * f->p.n1 + (long)f->p.n2 * f->p.n2;
}

/* Initial state: W entries N(0, w_std^2); W_p: N(0, wp_std^2) (LEARNED), its symmetric part
 * (SYMMETRIC), I (IDENTITY), the DirectPred W_p for DIRECTPRED; W_a = 0 when wa_zero (paper
 * Fig. 7: W_a(0) = 0), else W_a = W. Streams (seed; 1), (seed; 2). */
void sg_th_flow_init_state(sg_th_flow *f, double *y, double w_std, double wp_std, int wa_zero,
                           uint64_t seed);

/* DirectPred's predictor from a symmetric F [n2 x n2] = U diag(s) U^T (paper Eq. 18):
 * Wp = U diag(p) U^T, p_j = sqrt(max(s_j, 0)) + dp_eps max(s_max, 0). Uses f's Jacobi buffers
 * and f->Q. */
void sg_th_flow_directpred_from(sg_th_flow *f, const double *F, double *Wp);
/* The predictor in force at state y (state W_p, I, or the DirectPred W_p) [n2 x n2]. */
void sg_th_flow_predictor(sg_th_flow *f, const double *y, double *Wp);
/* F = W X W^T [n2 x n2] (the paper's F, with the nominal X). */
void sg_th_flow_F(const sg_th_flow *f, const double *y, double *F);
/* norms[3] = ||W||_F, ||W_p||_F, ||W_a||_F of the state's parts (the stored W_p and W_a). */
void sg_th_flow_norms(const sg_th_flow *f, const double *y, double *norms);
/* Effective EMA ratio tau = <W_a, W>_F / ||W||_F^2 (1 for an ONLINE target). */
double sg_th_flow_tau(const sg_th_flow *f, const double *y);
/* The loss J(W, W_p, W_a) = 1/2 E||W_p W x1 - W_a x2||^2 in closed form, with the target in
 * force (W when ONLINE) and the predictor in force: for gradient checks. */
double sg_th_flow_loss(sg_th_flow *f, const double *y);
