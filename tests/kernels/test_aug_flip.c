/* aug_hflip: left-right mirror, out of place and in place; a known gradient and the double
 * reference on random images of odd and even widths. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_hflip != NULL, "cpu backend lacks aug_hflip");

    /* A horizontal gradient flips into the reversed gradient, in every row and channel. */
    {
        const int C = 3, H = 4, W = 9;
        float src[3 * 4 * 9], dst[3 * 4 * 9];
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) src[(c * H + y) * W + x] = (float)x / (float)(W - 1);
        sg_aug_hflip(be, C, H, W, src, dst);
        int reversed = 1;
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    reversed &= dst[(c * H + y) * W + x] == (float)(W - 1 - x) / (float)(W - 1);
        CHECK(reversed, "gradient not reversed");
        sg_aug_hflip(be, C, H, W, src, src); /* in place */
        CHECK(memcmp(src, dst, sizeof dst) == 0, "in-place flip differs from out-of-place");
    }

    sg_rng r;
    sg_rng_init(&r, 17, 0, 0, 0);
    for (int trial = 0; trial < 10; trial++) {
        int C = tu_randint(&r, 1, 3), H = tu_randint(&r, 1, 24);
        int W = trial < 2 ? 1 + trial : tu_randint(&r, 1, 70); /* widths 1 and 2 included */
        size_t n = (size_t)C * H * W;
        float *src = tu_alloc(n * sizeof(float)), *dst = tu_alloc(n * sizeof(float));
        float *inplace = tu_alloc(n * sizeof(float));
        double *dsrc = tu_alloc(n * sizeof(double)), *ref = tu_alloc(n * sizeof(double));
        tu_fill(src, n, 500 + trial, 1, 0.0f, 1.0f);
        tu_f2d(src, dsrc, n);
        memcpy(inplace, src, n * sizeof(float));
        sg_aug_hflip(be, C, H, W, src, dst);
        sg_aug_hflip(be, C, H, W, inplace, inplace);
        ref_aug_hflip(C, H, W, dsrc, ref);
        /* a permutation: exact */
        CHECK(tu_close_fd("flip", dst, ref, n, 1e-30, 0.0), "trial %d %dx%dx%d", trial, C, H, W);
        CHECK(memcmp(inplace, dst, n * sizeof(float)) == 0, "trial %d: in place differs", trial);
        sg_aug_hflip(be, C, H, W, dst, dst);
        CHECK(memcmp(dst, src, n * sizeof(float)) == 0, "trial %d: flip twice != identity", trial);
        free(src);
        free(dst);
        free(inplace);
        free(dsrc);
        free(ref);
    }
    return test_finish();
}
