/* Augmentation on a device backend (sg_loader_augment_on, data.augment_on=backend; each view
 * of the batch in one aug_views call): on the staged backend (the CPU kernels behind the
 * device-memory protocol) the views are the workers' (sg_augment, image by image) bit for bit, with and without workers, in any step order, for a colour recipe (CIFAR's: crop,
 * flip, jitter, grayscale) and a grey one (Fashion-MNIST's, widened to three channels where
 * its recipe does, with blur and solarize added); the device buffers are the backend's. */
#include "core/data/loader.h"
#include "kernels/backend.h"
#include "test_backend.h"
#include "test_util.h"

static void compare(const sg_dataset *d, const sg_aug_recipe rec[2], int C, int S, int workers,
                    const char *what) {
    const sg_backend *cpu = sg_backend_get("cpu"), *dev = tb_staged();
    const int B = 6;
    const size_t n = (size_t)B * C * S * S;
    sg_loader *host, *ondev;
    sg_err err;
    CHECK(sg_loader_open(&host, d, rec, B, 2, 9, 0, cpu, &err) == 0, "open: %s", err.msg);
    CHECK(sg_loader_open(&ondev, d, rec, B, workers, 9, 0, cpu, &err) == 0, "open: %s", err.msg);
    CHECK(sg_loader_augment_on(ondev, dev, &err) == 0, "%s: augment on staged: %s", what,
          err.msg);
    float *a0 = tu_alloc(n * 4), *a1 = tu_alloc(n * 4), *h0 = tu_alloc(n * 4),
          *h1 = tu_alloc(n * 4);
    float *d0 = dev->mem_alloc(dev, n * 4), *d1 = dev->mem_alloc(dev, n * 4);
    long order[] = {0, 1, 2, 5, 3, 3, 9, 0};
    int same = 1;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        double waited;
        CHECK(sg_loader_get(host, order[i], a0, a1, &waited, &err) == 0, "host get: %s", err.msg);
        CHECK(sg_loader_get(ondev, order[i], d0, d1, &waited, &err) == 0, "device get: %s",
              err.msg);
        dev->mem_download(dev, h0, d0, n * 4);
        dev->mem_download(dev, h1, d1, n * 4);
        same &= !memcmp(a0, h0, n * 4) && !memcmp(a1, h1, n * 4);
    }
    CHECK(same, "%s, %d worker(s): the device's views are the workers' bit for bit", what,
          workers);
    dev->mem_free(dev, d0), dev->mem_free(dev, d1);
    free(a0), free(a1), free(h0), free(h1);
    sg_loader_close(host);
    sg_loader_close(ondev);
}

int main(void) {
    (void)tb_backend; /* this test always uses the staged backend */
    sg_cpu_set_threads(2);
    sg_err err;
    sg_dataset rgb, grey;
    CHECK(sg_dataset_synthetic(&rgb, 40, 3, 20, 20, 5, 77, &err) == 0, "synthetic: %s", err.msg);
    CHECK(sg_dataset_synthetic(&grey, 40, 1, 24, 24, 5, 78, &err) == 0, "synthetic: %s", err.msg);
    sg_aug_recipe rec[2], recg[2];
    CHECK(sg_aug_recipe_for("cifar10", 0, 3, 16, &rec[0]) == 0, "cifar recipe");
    CHECK(sg_aug_recipe_for("cifar10", 1, 3, 16, &rec[1]) == 0, "cifar recipe view 1");
    CHECK(sg_aug_recipe_for("fashion_mnist", 0, 1, 16, &recg[0]) == 0, "fashion_mnist recipe");
    CHECK(sg_aug_recipe_for("fashion_mnist", 1, 1, 16, &recg[1]) == 0, "its view 1");
    /* every step of the grey recipe too: blur and solarize as in ImageNet's view 1 */
    for (int v = 0; v < 2; v++) {
        recg[v].blur_p = 0.5;
        recg[v].solarize_p = 0.3;
        if (recg[v].blur_ksize < 3) recg[v].blur_ksize = 3;
        if (recg[v].blur_sigma_max <= 0) recg[v].blur_sigma_min = 0.1, recg[v].blur_sigma_max = 2;
    }
    const int gC = recg[0].out_channels > 0 ? recg[0].out_channels : 1;
    for (int workers = 0; workers <= 2; workers += 2) {
        compare(&rgb, rec, 3, 16, workers, "colour images, CIFAR's recipe");
        compare(&grey, recg, gC, 16, workers, "grey images, Fashion-MNIST's recipe with blur");
    }
    sg_dataset_close(&rgb);
    sg_dataset_close(&grey);
    return test_finish();
}
