/* core/base/rng.h: counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * A value depends only on (key, counter), never on how many values were drawn elsewhere, so a
 * stream keyed by (seed, epoch, sample, view) gives the same augmentation whatever the thread
 * count or backend. Layout: key = the 64-bit seed; counter word 0 = draw index within the
 * stream, words 1..3 = the three stream ids. */
#pragma once
#include <stdint.h>

/* One Philox4x32-10 block: out = philox(ctr, key). Checked against the Random123
 * known-answer vectors in tests/core/test_rng.c. */
void sg_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

typedef struct {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int avail; /* unread words left in buf (taken from buf[4-avail]) */
} sg_rng;

/* The stream (seed; id0, id1, id2), e.g. (seed; epoch, sample, view). */
void sg_rng_init(sg_rng *r, uint64_t seed, uint32_t id0, uint32_t id1, uint32_t id2);

uint32_t sg_rng_u32(sg_rng *r);
/* Uniform in [0, 1) with 24 random bits (float) or 53 (double). */
float sg_rng_uniform(sg_rng *r);
double sg_rng_uniform_double(sg_rng *r);
/* Uniform in [lo, hi). */
double sg_rng_uniform_range(sg_rng *r, double lo, double hi);
/* Standard normal (Box-Muller on two 53-bit uniforms). */
double sg_rng_normal(sg_rng *r);
/* Uniform integer in [0, n), unbiased (rejection), n >= 1. */
uint32_t sg_rng_below(sg_rng *r, uint32_t n);
/* Fills x[n] with uniform values in [lo, hi) / N(mean, std^2). */
void sg_rng_fill_uniform(sg_rng *r, float *x, long n, float lo, float hi);
void sg_rng_fill_normal(sg_rng *r, float *x, long n, float mean, float std);
