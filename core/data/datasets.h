/* core/data/datasets.h: the dataset table, one row per value of data.dataset.
 *
 * Everything that depends on which dataset a run uses reads its row: the training run (which
 * splits to open, the view size, the stem, the evaluation crop), the config's input shape, the
 * augmentation recipe, `stopgrad data fake|info` and the kernel suite's traced loader. Adding a
 * dataset is a row here, a reader in core/data/ if its format is new, and its recipe in
 * augment.c. */
#pragma once
#include <stdint.h>

#include "core/base/err.h"
#include "core/data/dataset.h"

/* The augmentation recipes of RECIPE.md (core/data/augment.c). */
typedef enum {
    SG_RECIPE_STL10,    /* SimCLR's with s = 1 and an always-on blur */
    SG_RECIPE_CIFAR,    /* the reference code's CIFAR recipe */
    SG_RECIPE_IMAGENET, /* BYOL's asymmetric views */
    SG_RECIPE_FASHION,  /* the CPU-scale mirror: grey replicated to RGB, milder crop */
} sg_recipe_kind;

/* The splits a run opens. */
typedef enum {
    SG_SPLIT_PRETRAIN,   /* the images pre-training draws from */
    SG_SPLIT_EVAL_TRAIN, /* the labelled images the probe and kNN fit on */
    SG_SPLIT_EVAL_TEST,  /* the labelled images they are scored on */
} sg_split;

typedef struct {
    const char *name;       /* the data.dataset value, "stl10" */
    sg_dataset_kind format; /* its on-disk format */
    int channels;           /* of the stored images */
    int native_size;        /* view side when data.image_size=0 (0: data.synthetic_size) */
    int needs_dir;          /* data.dir must be given (Fashion-MNIST has a Debian default) */
    int imagenet_stem;      /* model.stem=auto picks the ImageNet stem (7x7/2 + max-pool) */
    int eval_center_crop;   /* evaluation views are Resize(256) + CenterCrop(224)-style */
    int eval_on_pretrain;   /* the probe fits on the pre-training split (all of it labelled);
                               0: on SG_SPLIT_EVAL_TRAIN (STL-10's labelled train split) */
    int fake_size;          /* side of `stopgrad data fake` images; 0: no fake writer */
    int raw_h, raw_w;       /* a typical stored image (0: the view side), for tracing */
    sg_recipe_kind recipe;
    const float *mean, *std; /* per-channel normalisation after augmentation; NULL: none */
    const char *files;       /* what its folder holds, for help and errors */
} sg_dataset_info;

/* The row of data.dataset value `name`, or NULL. */
const sg_dataset_info *sg_dataset_find(const char *name);
/* Rows 0..sg_dataset_count()-1, in the table's order. */
int sg_dataset_count(void);
const sg_dataset_info *sg_dataset_at(int i);
/* "stl10, cifar10, ..." for messages. */
const char *sg_dataset_names(void);

/* Writes n synthetic images with learnable classes per split (train, test; STL-10 also n
 * unlabeled) in ds's exact on-disk files under dir: what `stopgrad data fake` does, for smoke
 * tests before any download. Only rows with a fake_size. */
int sg_dataset_write_fake(const sg_dataset_info *ds, const char *dir, int n, uint64_t seed,
                          sg_err *err);

/* Opens split of dataset ds from dir (NULL or "" for a dataset that needs none). Not for
 * synthetic data, which the run generates itself. 0, or -1 with err naming the file. */
int sg_dataset_open_split(const sg_dataset_info *ds, const char *dir, sg_split split,
                          sg_dataset *d, sg_err *err);
