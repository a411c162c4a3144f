/* tests/eval/test_probe.c: the linear probe (core/eval/probe.c).
 *
 * - Softmax cross-entropy: loss and gradient against central differences of a double
 *   log-sum-exp, several shapes.
 * - Adam: step 1 in closed form (m_hat = g', v_hat = g'^2, so w -= lr g'/(|g'| + eps)) and three
 *   steps against the torch recurrence written out in double.
 * - Separable Gaussian clusters (10 classes, 32 dims): > 95% test accuracy; random labels stay
 *   near chance (10%).
 * - Standardisation uses the train statistics: one shift added to train and test alike leaves
 *   the accuracy where it was; the same shift on the test set only ruins it.
 * - Determinism: two runs give the same bits; the per-epoch record agrees with final/best.
 * - Bad input: invalid config fields, labels out of range, non-finite features.
 */
#include "core/eval/eval.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "test_util.h"

/* ---- cross-entropy against finite differences ------------------------------------------- */

typedef struct {
    int N, C;
    const int32_t *labels;
} xent_ctx;

static double xent_double(const double *z, void *vctx) {
    const xent_ctx *c = (const xent_ctx *)vctx;
    double loss = 0.0;
    for (int n = 0; n < c->N; n++) {
        const double *r = z + (size_t)n * c->C;
        double mx = r[0];
        for (int k = 1; k < c->C; k++) mx = r[k] > mx ? r[k] : mx;
        double s = 0.0;
        for (int k = 0; k < c->C; k++) s += exp(r[k] - mx);
        loss += mx + log(s) - r[c->labels[n]];
    }
    return loss / c->N;
}

static void test_xent(void) {
    const int shapes[][2] = {{1, 2}, {5, 7}, {16, 10}, {3, 100}};
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const int N = shapes[t][0], C = shapes[t][1];
        float *z = tu_alloc((size_t)N * C * sizeof(float));
        float *dz = tu_alloc((size_t)N * C * sizeof(float));
        double *zd = tu_alloc((size_t)N * C * sizeof(double));
        double *gd = tu_alloc((size_t)N * C * sizeof(double));
        int32_t *y = tu_alloc((size_t)N * sizeof(int32_t));
        tu_fill(z, (size_t)N * C, 100 + t, 1, -4.0f, 4.0f);
        sg_rng r;
        sg_rng_init(&r, 200 + t, 0, 0, 0);
        for (int n = 0; n < N; n++) y[n] = (int32_t)sg_rng_below(&r, (uint32_t)C);
        double loss = sg_probe_xent(N, C, z, y, dz);
        tu_f2d(z, zd, (size_t)N * C);
        tu_f2d(dz, gd, (size_t)N * C);
        xent_ctx ctx = {N, C, y};
        double want = xent_double(zd, &ctx);
        CHECK(fabs(loss - want) <= 1e-12 * (1.0 + fabs(want)), "N%d C%d loss %.15g want %.15g", N,
              C, loss, want);
        /* dlogits are float: agreement to float rounding of values <= 1/N */
        CHECK(tu_gradcheck("xent grad", xent_double, &ctx, zd, (size_t)N * C, gd, 1e-5, 1e-7, 1e-5),
              "N%d C%d", N, C);
        /* each row of the gradient sums to 0 (softmax sums to 1) */
        for (int n = 0; n < N; n++) {
            double s = 0.0;
            for (int k = 0; k < C; k++) s += dz[(size_t)n * C + k];
            CHECK(fabs(s) < 1e-6, "N%d C%d row %d gradient sum %g", N, C, n, s);
        }
        free(z), free(dz), free(zd), free(gd), free(y);
    }
}

/* ---- Adam ------------------------------------------------------------------------------- */

static void test_adam(void) {
    enum { n = 5 };
    const float lr = 3e-4f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 1e-3f;
    float w[n], m[n] = {0}, v[n] = {0}, g[3][n];
    tu_fill(w, n, 7, 1, -1.0f, 1.0f);
    for (int s = 0; s < 3; s++) tu_fill(g[s], n, 7, 2 + (uint32_t)s, -0.5f, 0.5f);
    double wd_[n], md[n] = {0}, vd[n] = {0};
    tu_f2d(w, wd_, n);

    /* step 1 in closed form: bias correction makes m_hat = g', v_hat = g'^2 */
    double want1[n];
    for (int i = 0; i < n; i++) {
        double gp = (double)g[0][i] + (double)wd * wd_[i];
        want1[i] = wd_[i] - (double)lr * gp / (fabs(gp) + (double)eps);
    }
    sg_probe_adam_step(n, w, g[0], m, v, 1, lr, b1, b2, eps, wd);
    CHECK(tu_close_fd("adam step 1", w, want1, n, 1e-9, 1e-6), "closed form");
    for (int i = 0; i < n; i++)
        CHECK(fabs(w[i] - wd_[i]) > 0.9 * lr && fabs(w[i] - wd_[i]) < 1.01 * lr,
              "step 1 moves each weight by ~lr: %g", fabs(w[i] - wd_[i]));

    /* three steps of the recurrence in double */
    for (int s = 0; s < 3; s++) {
        double bc1 = 1.0 - pow(b1, s + 1), bc2 = 1.0 - pow(b2, s + 1);
        for (int i = 0; i < n; i++) {
            double gp = (double)g[s][i] + (double)wd * wd_[i];
            md[i] = (double)b1 * md[i] + (1.0 - (double)b1) * gp;
            vd[i] = (double)b2 * vd[i] + (1.0 - (double)b2) * gp * gp;
            wd_[i] -= (double)lr / bc1 * md[i] / (sqrt(vd[i]) / sqrt(bc2) + (double)eps);
        }
        if (s > 0) sg_probe_adam_step(n, w, g[s], m, v, s + 1, lr, b1, b2, eps, wd);
    }
    CHECK(tu_close_fd("adam 3 steps w", w, wd_, n, 1e-8, 1e-6), "w");
    CHECK(tu_close_fd("adam 3 steps m", m, md, n, 1e-10, 1e-5), "m");
    CHECK(tu_close_fd("adam 3 steps v", v, vd, n, 1e-12, 1e-5), "v");
}

/* ---- synthetic data ---------------------------------------------------------------------- */

/* nclasses Gaussian clusters in D dims: means ~ N(0, sep^2 I), samples = mean + N(0, I);
 * labels cycle through the classes. `random_labels` replaces the labels by uniform ones. */
static void clusters(int n, int D, int nclasses, uint64_t seed, int random_labels, float *x,
                     int32_t *y, const float *means) {
    sg_rng r;
    sg_rng_init(&r, seed, 1, 0, 0);
    for (int i = 0; i < n; i++) {
        int c = i % nclasses;
        for (int j = 0; j < D; j++)
            x[(size_t)i * D + j] = means[(size_t)c * D + j] + (float)sg_rng_normal(&r);
        y[i] = random_labels ? (int32_t)sg_rng_below(&r, (uint32_t)nclasses) : c;
    }
}

static void make_means(int nclasses, int D, float sep, uint64_t seed, float *means) {
    sg_rng r;
    sg_rng_init(&r, seed, 2, 0, 0);
    sg_rng_fill_normal(&r, means, (long)nclasses * D, 0.0f, sep);
}

enum { NTRAIN = 4000, NTEST = 1000, DIM = 32, NCLS = 10 };

typedef struct {
    float xtr[NTRAIN * DIM], xte[NTEST * DIM], means[NCLS * DIM];
    int32_t ytr[NTRAIN], yte[NTEST];
} dataset;

static void make_dataset(dataset *d, float sep, int random_labels, uint64_t seed) {
    make_means(NCLS, DIM, sep, seed, d->means);
    clusters(NTRAIN, DIM, NCLS, seed * 3 + 1, random_labels, d->xtr, d->ytr, d->means);
    clusters(NTEST, DIM, NCLS, seed * 3 + 2, random_labels, d->xte, d->yte, d->means);
}

static void test_clusters(const sg_backend *be) {
    static dataset d;
    make_dataset(&d, 1.0f, 0, 11);
    sg_probe_config cfg = sg_probe_config_default();
    cfg.seed = 5;
    sg_probe_result res;
    double per_epoch[50];
    sg_err err = {{0}};
    int rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &res,
                          per_epoch, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    printf("clusters: final %.2f best %.2f (epoch %d) train %.2f loss %.4f\n", res.test_acc_final,
           res.test_acc_best, res.best_epoch, res.train_acc_final, res.train_loss_final);
    CHECK(res.test_acc_final > 95.0, "final test accuracy %.2f%%", res.test_acc_final);
    CHECK(res.train_acc_final > 95.0, "train accuracy %.2f%%", res.train_acc_final);
    CHECK(res.train_loss_final < 0.5 && res.train_loss_final > 0.0, "loss %g",
          res.train_loss_final);
    /* the per-epoch record agrees with the summary: final = last, best = first maximum */
    CHECK(per_epoch[49] == res.test_acc_final, "last epoch %g vs final %g", per_epoch[49],
          res.test_acc_final);
    double mx = per_epoch[0];
    int at = 0;
    for (int e = 1; e < 50; e++)
        if (per_epoch[e] > mx) mx = per_epoch[e], at = e;
    CHECK(mx == res.test_acc_best && at == res.best_epoch, "best %g@%d vs %g@%d", mx, at,
          res.test_acc_best, res.best_epoch);
    /* learning happens: the first epoch is worse than the best on these slow Adam settings */
    CHECK(per_epoch[0] <= res.test_acc_best, "epoch 0 %g best %g", per_epoch[0],
          res.test_acc_best);

    /* Standardisation with the train statistics. A shift of every feature by +4 (4 noise
     * std) applied to train and test alike is removed by the train mean: same accuracy. */
    static dataset s;
    s = d;
    for (size_t i = 0; i < (size_t)NTRAIN * DIM; i++) s.xtr[i] += 4.0f;
    for (size_t i = 0; i < (size_t)NTEST * DIM; i++) s.xte[i] += 4.0f;
    sg_probe_result both;
    rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, s.xtr, s.ytr, s.xte, s.yte, &both,
                      NULL, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    CHECK(fabs(both.test_acc_final - res.test_acc_final) <= 1.0,
          "shift of both sets: %.2f vs %.2f", both.test_acc_final, res.test_acc_final);
    /* The same shift on the test set only survives standardisation (a test-statistics scaler
     * would remove it) and pushes every test point the same way: far below the clean result. */
    s = d;
    for (size_t i = 0; i < (size_t)NTEST * DIM; i++) s.xte[i] += 4.0f;
    sg_probe_result test_only;
    rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, s.xtr, s.ytr, s.xte, s.yte, &test_only,
                      NULL, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    printf("test-only shift: final %.2f (clean %.2f)\n", test_only.test_acc_final,
           res.test_acc_final);
    CHECK(test_only.test_acc_final < 60.0, "test-only shift: %.2f%%", test_only.test_acc_final);
    CHECK(test_only.train_acc_final == res.train_acc_final, "train side unchanged: %g vs %g",
          test_only.train_acc_final, res.train_acc_final);

    /* Determinism: the same call again gives the same bits. */
    sg_probe_result again;
    double per_epoch2[50];
    rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &again,
                      per_epoch2, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    /* field by field: the struct's padding is not part of the result */
    CHECK(again.test_acc_final == res.test_acc_final && again.test_acc_best == res.test_acc_best &&
              again.best_epoch == res.best_epoch && again.train_acc_final == res.train_acc_final &&
              memcmp(&again.train_loss_final, &res.train_loss_final, sizeof(double)) == 0 &&
              memcmp(per_epoch, per_epoch2, sizeof per_epoch) == 0,
          "two runs differ: final %.17g vs %.17g, loss %.17g vs %.17g", again.test_acc_final,
          res.test_acc_final, again.train_loss_final, res.train_loss_final);
    /* ...and another seed changes the training trajectory (init and order). */
    cfg.seed = 6;
    rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &again,
                      NULL, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    CHECK(again.train_loss_final != res.train_loss_final, "seed 6 loss %.17g equals seed 5's",
          again.train_loss_final);
}

static void test_random_labels(const sg_backend *be) {
    static dataset d;
    make_dataset(&d, 1.0f, 1, 21);
    sg_probe_config cfg = sg_probe_config_default();
    sg_probe_result res;
    sg_err err = {{0}};
    int rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &res,
                          NULL, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    printf("random labels: final %.2f best %.2f train %.2f\n", res.test_acc_final,
           res.test_acc_best, res.train_acc_final);
    /* chance is 10%; 500 test samples give a standard error of 1.3 points, and the best of 50
     * epochs sits a little higher */
    CHECK(res.test_acc_final > 4.0 && res.test_acc_final < 16.0, "final %.2f%%",
          res.test_acc_final);
    CHECK(res.test_acc_best < 18.0, "best %.2f%%", res.test_acc_best);
    /* top-5 of 10 classes by chance is 50% (1000 test samples: standard error 1.6 points) */
    CHECK(res.test_acc_top5 > 42.0 && res.test_acc_top5 < 58.0 &&
              res.test_acc_top5 >= res.test_acc_final,
          "random labels: top-5 %.2f%%", res.test_acc_top5);
}

static void test_errors(const sg_backend *be) {
    static dataset d;
    make_dataset(&d, 1.0f, 0, 31);
    sg_probe_result res;
    sg_err err;
    sg_probe_config cfg = sg_probe_config_default();
    cfg.epochs = 0;
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &res, NULL,
                       &err) == -1 && strstr(err.msg, "epochs"),
          "epochs = 0: %s", err.msg);
    cfg = sg_probe_config_default();
    cfg.beta2 = 1.0f;
    CHECK(sg_probe_config_validate(&cfg, &err) == -1 && strstr(err.msg, "beta2"), "beta2: %s",
          err.msg);
    cfg = sg_probe_config_default();
    cfg.lr = -1.0f;
    CHECK(sg_probe_config_validate(&cfg, &err) == -1 && strstr(err.msg, "lr"), "lr: %s", err.msg);
    cfg = sg_probe_config_default();
    CHECK(sg_probe_config_validate(&cfg, &err) == 0, "defaults are valid: %s", err.msg);

    d.yte[17] = NCLS;
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &res, NULL,
                       &err) == -1 && strstr(err.msg, "test label 10 of sample 17"),
          "label out of range: %s", err.msg);
    d.yte[17] = 3;
    d.xtr[5 * DIM + 2] = NAN;
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &res, NULL,
                       &err) == -1 && strstr(err.msg, "train feature 2 of sample 5"),
          "NaN feature: %s", err.msg);
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, 1, d.xtr, d.ytr, d.xte, d.yte, &res, NULL,
                       &err) == -1 && strstr(err.msg, "nclasses"),
          "one class: %s", err.msg);

    char buf[256];
    int n = sg_probe_config_describe(&cfg, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n < sizeof buf &&
              strcmp(buf, "adam lr=0.0003 b1=0.9 b2=0.999 eps=1e-08 wd=0.001 bs=128 epochs<=50 "
                          "std_floor=1e-06 seed=0 select=last-epoch") == 0,
          "describe: %s", buf);
    cfg.holdout = 0.1;
    cfg.patience = 5;
    n = sg_probe_config_describe(&cfg, buf, sizeof buf);
    CHECK(strstr(buf, "select=holdout(0.1) patience=5") != NULL, "describe: %s", buf);
    cfg.holdout = 0.6;
    CHECK(sg_probe_config_validate(&cfg, &err) == -1 && strstr(err.msg, "holdout"), "holdout: %s",
          err.msg);
    cfg.holdout = 0;
    cfg.patience = -1;
    CHECK(sg_probe_config_validate(&cfg, &err) == -1 && strstr(err.msg, "patience"),
          "patience: %s", err.msg);
}

/* A constant feature (zero train variance) is centred, not divided by ~0: test values a little
 * off the constant change nothing, where a clamped std (1e-6) would blow them up 10^4-fold. */
static void test_constant_feature(const sg_backend *be) {
    static dataset d;
    make_dataset(&d, 1.0f, 0, 41);
    for (int i = 0; i < NTRAIN; i++) d.xtr[(size_t)i * DIM + 3] = 0.25f;
    for (int i = 0; i < NTEST; i++) d.xte[(size_t)i * DIM + 3] = 0.25f;
    sg_probe_config cfg = sg_probe_config_default();
    cfg.epochs = 10;
    sg_probe_result clean, off;
    sg_err err = {{0}};
    int rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &clean,
                          NULL, &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    for (int i = 0; i < NTEST; i++) d.xte[(size_t)i * DIM + 3] = 0.25f + 0.01f * (float)(i % 7 - 3);
    rc = sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &off, NULL,
                      &err);
    CHECK(rc == 0, "probe failed: %s", err.msg);
    CHECK(clean.test_acc_final > 60.0, "constant feature: %.2f%%", clean.test_acc_final);
    CHECK(fabs(off.test_acc_final - clean.test_acc_final) <= 0.5,
          "test values off a train-constant feature: %.2f%% vs %.2f%%", off.test_acc_final,
          clean.test_acc_final);
}

/* Selection on held-out training images: the selected epoch and the reported accuracy come from
 * the held-out score, so scrambling the test labels (which changes every test accuracy) cannot
 * move the selected epoch; the result is the test accuracy at that epoch; the early stop comes
 * `patience` epochs after the last improvement; holdout 0 reports the last epoch. */
static void test_holdout(const sg_backend *be) {
    static dataset d;
    make_dataset(&d, 0.35f, 0, 51); /* overlapping clusters: accuracy moves from epoch to epoch */
    sg_probe_config cfg = sg_probe_config_default();
    cfg.holdout = 0.1;
    cfg.patience = 3;
    cfg.epochs = 40;
    cfg.seed = 9;
    sg_probe_result r, scrambled, plain;
    double acc[40], acc2[40];
    sg_err err = {{0}};
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &r, acc,
                       &err) == 0, "holdout probe: %s", err.msg);
    printf("holdout: selected epoch %d of %d run, test %.2f (held-out %.2f), reference best "
           "%.2f at %d\n", r.selected_epoch, r.epochs_run, r.test_acc, r.holdout_acc,
           r.test_acc_best, r.best_epoch);
    CHECK(r.nheld == 400 && r.nfit == NTRAIN - 400, "400 held out (%d), %d fitted", r.nheld, r.nfit);
    CHECK(r.selected_epoch >= 0 && r.selected_epoch < r.epochs_run &&
              r.test_acc == acc[r.selected_epoch],
          "the result is the test accuracy of the selected epoch");
    CHECK(r.epochs_run == cfg.epochs || r.epochs_run - 1 - r.selected_epoch == cfg.patience,
          "stopped %d epochs after the selection (patience %d) or ran all",
          r.epochs_run - 1 - r.selected_epoch, cfg.patience);
    CHECK(r.test_acc <= r.test_acc_best && !isnan(r.holdout_acc), "the reference's number is the max");
    CHECK(r.test_acc_top5 >= r.test_acc && r.test_acc_top5 <= 100.0, "top-5 %.2f >= top-1 %.2f",
          r.test_acc_top5, r.test_acc);
    for (int i = 0; i < NTEST; i++) d.yte[i] = (d.yte[i] + 1 + i % 3) % NCLS;
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &scrambled,
                       acc2, &err) == 0, "scrambled: %s", err.msg);
    CHECK(scrambled.selected_epoch == r.selected_epoch && scrambled.epochs_run == r.epochs_run &&
              scrambled.holdout_acc == r.holdout_acc && scrambled.test_acc != r.test_acc,
          "the test labels never steer the selection (epoch %d vs %d)", scrambled.selected_epoch,
          r.selected_epoch);
    cfg.holdout = 0;
    CHECK(sg_probe_run(be, &cfg, NTRAIN, NTEST, DIM, NCLS, d.xtr, d.ytr, d.xte, d.yte, &plain,
                       NULL, &err) == 0 && plain.test_acc == plain.test_acc_final &&
              plain.epochs_run == cfg.epochs && plain.nheld == 0 && isnan(plain.holdout_acc),
          "holdout 0: every epoch, the last one reported");
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    test_xent();
    test_adam();
    test_clusters(be);
    test_random_labels(be);
    test_errors(be);
    test_constant_feature(be);
    test_holdout(be);
    return test_finish();
}
