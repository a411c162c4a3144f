/* The augmentation pipeline: views are a pure function of (seed, step) whatever the worker count
 * and the order steps are asked for; a step is a batch of distinct images, epochs are
 * permutations; the recipes follow RECIPE.md; the crop draw follows torchvision's rules. */
#include "core/data/loader.h"
#include "kernels/backend.h"
#include "test_util.h"

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    sg_dataset d;
    sg_err err;
    CHECK(sg_dataset_synthetic(&d, 50, 3, 20, 20, 5, 77, &err) == 0, "synthetic: %s", err.msg);
    sg_aug_recipe rec[2];
    CHECK(sg_aug_recipe_for("cifar10", 0, 3, 16, &rec[0]) == 0, "cifar recipe");
    CHECK(sg_aug_recipe_for("cifar10", 1, 3, 16, &rec[1]) == 0, "cifar recipe view 1");
    const int B = 8;
    const size_t n = (size_t)B * 3 * 16 * 16;
    sg_loader *L0, *L2, *L3;
    CHECK(sg_loader_open(&L0, &d, rec, B, 0, 5, 0, be, &err) == 0, "open inline: %s", err.msg);
    CHECK(sg_loader_open(&L2, &d, rec, B, 2, 5, 0, be, &err) == 0, "open 2 workers: %s", err.msg);
    CHECK(sg_loader_open(&L3, &d, rec, B, 3, 5, 40, be, &err) == 0, "open 3 workers: %s", err.msg);
    CHECK(sg_loader_steps_per_epoch(L0) == 6, "50 images / 8 = 6 full batches (last dropped)");
    CHECK(sg_loader_steps_per_epoch(L3) == 5, "limit 40 -> 5 batches");

    float *a0 = tu_alloc(n * 4), *a1 = tu_alloc(n * 4), *b0 = tu_alloc(n * 4), *b1 = tu_alloc(n * 4);
    double waited;
    int all_same = 1, views_differ = 1;
    /* steps in order, then out of order (a resume, a jump back): the same data */
    long order[] = {0, 1, 2, 3, 7, 8, 2, 13, 0};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        CHECK(sg_loader_get(L0, order[i], a0, a1, &waited, &err) == 0, "inline get: %s", err.msg);
        CHECK(sg_loader_get(L2, order[i], b0, b1, &waited, &err) == 0, "worker get: %s", err.msg);
        all_same &= same(a0, b0, n) && same(a1, b1, n);
        views_differ &= !same(a0, a1, n);
    }
    CHECK(all_same, "0 and 2 workers give identical views in any step order");
    CHECK(views_differ, "the two views of a batch differ");
    /* the limited loader sees only the first 40 images; its step 0 differs (other permutation
     * range) but is still deterministic */
    CHECK(sg_loader_get(L3, 0, a0, a1, &waited, &err) == 0, "limited get");
    CHECK(sg_loader_get(L3, 0, b0, b1, &waited, &err) == 0, "limited get again");
    CHECK(same(a0, b0, n) && same(a1, b1, n), "repeat of a step is identical");

    /* an epoch is a permutation: the 6 batches of epoch 1 hold 48 distinct images */
    int seen[50] = {0}, idx[8], dup = 0;
    for (long s = 6; s < 12; s++) {
        sg_loader_indices(L0, s, idx);
        for (int i = 0; i < B; i++) dup += seen[idx[i]]++ > 0;
    }
    int count = 0;
    for (int i = 0; i < 50; i++) count += seen[i];
    CHECK(dup == 0 && count == 48, "epoch 1 visits 48 distinct images (dup %d)", dup);
    int e0[8], e1[8];
    sg_loader_indices(L0, 0, e0);
    sg_loader_indices(L0, 6, e1);
    CHECK(memcmp(e0, e1, sizeof e0) != 0, "epochs are shuffled differently");

    /* values: normalised CIFAR views are centred around 0 with unit-ish spread */
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += a0[i];
    mean /= (double)n;
    CHECK(fabs(mean) < 1.5, "normalised view mean %g", mean);

    /* recipes */
    sg_aug_recipe r;
    CHECK(sg_aug_recipe_for("stl10", 0, 3, 96, &r) == 0 && r.blur_p == 1.0 && r.blur_ksize == 9 &&
              r.brightness == 0.8 && r.hue == 0.2 && !r.normalize,
          "STL-10: jitter 0.8/0.2, blur 9 always, no normalisation");
    CHECK(sg_aug_recipe_for("imagenet", 1, 3, 224, &r) == 0 && r.blur_p == 0.1 &&
              r.solarize_p == 0.2 && r.blur_ksize == 23,
          "ImageNet view 2: blur 0.1, solarise 0.2");
    CHECK(sg_aug_recipe_for("imagenet", 0, 3, 224, &r) == 0 && r.blur_p == 1.0 && r.solarize_p == 0,
          "ImageNet view 1: blur 1.0, no solarisation");
    CHECK(sg_aug_recipe_for("mnist-typo", 0, 1, 28, &r) == -1, "unknown dataset refused");

    /* crop draws stay inside the image with the area and ratio bounds */
    sg_aug_recipe_for("cifar10", 0, 3, 32, &r);
    sg_rng g;
    sg_rng_init(&g, 3, 0, 0, 0);
    int ok = 1;
    for (int t = 0; t < 2000; t++) {
        int box[4];
        sg_aug_draw_crop(&g, &r, 32, 40, box);
        ok &= box[0] >= 0 && box[1] >= 0 && box[0] + box[2] <= 32 && box[1] + box[3] <= 40;
        ok &= box[2] >= 1 && box[3] >= 1;
    }
    CHECK(ok, "crop boxes inside the image");

    sg_loader_close(L0);
    sg_loader_close(L2);
    sg_loader_close(L3);
    sg_dataset_close(&d);
    free(a0), free(a1), free(b0), free(b1);
    return test_finish();
}
