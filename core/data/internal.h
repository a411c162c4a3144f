/* core/data/internal.h: helpers shared by the readers and writers of core/data (not public). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/err.h"
#include "core/data/dataset.h"

/* out = dir + "/" + name; an error naming both when it does not fit. */
int sgd_path_join(char *out, size_t cap, const char *dir, const char *name, sg_err *err);

/* Size of the regular file at path into *size: 0, or -1 with errno set (ENOENT: missing,
 * EISDIR: a folder). */
int sgd_file_size(const char *path, int64_t *size);

/* "<what> not found: <path> does not exist[ (nor does its folder <dir>)]; <how_to_get>" or,
 * when it exists but cannot be used, why. Always returns -1. Reads errno as left by
 * sgd_file_size / stat. */
int sgd_not_found(sg_err *err, const char *what, const char *path, const char *how_to_get);

/* malloc of a dataset-sized buffer: a clear error (what, the size and the machine's memory)
 * instead of the OOM killer when it cannot fit. */
void *sgd_big_alloc(size_t bytes, const char *what, sg_err *err);

/* Reads exactly bytes (in chunks, so multi-GB reads work) or fails naming path. */
int sgd_read_exact(FILE *f, void *buf, size_t bytes, const char *path, sg_err *err);

/* JPEG (jpeg.c). Decodes path into buf as RGB CHW, see sg_dataset_image; header_only fills only
 * the shape. */
int sgd_jpeg_decode(const char *path, int min_side, uint8_t *buf, size_t cap, int *C, int *H,
                    int *W, int header_only, sg_err *err);
