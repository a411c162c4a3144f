/* core/data/idx.c: the idx reader (MNIST, Fashion-MNIST).
 *
 * An idx file is a big-endian header, magic 0x0000TTDD (TT = 0x08: uint8 data, DD = number of
 * dimensions), DD uint32 sizes, then the data. zlib's gzread reads gzip'd and plain files alike,
 * so the .gz files MNIST ships and their unpacked versions both work. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base/file.h"
#include "core/data/internal.h"

#define IDX_IMAGES_MAGIC 0x00000803u /* uint8, 3 dims: n, rows, cols */
#define IDX_LABELS_MAGIC 0x00000801u /* uint8, 1 dim: n */

static const char *const IDX_HOWTO =
    "for Fashion-MNIST install Debian's dataset-fashion-mnist (apt-get install "
    "dataset-fashion-mnist) or download the four .gz files from "
    "https://github.com/zalandoresearch/fashion-mnist, or see REPRODUCE.md";

/* zlib's complaint after a read came up short, without the "path: " prefix gzerror adds; NULL
 * when zlib saw no error (the data simply ended). *truncated: the gzip stream ended early
 * (Z_BUF_ERROR, which gzread reports by returning short, not -1). */
static const char *gz_problem(gzFile f, const char *path, int *truncated) {
    int errnum = Z_OK;
    const char *msg = gzerror(f, &errnum);
    *truncated = errnum == Z_BUF_ERROR;
    if (errnum == Z_OK) return NULL;
    if (errnum == Z_ERRNO) return strerror(errno);
    if (!msg || !*msg) return "zlib error";
    /* gzdopen'd streams name themselves "<fd:N>" */
    size_t pl = strlen(path);
    if (strncmp(msg, path, pl) == 0 && strncmp(msg + pl, ": ", 2) == 0) msg += pl + 2;
    const char *close = strstr(msg, ">: ");
    if (strncmp(msg, "<fd:", 4) == 0 && close) msg = close + 3;
    return msg;
}

/* Reads up to bytes; returns how many were read (< bytes at end of data or on error). */
static size_t gz_read_all(gzFile f, void *buf, size_t bytes) {
    const size_t chunk = (size_t)1 << 30;
    size_t done = 0;
    while (done < bytes) {
        size_t want = bytes - done < chunk ? bytes - done : chunk;
        int got = gzread(f, (char *)buf + done, (unsigned)want);
        if (got <= 0) break;
        done += (size_t)got;
    }
    return done;
}

static int read_be32(gzFile f, uint32_t *v) {
    unsigned char b[4];
    if (gz_read_all(f, b, 4) != 4) return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
    return 0;
}

/* Opens path, checks the magic and reads ndims sizes into dims. */
static gzFile idx_open(const char *path, uint32_t magic, int ndims, uint32_t *dims, sg_err *err) {
    int64_t size;
    int fd = sgd_open(path, "idx file", IDX_HOWTO, &size, err);
    if (fd < 0) return NULL;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        sg_errf(err, "idx: cannot open %s: %s", path, strerror(errno ? errno : ENOMEM));
        return NULL;
    }
    gzbuffer(f, 1u << 17);
    uint32_t got;
    int truncated;
    if (read_be32(f, &got) != 0) {
        const char *why = gz_problem(f, path, &truncated);
        if (why)
            sg_errf(err, "idx: cannot read %s: the gzip stream is %s (%s)", path,
                    truncated ? "truncated" : "corrupt", why);
        else
            sg_errf(err, "idx: %s is too short for an idx header (%lld bytes)", path,
                    (long long)size);
        gzclose(f);
        return NULL;
    }
    if (got != magic) {
        const char *hint = "";
        if (got == IDX_LABELS_MAGIC) hint = " (this is a labels file)";
        if (got == IDX_IMAGES_MAGIC) hint = " (this is an images file)";
        if ((got >> 16) == 0x1f8b) hint = " (a gzip stream inside the gzip stream?)";
        sg_errf(err, "idx: %s: magic 0x%08x found where 0x%08x (uint8, %d dimension%s: %s) was "
                "expected%s", path, got, magic, ndims, ndims > 1 ? "s" : "",
                ndims > 1 ? "images" : "labels", hint);
        gzclose(f);
        return NULL;
    }
    for (int k = 0; k < ndims; k++) {
        if (read_be32(f, &dims[k]) != 0) {
            const char *why = gz_problem(f, path, &truncated);
            sg_errf(err, "idx: %s: the header ends before its %d dimension sizes (%s)", path,
                    ndims, why ? why : "end of data");
            gzclose(f);
            return NULL;
        }
        if (dims[k] == 0 || dims[k] > INT_MAX) {
            sg_errf(err, "idx: %s: dimension %d is %u, expected 1..%d", path, k, dims[k], INT_MAX);
            gzclose(f);
            return NULL;
        }
    }
    return f;
}

/* Reads exactly bytes of data into a new buffer (free it), then checks that nothing follows and
 * that the gzip stream (when it is one) ends cleanly; NULL on an error. The buffer grows as the
 * data arrives: a header may claim gigabytes that a few bytes of gzip do not hold, and memory
 * follows the data, not the claim (a claim beyond the machine's memory is refused up front). */
static uint8_t *idx_read_data(gzFile f, const char *path, size_t bytes, const char *shape,
                              const char *what, sg_err *err) {
    if (sgd_fits_memory(bytes, what, err)) return NULL;
    const size_t first = (size_t)1 << 20;
    size_t cap = bytes < first ? bytes : first, got = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    for (;;) {
        if (!buf) {
            sg_errf(err, "out of memory: %s needs %zu bytes", what, bytes);
            return NULL;
        }
        got += gz_read_all(f, buf + got, cap - got);
        if (got < cap || cap == bytes) break;
        size_t next = bytes - cap > cap ? 2 * cap : bytes;
        uint8_t *grown = realloc(buf, next);
        if (!grown) free(buf);
        buf = grown;
        cap = next;
    }
    int truncated;
    const char *why = gz_problem(f, path, &truncated);
    if (got < bytes) {
        if (why && !truncated)
            sg_errf(err, "idx: %s is corrupt: the gzip stream fails after %zu of the %zu bytes of "
                    "data (%s)", path, got, bytes, why);
        else
            sg_errf(err, "idx: %s is truncated: the header declares %s (%zu bytes of data) but "
                    "only %zu could be read%s%s%s", path, shape, bytes, got,
                    why ? " (gzip: " : "", why ? why : "", why ? ")" : "");
        free(buf);
        return NULL;
    }
    unsigned char extra;
    int more = why ? 0 : gzread(f, &extra, 1);
    if (more > 0) {
        sg_errf(err, "idx: %s has data beyond the %s (%zu bytes) its header declares", path, shape,
                bytes);
        free(buf);
        return NULL;
    }
    if (!why) why = gz_problem(f, path, &truncated);
    if (why) {
        sg_errf(err, "idx: %s: the data is complete but the gzip stream after it is %s (%s)", path,
                truncated ? "truncated" : "corrupt", why);
        free(buf);
        return NULL;
    }
    return buf;
}

int sg_dataset_open_idx(sg_dataset *d, const char *images_path, const char *labels_path,
                        sg_err *err) {
    memset(d, 0, sizeof *d);
    uint32_t idims[3], ldims[1];
    gzFile fi = idx_open(images_path, IDX_IMAGES_MAGIC, 3, idims, err);
    if (!fi) return -1;
    gzFile fl = idx_open(labels_path, IDX_LABELS_MAGIC, 1, ldims, err);
    if (!fl) {
        gzclose(fi);
        return -1;
    }
    uint8_t *pixels = NULL;
    int32_t *labels = NULL;
    uint8_t *raw = NULL;
    if (ldims[0] != idims[0]) {
        sg_errf(err, "idx: %s has %u labels but %s has %u images", labels_path, ldims[0],
                images_path, idims[0]);
        goto fail;
    }
    if ((uint64_t)idims[1] * idims[2] > INT_MAX / 4) {
        sg_errf(err, "idx: %s: images of %ux%u are too large", images_path, idims[1], idims[2]);
        goto fail;
    }
    const int n = (int)idims[0], H = (int)idims[1], W = (int)idims[2];
    char shape[96];
    snprintf(shape, sizeof shape, "%d images of %dx%d", n, H, W);
    size_t bytes = (size_t)n * (size_t)H * (size_t)W;
    char what[160];
    snprintf(what, sizeof what, "%s (%s)", images_path, shape);
    pixels = idx_read_data(fi, images_path, bytes, shape, what, err);
    if (!pixels) goto fail;
    snprintf(shape, sizeof shape, "%d labels", n);
    snprintf(what, sizeof what, "%s (%s)", labels_path, shape);
    raw = idx_read_data(fl, labels_path, (size_t)n, shape, what, err);
    if (!raw) goto fail;
    labels = malloc((size_t)n * sizeof *labels);
    if (!labels) {
        sg_errf(err, "out of memory: %d labels of %s", n, labels_path);
        goto fail;
    }
    int maxl = 0;
    for (int i = 0; i < n; i++) {
        labels[i] = raw[i];
        if (raw[i] > maxl) maxl = raw[i];
    }
    free(raw);
    gzclose(fi);
    gzclose(fl);
    d->kind = SG_DS_IDX;
    d->n = n;
    d->C = 1;
    d->H = H;
    d->W = W;
    d->nclasses = maxl + 1;
    d->pixels = pixels;
    d->labels = labels;
    snprintf(d->path, sizeof d->path, "%s", images_path);
    return 0;
fail:
    free(pixels);
    free(labels);
    free(raw);
    gzclose(fi);
    gzclose(fl);
    return -1;
}

/* dir/name.gz when something is there, else dir/name when something is there (whether it is a
 * readable regular file is for the reader to say), else an error naming dir/name.gz. */
static int pick_file(char *out, size_t cap, const char *dir, const char *name, sg_err *err) {
    char gz[256];
    snprintf(gz, sizeof gz, "%s.gz", name);
    if (sgd_path_join(out, cap, dir, gz, err)) return -1;
    if (sg_file_exists(out)) return 0;
    char plain[SG_DATASET_PATH_MAX];
    if (sgd_path_join(plain, sizeof plain, dir, name, err)) return -1;
    if (sg_file_exists(plain)) {
        snprintf(out, cap, "%s", plain);
        return 0;
    }
    errno = ENOENT;
    return sgd_not_found(err, "Fashion-MNIST", out, IDX_HOWTO);
}

int sg_dataset_open_fashion_mnist(sg_dataset *d, const char *dir, int train, sg_err *err) {
    memset(d, 0, sizeof *d);
    if (!dir) dir = SG_FASHION_MNIST_DIR;
    const char *prefix = train ? "train" : "t10k";
    char name[64], images[SG_DATASET_PATH_MAX], labels[SG_DATASET_PATH_MAX];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    if (pick_file(images, sizeof images, dir, name, err)) return -1;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if (pick_file(labels, sizeof labels, dir, name, err)) return -1;
    if (sg_dataset_open_idx(d, images, labels, err)) return -1;
    if (d->H != 28 || d->W != 28 || d->nclasses > 10) {
        sg_errf(err, "Fashion-MNIST: %s holds %dx%d images with labels up to %d; expected 28x28 "
                "and labels 0..9", images, d->H, d->W, d->nclasses - 1);
        sg_dataset_close(d);
        return -1;
    }
    d->nclasses = 10;
    snprintf(d->path, sizeof d->path, "%s", dir);
    snprintf(d->split, sizeof d->split, "%s", train ? "train" : "test");
    return 0;
}
