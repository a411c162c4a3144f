/* tests/theory/test_perturbed_ema.c: the EMA pulling the target away from the online weights.
 * The claims that run an EMA target must fail; those on SimSiam-type targets (W_a = W or
 * tau = 1 fixed) must pass. The two invariant checks are left out: they include EMA runs
 * whose tau then diverges in finite time, so they fail through the integration, not through
 * the invariant itself (which does not involve the target). */
#include "perturbed.h"

int main(void) {
    static const char *const fail[] = {"ema_curriculum", "no_predictor_collapse",
                                       "sgd_tracks_flow"};
    static const char *const pass[] = {
        "fixed_points",          "fixed_point_stability",   "eta0_no_collapse",
        "basin_boundary",        "collapse_above_eta_crit", "no_stopgrad_collapse",
        "commutator_decay",      "directpred_branch",       "directpred_eps_rescue",
        "matrix_flow_decouples", "sgd_directpred_branch"};
    expect_verdicts(SG_TH_PERTURB_EMA_SIGN, fail, (int)(sizeof fail / sizeof fail[0]), pass,
                    (int)(sizeof pass / sizeof pass[0]));
    CHECK((int)(sizeof fail / sizeof fail[0] + sizeof pass / sizeof pass[0]) + 2 ==
              sg_th_claim_count(),
          "update the lists: %d claims exist", sg_th_claim_count());
    return test_finish();
}
