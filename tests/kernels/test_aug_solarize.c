/* aug_solarize: x >= threshold -> 1 - x, in place; known values at threshold 0.5 and the double
 * reference on random images and thresholds. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_solarize != NULL, "cpu backend lacks aug_solarize");

    /* Threshold 0.5: values below stay, values at or above are inverted. */
    float x[] = {0.0f, 0.25f, 0.49f, 0.5f, 0.75f, 0.875f, 1.0f, 0.125f, 0.9f};
    const float want[] = {0.0f, 0.25f, 0.49f, 0.5f, 0.25f, 0.125f, 0.0f, 0.125f, 1.0f - 0.9f};
    const size_t nx = sizeof x / sizeof x[0];
    sg_aug_solarize(be, nx, x, 0.5f);
    for (size_t i = 0; i < nx; i++)
        CHECK(x[i] == want[i], "threshold 0.5: index %zu got %.9g want %.9g", i, (double)x[i],
              (double)want[i]);

    /* A pixel equal to the threshold is inverted (>=, not >). */
    float at[2] = {0.3f, 0.2999f};
    sg_aug_solarize(be, 2, at, 0.3f);
    CHECK(at[0] == 1.0f - 0.3f && at[1] == 0.2999f, "threshold 0.3: 0.3 -> %.9g, 0.2999 -> %.9g",
          (double)at[0], (double)at[1]);

    /* Threshold above every pixel: nothing changes; threshold 0: every pixel inverted. */
    sg_rng r;
    sg_rng_init(&r, 5, 0, 0, 0);
    {
        const size_t n = 3 * 17 * 13;
        float *img = tu_alloc(n * sizeof(float)), *orig = tu_alloc(n * sizeof(float));
        tu_fill(orig, n, 1, 1, 0.0f, 1.0f);
        memcpy(img, orig, n * sizeof(float));
        sg_aug_solarize(be, n, img, 1.5f);
        CHECK(memcmp(img, orig, n * sizeof(float)) == 0, "threshold 1.5 changed the image");
        sg_aug_solarize(be, n, img, 0.0f);
        int inverted = 1;
        for (size_t i = 0; i < n; i++) inverted &= img[i] == 1.0f - orig[i];
        CHECK(inverted, "threshold 0 did not invert every pixel");
        free(img);
        free(orig);
    }

    for (int trial = 0; trial < 8; trial++) {
        size_t n = (size_t)tu_randint(&r, 1, 3 * 40 * 40 + 5);
        float threshold = (float)sg_rng_uniform_range(&r, 0.0, 1.0);
        float *img = tu_alloc(n * sizeof(float));
        double *ref = tu_alloc(n * sizeof(double));
        tu_fill(img, n, 200 + trial, 2, 0.0f, 1.0f);
        tu_f2d(img, ref, n);
        sg_aug_solarize(be, n, img, threshold);
        ref_aug_solarize(n, ref, threshold);
        /* 1 - x in float is within half an ulp of 1 of the exact value */
        CHECK(tu_close_fd("solarize", img, ref, n, 6e-8, 0.0), "trial %d n=%zu threshold %g", trial,
              n, (double)threshold);
        free(img);
        free(ref);
    }
    return test_finish();
}
