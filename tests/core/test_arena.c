/* Arena, aligned allocation and shapes. */
#include <stdint.h>

#include "core/base/arena.h"
#include "test_util.h"

/* Builds a "model" against an arena: the same sequence of allocations both passes make. */
static void build(sg_arena *a, float **w, float **b, int32_t **idx) {
    *w = SG_ARENA_NEW(a, float, 1000);
    *b = SG_ARENA_NEW(a, float, 3);
    *idx = SG_ARENA_NEW(a, int32_t, 77);
}

int main(void) {
    /* aligned allocation is aligned and zeroed */
    for (size_t n = 1; n < 5000; n += 997) {
        unsigned char *p = sg_aligned_alloc(n);
        CHECK(p != NULL, "alloc %zu", n);
        CHECK(((uintptr_t)p % SG_ALIGN) == 0, "alignment of %p", (void *)p);
        int zero = 1;
        for (size_t i = 0; i < n; i++) zero &= p[i] == 0;
        CHECK(zero, "zero-filled");
        sg_aligned_free(p);
    }

    /* measure then build: the real arena is exactly big enough, and every block is aligned */
    sg_arena m;
    sg_arena_init_measure(&m);
    float *w, *b;
    int32_t *idx;
    build(&m, &w, &b, &idx);
    CHECK(w == NULL && b == NULL && idx == NULL, "a measuring arena hands out NULL");
    CHECK(m.used == 4032 + 64 + 320, "measured %zu bytes", m.used);

    sg_arena a;
    sg_err err;
    CHECK(sg_arena_init(&a, m.peak, &err) == 0, "init: %s", err.msg);
    build(&a, &w, &b, &idx);
    CHECK(a.used == m.used, "real %zu vs measured %zu", a.used, m.used);
    CHECK((uintptr_t)b % SG_ALIGN == 0 && (uintptr_t)idx % SG_ALIGN == 0, "blocks aligned");
    CHECK((char *)b - (char *)w == 4032, "w occupies 4000 bytes rounded up to 4032");
    tu_fill(w, 1000, 1, 0, -1, 1);
    b[2] = 3.5f;
    CHECK(b[2] == 3.5f && w[999] != 0.0f, "memory usable");

    /* scoped scratch returns to the mark */
    size_t mark = sg_arena_mark(&a);
    CHECK(mark == a.used, "mark");
    sg_arena_reset(&a, 0);
    CHECK(a.used == 0 && a.peak == m.peak, "reset keeps the peak");
    sg_arena_free(&a);
    CHECK(a.base == NULL, "freed");

    /* shapes */
    sg_shape s = sg_shape4(64, 3, 96, 96);
    CHECK(sg_shape_numel(s) == 64LL * 3 * 96 * 96, "numel");
    char buf[64];
    CHECK(strcmp(sg_shape_str(s, buf, sizeof buf), "[64,3,96,96]") == 0, "str %s", buf);
    CHECK(sg_shape_eq(sg_shape2(4, 5), sg_shape2(4, 5)) && !sg_shape_eq(sg_shape2(4, 5), sg_shape2(5, 4)),
          "eq");
    CHECK(!sg_shape_eq(sg_shape1(20), sg_shape2(4, 5)), "rank differs");
    return test_finish();
}
