/* core/theory/perturb.h: the perturbation switch of the theory simulators.
 *
 * FOR SENSITIVITY TESTS ONLY. Every simulator in core/theory (per-eigenmode system, matrix
 * gradient flow, discrete SGD) takes an sg_th_perturb in its parameters. SG_TH_PERTURB_NONE is
 * the paper's dynamics and the only value `stopgrad theory check|figures` ever uses. The other
 * values deliberately change one term of the dynamics, so that tests/theory/test_perturbed_*.c
 * can show that the claims in core/theory/claims.c are measured, not assumed: the checks keep
 * computing their expected values from the nominal closed forms, the simulators run the
 * perturbed dynamics, and the checks that depend on the changed term must turn to FAIL.
 */
#pragma once

typedef enum {
    SG_TH_PERTURB_NONE = 0,
    /* The weight-decay term enters with the opposite sign: +eta*W instead of -eta*W (for every
     * parameter: W, W_p, and through them s, p and tau). Weight growth instead of decay. */
    SG_TH_PERTURB_WD_SIGN,
    /* The augmentation noise is dropped from the dynamics: X' = 0 (sigma^2 = 0) in the flow,
     * un-noised views in SGD, while the checks still expect the noisy theory. */
    SG_TH_PERTURB_NOISE_DROP,
    /* The EMA pulls the target away from the online weights: dW_a/dt = -beta (W - W_a). */
    SG_TH_PERTURB_EMA_SIGN,
    SG_TH_PERTURB_COUNT
} sg_th_perturb;

/* "none", "wd_sign", "noise_drop", "ema_sign". */
const char *sg_th_perturb_name(sg_th_perturb p);

/* The coefficients the simulators actually use under perturbation p. */
static inline double sg_th_eff_eta(sg_th_perturb p, double eta) {
    return p == SG_TH_PERTURB_WD_SIGN ? -eta : eta;
}
/* The augmentation-noise scale (sigma^2, or a factor on X'): 0 when the noise is dropped. */
static inline double sg_th_eff_noise(sg_th_perturb p, double noise) {
    return p == SG_TH_PERTURB_NOISE_DROP ? 0.0 : noise;
}
static inline double sg_th_eff_beta(sg_th_perturb p, double beta) {
    return p == SG_TH_PERTURB_EMA_SIGN ? -beta : beta;
}
