/* tests/data/test_fashion_mnist.c: the real Fashion-MNIST files from Debian's
 * dataset-fashion-mnist, when installed: sizes, shapes, label range and class balance. */
#include <sys/stat.h>

#include "core/data/dataset.h"
#include "test_util.h"

static void check_split(int train) {
    const int want_n = train ? 60000 : 10000;
    sg_dataset d;
    sg_err err = {{0}};
    int rc = sg_dataset_open_fashion_mnist(&d, NULL, train, &err);
    CHECK(rc == 0, "open %s: %s", train ? "train" : "t10k", err.msg);
    if (rc) return;
    CHECK(d.kind == SG_DS_IDX && d.n == want_n && d.C == 1 && d.H == 28 && d.W == 28 &&
              d.nclasses == 10, "n=%d C=%d H=%d W=%d nclasses=%d", d.n, d.C, d.H, d.W,
          d.nclasses);
    int count[10] = {0}, bad = 0;
    for (int i = 0; i < d.n; i++) {
        if (d.labels[i] < 0 || d.labels[i] > 9)
            bad++;
        else
            count[d.labels[i]]++;
    }
    CHECK(bad == 0, "%d labels outside 0..9", bad);
    for (int k = 0; k < 10; k++)
        CHECK(count[k] == want_n / 10, "class %d has %d images, want %d", k, count[k], want_n / 10);
    /* Real images: mostly black background, some bright pixels, not all one value. */
    size_t zeros = 0, bright = 0, total = (size_t)d.n * 28 * 28;
    for (size_t p = 0; p < total; p++) {
        zeros += d.pixels[p] == 0;
        bright += d.pixels[p] > 200;
    }
    CHECK(zeros > total / 10 && zeros < total * 9 / 10, "%zu of %zu pixels are 0", zeros, total);
    CHECK(bright > total / 100, "%zu of %zu pixels are > 200", bright, total);
    sg_dataset_close(&d);
}

int main(void) {
    struct stat st;
    if (stat(SG_FASHION_MNIST_DIR, &st) != 0)
        TEST_SKIP("%s does not exist (install Debian's dataset-fashion-mnist to run this test)",
                  SG_FASHION_MNIST_DIR);
    check_split(1);
    check_split(0);
    return test_finish();
}
