/* tests/data/test_imagenet.c: the ImageNet folder reader (class and file order, what is
 * ignored), JPEG decoding (RGB round trip at quality 100, grayscale and Adobe CMYK to RGB,
 * reduced-scale decoding of large images), concurrent decoding from several threads, and the
 * errors for missing folders, empty classes and corrupt or truncated JPEGs. */
#define _DEFAULT_SOURCE /* getpid, mkdir, truncate, opendir with -std=c11 */
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
/* jpeglib.h needs size_t and FILE first. */
#include <stdio.h>
#include <jpeglib.h>

#include "core/data/dataset.h"
#include "test_util.h"
#include "files.h"

static char root[1024];



static void fill_u8(uint8_t *p, size_t n, uint64_t seed, uint32_t tag) {
    sg_rng r;
    sg_rng_init(&r, seed, tag, 0, 0);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)sg_rng_u32(&r);
}

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* max and mean of |a - b| over n bytes. */
static void diff_stats(const uint8_t *a, const uint8_t *b, size_t n, int *maxd, double *mean) {
    long sum = 0;
    *maxd = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        sum += d;
        if (d > *maxd) *maxd = d;
    }
    *mean = n ? (double)sum / (double)n : 0;
}

/* Uniform random pixels: JPEG at quality 100 without chroma subsampling keeps them within a
 * few levels (DCT rounding and the YCbCr conversion). */
static void make_image(uint8_t *px, int C, int H, int W, uint64_t seed, uint32_t tag) {
    fill_u8(px, (size_t)C * H * W, seed, tag);
}

typedef struct {
    const char *rel; /* under root/in */
    int C, H, W;
    int label;
} fixture;

/* Sorted order: "N..." < "n0144..." < "n0144 3..." bytewise; files sorted within a class. */
static const fixture FIX[] = {
    {"N00000001/z.JPEG", 3, 16, 24, 0},
    {"n01440764/a.jpg", 3, 21, 13, 1},
    {"n01440764/b.JPEG", 3, 8, 8, 1},
    {"n01440764/c.Jpeg", 3, 33, 17, 1},
    {"n01443537/x.jpeg", 1, 19, 26, 2}, /* grayscale */
};
enum { NFIX = sizeof FIX / sizeof FIX[0] };

static uint8_t *orig[NFIX];

static void build_tree(void) {
    char path[1200];
    sg_err err = {{0}};
    /* Created in an order unlike the sorted one. */
    const int order[NFIX] = {4, 2, 0, 3, 1};
    for (int k = 0; k < NFIX; k++) {
        const fixture *f = &FIX[order[k]];
        orig[order[k]] = tu_alloc((size_t)f->C * f->H * f->W);
        make_image(orig[order[k]], f->C, f->H, f->W, 41, (uint32_t)order[k]);
        snprintf(path, sizeof path, "%s/in/%s", root, f->rel);
        CHECK(sg_write_jpeg(path, f->C, f->H, f->W, orig[order[k]], 100, &err) == 0, "write %s: %s",
              path, err.msg);
    }
    /* Ignored: files that are not JPEGs, hidden files and folders, files at the top level. */
    snprintf(path, sizeof path, "%s/in/n01440764/notes.txt", root);
    write_bytes(path, "notes", 5);
    snprintf(path, sizeof path, "%s/in/n01440764/.hidden.JPEG", root);
    write_bytes(path, "junk", 4);
    snprintf(path, sizeof path, "%s/in/.cache/y.JPEG", root);
    CHECK(sg_write_jpeg(path, 1, 8, 8, orig[4], 90, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/in/LABELS.jpg", root);
    CHECK(sg_write_jpeg(path, 1, 8, 8, orig[4], 90, &err) == 0, "%s", err.msg);
}

static void test_listing_and_decode(sg_dataset *d) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/in/", root); /* a trailing slash changes nothing */
    sg_err err = {{0}};
    int rc = sg_dataset_open_imagenet(d, dir, &err);
    CHECK(rc == 0, "open: %s", err.msg);
    if (rc) return;
    CHECK(d->kind == SG_DS_IMAGENET && d->n == NFIX && d->nclasses == 3 && d->C == 3 &&
              d->pixels == NULL && d->min_side == SG_IMAGENET_MIN_SIDE, "n=%d nclasses=%d", d->n,
          d->nclasses);
    if (d->n != NFIX || d->nclasses != 3) return;
    CHECK(strcmp(d->class_names[0], "N00000001") == 0 &&
              strcmp(d->class_names[1], "n01440764") == 0 &&
              strcmp(d->class_names[2], "n01443537") == 0, "classes %s %s %s",
          d->class_names[0], d->class_names[1], d->class_names[2]);
    for (int i = 0; i < NFIX; i++) {
        char want[1200];
        snprintf(want, sizeof want, "%s/in/%s", root, FIX[i].rel);
        CHECK(strcmp(d->files[i], want) == 0, "file %d: %s, want %s", i, d->files[i], want);
        CHECK(d->labels[i] == FIX[i].label, "label %d: %d", i, d->labels[i]);
    }

    uint8_t *buf = tu_alloc(3 * 40 * 40);
    for (int i = 0; i < NFIX; i++) {
        const fixture *f = &FIX[i];
        int C = 0, H = 0, W = 0, Cs = 0, Hs = 0, Ws = 0;
        rc = sg_dataset_image(d, i, buf, 3 * 40 * 40, &C, &H, &W, &err);
        CHECK(rc == 0, "decode %d: %s", i, err.msg);
        CHECK(sg_dataset_image_shape(d, i, &Cs, &Hs, &Ws, &err) == 0 && Cs == 3 && Hs == f->H &&
                  Ws == f->W, "shape %d: %d %d %d", i, Cs, Hs, Ws);
        if (rc) continue;
        CHECK(C == 3 && H == f->H && W == f->W, "image %d is %dx%dx%d", i, C, H, W);
        size_t plane = (size_t)H * W;
        int maxd;
        double mean;
        if (f->C == 3) {
            diff_stats(buf, orig[i], 3 * plane, &maxd, &mean);
            CHECK(maxd <= 6 && mean < 1.0, "RGB round trip %d: max |diff| %d, mean %.3f", i, maxd,
                  mean);
        } else {
            CHECK(memcmp(buf, buf + plane, plane) == 0 && memcmp(buf, buf + 2 * plane, plane) == 0,
                  "gray decodes to three equal planes");
            diff_stats(buf, orig[i], plane, &maxd, &mean);
            CHECK(maxd <= 2 && mean < 0.5, "gray round trip: max |diff| %d, mean %.3f", maxd, mean);
        }
    }
    /* Too small a buffer: refused, with the shape reported so the caller can grow it. */
    int C = 0, H = 0, W = 0;
    rc = sg_dataset_image(d, 3, buf, 3 * 33 * 17 - 1, &C, &H, &W, &err);
    CHECK(rc != 0 && C == 3 && H == 33 && W == 17 && has(&err, d->files[3]) &&
              has(&err, "3x33x17"), "small buffer: %s", err.msg);
    free(buf);
}

/* Several threads decode every image repeatedly; all must match a serial decode. */
typedef struct {
    const sg_dataset *d;
    const uint8_t *want; /* [NFIX][3*40*40] */
    int mismatches, failures;
} thread_job;

static void *decode_worker(void *arg) {
    thread_job *j = arg;
    uint8_t buf[3 * 40 * 40];
    sg_err err;
    for (int rep = 0; rep < 4; rep++)
        for (int i = 0; i < j->d->n; i++) {
            int C, H, W;
            if (sg_dataset_image(j->d, i, buf, sizeof buf, &C, &H, &W, &err) != 0) {
                j->failures++;
                continue;
            }
            if (memcmp(buf, j->want + (size_t)i * sizeof buf, (size_t)C * H * W) != 0)
                j->mismatches++;
        }
    return NULL;
}

static void test_threads(const sg_dataset *d) {
    enum { T = 4, CAP = 3 * 40 * 40 };
    uint8_t *want = tu_alloc((size_t)NFIX * CAP);
    sg_err err = {{0}};
    for (int i = 0; i < d->n; i++) {
        int C, H, W;
        CHECK(sg_dataset_image(d, i, want + (size_t)i * CAP, CAP, &C, &H, &W, &err) == 0, "%s",
              err.msg);
    }
    pthread_t th[T];
    thread_job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (thread_job){d, want, 0, 0};
        CHECK(pthread_create(&th[t], NULL, decode_worker, &jobs[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        CHECK(jobs[t].failures == 0 && jobs[t].mismatches == 0, "thread %d: %d failures, %d "
              "mismatches", t, jobs[t].failures, jobs[t].mismatches);
    }
    free(want);
}

/* A 120x200 smooth image: min_side picks the libjpeg scale; pixels follow a 2x2 box average. */
static void test_scaled_decode(void) {
    enum { H = 120, W = 200 };
    uint8_t *px = tu_alloc(3 * H * W);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                px[((size_t)c * H + y) * W + x] =
                    (uint8_t)(128 + 60 * sin(0.05 * x + 0.9 * c) * cos(0.04 * y) + 0.1 * (x - y));
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/big", root);
    snprintf(path, sizeof path, "%s/cls/large.JPEG", dir);
    sg_err err = {{0}};
    CHECK(sg_write_jpeg(path, 3, H, W, px, 100, &err) == 0, "%s", err.msg);
    sg_dataset d;
    int rc = sg_dataset_open_imagenet(&d, dir, &err);
    CHECK(rc == 0, "open: %s", err.msg);
    if (rc) {
        free(px);
        return;
    }
    const struct {
        int min_side, h, w;
    } cases[] = {{0, 120, 200}, {448, 120, 200}, {61, 120, 200}, {60, 60, 100},
                 {50, 60, 100}, {30, 30, 50},    {15, 15, 25},   {1, 15, 25}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        d.min_side = cases[k].min_side;
        int C, Hh, Ww;
        rc = sg_dataset_image_shape(&d, 0, &C, &Hh, &Ww, &err);
        CHECK(rc == 0 && C == 3 && Hh == cases[k].h && Ww == cases[k].w,
              "min_side %d: %dx%d, want %dx%d", cases[k].min_side, Hh, Ww, cases[k].h, cases[k].w);
    }
    d.min_side = 50;
    uint8_t *half = tu_alloc(3 * 60 * 100), *box = tu_alloc(3 * 60 * 100);
    int C, Hh, Ww;
    rc = sg_dataset_image(&d, 0, half, 3 * 60 * 100, &C, &Hh, &Ww, &err);
    CHECK(rc == 0 && Hh == 60 && Ww == 100, "half decode: %s", err.msg);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 60; y++)
            for (int x = 0; x < 100; x++) {
                const uint8_t *p = px + ((size_t)c * H + 2 * y) * W + 2 * x;
                box[((size_t)c * 60 + y) * 100 + x] = (uint8_t)((p[0] + p[1] + p[W] + p[W + 1] + 2) / 4);
            }
    int maxd;
    double mean;
    diff_stats(half, box, 3 * 60 * 100, &maxd, &mean);
    CHECK(maxd <= 5 && mean < 1.0, "half scale vs box average: max %d, mean %.3f", maxd, mean);
    sg_dataset_close(&d);
    free(half);
    free(box);
    free(px);
}

/* Adobe-style CMYK (stored inverted, as Photoshop writes it), written with libjpeg directly. */
static void test_cmyk(void) {
    enum { H = 12, W = 10 };
    uint8_t cmyk[H * W * 4]; /* true ink amounts, interleaved */
    sg_rng r;
    sg_rng_init(&r, 42, 7, 0, 0);
    for (int p = 0; p < H * W; p++) {
        cmyk[4 * p + 0] = (uint8_t)(40 + 4 * (p % W));
        cmyk[4 * p + 1] = (uint8_t)(30 + 5 * (p / W));
        cmyk[4 * p + 2] = (uint8_t)(100 + sg_rng_below(&r, 8));
        cmyk[4 * p + 3] = (uint8_t)(20 + sg_rng_below(&r, 8));
    }
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/cmyk", root);
    snprintf(path, sizeof path, "%s/cls", dir);
    mkdir(dir, 0777);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/cls/ink.JPEG", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create %s", path);
    if (!f) return;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = W;
    ci.image_height = H;
    ci.input_components = 4;
    ci.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&ci); /* CMYK in, CMYK stored, with an Adobe marker */
    jpeg_set_quality(&ci, 100, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t row[W * 4];
    while (ci.next_scanline < ci.image_height) {
        const uint8_t *src = cmyk + ci.next_scanline * W * 4;
        for (int i = 0; i < W * 4; i++) row[i] = (uint8_t)(255 - src[i]);
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&ci, rows, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);

    sg_dataset d;
    sg_err err = {{0}};
    int rc = sg_dataset_open_imagenet(&d, dir, &err);
    CHECK(rc == 0, "open: %s", err.msg);
    if (rc) return;
    uint8_t rgb[3 * H * W], want[3 * H * W];
    int C, Hh, Ww;
    rc = sg_dataset_image(&d, 0, rgb, sizeof rgb, &C, &Hh, &Ww, &err);
    CHECK(rc == 0 && C == 3 && Hh == H && Ww == W, "decode: %s", err.msg);
    for (int p = 0; p < H * W; p++)
        for (int c = 0; c < 3; c++)
            want[c * H * W + p] = (uint8_t)(((255 - cmyk[4 * p + c]) * (255 - cmyk[4 * p + 3]) + 127) / 255);
    int maxd;
    double mean;
    diff_stats(rgb, want, sizeof rgb, &maxd, &mean);
    CHECK(maxd <= 3 && mean < 0.5, "CMYK -> RGB: max %d, mean %.3f", maxd, mean);
    sg_dataset_close(&d);
}

static void test_errors(void) {
    char dir[1100], path[1200];
    sg_err err = {{0}};
    sg_dataset d;

    snprintf(dir, sizeof dir, "%s/absent", root);
    int rc = sg_dataset_open_imagenet(&d, dir, &err);
    CHECK(rc != 0 && has(&err, "ImageNet not found") && has(&err, dir) &&
              has(&err, "image-net.org"), "missing: %s", err.msg);
    CHECK(d.files == NULL && d.n == 0, "failed open leaves d zeroed");

    /* A folder of images without class folders. */
    snprintf(dir, sizeof dir, "%s/flat", root);
    snprintf(path, sizeof path, "%s/img.JPEG", dir);
    uint8_t px[3 * 8 * 8];
    fill_u8(px, sizeof px, 43, 1);
    CHECK(sg_write_jpeg(path, 3, 8, 8, px, 90, &err) == 0, "%s", err.msg);
    rc = sg_dataset_open_imagenet(&d, dir, &err);
    CHECK(rc != 0 && has(&err, dir) && has(&err, "no class folders"), "flat: %s", err.msg);
    rc = sg_dataset_open_imagenet(&d, path, &err);
    CHECK(rc != 0 && has(&err, "is a regular file, expected a folder"), "file: %s", err.msg);

    /* A class folder with no JPEG in it. */
    snprintf(dir, sizeof dir, "%s/emptyclass", root);
    snprintf(path, sizeof path, "%s/a/img.jpg", dir);
    CHECK(sg_write_jpeg(path, 3, 8, 8, px, 90, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/b", dir);
    mkdir(path, 0777);
    rc = sg_dataset_open_imagenet(&d, dir, &err);
    CHECK(rc != 0 && has(&err, path) && has(&err, "no JPEG files"), "empty class: %s", err.msg);

    /* Corrupt files decode to errors that name them. */
    snprintf(dir, sizeof dir, "%s/corrupt", root);
    snprintf(path, sizeof path, "%s/c/good.JPEG", dir);
    uint8_t big[3 * 32 * 32];
    fill_u8(big, sizeof big, 43, 2);
    CHECK(sg_write_jpeg(path, 3, 32, 32, big, 95, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/c/h_trunc.JPEG", dir); /* the good file cut in half */
    CHECK(sg_write_jpeg(path, 3, 32, 32, big, 95, &err) == 0, "%s", err.msg);
    CHECK(truncate(path, file_size(path) / 2) == 0, "truncate");
    snprintf(path, sizeof path, "%s/c/g_garbage.JPEG", dir);
    write_bytes(path, big, 300);
    snprintf(path, sizeof path, "%s/c/f_empty.JPEG", dir);
    write_bytes(path, big, 0);
    rc = sg_dataset_open_imagenet(&d, dir, &err);
    CHECK(rc == 0 && d.n == 4, "open corrupt: %s", err.msg);
    if (rc == 0 && d.n == 4) {
        uint8_t out[3 * 32 * 32];
        int C, H, W;
        /* sorted: f_empty, g_garbage, good, h_trunc */
        rc = sg_dataset_image(&d, 0, out, sizeof out, &C, &H, &W, &err);
        CHECK(rc != 0 && has(&err, d.files[0]) && has(&err, "corrupt JPEG"), "empty: %s",
              err.msg);
        rc = sg_dataset_image(&d, 1, out, sizeof out, &C, &H, &W, &err);
        CHECK(rc != 0 && has(&err, d.files[1]) && has(&err, "Not a JPEG file"), "garbage: %s",
              err.msg);
        rc = sg_dataset_image(&d, 2, out, sizeof out, &C, &H, &W, &err);
        CHECK(rc == 0, "good: %s", err.msg);
        rc = sg_dataset_image(&d, 3, out, sizeof out, &C, &H, &W, &err);
        CHECK(rc != 0 && has(&err, d.files[3]) && has(&err, "ends before the image data"),
              "truncated: %s", err.msg);
        rc = sg_dataset_image_shape(&d, 1, &C, &H, &W, &err);
        CHECK(rc != 0 && has(&err, d.files[1]), "shape of garbage: %s", err.msg);
    }
    sg_dataset_close(&d);

    rc = sg_write_jpeg(path, 2, 8, 8, px, 90, &err);
    CHECK(rc != 0 && has(&err, "2 channels"), "%s", err.msg);
    rc = sg_write_jpeg(path, 3, 8, 8, px, 101, &err);
    CHECK(rc != 0 && has(&err, "quality 101"), "%s", err.msg);
}

int main(void) {
    snprintf(root, sizeof root, "%s/data_imagenet_%ld", tu_tmpdir(), (long)getpid());
    rm_rf(root);
    CHECK(mkdir(root, 0777) == 0, "mkdir %s", root);
    build_tree();
    sg_dataset d;
    test_listing_and_decode(&d);
    if (d.n == NFIX) test_threads(&d);
    sg_dataset_close(&d);
    test_scaled_decode();
    test_cmyk();
    test_errors();
    for (int i = 0; i < NFIX; i++) free(orig[i]);
    rm_rf(root);
    return test_finish();
}
