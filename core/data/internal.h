/* core/data/internal.h: helpers shared by the readers and writers of core/data (not public). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/err.h"
#include "core/data/dataset.h"

/* out = dir + "/" + name; an error naming both when it does not fit. */
int sgd_path_join(char *out, size_t cap, const char *dir, const char *name, sg_err *err);

/* Opens path, a regular file of a dataset (what: "STL-10"), read-only, and its size
 * (core/base/file.h's sg_open_regular: never blocks, refuses folders, FIFOs and devices). A
 * missing file is "<what> not found: <path> does not exist[ (nor does the folder <dir>)];
 * <how_to_get>"; anything else "<what>: <path> is a FIFO, expected a regular file" and the like.
 * Returns the descriptor, or -1. */
int sgd_open(const char *path, const char *what, const char *how_to_get, int64_t *size,
             sg_err *err);
/* The same as a stdio stream ("rb"), or NULL. */
FILE *sgd_fopen(const char *path, const char *what, const char *how_to_get, int64_t *size,
                sg_err *err);
/* A dataset folder: 0 when dir is one, else -1 with the same kinds of messages. */
int sgd_check_folder(const char *dir, const char *what, const char *how_to_get, sg_err *err);

/* The message of sgd_open's failures, from errno (ENOENT, ENOTDIR: the not-found message) and,
 * for the rest, the reason already in err. Returns -1. */
int sgd_not_found(sg_err *err, const char *what, const char *path, const char *how_to_get);

/* 0 when bytes fit in the machine's physical memory, else -1 with a clear error (what, the size
 * and the machine's memory) instead of the OOM killer later. */
int sgd_fits_memory(size_t bytes, const char *what, sg_err *err);

/* malloc of a dataset-sized buffer, checked by sgd_fits_memory first. */
void *sgd_big_alloc(size_t bytes, const char *what, sg_err *err);

/* Reads exactly bytes (in chunks, so multi-GB reads work) or fails naming path. */
int sgd_read_exact(FILE *f, void *buf, size_t bytes, const char *path, sg_err *err);

/* JPEG (jpeg.c). Decodes path into buf as RGB CHW, see sg_dataset_image; header_only fills only
 * the shape. */
int sgd_jpeg_decode(const char *path, int min_side, uint8_t *buf, size_t cap, int *C, int *H,
                    int *W, int header_only, sg_err *err);
