/* tests/data/test_synthetic.c: the synthetic dataset is deterministic from its seed, balanced,
 * varied (noise and shifts: no two images alike) and learnable (a nearest-class-mean classifier
 * on raw pixels beats chance by far on held-out images). */
#include "core/data/dataset.h"
#include "test_util.h"

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

static void test_determinism_and_balance(void) {
    enum { N = 103, C = 3, H = 20, W = 24, K = 10 };
    sg_dataset a, b, c;
    sg_err err = {{0}};
    CHECK(sg_dataset_synthetic(&a, N, C, H, W, K, 5, &err) == 0, "%s", err.msg);
    CHECK(sg_dataset_synthetic(&b, N, C, H, W, K, 5, &err) == 0, "%s", err.msg);
    CHECK(sg_dataset_synthetic(&c, N, C, H, W, K, 6, &err) == 0, "%s", err.msg);
    CHECK(a.kind == SG_DS_SYNTHETIC && a.n == N && a.C == C && a.H == H && a.W == W &&
              a.nclasses == K && a.files == NULL, "shape");
    const size_t img = (size_t)C * H * W;
    CHECK(memcmp(a.pixels, b.pixels, N * img) == 0 && memcmp(a.labels, b.labels, N * 4) == 0,
          "same seed, same data");
    size_t same = 0;
    for (size_t p = 0; p < N * img; p++) same += a.pixels[p] == c.pixels[p];
    CHECK(same < N * img / 10, "another seed: %zu of %zu bytes equal", same, N * img);

    int count[K] = {0}, bad = 0;
    for (int i = 0; i < N; i++) {
        if (a.labels[i] < 0 || a.labels[i] >= K)
            bad++;
        else
            count[a.labels[i]]++;
    }
    CHECK(bad == 0, "%d labels out of range", bad);
    for (int k = 0; k < K; k++)
        CHECK(count[k] == N / K || count[k] == N / K + 1, "class %d: %d images", k, count[k]);
    int sorted = 1; /* shuffled, not 0, 1, 2, ... */
    for (int i = 0; i < N; i++) sorted &= a.labels[i] == i % K;
    CHECK(!sorted, "labels are not shuffled");

    /* Pixels spread over the range; no two images identical (noise). */
    double sum = 0, sq = 0;
    for (size_t p = 0; p < N * img; p++) {
        sum += a.pixels[p];
        sq += (double)a.pixels[p] * a.pixels[p];
    }
    double mean = sum / (N * img), sd = sqrt(sq / (N * img) - mean * mean);
    CHECK(mean > 90 && mean < 166 && sd > 20 && sd < 90, "pixel mean %.1f sd %.1f", mean, sd);
    int dup = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++) dup += memcmp(a.pixels + i * img, a.pixels + j * img, img) == 0;
    CHECK(dup == 0, "%d identical pairs", dup);

    uint8_t *one = tu_alloc(img);
    int Cc, Hh, Ww;
    CHECK(sg_dataset_image(&a, 17, one, img, &Cc, &Hh, &Ww, &err) == 0 && Cc == C && Hh == H &&
              Ww == W && memcmp(one, a.pixels + 17 * img, img) == 0, "image 17: %s", err.msg);
    free(one);
    sg_dataset_close(&a);
    sg_dataset_close(&b);
    sg_dataset_close(&c);
}

/* Nearest class mean on raw pixels: trained on the first NT images, tested on the rest. */
static void test_learnable(int C, int H, int W, int K, double min_acc) {
    enum { N = 800, NT = 600 };
    sg_dataset d;
    sg_err err = {{0}};
    int rc = sg_dataset_synthetic(&d, N, C, H, W, K, 7, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    const size_t img = (size_t)C * H * W;
    double *means = tu_alloc((size_t)K * img * sizeof *means);
    int *cnt = tu_alloc((size_t)K * sizeof *cnt);
    for (int i = 0; i < NT; i++) {
        int k = d.labels[i];
        cnt[k]++;
        for (size_t p = 0; p < img; p++) means[k * img + p] += d.pixels[i * img + p];
    }
    for (int k = 0; k < K; k++)
        for (size_t p = 0; p < img; p++) means[k * img + p] /= cnt[k] ? cnt[k] : 1;
    int correct = 0;
    for (int i = NT; i < N; i++) {
        int best = -1;
        double bestd = 0;
        for (int k = 0; k < K; k++) {
            double dist = 0;
            for (size_t p = 0; p < img; p++) {
                double e = d.pixels[i * img + p] - means[k * img + p];
                dist += e * e;
            }
            if (best < 0 || dist < bestd) {
                best = k;
                bestd = dist;
            }
        }
        correct += best == d.labels[i];
    }
    double acc = (double)correct / (N - NT);
    CHECK(acc >= min_acc, "%dx%dx%d, %d classes: nearest-mean accuracy %.3f < %.2f (chance %.2f)",
          C, H, W, K, acc, min_acc, 1.0 / K);
    printf("nearest-mean accuracy %dx%dx%d, %d classes: %.3f\n", C, H, W, K, acc);
    free(means);
    free(cnt);
    sg_dataset_close(&d);
}

static void test_errors(void) {
    sg_dataset d;
    sg_err err = {{0}};
    int rc = sg_dataset_synthetic(&d, 0, 3, 32, 32, 10, 1, &err);
    CHECK(rc != 0 && has(&err, "n=0") && d.pixels == NULL, "n=0: %s", err.msg);
    rc = sg_dataset_synthetic(&d, 10, 3, 32, 32, 0, 1, &err);
    CHECK(rc != 0 && has(&err, "nclasses=0"), "nclasses=0: %s", err.msg);
    rc = sg_dataset_synthetic(&d, 1000000, 3, 4096, 4096, 10, 1, &err);
    CHECK(rc != 0 && has(&err, "too large"), "huge: %s", err.msg);
    /* Odd shapes and a single class are fine. */
    rc = sg_dataset_synthetic(&d, 5, 1, 7, 9, 1, 1, &err);
    CHECK(rc == 0 && d.n == 5 && d.nclasses == 1 && d.labels[4] == 0, "odd: %s", err.msg);
    sg_dataset_close(&d);
}

int main(void) {
    test_determinism_and_balance();
    test_learnable(3, 32, 32, 10, 0.6);
    test_learnable(1, 28, 28, 10, 0.5);
    test_errors();
    return test_finish();
}
