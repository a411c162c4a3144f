/* tests/fuzz/fuzz_cifar.c: the CIFAR-10 and CIFAR-100 readers (core/data/cifar.c).
 * Input: [mode: 1 byte][records]. mode % 5: 0 CIFAR-10 test (test_batch.bin), 1 CIFAR-10 train
 * (the records cut in five at fifths of their length: data_batch_1..5.bin), 2 CIFAR-100 test
 * fine, 3 CIFAR-100 train coarse, 4 CIFAR-100 test coarse. Whatever it accepts must hold every
 * record's pixels and label. */
#include "fuzz.h"

#include "core/data/dataset.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 5;
    const uint8_t *r = data + 1;
    size_t n = size - 1;
    sg_dataset d;
    sg_err err;
    int rc, rec = mode < 2 ? 3073 : 3074, label_at = 0;
    if (mode == 0) {
        fz_write("test_batch.bin", r, n, NULL, 0);
        rc = sg_dataset_open_cifar10(&d, fz_dir(), 0, &err);
    } else if (mode == 1) {
        for (int k = 0; k < 5; k++) {
            char name[32];
            snprintf(name, sizeof name, "data_batch_%d.bin", k + 1);
            size_t a = n * (size_t)k / 5, b = n * (size_t)(k + 1) / 5;
            fz_write(name, r + a, b - a, NULL, 0);
        }
        rc = sg_dataset_open_cifar10(&d, fz_dir(), 1, &err);
    } else {
        int train = mode == 3, fine = mode == 2;
        fz_write(train ? "train.bin" : "test.bin", r, n, NULL, 0);
        rc = sg_dataset_open_cifar100(&d, fz_dir(), train, fine, &err);
        label_at = fine;
    }
    if (rc == 0) {
        FZ_ASSERT(d.C == 3 && d.H == 32 && d.W == 32 && d.n >= 1, "shape");
        /* mode 1: the records of five files in order, each file whole records */
        size_t file = 0, at = 0, end = mode == 1 ? n / 5 : n;
        for (int i = 0; i < d.n; i++) {
            while (mode == 1 && at == end) {
                file++;
                at = n * file / 5;
                end = n * (file + 1) / 5;
            }
            FZ_ASSERT(at + (size_t)rec <= end, "record %d beyond its file", i);
            FZ_ASSERT(d.labels[i] == r[at + (size_t)label_at] && d.labels[i] < d.nclasses,
                      "label of record %d", i);
            FZ_ASSERT(!memcmp(d.pixels + (size_t)i * 3072, r + at + rec - 3072, 3072),
                      "pixels of record %d", i);
            at += (size_t)rec;
        }
        sg_dataset_close(&d);
    }
    return 0;
}
