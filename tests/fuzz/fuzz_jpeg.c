/* tests/fuzz/fuzz_jpeg.c: JPEG decoding as the training loader and the evaluation do it: the
 * input is an ImageNet image, fetched through the growing buffer (sg_image_buf_fetch, with the
 * decoded-pixel and decoder-memory bounds), then augmented and turned into an evaluation view on
 * the CPU backend. Even-sized inputs decode at full size (min_side 0), odd ones with the
 * default scaling, so both paths are exercised. */
#include "fuzz.h"

#include "core/data/augment.h"
#include "core/data/loader.h"
#include "kernels/backend.h"

static const sg_backend *be;
static sg_aug_recipe rec[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    be = sg_backend_get("cpu");
    for (int v = 0; v < 2; v++)
        if (!be || sg_aug_recipe_for("imagenet", v, 3, 32, &rec[v])) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("x.JPEG", data, size, path, sizeof path);
    char *files[1] = {path};
    int32_t labels[1] = {0};
    sg_dataset d = {.kind = SG_DS_IMAGENET,
                    .n = 1,
                    .C = 3,
                    .nclasses = 1,
                    .labels = labels,
                    .files = files,
                    .min_side = size % 2 ? SG_IMAGENET_MIN_SIDE : 0};
    sg_image_buf b = {0};
    int C, H, W;
    sg_err err;
    if (sg_image_buf_fetch(&b, &d, 0, 3, 32, &C, &H, &W, &err) == 0) {
        FZ_ASSERT(C == 3 && H >= 1 && W >= 1 && (long)H * W <= SG_JPEG_MAX_PIXELS,
                  "decoded %dx%dx%d", C, H, W);
        int sC, sH, sW;
        FZ_ASSERT(sg_dataset_image_shape(&d, 0, &sC, &sH, &sW, &err) == 0 && sC == C && sH == H &&
                      sW == W,
                  "the header-only shape %dx%dx%d differs from the decoded %dx%dx%d", sC, sH, sW, C,
                  H, W);
        float view[3 * 32 * 32];
        sg_augment(be, &rec[0], b.img, C, H, W, 1, 0, 0, 0, view, &b.scratch);
        sg_eval_view(be, &rec[0], 1, b.img, C, H, W, view, &b.scratch);
        for (size_t i = 0; i < sizeof view / sizeof view[0]; i++)
            FZ_ASSERT(view[i] == view[i], "NaN at %zu of the evaluation view", i);
    }
    sg_image_buf_free(&b);
    return 0;
}
