/* tests/theory/test_claims.c: the whole check set of `stopgrad theory check` passes with the
 * paper's dynamics, every row states what it measured, expected, its tolerance and parameters,
 * and the CSV round-trips with the documented columns. */
#include <string.h>

#include "core/base/csv.h"
#include "core/theory/claims.h"
#include "test_util.h"

int main(void) {
    int n = sg_th_claim_count();
    CHECK(n >= 14, "only %d checks", n);
    sg_th_claim_result *rs = tu_alloc(sizeof(sg_th_claim_result) * (size_t)n);
    for (int i = 0; i < n; i++) {
        const sg_th_claim *c = sg_th_claim_at(i);
        CHECK(sg_th_claim_find(c->name) == c, "find %s", c->name);
        sg_th_claim_run(c, SG_TH_PERTURB_NONE, &rs[i]);
        CHECK(rs[i].pass, "%s FAILED: measured %s; expected %s; tolerance %s", c->name,
              rs[i].measured, rs[i].expected, rs[i].tolerance);
        CHECK(rs[i].measured[0] && rs[i].expected[0] && rs[i].tolerance[0] && rs[i].parameters[0] &&
                  rs[i].statement && rs[i].statement[0],
              "%s: a column is empty", c->name);
        CHECK(strstr(rs[i].detail, "PERTURBED") == NULL, "%s: nominal run marked perturbed",
              c->name);
        CHECK(rs[i].seconds >= 0 && rs[i].seconds < 30, "%s: %.2f s", c->name, rs[i].seconds);
    }
    CHECK(sg_th_claim_find("no_such_check") == NULL, "unknown name");
    /* The required claims are all there. */
    static const char *const required[] = {"invariant",
                                           "fixed_points",
                                           "fixed_point_stability",
                                           "basin_boundary",
                                           "collapse_above_eta_crit",
                                           "no_stopgrad_collapse",
                                           "no_predictor_collapse",
                                           "commutator_decay",
                                           "ema_curriculum",
                                           "directpred_branch",
                                           "sgd_tracks_flow"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        CHECK(sg_th_claim_find(required[i]) != NULL, "missing check %s", required[i]);

    char path[4096];
    snprintf(path, sizeof path, "%s/theory_checks_test.csv", tu_tmpdir());
    sg_err err;
    CHECK(sg_th_claims_write_csv(path, rs, (size_t)n, &err) == 0, "write: %s", err.msg);
    sg_csv_table t;
    CHECK(sg_csv_read(path, &t, &err) == 0, "read back: %s", err.msg);
    static const char *const cols[] = {"check",   "claim",      "measured", "expected", "tolerance",
                                       "verdict", "parameters", "detail",   "seconds"};
    CHECK(t.ncols == 9 && t.nrows == (size_t)n, "shape %d x %zu", t.ncols, t.nrows);
    for (int c = 0; c < 9 && c < t.ncols; c++)
        CHECK(strcmp(t.header[c], cols[c]) == 0, "column %d is '%s', want '%s'", c, t.header[c],
              cols[c]);
    int vc = sg_csv_col(&t, "verdict"), cc = sg_csv_col(&t, "check"),
        mc = sg_csv_col(&t, "measured");
    for (size_t r = 0; r < t.nrows && vc >= 0 && cc >= 0 && mc >= 0; r++) {
        CHECK(strcmp(sg_csv_cell(&t, r, vc), "PASS") == 0, "row %zu verdict", r);
        CHECK(strcmp(sg_csv_cell(&t, r, cc), rs[r].name) == 0, "row %zu name", r);
        CHECK(strcmp(sg_csv_cell(&t, r, mc), rs[r].measured) == 0, "row %zu measured text", r);
    }
    sg_csv_table_free(&t);
    remove(path);
    free(rs);
    return test_finish();
}
