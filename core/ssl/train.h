/* core/ssl/train.h: a whole training run: data, model, steps, checkpoints, evaluation, CSVs.
 *
 * A run lives in a folder run.dir/run.name holding:
 *   config.cfg      the resolved config (every key; `stopgrad train config.cfg` reruns it)
 *   machine.csv     the machine description
 *   steps.csv       one row per step: step, epoch, loss, lr, ema, seconds, img_per_s, data_wait_s
 *   epochs.csv      one row per epoch: loss, collapse metric, effective rank of F, spectra of F
 *                   and W_p, alignment, asymmetry, probe/kNN accuracy when evaluated, speed
 *   checkpoint.bin  everything a resume needs, written atomically every trainer.checkpoint_every
 *                   steps and at each epoch end
 * and appends one summary row to run.results. Everything but the wall-clock columns (seconds,
 * img_per_s, data_wait_*) is bit-identical for the same config, seed, backend and thread count,
 * and a resumed run reproduces the uninterrupted one exactly.
 *
 * Gradient accumulation (trainer.accumulate = K): trainer.batch stays the batch of one optimiser
 * step (the global batch); each rank's trainer.batch/ranks images of step k (the loader's slice,
 * the same images for any K) go through the model as K micro-batches of trainer.batch/(K*ranks),
 * micro-batch j being the slice's entries [j*B/K, (j+1)*B/K). The step then equals one step on
 * the whole batch (ssl.h: loss and gradients of its mean, F once from all K, one optimiser step
 * and EMA) except batch norm, which normalises each micro-batch with its own statistics.
 * steps.csv has one row per optimiser step, its loss the mean of the K micro-batches' (= the
 * whole batch's mean loss); img_per_s counts the whole batch. Checkpoints and resumes fall on
 * step boundaries only, so a resumed run reproduces the uninterrupted one for any K. */
#pragma once
#include <stdint.h>

#include "core/base/config.h"
#include "core/base/err.h"
#include "core/ssl/ssl.h"

typedef enum {
    SG_TRAIN_PROGRESS_AUTO,  /* a bar on a terminal, a line every 30 s elsewhere */
    SG_TRAIN_PROGRESS_LINES, /* lines even on a terminal (runs sharing one) */
    SG_TRAIN_PROGRESS_NONE,
} sg_train_progress;

typedef struct {
    int resume;                 /* continue from the run folder's checkpoint */
    sg_train_progress progress; /* how steps are reported while training */
    long stop_after;   /* > 0: stop (as if killed) after this many steps of this invocation,
                          leaving the checkpoint; for tests of resume */
} sg_train_opts;

/* What an evaluation measured (eval.* keys), every number labelled by how it was chosen:
 *   probe            the linear probe's test accuracy at the epoch chosen without the test set
 *                    (eval.probe_holdout > 0: the best held-out epoch; 0: the last epoch);
 *   probe_top5       its top-5 accuracy at that epoch; probe_epoch (0-based), probe_epochs_run;
 *   probe_final      the test accuracy after the last epoch run;
 *   probe_best       the reference code's number: the best test accuracy over the epochs, chosen
 *                    on the test set itself (optimistic; what the published tables report);
 *   knn, knn_top5    the weighted kNN's top-1 and top-5 accuracies. */
typedef struct {
    double probe, probe_top5, probe_final, probe_best, knn, knn_top5;
    int probe_epoch, probe_epochs_run, probe_best_epoch;
    /* the probe's protocol and settings in words ("reference: adam ...", "byol: ..."; the lr
     * the protocol chose included): the probe_protocol cell; empty without a probe */
    char probe_protocol[512];
} sg_eval_numbers;

/* The summary of a finished run (also what was appended to run.results). */
typedef struct {
    char run_id[160];
    char run_dir[4096];
    long steps;
    double final_loss, collapse_std, eff_rank;
    sg_eval_numbers ev; /* the final evaluation (NaN / -1 where not evaluated) */
    double img_per_s, wall_s, data_wait_frac;
    int finished; /* 0 when stopped by stop_after */
} sg_train_summary;

/* sg_train_run's return when the input cannot be used: the dataset is missing, truncated,
 * malformed or smaller than a batch, or run.name / run.dir do not fit (`stopgrad train` exits 2). */
#define SG_TRAIN_BAD_INPUT (-2)

/* Returns 0 on success; SG_TRAIN_BAD_INPUT or -1 (anything else: a config that cannot be built,
 * a finished run folder, a write that failed) with the message. A NaN/Inf loss stops the run
 * with an error naming the step and the last good checkpoint (-1). */
int sg_train_run(const sg_config *cfg, const sg_train_opts *opts, sg_train_summary *out,
                 sg_err *err);

/* The results CSV header (run.results), for the checker and tests. */
int sg_train_results_ncols(void);
const char *const *sg_train_results_header(void);
