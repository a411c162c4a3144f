/* tests/data/test_idx.c: the idx reader on gzip'd and plain files (byte layout checked by hand),
 * the Fashion-MNIST file naming, and the errors: wrong magic, count mismatch, truncated gzip
 * stream, truncated and over-long plain files, missing files. */
#define _DEFAULT_SOURCE /* getpid, mkdir, truncate, opendir with -std=c11 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/data/dataset.h"
#include "test_util.h"
#include "files.h"

static char root[1024];


static void sub(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", root, name);
}


static void fill_u8(uint8_t *p, size_t n, uint64_t seed, uint32_t tag) {
    sg_rng r;
    sg_rng_init(&r, seed, tag, 0, 0);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)sg_rng_u32(&r);
}

static void fill_labels(int32_t *l, int n, uint64_t seed, uint32_t tag, int ncls) {
    sg_rng r;
    sg_rng_init(&r, seed, tag, 0, 0);
    for (int i = 0; i < n; i++) l[i] = (int32_t)sg_rng_below(&r, (uint32_t)ncls);
}

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The first n bytes of a file after gunzip (gzread passes plain files through). */
static int head_bytes(const char *path, uint8_t *out, int n) {
    gzFile f = gzopen(path, "rb");
    if (!f) return -1;
    int got = gzread(f, out, (unsigned)n);
    gzclose(f);
    return got;
}

enum { N = 7, H = 5, W = 6 }; /* H != W: a swapped rows/cols would show */

static void test_round_trip(int gzip) {
    char img[1100], lab[1100];
    sub(img, sizeof img, gzip ? "rt/images.gz" : "rt/images");
    sub(lab, sizeof lab, gzip ? "rt/labels.gz" : "rt/labels");
    uint8_t px[N * H * W];
    fill_u8(px, sizeof px, 31, (uint32_t)gzip);
    int32_t labels[N];
    fill_labels(labels, N, 31, 2 + (uint32_t)gzip, 10);
    labels[3] = 8; /* so the largest label is known: 8 or 9 */
    sg_err err = {{0}};
    CHECK(sg_write_idx(img, lab, N, H, W, px, labels, gzip, &err) == 0, "write: %s", err.msg);

    /* The exact bytes: gzip magic or not, then the big-endian header. */
    FILE *f = fopen(img, "rb");
    uint8_t two[2] = {0, 0};
    if (f) {
        CHECK(fread(two, 1, 2, f) == 2, "read");
        fclose(f);
    }
    CHECK((two[0] == 0x1f && two[1] == 0x8b) == (gzip != 0), "gzip magic %02x %02x", two[0],
          two[1]);
    uint8_t h[17];
    const uint8_t want_img[16] = {0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, H, 0, 0, 0, W};
    CHECK(head_bytes(img, h, 17) == 17 && memcmp(h, want_img, 16) == 0 && h[16] == px[0],
          "images header");
    const uint8_t want_lab[8] = {0, 0, 8, 1, 0, 0, 0, N};
    CHECK(head_bytes(lab, h, 9) == 9 && memcmp(h, want_lab, 8) == 0 && h[8] == labels[0],
          "labels header");

    sg_dataset d;
    int rc = sg_dataset_open_idx(&d, img, lab, &err);
    CHECK(rc == 0, "open: %s", err.msg);
    if (rc) return;
    int maxl = 0;
    for (int i = 0; i < N; i++) maxl = labels[i] > maxl ? labels[i] : maxl;
    CHECK(d.kind == SG_DS_IDX && d.n == N && d.C == 1 && d.H == H && d.W == W &&
              d.nclasses == maxl + 1, "shape n=%d C=%d H=%d W=%d ncls=%d", d.n, d.C, d.H, d.W,
          d.nclasses);
    CHECK(memcmp(d.pixels, px, sizeof px) == 0, "pixels");
    CHECK(memcmp(d.labels, labels, sizeof labels) == 0, "labels");
    CHECK(strcmp(d.path, img) == 0, "path %s", d.path);
    sg_dataset_close(&d);
}

static void test_errors(void) {
    char img[1100], lab[1100], other[1100];
    sg_err err = {{0}};
    sg_dataset d;
    uint8_t px[N * H * W];
    fill_u8(px, sizeof px, 32, 1);
    int32_t labels[N];
    fill_labels(labels, N, 32, 2, 10);
    sub(img, sizeof img, "err/images");
    sub(lab, sizeof lab, "err/labels");
    CHECK(sg_write_idx(img, lab, N, H, W, px, labels, 0, &err) == 0, "write: %s", err.msg);

    /* Images and labels swapped: the magic says which is which. */
    int rc = sg_dataset_open_idx(&d, lab, img, &err);
    CHECK(rc != 0 && has(&err, lab) && has(&err, "magic 0x00000801 found where 0x00000803") &&
              has(&err, "labels file"), "swapped: %s", err.msg);
    CHECK(d.pixels == NULL && d.n == 0, "failed open leaves d zeroed");

    /* Magic 0x00000802 (uint8 with 2 dimensions), in a gzip file. */
    sub(other, sizeof other, "err/magic.gz");
    const uint8_t bad[12] = {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1};
    gzFile g = gzopen(other, "wb");
    CHECK(g && gzwrite(g, bad, sizeof bad) == (int)sizeof bad, "gzwrite");
    if (g) gzclose(g);
    rc = sg_dataset_open_idx(&d, other, lab, &err);
    CHECK(rc != 0 && has(&err, other) && has(&err, "magic 0x00000802 found where 0x00000803"),
          "magic: %s", err.msg);

    /* Labels for 6 images, 7 images. */
    sub(other, sizeof other, "err/labels6");
    sub(img, sizeof img, "err/images6_unused");
    CHECK(sg_write_idx(img, other, N - 1, H, W, px, labels, 0, &err) == 0, "%s", err.msg);
    sub(img, sizeof img, "err/images");
    rc = sg_dataset_open_idx(&d, img, other, &err);
    CHECK(rc != 0 && has(&err, "6 labels") && has(&err, "7 images") && has(&err, other),
          "count: %s", err.msg);

    /* Plain file: last image cut in half. */
    long full = file_size(img);
    CHECK(truncate(img, full - (H * W) / 2) == 0, "truncate");
    rc = sg_dataset_open_idx(&d, img, lab, &err);
    CHECK(rc != 0 && has(&err, img) && has(&err, "truncated") &&
              has(&err, "7 images of 5x6 (210 bytes of data)") && has(&err, "only 195"),
          "truncated plain: %s", err.msg);

    /* Plain file with bytes beyond what the header declares. */
    CHECK(sg_write_idx(img, lab, N, H, W, px, labels, 0, &err) == 0, "%s", err.msg);
    write_bytes_mode(img, "xy", 2, "ab");
    rc = sg_dataset_open_idx(&d, img, lab, &err);
    CHECK(rc != 0 && has(&err, "data beyond"), "trailing: %s", err.msg);

    /* A gzip stream cut in the middle: zlib's "unexpected end of file" is passed on. Random
     * pixels do not compress, so half the file is about half the data. */
    enum { NB = 40, HB = 28, WB = 28 };
    uint8_t *big = tu_alloc((size_t)NB * HB * WB);
    fill_u8(big, (size_t)NB * HB * WB, 32, 3);
    int32_t lb[NB];
    fill_labels(lb, NB, 32, 4, 10);
    sub(img, sizeof img, "err/big-images.gz");
    sub(lab, sizeof lab, "err/big-labels.gz");
    CHECK(sg_write_idx(img, lab, NB, HB, WB, big, lb, 1, &err) == 0, "%s", err.msg);
    CHECK(truncate(img, file_size(img) / 2) == 0, "truncate gz");
    rc = sg_dataset_open_idx(&d, img, lab, &err);
    CHECK(rc != 0 && has(&err, img) && has(&err, "truncated") &&
              has(&err, "unexpected end of file"), "truncated gzip: %s", err.msg);
    /* Cut inside the 8-byte gzip trailer: the stream is truncated all the same. */
    CHECK(sg_write_idx(img, lab, NB, HB, WB, big, lb, 1, &err) == 0, "%s", err.msg);
    CHECK(truncate(img, file_size(img) - 4) == 0, "truncate trailer");
    rc = sg_dataset_open_idx(&d, img, lab, &err);
    CHECK(rc != 0 && has(&err, img) && has(&err, "the data is complete but the gzip stream") &&
              has(&err, "truncated (unexpected end of file)"), "trailer: %s", err.msg);
    /* A wrong CRC-32 in the trailer (the data bytes themselves intact). */
    CHECK(sg_write_idx(img, lab, NB, HB, WB, big, lb, 1, &err) == 0, "%s", err.msg);
    {
        FILE *f = fopen(img, "r+b");
        CHECK(f && fseek(f, -8, SEEK_END) == 0, "seek");
        int c = f ? fgetc(f) : 0;
        if (f) {
            fseek(f, -8, SEEK_END);
            fputc(c ^ 0xff, f);
            fclose(f);
        }
    }
    rc = sg_dataset_open_idx(&d, img, lab, &err);
    CHECK(rc != 0 && has(&err, img) && has(&err, "corrupt") &&
              has(&err, "incorrect data check"), "crc: %s", err.msg);
    free(big);

    /* An empty file. */
    sub(other, sizeof other, "err/empty");
    write_bytes(other, "", 0);
    rc = sg_dataset_open_idx(&d, other, lab, &err);
    CHECK(rc != 0 && has(&err, other) && has(&err, "too short for an idx header (0 bytes)"),
          "empty: %s", err.msg);

    /* Missing. */
    sub(other, sizeof other, "err/nothing.gz");
    rc = sg_dataset_open_idx(&d, other, lab, &err);
    CHECK(rc != 0 && has(&err, "not found") && has(&err, other) &&
              has(&err, "dataset-fashion-mnist"), "missing: %s", err.msg);
}

/* The Fashion-MNIST names: .gz preferred, plain accepted; 28x28 required. */
static void test_fashion_names(void) {
    enum { NF = 10 };
    char dir[1100], img[1200], lab[1200];
    sub(dir, sizeof dir, "fm");
    uint8_t *px = tu_alloc((size_t)NF * 28 * 28);
    fill_u8(px, (size_t)NF * 28 * 28, 33, 1);
    int32_t labels[NF];
    for (int i = 0; i < NF; i++) labels[i] = (i * 7) % 10;
    sg_err err = {{0}};
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", dir);
    CHECK(sg_write_idx(img, lab, NF, 28, 28, px, labels, 1, &err) == 0, "%s", err.msg);
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte", dir);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte", dir);
    CHECK(sg_write_idx(img, lab, NF - 2, 28, 28, px, labels, 0, &err) == 0, "%s", err.msg);

    sg_dataset d;
    int rc = sg_dataset_open_fashion_mnist(&d, dir, 1, &err);
    CHECK(rc == 0, "train: %s", err.msg);
    if (rc == 0) {
        CHECK(d.n == NF && d.H == 28 && d.W == 28 && d.nclasses == 10 &&
                  strcmp(d.split, "train") == 0 && strcmp(d.path, dir) == 0, "train shape");
        CHECK(memcmp(d.pixels, px, (size_t)NF * 28 * 28) == 0, "train pixels");
        sg_dataset_close(&d);
    }
    rc = sg_dataset_open_fashion_mnist(&d, dir, 0, &err);
    CHECK(rc == 0, "t10k (plain files): %s", err.msg);
    if (rc == 0) {
        CHECK(d.n == NF - 2 && d.nclasses == 10 && memcmp(d.labels, labels, 8 * 4) == 0,
              "t10k");
        sg_dataset_close(&d);
    }

    /* Not 28x28. */
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte", dir);
    CHECK(sg_write_idx(img, lab, NF - 2, 14, 56, px, labels, 0, &err) == 0, "%s", err.msg);
    rc = sg_dataset_open_fashion_mnist(&d, dir, 0, &err);
    CHECK(rc != 0 && has(&err, "14x56") && has(&err, "28x28"), "size: %s", err.msg);

    /* Missing folder: names the .gz it looked for. */
    sub(dir, sizeof dir, "fm_none");
    rc = sg_dataset_open_fashion_mnist(&d, dir, 1, &err);
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", dir);
    CHECK(rc != 0 && has(&err, "Fashion-MNIST not found") && has(&err, img) &&
              has(&err, "apt-get install dataset-fashion-mnist"), "missing: %s", err.msg);
    free(px);
}

int main(void) {
    snprintf(root, sizeof root, "%s/data_idx_%ld", tu_tmpdir(), (long)getpid());
    rm_rf(root);
    CHECK(mkdir(root, 0777) == 0, "mkdir %s", root);
    test_round_trip(1);
    test_round_trip(0);
    test_errors();
    test_fashion_names();
    rm_rf(root);
    return test_finish();
}
