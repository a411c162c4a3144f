/* core/data/augment.h: the augmentation recipes and one augmented view of one image.
 *
 * Every random choice of a view is drawn from the counter RNG stream (seed; epoch, sample,
 * view), in torchvision's order (crop, flip, jitter, grayscale, blur, solarise), so a view is a
 * pure function of that key: the same whatever the thread count or the order workers take
 * samples in. The pixel work is done by the backend's aug_* kernels (kernels/kernels.h). */
#pragma once
#include <stdint.h>

#include "core/base/err.h"
#include "core/base/rng.h"
#include "core/data/datasets.h"
#include "kernels/kernels.h"

typedef struct {
    int out_size;                       /* views are [C, S, S] */
    double scale_min, scale_max;        /* RandomResizedCrop area fraction */
    double ratio_min, ratio_max;        /* and aspect ratio */
    double flip_p;
    double jitter_p;                    /* colour jitter (3 channels only) */
    double brightness, contrast, saturation, hue;
    double gray_p;                      /* 3 channels only */
    double blur_p;
    int blur_ksize;
    double blur_sigma_min, blur_sigma_max;
    double solarize_p;
    int out_channels;                   /* 3: a grey image is replicated into RGB first, so the
                                           colour ops apply (brightness and contrast act, the
                                           others leave grey unchanged); 0: as the input */
    int normalize;                      /* per-channel (x - mean) / std after everything */
    float mean[3], std[3];
} sg_aug_recipe;

/* The recipe of RECIPE.md for a dataset of the dataset table (its recipe and normalisation) and
 * view (0 or 1; they differ only for ImageNet, where BYOL's views are asymmetric in blur and
 * solarisation). C is the image's channel count, out_size the view side. */
void sg_aug_recipe_make(const sg_dataset_info *ds, int view, int C, int out_size,
                        sg_aug_recipe *r);
/* The same by data.dataset name; -1 for a name the table does not have. */
int sg_aug_recipe_for(const char *dataset, int view, int C, int out_size, sg_aug_recipe *r);

/* Scratch of one worker: three float images of at most cap floats each. */
typedef struct {
    float *a, *b, *c;
    size_t cap;
} sg_aug_scratch;

/* Floats of scratch one image needs: max(C', 3) * max(H*W, S*S). */
size_t sg_aug_scratch_floats(int C, int H, int W, int out_size);

/* The random draws of one view (the key seed; epoch, sample, view) of an H x W image whose
 * channels after loading are C (sg_aug_out_channels), in torchvision's order, as the
 * backend's aug_views takes them: sg_augment applies exactly these. */
void sg_aug_draw_view(const sg_aug_recipe *r, int C, int H, int W, uint64_t seed,
                      uint32_t epoch, uint32_t sample, uint32_t view, sg_aug_view *v);
/* The channels of r's views of a C-channel image (3 for a grey image with out_channels 3). */
int sg_aug_out_channels(const sg_aug_recipe *r, int C);

/* One augmented view of img (uint8 [C, H, W]) into dst [C, S, S]: the single-image aug ops
 * with sg_aug_draw_view's draws (the backend's aug_views computes the same for a batch). */
void sg_augment(const sg_backend *be, const sg_aug_recipe *r, const uint8_t *img, int C, int H,
                int W, uint64_t seed, uint32_t epoch, uint32_t sample, uint32_t view, float *dst,
                sg_aug_scratch *s);

/* The un-augmented evaluation view (probe/kNN features): the whole image resized to S x S
 * (ImageNet: the centre crop of side 224/256 of the shorter side, as Resize(256) +
 * CenterCrop(224)), then the recipe's normalisation. */
void sg_eval_view(const sg_backend *be, const sg_aug_recipe *r, int center_crop, const uint8_t *img,
                  int C, int H, int W, float *dst, sg_aug_scratch *s);

/* The training views of the published linear evaluations (eval.protocol=byol|simsiam: BYOL's
 * and SimSiam's RandomResizedCrop + RandomHorizontalFlip): r with every colour, blur and
 * solarisation step off, crop area 0.08-1 and aspect 3/4-4/3 (torchvision's defaults), flip 0.5;
 * r's size, channels and normalisation kept. Their keys are (seed, probe epoch, image index,
 * SG_AUG_VIEW_LINEAR_EVAL), apart from the pre-training views 0 and 1. */
#define SG_AUG_VIEW_LINEAR_EVAL 2u
void sg_aug_recipe_linear_eval(const sg_aug_recipe *r, sg_aug_recipe *out);

/* torchvision's RandomResizedCrop.get_params: box = {top, left, height, width} in pixels. */
void sg_aug_draw_crop(sg_rng *r, const sg_aug_recipe *rec, int H, int W, int box[4]);
