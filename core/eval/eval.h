/* core/eval/eval.h: how good and how collapsed a representation is.
 *
 *  - Linear probe (probe.c): the reference code's protocol (luckmatters ssl/real-dataset,
 *    linear_feature_eval.py): frozen features standardised with the TRAIN statistics, one
 *    nn.Linear(D, nclasses) trained by Adam on softmax cross-entropy, test accuracy after every
 *    epoch. The reference reports the best epoch's test accuracy; both papers' tables are that
 *    number. We report the final, the best (and its epoch) and the train accuracy.
 *  - BYOL's and SimSiam's own linear evaluations (linear_eval.c, eval.protocol=byol|simsiam).
 *  - Weighted kNN (knn.c): the InstDisc / SimSiam-monitor classifier on l2-normalised features.
 *  - Diagnostics (metrics.c): SimSiam's collapse metric, effective rank of a spectrum, and the
 *    quantities of the DirectPred paper's Fig. 2 (alignment of W_p with F's eigenvectors, the
 *    eigenvalues of W_p in F's basis, asymmetry of W_p, eigenvalues of its symmetric part).
 *
 * Features, labels and matrices are host-addressable memory of `be` (the cpu backend): the
 * probe and kNN read the backend's outputs with plain C loops between kernel calls.
 * Accuracies are percentages (100 * correct / total), as the reference code and the papers print.
 * The probe and kNN allocate their scratch once per call (they are not kernels); the metrics take
 * all their scratch from the caller, so a training step can call them without allocating.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"
#include "kernels/kernels.h"

/* ---- linear probe ------------------------------------------------------------------------- */

/* RNG streams of the probe: (cfg.seed; SG_PROBE_STREAM_INIT, 0, 0) draws the initial weights,
 * (cfg.seed; SG_PROBE_STREAM_SHUFFLE, epoch, 0) the epoch's permutation of the training set. */
#define SG_PROBE_STREAM_INIT 0x50524f42u    /* "PROB" */
#define SG_PROBE_STREAM_SHUFFLE 0x53485546u /* "SHUF" */
#define SG_PROBE_STREAM_HOLDOUT 0x484f4c44u /* "HOLD": which training images are held out */

typedef struct {
    float lr;           /* Adam learning rate: 3e-4 */
    float beta1, beta2; /* 0.9, 0.999 */
    float adam_eps;     /* 1e-8 */
    float weight_decay; /* 1e-3, added to the gradient (torch.optim.Adam, not AdamW) */
    int batch_size;     /* 128; the last partial batch is kept */
    int epochs;         /* 50 */
    /* Standardisation: a feature whose train std (population, ddof 0, like sklearn's
     * StandardScaler) is below std_floor is treated as constant and only centred (scale 1),
     * which is StandardScaler's rule for zero-variance features; 1e-6. */
    double std_floor;
    int test_batch_size; /* rows per evaluation forward (the reference's test loader): 512 */
    uint64_t seed;       /* init and shuffling */
    /* Model selection without the test set: a fraction `holdout` of the training images (drawn
     * by seed) is held out of fitting and standardisation; after every epoch the probe is scored
     * on it, the epoch with the best held-out accuracy (the first, on ties) is selected, and the
     * run stops once `patience` epochs pass without a better one (0: run every epoch). The test
     * accuracy at the selected epoch is the probe's result. holdout = 0: fit on every training
     * image, no selection, the result is the test accuracy after the last epoch. The reference
     * code's number (the best test accuracy over epochs, selected on the test set) is reported
     * beside it, labelled as such. Defaults: 0 and 0, the reference protocol. */
    double holdout;
    int patience;
} sg_probe_config;

/* The defaults above (seed 0). */
sg_probe_config sg_probe_config_default(void);
/* Checks every field (message names the field and the allowed range). */
int sg_probe_config_validate(const sg_probe_config *cfg, sg_err *err);
/* "adam lr=0.0003 b1=0.9 b2=0.999 eps=1e-08 wd=0.001 bs=128 epochs=50 std_floor=1e-06 seed=0":
 * the protocol, for a result row. snprintf's contract: returns the length it needed. */
int sg_probe_config_describe(const sg_probe_config *cfg, char *buf, size_t len);

typedef struct {
    double test_acc;       /* % the probe's result: at the selected epoch (see holdout) */
    double test_acc_top5;  /* % whose label is among the 5 highest logits, same epoch */
    int selected_epoch;    /* 0-based */
    double holdout_acc;    /* % on the held-out images at the selected epoch; NaN without */
    int epochs_run;        /* epochs trained (fewer than cfg.epochs after an early stop) */
    int nfit, nheld;       /* training images fitted on / held out */
    double test_acc_final; /* % after the last epoch run */
    double test_acc_best;  /* % max over the epochs run: the reference code's reported number,
                              selected on the test set itself (optimistic) */
    int best_epoch;        /* 0-based epoch where test_acc_best was first reached */
    double train_acc_final; /* % of the final model on the (standardised) training set */
    double train_loss_final; /* mean over the last epoch's batches of the batch-mean CE */
} sg_probe_result;

/* Trains and evaluates the probe.
 * train_feat[ntrain, D], train_labels[ntrain] in [0, nclasses); test_feat[ntest, D],
 * test_labels[ntest]. epoch_test_acc[cfg->epochs] (may be NULL) receives every epoch's test %
 * (epochs_run of them).
 * Deterministic for a fixed seed, backend and thread count. Returns 0, or -1 with err set on bad
 * input (shapes, labels out of range, non-finite features, invalid config, out of memory). */
int sg_probe_run(const sg_backend *be, const sg_probe_config *cfg, int ntrain, int ntest, int D,
                 int nclasses, const float *train_feat, const int32_t *train_labels,
                 const float *test_feat, const int32_t *test_labels, sg_probe_result *res,
                 double *epoch_test_acc, sg_err *err);

/* The probe's pieces, exposed for tests. */

/* Softmax cross-entropy of logits[N, C] against labels[N] (each in [0, C)): returns the mean
 * over rows; dlogits[N, C] = (softmax - onehot) / N, the gradient of that mean. Computed per row
 * in double (max-subtracted log-sum-exp). */
double sg_probe_xent(int N, int C, const float *logits, const int32_t *labels, float *dlogits);

/* One torch.optim.Adam step (weight decay added to the gradient), step = 1, 2, ...:
 *   g' = g + wd*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
 *   w -= (lr / (1 - b1^step)) * m / (sqrt(v) / sqrt(1 - b2^step) + eps). */
void sg_probe_adam_step(size_t n, float *w, const float *g, float *m, float *v, long step,
                        float lr, float beta1, float beta2, float eps, float weight_decay);

/* ---- the published linear evaluations (linear_eval.c) -------------------------------------
 *
 * eval.protocol: which linear evaluation a run reports.
 *  - reference: sg_probe_run above (the DirectPred code's; Adam on standardised centre views).
 *  - byol: BYOL's (Grill et al. 2020, appendix C.1; deepmind-research byol/eval_experiment.py):
 *    nn.Linear on the raw frozen features (no standardisation, no BN), weights ~ truncated
 *    normal (+-2 sd) of sd 1/sqrt(D) (haiku's Linear), bias 0; SGD with Nesterov momentum 0.9,
 *    no weight decay, batch 1024, 80 epochs, lr = base * batch/256 decayed by a cosine over the
 *    steps (byol/utils/schedules.py, no warm-up); TRAINING views are random-resized crops
 *    (0.08-1, 3/4-4/3) + horizontal flips drawn afresh every epoch, test and held-out views are
 *    the centre views; base lr swept over {0.4, 0.3, 0.2, 0.1, 0.05} and chosen on held-out
 *    training images (BYOL: 10,009 of ImageNet's train set), the test accuracy of that choice
 *    reported.
 *  - simsiam: SimSiam's (Chen & He 2021, appendix A; facebookresearch/simsiam main_lincls.py
 *    --lars): nn.Linear on the raw frozen features, weights ~ N(0, 0.01^2), bias 0; SGD momentum
 *    0.9, no weight decay, wrapped in apex's LARC (trust 0.001, clip off: every tensor's gradient
 *    scaled by 0.001 ||w|| / (||g|| + 1e-8) where both norms are non-zero), batch 4096, 90 epochs,
 *    lr = 0.1 * batch/256 with a per-epoch cosine (lr_e = lr/2 (1 + cos(pi e / epochs))); training
 *    views are random-resized crops + flips as BYOL's, test views the centre views. (main_lincls.py
 *    has no BatchNorm before the classifier: that is MAE's / MoCo v3's linear probe. The paper's
 *    text says base lr 0.02, the released code's default is 0.1; 0.1 is used.)
 * Both keep every held-out and test view fixed (centre views); only the fitted images are
 * augmented, by a callback (the features of image i's view in epoch e, a pure function of
 * (seed, e, i)). Without a callback the fixed features are fitted on (tests, synthetic data). */
typedef enum {
    SG_PROBE_REFERENCE,
    SG_PROBE_BYOL,
    SG_PROBE_SIMSIAM,
    SG_PROBE_PROTOCOL_COUNT
} sg_probe_protocol;
/* "reference", "byol", "simsiam": eval.protocol's values, in enum order. */
extern const char *const sg_probe_protocol_names[SG_PROBE_PROTOCOL_COUNT];

#define SG_LINEVAL_MAX_LRS 8

typedef struct {
    sg_probe_protocol protocol; /* SG_PROBE_BYOL or SG_PROBE_SIMSIAM: optimiser, init, schedule */
    int epochs;                 /* byol 80, simsiam 90 */
    int batch_size;             /* byol 1024, simsiam 4096; the fit set's size when smaller (the
                                   last batch of an epoch is kept, partial) */
    int nlr;                    /* base learning rates tried, each with its own classifier */
    double base_lr[SG_LINEVAL_MAX_LRS]; /* peak lr = base * batch / 256 (batch as used) */
    double momentum;            /* 0.9 */
    double weight_decay;        /* 0 (byol: added to the gradient; simsiam: LARC's) */
    double lars_trust;          /* simsiam's LARC trust coefficient 0.001 (byol: unused) */
    /* Held-out choice, as sg_probe_config's: a fraction of the training images (drawn by seed)
     * is never fitted on; after every epoch each classifier is scored on its centre views and
     * the (epoch, lr) with the best held-out accuracy is chosen (first epoch, then first lr of
     * the list, on ties); patience > 0 stops once that many epochs pass without a better one.
     * The test set is scored every epoch but never read by the choice. holdout 0 (one lr
     * only): the last epoch is reported. byol 0.1, simsiam 0. */
    double holdout;
    int patience;
    int test_batch_size; /* rows per evaluation forward: 512 */
    uint64_t seed;       /* init, order, held-out draw (and the callback's views) */
} sg_lineval_config;

/* The protocol's published defaults (seed 0); protocol must be byol or simsiam. */
sg_lineval_config sg_lineval_config_default(sg_probe_protocol protocol);
int sg_lineval_config_validate(const sg_lineval_config *cfg, sg_err *err);

typedef struct {
    sg_probe_result probe; /* as sg_probe_run's, at the chosen (lr, epoch); test_acc_final,
                              test_acc_best, train_* are those of the chosen lr's classifier */
    int lr_index;          /* into cfg->base_lr */
    double base_lr, lr;    /* the chosen base lr and the peak lr it scales to */
    int batch_size;        /* the batch used */
    int augmented;         /* 1: the fitted views came from the views callback */
} sg_lineval_result;

/* The protocol in words, for a result row, e.g. "byol: sgd nesterov m=0.9 wd=0 bs=1024
 * epochs<=80 lr=0.2x1024/256=0.8 cosine/step (chosen of 0.4,0.3,0.2,0.1,0.05) train=rrc+flip
 * per epoch test=centre select=holdout(0.1) patience=0 init=trunc_normal(1/sqrt(D))".
 * res (may be NULL: before a run) supplies the chosen lr and the batch used. snprintf's
 * contract. */
int sg_lineval_describe(const sg_lineval_config *cfg, const sg_lineval_result *res, char *buf,
                        size_t len);

/* The features of the training images idx[0..n) (indices into train_feat's rows) as augmented
 * in probe epoch `epoch`, into out[n, D]; 0, or -1 with err set. */
typedef int (*sg_lineval_views_fn)(void *ctx, int epoch, int n, const int32_t *idx, float *out,
                                   sg_err *err);

/* Trains one classifier per base lr on the same batches (one views call per batch, shared by
 * all of them) and reports as described above. train_feat[ntrain, D]: the centre views (the
 * held-out images' features, and the fitted ones' when views is NULL); test_feat[ntest, D];
 * epoch_test_acc[cfg->epochs] (may be NULL): the chosen lr's test % per epoch run.
 * Deterministic for a fixed seed, backend and thread count. 0, or -1 with err set. */
int sg_lineval_run(const sg_backend *be, const sg_lineval_config *cfg, int ntrain, int ntest,
                   int D, int nclasses, const float *train_feat, const int32_t *train_labels,
                   const float *test_feat, const int32_t *test_labels, sg_lineval_views_fn views,
                   void *views_ctx, sg_lineval_result *res, double *epoch_test_acc, sg_err *err);

/* The pieces, exposed for tests. */

/* The learning rate of 0-based step `step` (epoch = step / steps_per_epoch) of a run of `epochs`
 * epochs: byol peak/2 (1 + cos(pi step / total_steps)), simsiam peak/2 (1 + cos(pi epoch /
 * epochs)). */
double sg_lineval_lr_at(sg_probe_protocol protocol, double peak, long step, long steps_per_epoch,
                        int epochs);
/* optax.sgd(nesterov=True) / torch SGD(nesterov=True): g' = g + wd*w; buf = m*buf + g';
 * w -= lr * (g' + m*buf). buf starts at 0. */
void sg_lineval_nesterov_step(size_t n, float *w, const float *g, float *buf, double lr,
                              double momentum, double weight_decay);
/* apex LARC(clip=False) around torch SGD(momentum), one tensor w[n] with gradient g[n]
 * (overwritten by the scaled gradient): when ||w|| and ||g|| are both non-zero,
 * g <- (g + wd*w) * trust ||w|| / (||g|| + ||w|| wd + 1e-8); then buf = m*buf + g; w -= lr*buf.
 * Norms in double. */
void sg_lineval_larc_step(size_t n, float *w, float *g, float *buf, double lr, double momentum,
                          double weight_decay, double trust);

/* ---- weighted kNN ------------------------------------------------------------------------- */

typedef struct {
    int k;          /* neighbours: 200, clamped to ntrain */
    float T;        /* temperature of the weights exp(sim / T): 0.1 */
    int block_rows; /* test rows per similarity gemm: memory block_rows * ntrain floats; 64 */
} sg_knn_config;

sg_knn_config sg_knn_config_default(void);
int sg_knn_config_validate(const sg_knn_config *cfg, sg_err *err);
/* "knn k=200 T=0.1" */
int sg_knn_config_describe(const sg_knn_config *cfg, char *buf, size_t len);

/* Features are l2-normalised (norm clamped at 1e-12, as F.normalize); for each test row, cosine
 * similarity to every train row (be->gemm, block_rows test rows at a time), the k most similar
 * (equal similarities: the lower train index first), class score = sum of exp(sim / T) over the
 * neighbours of that class, prediction = argmax (ties: the lower class index).
 * pred[ntest] (may be NULL) receives the predictions; *accuracy the % correct, *accuracy_top5
 * (may be NULL) the % whose label is among the 5 best-scored classes.
 * Predictions do not depend on block_rows nor on the thread count. */
int sg_knn_eval(const sg_backend *be, const sg_knn_config *cfg, int ntrain, int ntest, int D,
                int nclasses, const float *train_feat, const int32_t *train_labels,
                const float *test_feat, const int32_t *test_labels, int32_t *pred,
                double *accuracy, double *accuracy_top5, sg_err *err);

/* The rank of class `label` among scores[C]: how many classes score higher, or equal with a lower
 * index (argmax's tie rule). Top-k accuracy counts rank < k. */
int sg_label_rank(const double *scores, int C, int label);

/* ---- collapse and spectrum diagnostics ---------------------------------------------------- */

/* SimSiam's collapse metric: rows of z[N, d] l2-normalised (norm clamped at 1e-12), std over the
 * batch (unbiased, as torch.std) of each dimension, averaged over the d dimensions.
 * ~1/sqrt(d) for a healthy spread, 0 when every row points the same way. N >= 2.
 * work[2*d] doubles (Welford's running mean and sum of squares per dimension). */
double sg_collapse_std(int N, int d, const float *z, double *work);

/* Effective rank (Roy & Vetterli 2007) of a PSD matrix from its eigenvalues s[n]:
 * exp(-sum p_i log p_i), p_i = max(s_i, 0) / sum_j max(s_j, 0). 0 when no eigenvalue is positive. */
double sg_effective_rank(int n, const float *s);

/* W_p[D, D] against F's eigenvectors V[D, D] (row j = unit eigenvector u_j, be->syevd's layout):
 *   cos_align[j] = cos(W_p u_j, u_j)        (0 where W_p u_j = 0)
 *   rayleigh[j]  = u_j^T W_p u_j / u_j^T u_j (W_p's eigenvalues when it shares F's eigenbasis)
 * Either output may be NULL. work[D*D] floats (receives row j = (W_p u_j)^T, via be->gemm). */
void sg_predictor_alignment(const sg_backend *be, int D, const float *V, const float *Wp,
                            float *cos_align, float *rayleigh, float *work);

/* ||W - W^T||_F / ||W||_F for W[D, D] (0 for W = 0), in double. */
double sg_asymmetry(int D, const float *W);

/* Eigenvalues (ascending) of the symmetric part (W + W^T)/2 of W[D, D] into eig[D].
 * sym[D*D] floats receives the symmetric part and is overwritten by its eigenvectors (rows);
 * syevd_work: be->syevd_workspace_bytes(be, D) bytes. Returns be->syevd's info (0 = success). */
int sg_sym_part_eigvals(const sg_backend *be, int D, const float *W, float *eig, float *sym,
                        void *syevd_work);

/* A spectrum as one CSV cell: "v0;v1;...;v(n-1)", each "%.6g". snprintf's contract: writes at
 * most len bytes (NUL included), returns the length needed. SG_SPECTRUM_CHARS(n) always fits. */
#define SG_SPECTRUM_CHARS(n) ((size_t)(n) * 14 + 1)
int sg_format_spectrum(int n, const float *v, char *buf, size_t len);
