/* core/eval/probe.c: the linear probe of the reference code (linear_feature_eval.py).
 *
 * Protocol, step by step as the reference does it:
 *   1. StandardScaler fitted on the train features (population std), applied to train and test.
 *   2. nn.Linear(D, nclasses): W[C, D], b[C] ~ U(-1/sqrt(D), 1/sqrt(D)).
 *   3. 50 epochs; each epoch a fresh permutation of the training set, batches of 128 (the last
 *      one partial), CrossEntropyLoss (batch mean), torch.optim.Adam(lr 3e-4, wd 1e-3).
 *   4. After each epoch the test accuracy; the reference keeps the best one.
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
    return 0;
}

int sg_probe_config_describe(const sg_probe_config *c, char *buf, size_t len) {
    return snprintf(buf, len,
                    "adam lr=%g b1=%g b2=%g eps=%g wd=%g bs=%d epochs=%d std_floor=%g seed=%llu",
                    (double)c->lr, (double)c->beta1, (double)c->beta2, (double)c->adam_eps,
                    (double)c->weight_decay, c->batch_size, c->epochs, c->std_floor,
                    (unsigned long long)c->seed);
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
                       float *logits) {
    long correct = 0;
    for (int r0 = 0; r0 < n; r0 += rows_per_fwd) {
        int rows = n - r0 < rows_per_fwd ? n - r0 : rows_per_fwd;
        sg_linear_fwd(be, rows, D, C, x + (size_t)r0 * D, W, b, logits);
        correct += count_correct(rows, C, logits, labels + r0);
    }
    return 100.0 * (double)correct / (double)n;
}

/* Everything one probe run needs (the arena zero-fills it, so the Adam moments start at 0). */
typedef struct {
    float *xtrain, *xtest;     /* [ntrain, D], [ntest, D] standardised copies */
    float *xbatch;             /* [B, D] the gathered batch */
    int32_t *ybatch;           /* [B] */
    float *logits, *dlogits;   /* [rows_logits, C] */
    float *params, *grads;     /* [C*D + C]: W[C, D] then b[C] */
    float *adam_m, *adam_v;    /* [C*D + C] */
    int32_t *perm;             /* [ntrain] */
    double *mean, *scale;      /* [D] the train statistics */
} probe_buffers;

static void probe_carve(sg_arena *a, probe_buffers *p, int ntrain, int ntest, int D, int C, int B,
                        int rows_logits) {
    const size_t nparam = (size_t)C * D + (size_t)C;
    p->xtrain = SG_ARENA_NEW(a, float, (size_t)ntrain * D);
    p->xtest = SG_ARENA_NEW(a, float, (size_t)ntest * D);
    p->xbatch = SG_ARENA_NEW(a, float, (size_t)B * D);
    p->ybatch = SG_ARENA_NEW(a, int32_t, B);
    p->logits = SG_ARENA_NEW(a, float, (size_t)rows_logits * C);
    p->dlogits = SG_ARENA_NEW(a, float, (size_t)rows_logits * C);
    p->params = SG_ARENA_NEW(a, float, nparam);
    p->grads = SG_ARENA_NEW(a, float, nparam);
    p->adam_m = SG_ARENA_NEW(a, float, nparam);
    p->adam_v = SG_ARENA_NEW(a, float, nparam);
    p->perm = SG_ARENA_NEW(a, int32_t, ntrain);
    p->mean = SG_ARENA_NEW(a, double, D);
    p->scale = SG_ARENA_NEW(a, double, D);
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

    const int C = nclasses;
    const int B = cfg->batch_size < ntrain ? cfg->batch_size : ntrain;
    const int rows_eval = cfg->test_batch_size;
    const int rows_logits = B > rows_eval ? B : rows_eval;
    const size_t nW = (size_t)C * D, nparam = nW + (size_t)C;

    /* One allocation, sized by a measuring pass over the same carve. */
    probe_buffers buf;
    sg_arena arena;
    sg_arena_init_measure(&arena);
    probe_carve(&arena, &buf, ntrain, ntest, D, C, B, rows_logits);
    if (sg_arena_init(&arena, arena.used, err)) return -1;
    probe_carve(&arena, &buf, ntrain, ntest, D, C, B, rows_logits);
    float *xtrain = buf.xtrain, *xtest = buf.xtest, *xbatch = buf.xbatch;
    int32_t *ybatch = buf.ybatch, *perm = buf.perm;
    float *logits = buf.logits, *dlogits = buf.dlogits;
    float *params = buf.params, *grads = buf.grads, *adam_m = buf.adam_m, *adam_v = buf.adam_v;
    double *mean = buf.mean, *scale = buf.scale;
    float *W = params, *b = params + nW, *dW = grads, *db = grads + nW;

    /* 1. StandardScaler on the train set, in double: mean, population std; a (near-)constant
     *    feature keeps scale 1 so it is centred but never blown up. */
    for (int j = 0; j < D; j++) mean[j] = 0.0, scale[j] = 0.0;
    for (int i = 0; i < ntrain; i++) {
        const float *x = train_feat + (size_t)i * D;
        for (int j = 0; j < D; j++) mean[j] += x[j];
    }
    for (int j = 0; j < D; j++) mean[j] /= ntrain;
    for (int i = 0; i < ntrain; i++) {
        const float *x = train_feat + (size_t)i * D;
        for (int j = 0; j < D; j++) {
            double d = x[j] - mean[j];
            scale[j] += d * d;
        }
    }
    for (int j = 0; j < D; j++) {
        double sd = sqrt(scale[j] / ntrain);
        scale[j] = sd < cfg->std_floor || sd == 0.0 ? 1.0 : sd;
    }
    for (int i = 0; i < ntrain; i++)
        for (int j = 0; j < D; j++)
            xtrain[(size_t)i * D + j] =
                (float)(((double)train_feat[(size_t)i * D + j] - mean[j]) / scale[j]);
    for (int i = 0; i < ntest; i++)
        for (int j = 0; j < D; j++)
            xtest[(size_t)i * D + j] =
                (float)(((double)test_feat[(size_t)i * D + j] - mean[j]) / scale[j]);

    /* 2. nn.Linear's init: weight then bias, both U(-1/sqrt(D), 1/sqrt(D)). Adam moments 0
     *    (the arena is zero-filled). */
    sg_rng rng;
    sg_rng_init(&rng, cfg->seed, SG_PROBE_STREAM_INIT, 0, 0);
    const float bound = 1.0f / sqrtf((float)D);
    sg_rng_fill_uniform(&rng, W, (long)nW, -bound, bound);
    sg_rng_fill_uniform(&rng, b, C, -bound, bound);

    /* 3./4. train, evaluate after every epoch */
    long step = 0;
    double best = -1.0, last = 0.0, last_loss = 0.0;
    int best_epoch = 0;
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        /* The epoch's order depends only on (seed, epoch): Fisher-Yates from the identity. */
        sg_rng_init(&rng, cfg->seed, SG_PROBE_STREAM_SHUFFLE, (uint32_t)epoch, 0);
        for (int i = 0; i < ntrain; i++) perm[i] = i;
        for (int i = ntrain - 1; i > 0; i--) {
            int j = (int)sg_rng_below(&rng, (uint32_t)i + 1u);
            int32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        double loss_sum = 0.0;
        int nbatches = 0;
        for (int r0 = 0; r0 < ntrain; r0 += B) {
            const int rows = ntrain - r0 < B ? ntrain - r0 : B;
            for (int r = 0; r < rows; r++) {
                const int src = perm[r0 + r];
                memcpy(xbatch + (size_t)r * D, xtrain + (size_t)src * D, (size_t)D * sizeof(float));
                ybatch[r] = train_labels[src];
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
        last_loss = loss_sum / nbatches;
        last = accuracy(be, ntest, D, C, xtest, test_labels, W, b, rows_eval, logits);
        if (epoch_test_acc) epoch_test_acc[epoch] = last;
        if (last > best) { /* strict: the first epoch reaching the maximum, as the reference */
            best = last;
            best_epoch = epoch;
        }
    }

    res->test_acc_final = last;
    res->test_acc_best = best;
    res->best_epoch = best_epoch;
    res->train_acc_final = accuracy(be, ntrain, D, C, xtrain, train_labels, W, b, rows_eval, logits);
    res->train_loss_final = last_loss;
    sg_arena_free(&arena);
    return 0;
}
