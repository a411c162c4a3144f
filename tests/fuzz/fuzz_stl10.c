/* tests/fuzz/fuzz_stl10.c: the STL-10 reader (core/data/stl10.c).
 * Input: [split: 1 byte][labels length: 2 bytes, little-endian][labels][images]. The images
 * become <split>_X.bin (and unlabeled_X.bin for train+unlabeled), the labels <split>_y.bin.
 * Whatever it accepts must hold every image, transposed from the file's column-major layout,
 * with its label. */
#include "fuzz.h"

#include "core/data/dataset.h"

#define IMAGE 27648 /* 3 x 96 x 96 */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    static const char *const splits[] = {"train", "test", "unlabeled", "train+unlabeled"};
    const char *split = splits[data[0] % 4];
    size_t ylen = (size_t)data[1] | (size_t)data[2] << 8;
    if (ylen > size - 3) ylen = size - 3;
    const uint8_t *y = data + 3, *x = y + ylen;
    size_t xlen = size - 3 - ylen;
    char name[64];
    const char *part = data[0] % 4 == 3 ? "train" : split;
    snprintf(name, sizeof name, "%s_X.bin", part);
    fz_write(name, x, xlen, NULL, 0);
    snprintf(name, sizeof name, "%s_y.bin", part);
    fz_write(name, y, ylen, NULL, 0);
    if (data[0] % 4 == 3) fz_write("unlabeled_X.bin", x, xlen, NULL, 0);

    sg_dataset d;
    sg_err err;
    if (sg_dataset_open_stl10(&d, fz_dir(), split, &err) == 0) {
        size_t per = xlen / IMAGE;
        FZ_ASSERT(xlen % IMAGE == 0 && d.n == (int)(per * (data[0] % 4 == 3 ? 2 : 1)),
                  "%d images from %zu bytes", d.n, xlen);
        FZ_ASSERT(d.C == 3 && d.H == 96 && d.W == 96 && d.nclasses == 10, "shape");
        for (int i = 0; i < d.n; i++) {
            int unlabeled = !strcmp(split, "unlabeled") || (size_t)i >= per;
            FZ_ASSERT(unlabeled ? d.labels[i] == -1 : d.labels[i] == y[i] - 1,
                      "label %d of image %d", d.labels[i], i);
            const uint8_t *src = x + (size_t)(i % (int)per) * IMAGE;
            const uint8_t *img = d.pixels + (size_t)i * IMAGE;
            /* pixel (c, y, x) is byte c*9216 + x*96 + y of the file */
            for (int k = 0; k < IMAGE; k += 997) {
                int c = k / 9216, yy = (k % 9216) / 96, xx = k % 96;
                FZ_ASSERT(img[k] == src[c * 9216 + xx * 96 + yy], "pixel %d of image %d", k, i);
            }
        }
        sg_dataset_close(&d);
    }
    return 0;
}
