/* tests/data/test_stl10.c: the STL-10 reader against hand-made column-major files, writer round
 * trips for every split (train+unlabeled concatenation included), and the errors for missing,
 * truncated and malformed files. */
#define _DEFAULT_SOURCE /* getpid, mkdir, truncate, opendir with -std=c11 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/data/dataset.h"
#include "test_util.h"
#include "files.h"

enum { HW = 96, PLANE = HW * HW, IMG = 3 * PLANE };

static char root[1024];


static void sub(char *out, size_t cap, const char *a, const char *b) {
    snprintf(out, cap, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");
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

static int count_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* The value hand-written at pixel (c, y, x) of image i: distinct from (c, x, y) when x != y
 * (the difference is 2(x - y) mod 256), so a missing or doubled transpose shows. */
static uint8_t code(int i, int c, int y, int x) {
    return (uint8_t)(i * 17 + c * 50 + y * 3 + x * 5);
}

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

/* Raw STL-10 bytes written by hand: the column-major layout is read as (c, y, x). */
static void test_hand_made(void) {
    enum { N = 3 };
    char dir[1100], path[1200];
    sub(dir, sizeof dir, "hand", NULL);
    mkdir(dir, 0777);
    uint8_t *raw = tu_alloc((size_t)N * IMG);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < HW; x++)
                for (int y = 0; y < HW; y++)
                    raw[(size_t)i * IMG + c * PLANE + x * HW + y] = code(i, c, y, x);
    sub(path, sizeof path, "hand", "train_X.bin");
    write_bytes(path, raw, (size_t)N * IMG);
    const uint8_t ylab[N] = {1, 10, 4};
    sub(path, sizeof path, "hand", "train_y.bin");
    write_bytes(path, ylab, N);

    sg_dataset d;
    sg_err err = {{0}};
    int rc = sg_dataset_open_stl10(&d, dir, "train", &err);
    CHECK(rc == 0, "open: %s", err.msg);
    if (rc == 0) {
        CHECK(d.kind == SG_DS_STL10 && d.n == N && d.C == 3 && d.H == HW && d.W == HW &&
                  d.nclasses == 10, "shape n=%d C=%d H=%d W=%d", d.n, d.C, d.H, d.W);
        CHECK(strcmp(d.split, "train") == 0, "split %s", d.split);
        int bad = 0, first = -1;
        for (int i = 0; i < N; i++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < HW; y++)
                    for (int x = 0; x < HW; x++) {
                        size_t at = (((size_t)i * 3 + c) * HW + y) * HW + x;
                        if (d.pixels[at] != code(i, c, y, x)) {
                            if (first < 0) first = (int)at;
                            bad++;
                        }
                    }
        CHECK(bad == 0, "%d pixels not at their (c, y, x), first at %d", bad, first);
        CHECK(d.labels[0] == 0 && d.labels[1] == 9 && d.labels[2] == 3, "labels %d %d %d",
              d.labels[0], d.labels[1], d.labels[2]);

        /* The writer must produce the same bytes as the hand-made file. */
        char dir2[1100];
        sub(dir2, sizeof dir2, "hand_rewritten", NULL);
        rc = sg_write_stl10(dir2, "train", N, d.pixels, d.labels, &err);
        CHECK(rc == 0, "write: %s", err.msg);
        sub(path, sizeof path, "hand_rewritten", "train_X.bin");
        FILE *f = fopen(path, "rb");
        uint8_t *back = tu_alloc((size_t)N * IMG + 1);
        size_t got = f ? fread(back, 1, (size_t)N * IMG + 1, f) : 0;
        if (f) fclose(f);
        CHECK(got == (size_t)N * IMG && memcmp(back, raw, got) == 0,
              "writer bytes differ from the hand-made layout (%zu bytes)", got);
        sub(path, sizeof path, "hand_rewritten", "train_y.bin");
        f = fopen(path, "rb");
        got = f ? fread(back, 1, 16, f) : 0;
        if (f) fclose(f);
        CHECK(got == N && memcmp(back, ylab, N) == 0, "label bytes");
        CHECK(count_tmp(dir2) == 0, "temporary files left behind");
        free(back);

        /* sg_dataset_image copies image 2; a small buffer is refused but reports the shape. */
        uint8_t *one = tu_alloc(IMG);
        int C = 0, H = 0, W = 0;
        rc = sg_dataset_image(&d, 2, one, IMG, &C, &H, &W, &err);
        CHECK(rc == 0 && C == 3 && H == HW && W == HW, "image: %s", err.msg);
        CHECK(memcmp(one, d.pixels + 2 * (size_t)IMG, IMG) == 0, "image 2 copy");
        C = H = W = 0;
        rc = sg_dataset_image(&d, 1, one, IMG - 1, &C, &H, &W, &err);
        CHECK(rc != 0 && has(&err, "27648") && C == 3 && H == HW && W == HW,
              "small buffer: %s", err.msg);
        free(one);
    }
    sg_dataset_close(&d);
    CHECK(d.pixels == NULL && d.n == 0, "close zeroes");
    free(raw);
}

/* Writer -> reader for each split, and the train+unlabeled concatenation. */
static void test_round_trip(void) {
    enum { NTR = 4, NTE = 3, NUN = 5 };
    char dir[1100];
    sub(dir, sizeof dir, "rt/nested", NULL); /* the writer creates missing parents */
    uint8_t *tr = tu_alloc((size_t)NTR * IMG), *te = tu_alloc((size_t)NTE * IMG),
            *un = tu_alloc((size_t)NUN * IMG);
    fill_u8(tr, (size_t)NTR * IMG, 11, 1);
    fill_u8(te, (size_t)NTE * IMG, 11, 2);
    fill_u8(un, (size_t)NUN * IMG, 11, 3);
    int32_t ltr[NTR], lte[NTE];
    fill_labels(ltr, NTR, 11, 4, 10);
    fill_labels(lte, NTE, 11, 5, 10);
    sg_err err = {{0}};
    CHECK(sg_write_stl10(dir, "train", NTR, tr, ltr, &err) == 0, "write train: %s", err.msg);
    CHECK(sg_write_stl10(dir, "test", NTE, te, lte, &err) == 0, "write test: %s", err.msg);
    CHECK(sg_write_stl10(dir, "unlabeled", NUN, un, NULL, &err) == 0, "write unl: %s", err.msg);
    CHECK(count_tmp(dir) == 0, "temporary files left behind");

    struct {
        const char *split;
        int n;
    } cases[] = {{"train", NTR}, {"test", NTE}, {"unlabeled", NUN}, {"train+unlabeled", NTR + NUN}};
    for (int k = 0; k < 4; k++) {
        sg_dataset d;
        int rc = sg_dataset_open_stl10(&d, dir, cases[k].split, &err);
        CHECK(rc == 0, "open %s: %s", cases[k].split, err.msg);
        if (rc) continue;
        CHECK(d.n == cases[k].n, "%s: n=%d", cases[k].split, d.n);
        const uint8_t *want0 = k == 0 ? tr : k == 1 ? te : k == 2 ? un : tr;
        int n0 = k == 3 ? NTR : cases[k].n;
        CHECK(memcmp(d.pixels, want0, (size_t)n0 * IMG) == 0, "%s: pixels", cases[k].split);
        if (k == 3)
            CHECK(memcmp(d.pixels + (size_t)NTR * IMG, un, (size_t)NUN * IMG) == 0,
                  "train+unlabeled: unlabeled part");
        int lab_ok = 1;
        for (int i = 0; i < d.n; i++) {
            int32_t want = k == 0 ? ltr[i] : k == 1 ? lte[i] : k == 2 ? -1 : (i < NTR ? ltr[i] : -1);
            if (d.labels[i] != want) lab_ok = 0;
        }
        CHECK(lab_ok, "%s: labels", cases[k].split);
        sg_dataset_close(&d);
    }
    free(tr);
    free(te);
    free(un);
}

static void test_errors(void) {
    char dir[1100], path[1200], missing[1100];
    sg_err err = {{0}};
    sg_dataset d;
    enum { N = 4 };
    uint8_t *px = tu_alloc((size_t)N * IMG);
    fill_u8(px, (size_t)N * IMG, 12, 1);
    int32_t lab[N];
    fill_labels(lab, N, 12, 2, 10);

    /* A folder that does not exist: the message names the file looked for and the download. */
    sub(missing, sizeof missing, "no_such_folder", NULL);
    int rc = sg_dataset_open_stl10(&d, missing, "train", &err);
    CHECK(rc != 0 && has(&err, "STL-10 not found") && has(&err, missing) &&
              has(&err, "train_X.bin") && has(&err, "stl10_binary.tar.gz") &&
              has(&err, "https://cs.stanford.edu/~acoates/stl10/"), "missing: %s", err.msg);
    CHECK(d.pixels == NULL && d.labels == NULL && d.n == 0, "failed open leaves d zeroed");

    /* train present, unlabeled missing: train+unlabeled names unlabeled_X.bin. */
    sub(dir, sizeof dir, "err_nounl", NULL);
    CHECK(sg_write_stl10(dir, "train", N, px, lab, &err) == 0, "%s", err.msg);
    rc = sg_dataset_open_stl10(&d, dir, "train+unlabeled", &err);
    CHECK(rc != 0 && has(&err, "not found") && has(&err, "unlabeled_X.bin"), "%s", err.msg);
    /* train_y.bin missing. */
    sub(path, sizeof path, "err_nounl", "train_y.bin");
    unlink(path);
    rc = sg_dataset_open_stl10(&d, dir, "train", &err);
    CHECK(rc != 0 && has(&err, "not found") && has(&err, path), "%s", err.msg);

    /* Unknown split. */
    rc = sg_dataset_open_stl10(&d, dir, "val", &err);
    CHECK(rc != 0 && has(&err, "'val'") && has(&err, "train+unlabeled"), "%s", err.msg);

    /* Last image cut in half: size and the record size are named. */
    sub(dir, sizeof dir, "err_trunc", NULL);
    CHECK(sg_write_stl10(dir, "train", N, px, lab, &err) == 0, "%s", err.msg);
    sub(path, sizeof path, "err_trunc", "train_X.bin");
    long cut = (long)N * IMG - IMG / 2;
    CHECK(truncate(path, cut) == 0, "truncate");
    rc = sg_dataset_open_stl10(&d, dir, "train", &err);
    char want[64];
    snprintf(want, sizeof want, "is %ld bytes", cut);
    CHECK(rc != 0 && has(&err, path) && has(&err, want) && has(&err, "multiple of 27648") &&
              has(&err, "3 whole images + 13824 bytes"), "truncated: %s", err.msg);

    /* Fewer labels than images. */
    sub(dir, sizeof dir, "err_count", NULL);
    CHECK(sg_write_stl10(dir, "test", N, px, lab, &err) == 0, "%s", err.msg);
    sub(path, sizeof path, "err_count", "test_y.bin");
    const uint8_t three[3] = {1, 2, 3};
    write_bytes(path, three, 3);
    rc = sg_dataset_open_stl10(&d, dir, "test", &err);
    CHECK(rc != 0 && has(&err, path) && has(&err, "3 labels") && has(&err, "4 images"), "%s",
          err.msg);

    /* Labels outside 1..10 (0 and 11). */
    const uint8_t bad0[N] = {1, 0, 3, 4}, bad11[N] = {1, 2, 3, 11};
    write_bytes(path, bad0, N);
    rc = sg_dataset_open_stl10(&d, dir, "test", &err);
    CHECK(rc != 0 && has(&err, "label 0 out of range 1..10 at index 1") && has(&err, path),
          "%s", err.msg);
    write_bytes(path, bad11, N);
    rc = sg_dataset_open_stl10(&d, dir, "test", &err);
    CHECK(rc != 0 && has(&err, "label 11 out of range 1..10 at index 3"), "%s", err.msg);
    CHECK(d.pixels == NULL && d.n == 0, "failed open leaves d zeroed");

    /* An empty X file. */
    sub(path, sizeof path, "err_count", "test_X.bin");
    write_bytes(path, px, 0);
    rc = sg_dataset_open_stl10(&d, dir, "test", &err);
    CHECK(rc != 0 && has(&err, "is 0 bytes"), "%s", err.msg);

    /* Writer misuse. */
    rc = sg_write_stl10(dir, "unlabeled", N, px, lab, &err);
    CHECK(rc != 0 && has(&err, "takes no labels"), "%s", err.msg);
    lab[2] = 10;
    rc = sg_write_stl10(dir, "train", N, px, lab, &err);
    CHECK(rc != 0 && has(&err, "label 10 of image 2"), "%s", err.msg);
    free(px);
}

int main(void) {
    snprintf(root, sizeof root, "%s/data_stl10_%ld", tu_tmpdir(), (long)getpid());
    rm_rf(root);
    CHECK(mkdir(root, 0777) == 0, "mkdir %s", root);
    test_hand_made();
    test_round_trip();
    test_errors();
    rm_rf(root);
    return test_finish();
}
