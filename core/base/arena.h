/* core/base/arena.h: aligned allocation, tensor shapes and the arena.
 *
 * Nothing is allocated inside a training step: a model is built once against an arena. Building
 * twice keeps sizing honest: first with a measuring arena (no memory; it only adds up sizes),
 * then for real with exactly that capacity. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

#define SG_ALIGN 64

/* 64-byte aligned, zero-filled; NULL on failure. */
void *sg_aligned_alloc(size_t bytes);
void sg_aligned_free(void *p);

typedef struct {
    char *base;
    size_t cap, used, peak;
    int measuring; /* 1: hands out NULL and only counts */
    int borrowed;  /* 1: base belongs to the caller (device memory, say); free leaves it */
} sg_arena;

/* A real arena of `cap` bytes (zero-filled). */
int sg_arena_init(sg_arena *a, size_t cap, sg_err *err);
/* An arena over `cap` bytes the caller owns and frees (e.g. a backend's device memory: the
 * arena only does the bookkeeping, it never touches the bytes). */
void sg_arena_init_over(sg_arena *a, void *base, size_t cap);
/* A measuring arena: allocations return NULL, `used`/`peak` add up what a real one needs. */
void sg_arena_init_measure(sg_arena *a);
void sg_arena_free(sg_arena *a);
/* `bytes` rounded up to SG_ALIGN. Running out is a sizing bug: it aborts with the numbers. */
void *sg_arena_alloc(sg_arena *a, size_t bytes);
#define SG_ARENA_NEW(a, type, count) ((type *)sg_arena_alloc((a), sizeof(type) * (size_t)(count)))
/* Scoped scratch: mark, allocate, reset back to the mark. */
static inline size_t sg_arena_mark(const sg_arena *a) { return a->used; }
void sg_arena_reset(sg_arena *a, size_t mark);

/* Up to 4 dims, row-major. */
typedef struct {
    int ndim;
    int64_t d[4];
} sg_shape;

sg_shape sg_shape1(int64_t a);
sg_shape sg_shape2(int64_t a, int64_t b);
sg_shape sg_shape4(int64_t n, int64_t c, int64_t h, int64_t w);
int64_t sg_shape_numel(sg_shape s);
int sg_shape_eq(sg_shape a, sg_shape b);
/* "[64,3,96,96]" */
const char *sg_shape_str(sg_shape s, char *buf, size_t len);

typedef struct {
    float *data;
    sg_shape shape;
} sg_tensor;

sg_tensor sg_tensor_new(sg_arena *a, sg_shape s);
