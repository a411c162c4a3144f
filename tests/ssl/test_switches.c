/* Every switch of the SSL step does what it says: symmetric predictors stay symmetric, DirectPred
 * / DirectCopy / the optimal predictor are set from F (and M2) exactly as defined, every `freq`
 * steps; the eigenvalue maps; identity and frozen predictors; target init; one-directional loss;
 * LARS; the learning-rate and EMA schedules; the predictor's fixed learning rate (SGD, LARS). */
#include "core/ssl/ssl.h"
#include "kernels/backend.h"
#include "kernels/ref/ref.h"
#include "test_util.h"
#include "tiny_ssl.h"

static sg_ssl_settings base(void) { return tiny_ssl(0.0625, 16, 8, 8); }

static void build(sg_ssl *m, const sg_ssl_settings *s) {
    sg_err err;
    SG_CHECK(sg_ssl_build(m, s, sg_backend_get("cpu"), &err) == 0, "%s", err.msg);
}

static double step(sg_ssl *m, uint32_t k) {
    size_t n = (size_t)m->B * 3 * 16 * 16;
    tu_fill(m->x[0], n, 11, 2 * k, -1, 1);
    tu_fill(m->x[1], n, 11, 2 * k + 1, -1, 1);
    return sg_ssl_step(m);
}

static double asym(const float *W, int D) {
    double a = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) a = fmax(a, fabs(W[i * D + j] - W[j * D + i]));
    return a;
}

/* Eigenvalues (ascending) of a symmetric D x D matrix in double, via the reference. */
static void eigs(const float *A, int D, double *w) {
    double *a = tu_alloc((size_t)D * D * sizeof(double));
    tu_f2d(A, a, (size_t)D * D);
    ref_syevd(D, a, w);
    free(a);
}

int main(void) {
    sg_cpu_set_threads(2);
    const int D = 8;
    sg_ssl m;

    /* symmetric linear predictor stays symmetric; regular one does not */
    sg_ssl_settings s = base();
    s.pred = SG_PRED_LINEAR;
    s.pred_symmetric = 1;
    build(&m, &s);
    for (uint32_t k = 0; k < 3; k++) step(&m, k);
    CHECK(asym(m.pred_lin.W, D) == 0, "symmetric linear predictor: asymmetry %g", asym(m.pred_lin.W, D));
    sg_ssl_free(&m);
    s.pred_symmetric = 0;
    build(&m, &s);
    for (uint32_t k = 0; k < 3; k++) step(&m, k);
    CHECK(asym(m.pred_lin.W, D) > 1e-6, "regular linear predictor is not symmetric");
    sg_ssl_free(&m);

    /* symmetric MLP predictor: W0 = W1^T */
    s = base();
    s.pred_symmetric = 1;
    build(&m, &s);
    step(&m, 0);
    int tied = 1;
    for (int h = 0; h < 16; h++)
        for (int d = 0; d < D; d++)
            tied &= m.pred_mlp.lin[0].W[h * D + d] == m.pred_mlp.lin[1].W[d * 16 + h];
    CHECK(tied, "symmetric MLP predictor ties W0 to W1^T");
    sg_ssl_free(&m);

    /* DirectPred: W_p = V^T diag(p) V with p the code map of F's eigenvalues, every freq steps */
    s = base();
    s.pred = SG_PRED_DIRECTPRED;
    s.freq = 3;
    build(&m, &s);
    step(&m, 0);
    double wF[8], wW[8];
    float sf[8], pf[8];
    eigs(m.F, D, wF);
    eigs(m.pred_lin.W, D, wW);
    for (int j = 0; j < D; j++) sf[j] = (float)wF[j];
    sg_ssl_eigmap(&s, D, sf, pf);
    int match = 1;
    for (int j = 0; j < D; j++) match &= fabs(wW[j] - pf[j]) < 1e-4; /* p ascending with s */
    CHECK(match && asym(m.pred_lin.W, D) < 1e-6, "DirectPred W_p has eigenvalues map(eig F)");
    step(&m, 1);
    CHECK(asym(m.pred_lin.W, D) > 1e-7, "between overwrites (freq 3) W_p takes SGD steps");
    step(&m, 2);
    step(&m, 3);
    CHECK(asym(m.pred_lin.W, D) < 1e-6, "overwritten again at step 3");
    sg_ssl_free(&m);

    /* eigenvalue maps on known values */
    float sv[4] = {-0.5f, 0.0f, 0.25f, 1.0f}, pv[4];
    s = base();
    s.eps = 0.1;
    s.eigmap = SG_EIGMAP_CODE;
    sg_ssl_eigmap(&s, 4, sv, pv);
    CHECK(fabsf(pv[0] - 0.1f) < 1e-6f && fabsf(pv[2] - 0.6f) < 1e-6f && fabsf(pv[3] - 1.1f) < 1e-6f,
          "code map: sqrt(max(s,0)/s_max) + eps: %g %g %g", pv[0], pv[2], pv[3]);
    sv[3] = 4.0f;
    s.eigmap = SG_EIGMAP_PAPER;
    sg_ssl_eigmap(&s, 4, sv, pv);
    CHECK(fabsf(pv[2] - (0.5f + 0.4f)) < 1e-6f && fabsf(pv[3] - 2.4f) < 1e-6f,
          "paper map: sqrt(s) + eps*s_max: %g %g", pv[2], pv[3]);
    s.eigmap = SG_EIGMAP_SHIFT;
    s.shift_c = 0.25;
    sg_ssl_eigmap(&s, 4, sv, pv);
    CHECK(pv[1] == 0.0f && pv[2] == 0.0f && fabsf(pv[3] - sqrtf(3.75f)) < 1e-6f,
          "shift map: sqrt(max(s-c,0)): %g %g", pv[2], pv[3]);
    /* shift_rel: sqrt(max(s/s_max - c, 1e-4)), s_max = 4 here; c = 0.01 floors the first two,
     * c = -0.5 raises every one */
    s.eigmap = SG_EIGMAP_SHIFT_REL;
    for (int ci = 0; ci < 2; ci++) {
        s.shift_c = ci ? -0.5 : 0.01;
        sg_ssl_eigmap(&s, 4, sv, pv);
        double worst_rel = 0;
        for (int j = 0; j < 4; j++)
            worst_rel = fmax(worst_rel, fabs(pv[j] - sqrt(fmax(sv[j] / 4.0 - s.shift_c, 1e-4))));
        CHECK(worst_rel < 1e-7, "shift_rel map with c = %g: sqrt(max(s/s_max - c, 1e-4)): "
              "%g %g %g %g", s.shift_c, pv[0], pv[1], pv[2], pv[3]);
    }
    CHECK(pv[0] == (float)sqrt(0.375) && pv[2] == 0.75f && fabsf(pv[3] - sqrtf(1.5f)) < 1e-7f,
          "shift_rel map, c = -0.5: %g %g %g", pv[0], pv[2], pv[3]);
    s.shift_c = 0.01;
    sg_ssl_eigmap(&s, 4, sv, pv);
    CHECK(pv[0] == 0.01f && pv[1] == 0.01f && pv[2] == (float)sqrt(0.0525) &&
              pv[3] == (float)sqrt(0.99),
          "shift_rel map, c = 0.01: floored at sqrt(1e-4) = 0.01: %g %g %g %g", pv[0], pv[1],
          pv[2], pv[3]);
    s.eigmap = SG_EIGMAP_CODE;
    s.eps = -2;
    sg_ssl_eigmap(&s, 4, sv, pv);
    CHECK(pv[0] == 1e-4f, "code map floors at 1e-4");

    /* DirectCopy: W = F + eps I; normalised: F / lambda_max + eps I */
    for (int norm = 0; norm < 2; norm++) {
        s = base();
        s.pred = SG_PRED_DIRECTCOPY;
        s.directcopy_normalize = norm;
        build(&m, &s);
        step(&m, 0);
        eigs(m.F, D, wF);
        double scale = norm ? 1.0 / wF[D - 1] : 1.0, worst = 0;
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                worst = fmax(worst, fabs(m.pred_lin.W[i * D + j] -
                                         (scale * m.F[i * D + j] + (i == j ? 0.1 : 0.0))));
        CHECK(worst < 1e-5, "DirectCopy%s: W = F%s + eps I (max err %g)", norm ? " normalised" : "",
              norm ? "/lambda_max" : "", worst);
        sg_ssl_free(&m);
    }

    /* optimal predictor: W F + F W + reg W = 2 sym(M2) */
    s = base();
    s.pred = SG_PRED_OPTIMAL;
    s.optimal_reg = 0.01;
    build(&m, &s);
    step(&m, 0);
    step(&m, 1);
    double res = 0, ref = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double lhs = 0.01 * m.pred_lin.W[i * D + j];
            for (int k = 0; k < D; k++)
                lhs += (double)m.pred_lin.W[i * D + k] * m.F[k * D + j] +
                       (double)m.F[i * D + k] * m.pred_lin.W[k * D + j];
            double rhs = (double)m.M2[i * D + j] + m.M2[j * D + i];
            res = fmax(res, fabs(lhs - rhs));
            ref = fmax(ref, fabs(rhs));
        }
    CHECK(res < 1e-3 * ref, "optimal predictor solves WF + FW + reg W = 2 M2 (residual %g of %g)",
          res, ref);
    sg_ssl_free(&m);

    /* identity predictor: p = z; frozen random predictor: its weights never move */
    s = base();
    s.pred = SG_PRED_IDENTITY;
    build(&m, &s);
    step(&m, 0);
    CHECK(!memcmp(m.pred_out[0], m.on_proj[0].y, (size_t)m.B * D * sizeof(float)),
          "identity predictor outputs z");
    sg_ssl_free(&m);
    s.pred = SG_PRED_RANDOM;
    build(&m, &s);
    size_t first, count;
    sg_params_group_range(&m.online, SG_PG_PREDICTOR, &first, &count);
    float *before = tu_alloc(count * sizeof(float));
    memcpy(before, m.online.w + first, count * sizeof(float));
    step(&m, 0);
    step(&m, 1);
    CHECK(count > 0 && !memcmp(before, m.online.w + first, count * sizeof(float)),
          "fixed random predictor is never updated");
    free(before);
    sg_ssl_free(&m);

    /* target init: copy vs independent */
    s = base();
    s.target_copy = 1;
    build(&m, &s);
    CHECK(!memcmp(m.target.w, m.online.w, m.target.total * sizeof(float)), "copy: target = online");
    sg_ssl_free(&m);
    s.target_copy = 0;
    build(&m, &s);
    CHECK(memcmp(m.target.w, m.online.w, m.target.total * sizeof(float)) != 0,
          "independent: target has its own init");
    /* the EMA moves the target towards the online network */
    double d0 = 0, d1 = 0;
    for (size_t i = 0; i < m.target.total; i++) d0 += fabs(m.target.w[i] - m.online.w[i]);
    step(&m, 0);
    for (size_t i = 0; i < m.target.total; i++) d1 += fabs(m.target.w[i] - m.online.w[i]);
    CHECK(d1 < d0, "EMA pulls the target to the online weights (%g -> %g)", d0, d1);
    sg_ssl_free(&m);

    /* one-directional loss is one term: about half the symmetric one on the same data */
    s = base();
    build(&m, &s);
    double l2 = step(&m, 0);
    sg_ssl_free(&m);
    s.symmetric_loss = 0;
    build(&m, &s);
    double l1 = step(&m, 0);
    sg_ssl_free(&m);
    CHECK(l1 >= -2.0 && l1 <= 2.0 && l2 >= -4.0 && l2 <= 4.0 && l1 != l2,
          "one-directional %g in [-2,2], symmetric %g in [-4,4]", l1, l2);

    /* LARS trains and differs from SGD */
    s = base();
    s.optimizer = SG_OPT_LARS;
    s.lr = 0.2;
    s.lars_eta = 0.001;
    build(&m, &s);
    float *w0 = tu_alloc(m.online.total * sizeof(float));
    memcpy(w0, m.online.w, m.online.total * sizeof(float));
    step(&m, 0);
    CHECK(memcmp(w0, m.online.w, m.online.total * sizeof(float)) != 0, "LARS updates the weights");
    free(w0);
    sg_ssl_free(&m);

    /* predictor.fixed_lr, SGD and LARS: under warm-up and cosine the predictor group's lr stays
     * lr * alpha_p while the trunk's follows the schedule. One step at k = 60 of 100 (cosine
     * factor 0.41) from the same weights and data in three models: fixed (A), everything at the
     * constant base rate (C), everything on the schedule (S). A's predictor moves exactly as C's
     * and its trunk/projector exactly as S's; neither equals the other. */
    for (int lars = 0; lars < 2; lars++) {
        sg_ssl_settings sa = base();
        sa.optimizer = lars ? SG_OPT_LARS : SG_OPT_SGD;
        sa.lr = lars ? 0.2 : 0.05;
        sa.pred_lr_mult = 2;
        sa.lr_cosine = 1;
        sa.warmup_steps = 10;
        sa.total_steps = 100;
        sa.pred_fixed_lr = 1;
        sg_ssl_settings sconst = sa, ssched = sa;
        sconst.lr_cosine = 0;
        sconst.warmup_steps = 0;
        sconst.pred_fixed_lr = 0;
        ssched.pred_fixed_lr = 0;
        const long k = 60;
        const double base_p = sa.lr * sa.pred_lr_mult;
        const double cosine = sa.lr * 0.5 * (1 + cos(acos(-1.0) * 50 / 90)); /* (60-10)/90 */
        CHECK(sg_ssl_pred_lr_at(&sa, 0) == base_p && sg_ssl_pred_lr_at(&sa, k) == base_p &&
                  sg_ssl_pred_lr_at(&sa, 99) == base_p && sg_ssl_lr_at(&sa, 0) < 0.2 * sa.lr &&
                  fabs(sg_ssl_lr_at(&sa, k) - cosine) < 1e-12 &&
                  sg_ssl_pred_lr_at(&ssched, k) == sg_ssl_lr_at(&sa, k) * sa.pred_lr_mult,
              "%s: predictor lr fixed at %g through warm-up and cosine (trunk %g at step 0, %g at "
              "step %ld)", lars ? "LARS" : "SGD", base_p, sg_ssl_lr_at(&sa, 0),
              sg_ssl_lr_at(&sa, k), k);
        sg_ssl ma, mc, ms;
        build(&ma, &sa);
        build(&mc, &sconst);
        build(&ms, &ssched);
        ma.step = mc.step = ms.step = k;
        step(&ma, 5);
        step(&mc, 5);
        step(&ms, 5);
        size_t pf, pc;
        CHECK(sg_params_group_range(&ma.online, SG_PG_PREDICTOR, &pf, &pc) && pc > 0,
              "the predictor group");
        const size_t pb = pc * sizeof(float), tb = pf * sizeof(float);
        CHECK(!memcmp(ma.online.w + pf, mc.online.w + pf, pb) &&
                  memcmp(ma.online.w + pf, ms.online.w + pf, pb) != 0,
              "%s: the fixed-lr predictor steps as at the base rate, not as on the schedule",
              lars ? "LARS" : "SGD");
        CHECK(!memcmp(ma.online.w, ms.online.w, tb) && memcmp(ma.online.w, mc.online.w, tb) != 0,
              "%s: trunk and projector step on the schedule", lars ? "LARS" : "SGD");
        if (!lars)
            CHECK(ma.n_sgd == 2 && ma.sgd[1].lr == (float)base_p &&
                      ma.sgd[0].lr == (float)sg_ssl_lr_at(&sa, k),
                  "SGD groups' rates at step %ld: trunk %g, predictor %g", k, ma.sgd[0].lr,
                  ma.sgd[1].lr);
        sg_ssl_free(&ma);
        sg_ssl_free(&mc);
        sg_ssl_free(&ms);
    }

    /* schedules */
    s = base();
    s.lr = 1.0;
    s.lr_cosine = 1;
    s.warmup_steps = 10;
    s.total_steps = 110;
    CHECK(fabs(sg_ssl_lr_at(&s, 0) - 0.1) < 1e-12 && fabs(sg_ssl_lr_at(&s, 9) - 1.0) < 1e-12,
          "linear warm-up");
    CHECK(fabs(sg_ssl_lr_at(&s, 60) - 0.5) < 1e-12 && sg_ssl_lr_at(&s, 110) < 1e-12, "cosine decay");
    s.ema = 0.996;
    s.ema_cosine = 1;
    CHECK(fabs(sg_ssl_ema_at(&s, 0) - 0.996) < 1e-12 && fabs(sg_ssl_ema_at(&s, 55) - 0.998) < 1e-12 &&
              fabs(sg_ssl_ema_at(&s, 110) - 1.0) < 1e-12,
          "BYOL's EMA schedule from m to 1");
    s.ema_cosine = 0;
    CHECK(sg_ssl_ema_at(&s, 77) == 0.996, "constant EMA");
    return test_finish();
}
