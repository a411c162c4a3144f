/* core/theory/modes.c: the per-eigenmode system and its closed forms (see modes.h). */
#include "core/theory/modes.h"

#include <math.h>

const char *sg_th_perturb_name(sg_th_perturb p) {
    switch (p) {
    case SG_TH_PERTURB_NONE: return "none";
    case SG_TH_PERTURB_WD_SIGN: return "wd_sign";
    case SG_TH_PERTURB_NOISE_DROP: return "noise_drop";
    case SG_TH_PERTURB_EMA_SIGN: return "ema_sign";
    default: return "?";
    }
}

void sg_th_mode_rhs(void *ctx, double t, const double *y, double *dydt) {
    (void)t;
    const sg_th_mode_params *mp = ctx;
    double eta = sg_th_eff_eta(mp->perturb, mp->eta);
    double k = 1.0 + sg_th_eff_noise(mp->perturb, mp->sigma2);
    double p = y[SG_TH_MODE_P], s = y[SG_TH_MODE_S], tau = y[SG_TH_MODE_TAU];
    double g = tau - k * p; /* the mode's prediction-error factor */
    dydt[SG_TH_MODE_P] = mp->alpha_p * s * g - eta * p;
    dydt[SG_TH_MODE_S] = 2.0 * p * s * g - 2.0 * eta * s;
    if (mp->tau_mode == SG_TH_TAU_EMA) {
        double beta = sg_th_eff_beta(mp->perturb, mp->beta);
        dydt[SG_TH_MODE_TAU] = beta * (1.0 - tau) - tau * (p * g - eta);
    } else {
        dydt[SG_TH_MODE_TAU] = 0.0;
    }
}

double sg_th_mode_parabola_dpdt(const sg_th_mode_params *mp, double p, double tau) {
    double y[SG_TH_MODE_DIM] = {p, p * p / mp->alpha_p, tau}, dy[SG_TH_MODE_DIM];
    sg_th_mode_params fixed = *mp;
    fixed.tau_mode = SG_TH_TAU_FIXED;
    sg_th_mode_rhs(&fixed, 0.0, y, dy);
    return dy[SG_TH_MODE_P];
}

double sg_th_eta_crit(double tau, double sigma2) { return tau * tau / (4.0 * (1.0 + sigma2)); }

int sg_th_pstar(double tau, double eta, double sigma2, double *p_minus, double *p_plus) {
    double k = 1.0 + sigma2;
    double disc = tau * tau - 4.0 * eta * k;
    if (disc < 0) return 0;
    double r = sqrt(disc);
    /* p*_- p*_+ = eta/k: the product form of the small root avoids the cancellation in
     * tau - r when eta is small. */
    *p_plus = (tau + r) / (2.0 * k);
    *p_minus = (tau + r) > 0 ? 2.0 * eta / (tau + r) : 0.0;
    return 2;
}

double sg_th_invariant_c(double alpha_p, double p0, double s0) { return s0 - p0 * p0 / alpha_p; }

double sg_th_invariant_s(double alpha_p, double eta, double c, double p, double t) {
    return p * p / alpha_p + exp(-2.0 * eta * t) * c;
}
