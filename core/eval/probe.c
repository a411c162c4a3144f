/* core/eval/probe.c: the linear probe of the reference code (linear_feature_eval.py).
 *
 * Protocol, step by step as the reference does it:
 *   1. StandardScaler fitted on the train features (population std), applied to train and test.
 *   2. nn.Linear(D, nclasses): W[C, D], b[C] ~ U(-1/sqrt(D), 1/sqrt(D)).
 *   3. 50 epochs; each epoch a fresh permutation of the training set, batches of 128 (the last
 *      one partial), CrossEntropyLoss (batch mean), torch.optim.Adam(lr 3e-4, wd 1e-3).
 *   4. After each epoch the test accuracy; the reference keeps the best one.
 * That last step selects on the test set. With cfg.holdout > 0 the selection is made on held-out
 * training images instead (and the fit and the standardisation never see them), with an early
 * stop after cfg.patience epochs without a better held-out score; the reference's number is
 * still reported, labelled as the reference code's.
 * The matrix products go through the backend (linear_fwd / linear_bwd); the softmax, the loss
 * and Adam are small plain loops. Everything is allocated once per call.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/arena.h"
#include "core/base/rng.h"
#include "core/eval/eval.h"
#include "kernels/backend.h"

sg_probe_config sg_probe_config_default(void) {
    sg_probe_config c;
    c.lr = 3e-4f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.adam_eps = 1e-8f;
    c.weight_decay = 1e-3f;
    c.batch_size = 128;
    c.epochs = 50;
    c.std_floor = 1e-6;
    c.test_batch_size = 512;
    c.seed = 0;
    c.holdout = 0.0;
    c.patience = 0;
    return c;
}

int sg_probe_config_validate(const sg_probe_config *c, sg_err *err) {
    if (!(c->lr > 0.0f && isfinite(c->lr)))
        return sg_errf(err, "probe: lr = %g, expected a finite value > 0", (double)c->lr);
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f))
        return sg_errf(err, "probe: beta1 = %g, expected 0 <= beta1 < 1", (double)c->beta1);
    if (!(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return sg_errf(err, "probe: beta2 = %g, expected 0 <= beta2 < 1", (double)c->beta2);
    if (!(c->adam_eps > 0.0f && isfinite(c->adam_eps)))
        return sg_errf(err, "probe: adam_eps = %g, expected a finite value > 0",
                       (double)c->adam_eps);
    if (!(c->weight_decay >= 0.0f && isfinite(c->weight_decay)))
        return sg_errf(err, "probe: weight_decay = %g, expected a finite value >= 0",
                       (double)c->weight_decay);
    if (c->batch_size < 1)
        return sg_errf(err, "probe: batch_size = %d, expected >= 1", c->batch_size);
    if (c->epochs < 1) return sg_errf(err, "probe: epochs = %d, expected >= 1", c->epochs);
    if (!(c->std_floor >= 0.0 && isfinite(c->std_floor)))
        return sg_errf(err, "probe: std_floor = %g, expected a finite value >= 0", c->std_floor);
    if (c->test_batch_size < 1)
        return sg_errf(err, "probe: test_batch_size = %d, expected >= 1", c->test_batch_size);
    if (!(c->holdout >= 0.0 && c->holdout <= 0.5))
        return sg_errf(err, "probe: holdout = %g, expected a fraction in [0, 0.5]", c->holdout);
    if (c->patience < 0) return sg_errf(err, "probe: patience = %d, expected >= 0", c->patience);
    return 0;
}

int sg_probe_config_describe(const sg_probe_config *c, char *buf, size_t len) {
    char sel[96];
    if (c->holdout > 0)
        snprintf(sel, sizeof sel, "select=holdout(%g) patience=%d", c->holdout, c->patience);
    else
        snprintf(sel, sizeof sel, "select=last-epoch");
    return snprintf(buf, len,
                    "adam lr=%g b1=%g b2=%g eps=%g wd=%g bs=%d epochs<=%d std_floor=%g seed=%llu "
                    "%s",
                    (double)c->lr, (double)c->beta1, (double)c->beta2, (double)c->adam_eps,
                    (double)c->weight_decay, c->batch_size, c->epochs, c->std_floor,
                    (unsigned long long)c->seed, sel);
}

double sg_probe_xent(int N, int C, const float *logits, const int32_t *labels, float *dlogits) {
    SG_CHECK(N > 0 && C > 0, "xent N%d C%d", N, C);
    double loss = 0.0;
    const double inv_n = 1.0 / N;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * C;
        float *dz = dlogits + (size_t)n * C;
        const int y = labels[n];
        SG_CHECK(y >= 0 && y < C, "xent: label %d of row %d outside [0, %d)", y, n, C);
        double zmax = z[0];
        for (int c = 1; c < C; c++)
            if (z[c] > zmax) zmax = z[c];
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
        const double lse = zmax + log(sum);
        loss += lse - (double)z[y];
        for (int c = 0; c < C; c++) {
            double p = exp((double)z[c] - lse);
            dz[c] = (float)((p - (c == y ? 1.0 : 0.0)) * inv_n);
        }
    }
    return loss * inv_n;
}

void sg_probe_adam_step(size_t n, float *w, const float *g, float *m, float *v, long step,
                        float lr, float beta1, float beta2, float eps, float weight_decay) {
    SG_CHECK(step >= 1, "adam: step %ld, expected >= 1", step);
    /* torch computes the bias corrections in Python floats (double) */
    const double bc1 = 1.0 - pow((double)beta1, (double)step);
    const double bc2 = 1.0 - pow((double)beta2, (double)step);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + weight_decay * w[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
        v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] -= step_size * (m[i] / denom);
    }
}

/* argmax of each row of logits[N, C] (first maximum, as torch.argmax) compared with labels. */
static long count_correct(int N, int C, const float *logits, const int32_t *labels) {
    long correct = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * C;
        int best = 0;
        for (int c = 1; c < C; c++)
            if (z[c] > z[best]) best = c;
        correct += best == labels[n];
    }
    return correct;
}

static int check_inputs(int n, int D, int nclasses, const float *feat, const int32_t *labels,
                        const char *which, sg_err *err) {
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= nclasses)
            return sg_errf(err, "probe: %s label %d of sample %d outside [0, %d)", which,
                           (int)labels[i], i, nclasses);
        const float *x = feat + (size_t)i * D;
        for (int j = 0; j < D; j++)
            if (!isfinite(x[j]))
                return sg_errf(err, "probe: %s feature %d of sample %d is %g, expected finite",
                               which, j, i, (double)x[j]);
    }
    return 0;
}

/* Accuracy (%) of the probe (W, b) on standardised features x[n, D], evaluated rows_per_fwd
 * rows at a time through logits[rows_per_fwd, C]. */
static double accuracy(const sg_backend *be, int n, int D, int C, const float *x,
                       const int32_t *labels, const float *W, const float *b, int rows_per_fwd,
                       float *logits, double *top5) {
    long correct = 0, correct5 = 0;
    for (int r0 = 0; r0 < n; r0 += rows_per_fwd) {
        int rows = n - r0 < rows_per_fwd ? n - r0 : rows_per_fwd;
        sg_linear_fwd(be, rows, D, C, x + (size_t)r0 * D, W, b, logits);
        correct += count_correct(rows, C, logits, labels + r0);
        for (int i = 0; top5 && i < rows; i++) {
            /* the label's rank by argmax's rule (kNN's sg_label_rank, on floats) */
            const float *z = logits + (size_t)i * C;
            const int y = labels[r0 + i];
            int rank = 0;
            for (int c = 0; c < C; c++) rank += z[c] > z[y] || (z[c] == z[y] && c < y);
            correct5 += rank < 5;
        }
    }
    if (top5) *top5 = 100.0 * (double)correct5 / (double)n;
    return 100.0 * (double)correct / (double)n;
}

/* Everything one probe run needs (the arena zero-fills it, so the Adam moments start at 0). */
typedef struct {
    float *xtrain, *xheld, *xtest; /* [nfit, D], [nheld, D], [ntest, D] standardised copies */
    int32_t *ytrain, *yheld;       /* [nfit], [nheld] their labels */
    float *xbatch;                 /* [B, D] the gathered batch */
    int32_t *ybatch;               /* [B] */
    float *logits, *dlogits;       /* [rows_logits, C] */
    float *params, *grads;         /* [C*D + C]: W[C, D] then b[C] */
    float *adam_m, *adam_v;        /* [C*D + C] */
    int32_t *perm;                 /* [max(ntrain, 1)] */
    double *mean, *scale;          /* [D] the fit set's statistics */
} probe_buffers;

static void probe_carve(sg_arena *a, probe_buffers *p, int nfit, int nheld, int ntest, int D,
                        int C, int B, int rows_logits) {
    const size_t nparam = (size_t)C * D + (size_t)C;
    p->xtrain = SG_ARENA_NEW(a, float, (size_t)nfit * D);
    p->xheld = SG_ARENA_NEW(a, float, (size_t)nheld * D);
    p->xtest = SG_ARENA_NEW(a, float, (size_t)ntest * D);
    p->ytrain = SG_ARENA_NEW(a, int32_t, nfit);
    p->yheld = SG_ARENA_NEW(a, int32_t, nheld);
    p->xbatch = SG_ARENA_NEW(a, float, (size_t)B * D);
    p->ybatch = SG_ARENA_NEW(a, int32_t, B);
    p->logits = SG_ARENA_NEW(a, float, (size_t)rows_logits * C);
    p->dlogits = SG_ARENA_NEW(a, float, (size_t)rows_logits * C);
    p->params = SG_ARENA_NEW(a, float, nparam);
    p->grads = SG_ARENA_NEW(a, float, nparam);
    p->adam_m = SG_ARENA_NEW(a, float, nparam);
    p->adam_v = SG_ARENA_NEW(a, float, nparam);
    p->perm = SG_ARENA_NEW(a, int32_t, nfit + nheld);
    p->mean = SG_ARENA_NEW(a, double, D);
    p->scale = SG_ARENA_NEW(a, double, D);
}

/* Fisher-Yates from the identity with the stream (seed; id, a, 0): a function of those alone. */
static void shuffled(int32_t *perm, int n, uint64_t seed, uint32_t id, uint32_t a) {
    sg_rng rng;
    sg_rng_init(&rng, seed, id, a, 0);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sg_rng_below(&rng, (uint32_t)i + 1u);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* (x - mean) / scale of rows idx[0..n) of feat[., D] into out[n, D] (idx NULL: rows 0..n-1). */
static void standardise(const float *feat, const int32_t *idx, int n, int D, const double *mean,
                        const double *scale, float *out) {
    for (int i = 0; i < n; i++) {
        const float *x = feat + (size_t)(idx ? idx[i] : i) * D;
        for (int j = 0; j < D; j++)
            out[(size_t)i * D + j] = (float)(((double)x[j] - mean[j]) / scale[j]);
    }
}

int sg_probe_run(const sg_backend *be, const sg_probe_config *cfg, int ntrain, int ntest, int D,
                 int nclasses, const float *train_feat, const int32_t *train_labels,
                 const float *test_feat, const int32_t *test_labels, sg_probe_result *res,
                 double *epoch_test_acc, sg_err *err) {
    if (sg_probe_config_validate(cfg, err)) return -1;
    if (ntrain < 1 || ntest < 1 || D < 1 || nclasses < 2)
        return sg_errf(err,
                       "probe: ntrain %d, ntest %d, D %d, nclasses %d: expected ntrain, ntest, D "
                       ">= 1 and nclasses >= 2",
                       ntrain, ntest, D, nclasses);
    if (check_inputs(ntrain, D, nclasses, train_feat, train_labels, "train", err)) return -1;
    if (check_inputs(ntest, D, nclasses, test_feat, test_labels, "test", err)) return -1;
    int nheld = cfg->holdout > 0 ? (int)(cfg->holdout * ntrain + 0.5) : 0;
    if (cfg->holdout > 0 && nheld < 1) nheld = 1;
    const int nfit = ntrain - nheld;
    if (nfit < 1)
        return sg_errf(err, "probe: holdout %g of %d training images leaves none to fit on",
                       cfg->holdout, ntrain);

    const int C = nclasses;
    const int B = cfg->batch_size < nfit ? cfg->batch_size : nfit;
    const int rows_eval = cfg->test_batch_size;
    const int rows_logits = B > rows_eval ? B : rows_eval;
    const size_t nW = (size_t)C * D, nparam = nW + (size_t)C;

    /* One allocation, sized by a measuring pass over the same carve. */
    probe_buffers buf;
    sg_arena arena;
    sg_arena_init_measure(&arena);
    probe_carve(&arena, &buf, nfit, nheld, ntest, D, C, B, rows_logits);
    if (sg_arena_init(&arena, arena.used, err)) return -1;
    probe_carve(&arena, &buf, nfit, nheld, ntest, D, C, B, rows_logits);
    float *xtrain = buf.xtrain, *xtest = buf.xtest, *xbatch = buf.xbatch;
    int32_t *ybatch = buf.ybatch, *perm = buf.perm;
    float *logits = buf.logits, *dlogits = buf.dlogits;
    float *params = buf.params, *grads = buf.grads, *adam_m = buf.adam_m, *adam_v = buf.adam_v;
    double *mean = buf.mean, *scale = buf.scale;
    float *W = params, *b = params + nW, *dW = grads, *db = grads + nW;

    /* 0. which images are held out: the last nheld of a permutation drawn by the seed; the fit
     *    set keeps the training order (so holdout = 0 is the reference protocol exactly) */
    int32_t *fit_idx = perm, *held_idx = perm + nfit;
    if (nheld > 0) {
        shuffled(perm, ntrain, cfg->seed, SG_PROBE_STREAM_HOLDOUT, 0);
        /* sort the fit part back into training order (insertion sort would be quadratic) */
        char *is_held = calloc((size_t)ntrain, 1);
        if (!is_held) {
            sg_arena_free(&arena);
            return sg_errf(err, "probe: out of memory");
        }
        for (int i = 0; i < nheld; i++) is_held[held_idx[i]] = 1;
        int32_t *sorted_held = malloc((size_t)nheld * sizeof(int32_t));
        if (!sorted_held) {
            free(is_held);
            sg_arena_free(&arena);
            return sg_errf(err, "probe: out of memory");
        }
        int nf = 0, nh = 0;
        for (int i = 0; i < ntrain; i++) {
            if (is_held[i]) sorted_held[nh++] = i;
            else fit_idx[nf++] = i;
        }
        memcpy(held_idx, sorted_held, (size_t)nheld * sizeof(int32_t));
        free(sorted_held);
        free(is_held);
    } else {
        for (int i = 0; i < ntrain; i++) perm[i] = i;
    }

    /* 1. StandardScaler on the fit set, in double: mean, population std; a (near-)constant
     *    feature keeps scale 1 so it is centred but never blown up. */
    for (int j = 0; j < D; j++) mean[j] = 0.0, scale[j] = 0.0;
    for (int i = 0; i < nfit; i++) {
        const float *x = train_feat + (size_t)fit_idx[i] * D;
        for (int j = 0; j < D; j++) mean[j] += x[j];
    }
    for (int j = 0; j < D; j++) mean[j] /= nfit;
    for (int i = 0; i < nfit; i++) {
        const float *x = train_feat + (size_t)fit_idx[i] * D;
        for (int j = 0; j < D; j++) {
            double d = x[j] - mean[j];
            scale[j] += d * d;
        }
    }
    for (int j = 0; j < D; j++) {
        double sd = sqrt(scale[j] / nfit);
        scale[j] = sd < cfg->std_floor || sd == 0.0 ? 1.0 : sd;
    }
    standardise(train_feat, fit_idx, nfit, D, mean, scale, xtrain);
    standardise(train_feat, held_idx, nheld, D, mean, scale, buf.xheld);
    standardise(test_feat, NULL, ntest, D, mean, scale, xtest);
    for (int i = 0; i < nfit; i++) buf.ytrain[i] = train_labels[fit_idx[i]];
    for (int i = 0; i < nheld; i++) buf.yheld[i] = train_labels[held_idx[i]];

    /* 2. nn.Linear's init: weight then bias, both U(-1/sqrt(D), 1/sqrt(D)). Adam moments 0
     *    (the arena is zero-filled). */
    sg_rng rng;
    sg_rng_init(&rng, cfg->seed, SG_PROBE_STREAM_INIT, 0, 0);
    const float bound = 1.0f / sqrtf((float)D);
    sg_rng_fill_uniform(&rng, W, (long)nW, -bound, bound);
    sg_rng_fill_uniform(&rng, b, C, -bound, bound);

    /* 3./4. train, score after every epoch; the fit set's order is no longer needed, so perm is
     *       reused for the epochs' batch orders */
    long step = 0;
    double best = -1.0, last = 0.0, last_loss = 0.0;
    double held_best = -1.0, test_at_sel = 0.0, test5_at_sel = 0.0, last_top5 = 0.0;
    int best_epoch = 0, sel_epoch = 0, epochs_run = 0;
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        /* The epoch's order depends only on (seed, epoch). */
        shuffled(perm, nfit, cfg->seed, SG_PROBE_STREAM_SHUFFLE, (uint32_t)epoch);
        double loss_sum = 0.0;
        int nbatches = 0;
        for (int r0 = 0; r0 < nfit; r0 += B) {
            const int rows = nfit - r0 < B ? nfit - r0 : B;
            for (int r = 0; r < rows; r++) {
                const int src = perm[r0 + r];
                memcpy(xbatch + (size_t)r * D, xtrain + (size_t)src * D, (size_t)D * sizeof(float));
                ybatch[r] = buf.ytrain[src];
            }
            /* logits[rows, C] = xbatch W^T + b */
            sg_linear_fwd(be, rows, D, C, xbatch, W, b, logits);
            loss_sum += sg_probe_xent(rows, C, logits, ybatch, dlogits);
            /* dW[C, D] = dlogits^T xbatch, db[C] = column sums of dlogits */
            sg_linear_bwd(be, rows, D, C, xbatch, W, dlogits, NULL, dW, db, 0);
            sg_probe_adam_step(nparam, params, grads, adam_m, adam_v, ++step, cfg->lr, cfg->beta1,
                               cfg->beta2, cfg->adam_eps, cfg->weight_decay);
            nbatches++;
        }
        epochs_run = epoch + 1;
        last_loss = loss_sum / nbatches;
        double last5;
        last = accuracy(be, ntest, D, C, xtest, test_labels, W, b, rows_eval, logits, &last5);
        last_top5 = last5;
        if (epoch_test_acc) epoch_test_acc[epoch] = last;
        if (last > best) { /* strict: the first epoch reaching the maximum, as the reference */
            best = last;
            best_epoch = epoch;
        }
        if (nheld > 0) {
            double h =
                accuracy(be, nheld, D, C, buf.xheld, buf.yheld, W, b, rows_eval, logits, NULL);
            if (h > held_best) {
                held_best = h;
                sel_epoch = epoch;
                test_at_sel = last;
                test5_at_sel = last5;
            } else if (cfg->patience > 0 && epoch - sel_epoch >= cfg->patience) {
                break; /* no better held-out score for `patience` epochs */
            }
        }
    }

    res->test_acc = nheld > 0 ? test_at_sel : last;
    res->test_acc_top5 = nheld > 0 ? test5_at_sel : last_top5;
    res->selected_epoch = nheld > 0 ? sel_epoch : epochs_run - 1;
    res->holdout_acc = nheld > 0 ? held_best : NAN;
    res->epochs_run = epochs_run;
    res->nfit = nfit;
    res->nheld = nheld;
    res->test_acc_final = last;
    res->test_acc_best = best;
    res->best_epoch = best_epoch;
    res->train_acc_final =
        accuracy(be, nfit, D, C, xtrain, buf.ytrain, W, b, rows_eval, logits, NULL);
    res->train_loss_final = last_loss;
    sg_arena_free(&arena);
    return 0;
}
