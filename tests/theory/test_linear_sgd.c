/* tests/theory/test_linear_sgd.c: discrete SGD on the linear model. Its expected update is lr times
 * the flow's right-hand side (checked with a large batch, within the sampling error), for every
 * variant; runs are reproducible from the seed; DirectPred's predictor is the square root of
 * the batch correlation; the perturbation switch acts on the sampled dynamics too; bad
 * parameters are rejected with the field's name. */
#include <math.h>
#include <string.h>

#include "core/theory/flow.h"
#include "core/theory/linalg.h"
#include "core/theory/sgd.h"
#include "test_util.h"

enum { N1 = 4, N2 = 3, W = N1 * N2, Q = N2 * N2, DIM = 2 * W + Q };

static double X[N1 * N1], Xp[N1 * N1];

/* The mean of K independent SGD steps (seeds 1..K, batch B each) from the same state y0 against
 * lr * rhs(y0), entry by entry, in units of the standard error measured from the K steps'
 * spread: an unbiased update stays within a few standard errors (5 here: with ~30 entries a
 * false alarm has probability ~1e-5, and the seeds are fixed), while a wrong term is off by
 * many (the errors are also required to be small against |rhs|, so the test has power). The EMA
 * uses the updated W, which adds lr*beta*dW/dt to the W_a update: allowed for explicitly.
 * Returns the largest |mean - rhs| / (5 se + allowance); <= 1 passes. */
static double expected_update_error(sg_th_flow_params mp, sg_th_perturb sgd_pt,
                                    sg_th_perturb flow_pt, uint64_t seed, double *se_rel) {
    enum { K = 40 };
    sg_err err;
    sg_th_flow f;
    mp.perturb = flow_pt;
    SG_CHECK(sg_th_flow_init(&f, &mp, &err) == 0, "%s", err.msg);
    mp.perturb = sgd_pt;
    double y0[DIM], y[DIM], d[DIM], sum[DIM] = {0}, sum2[DIM] = {0};
    sg_th_flow_init_state(&f, y0, 0.6, 0.6, 0, seed);
    if (mp.target == SG_TH_TARGET_EMA) sg_th_random_normal(y0 + W + Q, W, 0.6, seed, 9);
    const double lr = 1e-3;
    for (int k = 0; k < K; k++) {
        sg_th_sgd_params sp = {
            .model = mp,
            .opt = {.lr = lr, .batch = 4000, .seed = seed * 100 + (uint64_t)k, .dp_freq = 1}};
        sg_th_sgd s;
        SG_CHECK(sg_th_sgd_init(&s, &sp, &err) == 0, "%s", err.msg);
        memcpy(y, y0, sizeof y);
        sg_th_sgd_step(&s, y);
        for (int i = 0; i < DIM; i++) {
            double u = (y[i] - y0[i]) / lr;
            sum[i] += u;
            sum2[i] += u * u;
        }
        sg_th_sgd_free(&s);
    }
    sg_th_flow_rhs(&f, 0, y0, d);
    double worst = 0, max_se = 0, max_rhs = 0;
    for (int i = 0; i < DIM; i++) {
        int in_wa = i >= W + Q;
        if (in_wa && mp.target != SG_TH_TARGET_EMA) continue;
        double mean = sum[i] / K, var = fmax(sum2[i] / K - mean * mean, 0.0);
        double se = sqrt(var / (K - 1));
        double allow = in_wa ? lr * mp.beta * fabs(d[i - W - Q]) * 1.5 + 1e-12 : 1e-12;
        worst = fmax(worst, fabs(mean - d[i]) / (5 * se + allow));
        max_se = fmax(max_se, se);
        max_rhs = fmax(max_rhs, fabs(d[i]));
    }
    *se_rel = max_se / max_rhs;
    sg_th_flow_free(&f);
    return worst;
}

int main(void) {
    sg_th_random_spd(N1, 0.3, 4, 1, X);
    sg_th_random_spd(N1, 0.2, 4, 2, Xp);
    for (int i = 0; i < N1 * N1; i++) Xp[i] *= 0.3;
    sg_th_flow_params m = {.n1 = N1,
                           .n2 = N2,
                           .X = X,
                           .Xp = Xp,
                           .alpha_p = 0.8,
                           .eta = 0.05,
                           .beta = 0.4,
                           .target = SG_TH_TARGET_EMA,
                           .stop_grad = 1,
                           .pred = SG_TH_PRED_LEARNED};

    static const struct {
        sg_th_target target;
        int stop_grad;
        sg_th_pred pred;
        const char *name;
    } v[] = {
        {SG_TH_TARGET_EMA, 1, SG_TH_PRED_LEARNED, "byol"},
        {SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED, "simsiam"},
        {SG_TH_TARGET_ONLINE, 0, SG_TH_PRED_LEARNED, "no stop-grad"},
        {SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_SYMMETRIC, "symmetric"},
        {SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_IDENTITY, "no predictor"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sg_th_flow_params mp = m;
        mp.target = v[i].target;
        mp.stop_grad = v[i].stop_grad;
        mp.pred = v[i].pred;
        double se;
        double e = expected_update_error(mp, SG_TH_PERTURB_NONE, SG_TH_PERTURB_NONE, 10 + i, &se);
        CHECK(e <= 1.0, "%s: |mean SGD update / lr - flow rhs| = %.2f x (5 s.e.)", v[i].name, e);
        CHECK(se < 0.05, "%s: standard error %.4f of |rhs| too large for a sharp test", v[i].name,
              se);
    }
    /* The switch acts on SGD as on the flow: a perturbed SGD matches the perturbed flow. */
    for (int pt = SG_TH_PERTURB_WD_SIGN; pt < SG_TH_PERTURB_COUNT; pt++) {
        double se;
        double e =
            expected_update_error(m, (sg_th_perturb)pt, (sg_th_perturb)pt, 20 + (uint64_t)pt, &se);
        CHECK(e <= 1.0, "perturb %s: SGD vs perturbed flow %.2f x (5 s.e.)", sg_th_perturb_name(pt),
              e);
        /* Power: the nominal SGD is far outside the band around the perturbed flow. */
        e = expected_update_error(m, SG_TH_PERTURB_NONE, (sg_th_perturb)pt, 30 + (uint64_t)pt, &se);
        CHECK(e > 3.0, "perturb %s: nominal SGD vs perturbed flow only %.2f x (5 s.e.)",
              sg_th_perturb_name(pt), e);
    }

    /* Reproducible: same seed, same bits; another seed, another run. */
    {
        sg_err err;
        sg_th_sgd_params sp = {.model = m, .opt = {.lr = 0.05, .batch = 8, .seed = 5}};
        sg_th_sgd a, b, c;
        CHECK(sg_th_sgd_init(&a, &sp, &err) == 0, "%s", err.msg);
        CHECK(sg_th_sgd_init(&b, &sp, &err) == 0, "%s", err.msg);
        sp.opt.seed = 6;
        CHECK(sg_th_sgd_init(&c, &sp, &err) == 0, "%s", err.msg);
        double ya[DIM], yb[DIM], yc[DIM];
        sg_th_flow_init_state(&a.flow, ya, 0.5, 0.5, 0, 1);
        memcpy(yb, ya, sizeof ya);
        memcpy(yc, ya, sizeof ya);
        for (int k = 0; k < 50; k++) {
            sg_th_sgd_step(&a, ya);
            sg_th_sgd_step(&b, yb);
            sg_th_sgd_step(&c, yc);
        }
        CHECK(memcmp(ya, yb, sizeof ya) == 0, "same seed must reproduce bit for bit");
        CHECK(memcmp(ya, yc, sizeof ya) != 0, "another seed must give another run");
        sg_th_sgd_free(&a);
        sg_th_sgd_free(&b);
        sg_th_sgd_free(&c);
    }

    /* Symmetric predictor stays symmetric; identity stays I. */
    {
        sg_err err;
        sg_th_flow_params mp = m;
        mp.target = SG_TH_TARGET_ONLINE;
        mp.pred = SG_TH_PRED_SYMMETRIC;
        sg_th_sgd_params sp = {.model = mp, .opt = {.lr = 0.05, .batch = 8, .seed = 7}};
        sg_th_sgd s;
        CHECK(sg_th_sgd_init(&s, &sp, &err) == 0, "%s", err.msg);
        double y[DIM];
        sg_th_flow_init_state(&s.flow, y, 0.5, 0.5, 0, 2);
        for (int k = 0; k < 20; k++) sg_th_sgd_step(&s, y);
        int sym = 1;
        for (int i = 0; i < N2; i++)
            for (int j = 0; j < N2; j++) sym &= y[W + i * N2 + j] == y[W + j * N2 + i];
        CHECK(sym, "symmetric W_p after 20 steps");
        sg_th_sgd_free(&s);
        mp.pred = SG_TH_PRED_IDENTITY;
        sp.model = mp;
        CHECK(sg_th_sgd_init(&s, &sp, &err) == 0, "%s", err.msg);
        sg_th_flow_init_state(&s.flow, y, 0.5, 0.5, 0, 2);
        for (int k = 0; k < 20; k++) sg_th_sgd_step(&s, y);
        int eye = 1;
        for (int i = 0; i < N2; i++)
            for (int j = 0; j < N2; j++) eye &= y[W + i * N2 + j] == (i == j);
        CHECK(eye, "W_p = I after 20 steps");
        sg_th_sgd_free(&s);
    }

    /* DirectPred: after step 0 (rho irrelevant: the first batch initialises F_hat), W_p^2 is
     * the batch's predictor-input correlation, close to W (X+X') W^T for a large batch. */
    {
        sg_err err;
        sg_th_flow_params mp = m;
        mp.target = SG_TH_TARGET_ONLINE;
        mp.pred = SG_TH_PRED_DIRECTPRED;
        sg_th_sgd_params sp = {
            .model = mp,
            .opt = {.lr = 1e-6, .batch = 40000, .seed = 8, .dp_rho = 0.3, .dp_freq = 1}};
        sg_th_sgd s;
        CHECK(sg_th_sgd_init(&s, &sp, &err) == 0, "%s", err.msg);
        double y[DIM], W2[Q], F[Q], A[W], XX[N1 * N1];
        sg_th_flow_init_state(&s.flow, y, 0.5, 0.0, 0, 3);
        sg_th_sgd_step(&s, y);
        sg_th_mm(W2, y + W, y + W, N2, N2, N2);
        CHECK(tu_close_dd("W_p^2 vs F_hat", W2, s.Fhat, Q, 1e-12, 1e-10), "W_p = F_hat^{1/2}");
        for (int i = 0; i < N1 * N1; i++) XX[i] = X[i] + Xp[i];
        sg_th_mm(A, y, XX, N2, N1, N1);
        sg_th_mm_nt(F, A, y, N2, N1, N2);
        /* 2B = 80000 samples: relative error of a correlation entry ~ sqrt(2/80000) = 0.005. */
        CHECK(tu_close_dd("F_hat vs W (X+X') W^T", s.Fhat, F, Q, 0.03, 0.03), "F_hat estimate");
        sg_th_sgd_free(&s);
    }

    /* Validation. */
    {
        sg_err err;
        sg_th_sgd s;
        sg_th_sgd_params sp = {.model = m, .opt = {.lr = 0, .batch = 8}};
        CHECK(sg_th_sgd_init(&s, &sp, &err) == -1 && strstr(err.msg, "lr"), "%s", err.msg);
        sp.opt.lr = 0.1;
        sp.opt.batch = 0;
        CHECK(sg_th_sgd_init(&s, &sp, &err) == -1 && strstr(err.msg, "batch"), "%s", err.msg);
        sp.opt.batch = 4;
        sp.opt.dp_rho = 1.0;
        CHECK(sg_th_sgd_init(&s, &sp, &err) == -1 && strstr(err.msg, "dp_rho"), "%s", err.msg);
        sp.opt.dp_rho = 0.3;
        sp.model.pred = SG_TH_PRED_DIRECTPRED;
        sp.opt.dp_freq = 0;
        CHECK(sg_th_sgd_init(&s, &sp, &err) == -1 && strstr(err.msg, "dp_freq"), "%s", err.msg);
    }
    return test_finish();
}
