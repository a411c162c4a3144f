/* tests/theory/test_perturbed_wd.c: weight decay with the wrong sign (+eta W). Every claim that
 * involves eta must fail; the eta = 0 check, which has no weight-decay term, must pass. */
#include "perturbed.h"

int main(void) {
    static const char *const fail[] = {"invariant",
                                       "matrix_invariant",
                                       "fixed_points",
                                       "fixed_point_stability",
                                       "basin_boundary",
                                       "collapse_above_eta_crit",
                                       "no_stopgrad_collapse",
                                       "no_predictor_collapse",
                                       "commutator_decay",
                                       "ema_curriculum",
                                       "directpred_branch",
                                       "directpred_eps_rescue",
                                       "matrix_flow_decouples",
                                       "sgd_tracks_flow",
                                       "sgd_directpred_branch"};
    static const char *const pass[] = {"eta0_no_collapse"};
    expect_verdicts(SG_TH_PERTURB_WD_SIGN, fail, (int)(sizeof fail / sizeof fail[0]), pass,
                    (int)(sizeof pass / sizeof pass[0]));
    /* Every check is covered by this file (fail or pass list). */
    CHECK((int)(sizeof fail / sizeof fail[0] + sizeof pass / sizeof pass[0]) == sg_th_claim_count(),
          "update the lists: %d claims exist", sg_th_claim_count());
    return test_finish();
}
