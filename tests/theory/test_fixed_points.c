/* tests/theory/test_fixed_points.c: the closed forms of the per-mode system (eta_crit, p*_{+-},
 * the product form of p*_- at small eta) and what the simulator does there: zero velocity on
 * the parabola at the roots, the slope signs that make 0 and p*_+ stable and p*_- unstable. */
#include <math.h>

#include "core/theory/modes.h"
#include "test_util.h"

int main(void) {
    sg_rng rng;
    sg_rng_init(&rng, 2021, 6, 0, 0);
    for (int trial = 0; trial < 40; trial++) {
        double tau = sg_rng_uniform_range(&rng, 0.3, 1.0),
               sigma2 = sg_rng_uniform_range(&rng, 0, 0.5);
        double ec = sg_th_eta_crit(tau, sigma2), k = 1 + sigma2;
        CHECK(fabs(ec - tau * tau / (4 * k)) < 1e-15, "eta_crit");
        double eta = sg_rng_uniform_range(&rng, 0.01, 0.99) * ec, pm = -1, pp = -1;
        CHECK(sg_th_pstar(tau, eta, sigma2, &pm, &pp) == 2, "two branches below eta_crit");
        /* Both solve p (tau - k p) = eta, on either side of the vertex tau/(2k). */
        CHECK(fabs(pm * (tau - k * pm) - eta) < 1e-14, "p*_- root residual");
        CHECK(fabs(pp * (tau - k * pp) - eta) < 1e-14, "p*_+ root residual");
        CHECK(0 < pm && pm < tau / (2 * k) && tau / (2 * k) < pp && pp < tau / k, "ordering");
        sg_th_mode_params mp = {.alpha_p = sg_rng_uniform_range(&rng, 0.5, 2.0),
                                .eta = eta,
                                .sigma2 = sigma2,
                                .tau_mode = SG_TH_TAU_FIXED};
        double pts[3] = {0, pm, pp};
        for (int j = 0; j < 3; j++) {
            double v = sg_th_mode_parabola_dpdt(&mp, pts[j], tau);
            CHECK(fabs(v) < 1e-15, "trial %d: dp/dt = %.3e at fixed point %d", trial, v, j);
            const double h = 1e-6;
            double slope = (sg_th_mode_parabola_dpdt(&mp, pts[j] + h, tau) -
                            sg_th_mode_parabola_dpdt(&mp, pts[j] - h, tau)) /
                           (2 * h);
            if (j == 1)
                CHECK(slope > 0, "p*_- must repel: slope %.3e", slope);
            else
                CHECK(slope < 0, "fixed point %d must attract: slope %.3e", j, slope);
        }
        /* The full (p, s) field vanishes there too (s = p^2/alpha_p), tau held. */
        double y[3] = {pp, pp * pp / mp.alpha_p, tau}, d[3];
        sg_th_mode_rhs(&mp, 0, y, d);
        CHECK(fabs(d[0]) < 1e-15 && fabs(d[1]) < 1e-15 && d[2] == 0, "(p*_+, s*) fixed");
        /* Above eta_crit nothing but 0 is left, and the outputs are untouched. */
        double a = 7, b = 7;
        CHECK(sg_th_pstar(tau, 1.01 * ec, sigma2, &a, &b) == 0 && a == 7 && b == 7, "above crit");
    }
    /* At eta_crit both branches meet at tau/(2k). */
    {
        double pm, pp, tau = 0.8, sigma2 = 0.2, ec = sg_th_eta_crit(tau, sigma2);
        CHECK(sg_th_pstar(tau, ec, sigma2, &pm, &pp) == 2, "at crit");
        CHECK(fabs(pm - tau / 2.4) < 1e-7 && fabs(pp - tau / 2.4) < 1e-7, "double root %.9f %.9f",
              pm, pp);
    }
    /* Small eta: p*_- ~ eta / tau without cancellation (the naive form loses all digits). */
    {
        double pm, pp, tau = 1.0, eta = 1e-13;
        sg_th_pstar(tau, eta, 0.1, &pm, &pp);
        double want = eta / tau * (1 + eta * 1.1 / (tau * tau)); /* series to second order */
        CHECK(fabs(pm - want) / want < 1e-12, "p*_- at eta=1e-13: %.17g vs %.17g", pm, want);
    }
    /* eta = 0: p = tau/(1+sigma^2) fixed for any s; s = 0 fixed for any p. */
    {
        sg_th_mode_params mp = {
            .alpha_p = 1.3, .eta = 0, .sigma2 = 0.25, .tau_mode = SG_TH_TAU_FIXED};
        double y[3] = {0.8 / 1.25, 3.7, 0.8}, d[3];
        sg_th_mode_rhs(&mp, 0, y, d);
        CHECK(d[0] == 0 && d[1] == 0, "p = tau/k is fixed at eta = 0: %g %g", d[0], d[1]);
        double z[3] = {-0.4, 0.0, 0.8};
        sg_th_mode_rhs(&mp, 0, z, d);
        CHECK(d[0] == 0 && d[1] == 0, "s = 0 is fixed at eta = 0");
    }
    /* EMA: tau = 1 is fixed exactly when the mode is at equilibrium. */
    {
        double pm, pp;
        sg_th_pstar(1.0, 0.05, 0.1, &pm, &pp);
        sg_th_mode_params mp = {
            .alpha_p = 1, .eta = 0.05, .sigma2 = 0.1, .beta = 0.3, .tau_mode = SG_TH_TAU_EMA};
        double y[3] = {pp, pp * pp, 1.0}, d[3];
        sg_th_mode_rhs(&mp, 0, y, d);
        CHECK(fabs(d[2]) < 1e-15, "dtau/dt at the equilibrium: %.3e", d[2]);
        y[2] = 0.0;
        sg_th_mode_rhs(&mp, 0, y, d);
        CHECK(fabs(d[2] - 0.3) < 1e-15, "dtau/dt = beta at tau = 0: %.6f", d[2]);
    }
    return test_finish();
}
