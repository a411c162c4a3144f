/* aug_resized_crop: bilinear, align_corners=False, clamped into the crop box. Known images
 * (checkerboard squares at scale 1, a hand-computed 2x upscale, the identity), the crop-then-resize
 * property torchvision's RandomResizedCrop has, and the double reference on random images, boxes
 * (integer and fractional) and output sizes. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_resized_crop != NULL, "cpu backend lacks aug_resized_crop");

    /* Checkerboard of 4x4 squares (channel 1 inverted): integer boxes at scale 1 copy pixels. */
    {
        enum { C = 2, H = 16, W = 20 };
        static float board[C * H * W];
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    board[(c * H + y) * W + x] = (float)(((y / 4 + x / 4) % 2) ^ c);
        const int boxes[][4] = {{4, 8, 8, 4}, {0, 0, 16, 20}, {3, 5, 7, 9}, {12, 16, 4, 4}};
        for (int bi = 0; bi < 4; bi++) {
            const int y0 = boxes[bi][0], x0 = boxes[bi][1], h = boxes[bi][2], w = boxes[bi][3];
            float out[C * H * W];
            sg_aug_resized_crop(be, C, H, W, board, (float)y0, (float)x0, (float)h, (float)w, h, w,
                                 out);
            int same = 1;
            for (int c = 0; c < C; c++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        same &= out[(c * h + i) * w + j] == board[(c * H + y0 + i) * W + x0 + j];
            CHECK(same, "box %d (%d,%d,%d,%d) at scale 1 is not the board's squares", bi, y0, x0, h,
                  w);
        }
    }

    /* 2x upscale of [[0, 1], [0.5, 0.25]]: sample rows/columns at -0.25 (clamped to 0), 0.25,
     * 0.75, 1.25 (clamped to 1), so weights (1,0) (.75,.25) (.25,.75) (0,1). Dyadic: exact. */
    {
        const float src[4] = {0.0f, 1.0f, 0.5f, 0.25f};
        const float want[16] = {0.0f,   0.25f,     0.75f,     1.0f,    //
                                0.125f, 0.296875f, 0.640625f, 0.8125f, //
                                0.375f, 0.390625f, 0.421875f, 0.4375f, //
                                0.5f,   0.4375f,   0.3125f,   0.25f};
        float out[16];
        sg_aug_resized_crop(be, 1, 2, 2, src, 0, 0, 2, 2, 4, 4, out);
        for (int i = 0; i < 16; i++)
            CHECK(out[i] == want[i], "2x upscale [%d][%d] = %.9g, want %.9g", i / 4, i % 4,
                  (double)out[i], (double)want[i]);
    }

    sg_rng r;
    sg_rng_init(&r, 23, 0, 0, 0);

    /* The full box at the input size is the identity. */
    {
        const int C = 3, H = 13, W = 21;
        float *src = tu_alloc((size_t)C * H * W * sizeof(float));
        float *dst = tu_alloc((size_t)C * H * W * sizeof(float));
        tu_fill(src, (size_t)C * H * W, 600, 1, 0.0f, 1.0f);
        sg_aug_resized_crop(be, C, H, W, src, 0, 0, (float)H, (float)W, H, W, dst);
        CHECK(memcmp(src, dst, (size_t)C * H * W * sizeof(float)) == 0, "full crop not identity");
        free(src);
        free(dst);
    }

    /* Crop, then resize (torchvision): pixels outside an integer box never contribute, so the
     * result equals resizing a copy of just the box. */
    for (int trial = 0; trial < 6; trial++) {
        const int C = 2, H = tu_randint(&r, 6, 30), W = tu_randint(&r, 6, 30);
        const int h = tu_randint(&r, 1, H), w = tu_randint(&r, 1, W);
        const int y0 = tu_randint(&r, 0, H - h), x0 = tu_randint(&r, 0, W - w);
        const int outH = tu_randint(&r, 1, 40), outW = tu_randint(&r, 1, 40);
        float *src = tu_alloc((size_t)C * H * W * sizeof(float));
        float *box = tu_alloc((size_t)C * h * w * sizeof(float));
        float *a = tu_alloc((size_t)C * outH * outW * sizeof(float));
        float *b = tu_alloc((size_t)C * outH * outW * sizeof(float));
        tu_fill(src, (size_t)C * H * W, 610 + trial, 1, 0.0f, 1.0f);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < h; y++)
                memcpy(box + ((size_t)c * h + y) * w, src + ((size_t)c * H + y0 + y) * W + x0,
                       (size_t)w * sizeof(float));
        sg_aug_resized_crop(be, C, H, W, src, (float)y0, (float)x0, (float)h, (float)w, outH, outW,
                             a);
        sg_aug_resized_crop(be, C, h, w, box, 0, 0, (float)h, (float)w, outH, outW, b);
        double *bd = tu_alloc((size_t)C * outH * outW * sizeof(double));
        tu_f2d(b, bd, (size_t)C * outH * outW);
        /* same samples up to the float rounding of the box offset in the source coordinate */
        CHECK(tu_close_fd("crop-then-resize", a, bd, (size_t)C * outH * outW, 1e-5, 0.0),
              "trial %d: box (%d,%d,%d,%d) of %dx%d -> %dx%d", trial, y0, x0, h, w, H, W, outH,
              outW);
        free(src);
        free(box);
        free(a);
        free(b);
        free(bd);
    }

    /* Against the double reference: integer and fractional boxes, up- and downscaling. */
    for (int trial = 0; trial < 24; trial++) {
        const int C = tu_randint(&r, 1, 3), H = tu_randint(&r, 2, 40), W = tu_randint(&r, 2, 40);
        float h, w, y0, x0;
        if (trial % 2 == 0) {
            int hi = tu_randint(&r, 1, H), wi = tu_randint(&r, 1, W);
            h = (float)hi;
            w = (float)wi;
            y0 = (float)tu_randint(&r, 0, H - hi);
            x0 = (float)tu_randint(&r, 0, W - wi);
        } else {
            h = (float)sg_rng_uniform_range(&r, 0.5, H);
            w = (float)sg_rng_uniform_range(&r, 0.5, W);
            y0 = (float)sg_rng_uniform_range(&r, 0.0, H - (double)h);
            x0 = (float)sg_rng_uniform_range(&r, 0.0, W - (double)w);
        }
        const int outH = tu_randint(&r, 1, 48), outW = tu_randint(&r, 1, 48);
        const size_t nin = (size_t)C * H * W, nout = (size_t)C * outH * outW;
        float *src = tu_alloc(nin * sizeof(float)), *dst = tu_alloc(nout * sizeof(float));
        double *dsrc = tu_alloc(nin * sizeof(double)), *ref = tu_alloc(nout * sizeof(double));
        tu_fill(src, nin, 700 + trial, 1, 0.0f, 1.0f);
        tu_f2d(src, dsrc, nin);
        sg_aug_resized_crop(be, C, H, W, src, y0, x0, h, w, outH, outW, dst);
        ref_aug_resized_crop(C, H, W, dsrc, y0, x0, h, w, outH, outW, ref);
        /* float source coordinates (|s| < 40: rounding ~2e-6) times pixel differences <= 1 */
        CHECK(tu_close_fd("resized crop", dst, ref, nout, 5e-6, 0.0),
              "trial %d: %dx%dx%d box (%g,%g,%g,%g) -> %dx%d", trial, C, H, W, (double)y0,
              (double)x0, (double)h, (double)w, outH, outW);
        free(src);
        free(dst);
        free(dsrc);
        free(ref);
    }
    return test_finish();
}
