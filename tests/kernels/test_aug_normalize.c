/* aug_normalize: img[c] = (img[c] - mean[c]) / std[c] in place; known values with ImageNet's
 * statistics and the double reference on random images and statistics. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_normalize != NULL, "cpu backend lacks aug_normalize");

    /* A pixel equal to the mean maps to exactly 0, white to (1 - mean) / std. */
    {
        const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
        const int HW = 6;
        float img[3 * 6];
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < HW; p++) img[c * HW + p] = p % 2 ? 1.0f : mean[c];
        sg_aug_normalize(be, 3, HW, img, mean, std);
        for (int c = 0; c < 3; c++) {
            CHECK(img[c * HW] == 0.0f, "channel %d: mean maps to %g", c, (double)img[c * HW]);
            double white = (1.0 - (double)mean[c]) / (double)std[c];
            CHECK(fabs(img[c * HW + 1] - white) <= 1e-6 * white,
                  "channel %d: white -> %.9g want %.9g", c, (double)img[c * HW + 1], white);
        }
    }

    sg_rng r;
    sg_rng_init(&r, 9, 0, 0, 0);
    for (int trial = 0; trial < 8; trial++) {
        int C = tu_randint(&r, 1, 4), HW = tu_randint(&r, 1, 40 * 40 + 3);
        size_t n = (size_t)C * HW;
        float *img = tu_alloc(n * sizeof(float)), mean[4], std[4];
        double *ref = tu_alloc(n * sizeof(double)), dmean[4], dstd[4];
        tu_fill(img, n, 300 + trial, 1, 0.0f, 1.0f);
        tu_fill(mean, (size_t)C, 300 + trial, 2, 0.2f, 0.7f);
        tu_fill(std, (size_t)C, 300 + trial, 3, 0.1f, 0.4f);
        tu_f2d(img, ref, n);
        float *torch_order = tu_alloc(n * sizeof(float)); /* sub_(mean).div_(std) in float */
        for (size_t i = 0; i < n; i++)
            torch_order[i] = (img[i] - mean[i / (size_t)HW]) / std[i / (size_t)HW];
        tu_f2d(mean, dmean, (size_t)C);
        tu_f2d(std, dstd, (size_t)C);
        sg_aug_normalize(be, C, HW, img, mean, std);
        ref_aug_normalize(C, HW, ref, dmean, dstd);
        /* two float roundings, the first on a value <= 1 then scaled by 1/std <= 10 */
        CHECK(tu_close_fd("normalize", img, ref, n, 2e-6, 2e-7), "trial %d C=%d HW=%d", trial, C,
              HW);
        /* and bit for bit torch's two roundings (a true division, not a reciprocal multiply) */
        CHECK(memcmp(img, torch_order, n * sizeof(float)) == 0,
              "trial %d: not (x - m) / s in float", trial);
        free(torch_order);
        free(img);
        free(ref);
    }
    return test_finish();
}
