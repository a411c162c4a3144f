/* core/data/cifar.c: the CIFAR-10 and CIFAR-100 binary readers.
 *
 * Both are files of fixed-size records: label byte(s), then 3072 pixel bytes that are already
 * CHW (R, G, B planes, 32x32 row-major), so pixels are copied as they are. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/data/internal.h"

#define CIFAR_IMAGE 3072 /* 3x32x32 */
#define CIFAR_CHUNK 1024 /* records per read */

static const char *const CIFAR10_HOWTO =
    "download cifar-10-binary.tar.gz (the binary version) from "
    "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it (the folder cifar-10-batches-bin), "
    "or see REPRODUCE.md";
static const char *const CIFAR100_HOWTO =
    "download cifar-100-binary.tar.gz (the binary version) from "
    "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it (the folder cifar-100-binary), "
    "or see REPRODUCE.md";

typedef struct {
    const char *what;  /* "CIFAR-10" / "CIFAR-100" */
    const char *howto;
    int label_bytes;   /* 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine) */
    int label_max[2];  /* largest valid value of each label byte */
    int use;           /* which label byte becomes the label */
} cifar_format;

static int cifar_read(sg_dataset *d, sg_dataset_kind kind, const cifar_format *fmt,
                      const char *dir, const char *const *names, int nfiles, int nclasses,
                      sg_err *err) {
    memset(d, 0, sizeof *d);
    const int rec = fmt->label_bytes + CIFAR_IMAGE;
    char paths[5][SG_DATASET_PATH_MAX];
    FILE *fps[5] = {NULL, NULL, NULL, NULL, NULL};
    int counts[5];
    long long n = 0;
    uint8_t *pixels = NULL, *stage = NULL;
    int32_t *labels = NULL;
    for (int f = 0; f < nfiles; f++) {
        int64_t size;
        if (sgd_path_join(paths[f], sizeof paths[f], dir, names[f], err) ||
            !(fps[f] = sgd_fopen(paths[f], fmt->what, fmt->howto, &size, err)))
            goto fail;
        if (size == 0 || size % rec != 0) {
            sg_errf(err, "%s: %s is %lld bytes, not a positive multiple of the %d-byte "
                    "record (%d label byte%s + 3x32x32 pixels); the file is truncated or "
                    "not %s binary (%lld whole records + %lld bytes)", fmt->what, paths[f],
                    (long long)size, rec, fmt->label_bytes, fmt->label_bytes > 1 ? "s" : "",
                    fmt->what, (long long)(size / rec), (long long)(size % rec));
            goto fail;
        }
        if (n + size / rec > INT_MAX) {
            sg_errf(err, "%s: too many records in %s", fmt->what, paths[f]);
            goto fail;
        }
        counts[f] = (int)(size / rec);
        n += counts[f];
    }

    char what[96];
    snprintf(what, sizeof what, "%s (%lld images of 3x32x32)", fmt->what, n);
    pixels = sgd_big_alloc((size_t)n * CIFAR_IMAGE, what, err);
    if (!pixels) goto fail;
    labels = malloc((size_t)n * sizeof *labels);
    stage = malloc((size_t)CIFAR_CHUNK * rec);
    if (!labels || !stage) {
        sg_errf(err, "out of memory: %s (labels and read buffer)", what);
        goto fail;
    }

    size_t at = 0;
    for (int f = 0; f < nfiles; f++) {
        FILE *fp = fps[f];
        for (int r0 = 0; r0 < counts[f]; r0 += CIFAR_CHUNK) {
            int m = counts[f] - r0 < CIFAR_CHUNK ? counts[f] - r0 : CIFAR_CHUNK;
            if (sgd_read_exact(fp, stage, (size_t)m * rec, paths[f], err)) goto fail;
            for (int k = 0; k < m; k++) {
                const uint8_t *r = stage + (size_t)k * rec;
                for (int b = 0; b < fmt->label_bytes; b++) {
                    if (r[b] > fmt->label_max[b]) {
                        sg_errf(err, "%s: %slabel %d out of range 0..%d in record %d of %s",
                                fmt->what,
                                fmt->label_bytes == 1 ? "" : (b == 0 ? "coarse " : "fine "),
                                r[b], fmt->label_max[b], r0 + k, paths[f]);
                        goto fail;
                    }
                }
                labels[at] = r[fmt->use];
                memcpy(pixels + at * CIFAR_IMAGE, r + fmt->label_bytes, CIFAR_IMAGE);
                at++;
            }
        }
    }
    for (int f = 0; f < nfiles; f++) fclose(fps[f]);
    free(stage);
    d->kind = kind;
    d->n = (int)n;
    d->C = 3;
    d->H = d->W = 32;
    d->nclasses = nclasses;
    d->pixels = pixels;
    d->labels = labels;
    snprintf(d->path, sizeof d->path, "%s", dir);
    return 0;
fail:
    for (int f = 0; f < nfiles; f++)
        if (fps[f]) fclose(fps[f]);
    free(stage);
    free(pixels);
    free(labels);
    return -1;
}

int sg_dataset_open_cifar10(sg_dataset *d, const char *dir, int train, sg_err *err) {
    static const char *const train_files[5] = {"data_batch_1.bin", "data_batch_2.bin",
                                               "data_batch_3.bin", "data_batch_4.bin",
                                               "data_batch_5.bin"};
    static const char *const test_files[1] = {"test_batch.bin"};
    cifar_format fmt = {"CIFAR-10", CIFAR10_HOWTO, 1, {9, 0}, 0};
    int rc = cifar_read(d, SG_DS_CIFAR10, &fmt, dir, train ? train_files : test_files,
                        train ? 5 : 1, 10, err);
    if (rc == 0) snprintf(d->split, sizeof d->split, "%s", train ? "train" : "test");
    return rc;
}

int sg_dataset_open_cifar100(sg_dataset *d, const char *dir, int train, int fine, sg_err *err) {
    const char *name = train ? "train.bin" : "test.bin";
    cifar_format fmt = {"CIFAR-100", CIFAR100_HOWTO, 2, {19, 99}, fine ? 1 : 0};
    int rc = cifar_read(d, SG_DS_CIFAR100, &fmt, dir, &name, 1, fine ? 100 : 20, err);
    if (rc == 0) snprintf(d->split, sizeof d->split, "%s", train ? "train" : "test");
    return rc;
}
