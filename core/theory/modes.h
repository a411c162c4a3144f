/* core/theory/modes.h: the decoupled per-eigenmode system of the DirectPred paper (Sec. 4).
 *
 * With X = I, X' = sigma^2 I, a symmetric predictor W_p aligned with F = W W^T and a target
 * W_a = tau W, each common eigen-direction j evolves on its own (p: eigenvalue of W_p, s:
 * eigenvalue of F, k = 1 + sigma^2):
 *     dp/dt = alpha_p s (tau - k p) - eta p
 *     ds/dt = 2 p s (tau - k p) - 2 eta s
 *     s dtau/dt = beta (1 - tau) s - tau (ds/dt)/2
 * The tau equation comes from d(W_a W^T)/dt = beta (W - W_a) W^T + W_a dW^T/dt projected on the
 * mode; dividing by s gives the form used here, which stays defined at s = 0:
 *     dtau/dt = beta (1 - tau) - tau [p (tau - k p) - eta].
 * SimSiam is tau = 1 held fixed (SG_TH_TAU_FIXED); BYOL's EMA target is SG_TH_TAU_EMA.
 * tau is the ratio w_a/w of the mode's target and online weights, so it is singular where w
 * crosses zero (e.g. p < 0 with a strong target: dtau/dt ~ -p tau^2); an integration there ends
 * with an error, which is the parametrisation's limit, not the model's.
 */
#pragma once

#include "core/theory/perturb.h"

typedef enum {
    SG_TH_TAU_FIXED = 0, /* tau is a constant (SimSiam: tau = 1) */
    SG_TH_TAU_EMA = 1,   /* tau follows the EMA equation with rate beta */
} sg_th_tau_mode;

typedef struct {
    double alpha_p; /* predictor's relative learning rate */
    double eta;     /* weight decay */
    double sigma2;  /* augmentation noise variance sigma^2 (X' = sigma^2 I) */
    double beta;    /* EMA rate (SG_TH_TAU_EMA only) */
    sg_th_tau_mode tau_mode;
    sg_th_perturb perturb; /* SG_TH_PERTURB_NONE except in sensitivity tests */
} sg_th_mode_params;

/* State vector layout: y[0] = p, y[1] = s, y[2] = tau. */
enum { SG_TH_MODE_P = 0, SG_TH_MODE_S = 1, SG_TH_MODE_TAU = 2, SG_TH_MODE_DIM = 3 };

/* The right-hand side, in sg_th_rhs form (ctx is a const sg_th_mode_params*). */
void sg_th_mode_rhs(void *ctx, double t, const double *y, double *dydt);

/* The simulator's dp/dt restricted to the invariant parabola s = p^2/alpha_p at fixed tau. */
double sg_th_mode_parabola_dpdt(const sg_th_mode_params *mp, double p, double tau);

/* ---- closed forms of the paper (nominal dynamics, no perturbation) ---- */

/* eta above which only the collapsed fixed point remains: tau^2 / (4 (1 + sigma^2)). */
double sg_th_eta_crit(double tau, double sigma2);

/* Non-zero fixed points on the parabola:
 * p*_{+-} = [tau +- sqrt(tau^2 - 4 eta (1+sigma^2))] / (2 (1+sigma^2)).
 * Returns 2 (both exist; equal when eta = eta_crit) or 0 (eta > eta_crit; outputs untouched). */
int sg_th_pstar(double tau, double eta, double sigma2, double *p_minus, double *p_plus);

/* The invariant: s(t) = p(t)^2/alpha_p + exp(-2 eta t) c with c = s(0) - p(0)^2/alpha_p. */
double sg_th_invariant_c(double alpha_p, double p0, double s0);
double sg_th_invariant_s(double alpha_p, double eta, double c, double p, double t);
