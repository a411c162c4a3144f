/* aug_grayscale: luma 0.299 R + 0.587 G + 0.114 B into all three channels; known colours and the
 * double reference on random images. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* A constant-colour image in[3, H*W]. */
static void fill_colour(float *img, size_t n, float r, float g, float b) {
    for (size_t p = 0; p < n; p++) {
        img[p] = r;
        img[n + p] = g;
        img[2 * n + p] = b;
    }
}

static int all_equal(const float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != v) return 0;
    return 1;
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_grayscale != NULL, "cpu backend lacks aug_grayscale");

    /* Pure primaries give their weights exactly, in all three channels. */
    {
        const int H = 5, W = 11;
        const size_t n = (size_t)H * W;
        float img[3 * 5 * 11];
        fill_colour(img, n, 1, 0, 0);
        sg_aug_grayscale(be, H, W, img);
        CHECK(all_equal(img, 3 * n, 0.299f), "red -> %.9g, want 0.299", (double)img[0]);
        fill_colour(img, n, 0, 1, 0);
        sg_aug_grayscale(be, H, W, img);
        CHECK(all_equal(img, 3 * n, 0.587f), "green -> %.9g, want 0.587", (double)img[0]);
        fill_colour(img, n, 0, 0, 1);
        sg_aug_grayscale(be, H, W, img);
        CHECK(all_equal(img, 3 * n, 0.114f), "blue -> %.9g, want 0.114", (double)img[0]);
        fill_colour(img, n, 1, 1, 1);
        sg_aug_grayscale(be, H, W, img);
        CHECK(fabsf(img[0] - 1.0f) <= 1e-7f && all_equal(img, 3 * n, img[0]),
              "white -> %.9g, want 1", (double)img[0]);
    }

    sg_rng r;
    sg_rng_init(&r, 13, 0, 0, 0);
    for (int trial = 0; trial < 8; trial++) {
        int H = tu_randint(&r, 1, 40), W = tu_randint(&r, 1, 40);
        size_t n = (size_t)H * W;
        float *img = tu_alloc(3 * n * sizeof(float));
        double *ref = tu_alloc(3 * n * sizeof(double));
        tu_fill(img, 3 * n, 400 + trial, 1, 0.0f, 1.0f);
        tu_f2d(img, ref, 3 * n);
        sg_aug_grayscale(be, H, W, img);
        ref_aug_grayscale(H, W, ref);
        CHECK(tu_close_fd("grayscale", img, ref, 3 * n, 3e-7, 0.0), "trial %d %dx%d", trial, H, W);
        CHECK(memcmp(img, img + n, n * sizeof(float)) == 0 &&
                  memcmp(img, img + 2 * n, n * sizeof(float)) == 0,
              "trial %d: channels differ", trial);
        free(img);
        free(ref);
    }
    return test_finish();
}
