/* core/data/imagenet.c: an ImageNet-style folder (one sub-folder of JPEGs per class).
 *
 * Opening only lists the files: classes are the sub-folder names sorted bytewise, files sorted
 * within each class (torchvision's ImageFolder order), so labels and indices are the same on
 * every machine. Pixels are decoded per image by sg_dataset_image (jpeg.c). */
#define _DEFAULT_SOURCE /* opendir, strcasecmp, stat with -std=c11 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/data/internal.h"

static const char *const IMAGENET_HOWTO =
    "ImageNet (ILSVRC-2012) is obtained from https://image-net.org/ under its terms of access; "
    "unpack the training images into one folder per class (DIR/<wnid>/*.JPEG), or see "
    "REPRODUCE.md";

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static int strlist_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (!copy) return -1;
    memcpy(copy, s, len);
    l->v[l->n++] = copy;
    return 0;
}

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_jpeg_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && dot != name && (strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".jpg") == 0);
}

/* Appends to out the entries of folder path that are sub-folders (want_dirs) or JPEG names
 * (!want_dirs), sorted among themselves; hidden entries skipped. */
static int list_folder(const char *path, int want_dirs, strlist *out, sg_err *err) {
    const size_t start = out->n;
    DIR *dir = opendir(path);
    if (!dir) return sg_errf(err, "ImageNet: cannot open folder %s: %s", path, strerror(errno));
    struct dirent *e;
    char full[SG_DATASET_PATH_MAX];
    errno = 0;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int keep;
        if (want_dirs) {
            struct stat st;
            if (sgd_path_join(full, sizeof full, path, e->d_name, err)) {
                closedir(dir);
                return -1;
            }
            keep = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
        } else {
            keep = is_jpeg_name(e->d_name);
        }
        if (keep && strlist_push(out, e->d_name) != 0) {
            closedir(dir);
            return sg_errf(err, "out of memory listing %s", path);
        }
        errno = 0;
    }
    int e_read = errno;
    closedir(dir);
    if (e_read) return sg_errf(err, "ImageNet: cannot list %s: %s", path, strerror(e_read));
    if (out->n > start) qsort(out->v + start, out->n - start, sizeof *out->v, cmp_str);
    return 0;
}

int sg_dataset_open_imagenet(sg_dataset *d, const char *dir, sg_err *err) {
    memset(d, 0, sizeof *d);
    if (sgd_check_folder(dir, "ImageNet", IMAGENET_HOWTO, err)) return -1;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--; /* "x/" and "x" give the same file names */
    if (dl >= SG_DATASET_PATH_MAX) return sg_errf(err, "ImageNet: path too long: %s", dir);
    char root[SG_DATASET_PATH_MAX];
    memcpy(root, dir, dl);
    root[dl] = '\0';

    strlist classes = {0}, files = {0};
    size_t *class_end = NULL; /* files of class k are [class_end[k-1], class_end[k]) */
    char cdir[SG_DATASET_PATH_MAX];
    if (list_folder(root, 1, &classes, err)) goto fail;
    if (classes.n == 0) {
        sg_errf(err, "ImageNet: %s has no class folders (expected %s/<wnid>/*.JPEG, e.g. "
                "n01440764/n01440764_10026.JPEG); a flat folder of images, like the raw "
                "validation set, must first be sorted into one folder per class, see "
                "REPRODUCE.md", root, root);
        goto fail;
    }
    if (classes.n > INT_MAX) {
        sg_errf(err, "ImageNet: %s has too many class folders", root);
        goto fail;
    }
    class_end = malloc(classes.n * sizeof *class_end);
    if (!class_end) {
        sg_errf(err, "out of memory listing %s", root);
        goto fail;
    }
    for (size_t k = 0; k < classes.n; k++) {
        if (sgd_path_join(cdir, sizeof cdir, root, classes.v[k], err)) goto fail;
        size_t before = files.n;
        if (list_folder(cdir, 0, &files, err)) goto fail;
        if (files.n == before) {
            sg_errf(err, "ImageNet: class folder %s has no JPEG files (*.JPEG, *.jpeg, *.jpg); "
                    "an empty class would shift every later label, remove it or fill it", cdir);
            goto fail;
        }
        class_end[k] = files.n;
    }
    if (files.n > INT_MAX) {
        sg_errf(err, "ImageNet: %s has %zu images, more than this reader supports", root, files.n);
        goto fail;
    }

    /* Pools: full paths "root/class/file" and class names, each one allocation. */
    size_t fbytes = 0, cbytes = 0;
    for (size_t k = 0; k < classes.n; k++) cbytes += strlen(classes.v[k]) + 1;
    for (size_t k = 0, i = 0; k < classes.n; k++)
        for (; i < class_end[k]; i++)
            fbytes += dl + 1 + strlen(classes.v[k]) + 1 + strlen(files.v[i]) + 1;
    d->file_pool_ = malloc(fbytes);
    d->class_pool_ = malloc(cbytes);
    d->files = malloc(files.n * sizeof *d->files);
    d->class_names = malloc(classes.n * sizeof *d->class_names);
    d->labels = malloc(files.n * sizeof *d->labels);
    if (!d->file_pool_ || !d->class_pool_ || !d->files || !d->class_names || !d->labels) {
        sg_errf(err, "out of memory: the list of %zu ImageNet files", files.n);
        goto fail;
    }
    char *cp = d->class_pool_, *fp = d->file_pool_;
    for (size_t k = 0, i = 0; k < classes.n; k++) {
        size_t len = strlen(classes.v[k]) + 1;
        memcpy(cp, classes.v[k], len);
        d->class_names[k] = cp;
        cp += len;
        for (; i < class_end[k]; i++) {
            int w = sprintf(fp, "%s/%s/%s", root, classes.v[k], files.v[i]);
            d->files[i] = fp;
            d->labels[i] = (int32_t)k;
            fp += w + 1;
        }
    }
    d->kind = SG_DS_IMAGENET;
    d->n = (int)files.n;
    d->C = 3;
    d->H = d->W = 0;
    d->nclasses = (int)classes.n;
    d->min_side = SG_IMAGENET_MIN_SIDE;
    snprintf(d->path, sizeof d->path, "%s", root);
    strlist_free(&classes);
    strlist_free(&files);
    free(class_end);
    return 0;
fail:
    strlist_free(&classes);
    strlist_free(&files);
    free(class_end);
    sg_dataset_close(d);
    return -1;
}
