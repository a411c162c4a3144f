/* core/base/arena.c: aligned allocation, shapes and the bump arena. */
#include "core/base/arena.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t round_up(size_t n) { return (n + SG_ALIGN - 1) / SG_ALIGN * SG_ALIGN; }

void *sg_aligned_alloc(size_t bytes) {
    size_t n = round_up(bytes ? bytes : 1);
    void *p = aligned_alloc(SG_ALIGN, n);
    if (p) memset(p, 0, n);
    return p;
}

void sg_aligned_free(void *p) { free(p); }

int sg_arena_init(sg_arena *a, size_t cap, sg_err *err) {
    memset(a, 0, sizeof *a);
    a->base = sg_aligned_alloc(cap);
    if (!a->base)
        return sg_errf(err, "out of memory: could not allocate an arena of %.1f MiB",
                       (double)cap / (1024.0 * 1024.0));
    a->cap = round_up(cap ? cap : 1);
    return 0;
}

void sg_arena_init_over(sg_arena *a, void *base, size_t cap) {
    memset(a, 0, sizeof *a);
    a->base = base;
    a->cap = cap;
    a->borrowed = 1;
}

void sg_arena_init_measure(sg_arena *a) {
    memset(a, 0, sizeof *a);
    a->measuring = 1;
}

void sg_arena_free(sg_arena *a) {
    if (!a->borrowed) sg_aligned_free(a->base);
    memset(a, 0, sizeof *a);
}

void *sg_arena_alloc(sg_arena *a, size_t bytes) {
    size_t n = round_up(bytes);
    size_t at = a->used;
    a->used += n;
    if (a->used > a->peak) a->peak = a->used;
    if (a->measuring) return NULL;
    SG_CHECK(a->used <= a->cap,
             "arena overflow: %zu bytes requested with %zu of %zu used (the arena was sized "
             "smaller than what the build allocates)",
             bytes, at, a->cap);
    return a->base + at;
}

void sg_arena_reset(sg_arena *a, size_t mark) {
    SG_CHECK(mark <= a->used, "arena reset to %zu beyond the %zu bytes in use", mark, a->used);
    a->used = mark;
}

sg_shape sg_shape1(int64_t a) { return (sg_shape){1, {a, 1, 1, 1}}; }
sg_shape sg_shape2(int64_t a, int64_t b) { return (sg_shape){2, {a, b, 1, 1}}; }
sg_shape sg_shape4(int64_t n, int64_t c, int64_t h, int64_t w) {
    return (sg_shape){4, {n, c, h, w}};
}

int64_t sg_shape_numel(sg_shape s) {
    int64_t n = 1;
    for (int i = 0; i < s.ndim; i++) n *= s.d[i];
    return n;
}

int sg_shape_eq(sg_shape a, sg_shape b) {
    if (a.ndim != b.ndim) return 0;
    for (int i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i]) return 0;
    return 1;
}

const char *sg_shape_str(sg_shape s, char *buf, size_t len) {
    size_t at = 0;
    if (len == 0) return buf;
    buf[0] = 0;
    at += (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < s.ndim && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%" PRId64, i ? "," : "", s.d[i]);
    if (at < len) snprintf(buf + at, len - at, "]");
    return buf;
}

sg_tensor sg_tensor_new(sg_arena *a, sg_shape s) {
    sg_tensor t = {SG_ARENA_NEW(a, float, sg_shape_numel(s)), s};
    return t;
}
