/* app/cmd_data.c: `stopgrad data`: inspect a dataset, or write a synthetic one in a real
 * dataset's exact on-disk format (to smoke-test a suite before downloading anything). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "core/base/file.h"
#include "core/data/dataset.h"

static void data_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad data fake FORMAT DIR [--n N] [--seed S]\n"
            "       stopgrad data info FORMAT DIR\n\n"
            "fake: writes N synthetic images with learnable classes (per split) in FORMAT's exact\n"
            "      files: stl10 (train_X/y.bin, test_X/y.bin, unlabeled_X.bin; 96x96),\n"
            "      cifar10 (data_batch_1..5.bin, test_batch.bin; 32x32), fashion_mnist\n"
            "      ({train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; 28x28 grey),\n"
            "      imagenet (train/ and val/ folders of JPEGs, 10 classes; 64x64). Default N 1000.\n"
            "info: opens FORMAT from DIR with the training reader and prints what it found (or\n"
            "      the reader's error).\n\n"
            "exit status: 0 done; 1 a file could not be written; 2 bad usage or input (an\n"
            "unknown format, a dataset that is missing, unreadable, truncated or malformed).\n");
}

/* fake and info: 0, -1 when the work failed (a write), -2 for bad input (exit status 2). */
static int fake(const char *fmt, const char *dir, int n, unsigned long long seed, sg_err *err) {
    int size = !strcmp(fmt, "stl10") ? 96 : !strcmp(fmt, "cifar10") ? 32
             : !strcmp(fmt, "fashion_mnist") ? 28 : !strcmp(fmt, "imagenet") ? 64 : 0;
    if (!size) {
        sg_errf(err, "unknown format '%s' (expected stl10, cifar10, fashion_mnist or imagenet)",
                fmt);
        return -2;
    }
    int C = !strcmp(fmt, "fashion_mnist") ? 1 : 3;
    /* one generated set: the classes are the same patterns in every split */
    sg_dataset d;
    int total = 3 * n;
    if (sg_dataset_synthetic(&d, total, C, size, size, 10, seed, err)) return -1;
    const size_t img = (size_t)C * size * size;
    const uint8_t *train = d.pixels, *test = d.pixels + (size_t)n * img,
                  *extra = d.pixels + (size_t)2 * n * img;
    const int32_t *ltrain = d.labels, *ltest = d.labels + n;
    int rc = 0;
    char p1[4200], p2[4200];
    if (!strcmp(fmt, "stl10")) {
        rc = sg_write_stl10(dir, "train", n, train, ltrain, err);
        if (!rc) rc = sg_write_stl10(dir, "test", n, test, ltest, err);
        if (!rc) rc = sg_write_stl10(dir, "unlabeled", n, extra, NULL, err);
    } else if (!strcmp(fmt, "cifar10")) {
        rc = sg_write_cifar10(dir, 1, n, train, ltrain, err);
        if (!rc) rc = sg_write_cifar10(dir, 0, n, test, ltest, err);
    } else if (!strcmp(fmt, "fashion_mnist")) {
        rc = sg_path_printf(p1, sizeof p1, err, "%s/train-images-idx3-ubyte.gz", dir) ||
             sg_path_printf(p2, sizeof p2, err, "%s/train-labels-idx1-ubyte.gz", dir);
        if (!rc) rc = sg_write_idx(p1, p2, n, size, size, train, ltrain, 1, err);
        if (!rc)
            rc = sg_path_printf(p1, sizeof p1, err, "%s/t10k-images-idx3-ubyte.gz", dir) ||
                 sg_path_printf(p2, sizeof p2, err, "%s/t10k-labels-idx1-ubyte.gz", dir);
        if (!rc) rc = sg_write_idx(p1, p2, n, size, size, test, ltest, 1, err);
    } else {
        for (int i = 0; i < 2 * n && !rc; i++) {
            const char *split = i < n ? "train" : "val";
            rc = sg_path_printf(p1, sizeof p1, err, "%s/%s/n%08d/img_%06d.JPEG", dir, split,
                                (int)d.labels[i], i);
            if (!rc) rc = sg_write_jpeg(p1, C, size, size, d.pixels + (size_t)i * img, 90, err);
        }
    }
    sg_dataset_close(&d);
    if (!rc) printf("wrote %d train and %d test images of %s format in %s\n", n, n, fmt, dir);
    return rc;
}

static int info(const char *fmt, const char *dir, sg_err *err) {
    sg_dataset d;
    int rc;
    char sub[4200];
    if (!strcmp(fmt, "stl10")) rc = sg_dataset_open_stl10(&d, dir, "train+unlabeled", err);
    else if (!strcmp(fmt, "cifar10")) rc = sg_dataset_open_cifar10(&d, dir, 1, err);
    else if (!strcmp(fmt, "cifar100")) rc = sg_dataset_open_cifar100(&d, dir, 1, 1, err);
    else if (!strcmp(fmt, "fashion_mnist")) rc = sg_dataset_open_fashion_mnist(&d, dir, 1, err);
    else if (!strcmp(fmt, "imagenet")) {
        rc = sg_path_printf(sub, sizeof sub, err, "%s/train", dir);
        if (!rc) rc = sg_dataset_open_imagenet(&d, sub, err);
    } else
        rc = sg_errf(err, "unknown format '%s' (expected stl10, cifar10, cifar100, fashion_mnist "
                          "or imagenet)", fmt);
    /* a dataset that is missing, unreadable or malformed is bad input */
    if (rc) return -2;
    printf("%s: %d images, %d channels, %dx%d%s, %d classes, from %s\n", fmt, d.n, d.C, d.H, d.W,
           d.H ? "" : " (varies)", d.nclasses, d.path);
    sg_dataset_close(&d);
    return 0;
}

int sg_cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        data_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (argc < 4) {
        fprintf(stderr, "stopgrad data %s: expected FORMAT and DIR (see --help)\n", argv[1]);
        return 2;
    }
    int n = 1000;
    unsigned long long seed = 1;
    for (int i = 4; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--n") && i + 1 < argc) {
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 10 || v > 1000000) {
                fprintf(stderr, "stopgrad data: --n expects an integer in [10, 1000000], got '%s'\n",
                        argv[i]);
                return 2;
            }
            n = (int)v;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            seed = strtoull(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "stopgrad data: --seed expects an integer, got '%s'\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "stopgrad data: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    sg_err err;
    int rc;
    if (!strcmp(argv[1], "fake")) rc = fake(argv[2], argv[3], n, seed, &err);
    else if (!strcmp(argv[1], "info")) rc = info(argv[2], argv[3], &err);
    else {
        fprintf(stderr, "stopgrad data: unknown action '%s' (expected fake or info)\n", argv[1]);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "stopgrad data: %s\n", err.msg);
        return rc == -2 ? 2 : 1;
    }
    return 0;
}
