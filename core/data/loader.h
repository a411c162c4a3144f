/* core/data/loader.h: batches of two augmented views, prepared ahead of the step.
 *
 * Step k of a run is batch (k mod steps_per_epoch) of epoch k / steps_per_epoch. An epoch visits
 * the images in a permutation drawn from (seed, epoch); the last partial batch is dropped, so
 * every step has the same batch-norm batch. Sample i of a batch gets views keyed by
 * (seed; epoch, image index, view), so the data are a pure function of (seed, step): resuming at
 * step k needs nothing saved, and the thread count never changes a pixel.
 *
 * With workers > 0, worker threads augment batch k+1 while the caller trains on batch k;
 * sg_loader_get reports how long the caller had to wait (the data stall). */
#pragma once
#include "core/data/augment.h"
#include "core/data/dataset.h"

typedef struct sg_loader sg_loader;

/* rec[2]: the recipes of view 0 and view 1. limit > 0 uses only the first `limit` images. */
int sg_loader_open(sg_loader **L, const sg_dataset *d, const sg_aug_recipe rec[2], int batch,
                   int workers, uint64_t seed, int limit, const sg_backend *be, sg_err *err);
/* The same for one rank of a data-parallel job: the batch of step k is the same global_batch
 * images for any number of ranks (the permutation and the augmentation keys do not depend on
 * it), and this loader delivers entries [first, first + count) of it. sg_loader_open is the
 * shard [0, batch). */
int sg_loader_open_shard(sg_loader **L, const sg_dataset *d, const sg_aug_recipe rec[2],
                         int global_batch, int first, int count, int workers, uint64_t seed,
                         int limit, const sg_backend *be, sg_err *err);
long sg_loader_steps_per_epoch(const sg_loader *L);
/* Fills x[0], x[1] ([B, C, S, S]) with step `step`'s views and starts preparing step + 1.
 * *waited (may be NULL): seconds the caller blocked. Errors (a corrupt JPEG) name the file. */
int sg_loader_get(sg_loader *L, long step, float *x0, float *x1, double *waited, sg_err *err);
void sg_loader_close(sg_loader *L);

/* Augmentation on a device backend (data.augment_on=backend): from now on the workers only
 * fetch (decode) the images, sg_loader_get uploads the batch's uint8 images to dev and runs
 * sg_augment there with the same keys and recipes, so x0 and x1 must be dev's memory. The
 * views are the same ops on the same inputs as the workers' (bit-identical on a backend with
 * the CPU's kernels). Every image must have the size of image 0 (fixed-size datasets; an image
 * of another size is an error naming it). Call before the first sg_loader_get. */
int sg_loader_augment_on(sg_loader *L, const sg_backend *dev, sg_err *err);

/* The image indices of step `step` (this loader's batch entries), for tests and diagnostics. */
void sg_loader_indices(const sg_loader *L, long step, int *idx);

/* One image of a dataset and the augmentation scratch for it, both grown to fit each image as it
 * comes: ImageNet's sizes vary (up to SG_JPEG_MAX_PIXELS decoded). The loader's workers and the
 * evaluation's feature pass use it. {0} is an empty one; free with sg_image_buf_free. */
typedef struct {
    uint8_t *img;           /* [C, H, W] uint8 of the last image fetched */
    size_t img_cap;         /* bytes */
    sg_aug_scratch scratch; /* a always; b and c too when fetched with nscratch = 3 */
} sg_image_buf;

/* Image i of d into b->img, its shape into *C, *H, *W, with scratch for views of out_size:
 * nscratch 1 (a: sg_eval_view) or 3 (a, b, c: sg_augment). Errors (a corrupt JPEG, too many
 * pixels, out of memory) name the file or the image. */
int sg_image_buf_fetch(sg_image_buf *b, const sg_dataset *d, int i, int nscratch, int out_size,
                       int *C, int *H, int *W, sg_err *err);
void sg_image_buf_free(sg_image_buf *b);
