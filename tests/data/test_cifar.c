/* tests/data/test_cifar.c: CIFAR-10 and CIFAR-100 readers against hand-written records and the
 * writers (batch split, byte layout), and the errors for missing, truncated and malformed
 * files. */
#define _DEFAULT_SOURCE /* getpid, mkdir, truncate, opendir with -std=c11 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/data/dataset.h"
#include "test_util.h"
#include "files.h"

enum { IMG = 3072 };

static char root[1024];


static void sub(char *out, size_t cap, const char *a, const char *b) {
    snprintf(out, cap, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");
}


/* The whole file into a new buffer; *n its size. */
static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = tu_alloc((size_t)len);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
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

static int count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* Records written by hand (label byte, then R, G, B planes) are read as label + CHW. */
static void test_cifar10_hand_made(void) {
    enum { N = 3 };
    char dir[1100], path[1200];
    sub(dir, sizeof dir, "c10_hand", NULL);
    mkdir(dir, 0777);
    uint8_t rec[N * (1 + IMG)];
    uint8_t planes[N * IMG];
    fill_u8(planes, sizeof planes, 21, 1);
    const uint8_t lab[N] = {7, 0, 9};
    for (int i = 0; i < N; i++) {
        rec[i * (1 + IMG)] = lab[i];
        memcpy(rec + i * (1 + IMG) + 1, planes + i * IMG, IMG);
    }
    sub(path, sizeof path, "c10_hand", "test_batch.bin");
    write_bytes(path, rec, sizeof rec);
    sg_dataset d;
    sg_err err = {{0}};
    int rc = sg_dataset_open_cifar10(&d, dir, 0, &err);
    CHECK(rc == 0, "open: %s", err.msg);
    if (rc) return;
    CHECK(d.kind == SG_DS_CIFAR10 && d.n == N && d.C == 3 && d.H == 32 && d.W == 32 &&
              d.nclasses == 10 && strcmp(d.split, "test") == 0, "shape n=%d", d.n);
    CHECK(memcmp(d.pixels, planes, sizeof planes) == 0, "pixels");
    /* Spot-check the plane order: the G value at (y=5, x=17) of image 1. */
    CHECK(d.pixels[(size_t)(1 * 3 + 1) * 1024 + 5 * 32 + 17] == rec[1 * (1 + IMG) + 1 + 1024 + 5 * 32 + 17],
          "G plane");
    CHECK(d.labels[0] == 7 && d.labels[1] == 0 && d.labels[2] == 9, "labels");
    sg_dataset_close(&d);
}

static void test_cifar10_round_trip(void) {
    enum { NTR = 12, NTE = 4 };
    char dir[1100], path[1200];
    sub(dir, sizeof dir, "c10_rt", NULL);
    uint8_t *tr = tu_alloc((size_t)NTR * IMG), *te = tu_alloc((size_t)NTE * IMG);
    fill_u8(tr, (size_t)NTR * IMG, 22, 1);
    fill_u8(te, (size_t)NTE * IMG, 22, 2);
    int32_t ltr[NTR], lte[NTE];
    fill_labels(ltr, NTR, 22, 3, 10);
    fill_labels(lte, NTE, 22, 4, 10);
    sg_err err = {{0}};
    CHECK(sg_write_cifar10(dir, 1, NTR, tr, ltr, &err) == 0, "write train: %s", err.msg);
    CHECK(sg_write_cifar10(dir, 0, NTE, te, lte, &err) == 0, "write test: %s", err.msg);
    CHECK(count_tmp(dir) == 0, "temporary files left behind");

    /* 12 images in 5 batches: 3, 3, 2, 2, 2 records; batch 2 starts at image 3. */
    const int per[5] = {3, 3, 2, 2, 2};
    for (int b = 0; b < 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        sub(path, sizeof path, "c10_rt", name);
        size_t n;
        uint8_t *raw = read_bytes(path, &n);
        CHECK(raw && n == (size_t)per[b] * (1 + IMG), "%s: %zu bytes", name, n);
        if (raw && b == 1 && n >= 1 + IMG)
            CHECK(raw[0] == ltr[3] && memcmp(raw + 1, tr + 3 * (size_t)IMG, IMG) == 0,
                  "batch 2, record 0 = image 3");
        free(raw);
    }

    sg_dataset d;
    int rc = sg_dataset_open_cifar10(&d, dir, 1, &err);
    CHECK(rc == 0, "open train: %s", err.msg);
    if (rc == 0) {
        CHECK(d.n == NTR && strcmp(d.split, "train") == 0, "n=%d", d.n);
        CHECK(memcmp(d.pixels, tr, (size_t)NTR * IMG) == 0, "train pixels");
        CHECK(memcmp(d.labels, ltr, sizeof ltr) == 0, "train labels");
        sg_dataset_close(&d);
    }
    rc = sg_dataset_open_cifar10(&d, dir, 0, &err);
    CHECK(rc == 0, "open test: %s", err.msg);
    if (rc == 0) {
        CHECK(d.n == NTE && memcmp(d.pixels, te, (size_t)NTE * IMG) == 0, "test pixels");
        CHECK(memcmp(d.labels, lte, sizeof lte) == 0, "test labels");
        uint8_t one[IMG];
        int C, H, W;
        CHECK(sg_dataset_image(&d, 3, one, sizeof one, &C, &H, &W, &err) == 0 && C == 3 &&
                  H == 32 && W == 32 && memcmp(one, te + 3 * (size_t)IMG, IMG) == 0,
              "image 3: %s", err.msg);
        sg_dataset_close(&d);
    }

    /* Errors. The last record of test_batch.bin cut in half. */
    sub(path, sizeof path, "c10_rt", "test_batch.bin");
    CHECK(truncate(path, (long)NTE * (1 + IMG) - (1 + IMG) / 2) == 0, "truncate");
    rc = sg_dataset_open_cifar10(&d, dir, 0, &err);
    CHECK(rc != 0 && has(&err, path) && has(&err, "3073-byte record") &&
              has(&err, "3 whole records + 1537 bytes"), "truncated: %s", err.msg);
    CHECK(d.pixels == NULL && d.n == 0, "failed open leaves d zeroed");

    /* A label byte of 10. */
    uint8_t rec[2 * (1 + IMG)];
    fill_u8(rec, sizeof rec, 22, 5);
    rec[0] = 3;
    rec[1 + IMG] = 10;
    write_bytes(path, rec, sizeof rec);
    rc = sg_dataset_open_cifar10(&d, dir, 0, &err);
    CHECK(rc != 0 && has(&err, "label 10 out of range 0..9 in record 1") && has(&err, path),
          "label: %s", err.msg);

    /* One batch missing. */
    sub(path, sizeof path, "c10_rt", "data_batch_3.bin");
    unlink(path);
    rc = sg_dataset_open_cifar10(&d, dir, 1, &err);
    CHECK(rc != 0 && has(&err, "CIFAR-10 not found") && has(&err, path), "batch: %s", err.msg);

    /* The whole folder missing. */
    sub(dir, sizeof dir, "c10_none", NULL);
    rc = sg_dataset_open_cifar10(&d, dir, 1, &err);
    CHECK(rc != 0 && has(&err, "CIFAR-10 not found") && has(&err, dir) &&
              has(&err, "data_batch_1.bin") && has(&err, "cifar-10-binary.tar.gz") &&
              has(&err, "https://www.cs.toronto.edu/~kriz/cifar.html"), "missing: %s", err.msg);

    /* Writer misuse. */
    ltr[5] = 10;
    rc = sg_write_cifar10(dir, 1, NTR, tr, ltr, &err);
    CHECK(rc != 0 && has(&err, "label 10 of image 5"), "%s", err.msg);
    rc = sg_write_cifar10(dir, 1, 4, tr, lte, &err);
    CHECK(rc != 0 && has(&err, "at least 5"), "%s", err.msg);
    free(tr);
    free(te);
}

static void test_cifar100(void) {
    enum { N = 7, REC = 2 + IMG };
    char dir[1100], path[1200];
    sub(dir, sizeof dir, "c100", NULL);
    uint8_t *px = tu_alloc((size_t)N * IMG);
    fill_u8(px, (size_t)N * IMG, 23, 1);
    int32_t coarse[N], fine[N];
    fill_labels(coarse, N, 23, 2, 20);
    fill_labels(fine, N, 23, 3, 100);
    sg_err err = {{0}};
    CHECK(sg_write_cifar100(dir, 1, N, px, coarse, fine, &err) == 0, "write: %s", err.msg);
    sub(path, sizeof path, "c100", "train.bin");
    size_t n;
    uint8_t *raw = read_bytes(path, &n);
    CHECK(raw && n == (size_t)N * REC && raw[REC] == coarse[1] && raw[REC + 1] == fine[1] &&
              memcmp(raw + REC + 2, px + IMG, IMG) == 0, "record layout (%zu bytes)", n);
    free(raw);

    sg_dataset d;
    for (int use_fine = 0; use_fine <= 1; use_fine++) {
        int rc = sg_dataset_open_cifar100(&d, dir, 1, use_fine, &err);
        CHECK(rc == 0, "open: %s", err.msg);
        if (rc) continue;
        CHECK(d.kind == SG_DS_CIFAR100 && d.n == N && d.nclasses == (use_fine ? 100 : 20),
              "n=%d nclasses=%d", d.n, d.nclasses);
        CHECK(memcmp(d.pixels, px, (size_t)N * IMG) == 0, "pixels");
        CHECK(memcmp(d.labels, use_fine ? fine : coarse, sizeof fine) == 0, "labels");
        sg_dataset_close(&d);
    }

    CHECK(truncate(path, (long)N * REC - REC / 2) == 0, "truncate");
    int rc = sg_dataset_open_cifar100(&d, dir, 1, 1, &err);
    CHECK(rc != 0 && has(&err, path) && has(&err, "3074-byte record") &&
              has(&err, "2 label bytes"), "truncated: %s", err.msg);

    uint8_t rec[2 * REC];
    fill_u8(rec, sizeof rec, 23, 4);
    rec[0] = 1;
    rec[1] = 5;
    rec[REC] = 2;
    rec[REC + 1] = 100;
    write_bytes(path, rec, sizeof rec);
    rc = sg_dataset_open_cifar100(&d, dir, 1, 1, &err);
    CHECK(rc != 0 && has(&err, "fine label 100 out of range 0..99 in record 1"), "%s", err.msg);
    rec[REC + 1] = 99;
    rec[0] = 20;
    write_bytes(path, rec, sizeof rec);
    rc = sg_dataset_open_cifar100(&d, dir, 1, 1, &err);
    CHECK(rc != 0 && has(&err, "coarse label 20 out of range 0..19 in record 0"), "%s", err.msg);

    rc = sg_dataset_open_cifar100(&d, dir, 0, 1, &err);
    sub(path, sizeof path, "c100", "test.bin");
    CHECK(rc != 0 && has(&err, "CIFAR-100 not found") && has(&err, path) &&
              has(&err, "cifar-100-binary.tar.gz"), "missing: %s", err.msg);
    free(px);
}

int main(void) {
    snprintf(root, sizeof root, "%s/data_cifar_%ld", tu_tmpdir(), (long)getpid());
    rm_rf(root);
    CHECK(mkdir(root, 0777) == 0, "mkdir %s", root);
    test_cifar10_hand_made();
    test_cifar10_round_trip();
    test_cifar100();
    rm_rf(root);
    return test_finish();
}
