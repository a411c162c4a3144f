/* core/data/dataset.h: the dataset readers (STL-10, CIFAR-10/100, MNIST-style idx, ImageNet
 * folders, a synthetic generator) and writers of the same on-disk formats.
 *
 * Every dataset is a list of n images with 0-based labels (-1 = unlabeled). The small datasets
 * are read whole into one uint8 buffer, CHW row-major per image, so an image is a pointer:
 *     pixels[((i*C + c)*H + y)*W + x]                       pixels: [n, C, H, W] uint8
 * ImageNet is too large for that: it keeps the sorted file list and decodes one JPEG per call to
 * sg_dataset_image (C = 3, H and W vary per image; d->H = d->W = 0).
 *
 * Errors are for people: a missing dataset names the path looked at and how to get the data; a
 * truncated or malformed file names the file and the expected and actual size, magic or label.
 * The writers exist so that tests and users' smoke tests can produce the exact formats from
 * generated data; each file is written to a temporary name and renamed into place.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

typedef enum {
    SG_DS_STL10,
    SG_DS_CIFAR10,
    SG_DS_CIFAR100,
    SG_DS_IDX, /* MNIST, Fashion-MNIST */
    SG_DS_IMAGENET,
    SG_DS_SYNTHETIC
} sg_dataset_kind;

/* "stl10", "cifar10", "cifar100", "idx", "imagenet", "synthetic". */
const char *sg_dataset_kind_name(sg_dataset_kind kind);

/* ImageNet: JPEGs whose shorter side is at least twice this are decoded at 1/2, 1/4 or 1/8
 * scale (libjpeg's DCT scaling, nearly free) so that the shorter side stays >= this. 448 is
 * twice the 224 crop: typical ImageNet images (about 500x375) decode at full size and the few
 * multi-megapixel ones stop costing 50+ MB of decode each. Set d->min_side to change it, 0 never
 * scales. */
#define SG_IMAGENET_MIN_SIDE 448

/* Bounds on what one JPEG may cost, so that a header claiming 65500x65500 is an error naming the
 * file instead of gigabytes of memory: at most SG_JPEG_MAX_PIXELS decoded pixels (after the
 * min_side scaling: 5792x5792, 100 MB of RGB; a 34000x34000 photo decodes at 1/8 to
 * 4250x4250 and passes), and at most SG_JPEG_MAX_DECODER_BYTES of libjpeg's own memory (a
 * progressive JPEG keeps every DCT coefficient of the full-size image: 6 bytes per pixel). */
#define SG_JPEG_MAX_PIXELS (1L << 25)
#define SG_JPEG_MAX_DECODER_BYTES (512L << 20)

#define SG_DATASET_PATH_MAX 4096

typedef struct {
    sg_dataset_kind kind;
    int n;        /* images */
    int C, H, W;  /* every image's shape; ImageNet: C = 3, H = W = 0 (per image) */
    int nclasses; /* labels are in [0, nclasses) or -1 */
    uint8_t *pixels; /* [n, C, H, W] uint8, CHW row-major per image; NULL for ImageNet */
    int32_t *labels; /* [n] 0-based class, -1 = unlabeled (STL-10's unlabeled split) */
    /* ImageNet only (NULL otherwise): files[n] full paths, sorted by class then name;
     * class_names[nclasses] the class folder names (wnids), sorted bytewise. */
    char **files;
    char **class_names;
    int min_side; /* ImageNet decode bound, see SG_IMAGENET_MIN_SIDE */
    char path[SG_DATASET_PATH_MAX]; /* what was opened (a folder or the images file) */
    char split[32];                 /* "train", "test", "unlabeled", "train+unlabeled", "" */
    /* private: string pools behind files / class_names */
    char *file_pool_;
    char *class_pool_;
} sg_dataset;

/* All openers zero *d first, and on failure leave it zeroed (sg_dataset_close is safe either
 * way). They return 0, or -1 with the message in err. */

/* STL-10 binary (stl10_binary/). split: "train" (5000), "test" (8000), "unlabeled" (100000) or
 * "train+unlabeled" (105000: train first, then unlabeled; pre-training uses this).
 * Files: dir/{train,test,unlabeled}_X.bin: uint8 3x96x96 per image, channel by channel and,
 * within a channel, COLUMN-major (transposed on read); dir/{train,test}_y.bin: one byte per
 * image, 1..10 (-> 0..9). Unlabeled images get label -1. 10 classes. */
int sg_dataset_open_stl10(sg_dataset *d, const char *dir, const char *split, sg_err *err);

/* CIFAR-10 binary (cifar-10-batches-bin/): train = data_batch_1..5.bin, test = test_batch.bin.
 * Records of 1 label byte (0..9) + 3072 bytes (R, G, B planes, 32x32 row-major). */
int sg_dataset_open_cifar10(sg_dataset *d, const char *dir, int train, sg_err *err);

/* CIFAR-100 binary (cifar-100-binary/): train.bin / test.bin, records of 1 coarse label byte
 * (0..19) + 1 fine label byte (0..99) + 3072 pixel bytes. fine != 0 picks the 100 fine labels,
 * else the 20 coarse ones. */
int sg_dataset_open_cifar100(sg_dataset *d, const char *dir, int train, int fine, sg_err *err);

/* MNIST-style idx files, gzip'd or not (zlib reads both): images = big-endian magic 0x00000803
 * (uint8, 3 dims), then n, rows, cols, then n*rows*cols bytes; labels = magic 0x00000801, n,
 * then n bytes. C = 1; nclasses = largest label + 1. */
int sg_dataset_open_idx(sg_dataset *d, const char *images_path, const char *labels_path,
                        sg_err *err);

/* Fashion-MNIST from dir (NULL: /usr/share/datasets/fashion-mnist, Debian's
 * dataset-fashion-mnist): {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (or the same names
 * without .gz). 60000 train / 10000 test images, 1x28x28, 10 classes. */
#define SG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
int sg_dataset_open_fashion_mnist(sg_dataset *d, const char *dir, int train, sg_err *err);

/* ImageNet-style folder: dir/<class>/<file>.JPEG (extension .jpeg or .jpg, any case). Classes
 * are the sub-folder names sorted bytewise (as torchvision's ImageFolder), files sorted within a
 * class, so the order and labels are deterministic. Hidden entries (.*) and other files are
 * ignored; a class folder without JPEGs is an error (it would shift every later label). Images
 * are decoded lazily by sg_dataset_image. d->min_side = SG_IMAGENET_MIN_SIDE. */
int sg_dataset_open_imagenet(sg_dataset *d, const char *dir, sg_err *err);

/* Synthetic images with learnable classes: each class is a random low-frequency pattern (a few
 * sinusoids per channel); an image is its class's pattern, circularly shifted by up to 1/8 of
 * the size, with random contrast and brightness and per-pixel noise. Labels are balanced
 * (class counts differ by at most 1) and shuffled. Deterministic from seed, whatever the
 * machine. */
int sg_dataset_synthetic(sg_dataset *d, int n, int C, int H, int W, int nclasses, uint64_t seed,
                         sg_err *err);

void sg_dataset_close(sg_dataset *d);

/* Image i as uint8 CHW into buf (capacity cap bytes); *C, *H, *W (any may be NULL) get its
 * shape. In-memory datasets copy. ImageNet decodes the JPEG with libjpeg: grayscale and CMYK
 * are converted to RGB; images whose shorter side is >= 2*d->min_side are decoded at a reduced
 * scale (see SG_IMAGENET_MIN_SIDE). A truncated or corrupt JPEG, or one beyond the bounds above,
 * is an error naming the file.
 * When cap is too small it fails and still reports the shape, so the caller can grow buf and
 * retry. Thread-safe: worker threads may call it concurrently (each with its own err). */
int sg_dataset_image(const sg_dataset *d, int i, uint8_t *buf, size_t cap, int *C, int *H,
                     int *W, sg_err *err);

/* The shape sg_dataset_image would produce for image i, without decoding the pixels (ImageNet
 * reads only the JPEG header). */
int sg_dataset_image_shape(const sg_dataset *d, int i, int *C, int *H, int *W, sg_err *err);

/* ---- writers: the exact on-disk formats, from CHW uint8 pixels and 0-based labels ----------
 * Each creates the folder (and its parents) when missing and writes every file to a temporary
 * name in the same folder before renaming it into place. */

/* dir/<split>_X.bin (pixels [n,3,96,96] -> column-major within each channel) and, unless split
 * is "unlabeled", dir/<split>_y.bin (labels[n] in 0..9 -> 1..10). split: train, test, unlabeled
 * (labels must be NULL for unlabeled). */
int sg_write_stl10(const char *dir, const char *split, int n, const uint8_t *pixels,
                   const int32_t *labels, sg_err *err);

/* train: data_batch_1..5.bin with the n images split as evenly as possible, in order (n >= 5);
 * test: test_batch.bin. pixels [n,3,32,32], labels[n] in 0..9. */
int sg_write_cifar10(const char *dir, int train, int n, const uint8_t *pixels,
                     const int32_t *labels, sg_err *err);

/* train.bin or test.bin: pixels [n,3,32,32], coarse[n] in 0..19, fine[n] in 0..99. */
int sg_write_cifar100(const char *dir, int train, int n, const uint8_t *pixels,
                      const int32_t *coarse, const int32_t *fine, sg_err *err);

/* idx images (magic 0x00000803, n, H, W) and labels (0x00000801, n) files: pixels [n,1,H,W],
 * labels[n] in 0..255. gzip != 0 writes gzip streams (the .gz files MNIST ships), else raw. */
int sg_write_idx(const char *images_path, const char *labels_path, int n, int H, int W,
                 const uint8_t *pixels, const int32_t *labels, int gzip, sg_err *err);

/* A baseline JPEG of pixels [C,H,W] (C = 1 grayscale or 3 RGB), quality 1..100, no chroma
 * subsampling (4:4:4) so that quality 100 round-trips within a few levels. */
int sg_write_jpeg(const char *path, int C, int H, int W, const uint8_t *pixels, int quality,
                  sg_err *err);
