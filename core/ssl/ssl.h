/* core/ssl/ssl.h: BYOL, SimSiam, DirectPred and DirectCopy: the model and one training step.
 *
 * One step on two views x1, x2 (each [B, C, H, W]) follows the paper's reference code
 * (luckmatters ssl/real-dataset/byol_trainer.py) unless a setting says otherwise:
 *   online:  z_v = projector(trunk(x_v)), p_v = predictor(z_v)       (each view its own BN batch)
 *   target:  t_v = projector'(trunk'(x_v)) with the EMA weights (BYOL) or t_v = z_v (SimSiam)
 *   loss:    mean_b [ l(p_1, t_2) + l(p_2, t_1) ]   (one-directional: the first term only)
 *            l = -2 cos (normalised) or ||p - t||^2 (plain), as the reference code reports it
 *   backward through predictor, projector, trunk; with stop-gradient off also through the target
 *   optimizer step (SGD with momentum or LARS; the predictor is its own group with lr * alpha_p
 *   and its own weight decay; its lr follows the schedule, or with pred_fixed_lr stays at the
 *   base lr * alpha_p, SimSiam's)
 *   predictor regularisation: symmetric (W <- (W + W^T)/2), DirectPred / DirectCopy / optimal
 *   overwrite every `freq` steps (the first at step 0), from F accumulated over both views
 *   EMA update of the target (BYOL), parameters only (BN statistics are not averaged).
 *
 * Stop-gradient off: with SimSiam the target branch is the online network, so its gradient is
 * the online gradient through z. With BYOL's EMA target the target-branch gradient is taken with
 * respect to the target weights and applied to the online weights (the target is a function of
 * them), which reduces to the SimSiam case as m -> 0.
 *
 * Memory: parameters, gradients and optimizer state are one buffer each (sg_params and mom);
 * every activation comes from one arena sized by a measuring build; a step allocates nothing.
 * All of it is the backend's memory (device memory on CUDA): host code reads and writes model
 * buffers only through sg_ssl_get / sg_ssl_put. The predictor's updates (DirectPred's eigenvalue
 * map and rebuild, DirectCopy, the optimal predictor, symmetrisation) run as backend ops on the
 * backend's memory; what a step still reads back is the loss rows (unless they are deferred:
 * set.loss_readback, sg_ssl_losses) and, with zero_mean, the batch's column mean, small
 * downloaded copies; on the CPU backend those transfers are plain copies, so both backends run
 * one code path.
 */
#pragma once
#include <stdint.h>

#include "core/base/arena.h"
#include "core/nn/heads.h"
#include "core/nn/resnet.h"

typedef enum { SG_METHOD_BYOL = 0, SG_METHOD_SIMSIAM = 1 } sg_method;

typedef enum {
    SG_PRED_MLP = 0,    /* Linear -> BN -> ReLU -> Linear, trained (biases: pred_mlp_bias) */
    SG_PRED_LINEAR,     /* D x D linear, trained (symmetric/regular, bias on/off) */
    SG_PRED_IDENTITY,   /* no predictor */
    SG_PRED_RANDOM,     /* the MLP predictor frozen at its random init (SimSiam's ablation) */
    SG_PRED_DIRECTPRED, /* linear, set from F's eigendecomposition every freq steps */
    SG_PRED_DIRECTCOPY, /* linear, set to F + eps I (or F / lambda_max + eps I) */
    SG_PRED_OPTIMAL,    /* linear, the solution of W F + F W = 2 M2 (DirectPred Table 1) */
    SG_PRED_COUNT
} sg_pred_kind;
/* The predictor.kind value of each kind, in enum order. */
extern const char *const sg_pred_kind_names[SG_PRED_COUNT];

typedef enum {
    SG_EIGMAP_CODE = 0, /* p = max(sqrt(max(s,0)/s_max) + eps, 1e-4)  (reference code) */
    SG_EIGMAP_PAPER,    /* p = sqrt(max(s,0)) + eps * s_max           (paper Eq. 18) */
    SG_EIGMAP_SHIFT,    /* p = sqrt(max(s - c, 0))                     (Table 7) */
    SG_EIGMAP_SHIFT_REL, /* p = sqrt(max(s/s_max - c, 1e-4))   (reference code's dyn_eps_inside) */
    SG_EIGMAP_COUNT
} sg_eigmap;
/* The predictor.eigmap value of each map, in enum order. */
extern const char *const sg_eigmap_names[SG_EIGMAP_COUNT];

typedef enum { SG_OPT_SGD = 0, SG_OPT_LARS = 1 } sg_optimizer;

typedef struct {
    /* model */
    sg_resnet_spec trunk;
    int proj_hidden, proj_out; /* 512, 128 (STL-10/CIFAR) */
    int pred_hidden;           /* MLP predictor hidden size */
    int proj_layers;           /* projector Linear layers: 2, or 3 (SimSiam's) */
    int proj_out_bn;           /* BN (no affine) on the projector's output (SimSiam's) */
    int head_bn_affine;        /* the heads' hidden BNs (projector, MLP predictor) with gamma/beta */
    int batch;                 /* per view, on this rank (one micro-batch with accumulate) */
    int ranks;                 /* data-parallel ranks (the global batch is batch * ranks); 0, 1: one */
    int sync_bn;               /* batch-norm statistics over every rank's batch (ranks > 1) */
    int accumulate;            /* K micro-batches per optimiser step (0, 1: one); `batch` is one
                                * micro-batch, the global batch is batch * ranks * K */
    sg_gemm_impl gemm_impl;    /* the CPU backend's sgemm (gemm.impl); process-wide, so whoever
                                * runs the model sets it (sg_cpu_set_gemm_impl) before a step */
    sg_precision precision;    /* of the backend's products (trainer.precision); set on the
                                * backend (sg_backend_set_precision) before the model is built */
    int loss_readback;         /* steps whose losses are read back together (0, 1: every step,
                                * on the spot; see sg_ssl_losses) */
    int graph;                 /* trainer.graph: each step's forward and backward passes as one
                                * graph of the backend (see sg_ssl_step) */
    /* method */
    sg_method method;
    int stop_gradient;
    double ema;            /* m */
    int ema_cosine;        /* BYOL's schedule 1 - (1-m)(cos(pi k/K)+1)/2 */
    int target_copy;       /* 1: target starts as a copy of online; 0: its own init (ref code) */
    int symmetric_loss;
    int normalize_loss;
    /* predictor */
    sg_pred_kind pred;
    int pred_symmetric;    /* W <- (W+W^T)/2 after each step (linear; MLP: W0 = W1^T) */
    int pred_bias;         /* linear predictor bias */
    int pred_mlp_bias;     /* biases of the MLP predictor's two Linear layers */
    double pred_lr_mult;   /* alpha_p */
    int pred_fixed_lr;     /* predictor lr = lr * alpha_p at every step (no warm-up, no cosine) */
    double pred_wd;        /* predictor weight decay */
    double rho, eps;       /* F's moving-average rate, eigenvalue floor */
    int freq;              /* steps between overwrites */
    sg_eigmap eigmap;
    double shift_c;
    int zero_mean;         /* subtract the accumulated mean of f from F */
    int directcopy_normalize; /* F / lambda_max(F) + eps I */
    double optimal_reg;    /* regulariser of the Table-1 solve */
    /* optimisation */
    sg_optimizer optimizer;
    double lr, momentum, wd; /* wd: trunk and projector */
    int lr_cosine;
    long warmup_steps;
    double lars_eta;
    long total_steps;        /* for the schedules */
    uint64_t seed;
} sg_ssl_settings;

typedef struct {
    sg_ssl_settings set;
    const sg_backend *be;
    int B, D; /* per-view batch, predictor width (= proj_out) */

    /* online: groups trunk | projector | predictor, in that order */
    sg_params online;
    sg_resnet trunk;
    sg_mlp proj;
    sg_mlp pred_mlp;    /* SG_PRED_MLP, SG_PRED_RANDOM */
    sg_linear pred_lin; /* linear kinds */
    float *mom;         /* [online.total] optimizer momentum */
    /* the optimiser's parameter groups, made at build time (only the lr changes per step):
     * SGD's trunk+projector and predictor groups; LARS's one group per tensor */
    sg_sgd_group sgd[2];
    int n_sgd;
    sg_lars_group *lars_tp, *lars_pred;
    int n_lars_tp, n_lars_pred;

    /* BYOL target: trunk | projector, the same layout as online's first two groups */
    int has_target;
    sg_params target;
    sg_resnet ttrunk;
    sg_mlp tproj;

    /* activations and scratch, all from one arena */
    sg_arena arena;
    float *x[2];               /* [B, C, H, W] the two views, filled by the caller */
    sg_resnet_acts on[2], tg[2];
    sg_mlp_acts on_proj[2], tg_proj[2], on_pred[2];
    float *pred_out[2];        /* [B, D] linear / identity predictor outputs */
    sg_resnet_scratch scratch;
    float *row_loss;           /* [B] */
    float *dp[2], *dt[2];      /* [B, D] dL/dp_v, dL/dt_v */
    float *dz[2];              /* [B, D] dL/dz_v */
    float *dfeat;              /* [B, feat] */
    float *fcat;               /* [2B, D] predictor inputs of both views (detached) */
    const float *t[2];         /* [B, D] the targets of the last forward (views 0 and 1) */

    /* DirectPred / DirectCopy / optimal */
    float *F;                  /* [D, D] moving-average correlation of f */
    float *M2;                 /* [D, D] moving-average cross-correlation E[t f^T] (optimal) */
    float *mu;                 /* [D] moving-average mean of f (zero-mean variant) */
    float *V, *s, *p;          /* eigenvectors (rows), eigenvalues, mapped eigenvalues */
    float *work, *work2;       /* [D*D] each */
    void *syevd_ws;
    int F_ready;

    float *host;               /* host scratch for the host-side parts of a step */

    /* data parallelism (set.ranks > 1; core/dist): predictor inputs gathered from every rank */
    float *fcat_all;           /* [ranks * 2B, D] fcat of every rank, in rank order */
    float *tswap, *tswap_all;  /* [2B, D] targets paired with fcat's rows; [ranks * 2B, D] */
    float *dist_host;          /* host staging of what is summed or gathered (device backends) */
    size_t dist_host_floats;
    sg_bn_sync bn_sync;        /* model.sync_bn: the statistics' sums and their staging */

    /* gradient accumulation (set.accumulate = K > 1): the step's statistics so far, the mean
     * over its micro-batches (F's, M2's and mu's moving averages take them once per step) */
    float *Facc, *M2acc, *muacc; /* [D, D], [D, D] (optimal only), [D] */
    int micro;                 /* micro-batches of this step through backward (0..K; 0 at a
                                * step boundary, always 0 with K = 1) */
    double loss_acc;           /* this step's micro-batch losses summed so far */

    long step;                 /* steps taken */
    double last_loss;          /* the loss of the last step (the mean of its micro-batches') */

    /* deferred losses (set.loss_readback = L > 1, one rank): each micro-batch's loss rows are
     * copied into loss_log on the backend and read back for L steps at once (sg_ssl_losses),
     * so a step reads nothing back */
    int deferred;
    float *loss_log;           /* [L, K, ndir, B], backend memory */
    float *loss_host;          /* its host copy */
    int log_steps, log_n;      /* L; whole steps logged since the last read */
    int *eig_info;             /* [L] backend memory: syevd's status of each logged step
                                * (DirectPred & co.: a step does not wait for it) */
    int *eig_info_host;

    /* step graph (set.graph; sg_ssl_step) */
    void *graph;               /* the backend's graph of the step, once captured */
    float *rates;              /* [3] backend memory: this step's lr, predictor lr, EMA rate */
    float *rate_table;         /* [rate_steps, 3] backend memory: every step's, from build */
    long rate_steps;
    int graph_warmup;          /* eager steps still to run before the capture */
    long graph_step;           /* the step it was captured at (-1: not yet) */
    char graph_error[512];     /* why the capture failed its check ("" when it did not) */
} sg_ssl;

/* Builds everything (measuring pass + real pass) and initialises the weights from set->seed.
 * Errors name the setting. */
int sg_ssl_build(sg_ssl *m, const sg_ssl_settings *set, const sg_backend *be, sg_err *err);
void sg_ssl_free(sg_ssl *m);

/* n floats between model memory (any buffer of m, in the backend's memory) and host memory. */
void sg_ssl_get(const sg_ssl *m, float *host, const float *src, size_t n);
void sg_ssl_put(sg_ssl *m, float *dst, const float *host, size_t n);

/* A training step in three parts (llm.c's forward / backward / update), on m->x[0], m->x[1]
 * (backend memory: fill with sg_ssl_put):
 *   sg_ssl_forward: both branches, the loss (reference code's form, returned and kept in
 *     last_loss) and, when it is finite, the predictor-input statistics (F, M2, mu);
 *   sg_ssl_backward: every gradient into online.g, which nothing reads before update (the
 *     point where data-parallel training all-reduces it);
 *   sg_ssl_update: the optimiser step, the predictor's regularisation or overwrite, the EMA.
 *   sg_ssl_reduce: with set.ranks > 1, sums online.g over the ranks (core/dist: in rank order,
 *     the same bits on every rank), so every rank takes the same update; nothing with one rank.
 * sg_ssl_step runs the four and stops after forward on a non-finite loss (the step then changes
 * nothing; the caller stops the run).
 * Data parallelism (set.ranks > 1): each rank runs its own slice of the global batch; the loss
 * and F (and M2, mu) are over the global batch (their inputs are summed or gathered across the
 * ranks in forward), gradients are of the global mean loss (scaled by 1/(batch*ranks), summed
 * in sg_ssl_reduce), and batch norm uses each rank's own batch (the reference code's
 * DataParallel) or, with set.sync_bn, the global batch. A collective that fails mid-step ends
 * the job (sg_dist_abort) with the rank and the reason.
 * Gradient accumulation (set.accumulate = K > 1): one optimiser step is K micro-batches of
 * set.batch images per view (per rank), put into m->x in turn. Each runs sg_ssl_forward and
 * sg_ssl_backward; after the K-th, one sg_ssl_reduce and one sg_ssl_update. The step computes
 * what one step on the K micro-batches together (batch * ranks * K images) computes, except
 * batch norm:
 *   - the loss and gradients are of the mean over the whole batch: each micro-batch's loss
 *     gradient is scaled by 1/(batch*ranks*K) and added to online.g (zeroed at micro-batch 0
 *     only); forward returns the micro-batch's loss, and after the K-th last_loss is the mean of
 *     the K (= the whole batch's mean loss);
 *   - F, M2 and mu: each micro-batch's correlation (over every rank's rows, gathered as above)
 *     joins the step's mean in Facc/M2acc/muacc; at the K-th the moving averages take that mean
 *     once (F <- rho F + (1-rho) mean), as they take one batch's correlation with K = 1;
 *   - the optimiser step, the predictor's overwrite (step % freq) and the EMA happen once;
 *   - batch norm: each micro-batch (and each rank's part of it, unless sync_bn) normalises with
 *     its own statistics and updates the running statistics once per micro-batch: the one
 *     difference from a K times larger batch.
 * sg_ssl_step runs forward and backward of one micro-batch, then reduce and update when that was
 * the step's K-th (with K = 1: every call is a whole step). m->micro counts the micro-batches
 * done; checkpoints are taken at step boundaries only (m->micro == 0). */
double sg_ssl_forward(sg_ssl *m);
void sg_ssl_backward(sg_ssl *m);
void sg_ssl_reduce(sg_ssl *m);
void sg_ssl_update(sg_ssl *m);
double sg_ssl_step(sg_ssl *m);

/* Step graphs (set.graph): after one eager step (F's first batch, and whatever the backend's
 * libraries set up on first use), sg_ssl_step records the step once as a graph of the backend
 * (kernels.h's graph slots: a CUDA Graph on CUDA) and from then on launches it, so its few
 * hundred kernels cost one launch: forward, backward, the optimiser, the predictor's
 * symmetrisation and the EMA. A graph replays the arguments it was recorded with, so the rates
 * that change every step are read from backend memory (m->rates, the optimiser groups' lr_at
 * and the EMA's m_at), where one copy from a table made at build puts each step's before the
 * launch. Outside the graph stay the loss log's copy (its offset moves) and DirectPred's
 * overwrite (every freq steps; cuSOLVER's syevd is not documented as capturable), which with
 * deferred losses waits for nothing either: its status goes to eig_info, read with the losses.
 * At the capture the step is computed twice, eagerly and by the graph's first launch from the
 * same state (weights, momentum, target, BN running statistics and F, M2 restored in between),
 * and the two must agree bit for bit in all of those, the gradients and the loss rows; if not,
 * the model goes on eagerly from the eager pass's state and says why in graph_error (the
 * trainer stops the run with it). A graph needs what a step without waits has (sg_ssl_build
 * refuses the rest by name): a backend with graph slots, deferred losses
 * (loss_readback > 1), one rank, one micro-batch and no zero-mean F (its mean is taken on the
 * host). The computed values are the eager step's, so a run's numbers do not depend on it. */
const char *sg_ssl_graph_refusal(const sg_ssl_settings *set, const sg_backend *be);

/* Deferred losses (set.loss_readback = L > 1 with one rank; m->deferred): forward returns 0 and
 * leaves the loss on the backend, every step runs whole (a diverged step is not skipped: the
 * caller finds its non-finite loss at the next read and stops there), and the statistics
 * (F, M2, mu) take every batch. sg_ssl_losses reads the losses of the steps logged since the
 * last read (at most L: sg_ssl_log_full says when a read is due; a step past it aborts) into
 * loss[0..n), computed exactly as the immediate path computes them (the same bits), sets
 * last_loss, and returns n. Without deferral it returns 0. */
int sg_ssl_log_full(const sg_ssl *m);
int sg_ssl_losses(sg_ssl *m, double *loss, int cap);

/* ---- the model's state on disk (core/ssl/checkpoint.c) ----------------------------------------
 * Everything a resume needs (weights, BN statistics, momentum, target, F/M2/mu, the step) in one
 * file with a versioned header (setting hash, every buffer's name and size, step, total steps,
 * backend, precision) and a checksum over header and body, written through core/base/file.h
 * (temporary file, then rename). The run's own counters travel with it. */
typedef struct {
    uint64_t config_hash;  /* the setting (sg_train_config_hash) */
    int64_t epochs_done;   /* epochs finished */
    double epoch_loss_sum; /* loss summed over the current epoch's steps so far */
    int64_t total_steps;   /* of the run: a checkpoint's step must lie in [1, total_steps] */
} sg_ckpt_run;

#define SG_CKPT_OTHER_SETTING (-2) /* sg_ssl_load: the file belongs to another setting */

int sg_ssl_save(const sg_ssl *m, const char *path, const sg_ckpt_run *run, sg_err *err);
/* Checks the whole file against this model and expect (size, magic, version, setting, buffers,
 * step range, checksum) before touching the model; then loads it, sets m->step and fills *got
 * (may be NULL). 0; SG_CKPT_OTHER_SETTING when the setting hash differs (got->config_hash set);
 * -1 for any other problem, each named in err with the path. */
int sg_ssl_load(sg_ssl *m, const char *path, const sg_ckpt_run *expect, sg_ckpt_run *got,
                sg_err *err);

/* Learning rate and EMA rate at step k (the schedules). */
double sg_ssl_lr_at(const sg_ssl_settings *set, long k);
double sg_ssl_ema_at(const sg_ssl_settings *set, long k);
/* The predictor group's learning rate at step k: sg_ssl_lr_at * alpha_p, or with
 * set.pred_fixed_lr lr * alpha_p at every step (SimSiam's predictor, not decayed). */
double sg_ssl_pred_lr_at(const sg_ssl_settings *set, long k);

/* Eigenvalue map of DirectPred: p[j] from s[j] (ascending) per set. */
void sg_ssl_eigmap(const sg_ssl_settings *set, int D, const float *s, float *p);

/* Trunk features of x [B, C, H, W] (backend memory) in evaluation mode (BN running statistics):
 * feat [B, feat] in m->on[0].feat, backend memory (valid until the next call or step). */
const float *sg_ssl_features(sg_ssl *m, const float *x);
/* One training-mode forward of the online trunk on x [B, C, H, W]: batch-norm layers update
 * their running statistics from it (momentum 0.1, PyTorch's); no weight changes. */
void sg_ssl_bn_calibrate(sg_ssl *m, const float *x);
/* Projector output z of view v from the last step ([B, D]). */
const float *sg_ssl_last_z(const sg_ssl *m, int v);
/* The linear predictor's W [D, D] (NULL for MLP/identity predictors). */
const float *sg_ssl_pred_weight(const sg_ssl *m);
