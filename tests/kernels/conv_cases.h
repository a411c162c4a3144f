/* tests/kernels/conv_cases.h: the geometries and helpers the three conv2d tests share. */
#pragma once
#include <string.h>

#include "gemm_impls.h"
#include "kernels/kernels.h"
#include "test_util.h"

typedef struct {
    int N, C, H, W, K, R, S, stride, pad;
    const char *what;
} conv_case;

/* Every ResNet geometry, plus the paths of the im2col + gemm implementation: images batched
 * into one gemm (small P*Q), several image groups with a partial last one (N*P*Q well above the
 * columns one gemm takes), one image per gemm (large P*Q), the 1x1 stride-1 direct path. */
static const conv_case fixed_cases[] = {
    {2, 3, 20, 17, 4, 7, 7, 2, 3, "7x7/2 pad 3 stem, non-square"},
    {3, 5, 12, 12, 6, 3, 3, 1, 1, "3x3/1 pad 1"},
    {2, 4, 11, 13, 5, 3, 3, 2, 1, "3x3/2 pad 1, odd non-square"},
    {3, 6, 9, 7, 5, 1, 1, 1, 0, "1x1/1, images batched"},
    {2, 4, 66, 64, 3, 1, 1, 1, 0, "1x1/1, large P*Q: gemm on the NCHW planes"},
    {3, 6, 10, 10, 4, 1, 1, 2, 0, "1x1/2"},
    {2, 2, 70, 66, 3, 3, 3, 1, 1, "3x3/1, large P*Q: one image per gemm"},
    {1000, 2, 3, 3, 3, 3, 3, 1, 1, "3x3/1 at 3x3: several image groups, partial last"},
    {7, 3, 6, 6, 4, 3, 3, 1, 1, "3x3/1 at 6x6"},
    {1, 3, 5, 9, 2, 3, 3, 1, 1, "one image, small P*Q"},
};
#define NFIXED (int)(sizeof fixed_cases / sizeof fixed_cases[0])
#define NRANDOM 8

/* A random small geometry with a non-empty output (odd filters, strides, paddings). */
static conv_case random_case(sg_rng *r) {
    for (;;) {
        conv_case c = {tu_randint(r, 1, 5),  tu_randint(r, 1, 7),
                       tu_randint(r, 1, 14), tu_randint(r, 1, 14),
                       tu_randint(r, 1, 7),  tu_randint(r, 1, 5),
                       tu_randint(r, 1, 5),  tu_randint(r, 1, 3),
                       tu_randint(r, 0, 2),  "random"};
        if (c.H + 2 * c.pad >= c.R && c.W + 2 * c.pad >= c.S) return c;
    }
}

static sg_conv_shape make_shape(const conv_case *c) {
    return sg_conv_shape_make(c->N, c->C, c->H, c->W, c->K, c->R, c->S, c->stride, c->pad);
}

static size_t x_count(const sg_conv_shape *s) { return (size_t)s->N * s->C * s->H * s->W; }
static size_t w_count(const sg_conv_shape *s) { return (size_t)s->K * s->C * s->R * s->S; }
static size_t y_count(const sg_conv_shape *s) { return (size_t)s->N * s->K * s->P * s->Q; }

/* float32 vs the double reference: an output sums `terms` products of values in [-1, 1]; the
 * tolerance grows linearly with the sum length, well above the ~sqrt growth seen in practice
 * and far below the O(0.1) error of any indexing mistake. */
static int close_enough(const char *what, const float *got, const double *want, size_t n,
                        double terms) {
    return tu_close_fd(what, got, want, n, 1e-5 + 3e-7 * terms, 1e-5);
}

/* ---- the loops the three tests share -------------------------------------------------------- */

/* One pass of the backend against the reference on one geometry (the test's check_case). */
typedef void (*conv_check_fn)(const sg_backend *be, const conv_case *c, uint64_t seed, int threads);

/* The fixed cases and NRANDOM random ones drawn from rng_seed, at 1 and 2 threads. */
static inline void conv_run_cases(const sg_backend *be, uint64_t rng_seed, conv_check_fn check) {
    conv_case cases[NFIXED + NRANDOM];
    memcpy(cases, fixed_cases, sizeof fixed_cases);
    sg_rng r;
    sg_rng_init(&r, rng_seed, 0, 0, 0);
    for (int i = 0; i < NRANDOM; i++) cases[NFIXED + i] = random_case(&r);
    FOR_EACH_GEMM_IMPL {
        for (int threads = 1; threads <= 2; threads++) {
            sg_cpu_set_threads(threads);
            for (int i = 0; i < NFIXED + NRANDOM; i++)
                check(be, &cases[i], 100 + (uint64_t)i, threads);
        }
    }
}

/* Finite differences run on tiny versions of each geometry and a few odd ones. */
static inline void conv_run_tiny(void (*check)(const conv_case *c, uint64_t seed)) {
    static const conv_case tiny[] = {
        {2, 2, 9, 8, 3, 7, 7, 2, 3, "tiny 7x7/2"}, {2, 2, 5, 4, 2, 3, 3, 1, 1, "tiny 3x3/1"},
        {2, 2, 5, 6, 3, 3, 3, 2, 1, "tiny 3x3/2"}, {2, 3, 3, 4, 2, 1, 1, 1, 0, "tiny 1x1/1"},
        {2, 3, 5, 4, 2, 1, 1, 2, 0, "tiny 1x1/2"}, {1, 2, 4, 5, 2, 2, 3, 3, 2, "tiny odd"},
    };
    for (int i = 0; i < (int)(sizeof tiny / sizeof tiny[0]); i++)
        check(&tiny[i], 300 + (uint64_t)i);
}

/* Every conv pass does the same work: 2 N K P Q C R S FLOPs, x, w and y each moved once. */
static inline void conv_check_cost(const char *name, sg_cost (*cost)(const sg_conv_shape *)) {
    sg_conv_shape s = sg_conv_shape_make(64, 64, 24, 24, 128, 3, 3, 2, 1);
    sg_cost c = cost(&s);
    double flops = 2.0 * 64 * 128 * 12 * 12 * 64 * 3 * 3;
    double bytes = 4.0 * (64.0 * 64 * 24 * 24 + 128.0 * 64 * 3 * 3 + 64.0 * 128 * 12 * 12);
    CHECK(c.flops == flops, "%s flops %.17g, want %.17g", name, c.flops, flops);
    CHECK(c.bytes == bytes, "%s bytes %.17g, want %.17g", name, c.bytes, bytes);
}
