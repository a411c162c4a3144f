/* core/theory/flow.c: the matrix gradient flow of Lemma 1 and its variants (see flow.h). */
#include "core/theory/flow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/theory/linalg.h"

static int is_symmetric(const double *A, int n) {
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double a = A[(size_t)i * n + j], b = A[(size_t)j * n + i];
            if (!(fabs(a - b) <= 1e-12 * (1.0 + fabs(a) + fabs(b)))) return 0;
        }
    return 1;
}

int sg_th_flow_init(sg_th_flow *f, const sg_th_flow_params *p, sg_err *err) {
    memset(f, 0, sizeof *f);
    if (p->n1 < 1 || p->n2 < 1 || p->n1 > 4096 || p->n2 > 4096)
        return sg_errf(err, "theory flow: n1 = %d, n2 = %d: expected sizes in 1..4096", p->n1,
                       p->n2);
    if (!(p->alpha_p > 0))
        return sg_errf(err, "theory flow: alpha_p = %g: expected > 0", p->alpha_p);
    if (!(p->eta >= 0)) return sg_errf(err, "theory flow: eta = %g: expected >= 0", p->eta);
    if (!(p->beta >= 0)) return sg_errf(err, "theory flow: beta = %g: expected >= 0", p->beta);
    if (!(p->dp_eps >= 0))
        return sg_errf(err, "theory flow: dp_eps = %g: expected >= 0", p->dp_eps);
    if (!p->stop_grad && p->target != SG_TH_TARGET_ONLINE)
        return sg_errf(err, "theory flow: stop_grad = 0 needs target = online (W_a = W): "
                            "the gradient through an EMA target has no parameter to update");
    if (!p->X || !p->Xp) return sg_errf(err, "theory flow: X and X' are required");
    if (!is_symmetric(p->X, p->n1)) return sg_errf(err, "theory flow: X is not symmetric");
    if (!is_symmetric(p->Xp, p->n1)) return sg_errf(err, "theory flow: X' is not symmetric");
    int n1 = p->n1, n2 = p->n2;
    size_t nn1 = (size_t)n1 * n1, w = (size_t)n2 * n1, q = (size_t)n2 * n2;
    double **const parts[] = {&f->X, &f->Xp, &f->Xs, &f->A,     &f->M,     &f->G,
                              &f->P, &f->Q,  &f->R,  &f->evals, &f->evecs, &f->ework};
    const size_t len[] = {nn1, nn1, nn1, w, w, w, q, q, q, n2, q, q};
    if (!sg_th_alloc_parts(12, parts, len))
        return sg_errf(err, "theory flow: out of memory (n1 = %d, n2 = %d)", n1, n2);
    f->p = *p;
    f->dim = (int)(2 * w + q);
    memcpy(f->X, p->X, nn1 * sizeof(double));
    memcpy(f->Xp, p->Xp, nn1 * sizeof(double));
    f->p.X = f->X;
    f->p.Xp = f->Xp;
    double noise = sg_th_eff_noise(p->perturb, 1.0); /* 1, or 0 when the noise is dropped */
    for (size_t i = 0; i < nn1; i++) f->Xs[i] = f->X[i] + noise * f->Xp[i];
    return 0;
}

void sg_th_flow_free(sg_th_flow *f) {
    free(f->X);
    memset(f, 0, sizeof *f);
}

void sg_th_flow_directpred_from(sg_th_flow *f, const double *F, double *Wp) {
    int n2 = f->p.n2;
    sg_th_sym_eig(n2, F, f->evals, f->evecs, f->ework);
    double smax = fmax(f->evals[n2 - 1], 0.0);
    for (int j = 0; j < n2; j++) f->Q[j] = sqrt(fmax(f->evals[j], 0.0)) + f->p.dp_eps * smax;
    sg_th_mm_diag_nt(Wp, f->evecs, n2, f->Q, f->evecs, n2, n2, n2, n2);
}

/* DirectPred's predictor from W: F_in = W Xs W^T, then sg_th_flow_directpred_from. Writes Wp
 * [n2 x n2]; uses f->A, f->P, f->Q. */
static void directpred_wp(sg_th_flow *f, const double *W, double *Wp) {
    int n1 = f->p.n1, n2 = f->p.n2;
    sg_th_mm(f->A, W, f->Xs, n2, n1, n1);   /* A = W Xs        [n2 x n1] */
    sg_th_mm_nt(f->P, f->A, W, n2, n1, n2); /* F_in = A W^T    [n2 x n2] */
    sg_th_symmetrize(f->P, n2);             /* exact symmetry for Jacobi */
    sg_th_flow_directpred_from(f, f->P, Wp);
}

void sg_th_flow_predictor(sg_th_flow *f, const double *y, double *Wp) {
    int n2 = f->p.n2;
    size_t q = (size_t)n2 * n2;
    switch (f->p.pred) {
    case SG_TH_PRED_IDENTITY:
        for (size_t i = 0; i < q; i++) Wp[i] = 0;
        for (int i = 0; i < n2; i++) Wp[i * n2 + i] = 1;
        break;
    case SG_TH_PRED_DIRECTPRED: directpred_wp(f, y, Wp); break;
    default: memcpy(Wp, y + (size_t)n2 * f->p.n1, q * sizeof(double)); break;
    }
}

void sg_th_flow_rhs(void *ctx, double t, const double *y, double *dydt) {
    (void)t;
    sg_th_flow *f = ctx;
    const sg_th_flow_params *p = &f->p;
    int n1 = p->n1, n2 = p->n2;
    size_t w = (size_t)n2 * n1, q = (size_t)n2 * n2;
    const double *W = y;
    const double *Wa = p->target == SG_TH_TARGET_ONLINE ? W : y + w + q;
    double *dW = dydt, *dWp = dydt + w, *dWa = dydt + w + q;
    double eta = sg_th_eff_eta(p->perturb, p->eta);

    /* The predictor in force: R [n2 x n2]. */
    sg_th_flow_predictor(f, y, f->R);
    const double *Wp = f->R;

    /* M = W_a X - W_p W (X+X')   [n2 x n1] */
    sg_th_mm(f->A, W, f->Xs, n2, n1, n1); /* A = W Xs */
    sg_th_mm(f->M, Wp, f->A, n2, n2, n1); /* M = W_p W Xs */
    sg_th_mm(f->G, Wa, f->X, n2, n1, n1); /* G = W_a X */
    for (size_t i = 0; i < w; i++) f->M[i] = f->G[i] - f->M[i];

    /* dW = W_p^T M - eta W */
    sg_th_mm_tn(dW, Wp, f->M, n2, n2, n1);
    for (size_t i = 0; i < w; i++) dW[i] -= eta * W[i];
    if (!p->stop_grad) {
        /* Gradient through the target (W_a = W): -dJ/dW_a = W_p W X - W_a (X+X').
         * G = W X; dW += W_p G - A (A = W Xs), row by row to avoid another buffer. */
        sg_th_mm(f->G, W, f->X, n2, n1, n1);
        for (int i = 0; i < n2; i++)
            for (int j = 0; j < n1; j++) {
                double acc = 0;
                for (int l = 0; l < n2; l++) acc += Wp[i * n2 + l] * f->G[(size_t)l * n1 + j];
                dW[(size_t)i * n1 + j] += acc - f->A[(size_t)i * n1 + j];
            }
    }

    /* Predictor. */
    switch (p->pred) {
    case SG_TH_PRED_LEARNED:
    case SG_TH_PRED_SYMMETRIC:
        sg_th_mm_nt(f->P, f->M, W, n2, n1, n2); /* P = M W^T  [n2 x n2] */
        if (p->pred == SG_TH_PRED_SYMMETRIC) sg_th_symmetrize(f->P, n2);
        for (size_t i = 0; i < q; i++) dWp[i] = p->alpha_p * f->P[i] - eta * y[w + i];
        break;
    default:
        for (size_t i = 0; i < q; i++) dWp[i] = 0;
        break;
    }

    /* Target. */
    if (p->target == SG_TH_TARGET_EMA) {
        double beta = sg_th_eff_beta(p->perturb, p->beta);
        for (size_t i = 0; i < w; i++) dWa[i] = beta * (W[i] - Wa[i]);
    } else {
        memcpy(dWa, dW, w * sizeof(double)); /* the stored copy follows W */
    }
}

void sg_th_flow_init_state(sg_th_flow *f, double *y, double w_std, double wp_std, int wa_zero,
                           uint64_t seed) {
    int n1 = f->p.n1, n2 = f->p.n2;
    size_t w = (size_t)n2 * n1, q = (size_t)n2 * n2;
    sg_th_random_normal(y, (int)w, w_std, seed, 1);
    double *Wp = y + w;
    sg_th_random_normal(Wp, (int)q, wp_std, seed, 2);
    if (f->p.pred == SG_TH_PRED_SYMMETRIC) sg_th_symmetrize(Wp, n2);
    if (f->p.pred == SG_TH_PRED_IDENTITY || f->p.pred == SG_TH_PRED_DIRECTPRED)
        sg_th_flow_predictor(f, y, Wp);
    double *Wa = y + w + q;
    for (size_t i = 0; i < w; i++) Wa[i] = (wa_zero && f->p.target == SG_TH_TARGET_EMA) ? 0 : y[i];
}

void sg_th_flow_F(const sg_th_flow *f, const double *y, double *F) {
    int n1 = f->p.n1, n2 = f->p.n2;
    double *A = malloc((size_t)n2 * n1 * sizeof(double));
    SG_CHECK(A != NULL, "out of memory");
    sg_th_mm(A, y, f->X, n2, n1, n1);
    sg_th_mm_nt(F, A, y, n2, n1, n2);
    free(A);
}

void sg_th_flow_norms(const sg_th_flow *f, const double *y, double *norms) {
    int w = f->p.n2 * f->p.n1, q = f->p.n2 * f->p.n2;
    norms[0] = sg_th_frob(y, w);
    norms[1] = sg_th_frob(y + w, q);
    norms[2] = sg_th_frob(y + w + q, w);
}

double sg_th_flow_tau(const sg_th_flow *f, const double *y) {
    if (f->p.target == SG_TH_TARGET_ONLINE) return 1.0;
    int w = f->p.n2 * f->p.n1;
    const double *Wa = y + w + f->p.n2 * f->p.n2;
    double ww = sg_th_dot(y, y, w);
    return ww > 0 ? sg_th_dot(Wa, y, w) / ww : 0.0;
}

double sg_th_flow_loss(sg_th_flow *f, const double *y) {
    int n1 = f->p.n1, n2 = f->p.n2;
    size_t w = (size_t)n2 * n1, q = (size_t)n2 * n2;
    const double *W = y;
    const double *Wa = f->p.target == SG_TH_TARGET_ONLINE ? W : y + w + q;
    sg_th_flow_predictor(f, y, f->R);
    /* B = W_p W [n2 x n1]; J = 1/2 [tr(B Xs B^T) - 2 tr(B X W_a^T) + tr(W_a Xs W_a^T)]. */
    sg_th_mm(f->A, f->R, W, n2, n2, n1);
    double j = 0;
    sg_th_mm(f->M, f->A, f->Xs, n2, n1, n1);
    j += sg_th_dot(f->M, f->A, (int)w);
    sg_th_mm(f->M, f->A, f->X, n2, n1, n1);
    j -= 2.0 * sg_th_dot(f->M, Wa, (int)w);
    sg_th_mm(f->M, Wa, f->Xs, n2, n1, n1);
    j += sg_th_dot(f->M, Wa, (int)w);
    return 0.5 * j;
}
