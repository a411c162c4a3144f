/* tests/fuzz/checkpoint_model.h: the tiny training setting whose checkpoints the checkpoint fuzz
 * target reads, shared with the seed generator that trains it for one step to write a valid one
 * (a checkpoint is only accepted by a model of its exact setting). */
#pragma once
#include "core/ssl/train_config.h"

static const char *const FZ_CKPT_SETTING[] = {
    "data.dataset=synthetic",    "data.synthetic_n=16", "data.synthetic_size=8",
    "data.synthetic_classes=2",  "data.workers=0",      "model.width=0.01",
    "model.proj_hidden=4",       "model.proj_out=2",    "model.pred_hidden=4",
    "trainer.batch=4",           "trainer.max_steps=1", "trainer.threads=1",
    "predictor.kind=directpred", "eval.probe=false",    "eval.knn=false"};
#define FZ_CKPT_NSETTING ((int)(sizeof FZ_CKPT_SETTING / sizeof FZ_CKPT_SETTING[0]))
/* its run length (trainer.max_steps=1): a checkpoint's step lies in [1, this] */
#define FZ_CKPT_TOTAL_STEPS 1

/* The setting as a config; NULL when a key is refused (a schema change: fix the list). */
static inline sg_config *fz_ckpt_config(void) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    for (int i = 0; i < FZ_CKPT_NSETTING; i++)
        if (sg_train_config_set_arg(c, FZ_CKPT_SETTING[i], &err)) {
            fprintf(stderr, "checkpoint setting: %s\n", err.msg);
            sg_config_free(c);
            return NULL;
        }
    return c;
}
