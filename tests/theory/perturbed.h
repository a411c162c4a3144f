/* tests/theory/perturbed.h: shared body of the sensitivity tests test_perturbed_*.c. Each runs
 * the check set against dynamics with one deliberately changed term (the simulators'
 * sensitivity switch, core/theory/perturb.h) and asserts that the checks depending on that
 * term FAIL, and that the checks which do not involve it still PASS (so a FAIL is caused by the
 * term, not by a fragile check). */
#pragma once
#include <string.h>

#include "core/theory/claims.h"
#include "test_util.h"

static void expect_verdicts(sg_th_perturb pt, const char *const *must_fail, int nfail,
                            const char *const *must_pass, int npass) {
    for (int k = 0; k < nfail + npass; k++) {
        const char *name = k < nfail ? must_fail[k] : must_pass[k - nfail];
        const sg_th_claim *c = sg_th_claim_find(name);
        CHECK(c != NULL, "no check named %s", name);
        if (!c) continue;
        sg_th_claim_result r;
        sg_th_claim_run(c, pt, &r);
        CHECK(strstr(r.detail, "PERTURBED") != NULL, "%s: row not marked perturbed", name);
        if (k < nfail)
            CHECK(!r.pass, "%s must FAIL under %s: measured %s", name, sg_th_perturb_name(pt),
                  r.measured);
        else
            CHECK(r.pass, "%s must still PASS under %s: measured %s", name, sg_th_perturb_name(pt),
                  r.measured);
    }
}
