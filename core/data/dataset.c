/* core/data/dataset.c: what every dataset shares: closing and fetching one image. The readers
 * are in stl10.c, cifar.c, idx.c, imagenet.c and synthetic.c; the writers in writers.c and
 * jpeg.c. */
#include "core/data/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "core/data/internal.h"

const char *sg_dataset_kind_name(sg_dataset_kind kind) {
    switch (kind) {
    case SG_DS_STL10: return "stl10";
    case SG_DS_CIFAR10: return "cifar10";
    case SG_DS_CIFAR100: return "cifar100";
    case SG_DS_IDX: return "idx";
    case SG_DS_IMAGENET: return "imagenet";
    case SG_DS_SYNTHETIC: return "synthetic";
    }
    return "unknown";
}

void sg_dataset_close(sg_dataset *d) {
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    free(d->files);
    free(d->class_names);
    free(d->file_pool_);
    free(d->class_pool_);
    memset(d, 0, sizeof *d);
}

int sg_dataset_image_shape(const sg_dataset *d, int i, int *C, int *H, int *W, sg_err *err) {
    SG_CHECK(i >= 0 && i < d->n, "image %d of a dataset of %d", i, d->n);
    if (d->kind == SG_DS_IMAGENET)
        return sgd_jpeg_decode(d->files[i], d->min_side, NULL, 0, C, H, W, 1, err);
    if (C) *C = d->C;
    if (H) *H = d->H;
    if (W) *W = d->W;
    return 0;
}

int sg_dataset_image(const sg_dataset *d, int i, uint8_t *buf, size_t cap, int *C, int *H,
                     int *W, sg_err *err) {
    SG_CHECK(i >= 0 && i < d->n, "image %d of a dataset of %d", i, d->n);
    if (d->kind == SG_DS_IMAGENET)
        return sgd_jpeg_decode(d->files[i], d->min_side, buf, cap, C, H, W, 0, err);
    if (C) *C = d->C;
    if (H) *H = d->H;
    if (W) *W = d->W;
    size_t bytes = (size_t)d->C * (size_t)d->H * (size_t)d->W;
    if (cap < bytes)
        return sg_errf(err, "%s image %d is %dx%dx%d (%zu bytes) but the buffer holds %zu",
                       sg_dataset_kind_name(d->kind), i, d->C, d->H, d->W, bytes, cap);
    memcpy(buf, d->pixels + (size_t)i * bytes, bytes);
    return 0;
}
