/* core/data/stl10.c: the STL-10 binary reader.
 *
 * X files hold 3x96x96 uint8 per image, channel by channel, and within a channel COLUMN-major
 * (the MATLAB layout the dataset was made in): byte c*9216 + x*96 + y is pixel (c, y, x). We
 * transpose to row-major CHW while reading, a chunk of images at a time, so the 2.8 GB unlabeled
 * split needs no second full-size buffer. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/data/internal.h"

#define STL_C 3
#define STL_HW 96
#define STL_PLANE (STL_HW * STL_HW)
#define STL_IMAGE (STL_C * STL_PLANE) /* 27648 bytes */
#define STL_CHUNK 256                 /* images per read */

static const char *const STL_HOWTO =
    "download stl10_binary.tar.gz from the STL-10 page (https://cs.stanford.edu/~acoates/stl10/) "
    "and unpack it (the folder stl10_binary), or see REPRODUCE.md";

typedef struct {
    const char *name; /* "train", "test", "unlabeled" */
    int labeled;
    char x_path[SG_DATASET_PATH_MAX], y_path[SG_DATASET_PATH_MAX];
    FILE *xf, *yf; /* open from stl_open_part until stl_close_part */
    int n;
} stl_part;

static void stl_close_part(stl_part *p) {
    if (p->xf) fclose(p->xf);
    if (p->yf) fclose(p->yf);
    p->xf = p->yf = NULL;
}

/* Opens one part's files and sets part->n from the X file's size. */
static int stl_open_part(stl_part *p, const char *dir, sg_err *err) {
    char name[64];
    snprintf(name, sizeof name, "%s_X.bin", p->name);
    if (sgd_path_join(p->x_path, sizeof p->x_path, dir, name, err)) return -1;
    int64_t xsize, ysize;
    if (!(p->xf = sgd_fopen(p->x_path, "STL-10", STL_HOWTO, &xsize, err))) return -1;
    if (xsize == 0 || xsize % STL_IMAGE != 0)
        return sg_errf(err, "STL-10: %s is %lld bytes, not a positive multiple of %d (one 3x96x96 "
                       "image); the file is truncated or not STL-10 (%lld whole images + %lld "
                       "bytes)", p->x_path, (long long)xsize, STL_IMAGE,
                       (long long)(xsize / STL_IMAGE), (long long)(xsize % STL_IMAGE));
    if (xsize / STL_IMAGE > INT_MAX)
        return sg_errf(err, "STL-10: %s holds %lld images, more than this reader supports",
                       p->x_path, (long long)(xsize / STL_IMAGE));
    p->n = (int)(xsize / STL_IMAGE);
    if (!p->labeled) return 0;
    snprintf(name, sizeof name, "%s_y.bin", p->name);
    if (sgd_path_join(p->y_path, sizeof p->y_path, dir, name, err)) return -1;
    if (!(p->yf = sgd_fopen(p->y_path, "STL-10", STL_HOWTO, &ysize, err))) return -1;
    if (ysize != p->n)
        return sg_errf(err, "STL-10: %s has %lld labels but %s has %d images (one label byte "
                       "per image expected)", p->y_path, (long long)ysize, p->x_path, p->n);
    return 0;
}

/* Reads part p into pixels[n, 3, 96, 96] and labels[n], transposing each channel. */
static int stl_read_part(const stl_part *p, uint8_t *pixels, int32_t *labels, uint8_t *stage,
                         sg_err *err) {
    FILE *f = p->xf;
    for (int i0 = 0; i0 < p->n; i0 += STL_CHUNK) {
        int m = p->n - i0 < STL_CHUNK ? p->n - i0 : STL_CHUNK;
        if (sgd_read_exact(f, stage, (size_t)m * STL_IMAGE, p->x_path, err)) return -1;
        for (int k = 0; k < m; k++) {
            const uint8_t *src = stage + (size_t)k * STL_IMAGE;
            uint8_t *dst = pixels + (size_t)(i0 + k) * STL_IMAGE;
            for (int c = 0; c < STL_C; c++) {
                const uint8_t *s = src + c * STL_PLANE; /* s[x*96 + y] */
                uint8_t *t = dst + c * STL_PLANE;       /* t[y*96 + x] */
                for (int x = 0; x < STL_HW; x++)
                    for (int y = 0; y < STL_HW; y++) t[y * STL_HW + x] = s[x * STL_HW + y];
            }
        }
    }
    if (!p->labeled) {
        for (int i = 0; i < p->n; i++) labels[i] = -1;
        return 0;
    }
    f = p->yf;
    for (int i0 = 0; i0 < p->n; i0 += STL_CHUNK * 64) {
        int m = p->n - i0 < STL_CHUNK * 64 ? p->n - i0 : STL_CHUNK * 64;
        if (sgd_read_exact(f, stage, (size_t)m, p->y_path, err)) return -1;
        for (int k = 0; k < m; k++) {
            if (stage[k] < 1 || stage[k] > 10) {
                return sg_errf(err, "STL-10: label %d out of range 1..10 at index %d of %s",
                               stage[k], i0 + k, p->y_path);
            }
            labels[i0 + k] = (int32_t)stage[k] - 1;
        }
    }
    return 0;
}

/* Reads the opened parts into d. */
static int stl_read(sg_dataset *d, const stl_part *parts, int nparts, long long n,
                    const char *dir, const char *split, sg_err *err) {
    char what[96];
    snprintf(what, sizeof what, "STL-10 %s (%lld images of 3x96x96)", split, n);
    uint8_t *pixels = sgd_big_alloc((size_t)n * STL_IMAGE, what, err);
    if (!pixels) return -1;
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    uint8_t *stage = malloc((size_t)STL_CHUNK * STL_IMAGE);
    if (!labels || !stage) {
        free(pixels);
        free(labels);
        free(stage);
        return sg_errf(err, "out of memory: %s (labels and read buffer)", what);
    }
    int rc = 0;
    size_t at = 0;
    for (int p = 0; p < nparts && rc == 0; p++) {
        rc = stl_read_part(&parts[p], pixels + at * STL_IMAGE, labels + at, stage, err);
        at += (size_t)parts[p].n;
    }
    free(stage);
    if (rc) {
        free(pixels);
        free(labels);
        return -1;
    }
    d->kind = SG_DS_STL10;
    d->n = (int)n;
    d->C = STL_C;
    d->H = d->W = STL_HW;
    d->nclasses = 10;
    d->pixels = pixels;
    d->labels = labels;
    snprintf(d->path, sizeof d->path, "%s", dir);
    snprintf(d->split, sizeof d->split, "%s", split);
    return 0;
}

int sg_dataset_open_stl10(sg_dataset *d, const char *dir, const char *split, sg_err *err) {
    memset(d, 0, sizeof *d);
    stl_part parts[2];
    memset(parts, 0, sizeof parts);
    int nparts;
    if (strcmp(split, "train") == 0 || strcmp(split, "test") == 0) {
        parts[0].name = strcmp(split, "train") == 0 ? "train" : "test";
        parts[0].labeled = 1;
        nparts = 1;
    } else if (strcmp(split, "unlabeled") == 0) {
        parts[0].name = "unlabeled";
        nparts = 1;
    } else if (strcmp(split, "train+unlabeled") == 0) {
        parts[0].name = "train";
        parts[0].labeled = 1;
        parts[1].name = "unlabeled";
        nparts = 2;
    } else {
        return sg_errf(err, "STL-10: unknown split '%s' (expected train, test, unlabeled or "
                       "train+unlabeled)", split);
    }
    long long n = 0;
    int rc = 0;
    for (int p = 0; p < nparts && rc == 0; p++) {
        rc = stl_open_part(&parts[p], dir, err);
        n += parts[p].n;
    }
    if (rc == 0 && n > INT_MAX)
        rc = sg_errf(err, "STL-10: %s split has %lld images, too many", split, n);
    if (rc == 0) rc = stl_read(d, parts, nparts, n, dir, split, err);
    for (int p = 0; p < nparts; p++) stl_close_part(&parts[p]);
    return rc;
}
