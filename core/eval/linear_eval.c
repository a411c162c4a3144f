/* core/eval/linear_eval.c: BYOL's and SimSiam's linear evaluations (see eval.h).
 *
 * One pass over the epochs trains every base learning rate's classifier on the same batches:
 * the (costly) features of a batch's augmented views are computed once and shared, and each
 * classifier sees exactly what it would alone. The matrix products go through the backend
 * (linear_fwd / linear_bwd), the loss and the optimisers are small plain loops on the host.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/arena.h"
#include "core/base/rng.h"
#include "core/eval/eval.h"
#include "kernels/backend.h"

#define LINEVAL_PI 3.14159265358979323846
/* sd of a standard normal truncated to [-2, 2] (haiku's TruncatedNormal divides by it) */
#define TRUNC_NORMAL_SD 0.87962566103423978

const char *const sg_probe_protocol_names[SG_PROBE_PROTOCOL_COUNT] = {"reference", "byol",
                                                                      "simsiam"};

sg_lineval_config sg_lineval_config_default(sg_probe_protocol protocol) {
    SG_CHECK(protocol == SG_PROBE_BYOL || protocol == SG_PROBE_SIMSIAM,
             "sg_lineval_config_default: protocol %d is not byol or simsiam", (int)protocol);
    sg_lineval_config c;
    memset(&c, 0, sizeof c);
    c.protocol = protocol;
    c.momentum = 0.9;
    c.weight_decay = 0.0;
    c.test_batch_size = 512;
    c.patience = 0;
    c.seed = 0;
    if (protocol == SG_PROBE_BYOL) {
        static const double grid[] = {0.4, 0.3, 0.2, 0.1, 0.05};
        c.epochs = 80;
        c.batch_size = 1024;
        c.nlr = (int)(sizeof grid / sizeof grid[0]);
        memcpy(c.base_lr, grid, sizeof grid);
        c.holdout = 0.1;
        c.lars_trust = 0.0;
    } else {
        c.epochs = 90;
        c.batch_size = 4096;
        c.nlr = 1;
        c.base_lr[0] = 0.1;
        c.holdout = 0.0;
        c.lars_trust = 0.001;
    }
    return c;
}

int sg_lineval_config_validate(const sg_lineval_config *c, sg_err *err) {
    if (c->protocol != SG_PROBE_BYOL && c->protocol != SG_PROBE_SIMSIAM)
        return sg_errf(err, "linear evaluation: protocol %d, expected byol or simsiam",
                       (int)c->protocol);
    if (c->epochs < 1)
        return sg_errf(err, "linear evaluation: epochs = %d, expected >= 1", c->epochs);
    if (c->batch_size < 1)
        return sg_errf(err, "linear evaluation: batch_size = %d, expected >= 1", c->batch_size);
    if (c->nlr < 1 || c->nlr > SG_LINEVAL_MAX_LRS)
        return sg_errf(err, "linear evaluation: %d learning rates, expected 1 to %d", c->nlr,
                       SG_LINEVAL_MAX_LRS);
    for (int k = 0; k < c->nlr; k++)
        if (!(c->base_lr[k] > 0.0 && isfinite(c->base_lr[k])))
            return sg_errf(err, "linear evaluation: base lr %d = %g, expected a finite value > 0",
                           k, c->base_lr[k]);
    if (!(c->momentum >= 0.0 && c->momentum < 1.0))
        return sg_errf(err, "linear evaluation: momentum = %g, expected 0 <= momentum < 1",
                       c->momentum);
    if (!(c->weight_decay >= 0.0 && isfinite(c->weight_decay)))
        return sg_errf(err, "linear evaluation: weight_decay = %g, expected a finite value >= 0",
                       c->weight_decay);
    if (c->protocol == SG_PROBE_SIMSIAM && !(c->lars_trust > 0.0 && isfinite(c->lars_trust)))
        return sg_errf(err, "linear evaluation: LARS trust = %g, expected a finite value > 0",
                       c->lars_trust);
    if (!(c->holdout >= 0.0 && c->holdout <= 0.5))
        return sg_errf(err, "linear evaluation: holdout = %g, expected a fraction in [0, 0.5]",
                       c->holdout);
    if (c->nlr > 1 && !(c->holdout > 0.0))
        return sg_errf(err,
                       "linear evaluation: choosing among %d learning rates needs held-out "
                       "training images (holdout > 0), never the test set",
                       c->nlr);
    if (c->patience < 0)
        return sg_errf(err, "linear evaluation: patience = %d, expected >= 0", c->patience);
    if (c->test_batch_size < 1)
        return sg_errf(err, "linear evaluation: test_batch_size = %d, expected >= 1",
                       c->test_batch_size);
    return 0;
}

int sg_lineval_describe(const sg_lineval_config *c, const sg_lineval_result *res, char *buf,
                        size_t len) {
    const int byol = c->protocol == SG_PROBE_BYOL;
    char opt[96], lr[128], grid[160] = "", sel[96];
    if (byol)
        snprintf(opt, sizeof opt, "sgd nesterov m=%g wd=%g", c->momentum, c->weight_decay);
    else
        snprintf(opt, sizeof opt, "larc(trust=%g clip=off) sgd m=%g wd=%g", c->lars_trust,
                 c->momentum, c->weight_decay);
    const int bs = res ? res->batch_size : c->batch_size;
    if (res)
        snprintf(lr, sizeof lr, "lr=%gx%d/256=%g", res->base_lr, bs, res->lr);
    else
        snprintf(lr, sizeof lr, "lr=base x%d/256", bs);
    if (c->nlr > 1) {
        size_t at = (size_t)snprintf(grid, sizeof grid, " (chosen of ");
        for (int k = 0; k < c->nlr && at < sizeof grid; k++)
            at +=
                (size_t)snprintf(grid + at, sizeof grid - at, "%s%g", k ? "," : "", c->base_lr[k]);
        if (at < sizeof grid) snprintf(grid + at, sizeof grid - at, ")");
    } else if (!res) {
        snprintf(grid, sizeof grid, " (base %g)", c->base_lr[0]);
    }
    if (c->holdout > 0)
        snprintf(sel, sizeof sel, "select=holdout(%g) patience=%d", c->holdout, c->patience);
    else
        snprintf(sel, sizeof sel, "select=last-epoch");
    const int aug = !res || res->augmented;
    return snprintf(buf, len,
                    "%s: %s bs=%d epochs<=%d %s cosine/%s%s train=%s test=centre features=raw "
                    "init=%s %s",
                    byol ? "byol" : "simsiam", opt, bs, c->epochs, lr, byol ? "step" : "epoch",
                    grid, aug ? "rrc+flip/epoch" : "fixed", byol ? "tn(1/sqrt(D))" : "n(0.01)",
                    sel);
}

double sg_lineval_lr_at(sg_probe_protocol protocol, double peak, long step, long steps_per_epoch,
                        int epochs) {
    SG_CHECK(steps_per_epoch >= 1 && epochs >= 1 && step >= 0, "lr_at: step %ld of %ld x %d", step,
             steps_per_epoch, epochs);
    if (protocol == SG_PROBE_BYOL) {
        const double total = (double)steps_per_epoch * epochs;
        double k = (double)step < total ? (double)step : total;
        return peak * 0.5 * (1.0 + cos(LINEVAL_PI * k / total));
    }
    const long e = step / steps_per_epoch;
    return peak * 0.5 * (1.0 + cos(LINEVAL_PI * (double)e / epochs));
}

void sg_lineval_nesterov_step(size_t n, float *w, const float *g, float *buf, double lr,
                              double momentum, double weight_decay) {
    const float m = (float)momentum, wd = (float)weight_decay, a = (float)lr;
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] + wd * w[i];
        buf[i] = m * buf[i] + gi;
        w[i] -= a * (gi + m * buf[i]);
    }
}

void sg_lineval_larc_step(size_t n, float *w, float *g, float *buf, double lr, double momentum,
                          double weight_decay, double trust) {
    double pn = 0.0, gn = 0.0;
    for (size_t i = 0; i < n; i++) {
        pn += (double)w[i] * w[i];
        gn += (double)g[i] * g[i];
    }
    pn = sqrt(pn);
    gn = sqrt(gn);
    if (pn != 0.0 && gn != 0.0) {
        const float q = (float)(trust * pn / (gn + pn * weight_decay + 1e-8));
        const float wd = (float)weight_decay;
        for (size_t i = 0; i < n; i++) g[i] = (g[i] + wd * w[i]) * q;
    }
    const float m = (float)momentum, a = (float)lr;
    for (size_t i = 0; i < n; i++) {
        buf[i] = m * buf[i] + g[i];
        w[i] -= a * buf[i];
    }
}

/* ---- the run ----------------------------------------------------------------------------- */

static int check_rows(int n, int D, int nclasses, const float *feat, const int32_t *labels,
                      const char *which, sg_err *err) {
    for (int i = 0; i < n; i++) {
        if (labels && (labels[i] < 0 || labels[i] >= nclasses))
            return sg_errf(err, "linear evaluation: %s label %d of sample %d outside [0, %d)",
                           which, (int)labels[i], i, nclasses);
        const float *x = feat + (size_t)i * D;
        for (int j = 0; j < D; j++)
            if (!isfinite(x[j]))
                return sg_errf(err,
                               "linear evaluation: %s feature %d of sample %d is %g, expected "
                               "finite",
                               which, j, i, (double)x[j]);
    }
    return 0;
}

/* Fisher-Yates from the identity with the stream (seed; id, a, 0). */
static void permutation(int32_t *perm, int n, uint64_t seed, uint32_t id, uint32_t a) {
    sg_rng rng;
    sg_rng_init(&rng, seed, id, a, 0);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        const int j = (int)sg_rng_below(&rng, (uint32_t)i + 1u);
        const int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

typedef struct {
    int32_t *fit, *held, *perm, *bidx, *ybatch; /* [nfit], [nheld], [ntrain], [B], [B] */
    char *is_held;                              /* [ntrain] */
    float *xbatch, *xeval;                      /* [B, D], [rows_eval, D] */
    float *logits, *dlogits;                    /* [max(B, rows_eval), C] */
    float *params, *bufs, *grads;               /* [K * nparam], [K * nparam], [nparam] */
    double *test_acc, *test5, *loss_sum;        /* [K * epochs], [K * epochs], [K] */
} lineval_buffers;

static void carve(sg_arena *a, lineval_buffers *p, int ntrain, int nfit, int nheld, int D, int C,
                  int B, int rows_eval, int K, int epochs) {
    const size_t nparam = (size_t)C * D + (size_t)C;
    const int rows_logits = B > rows_eval ? B : rows_eval;
    p->fit = SG_ARENA_NEW(a, int32_t, nfit);
    p->held = SG_ARENA_NEW(a, int32_t, nheld > 0 ? nheld : 1);
    p->perm = SG_ARENA_NEW(a, int32_t, ntrain);
    p->bidx = SG_ARENA_NEW(a, int32_t, B);
    p->ybatch = SG_ARENA_NEW(a, int32_t, B);
    p->is_held = SG_ARENA_NEW(a, char, ntrain);
    p->xbatch = SG_ARENA_NEW(a, float, (size_t)B *D);
    p->xeval = SG_ARENA_NEW(a, float, (size_t)rows_eval *D);
    p->logits = SG_ARENA_NEW(a, float, (size_t)rows_logits *C);
    p->dlogits = SG_ARENA_NEW(a, float, (size_t)rows_logits *C);
    p->params = SG_ARENA_NEW(a, float, (size_t)K *nparam);
    p->bufs = SG_ARENA_NEW(a, float, (size_t)K *nparam);
    p->grads = SG_ARENA_NEW(a, float, nparam);
    p->test_acc = SG_ARENA_NEW(a, double, (size_t)K *epochs);
    p->test5 = SG_ARENA_NEW(a, double, (size_t)K *epochs);
    p->loss_sum = SG_ARENA_NEW(a, double, K);
}

/* Accuracy (%) of (W, b) on rows idx[0..n) of feat[., D] (idx NULL: rows 0..n-1), labels read
 * through the same indices; rows gathered `rows` at a time into xs. top5 may be NULL. */
static double accuracy(const sg_backend *be, int n, int D, int C, const float *feat,
                       const int32_t *idx, const int32_t *labels, const float *W, const float *b,
                       int rows, float *xs, float *logits, double *top5) {
    long correct = 0, correct5 = 0;
    for (int r0 = 0; r0 < n; r0 += rows) {
        const int m = n - r0 < rows ? n - r0 : rows;
        const float *x = feat + (size_t)r0 * D;
        if (idx) {
            for (int i = 0; i < m; i++)
                memcpy(xs + (size_t)i * D, feat + (size_t)idx[r0 + i] * D,
                       (size_t)D * sizeof(float));
            x = xs;
        }
        sg_linear_fwd(be, m, D, C, x, W, b, logits);
        for (int i = 0; i < m; i++) {
            const float *z = logits + (size_t)i * C;
            const int y = labels[idx ? idx[r0 + i] : r0 + i];
            int best = 0, rank = 0;
            for (int c = 1; c < C; c++)
                if (z[c] > z[best]) best = c;
            for (int c = 0; c < C; c++) rank += z[c] > z[y] || (z[c] == z[y] && c < y);
            correct += best == y;
            correct5 += rank < 5;
        }
    }
    if (top5) *top5 = 100.0 * (double)correct5 / (double)n;
    return 100.0 * (double)correct / (double)n;
}

int sg_lineval_run(const sg_backend *be, const sg_lineval_config *cfg, int ntrain, int ntest, int D,
                   int nclasses, const float *train_feat, const int32_t *train_labels,
                   const float *test_feat, const int32_t *test_labels, sg_lineval_views_fn views,
                   void *views_ctx, sg_lineval_result *res, double *epoch_test_acc, sg_err *err) {
    if (sg_lineval_config_validate(cfg, err)) return -1;
    if (ntrain < 1 || ntest < 1 || D < 1 || nclasses < 2)
        return sg_errf(err,
                       "linear evaluation: ntrain %d, ntest %d, D %d, nclasses %d: expected "
                       "ntrain, ntest, D >= 1 and nclasses >= 2",
                       ntrain, ntest, D, nclasses);
    if (check_rows(ntrain, D, nclasses, train_feat, train_labels, "train", err) ||
        check_rows(ntest, D, nclasses, test_feat, test_labels, "test", err))
        return -1;
    int nheld = cfg->holdout > 0 ? (int)(cfg->holdout * ntrain + 0.5) : 0;
    if (cfg->holdout > 0 && nheld < 1) nheld = 1;
    const int nfit = ntrain - nheld;
    if (nfit < 1)
        return sg_errf(err,
                       "linear evaluation: holdout %g of %d training images leaves none to "
                       "fit on",
                       cfg->holdout, ntrain);
    const int C = nclasses, K = cfg->nlr, E = cfg->epochs, byol = cfg->protocol == SG_PROBE_BYOL;
    const int B = cfg->batch_size < nfit ? cfg->batch_size : nfit;
    const int rows_eval = cfg->test_batch_size;
    const long spe = (nfit + B - 1) / B;
    const size_t nW = (size_t)C * D, nparam = nW + (size_t)C;

    lineval_buffers p;
    sg_arena arena;
    sg_arena_init_measure(&arena);
    carve(&arena, &p, ntrain, nfit, nheld, D, C, B, rows_eval, K, E);
    if (sg_arena_init(&arena, arena.used, err)) return -1;
    carve(&arena, &p, ntrain, nfit, nheld, D, C, B, rows_eval, K, E);

    /* which images are held out: the last nheld of a permutation drawn by the seed (the probe's
     * stream, so the reference probe holds out the same images); both parts in training order */
    if (nheld > 0) {
        permutation(p.perm, ntrain, cfg->seed, SG_PROBE_STREAM_HOLDOUT, 0);
        for (int i = 0; i < nheld; i++) p.is_held[p.perm[nfit + i]] = 1;
    }
    for (int i = 0, nf = 0, nh = 0; i < ntrain; i++) {
        if (p.is_held[i])
            p.held[nh++] = i;
        else
            p.fit[nf++] = i;
    }

    /* one initial classifier, copied to every lr: byol haiku's Linear (truncated normal of sd
     * 1/sqrt(D), bias 0), simsiam main_lincls.py's (normal of sd 0.01, bias 0); momentum 0 */
    sg_rng rng;
    sg_rng_init(&rng, cfg->seed, SG_PROBE_STREAM_INIT, 0, 0);
    for (size_t i = 0; i < nW; i++) {
        double z;
        if (byol) {
            do z = sg_rng_normal(&rng);
            while (fabs(z) > 2.0);
            z *= 1.0 / sqrt((double)D) / TRUNC_NORMAL_SD;
        } else {
            z = 0.01 * sg_rng_normal(&rng);
        }
        p.params[i] = (float)z;
    }
    for (int k = 1; k < K; k++)
        memcpy(p.params + (size_t)k * nparam, p.params, nparam * sizeof(float));

    long step = 0;
    double held_best = -1.0;
    int sel_k = 0, sel_epoch = 0, epochs_run = 0, rc = 0;
    for (int epoch = 0; epoch < E && rc == 0; epoch++) {
        permutation(p.perm, nfit, cfg->seed, SG_PROBE_STREAM_SHUFFLE, (uint32_t)epoch);
        for (int k = 0; k < K; k++) p.loss_sum[k] = 0.0;
        for (int r0 = 0; r0 < nfit && rc == 0; r0 += B, step++) {
            const int rows = nfit - r0 < B ? nfit - r0 : B;
            for (int r = 0; r < rows; r++) {
                p.bidx[r] = p.fit[p.perm[r0 + r]];
                p.ybatch[r] = train_labels[p.bidx[r]];
            }
            if (views) {
                rc = views(views_ctx, epoch, rows, p.bidx, p.xbatch, err);
                if (!rc) rc = check_rows(rows, D, C, p.xbatch, NULL, "augmented train", err);
                if (rc) break;
            } else {
                for (int r = 0; r < rows; r++)
                    memcpy(p.xbatch + (size_t)r * D, train_feat + (size_t)p.bidx[r] * D,
                           (size_t)D * sizeof(float));
            }
            for (int k = 0; k < K; k++) {
                float *W = p.params + (size_t)k * nparam, *b = W + nW;
                float *mW = p.bufs + (size_t)k * nparam, *mb = mW + nW;
                const double peak = cfg->base_lr[k] * B / 256.0;
                const double lr = sg_lineval_lr_at(cfg->protocol, peak, step, spe, E);
                sg_linear_fwd(be, rows, D, C, p.xbatch, W, b, p.logits);
                p.loss_sum[k] += sg_probe_xent(rows, C, p.logits, p.ybatch, p.dlogits);
                sg_linear_bwd(be, rows, D, C, p.xbatch, W, p.dlogits, NULL, p.grads, p.grads + nW,
                              0);
                if (byol) {
                    sg_lineval_nesterov_step(nparam, W, p.grads, mW, lr, cfg->momentum,
                                             cfg->weight_decay);
                } else { /* LARC's norms are per tensor: the weight, then the bias */
                    sg_lineval_larc_step(nW, W, p.grads, mW, lr, cfg->momentum, cfg->weight_decay,
                                         cfg->lars_trust);
                    sg_lineval_larc_step((size_t)C, b, p.grads + nW, mb, lr, cfg->momentum,
                                         cfg->weight_decay, cfg->lars_trust);
                }
            }
        }
        if (rc) break;
        epochs_run = epoch + 1;
        /* score every classifier: the test set for the record only, the held-out images for the
         * choice (which never reads test_acc) */
        for (int k = 0; k < K; k++) {
            const float *W = p.params + (size_t)k * nparam, *b = W + nW;
            const size_t at = (size_t)k * E + epoch;
            p.test_acc[at] = accuracy(be, ntest, D, C, test_feat, NULL, test_labels, W, b,
                                      rows_eval, p.xeval, p.logits, &p.test5[at]);
            if (nheld > 0) {
                double h = accuracy(be, nheld, D, C, train_feat, p.held, train_labels, W, b,
                                    rows_eval, p.xeval, p.logits, NULL);
                if (h > held_best) {
                    held_best = h;
                    sel_k = k;
                    sel_epoch = epoch;
                }
            }
        }
        if (nheld > 0 && cfg->patience > 0 && epoch - sel_epoch >= cfg->patience) break;
    }
    if (rc) {
        sg_arena_free(&arena);
        return -1;
    }

    const int k = nheld > 0 ? sel_k : 0, e = nheld > 0 ? sel_epoch : epochs_run - 1;
    const double *acc = p.test_acc + (size_t)k * E;
    sg_probe_result *r = &res->probe;
    r->test_acc = acc[e];
    r->test_acc_top5 = p.test5[(size_t)k * E + e];
    r->selected_epoch = e;
    r->holdout_acc = nheld > 0 ? held_best : NAN;
    r->epochs_run = epochs_run;
    r->nfit = nfit;
    r->nheld = nheld;
    r->test_acc_final = acc[epochs_run - 1];
    r->test_acc_best = -1.0;
    r->best_epoch = 0;
    for (int i = 0; i < epochs_run; i++) {
        if (acc[i] > r->test_acc_best) {
            r->test_acc_best = acc[i];
            r->best_epoch = i;
        }
        if (epoch_test_acc) epoch_test_acc[i] = acc[i];
    }
    const float *W = p.params + (size_t)k * nparam;
    /* the chosen classifier on the centre views of the images it was fitted on */
    r->train_acc_final = accuracy(be, nfit, D, C, train_feat, p.fit, train_labels, W, W + nW,
                                  rows_eval, p.xeval, p.logits, NULL);
    r->train_loss_final = p.loss_sum[k] / (double)spe;
    res->lr_index = k;
    res->base_lr = cfg->base_lr[k];
    res->lr = cfg->base_lr[k] * B / 256.0;
    res->batch_size = B;
    res->augmented = views != NULL;
    sg_arena_free(&arena);
    return 0;
}
