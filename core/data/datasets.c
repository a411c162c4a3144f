/* core/data/datasets.c: the dataset table (see datasets.h). */
#include "core/data/datasets.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* the reference code's CIFAR constants and torchvision's ImageNet ones */
static const float cifar_mean[3] = {0.4914f, 0.4822f, 0.4465f};
static const float cifar_std[3] = {0.2023f, 0.1994f, 0.2010f};
static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

// clang-format off
static const sg_dataset_info table[] = {
    /* name, format, channels, native, needs_dir, imagenet_stem, centre crop, eval on pretrain,
     * fake side, raw h x w, recipe, mean, std, files */
    {"stl10", SG_DS_STL10, 3, 96, 1, 1, 0, 0, 96, 96, 96, SG_RECIPE_STL10, NULL, NULL,
     "stl10_binary/: train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin"},
    {"cifar10", SG_DS_CIFAR10, 3, 32, 1, 0, 0, 1, 32, 32, 32, SG_RECIPE_CIFAR, cifar_mean,
     cifar_std, "cifar-10-batches-bin/: data_batch_1..5.bin, test_batch.bin"},
    {"cifar100", SG_DS_CIFAR100, 3, 32, 1, 0, 0, 1, 0, 32, 32, SG_RECIPE_CIFAR, cifar_mean,
     cifar_std, "cifar-100-binary/: train.bin, test.bin"},
    {"fashion_mnist", SG_DS_IDX, 1, 28, 0, 0, 0, 1, 28, 28, 28, SG_RECIPE_FASHION, NULL, NULL,
     "{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (default /usr/share/datasets/"
     "fashion-mnist)"},
    /* a typical ImageNet photo is 500 x 375 */
    {"imagenet", SG_DS_IMAGENET, 3, 224, 1, 1, 1, 1, 64, 375, 500, SG_RECIPE_IMAGENET,
     imagenet_mean, imagenet_std, "train/ and val/, one folder of JPEGs per class (wnid)"},
    {"synthetic", SG_DS_SYNTHETIC, 3, 0, 0, 0, 0, 1, 0, 0, 0, SG_RECIPE_CIFAR, NULL, NULL,
     "nothing: generated from data.synthetic_* (the last fifth held out for evaluation)"},
};
// clang-format on
enum { NTABLE = (int)(sizeof table / sizeof table[0]) };

int sg_dataset_count(void) { return NTABLE; }

const sg_dataset_info *sg_dataset_at(int i) {
    SG_CHECK(i >= 0 && i < NTABLE, "dataset %d of %d", i, NTABLE);
    return &table[i];
}

const sg_dataset_info *sg_dataset_find(const char *name) {
    for (int i = 0; name && i < NTABLE; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

const char *sg_dataset_names(void) {
    static char names[256];
    if (!names[0])
        for (int i = 0, at = 0; i < NTABLE; i++)
            at += snprintf(names + at, sizeof names - (size_t)at, "%s%s", i ? ", " : "",
                           table[i].name);
    return names;
}

int sg_dataset_open_split(const sg_dataset_info *ds, const char *dir, sg_split split,
                          sg_dataset *d, sg_err *err) {
    if (!dir) dir = "";
    if (ds->needs_dir && !dir[0])
        return sg_errf(err, "dataset %s needs its folder (%s)", ds->name, ds->files);
    const int train = split != SG_SPLIT_EVAL_TEST;
    char sub[SG_DATASET_PATH_MAX + 8];
    switch (ds->format) {
    case SG_DS_STL10:
        return sg_dataset_open_stl10(d, dir,
                                     split == SG_SPLIT_PRETRAIN     ? "train+unlabeled"
                                     : split == SG_SPLIT_EVAL_TRAIN ? "train"
                                                                    : "test",
                                     err);
    case SG_DS_CIFAR10: return sg_dataset_open_cifar10(d, dir, train, err);
    case SG_DS_CIFAR100: return sg_dataset_open_cifar100(d, dir, train, 1, err);
    case SG_DS_IDX: return sg_dataset_open_fashion_mnist(d, dir[0] ? dir : NULL, train, err);
    case SG_DS_IMAGENET:
        if (snprintf(sub, sizeof sub, "%s/%s", dir, train ? "train" : "val") >= (int)sizeof sub)
            return sg_errf(err, "dataset folder path too long: %s", dir);
        return sg_dataset_open_imagenet(d, sub, err);
    case SG_DS_SYNTHETIC: break;
    }
    return sg_errf(err, "dataset %s is generated, not opened from a folder", ds->name);
}

int sg_dataset_write_fake(const sg_dataset_info *ds, const char *dir, int n, uint64_t seed,
                          sg_err *err) {
    if (ds->fake_size <= 0) return sg_errf(err, "no writer for dataset %s", ds->name);
    const int size = ds->fake_size, C = ds->channels;
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
    if (ds->format == SG_DS_STL10) {
        rc = sg_write_stl10(dir, "train", n, train, ltrain, err);
        if (!rc) rc = sg_write_stl10(dir, "test", n, test, ltest, err);
        if (!rc) rc = sg_write_stl10(dir, "unlabeled", n, extra, NULL, err);
    } else if (ds->format == SG_DS_CIFAR10) {
        rc = sg_write_cifar10(dir, 1, n, train, ltrain, err);
        if (!rc) rc = sg_write_cifar10(dir, 0, n, test, ltest, err);
    } else if (ds->format == SG_DS_IDX) {
        snprintf(p1, sizeof p1, "%s/train-images-idx3-ubyte.gz", dir);
        snprintf(p2, sizeof p2, "%s/train-labels-idx1-ubyte.gz", dir);
        rc = sg_write_idx(p1, p2, n, size, size, train, ltrain, 1, err);
        snprintf(p1, sizeof p1, "%s/t10k-images-idx3-ubyte.gz", dir);
        snprintf(p2, sizeof p2, "%s/t10k-labels-idx1-ubyte.gz", dir);
        if (!rc) rc = sg_write_idx(p1, p2, n, size, size, test, ltest, 1, err);
    } else { /* ImageNet's folders of JPEGs */
        for (int i = 0; i < 2 * n && !rc; i++) {
            const char *split = i < n ? "train" : "val";
            snprintf(p1, sizeof p1, "%s/%s/n%08d/img_%06d.JPEG", dir, split, (int)d.labels[i], i);
            rc = sg_write_jpeg(p1, C, size, size, d.pixels + (size_t)i * img, 90, err);
        }
    }
    sg_dataset_close(&d);
    return rc;
}
