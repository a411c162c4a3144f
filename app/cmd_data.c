/* app/cmd_data.c: `stopgrad data`: inspect a dataset, or write a synthetic one in a real
 * dataset's exact on-disk format (to smoke-test a suite before downloading anything). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "core/base/file.h"
#include "core/data/datasets.h"

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

/* The formats `data fake` writes: the table's rows with a fake size, for messages. */
static const char *fake_formats(void) {
    static char names[256];
    if (!names[0])
        for (int i = 0, at = 0; i < sg_dataset_count(); i++)
            if (sg_dataset_at(i)->fake_size > 0)
                at += snprintf(names + at, sizeof names - (size_t)at, "%s%s", at ? ", " : "",
                               sg_dataset_at(i)->name);
    return names;
}

/* fake and info: 0, -1 when the work failed (a write), -2 for bad input (exit status 2). */
static int fake(const char *fmt, const char *dir, int n, unsigned long long seed, sg_err *err) {
    const sg_dataset_info *ds = sg_dataset_find(fmt);
    if (!ds || ds->fake_size <= 0) {
        sg_errf(err, "unknown format '%s' (expected %s)", fmt, fake_formats());
        return -2;
    }
    if (sg_dataset_write_fake(ds, dir, n, seed, err)) return -1;
    printf("wrote %d train and %d test images of %s format in %s\n", n, n, fmt, dir);
    return 0;
}

static int info(const char *fmt, const char *dir, sg_err *err) {
    const sg_dataset_info *ds = sg_dataset_find(fmt);
    if (!ds || ds->format == SG_DS_SYNTHETIC) {
        sg_errf(err, "unknown format '%s' (expected one of %s, except synthetic)", fmt,
                sg_dataset_names());
        return -2;
    }
    sg_dataset d;
    /* a dataset that is missing, unreadable or malformed is bad input */
    if (sg_dataset_open_split(ds, dir, SG_SPLIT_PRETRAIN, &d, err)) return -2;
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
