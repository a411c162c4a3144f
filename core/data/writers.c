/* core/data/writers.c: STL-10, CIFAR-10/100 and idx files from CHW uint8 pixels, in exactly the
 * layouts the readers (and the original datasets) use. For tests and users' smoke tests on
 * generated data; each file goes to a temporary name and is renamed into place. */
#define _DEFAULT_SOURCE /* unlink with -std=c11 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base/file.h"
#include "core/data/internal.h"

static int check_labels(const char *what, const int32_t *labels, int n, int lo, int hi,
                        sg_err *err) {
    for (int i = 0; i < n; i++)
        if (labels[i] < lo || labels[i] > hi)
            return sg_errf(err, "%s: label %d of image %d outside %d..%d", what, labels[i], i, lo,
                           hi);
    return 0;
}

int sg_write_stl10(const char *dir, const char *split, int n, const uint8_t *pixels,
                   const int32_t *labels, sg_err *err) {
    enum { HW = 96, PLANE = HW * HW, IMAGE = 3 * PLANE };
    int unlabeled = strcmp(split, "unlabeled") == 0;
    if (!unlabeled && strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
        return sg_errf(err, "STL-10 writer: split '%s', expected train, test or unlabeled", split);
    if (n < 1) return sg_errf(err, "STL-10 writer: %d images", n);
    if (unlabeled != (labels == NULL))
        return sg_errf(err, "STL-10 writer: split %s %s labels", split,
                       unlabeled ? "takes no" : "needs");
    if (labels && check_labels("STL-10 writer", labels, n, 0, 9, err)) return -1;
    if (sg_mkdirs(dir, err)) return -1;

    char name[64], path[SG_DATASET_PATH_MAX];
    snprintf(name, sizeof name, "%s_X.bin", split);
    if (sgd_path_join(path, sizeof path, dir, name, err)) return -1;
    uint8_t *img = malloc(IMAGE);
    if (!img) return sg_errf(err, "out of memory writing %s", path);
    sg_atomic_file out;
    if (sg_atomic_open(&out, path, -1, err)) {
        free(img);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *src = pixels + (size_t)i * IMAGE;
        for (int c = 0; c < 3; c++) /* row-major CHW -> column-major within each channel */
            for (int x = 0; x < HW; x++)
                for (int y = 0; y < HW; y++)
                    img[c * PLANE + x * HW + y] = src[c * PLANE + y * HW + x];
        if (sg_atomic_write(&out, img, IMAGE, err)) {
            sg_atomic_abort(&out);
            free(img);
            return -1;
        }
    }
    free(img);
    if (sg_atomic_commit(&out, err)) return -1;
    if (unlabeled) return 0;

    snprintf(name, sizeof name, "%s_y.bin", split);
    if (sgd_path_join(path, sizeof path, dir, name, err)) return -1;
    uint8_t *y = malloc((size_t)n);
    if (!y) return sg_errf(err, "out of memory writing %s", path);
    for (int i = 0; i < n; i++) y[i] = (uint8_t)(labels[i] + 1);
    int rc = sg_atomic_open(&out, path, -1, err);
    if (rc == 0 && (rc = sg_atomic_write(&out, y, (size_t)n, err)) != 0) sg_atomic_abort(&out);
    if (rc == 0) rc = sg_atomic_commit(&out, err);
    free(y);
    return rc;
}

/* One CIFAR record file: for each image, its label bytes then its 3072 pixel bytes. */
static int write_cifar_file(const char *path, int n, const uint8_t *pixels,
                            const int32_t *const *label_sets, int nlabels, sg_err *err) {
    enum { IMAGE = 3072 };
    sg_atomic_file out;
    if (sg_atomic_open(&out, path, -1, err)) return -1;
    for (int i = 0; i < n; i++) {
        uint8_t lab[2];
        for (int k = 0; k < nlabels; k++) lab[k] = (uint8_t)label_sets[k][i];
        if (sg_atomic_write(&out, lab, (size_t)nlabels, err) ||
            sg_atomic_write(&out, pixels + (size_t)i * IMAGE, IMAGE, err)) {
            sg_atomic_abort(&out);
            return -1;
        }
    }
    return sg_atomic_commit(&out, err);
}

int sg_write_cifar10(const char *dir, int train, int n, const uint8_t *pixels,
                     const int32_t *labels, sg_err *err) {
    if (n < (train ? 5 : 1))
        return sg_errf(err, "CIFAR-10 writer: %d images, the %s split needs at least %d", n,
                       train ? "train" : "test", train ? 5 : 1);
    if (check_labels("CIFAR-10 writer", labels, n, 0, 9, err)) return -1;
    if (sg_mkdirs(dir, err)) return -1;
    char path[SG_DATASET_PATH_MAX];
    if (!train) {
        if (sgd_path_join(path, sizeof path, dir, "test_batch.bin", err)) return -1;
        return write_cifar_file(path, n, pixels, &labels, 1, err);
    }
    /* Five batches in order, the first n % 5 one image larger. */
    int at = 0;
    for (int b = 0; b < 5; b++) {
        int m = n / 5 + (b < n % 5);
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        if (sgd_path_join(path, sizeof path, dir, name, err)) return -1;
        const int32_t *lab = labels + at;
        if (write_cifar_file(path, m, pixels + (size_t)at * 3072, &lab, 1, err)) return -1;
        at += m;
    }
    return 0;
}

int sg_write_cifar100(const char *dir, int train, int n, const uint8_t *pixels,
                      const int32_t *coarse, const int32_t *fine, sg_err *err) {
    if (n < 1) return sg_errf(err, "CIFAR-100 writer: %d images", n);
    if (check_labels("CIFAR-100 writer (coarse)", coarse, n, 0, 19, err) ||
        check_labels("CIFAR-100 writer (fine)", fine, n, 0, 99, err))
        return -1;
    if (sg_mkdirs(dir, err)) return -1;
    char path[SG_DATASET_PATH_MAX];
    if (sgd_path_join(path, sizeof path, dir, train ? "train.bin" : "test.bin", err)) return -1;
    const int32_t *sets[2] = {coarse, fine};
    return write_cifar_file(path, n, pixels, sets, 2, err);
}

/* One idx file: magic, dims, data; gzip'd or plain. */
static int write_idx_file(const char *path, uint32_t magic, int ndims, const uint32_t *dims,
                          const uint8_t *data, size_t bytes, int gzip, sg_err *err) {
    unsigned char head[16];
    size_t hl = 0;
    uint32_t words[4] = {magic, 0, 0, 0};
    for (int k = 0; k < ndims; k++) words[k + 1] = dims[k];
    for (int k = 0; k <= ndims; k++) {
        head[hl++] = (unsigned char)(words[k] >> 24);
        head[hl++] = (unsigned char)(words[k] >> 16);
        head[hl++] = (unsigned char)(words[k] >> 8);
        head[hl++] = (unsigned char)words[k];
    }
    if (!gzip) {
        sg_atomic_file out;
        if (sg_atomic_open(&out, path, -1, err)) return -1;
        if (sg_atomic_write(&out, head, hl, err) || sg_atomic_write(&out, data, bytes, err)) {
            sg_atomic_abort(&out);
            return -1;
        }
        return sg_atomic_commit(&out, err);
    }
    sg_atomic_file out;
    if (sg_atomic_open(&out, path, -1, err)) return -1;
    gzFile f = gzdopen(sg_atomic_release_fd(&out), "wb6"); /* gzclose closes the descriptor */
    if (!f) {
        sg_atomic_abort(&out);
        return sg_errf(err, "cannot start a gzip stream for %s: out of memory", path);
    }
    int ok = gzwrite(f, head, (unsigned)hl) == (int)hl;
    const size_t chunk = (size_t)1 << 30;
    for (size_t at = 0; ok && at < bytes; at += chunk) {
        unsigned m = (unsigned)(bytes - at < chunk ? bytes - at : chunk);
        ok = gzwrite(f, data + at, m) == (int)m;
    }
    int errnum = Z_OK;
    const char *why = ok ? "" : gzerror(f, &errnum);
    char whybuf[256];
    snprintf(whybuf, sizeof whybuf, "%s", errnum == Z_ERRNO ? strerror(errno) : why);
    if (gzclose(f) != Z_OK && ok) {
        ok = 0;
        snprintf(whybuf, sizeof whybuf, "closing the gzip stream failed");
    }
    if (!ok) {
        sg_atomic_abort(&out);
        return sg_errf(err, "cannot write %s: %s", path, whybuf);
    }
    return sg_atomic_commit(&out, err);
}

int sg_write_idx(const char *images_path, const char *labels_path, int n, int H, int W,
                 const uint8_t *pixels, const int32_t *labels, int gzip, sg_err *err) {
    if (n < 1 || H < 1 || W < 1)
        return sg_errf(err, "idx writer: %d images of %dx%d", n, H, W);
    if (check_labels("idx writer", labels, n, 0, 255, err)) return -1;
    if (sg_mkdirs_for(images_path, err) || sg_mkdirs_for(labels_path, err)) return -1;
    uint8_t *lab = malloc((size_t)n);
    if (!lab) return sg_errf(err, "out of memory writing %s", labels_path);
    for (int i = 0; i < n; i++) lab[i] = (uint8_t)labels[i];
    uint32_t idims[3] = {(uint32_t)n, (uint32_t)H, (uint32_t)W}, ldims[1] = {(uint32_t)n};
    int rc = write_idx_file(images_path, 0x00000803u, 3, idims, pixels,
                            (size_t)n * (size_t)H * (size_t)W, gzip, err);
    if (rc == 0) rc = write_idx_file(labels_path, 0x00000801u, 1, ldims, lab, (size_t)n, gzip, err);
    free(lab);
    return rc;
}
