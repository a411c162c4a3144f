/* tests/theory/test_perturbed_noise.c: the augmentation noise dropped from the dynamics
 * (X' = 0, sigma = 0) while the checks expect sigma > 0. Everything that depends on
 * 1 + sigma^2 must fail; the invariants, which do not involve sigma, must pass. */
#include "perturbed.h"

int main(void) {
    static const char *const fail[] = {
        "fixed_points",          "fixed_point_stability",   "eta0_no_collapse",
        "basin_boundary",        "collapse_above_eta_crit", "no_stopgrad_collapse",
        "no_predictor_collapse", "commutator_decay",        "ema_curriculum",
        "directpred_branch",     "directpred_eps_rescue",   "matrix_flow_decouples",
        "sgd_tracks_flow",       "sgd_directpred_branch"};
    static const char *const pass[] = {"invariant", "matrix_invariant"};
    expect_verdicts(SG_TH_PERTURB_NOISE_DROP, fail, (int)(sizeof fail / sizeof fail[0]), pass,
                    (int)(sizeof pass / sizeof pass[0]));
    CHECK((int)(sizeof fail / sizeof fail[0] + sizeof pass / sizeof pass[0]) == sg_th_claim_count(),
          "update the lists: %d claims exist", sg_th_claim_count());
    return test_finish();
}
