/* core/ssl/train_config.h: every key of `stopgrad train`, and the reference code's Hydra keys.
 *
 * The schema is the single list of training settings (types, defaults, ranges, help); the
 * translation table maps the paper's code's keys onto it, so a command line from
 * luckmatters/ssl/real-dataset can be pasted:
 *   trainer.predictor_reg=corr trainer.predictor_freq=1 trainer.dyn_lambda=0.3 trainer.dyn_eps=0.1
 *   trainer.balance_type=boost_scale   ->   predictor.kind=directpred predictor.freq=1
 *   predictor.rho=0.3 predictor.eps=0.1 predictor.eigmap=code */
#pragma once
#include "core/base/config.h"
#include "core/ssl/ssl.h"

const sg_cfg_spec *sg_train_schema(int *n);
sg_config *sg_train_config_new(void);

/* The hash that identifies a training setting (results rows, checkpoints, derived run names):
 * every key but the paths, names, thread and worker counts and checkpoint interval. */
uint64_t sg_train_config_hash(const sg_config *c);
/* 1 when key is part of that hash. */
int sg_train_config_key_hashed(const char *key);

/* A command-line override "key=value": our keys directly, the reference code's keys through the
 * translation table. Errors name the key (and the reference key it came from). */
int sg_train_config_set_arg(sg_config *c, const char *arg, sg_err *err);

/* Fills the model/method settings from a resolved config; cross-key checks (e.g. DirectPred with
 * a bias) are errors naming both keys. image size and channels come from the dataset. */
int sg_train_settings(const sg_config *c, int in_channels, int H, int W, long steps_per_epoch,
                      sg_ssl_settings *set, sg_err *err);

/* The model input a config trains on, without opening the data: channels after the dataset's
 * recipe (Fashion-MNIST's single channel becomes 3) and the view side (data.image_size or the
 * dataset's native size; data.synthetic_size for synthetic data). */
int sg_train_input_shape(const sg_config *c, int *channels, int *size, sg_err *err);
/* The Hydra translation table, for --help and tests. */
typedef struct {
    const char *ref_key;   /* e.g. "trainer.dyn_lambda" */
    const char *ref_value; /* NULL: any value, passed through */
    const char *key;       /* our key */
    const char *value;     /* NULL: the reference value as is */
} sg_hydra_rule;
const sg_hydra_rule *sg_hydra_rules(int *n);
