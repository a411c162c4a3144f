/* Gradient accumulation (sg_ssl_settings.accumulate = K, trainer.accumulate): a step of K
 * micro-batches is the step of one K times larger batch but for batch norm.
 *
 * 1. Exactness against the larger batch. Batch norm is the one difference, so the comparison
 *    uses a batch whose two halves are identical copies: every BN layer then sees the same mean
 *    and (biased) variance in each half as in the whole, and K = 2 micro-batches of b must
 *    reproduce one batch of 2b: loss, every gradient, F (M2, mu), the weights, the momentum and
 *    the EMA target, over 3 steps (fresh images each; F's moving average, the EMA and the
 *    overwrite at every step, so an average taken twice or a gradient zeroed between
 *    micro-batches shows). Four settings: DirectPred with zero-mean F, SimSiam with the MLP
 *    predictor, BYOL without stop-gradient (the target-branch gradient), the optimal predictor
 *    (M2).
 *    Tolerance: the two computations are the same real numbers summed in other orders (BN's
 *    statistics over 2b rows instead of b, the loss's and F's sums, the gradient's halves added
 *    in another order), so they differ by float32 rounding carried through the network. One
 *    rounding is u = 2^-24 = 6e-8 of a value; the longest sums here have n ~ 2b*16*16 = 2048
 *    terms (a conv's weight gradient, BN's statistics), whose rounding error is bounded by
 *    n*u = 1.2e-4 of the sum of magnitudes and typically sqrt(n)*u = 3e-6; a deep chain of
 *    such sums stays below the bound. So every buffer must agree within 1e-4 of its largest
 *    magnitude (the loss within 1e-4 of its O(1) terms; DirectPred's W_p within sqrt(1e-4), see
 *    models_agree), while any error of semantics (a factor 2 in a gradient, F averaged twice:
 *    rho^2 instead of rho) is of order 1. Measured: within 0.15 of these tolerances.
 * 2. Distinct micro-batches: the accumulated gradient, loss, F (and mu, M2) of micro-batches
 *    m0, m1 are the means of those of m0 and m1 each run alone (the same per-micro-batch BN):
 *    the same tolerance.
 * 3. PyTorch (scripts/make_fixtures_accumulate.py): torch's own gradient-accumulation loop with
 *    K = 2 against ours: the first step's loss, gradients, F and W_p against their float64
 *    values within their rounding envelopes, and 10 steps' losses (as test_pytorch_fixtures).
 * 4. A model in the middle of a step refuses to be checkpointed.
 * On the backend named by argv[1] (tests/test_backend.h): cpu, staged or cuda. */
#include <unistd.h>

#include "core/ssl/ssl.h"
#include "fixture.h"
#include "test_backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

static const size_t IMG = (size_t)3 * 16 * 16;
static const sg_backend *g_be;

static void build(sg_ssl *m, const sg_ssl_settings *s) {
    sg_err err;
    SG_CHECK(sg_ssl_build(m, s, g_be, &err) == 0, "%s", err.msg);
}

/* A host copy of n floats of m's memory (the backend's); the caller frees it. */
static float *host_copy(const sg_ssl *m, const float *src, size_t n) {
    float *h = tu_alloc((n ? n : 1) * sizeof(float));
    sg_ssl_get(m, h, src, n);
    return h;
}

/* n floats of b's memory into a's */
static void copy_between(sg_ssl *a, float *dst, const sg_ssl *b, const float *src, size_t n) {
    float *h = host_copy(b, src, n);
    sg_ssl_put(a, dst, h, n);
    free(h);
}

/* max |a - b| / max |a| (0 when both are 0) */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs(a[i]));
    }
    if (isnan(d)) return INFINITY;
    return scale > 0 ? d / scale : d;
}

static double worst_seen;
static char worst_what[160];

/* one buffer of the two models within the tolerance; remembers the worst ratio */
static int agree(const char *what, const char *buf, const float *a, const float *b, size_t n,
                 double tol) {
    double r = rel_diff(a, b, n);
    if (r / tol > worst_seen) {
        worst_seen = r / tol;
        snprintf(worst_what, sizeof worst_what, "%s %s", what, buf);
    }
    if (r <= tol) return 1;
    fprintf(stderr, "  %s: %s differs by %.3g of its scale (tolerance %.3g)\n", what, buf, r, tol);
    return 0;
}

/* agree() on a buffer of model ma and one of model mb (backend memory) */
static int agree_m(const char *what, const char *buf, const sg_ssl *ma, const float *a,
                   const sg_ssl *mb, const float *b, size_t n, double tol) {
    float *ha = host_copy(ma, a, n), *hb = host_copy(mb, b, n);
    int ok = agree(what, buf, ha, hb, n, tol);
    free(ha), free(hb);
    return ok;
}

#define TOL 1e-4

typedef struct {
    const char *name;
    sg_method method;
    sg_pred_kind pred;
    int stop_gradient, zero_mean;
} setting;

static sg_ssl_settings settings_of(const setting *st, int batch, int K) {
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, batch);
    s.method = st->method;
    s.pred = st->pred;
    s.stop_gradient = st->stop_gradient;
    s.zero_mean = st->zero_mean;
    s.accumulate = K;
    s.lr = 0.05;
    /* the optimal predictor divides by (s_i + s_j + reg)/2: with the default reg 0.01 and F's
     * smallest eigenvalues near 0 it multiplies a rounding difference in M2 by ~100, which
     * measures the solve's conditioning, not accumulation */
    if (s.pred == SG_PRED_OPTIMAL) s.optimal_reg = 1.0;
    return s;
}

/* every piece of state the two models must share after a step */
static int models_agree(const char *what, const sg_ssl *a, const sg_ssl *b) {
    const size_t DD = (size_t)a->D * a->D;
    int ok = agree_m(what, "online.g", a, a->online.g, b, b->online.g, a->online.total, TOL);
    /* the trunk and projector; the predictor apart: DirectPred's W_p comes from F's eigenvalues
     * through sqrt(s/s_max), which turns a rounding difference d of an eigenvalue near 0 into
     * sqrt(d/s_max) (step 0's F of 16 rows has such eigenvalues): sqrt(TOL) there */
    size_t first = a->online.total, count = 0;
    sg_params_group_range(&a->online, SG_PG_PREDICTOR, &first, &count);
    const double tol_pred = a->set.pred == SG_PRED_DIRECTPRED ? sqrt(TOL) : TOL;
    ok &= agree_m(what, "online.w (trunk, projector)", a, a->online.w, b, b->online.w, first, TOL);
    if (count)
        ok &= agree_m(what, "online.w (predictor)", a, a->online.w + first, b, b->online.w + first,
                      count, tol_pred);
    ok &= agree_m(what, "momentum", a, a->mom, b, b->mom, a->online.total, TOL);
    ok &= agree_m(what, "F", a, a->F, b, b->F, DD, TOL);
    if (a->set.zero_mean) ok &= agree_m(what, "mu", a, a->mu, b, b->mu, (size_t)a->D, TOL);
    if (a->set.pred == SG_PRED_OPTIMAL) ok &= agree_m(what, "M2", a, a->M2, b, b->M2, DD, TOL);
    if (a->has_target)
        ok &= agree_m(what, "target.w", a, a->target.w, b, b->target.w, a->target.total, TOL);
    ok &= a->step == b->step && a->F_ready == b->F_ready;
    return ok;
}

/* b's state into a: weights, momentum, target, F, M2, mu. Training a tiny network is chaotic
 * (test_pytorch_fixtures: a rounding-level difference grows by about e per step, faster where a
 * BN channel of 4 rows has almost no variance), so each step is compared from the same state:
 * what is tested is that step's arithmetic, at steps 0, 1 and 2 (F's first average and later
 * ones, momentum, EMA), not the amplification of the previous steps' rounding. */
static void sync_state(sg_ssl *a, const sg_ssl *b) {
    const size_t DD = (size_t)a->D * a->D;
    copy_between(a, a->online.w, b, b->online.w, a->online.total);
    copy_between(a, a->mom, b, b->mom, a->online.total);
    if (a->has_target) copy_between(a, a->target.w, b, b->target.w, a->target.total);
    copy_between(a, a->F, b, b->F, DD);
    copy_between(a, a->M2, b, b->M2, DD);
    copy_between(a, a->mu, b, b->mu, (size_t)a->D);
    a->F_ready = b->F_ready;
}

/* 1: K = 2 micro-batches of b identical to a batch of 2b made of two copies of them */
static void identical_halves(const setting *st) {
    const int b = 4;
    sg_ssl big, acc;
    sg_ssl_settings sb = settings_of(st, 2 * b, 1), sa = settings_of(st, b, 2);
    build(&big, &sb);
    build(&acc, &sa);
    float *w0 = host_copy(&big, big.online.w, big.online.total),
          *w1 = host_copy(&acc, acc.online.w, acc.online.total);
    CHECK(big.online.total == acc.online.total && !memcmp(w0, w1, big.online.total * sizeof(float)),
          "%s: the same initial weights for any batch", st->name);
    free(w0), free(w1);
    float *h[2] = {tu_alloc((size_t)b * IMG * sizeof(float)),
                   tu_alloc((size_t)b * IMG * sizeof(float))};
    for (uint32_t k = 0; k < 3; k++) {
        sync_state(&big, &acc);
        for (int v = 0; v < 2; v++) {
            tu_fill(h[v], (size_t)b * IMG, 21, 2 * k + (uint32_t)v, -1, 1);
            sg_ssl_put(&big, big.x[v], h[v], (size_t)b * IMG);
            sg_ssl_put(&big, big.x[v] + (size_t)b * IMG, h[v], (size_t)b * IMG);
        }
        double lbig = sg_ssl_step(&big);
        double lmicro[2];
        for (int j = 0; j < 2; j++) {
            for (int v = 0; v < 2; v++) sg_ssl_put(&acc, acc.x[v], h[v], (size_t)b * IMG);
            lmicro[j] = sg_ssl_step(&acc);
            CHECK(acc.step == (long)k + j,
                  "%s step %u: the optimiser steps after the 2nd "
                  "micro-batch only (step %ld after micro-batch %d)",
                  st->name, k, acc.step, j);
        }
        char what[96];
        snprintf(what, sizeof what, "%s step %u", st->name, k);
        /* relative to the loss's terms, each O(1) (the loss itself may be near 0) */
        double lrel = fabs(acc.last_loss - lbig) / fmax(fabs(lbig), 1.0);
        CHECK(lrel <= TOL && acc.last_loss == (lmicro[0] + lmicro[1]) / 2,
              "%s: step loss %.9f (mean of %.9f, %.9f) vs the whole batch's %.9f", what,
              acc.last_loss, lmicro[0], lmicro[1], lbig);
        if (lrel / TOL > worst_seen) {
            worst_seen = lrel / TOL;
            snprintf(worst_what, sizeof worst_what, "%s loss", what);
        }
        CHECK(models_agree(what, &big, &acc),
              "%s: K = 2 micro-batches = one batch of twice the "
              "size (gradients, weights, momentum, F, target)",
              what);
    }
    free(h[0]), free(h[1]);
    sg_ssl_free(&big);
    sg_ssl_free(&acc);
}

/* 2: distinct micro-batches: the accumulated step's gradient, loss and statistics are the means
 * of each micro-batch's alone */
static void distinct_micro_batches(const setting *st) {
    const int b = 4;
    const size_t n = (size_t)b * IMG;
    sg_ssl one, acc;
    sg_ssl_settings s1 = settings_of(st, b, 1), s2 = settings_of(st, b, 2);
    build(&one, &s1);
    build(&acc, &s2);
    const size_t G = one.online.total, DD = (size_t)one.D * one.D, D = (size_t)one.D;
    float *g = tu_alloc(2 * G * sizeof(float)), *F = tu_alloc(2 * DD * sizeof(float)),
          *M2 = tu_alloc(2 * DD * sizeof(float)), *mu = tu_alloc(2 * D * sizeof(float)),
          *x = tu_alloc(n * sizeof(float));
    double l[2];
    for (int j = 0; j < 2; j++) {
        for (int v = 0; v < 2; v++) {
            tu_fill(x, n, 31, 2 * (uint32_t)j + (uint32_t)v, -1, 1);
            sg_ssl_put(&one, one.x[v], x, n);
            sg_ssl_put(&acc, acc.x[v], x, n);
        }
        one.F_ready = 0; /* F, M2, mu of this micro-batch alone */
        l[j] = sg_ssl_forward(&one);
        sg_ssl_backward(&one);
        sg_ssl_get(&one, g + j * G, one.online.g, G);
        sg_ssl_get(&one, F + j * DD, one.F, DD);
        sg_ssl_get(&one, M2 + j * DD, one.M2, DD);
        sg_ssl_get(&one, mu + j * D, one.mu, D);
        sg_ssl_forward(&acc);
        sg_ssl_backward(&acc);
        CHECK(acc.micro == j + 1, "%s: micro-batch %d counted (%d)", st->name, j, acc.micro);
    }
    for (size_t i = 0; i < G; i++) g[i] = 0.5f * (g[i] + g[G + i]);
    for (size_t i = 0; i < DD; i++) F[i] = 0.5f * (F[i] + F[DD + i]);
    for (size_t i = 0; i < DD; i++) M2[i] = 0.5f * (M2[i] + M2[DD + i]);
    for (size_t i = 0; i < D; i++) mu[i] = 0.5f * (mu[i] + mu[D + i]);
    char what[96];
    snprintf(what, sizeof what, "%s, distinct micro-batches", st->name);
    float *ag = host_copy(&acc, acc.online.g, G), *aF = host_copy(&acc, acc.F, DD),
          *aM2 = host_copy(&acc, acc.M2, DD), *amu = host_copy(&acc, acc.mu, D);
    int ok = agree(what, "online.g", g, ag, G, TOL);
    ok &= agree(what, "F", F, aF, DD, TOL);
    if (st->zero_mean) ok &= agree(what, "mu", mu, amu, D, TOL);
    if (st->pred == SG_PRED_OPTIMAL) ok &= agree(what, "M2", M2, aM2, DD, TOL);
    free(ag), free(aF), free(aM2), free(amu);
    CHECK(ok && fabs(acc.last_loss - (l[0] + l[1]) / 2) <= 1e-12 * fmax(1, fabs(l[0])),
          "%s: gradient, loss (%.9f vs %.9f), F are the micro-batches' means", what, acc.last_loss,
          (l[0] + l[1]) / 2);

    /* 4: the model in the middle of a step (after one micro-batch) is no checkpoint */
    sg_ssl_reduce(&acc);
    sg_ssl_update(&acc);
    for (int v = 0; v < 2; v++) {
        tu_fill(x, n, 32, (uint32_t)v, -1, 1);
        sg_ssl_put(&acc, acc.x[v], x, n);
    }
    sg_ssl_forward(&acc);
    sg_ssl_backward(&acc);
    char path[600];
    snprintf(path, sizeof path, "%s/accumulate_mid_%d.bin", tu_tmpdir(), (int)getpid());
    sg_err err;
    sg_ckpt_run run = {1, 0, 0, 10};
    CHECK(sg_ssl_save(&acc, path, &run, &err) != 0 && strstr(err.msg, "step boundaries") &&
              access(path, F_OK) != 0,
          "%s: a checkpoint mid-step is refused: %s", st->name, err.msg);
    free(g), free(F), free(M2), free(mu), free(x);
    sg_ssl_free(&one);
    sg_ssl_free(&acc);
}

/* ---- 3: against PyTorch's gradient-accumulation loop ------------------------------------------
 */

static int load_params(sg_ssl *m, const fx_file *fx, sg_params *p, const char *prefix) {
    int missing = 0;
    for (int i = 0; i < p->count; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "%s%s", prefix, p->entries[i].name);
        const fx_tensor *t = fx_get(fx, nm);
        if (!t || t->n != p->entries[i].count) {
            fprintf(stderr, "  fixture lacks %s (or its size differs)\n", nm);
            missing++;
            continue;
        }
        sg_ssl_put(m, p->w + p->entries[i].offset, t->data, t->n);
    }
    return missing;
}

/* one step of K = 2 micro-batches of 4 from the fixture's 8-image views */
static void fixture_step(sg_ssl *m, const fx_tensor *x1, const fx_tensor *x2) {
    const size_t n = (size_t)4 * IMG;
    for (int j = 0; j < 2; j++) {
        sg_ssl_put(m, m->x[0], x1->data + j * n, n);
        sg_ssl_put(m, m->x[1], x2->data + j * n, n);
        sg_ssl_step(m);
    }
}

static void pytorch_case(const char *name, sg_method method, sg_pred_kind pred) {
    char path[1024];
    const char *src = getenv("SG_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/%s.sgfx", src ? src : ".", name);
    fx_file fx;
    CHECK(fx_load(&fx, path) == 0, "%s: fixture loads", name);
    if (!fx.count) return;
    /* make_fixtures.py's recipe (test_pytorch_fixtures.c) with accumulate = 2 */
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 4);
    s.method = method;
    s.pred = pred;
    s.ema = 0.996;
    s.target_copy = 0;
    s.lr = 0.03;
    s.total_steps = 10;
    s.seed = 7;
    s.accumulate = 2;
    sg_ssl m;
    build(&m, &s);
    CHECK(load_params(&m, &fx, &m.online, "online.") == 0, "%s: online weights", name);
    if (m.has_target)
        CHECK(load_params(&m, &fx, &m.target, "target.") == 0, "%s: target weights", name);
    const fx_tensor *x1 = fx_get(&fx, "x1"), *x2 = fx_get(&fx, "x2");
    CHECK(x1 && x2 && x1->n == 8 * IMG && x2->n == 8 * IMG, "%s: 8-image views", name);
    if (!x1 || !x2 || x1->n != 8 * IMG || x2->n != 8 * IMG) return;
    fixture_step(&m, x1, x2);
    float loss0 = (float)m.last_loss;
    CHECK(fx_close_to_exact(&fx, name, "loss0", &loss0, 1), "%s: first-step loss %.7f", name,
          m.last_loss);
    if (fx_get(&fx, "F.after0")) {
        const size_t DD = (size_t)m.D * m.D;
        float *F = host_copy(&m, m.F, DD), *W = host_copy(&m, m.pred_lin.W, DD);
        CHECK(fx_close_to_exact(&fx, name, "F.after0", F, DD), "%s: F after step 0", name);
        CHECK(fx_close_to_exact(&fx, name, "predictor.weight.after0", W, DD),
              "%s: W_p after step 0", name);
        free(F), free(W);
    }
    int bad = 0;
    float *grad = host_copy(&m, m.online.g, m.online.total);
    for (int i = 0; i < m.online.count; i++) {
        const sg_param_entry *e = &m.online.entries[i];
        char nm[160];
        snprintf(nm, sizeof nm, "grad.%s", e->name);
        bad += !fx_close_to_exact(&fx, name, nm, grad + e->offset, e->count);
    }
    free(grad);
    CHECK(bad == 0, "%s: %d of %d accumulated gradient tensors outside their envelope", name, bad,
          m.online.count);
    const fx_tensor *losses = fx_get(&fx, "losses"), *env = fx_get(&fx, "losses_envelope");
    int ok = losses && env;
    for (int k = 1; ok && k < (int)losses->n; k++) {
        char n1[64], n2[64];
        snprintf(n1, sizeof n1, "x1.step%d", k);
        snprintf(n2, sizeof n2, "x2.step%d", k);
        fixture_step(&m, fx_get(&fx, n1), fx_get(&fx, n2));
        double tol = 1e-4 * fabs(losses->data[k]) + 4.0 * env->data[k];
        if (!(fabs(m.last_loss - losses->data[k]) <= tol)) {
            fprintf(stderr, "  %s: step %d loss %.7f vs PyTorch %.7f (tolerance %.3g)\n", name, k,
                    m.last_loss, losses->data[k], tol);
            ok = 0;
        }
    }
    CHECK(ok && m.step == 10, "%s: 10 steps' losses match PyTorch's accumulation", name);
    sg_ssl_free(&m);
    fx_free(&fx);
}

int main(int argc, char **argv) {
    g_be = tb_backend(argc, argv);
    printf("backend %s\n", g_be->name);
    sg_cpu_set_threads(2);
    const setting settings[] = {
        {"directpred (zero-mean F)", SG_METHOD_BYOL, SG_PRED_DIRECTPRED, 1, 1},
        {"simsiam mlp", SG_METHOD_SIMSIAM, SG_PRED_MLP, 1, 0},
        {"byol without stop-gradient", SG_METHOD_BYOL, SG_PRED_MLP, 0, 0},
        {"optimal predictor", SG_METHOD_BYOL, SG_PRED_OPTIMAL, 1, 0},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        identical_halves(&settings[i]);
        distinct_micro_batches(&settings[i]);
    }
    printf("against the larger batch: worst difference / tolerance %.3g (%s)\n", worst_seen,
           worst_what);
    for (int threads = 1; threads <= 2; threads++) {
        sg_cpu_set_threads(threads);
        fx_worst_ratio = 0;
        pytorch_case("accum2_directpred", SG_METHOD_BYOL, SG_PRED_DIRECTPRED);
        pytorch_case("accum2_simsiam", SG_METHOD_SIMSIAM, SG_PRED_MLP);
        printf("%d thread(s): PyTorch's accumulation, worst |ours - float64| / tolerance %.3f "
               "(%s)\n",
               threads, fx_worst_ratio, fx_worst_what);
    }
    return test_finish();
}
