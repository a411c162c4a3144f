/* tests/fuzz/fuzz_idx.c: the idx reader, gzip'd or not (core/data/idx.c).
 * Input: [images length: 4 bytes, little-endian][images file][labels file]; either file may be a
 * gzip stream or plain. Whatever it accepts must agree with its header and hold every label. */
#include "fuzz.h"

#include "core/data/dataset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t ilen =
        (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
    if (ilen > size - 4) ilen = size - 4;
    char images[512], labels[512];
    fz_write("images-idx3-ubyte", data + 4, ilen, images, sizeof images);
    fz_write("labels-idx1-ubyte", data + 4 + ilen, size - 4 - ilen, labels, sizeof labels);
    sg_dataset d;
    sg_err err;
    if (sg_dataset_open_idx(&d, images, labels, &err) == 0) {
        FZ_ASSERT(d.n >= 1 && d.C == 1 && d.H >= 1 && d.W >= 1, "shape %dx%dx%d", d.n, d.H, d.W);
        int maxl = -1;
        for (int i = 0; i < d.n; i++) maxl = d.labels[i] > maxl ? d.labels[i] : maxl;
        FZ_ASSERT(maxl >= 0 && maxl <= 255 && d.nclasses == maxl + 1,
                  "%d classes, largest label %d", d.nclasses, maxl);
        sg_dataset_close(&d);
    }
    return 0;
}
