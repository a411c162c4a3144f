/* core/ssl/train.c: the training run (see train.h). */
#define _GNU_SOURCE /* mkdir, fsync, ftruncate, gmtime_r with -std=c11 */
#include "core/ssl/train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/base/log.h"
#include "core/base/file.h"
#include "core/base/machine.h"
#include "core/base/text.h"
#include "core/base/hash.h"
#include "core/data/datasets.h"
#include "core/dist/dist.h"
#include "core/data/loader.h"
#include "core/eval/eval.h"
#include "core/nn/conv_auto.h"
#include "core/nn/cudnn_algos.h"
#include "core/ssl/train_config.h"
#include "kernels/backend.h"
#include "kernels/backend_machine.h"

/* A step's steps.csv row before it is written (loss NaN until read when deferred). */
typedef struct {
    long k, epoch;
    double loss, lr, ema, dt, waited;
} step_row;

/* ---- CSV schemas ----------------------------------------------------------------------------- */

static const char *const step_cols[] = {"step", "epoch", "loss", "lr", "ema",
                                        "seconds", "img_per_s", "data_wait_s"};
#define NSTEP_COLS ((int)(sizeof step_cols / sizeof step_cols[0]))
static const char *const epoch_cols[] = {
    "epoch", "step", "loss_mean", "lr", "collapse_std", "eff_rank_F", "asymmetry_Wp", "F_eigs",
    "Wp_eigs", "align_Wp", "probe", "probe_top5", "probe_epoch", "probe_epochs_run",
    "probe_final", "probe_best", "probe_best_epoch", "knn_acc", "knn_top5", "img_per_s",
    "data_wait_frac", "probe_protocol"};
#define NEPOCH_COLS ((int)(sizeof epoch_cols / sizeof epoch_cols[0]))
/* The build's git_commit is not here: it is one of the machine columns appended to these. */
static const char *const result_cols[] = {
    "run_id", "finished_utc", "config_hash", "seed", "dataset", "method",
    "predictor", "setting", "tag", "backend", "epochs", "steps", "final_loss", "collapse_std",
    "eff_rank_F", "probe", "probe_top5", "probe_epoch", "probe_epochs_run", "probe_final",
    "probe_best", "probe_best_epoch", "knn_acc", "knn_top5", "probe_protocol", "knn_protocol",
    "img_per_s", "data_wait_frac", "wall_s", "conv_algos", "conv_deterministic", "gemm_impl", "precision",
    "graph"};
#define NRESULT_BASE ((int)(sizeof result_cols / sizeof result_cols[0]))

int sg_train_results_ncols(void) { return NRESULT_BASE + sg_machine_ncols(); }

/* Results columns added after results files were first written, with the value older rows
 * take: such a file is still this stopgrad's, and grows on (sg_csv_append_upgrade). */
static const sg_csv_later_col later_result_cols[] = {{"graph", "false"}};
#define N_LATER_RESULT_COLS ((int)(sizeof later_result_cols / sizeof later_result_cols[0]))

const char *const *sg_train_results_header(void) {
    static const char *hdr[NRESULT_BASE + 64];
    return sg_machine_join_header(result_cols, NRESULT_BASE, hdr, NRESULT_BASE + 64);
}

/* ---- the run's state ------------------------------------------------------------------------- */

typedef struct {
    const sg_dataset *d;
    int first, count;
} ds_range;

typedef struct {
    const sg_config *cfg;
    const sg_backend *be;  /* the model's backend (trainer.backend) */
    const sg_backend *hbe; /* host work: augmentation, evaluation, diagnostics (always cpu) */
    float *xh[2];          /* [B, C, S, S] host staging of the two views (be->host_alloc) */
    const sg_dataset_info *ds; /* the dataset table's row of data.dataset */
    sg_dataset pre, evtest, evtrain; /* evtrain unused (n = 0) when it is `pre` */
    ds_range eval_train, eval_test;
    int S, C;
    sg_aug_recipe rec[2];
    sg_ssl m;
    sg_loader *loader;
    long spe, total_steps;
    int epochs;
    char dir[4096], steps_path[4200], epochs_path[4200], ckpt_path[4200];
    sg_csv_stream steps_csv, epochs_csv;
    uint64_t config_hash;
    char run_id[160];
    /* data parallelism: this rank of `ranks`; rank 0 alone writes (folder, CSVs, checkpoints,
     * results) and evaluates while the others wait */
    int rank, ranks;
    /* progress of the current epoch (checkpointed) */
    double epoch_loss_sum;
    long epochs_done;
    /* metrics of the last evaluated epoch */
    sg_eval_numbers ev; /* the last evaluation */
    double collapse, eff_rank;
    /* timing (not checkpointed) */
    double epoch_seconds, epoch_wait;
    long epoch_timed_steps;
    /* conv.algo=auto (core/nn/conv_auto.h): the choice per conv shape, the shapes the trunk is
     * built with, whether they were chosen now (then recorded in the run folder), its key */
    sg_conv_auto_table conv_auto;
    sg_conv_shape conv_auto_shapes[SG_CONV_AUTO_MAX];
    int conv_auto_fresh;
    sg_conv_auto_key conv_auto_key;
    char conv_algos[256]; /* the results' conv_algos cell: "im2col:5,winograd:12" */
    /* conv.algo=cudnn or auto on CUDA (core/nn/cudnn_algos.h): the cuDNN algorithms of every
     * trunk conv shape, preset on the backend; whether chosen now (then recorded), their key */
    sg_cudnn_table cudnn;
    int cudnn_fresh;
    sg_cudnn_key cudnn_key;
    /* steps.csv rows not yet written: one (written every step) or, with deferred losses
     * (trainer.loss_readback), up to the loss log's steps, whose losses are read together */
    step_row *pend;
    double *pend_loss;
    int npend;
    int aug_on_backend; /* data.augment_on=backend: the loader makes the views in m->x */
} run;

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---- data ------------------------------------------------------------------------------------ */

static int open_data(run *r, sg_err *err) {
    const sg_config *c = r->cfg;
    const char *name = sg_config_str(c, "data.dataset");
    const char *dir = sg_config_str(c, "data.dir");
    const sg_dataset_info *ds = sg_dataset_find(name);
    SG_CHECK(ds != NULL, "data.dataset=%s has no row in the dataset table", name);
    r->ds = ds;
    int native = ds->native_size, rc = 0;
    if (ds->needs_dir && !dir[0])
        return sg_errf(err, "data.dir is required for data.dataset=%s (the folder holding the "
                            "dataset's files: %s; see REPRODUCE.md)", name, ds->files);
    if (ds->format == SG_DS_SYNTHETIC) {
        /* one generated set, the last fifth held out for evaluation */
        int n = (int)sg_config_int(c, "data.synthetic_n");
        native = (int)sg_config_int(c, "data.synthetic_size");
        rc = sg_dataset_synthetic(&r->pre, n + n / 4, ds->channels, native, native,
                                  (int)sg_config_int(c, "data.synthetic_classes"), 0x5eedu, err);
        r->eval_train = (ds_range){&r->pre, 0, n};
        r->eval_test = (ds_range){&r->pre, n, n / 4};
    } else {
        rc = sg_dataset_open_split(ds, dir, SG_SPLIT_PRETRAIN, &r->pre, err);
        if (!rc && !ds->eval_on_pretrain)
            rc = sg_dataset_open_split(ds, dir, SG_SPLIT_EVAL_TRAIN, &r->evtrain, err);
        if (!rc) rc = sg_dataset_open_split(ds, dir, SG_SPLIT_EVAL_TEST, &r->evtest, err);
        r->eval_train = ds->eval_on_pretrain ? (ds_range){&r->pre, 0, r->pre.n}
                                             : (ds_range){&r->evtrain, 0, r->evtrain.n};
        r->eval_test = (ds_range){&r->evtest, 0, r->evtest.n};
    }
    if (rc) return -1;
    int tl = (int)sg_config_int(c, "eval.train_limit"), el = (int)sg_config_int(c, "eval.test_limit");
    if (tl > 0 && tl < r->eval_train.count) r->eval_train.count = tl;
    if (el > 0 && el < r->eval_test.count) r->eval_test.count = el;
    int size = (int)sg_config_int(c, "data.image_size");
    r->S = size > 0 ? size : native;
    for (int v = 0; v < 2; v++) sg_aug_recipe_make(ds, v, r->pre.C, r->S, &r->rec[v]);
    r->C = r->rec[0].out_channels > 0 ? r->rec[0].out_channels : r->pre.C;
    return 0;
}

/* Eval-mode trunk features of a range of images, B at a time (the last chunk padded). */
static int eval_on_pixels(const run *r) {
    return !strcmp(sg_config_str(r->cfg, "eval.features"), "pixels");
}

/* The features evaluation reads for a range of images, B at a time (the last chunk padded): the
 * trunk's, in evaluation mode (BN running statistics), or with eval.features=pixels the
 * evaluation views themselves (the raw-pixel baseline, D = C*S*S). mode 1 instead runs the
 * trunk in training mode to re-estimate BN's running statistics (eval.bn_stats=data) and
 * writes no features. */
static int features_pass(run *r, const ds_range *rg, float *feat, int32_t *labels, int mode,
                         sg_err *err) {
    sg_ssl *m = &r->m;
    const size_t img = (size_t)r->C * r->S * r->S;
    const int B = m->B, pixels = eval_on_pixels(r);
    const size_t D = pixels ? img : (size_t)m->trunk.feat_dim;
    const int center = r->ds->eval_center_crop;
    /* grown to each image: ImageNet photos come in any size */
    sg_image_buf ib = {0};
    int rc = 0;
    for (int at = 0; at < rg->count && rc == 0; at += B) {
        int n = rg->count - at < B ? rg->count - at : B;
        for (int i = 0; i < B; i++) {
            float *dst = r->xh[0] + (size_t)i * img;
            if (i >= n) { /* padding rows: eval-mode BN is per-sample, they change nothing */
                memset(dst, 0, img * sizeof(float));
                continue;
            }
            int C, H, W, idx = rg->first + at + i;
            if (sg_image_buf_fetch(&ib, rg->d, idx, 1, r->S, &C, &H, &W, err)) {
                rc = -1;
                break;
            }
            sg_eval_view(r->hbe, &r->rec[0], center, ib.img, C, H, W, dst, &ib.scratch);
            if (labels) labels[at + i] = rg->d->labels[idx];
        }
        if (rc) break;
        if (mode == 0 && pixels) {
            memcpy(feat + (size_t)at * D, r->xh[0], (size_t)n * D * sizeof(float));
            continue;
        }
        sg_ssl_put(m, m->x[0], r->xh[0], (size_t)B * img);
        if (mode == 1) {
            if (n == B) sg_ssl_bn_calibrate(m, m->x[0]); /* whole batches only: no padding */
            continue;
        }
        const float *f = sg_ssl_features(m, m->x[0]);
        sg_ssl_get(m, feat + (size_t)at * D, f, (size_t)n * D);
    }
    sg_image_buf_free(&ib);
    return rc;
}


static sg_eval_numbers eval_none(void) {
    return (sg_eval_numbers){NAN, NAN, NAN, NAN, NAN, NAN, -1, 0, -1, ""};
}

/* The evaluation's cells of an epochs.csv or results row (empty where not measured; ev NULL: none
 * at all), in epoch_cols' and result_cols' order: probe, probe_top5, probe_epoch,
 * probe_epochs_run, probe_final, probe_best, probe_best_epoch, knn_acc, knn_top5. */
static void eval_cells(sg_csv_row *row, const sg_eval_numbers *ev) {
    const int probe = ev && !isnan(ev->probe), knn = ev && !isnan(ev->knn);
    if (probe) {
        sg_csv_row_double(row, ev->probe);
        sg_csv_row_double(row, ev->probe_top5);
        sg_csv_row_int(row, ev->probe_epoch);
        sg_csv_row_int(row, ev->probe_epochs_run);
        sg_csv_row_double(row, ev->probe_final);
        sg_csv_row_double(row, ev->probe_best);
        sg_csv_row_int(row, ev->probe_best_epoch);
    } else {
        for (int k = 0; k < 7; k++) sg_csv_row_str(row, "");
    }
    if (knn) {
        sg_csv_row_double(row, ev->knn);
        sg_csv_row_double(row, ev->knn_top5);
    } else {
        sg_csv_row_str(row, "");
        sg_csv_row_str(row, "");
    }
}

/* ---- eval.protocol=byol|simsiam: the published linear evaluations ------------------------- */

static sg_probe_protocol protocol_of(const sg_config *c) {
    const char *p = sg_config_str(c, "eval.protocol");
    for (int k = 0; k < SG_PROBE_PROTOCOL_COUNT; k++)
        if (!strcmp(p, sg_probe_protocol_names[k])) return (sg_probe_protocol)k;
    SG_CHECK(0, "eval.protocol=%s has no entry in sg_probe_protocol_names", p);
    return SG_PROBE_REFERENCE;
}

/* The protocol's published settings, with eval.probe_epochs, probe_lr (as the base lr: the
 * grid becomes that one lr), probe_wd, probe_batch and probe_holdout in their place where those
 * keys are not at their defaults (a rule a config.cfg, which writes every key, rereads
 * unchanged), eval.probe_patience as given, and the evaluation's seed. */
static int lineval_config_of(const sg_config *c, uint64_t seed, sg_lineval_config *lc,
                             sg_err *err) {
    *lc = sg_lineval_config_default(protocol_of(c));
    sg_config *d = sg_train_config_new();
    static const char *const keys[] = {"eval.probe_epochs", "eval.probe_lr", "eval.probe_wd",
                                       "eval.probe_batch", "eval.probe_holdout"};
    int changed[5];
    for (int k = 0; k < 5; k++)
        changed[k] = strcmp(sg_config_text(c, keys[k]), sg_config_text(d, keys[k])) != 0;
    sg_config_free(d);
    if (changed[0]) lc->epochs = (int)sg_config_int(c, "eval.probe_epochs");
    if (changed[1]) {
        lc->nlr = 1;
        lc->base_lr[0] = sg_config_float(c, "eval.probe_lr");
    }
    if (changed[2]) lc->weight_decay = sg_config_float(c, "eval.probe_wd");
    if (changed[3]) lc->batch_size = (int)sg_config_int(c, "eval.probe_batch");
    if (changed[4]) lc->holdout = sg_config_float(c, "eval.probe_holdout");
    lc->patience = (int)sg_config_int(c, "eval.probe_patience");
    lc->seed = seed;
    if (sg_lineval_config_validate(lc, err)) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return sg_errf(err, "eval.protocol=%s: %.400s", sg_config_str(c, "eval.protocol"), msg);
    }
    return 0;
}

/* The augmented training views of the linear evaluations, as sg_lineval_views_fn wants them. */
typedef struct {
    run *r;
    const ds_range *rg;
    sg_aug_recipe rec; /* sg_aug_recipe_linear_eval of the run's view-0 recipe */
    uint64_t seed;
    sg_image_buf ib;
} probe_views;

/* Training images idx[0..n) of rg, each augmented with the key (seed, probe epoch, dataset
 * index, SG_AUG_VIEW_LINEAR_EVAL) and passed through the trunk in evaluation mode (or taken as
 * pixels, eval.features=pixels), B at a time: a view and its features depend on that key alone,
 * not on the batch it comes in (eval-mode BN is per sample). */
static int probe_views_fn(void *ctx, int epoch, int n, const int32_t *idx, float *out,
                          sg_err *err) {
    probe_views *v = ctx;
    run *r = v->r;
    sg_ssl *m = &r->m;
    const size_t img = (size_t)r->C * r->S * r->S;
    const int B = m->B, pixels = eval_on_pixels(r);
    const size_t D = pixels ? img : (size_t)m->trunk.feat_dim;
    for (int at = 0; at < n; at += B) {
        const int k = n - at < B ? n - at : B;
        for (int i = 0; i < B; i++) {
            float *dst = r->xh[0] + (size_t)i * img;
            if (i >= k) {
                memset(dst, 0, img * sizeof(float));
                continue;
            }
            const int di = v->rg->first + idx[at + i];
            int C, H, W;
            if (sg_image_buf_fetch(&v->ib, v->rg->d, di, 3, r->S, &C, &H, &W, err)) return -1;
            sg_augment(r->hbe, &v->rec, v->ib.img, C, H, W, v->seed, (uint32_t)epoch,
                       (uint32_t)di, SG_AUG_VIEW_LINEAR_EVAL, dst, &v->ib.scratch);
        }
        if (pixels) {
            memcpy(out + (size_t)at * D, r->xh[0], (size_t)k * D * sizeof(float));
            continue;
        }
        sg_ssl_put(m, m->x[0], r->xh[0], (size_t)B * img);
        const float *f = sg_ssl_features(m, m->x[0]);
        sg_ssl_get(m, out + (size_t)at * D, f, (size_t)k * D);
    }
    return 0;
}

/* The labelled images behind a probe's number, appended to its protocol cell: how many it was
 * fitted on, held out to choose its epoch, and tested on (eval.train_limit and eval.test_limit
 * change them, and a probe on 10,000 labels is not the same measurement as one on 60,000). */
static void append_probe_images(char *buf, size_t cap, const sg_probe_result *pr, int ntest) {
    size_t at = strlen(buf);
    if (at < cap)
        snprintf(buf + at, cap - at, " images=%d fit/%d held out/%d test", pr->nfit, pr->nheld,
                 ntest);
}

/* eval.protocol=byol|simsiam on the centre-view features ftr / fte (the held-out and test
 * images' views) and augmented views of the fitted images, drawn afresh every probe epoch. */
static int lineval_probe(run *r, int epoch, int ntr, int nte, int D, int nclasses,
                         const float *ftr, const int32_t *ltr, const float *fte,
                         const int32_t *lte, sg_err *err) {
    const sg_config *c = r->cfg;
    const uint64_t seed = (uint64_t)sg_config_int(c, "trainer.seed") * 1000003u + (uint64_t)epoch;
    sg_lineval_config lc;
    if (lineval_config_of(c, seed, &lc, err)) return -1;
    probe_views v = {.r = r, .rg = &r->eval_train, .seed = seed};
    sg_aug_recipe_linear_eval(&r->rec[0], &v.rec);
    sg_lineval_result res;
    int rc = sg_lineval_run(r->hbe, &lc, ntr, nte, D, nclasses, ftr, ltr, fte, lte,
                            probe_views_fn, &v, &res, NULL, err);
    sg_image_buf_free(&v.ib);
    if (rc) return -1;
    r->ev.probe = res.probe.test_acc;
    r->ev.probe_top5 = res.probe.test_acc_top5;
    r->ev.probe_epoch = res.probe.selected_epoch;
    r->ev.probe_epochs_run = res.probe.epochs_run;
    r->ev.probe_final = res.probe.test_acc_final;
    r->ev.probe_best = res.probe.test_acc_best;
    r->ev.probe_best_epoch = res.probe.best_epoch;
    sg_lineval_describe(&lc, &res, r->ev.probe_protocol, sizeof r->ev.probe_protocol);
    append_probe_images(r->ev.probe_protocol, sizeof r->ev.probe_protocol, &res.probe, nte);
    return 0;
}

static int evaluate(run *r, int epoch, sg_err *err) {
    const sg_config *c = r->cfg;
    r->ev = eval_none();
    int do_probe = sg_config_bool(c, "eval.probe"), do_knn = sg_config_bool(c, "eval.knn");
    if (!do_probe && !do_knn) return 0;
    const int D = eval_on_pixels(r) ? r->C * r->S * r->S : r->m.trunk.feat_dim;
    int ntr = r->eval_train.count, nte = r->eval_test.count;
    /* BN's running statistics re-estimated from the evaluation views of the training images
     * (as torch's BN in train mode over the data, momentum 0.1), weights untouched */
    if (!strcmp(sg_config_str(c, "eval.bn_stats"), "data") &&
        features_pass(r, &r->eval_train, NULL, NULL, 1, err))
        return -1;
    int nclasses = r->pre.nclasses > r->evtest.nclasses ? r->pre.nclasses : r->evtest.nclasses;
    if (r->evtrain.nclasses > nclasses) nclasses = r->evtrain.nclasses;
    float *ftr = malloc((size_t)ntr * D * sizeof(float)), *fte = malloc((size_t)nte * D * sizeof(float));
    int32_t *ltr = malloc((size_t)ntr * sizeof(int32_t)), *lte = malloc((size_t)nte * sizeof(int32_t));
    int rc = (!ftr || !fte || !ltr || !lte) ? sg_errf(err, "out of memory for features") : 0;
    if (!rc) rc = features_pass(r, &r->eval_train, ftr, ltr, 0, err);
    if (!rc) rc = features_pass(r, &r->eval_test, fte, lte, 0, err);
    if (!rc && do_probe && protocol_of(c) != SG_PROBE_REFERENCE) {
        rc = lineval_probe(r, epoch, ntr, nte, D, nclasses, ftr, ltr, fte, lte, err);
    } else if (!rc && do_probe) {
        sg_probe_config pc = sg_probe_config_default();
        pc.epochs = (int)sg_config_int(c, "eval.probe_epochs");
        pc.lr = (float)sg_config_float(c, "eval.probe_lr");
        pc.weight_decay = (float)sg_config_float(c, "eval.probe_wd");
        pc.batch_size = (int)sg_config_int(c, "eval.probe_batch");
        pc.holdout = sg_config_float(c, "eval.probe_holdout");
        pc.patience = (int)sg_config_int(c, "eval.probe_patience");
        pc.seed = (uint64_t)sg_config_int(c, "trainer.seed") * 1000003u + (uint64_t)epoch;
        sg_probe_result pr;
        rc = sg_probe_run(r->hbe, &pc, ntr, nte, D, nclasses, ftr, ltr, fte, lte, &pr, NULL, err);
        if (!rc) {
            r->ev.probe = pr.test_acc;
            r->ev.probe_top5 = pr.test_acc_top5;
            r->ev.probe_epoch = pr.selected_epoch;
            r->ev.probe_epochs_run = pr.epochs_run;
            r->ev.probe_final = pr.test_acc_final;
            r->ev.probe_best = pr.test_acc_best;
            r->ev.probe_best_epoch = pr.best_epoch;
            char d[400];
            sg_probe_config_describe(&pc, d, sizeof d);
            snprintf(r->ev.probe_protocol, sizeof r->ev.probe_protocol, "reference: %s", d);
            append_probe_images(r->ev.probe_protocol, sizeof r->ev.probe_protocol, &pr, nte);
        }
    }
    if (!rc && do_knn) {
        sg_knn_config kc = sg_knn_config_default();
        kc.k = (int)sg_config_int(c, "eval.knn_k");
        kc.T = (float)sg_config_float(c, "eval.knn_t");
        rc = sg_knn_eval(r->hbe, &kc, ntr, nte, D, nclasses, ftr, ltr, fte, lte, NULL, &r->ev.knn, &r->ev.knn_top5,
                         err);
    }
    free(ftr), free(fte), free(ltr), free(lte);
    return rc;
}

/* ---- checkpoints: the model's (sg_ssl_save / sg_ssl_load) with the run's counters ---------- */

static sg_ckpt_run ckpt_run_of(const run *r) {
    return (sg_ckpt_run){r->config_hash, r->epochs_done, r->epoch_loss_sum, r->total_steps};
}

static int save_checkpoint(run *r, sg_err *err) {
    sg_ckpt_run cr = ckpt_run_of(r);
    return sg_ssl_save(&r->m, r->ckpt_path, &cr, err);
}

/* The keys (of those the setting hash covers) whose values differ between the run folder's
 * config.cfg and this run's config, as "key: old -> new; ...". */
static void differing_keys(const run *r, char *out, size_t cap) {
    out[0] = 0;
    char cfgp[4300];
    snprintf(cfgp, sizeof cfgp, "%s/config.cfg", r->dir);
    sg_config *old = sg_train_config_new();
    sg_err e;
    if (sg_config_load_file(old, cfgp, &e) != 0) {
        snprintf(out, cap, "the run folder's config.cfg cannot be read: %.400s", e.msg);
        sg_config_free(old);
        return;
    }
    int n;
    const sg_cfg_spec *spec = sg_train_schema(&n);
    size_t at = 0;
    for (int i = 0; i < n && at < cap; i++) {
        const char *k = spec[i].key;
        if (!sg_train_config_key_hashed(k)) continue;
        const char *a = sg_config_text(old, k), *b = sg_config_text(r->cfg, k);
        if (strcmp(a, b) != 0) {
            int w = snprintf(out + at, cap - at, "%s%s: %s -> %s", at ? "; " : "", k, a, b);
            if (w < 0) break;
            at += (size_t)w;
        }
    }
    if (!out[0]) snprintf(out, cap, "config.cfg agrees with this run: the checkpoint is foreign");
    sg_config_free(old);
}

static int load_checkpoint(run *r, sg_err *err) {
    sg_ckpt_run want = ckpt_run_of(r), got;
    int rc = sg_ssl_load(&r->m, r->ckpt_path, &want, &got, err);
    if (rc == SG_CKPT_OTHER_SETTING) {
        char diff[512], msg[sizeof err->msg];
        differing_keys(r, diff, sizeof diff);
        snprintf(msg, sizeof msg, "%s", err->msg);
        return sg_errf(err, "%.350s; keys that differ: %.500s. Resume with the run's own "
                            "config.cfg, or set run.name for a new run", msg, diff);
    }
    if (rc) return -1;
    /* the model's file agrees with itself; a run also needs its counters at one of its points */
    if (got.epochs_done != r->m.step / r->spe)
        return sg_errf(err, "checkpoint %s is at step %ld, epoch %lld: not a point of this run "
                            "(%ld steps per epoch)", r->ckpt_path, r->m.step,
                       (long long)got.epochs_done, r->spe);
    r->epochs_done = got.epochs_done;
    r->epoch_loss_sum = got.epoch_loss_sum;
    return 0;
}

/* The temporary files of the run folder's atomic writes (core/base/file.h: NAME.tmp.PID.N) that a
 * kill cut short: the checkpoint's, config.cfg's and machine.csv's. */
static void remove_partial_writes(const run *r) {
    static const char *const ours[] = {"checkpoint.bin.tmp.", "config.cfg.tmp.", "machine.csv.tmp.",
                                       "conv-algo.csv.tmp.", "cudnn-algo.csv.tmp."};
    DIR *d = opendir(r->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int mine = 0;
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            mine |= !strncmp(e->d_name, ours[i], strlen(ours[i]));
        if (!mine) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", r->dir, e->d_name);
        if (unlink(p) == 0) sg_info("removed %s, a write cut short by a kill", p);
    }
    closedir(d);
}

/* Cuts a CSV we wrote back to its header plus `rows` rows (our rows hold no newlines). */
static int truncate_rows(const char *path, long rows, sg_err *err) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) /* a FIFO would block the read */
        return sg_errf(err, "%s is %s, expected a regular file", path,
                       sg_file_kind((unsigned)st.st_mode));
    FILE *f = fopen(path, "r+b");
    if (!f) return sg_errf(err, "cannot open %s to resume: %s", path, strerror(errno));
    long lines = 0, off = 0;
    int ch;
    while (lines < rows + 1 && (ch = fgetc(f)) != EOF) {
        off++;
        if (ch == '\n') lines++;
    }
    int rc = 0;
    if (lines < rows + 1)
        rc = sg_errf(err, "%s has %ld rows, fewer than the checkpoint's %ld", path,
                     lines > 0 ? lines - 1 : 0, rows);
    else if (ftruncate(fileno(f), off) != 0)
        rc = sg_errf(err, "cannot truncate %s: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

/* ---- per-epoch diagnostics -------------------------------------------------------------------- */

static int epoch_row(run *r, int epoch, int evaluated, double img_s, double wait_frac, sg_err *err) {
    sg_ssl *m = &r->m;
    const sg_backend *be = r->hbe; /* diagnostics run on host copies of the model's buffers */
    const int D = m->D, B = m->B;
    /* collapse metric over both views' projector outputs of the last step */
    double *work = malloc((size_t)2 * D * sizeof(double));
    float *z = malloc((size_t)2 * B * D * sizeof(float)), *Wh = malloc((size_t)D * D * sizeof(float));
    float *V = malloc((size_t)D * D * sizeof(float)), *s = malloc((size_t)D * sizeof(float));
    float *ws = malloc((size_t)D * D * sizeof(float)), *we = malloc((size_t)D * sizeof(float));
    float *al = malloc((size_t)D * sizeof(float));
    void *sw = malloc(sg_syevd_workspace_bytes(be, D));
    char *fe = malloc(SG_SPECTRUM_CHARS(D)), *wpe = malloc(SG_SPECTRUM_CHARS(D)),
         *ale = malloc(SG_SPECTRUM_CHARS(D));
    if (!work || !z || !Wh || !V || !s || !ws || !we || !al || !sw || !fe || !wpe || !ale) {
        free(work), free(z), free(Wh), free(V), free(s), free(ws), free(we), free(al), free(sw),
            free(fe), free(wpe), free(ale);
        return sg_errf(err, "out of memory for epoch diagnostics");
    }
    /* an untrained network (trainer.epochs=0, the random-init baseline) has no step behind it:
     * no projector outputs, no F */
    const int trained = m->step > 0;
    int info = -1;
    fe[0] = 0;
    r->collapse = r->eff_rank = NAN;
    if (trained) {
        sg_ssl_get(m, z, sg_ssl_last_z(m, 0), (size_t)B * D);
        sg_ssl_get(m, z + (size_t)B * D, sg_ssl_last_z(m, 1), (size_t)B * D);
        r->collapse = sg_collapse_std(2 * B, D, z, work);
        sg_ssl_get(m, V, m->F, (size_t)D * D);
        info = sg_syevd(be, D, V, s, sw, NULL);
        if (info == 0) {
            r->eff_rank = sg_effective_rank(D, s);
            sg_format_spectrum(D, s, fe, SG_SPECTRUM_CHARS(D));
        }
    }
    const float *Wp = NULL;
    if (sg_ssl_pred_weight(m)) {
        sg_ssl_get(m, Wh, sg_ssl_pred_weight(m), (size_t)D * D);
        Wp = Wh;
    }
    double asym = NAN;
    wpe[0] = ale[0] = 0;
    if (Wp && info == 0) {
        asym = sg_asymmetry(D, Wp);
        sg_predictor_alignment(be, D, V, Wp, al, NULL, ws);
        sg_format_spectrum(D, al, ale, SG_SPECTRUM_CHARS(D));
        if (sg_sym_part_eigvals(be, D, Wp, we, ws, sw) == 0)
            sg_format_spectrum(D, we, wpe, SG_SPECTRUM_CHARS(D));
    }
    sg_csv_row row;
    sg_csv_row_init(&row);
    sg_csv_row_int(&row, epoch);
    sg_csv_row_int(&row, m->step);
    sg_csv_row_double(&row, r->epoch_loss_sum / (double)r->spe);
    sg_csv_row_double(&row, sg_ssl_lr_at(&m->set, m->step - 1));
    sg_csv_row_double(&row, r->collapse);
    sg_csv_row_double(&row, r->eff_rank);
    if (Wp) sg_csv_row_double(&row, asym); else sg_csv_row_str(&row, "");
    sg_csv_row_str(&row, fe);
    sg_csv_row_str(&row, wpe);
    sg_csv_row_str(&row, ale);
    eval_cells(&row, evaluated ? &r->ev : NULL);
    sg_csv_row_double(&row, img_s);
    sg_csv_row_double(&row, wait_frac);
    sg_csv_row_str(&row, evaluated ? r->ev.probe_protocol : "");
    int rc = sg_csv_stream_write(&r->epochs_csv, &row, err);
    sg_csv_row_free(&row);
    free(work), free(z), free(Wh), free(V), free(s), free(ws), free(we), free(al), free(sw), free(fe), free(wpe),
        free(ale);
    return rc;
}

/* "key=value;..." of every key set by a file or the command line, except run.* and the thread
 * count (which never change a result's meaning) */
static void setting_string(const sg_config *c, char *buf, size_t len) {
    int n;
    const sg_cfg_spec *s = sg_train_schema(&n);
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *k = s[i].key;
        if (!sg_config_is_set(c, k) || !strncmp(k, "run.", 4) || !strcmp(k, "trainer.threads") ||
            !strcmp(k, "data.dir") || !strcmp(k, "data.workers") || !strcmp(k, "conv.algo_cache"))
            continue;
        int w = snprintf(buf + at, len - at, "%s%s=%s", at ? ";" : "", k, sg_config_text(c, k));
        if (w < 0 || (size_t)w >= len - at) break;
        at += (size_t)w;
    }
}

static int append_result(run *r, const sg_train_summary *sum, sg_err *err) {
    const sg_config *c = r->cfg;
    sg_machine mach;
    if (sg_machine_probe_backend(&mach, r->be, sg_cpu_get_threads(), err)) return -1;
    char setting[4096], pp[512] = "", kp[256] = "", when[32], hash[20];
    setting_string(c, setting, sizeof setting);
    sg_knn_config kc = sg_knn_config_default();
    kc.k = (int)sg_config_int(c, "eval.knn_k");
    kc.T = (float)sg_config_float(c, "eval.knn_t");
    /* the protocol as the final evaluation ran it (eval.protocol, its settings, its choices) */
    if (sg_config_bool(c, "eval.probe")) snprintf(pp, sizeof pp, "%s", sum->ev.probe_protocol);
    if (sg_config_bool(c, "eval.knn")) {
        int w = sg_knn_config_describe(&kc, kp, sizeof kp);
        if (w >= 0 && (size_t)w < sizeof kp)
            snprintf(kp + w, sizeof kp - (size_t)w, " images=%d train/%d test",
                     r->eval_train.count, r->eval_test.count);
    }
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)r->config_hash);
    sg_csv_row row;
    sg_csv_row_init(&row);
    sg_csv_row_str(&row, r->run_id);
    sg_csv_row_str(&row, when);
    sg_csv_row_str(&row, hash);
    sg_csv_row_int(&row, sg_config_int(c, "trainer.seed"));
    sg_csv_row_str(&row, r->ds->name);
    sg_csv_row_str(&row, sg_config_str(c, "method.name"));
    sg_csv_row_str(&row, sg_config_str(c, "predictor.kind"));
    sg_csv_row_str(&row, setting);
    sg_csv_row_str(&row, sg_config_str(c, "run.tag"));
    sg_csv_row_str(&row, r->be->name);
    sg_csv_row_int(&row, r->epochs);
    sg_csv_row_int(&row, sum->steps);
    sg_csv_row_double(&row, sum->final_loss);
    sg_csv_row_double(&row, sum->collapse_std);
    sg_csv_row_double(&row, sum->eff_rank);
    eval_cells(&row, &sum->ev);
    sg_csv_row_str(&row, pp);
    sg_csv_row_str(&row, kp);
    sg_csv_row_double(&row, sum->img_per_s);
    sg_csv_row_double(&row, sum->data_wait_frac);
    sg_csv_row_double(&row, sum->wall_s);
    sg_csv_row_str(&row, r->conv_algos);
    sg_csv_row_str(&row, sg_config_text(c, "conv.deterministic"));
    /* the sgemm every matrix product ran on: the CPU's choice, or the device's library */
    sg_csv_row_str(&row, strcmp(r->be->name, "cuda") ? sg_gemm_impl_names[sg_cpu_get_gemm_impl()]
                                                     : "cublas");
    sg_csv_row_str(&row, sg_precision_names[sg_backend_precision(r->be)]);
    sg_csv_row_str(&row, sg_config_text(c, "trainer.graph"));
    sg_machine_row(&mach, &row);
    int rc = sg_csv_append_upgrade(sg_config_str(c, "run.results"), sg_train_results_ncols(),
                                   sg_train_results_header(), later_result_cols,
                                   N_LATER_RESULT_COLS, &row, 1, err);
    sg_csv_row_free(&row);
    return rc;
}

/* A run id already in the results CSV means this exact run was done: refuse to write it twice. */
static int check_not_recorded(run *r, sg_err *err) {
    const char *path = sg_config_str(r->cfg, "run.results");
    if (!file_exists(path)) return 0;
    sg_csv_table t;
    if (sg_csv_read(path, &t, err)) return -1;
    /* the file the result will be appended to must be a results file of this schema: found now,
     * not after hours of training */
    const int want = sg_train_results_ncols();
    const char *const *hdr = sg_train_results_header();
    if (!sg_csv_header_older_form(&t, want, hdr, later_result_cols, N_LATER_RESULT_COLS, NULL)) {
        /* name the first difference against this schema's own header */
        int c = 0;
        while (c < want && c < t.ncols && !strcmp(t.header[c], hdr[c])) c++;
        sg_errf(err, "%s is not a results file of this stopgrad: column %d is '%s', expected '%s' "
                     "(%d columns, expected %d); set run.results to another file",
                path, c + 1, c < t.ncols ? t.header[c] : "(none)", c < want ? hdr[c] : "(none)",
                t.ncols, want);
        sg_csv_table_free(&t);
        return -1;
    }
    int col = sg_csv_col(&t, "run_id"), found = 0;
    for (size_t i = 0; col >= 0 && i < t.nrows; i++) found |= !strcmp(sg_csv_cell(&t, i, col), r->run_id);
    sg_csv_table_free(&t);
    if (found)
        return sg_errf(err, "%s already has a result for run %s: choose another run.name or "
                            "run.results, or delete that row to redo it", path, r->run_id);
    return 0;
}

/* The measured numbers of a run that finished in an earlier process (whose result append then
 * failed): its last epochs.csv row (written after its final evaluation) and its steps.csv. A
 * row is refused when that evaluation is not there: nothing is recorded that was not measured.
 * wall_s is unknown then (NaN). */
static int recover_summary(run *r, sg_train_summary *out, sg_err *err) {
    sg_csv_table e, st;
    if (sg_csv_read(r->epochs_path, &e, err)) return -1;
    if (sg_csv_read(r->steps_path, &st, err)) {
        sg_csv_table_free(&e);
        return -1;
    }
    int rc = 0;
    const int last_e = (int)e.nrows - 1, last_s = (int)st.nrows - 1;
    const char *step_cell = last_e >= 0 ? sg_csv_cell(&e, (size_t)last_e, sg_csv_col(&e, "step")) : "";
    if (last_e < 0 || last_s < 0 || atol(step_cell) != r->m.step ||
        (long)st.nrows != r->m.step)
        rc = sg_errf(err, "run %s is finished (step %ld) but %s / %s do not hold its final "
                          "evaluation and every step; its result cannot be recovered: delete %s "
                          "to train it again",
                     r->run_id, r->m.step, r->epochs_path, r->steps_path, r->dir);
    const int do_probe = sg_config_bool(r->cfg, "eval.probe"), do_knn = sg_config_bool(r->cfg, "eval.knn");
    /* the evaluation's cells of the last epochs.csv row, in eval_cells' order */
    enum { NV = 11 };
    static const char *const cols[NV] = {"collapse_std",     "eff_rank_F",  "probe",
                                         "probe_top5",       "probe_epoch", "probe_epochs_run",
                                         "probe_final",      "probe_best",  "probe_best_epoch",
                                         "knn_acc",          "knn_top5"};
    double v[NV];
    for (int k = 0; k < NV && !rc; k++) {
        const char *cell = sg_csv_cell(&e, (size_t)last_e, sg_csv_col(&e, cols[k]));
        char *end = NULL;
        v[k] = cell[0] ? strtod(cell, &end) : NAN;
        int needed = (k >= 2 && k <= 8 && do_probe) || (k >= 9 && do_knn);
        if (needed && (!cell[0] || *end))
            rc = sg_errf(err, "run %s is finished but the last row of %s has no %s ('%s'): its "
                              "final evaluation did not complete; delete %s to train it again",
                         r->run_id, r->epochs_path, cols[k], cell, r->dir);
    }
    if (!rc) {
        out->collapse_std = v[0];
        out->eff_rank = v[1];
        out->ev = (sg_eval_numbers){v[2], v[3], v[6], v[7], v[9], v[10],
                                    isnan(v[4]) ? -1 : (int)v[4], isnan(v[5]) ? 0 : (int)v[5],
                                    isnan(v[8]) ? -1 : (int)v[8], ""};
        const int pcol = sg_csv_col(&e, "probe_protocol");
        if (pcol >= 0)
            snprintf(out->ev.probe_protocol, sizeof out->ev.probe_protocol, "%s",
                     sg_csv_cell(&e, (size_t)last_e, pcol));
        out->final_loss = atof(sg_csv_cell(&st, (size_t)last_s, sg_csv_col(&st, "loss")));
        double secs = 0, wait = 0;
        for (size_t i = 0; i < st.nrows; i++) {
            secs += atof(sg_csv_cell(&st, i, sg_csv_col(&st, "seconds")));
            wait += atof(sg_csv_cell(&st, i, sg_csv_col(&st, "data_wait_s")));
        }
        /* images per step as the training loop counts them: K micro-batches on every rank */
        const int K = r->m.set.accumulate > 1 ? r->m.set.accumulate : 1;
        const double step_imgs = (double)r->m.B * K * (r->ranks > 0 ? r->ranks : 1);
        out->img_per_s = secs > 0 ? (double)st.nrows * step_imgs / secs : NAN;
        out->data_wait_frac = secs > 0 ? wait / secs : NAN;
        out->wall_s = NAN;
    }
    sg_csv_table_free(&e);
    sg_csv_table_free(&st);
    return rc;
}

/* ---- data parallelism: rank 0 evaluates alone; the ranks' models must agree -------------------- */

/* The evaluation (when `evaluated`) and the epochs.csv row, on rank 0 only: with several ranks
 * the others are waiting, so batch norm uses this rank's batches (sync switched off). */
static int evaluate_and_record(run *r, int epoch, int evaluated, double img_s, double wait_frac,
                               sg_err *err) {
    r->m.bn_sync.active = 0;
    int rc = evaluated ? evaluate(r, epoch, err) : 0;
    r->m.bn_sync.active = 1;
    if (!rc) rc = epoch_row(r, epoch, evaluated, img_s, wait_frac, err);
    return rc;
}

/* With several ranks, at each epoch's end: wait (asleep) for rank 0's evaluation, then check
 * that every rank holds the same weights (the same bits: the sums are in rank order), so a
 * drift is an error naming the ranks, never a silently wrong run. */
static int ranks_agree(run *r, sg_err *err) {
    if (r->ranks <= 1) return 0;
    if (sg_dist_barrier(err)) return -1;
    sg_ssl *m = &r->m;
    uint64_t h = SG_FNV1A64_INIT;
    const size_t n = m->online.total, chunk = 1 << 16;
    float *tmp = m->be->host_memory ? NULL : malloc(chunk * sizeof(float));
    if (!m->be->host_memory && !tmp) return sg_errf(err, "out of memory");
    for (size_t at = 0; at < n; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        const float *src = m->online.w + at;
        if (tmp) {
            sg_ssl_get(m, tmp, src, k);
            src = tmp;
        }
        h = sg_fnv1a64(h, src, k * sizeof(float));
    }
    free(tmp);
    char what[200];
    snprintf(what, sizeof what, "the online weights after step %ld", m->step);
    return sg_dist_check_same_u64(h, what, err);
}

/* ---- the run ----------------------------------------------------------------------------------- */

/* conv.algo=auto on the CPU backend: the algorithm of each distinct conv shape of the trunk.
 * The run folder's conv-algo.csv, when there (a resume, or a rerun into the same folder), is the
 * choice and is used exactly; otherwise rank 0 takes it from the cache or measures it, every
 * rank gets rank 0's, and setup records it in the folder. */
static int conv_auto_resolve(run *r, const sg_ssl_settings *set, const sg_train_opts *opts,
                             sg_err *err) {
    sg_conv_auto_table *t = &r->conv_auto;
    if (sg_conv_auto_shapes(&set->trunk, set->batch, r->be, t, err)) return -1;
    char path[4300];
    snprintf(path, sizeof path, "%s/conv-algo.csv", r->dir);
    if (sg_file_exists(path)) {
        sg_conv_auto_table rec;
        if (sg_conv_auto_read_run(path, &rec, err)) return -1;
        for (int i = 0; i < t->n; i++) {
            const sg_conv_auto_choice *e = sg_conv_auto_find(&rec, &t->c[i].s);
            const sg_conv_shape *s = &t->c[i].s;
            if (!e)
                return sg_errf(err, "%s has no conv.algo=auto choice for the shape N=%d C=%d "
                                    "H=%d W=%d K=%d R=%d stride=%d: not this run's record",
                               path, s->N, s->C, s->H, s->W, s->K, s->R, s->stride);
            if ((int)sg_conv_algo_for(r->be, (sg_conv_algo)e->s.algo, s) != e->s.algo)
                return sg_errf(err, "%s: this build cannot run the recorded %s at N=%d C=%d "
                                    "H=%d W=%d K=%d R=%d stride=%d", path,
                               sg_conv_algo_names[e->s.algo], s->N, s->C, s->H, s->W, s->K,
                               s->R, s->stride);
            t->c[i].s.algo = e->s.algo;
            memcpy(t->c[i].sec, e->sec, sizeof e->sec);
        }
        sg_info("conv.algo=auto: the choices recorded in %s", path);
    } else if (opts->resume && file_exists(r->ckpt_path)) {
        return sg_errf(err, "--resume: %s, the conv.algo=auto choices the run was started with, "
                            "is missing: the run cannot be continued as it was computed", path);
    } else {
        int measured = 0;
        if (r->rank == 0) {
            sg_machine mach;
            if (sg_machine_probe_backend(&mach, r->be, sg_cpu_get_threads(), err)) return -1;
            sg_conv_auto_key *k = &r->conv_auto_key;
            /* cudnn's times on CUDA depend on conv.deterministic: its own cache rows */
            const int nondet = !strcmp(r->be->name, "cuda") &&
                               !sg_config_bool(r->cfg, "conv.deterministic");
            sg_conv_auto_key_make(k, mach.machine_id, mach.git_commit, mach.build_type,
                                  mach.build_flags, r->be, sg_cpu_get_threads(), nondet);
            char cache[4096];
            const char *cp = sg_config_str(r->cfg, "conv.algo_cache");
            if (cp[0])
                snprintf(cache, sizeof cache, "%s", cp);
            else
                sg_conv_auto_default_cache(cache, sizeof cache);
            measured = sg_conv_auto_choose(r->be, t, k, cache, NULL, NULL);
            sg_info("conv.algo=auto: %d conv shape(s), %d measured, %d from the cache %s",
                    t->n, measured, t->n - measured, cache[0] ? cache : "(none)");
        }
        if (r->ranks > 1 && sg_dist_bcast_bytes(t, sizeof *t, 0, err)) return -1;
        r->conv_auto_fresh = 1;
    }
    for (int i = 0; i < t->n; i++) {
        const sg_conv_auto_choice *e = &t->c[i];
        char times[160] = "";
        size_t at = 0;
        for (int a = SG_CONV_IM2COL; a < SG_CONV_ALGO_COUNT; a++)
            if (e->sec[a] >= 0 && at < sizeof times) {
                int w = snprintf(times + at, sizeof times - at, " %s %.3f ms",
                                 sg_conv_algo_names[a], e->sec[a] * 1e3);
                at += w > 0 ? (size_t)w : 0;
            }
        if (r->rank == 0)
            sg_info("  N=%d C=%d %dx%d K=%d %dx%d/%d (%d layer(s)): %s;%s", e->s.N, e->s.C,
                    e->s.H, e->s.W, e->s.K, e->s.R, e->s.S, e->s.stride, e->layers,
                    sg_conv_algo_names[e->s.algo], times);
        r->conv_auto_shapes[i] = e->s;
    }
    return 0;
}

/* conv.algo=cudnn or auto on a CUDA backend with cuDNN: the cuDNN algorithms of every distinct
 * conv shape of the trunk, preset on the backend before anything measures or builds at those
 * shapes. The run folder's cudnn-algo.csv, when there (a resume, or a rerun into the same
 * folder), is the choice and is used exactly; otherwise rank 0 takes it from the cache or from
 * cuDNN's measurement, every other rank presets rank 0's (so all ranks compute the same bits),
 * and setup records it in the folder. */
static int cudnn_resolve(run *r, const sg_ssl_settings *set, const sg_train_opts *opts,
                         sg_err *err) {
    sg_conv_auto_table *shapes = malloc(sizeof *shapes);
    if (!shapes) return sg_errf(err, "out of memory");
    int rc = sg_conv_auto_shapes(&set->trunk, set->batch, r->be, shapes, err);
    if (rc == 0) sg_cudnn_table_of(shapes, &r->cudnn);
    free(shapes);
    if (rc) return -1;
    sg_cudnn_table *t = &r->cudnn;
    const int det = sg_config_bool(r->cfg, "conv.deterministic");
    const sg_cudnn_ops *ops = sg_cudnn_device_ops();
    char path[4300];
    snprintf(path, sizeof path, "%s/cudnn-algo.csv", r->dir);
    if (sg_file_exists(path)) {
        sg_cudnn_table *rec = malloc(sizeof *rec);
        if (!rec) return sg_errf(err, "out of memory");
        sg_cudnn_key now;
        rc = sg_cudnn_read_run(path, rec, &r->cudnn_key, err);
        if (rc == 0 && r->cudnn_key.deterministic != det)
            rc = sg_errf(err, "%s was chosen under conv.deterministic=%s, this run has %s", path,
                         r->cudnn_key.deterministic ? "true" : "false", det ? "true" : "false");
        for (int i = 0; rc == 0 && i < t->n; i++) {
            const sg_conv_shape *s = &t->e[i].s;
            int found = -1;
            for (int j = 0; j < rec->n && found < 0; j++)
                if (rec->e[j].s.N == s->N && rec->e[j].s.C == s->C && rec->e[j].s.H == s->H &&
                    rec->e[j].s.W == s->W && rec->e[j].s.K == s->K && rec->e[j].s.R == s->R &&
                    rec->e[j].s.S == s->S && rec->e[j].s.stride == s->stride &&
                    rec->e[j].s.pad == s->pad)
                    found = j;
            if (found < 0)
                rc = sg_errf(err, "%s has no cuDNN algorithms for the shape N=%d C=%d H=%d W=%d "
                                  "K=%d R=%d stride=%d: not this run's record",
                             path, s->N, s->C, s->H, s->W, s->K, s->R, s->stride);
            else
                t->e[i].c = rec->e[found].c;
        }
        free(rec);
        if (rc) return -1;
        sg_err e;
        if (sg_cudnn_apply(t, ops, &e))
            return sg_errf(err, "%s: the recorded cuDNN algorithms cannot run here: %s", path,
                           e.msg);
        if (r->rank == 0) {
            sg_info("cuDNN algorithms: the choices recorded in %s", path);
            if (sg_cudnn_key_of_device(&now, det, err)) return -1;
            if (strcmp(now.gpu, r->cudnn_key.gpu) || now.driver != r->cudnn_key.driver ||
                now.cudnn != r->cudnn_key.cudnn)
                sg_info("  recorded on %s (driver %d, cuDNN %ld); running on %s (driver %d, "
                        "cuDNN %ld): the same algorithms, so the bits may still differ",
                        r->cudnn_key.gpu, r->cudnn_key.driver, r->cudnn_key.cudnn, now.gpu,
                        now.driver, now.cudnn);
        }
    } else if (opts->resume && file_exists(r->ckpt_path)) {
        return sg_errf(err, "--resume: %s, the cuDNN algorithms the run was started with, is "
                            "missing: the run cannot be continued as it was computed", path);
    } else {
        if (sg_cudnn_key_of_device(&r->cudnn_key, det, err)) return -1;
        if (r->rank == 0) {
            char cache[4096];
            sg_cudnn_default_cache(cache, sizeof cache);
            int measured = sg_cudnn_choose(t, &r->cudnn_key, cache, ops, err);
            if (measured < 0) return -1;
            sg_info("cuDNN algorithms (conv.deterministic=%s): %d conv shape(s), %d measured, %d "
                    "from the cache %s", det ? "true" : "false", t->n, measured, t->n - measured,
                    cache[0] ? cache : "(none)");
        }
        if (r->ranks > 1) {
            if (sg_dist_bcast_bytes(t, sizeof *t, 0, err)) return -1;
            sg_err e;
            if (r->rank != 0 && sg_cudnn_apply(t, ops, &e))
                return sg_errf(err, "rank %d: rank 0's cuDNN algorithms cannot run here: %s",
                               r->rank, e.msg);
        }
        r->cudnn_fresh = 1;
    }
    for (int i = 0; r->rank == 0 && i < t->n; i++) {
        const sg_cudnn_entry *e = &t->e[i];
        char algos[256];
        sg_cudnn_describe(e, algos, sizeof algos);
        sg_info("  N=%d C=%d %dx%d K=%d %dx%d/%d: %s", e->s.N, e->s.C, e->s.H, e->s.W, e->s.K,
                e->s.R, e->s.S, e->s.stride, algos);
    }
    return 0;
}

static int setup(run *r, const sg_train_opts *opts, sg_err *err) {
    const sg_config *c = r->cfg;
    const char *bname = sg_config_str(c, "trainer.backend");
    r->be = sg_backend_get(bname);
    if (!r->be)
        return sg_errf(err, "trainer.backend=%s: %s (this binary has: %s)", bname,
                       sg_backend_unavailable(bname), sg_backend_compiled());
    r->hbe = sg_backend_get("cpu");
    sg_cpu_set_threads((int)sg_config_int(c, "trainer.threads"));
    if (open_data(r, err)) return SG_TRAIN_BAD_INPUT;
    /* a linear evaluation that cannot run is refused now, not after the training */
    sg_lineval_config lc;
    if (sg_config_bool(c, "eval.probe") && protocol_of(c) != SG_PROBE_REFERENCE &&
        lineval_config_of(c, 0, &lc, err))
        return -1;
    r->epochs = (int)sg_config_int(c, "trainer.epochs");
    const sg_dist_world *w = sg_dist_get();
    r->rank = w->rank;
    r->ranks = w->size;
    const int want_ranks = (int)sg_config_int(c, "trainer.ranks");
    if (want_ranks != 0 && want_ranks != r->ranks)
        return sg_errf(err, "trainer.ranks=%d but this job runs as %d rank(s): start it with "
                            "`mpirun -np %d` (or srun -n %d), or set trainer.ranks=0",
                       want_ranks, r->ranks, want_ranks, want_ranks);
    const int Bg = (int)sg_config_int(c, "trainer.batch");
    if (Bg % r->ranks != 0 || Bg / r->ranks < 2)
        return sg_errf(err, "trainer.batch=%d (the global batch) does not split into %d equal "
                            "rank batches of at least 2 images", Bg, r->ranks);
    int B = Bg / r->ranks;
    /* trainer.accumulate = K: this rank's B images of a step go through the model as K
     * micro-batches of B/K (the loader delivers the rank's whole slice; micro-batch j is its
     * entries [j*B/K, (j+1)*B/K), so a step trains on the same images for any K) */
    const int K = (int)sg_config_int(c, "trainer.accumulate");
    if (B % K != 0 || B / K < 2) {
        if (r->ranks == 1)
            return sg_errf(err, "trainer.batch=%d does not split into trainer.accumulate=%d "
                                "equal micro-batches of at least 2 images", Bg, K);
        return sg_errf(err, "trainer.batch=%d (the global batch) over %d ranks is %d images per "
                            "rank, which do not split into trainer.accumulate=%d equal "
                            "micro-batches of at least 2 images", Bg, r->ranks, B, K);
    }
    int limit = (int)sg_config_int(c, "data.limit");
    if (r->ds->format == SG_DS_SYNTHETIC && (limit == 0 || limit > r->eval_train.count))
        limit = r->eval_train.count; /* never pre-train on the held-out fifth */
    if (sg_loader_open_shard(&r->loader, &r->pre, r->rec, Bg, r->rank * B, B,
                             (int)sg_config_int(c, "data.workers"),
                             (uint64_t)sg_config_int(c, "trainer.seed"), limit, r->hbe, err))
        return SG_TRAIN_BAD_INPUT;
    if (!strcmp(sg_config_str(c, "data.augment_on"), "backend")) {
        if (sg_config_int(c, "trainer.accumulate") > 1)
            return sg_errf(err, "data.augment_on=backend with trainer.accumulate=%ld: the views "
                                "are made where the step reads them, one micro-batch at a time; "
                                "use data.augment_on=workers",
                           (long)sg_config_int(c, "trainer.accumulate"));
        if (sg_loader_augment_on(r->loader, r->be, err)) return SG_TRAIN_BAD_INPUT;
        r->aug_on_backend = 1;
    }
    r->spe = sg_loader_steps_per_epoch(r->loader);
    r->config_hash = sg_train_config_hash(c);
    const char *name = sg_config_str(c, "run.name");
    if (strlen(name) >= sizeof r->run_id) {
        /* cut, two long names would share one folder and one results row */
        sg_errf(err, "run.name is %zu characters, more than the %zu a run name may have",
                strlen(name), sizeof r->run_id - 1);
        return SG_TRAIN_BAD_INPUT;
    }
    if (name[0])
        snprintf(r->run_id, sizeof r->run_id, "%s", name);
    else
        snprintf(r->run_id, sizeof r->run_id, "%s-%s-%s-%08llx-s%lld", r->ds->name,
                 sg_config_str(c, "method.name"), sg_config_str(c, "predictor.kind"),
                 (unsigned long long)(r->config_hash & 0xffffffffu), sg_config_int(c, "trainer.seed"));
    if (sg_path_printf(r->dir, sizeof r->dir, err, "%s/%s", sg_config_str(c, "run.dir"),
                       r->run_id))
        return SG_TRAIN_BAD_INPUT;
    /* dir is shorter than 4096: the file names fit their 4200 */
    snprintf(r->steps_path, sizeof r->steps_path, "%s/steps.csv", r->dir);
    snprintf(r->epochs_path, sizeof r->epochs_path, "%s/epochs.csv", r->dir);
    snprintf(r->ckpt_path, sizeof r->ckpt_path, "%s/checkpoint.bin", r->dir);
    sg_ssl_settings set;
    if (sg_train_settings(c, r->C, r->S, r->S, r->spe, &set, err)) return -1;
    /* process-wide, and before conv.algo=auto times im2col and Winograd, which run on it */
    SG_CHECK(sg_cpu_set_gemm_impl(set.gemm_impl) == 0, "gemm.impl=%s: checked available",
             sg_gemm_impl_names[set.gemm_impl]);
    /* before the model resolves its layers' algorithms: cuDNN runs fp32 and tf32 only */
    if (sg_backend_set_precision(r->be, set.precision) < 0)
        return sg_errf(err, "trainer.precision=%s: backend %s does not run it",
                       sg_precision_names[set.precision], r->be->name);
    set.batch = B / K; /* one micro-batch of this rank's slice of the global batch */
    set.ranks = r->ranks;
    r->total_steps = set.total_steps;
    const char *conv_algo = sg_config_str(c, "conv.algo");
    if (sg_cudnn_usable(r->be)) {
        /* before anything plans a cuDNN shape: the model's workspace is sized under it */
        sg_cudnn_set_deterministic(sg_config_bool(c, "conv.deterministic"));
        if ((!strcmp(conv_algo, "cudnn") || !strcmp(conv_algo, "auto")) &&
            set.precision != SG_PREC_BF16 && cudnn_resolve(r, &set, opts, err))
            return -1;
    } else if (!strcmp(conv_algo, "cudnn") && r->rank == 0) {
        sg_warn("conv.algo=cudnn: backend %s does not run cuDNN (%s): every conv layer runs the "
                "backend's default", r->be->name,
                strcmp(r->be->name, "cuda") ? "a CUDA backend's algorithm"
                                            : "this build or device has no usable cuDNN");
    }
    if (!strcmp(conv_algo, "auto")) {
        if (conv_auto_resolve(r, &set, opts, err)) return -1;
        set.trunk.conv_choices = r->conv_auto_shapes;
        set.trunk.n_conv_choices = r->conv_auto.n;
    }
    if (sg_ssl_build(&r->m, &set, r->be, err)) return -1;
    const int pend_cap = r->m.deferred ? r->m.log_steps : 1;
    r->pend = calloc((size_t)pend_cap, sizeof *r->pend);
    r->pend_loss = calloc((size_t)pend_cap, sizeof *r->pend_loss);
    if (!r->pend || !r->pend_loss) return sg_errf(err, "out of memory for %d step rows", pend_cap);
    sg_conv_auto_summary(&r->m.trunk, r->conv_algos, sizeof r->conv_algos);
    const size_t view_floats = (size_t)B * r->C * r->S * r->S;
    for (int v = 0; v < 2; v++) {
        r->xh[v] = r->be->host_alloc(r->be, view_floats * sizeof(float));
        if (!r->xh[v]) return sg_errf(err, "out of memory: host staging of a batch");
    }

    if (check_not_recorded(r, err)) return -1;

    /* with several ranks, rank 0 alone creates, cuts and writes the run folder's files; every
     * rank reads the checkpoint (the folder is shared, as on any cluster file system) */
    const int writer = r->rank == 0;
    if (writer && !opts->resume && file_exists(r->steps_path))
        return sg_errf(err, "run folder %s already holds a run: add --resume to continue it, or "
                            "set run.name for a new one", r->dir);
    if (writer && sg_mkdirs(r->dir, err)) return -1;
    if (writer && opts->resume) remove_partial_writes(r);
    /* only a checkpoint that is truly absent means "killed before the first one": anything else
     * in its place (a symlink loop, an unreadable path) is an error, never a silent restart */
    struct stat ck;
    const int have_ckpt = lstat(r->ckpt_path, &ck) == 0;
    if (opts->resume && !have_ckpt && errno != ENOENT)
        return sg_errf(err, "--resume: checkpoint %s cannot be examined: %s", r->ckpt_path,
                       strerror(errno));
    if (opts->resume && !have_ckpt && file_exists(r->steps_path)) {
        /* killed before its first checkpoint: nothing to keep, start over in the same folder */
        if (writer &&
            (truncate_rows(r->steps_path, 0, err) || truncate_rows(r->epochs_path, 0, err)))
            return -1;
        if (writer) sg_info("%s has no checkpoint yet: starting it again from step 0", r->run_id);
    } else if (opts->resume) {
        if (load_checkpoint(r, err)) return -1;
        if (writer && (truncate_rows(r->steps_path, r->m.step, err) ||
                       truncate_rows(r->epochs_path, r->epochs_done, err)))
            return -1;
        if (writer)
            sg_info("resuming %s at step %ld (epoch %ld)", r->run_id, r->m.step,
                    r->epochs_done + 1);
    }
    if (r->ranks > 1) {
        /* every rank must start from the same point of the same setting */
        if (sg_dist_check_same_u64(r->config_hash, "the setting hash", err) ||
            sg_dist_check_same_u64((uint64_t)r->m.step, "the step resumed from", err))
            return -1;
    }
    if (!writer) return 0;
    if (!opts->resume || !have_ckpt) {
        char cfgp[4300];
        snprintf(cfgp, sizeof cfgp, "%s/config.cfg", r->dir);
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) return sg_errf(err, "out of memory writing %s", cfgp);
        sg_config_write(c, mem);
        fprintf(mem, "# setting hash %016llx (every key but paths, names, threads, workers and "
                     "checkpoint interval)\n",
                (unsigned long long)r->config_hash);
        int bad = fclose(mem) != 0;
        bad = bad ? sg_errf(err, "out of memory writing %s", cfgp)
                  : sg_write_file_atomic(cfgp, text, len, err);
        free(text);
        if (bad) return -1;
        sg_machine mach;
        char mp[4300];
        snprintf(mp, sizeof mp, "%s/machine.csv", r->dir);
        if (sg_machine_probe_backend(&mach, r->be, sg_cpu_get_threads(), err) || sg_machine_write_csv(&mach, mp, err))
            return -1;
    }
    if (r->conv_auto_fresh) {
        char ap[4300];
        snprintf(ap, sizeof ap, "%s/conv-algo.csv", r->dir);
        if (sg_conv_auto_write_run(ap, &r->conv_auto, &r->conv_auto_key, err)) return -1;
    }
    if (r->cudnn_fresh) {
        char cp[4300];
        snprintf(cp, sizeof cp, "%s/cudnn-algo.csv", r->dir);
        if (sg_cudnn_write_run(cp, &r->cudnn, &r->cudnn_key, err)) return -1;
    }
    if (sg_csv_stream_open(&r->steps_csv, r->steps_path, NSTEP_COLS, step_cols, err) ||
        sg_csv_stream_open(&r->epochs_csv, r->epochs_path, NEPOCH_COLS, epoch_cols, err))
        return -1;
    return 0;
}

static void teardown(run *r) {
    sg_csv_stream_close(&r->steps_csv);
    sg_csv_stream_close(&r->epochs_csv);
    sg_loader_close(r->loader);
    for (int v = 0; v < 2; v++)
        if (r->xh[v]) r->be->host_free(r->be, r->xh[v]);
    sg_ssl_free(&r->m);
    sg_dataset_close(&r->pre);
    sg_dataset_close(&r->evtrain);
    sg_dataset_close(&r->evtest);
    free(r->pend);
    free(r->pend_loss);
}

/* The steps taken since the last flush, as steps.csv rows: their losses (read from the
 * backend in one go with deferred losses), each checked (a non-finite one stops the run,
 * naming its step), added to the epoch's sum and written (rank 0). */
static int flush_steps(run *r, int writer, int imgs, sg_err *err) {
    sg_ssl *m = &r->m;
    if (m->deferred) {
        int n = sg_ssl_losses(m, r->pend_loss, r->npend);
        SG_CHECK(n == r->npend, "%d losses read for %d steps", n, r->npend);
        for (int i = 0; i < n; i++) r->pend[i].loss = r->pend_loss[i];
    }
    int rc = 0;
    for (int i = 0; i < r->npend && rc == 0; i++) {
        const step_row *p = &r->pend[i];
        if (!isfinite(p->loss)) {
            rc = sg_errf(err, "loss is %s at step %ld (epoch %ld) of %s; stopped. The last good "
                              "checkpoint is %s%s", isnan(p->loss) ? "NaN" : "infinite", p->k,
                         p->epoch + 1, r->run_id, r->ckpt_path,
                         file_exists(r->ckpt_path) ? "" : " (none was written yet)");
            break;
        }
        r->epoch_loss_sum += p->loss;
        if (!writer) continue;
        sg_csv_row row;
        sg_csv_row_init(&row);
        sg_csv_row_int(&row, p->k);
        sg_csv_row_int(&row, p->epoch);
        sg_csv_row_double(&row, p->loss);
        sg_csv_row_double(&row, p->lr);
        sg_csv_row_double(&row, p->ema);
        sg_csv_row_double(&row, p->dt);
        sg_csv_row_double(&row, imgs / p->dt);
        sg_csv_row_double(&row, p->waited);
        rc = sg_csv_stream_write(&r->steps_csv, &row, err);
        sg_csv_row_free(&row);
    }
    r->npend = 0;
    return rc;
}

int sg_train_run(const sg_config *cfg, const sg_train_opts *opts, sg_train_summary *out,
                 sg_err *err) {
    run *r = calloc(1, sizeof *r);
    if (!r) return sg_errf(err, "out of memory");
    r->cfg = cfg;
    r->ev = eval_none();
    r->steps_csv.fd = r->epochs_csv.fd = -1; /* not open (teardown closes only what is) */
    memset(out, 0, sizeof *out);
    int rc = setup(r, opts, err);
    sg_ssl *m = &r->m;
    const long every = rc ? 0 : (long)sg_config_int(cfg, "trainer.checkpoint_every");
    const int eval_every = rc ? 0 : (int)sg_config_int(cfg, "eval.every");
    const double t_start = sg_now();
    double sum_step_s = 0, sum_wait_s = 0;
    long timed_steps = 0, ran = 0;
    sg_progress bar;
    /* a run with nothing to train (the untrained baselines, a finished run) shows no progress */
    const int show = !rc && opts->progress != SG_TRAIN_PROGRESS_NONE && m->step < r->total_steps &&
                     r->rank == 0;
    /* images per step: the global batch, K micro-batches of B on every rank */
    const int K = rc ? 1 : (m->set.accumulate > 1 ? m->set.accumulate : 1);
    const int writer = r->rank == 0, imgs = m->B * K * (r->ranks > 0 ? r->ranks : 1);
    if (show) {
        sg_progress_start(&bar, NULL, r->run_id, r->total_steps, "step");
        sg_progress_rate_in(&bar, imgs, "img");
        if (opts->progress == SG_TRAIN_PROGRESS_LINES) sg_progress_lines(&bar);
        sg_progress_skip(&bar, m->step); /* a resumed run: rate and ETA of what is left */
    }
    while (rc == 0 && m->step < r->total_steps) {
        if (opts->stop_after > 0 && ran >= opts->stop_after) break;
        const long k = m->step, epoch = k / r->spe;
        double waited = 0, t0 = sg_now();
        /* A backend on host memory with one micro-batch takes the views where the step reads
         * them: no staging copy (14 MB a step at STL-10's batch 64); so does every backend
         * whose views the loader makes on it (data.augment_on=backend) */
        const int direct = (m->be->host_memory || r->aug_on_backend) && K == 1;
        rc = sg_loader_get(r->loader, k, direct ? m->x[0] : r->xh[0],
                           direct ? m->x[1] : r->xh[1], &waited, err);
        if (rc) break;
        /* K micro-batches (one with K = 1), the optimiser step after the K-th */
        const size_t view_floats = (size_t)m->B * r->C * r->S * r->S;
        double loss = 0;
        for (int j = 0; j < K; j++) {
            if (!direct) {
                sg_ssl_put(m, m->x[0], r->xh[0] + (size_t)j * view_floats, view_floats);
                sg_ssl_put(m, m->x[1], r->xh[1] + (size_t)j * view_floats, view_floats);
            }
            loss = sg_ssl_step(m);
            if (!m->deferred && !isfinite(loss)) break;
        }
        if (m->graph_error[0]) {
            rc = sg_errf(err, "trainer.graph=true: %s; trainer.graph=false runs the step eagerly",
                         m->graph_error);
            break;
        }
        /* the step's: the mean of its micro-batches' (deferred: known at the next read) */
        if (!m->deferred && isfinite(loss)) loss = m->last_loss;
        double dt = sg_now() - t0;
        r->pend[r->npend++] = (step_row){k,  epoch, loss, sg_ssl_lr_at(&m->set, k),
                                         m->has_target ? sg_ssl_ema_at(&m->set, k) : 0.0,
                                         dt, waited};
        ran++;
        sum_step_s += dt;
        sum_wait_s += waited;
        timed_steps++;
        r->epoch_seconds += dt;
        r->epoch_wait += waited;
        r->epoch_timed_steps++;
        /* the rows go out once their losses are known: every step, or with deferred losses when
         * the log is full and before anything that reads them or must not outlive a diverged
         * step (the epoch's record, a checkpoint, the run's end) */
        const int record_next = m->step % r->spe == 0 || (every > 0 && m->step % every == 0) ||
                                m->step >= r->total_steps ||
                                (opts->stop_after > 0 && ran >= opts->stop_after);
        if (!m->deferred || sg_ssl_log_full(m) || record_next)
            rc = flush_steps(r, writer, imgs, err);
        if (rc) break;
        if (show) sg_progress_update(&bar, m->step);

        const int epoch_end = m->step % r->spe == 0;
        if (epoch_end) {
            int e = (int)(m->step / r->spe);
            int last = m->step >= r->total_steps;
            int evaluated = last || (eval_every > 0 && e % eval_every == 0);
            double img_s = r->epoch_seconds > 0 ? r->epoch_timed_steps * imgs / r->epoch_seconds : 0;
            double wf = r->epoch_seconds > 0 ? r->epoch_wait / r->epoch_seconds : 0;
            if (writer) rc = evaluate_and_record(r, e, evaluated, img_s, wf, err);
            if (!rc) rc = ranks_agree(r, err);
            r->epochs_done = e;
            r->epoch_loss_sum = 0;
            r->epoch_seconds = r->epoch_wait = 0;
            r->epoch_timed_steps = 0;
        }
        if (!rc && writer && (epoch_end || (every > 0 && m->step % every == 0)))
            rc = save_checkpoint(r, err);
    }
    if (!rc && show) sg_progress_finish(&bar);
    if (!rc) {
        snprintf(out->run_id, sizeof out->run_id, "%s", r->run_id);
        snprintf(out->run_dir, sizeof out->run_dir, "%s", r->dir);
        out->steps = m->step;
        /* a run that took no step (the untrained baseline) measured no loss nor speed */
        out->final_loss = m->step > 0 ? m->last_loss : NAN;
        out->collapse_std = r->collapse;
        out->eff_rank = r->eff_rank;
        out->ev = r->ev;
        out->img_per_s = sum_step_s > 0 ? timed_steps * imgs / sum_step_s : NAN;
        out->data_wait_frac = sum_step_s > 0 ? sum_wait_s / sum_step_s : NAN;
        out->wall_s = sg_now() - t_start;
        out->finished = m->step >= r->total_steps;
        if (!writer) {
            /* rank 0 evaluates and records the run */
        } else if (out->finished && ran == 0 && m->step > 0) {
            /* finished in an earlier process, whose result append failed: the row comes from
             * that process's measurements, or not at all */
            rc = recover_summary(r, out, err);
        } else if (out->finished && (m->step % r->spe != 0 || m->step == 0)) {
            /* trainer.max_steps ended mid-epoch, or trainer.epochs=0 (the untrained baseline):
             * evaluate and record where it stopped */
            int e = m->step == 0 ? 0 : (int)(m->step / r->spe) + 1;
            rc = evaluate_and_record(r, e, 1, out->img_per_s, out->data_wait_frac, err);
            if (!rc) rc = save_checkpoint(r, err);
            out->collapse_std = r->collapse;
            out->eff_rank = r->eff_rank;
            out->ev = r->ev;
        }
        if (!rc && writer && out->finished) rc = append_result(r, out, err);
        /* the other ranks wait (asleep) for rank 0's evaluation and records */
        if (!rc && r->ranks > 1) rc = sg_dist_barrier(err);
    }
    teardown(r);
    free(r);
    return rc;
}
