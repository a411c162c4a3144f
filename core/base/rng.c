/* core/base/rng.c: Philox4x32-10 and the draws built on it. */
#include "core/base/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void sg_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

void sg_rng_init(sg_rng *r, uint64_t seed, uint32_t id0, uint32_t id1, uint32_t id2) {
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = id0;
    r->ctr[2] = id1;
    r->ctr[3] = id2;
    r->avail = 0;
}

uint32_t sg_rng_u32(sg_rng *r) {
    if (r->avail == 0) {
        sg_philox4x32_10(r->ctr, r->key, r->buf);
        r->ctr[0]++; /* 2^32 blocks = 2^34 values per stream, far beyond any use here */
        r->avail = 4;
    }
    return r->buf[4 - r->avail--];
}

float sg_rng_uniform(sg_rng *r) { return (float)(sg_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

double sg_rng_uniform_double(sg_rng *r) {
    uint64_t a = sg_rng_u32(r) >> 5, b = sg_rng_u32(r) >> 6; /* 27 + 26 = 53 bits */
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

double sg_rng_uniform_range(sg_rng *r, double lo, double hi) {
    return lo + (hi - lo) * sg_rng_uniform_double(r);
}

double sg_rng_normal(sg_rng *r) {
    /* Box-Muller, one value per call so the stream position is simple to reason about. */
    double u1 = sg_rng_uniform_double(r), u2 = sg_rng_uniform_double(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint32_t sg_rng_below(sg_rng *r, uint32_t n) {
    /* Lemire's multiply-shift with rejection of the biased low range. */
    uint64_t m = (uint64_t)sg_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)sg_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void sg_rng_fill_uniform(sg_rng *r, float *x, long n, float lo, float hi) {
    for (long i = 0; i < n; i++) x[i] = lo + (hi - lo) * sg_rng_uniform(r);
}

void sg_rng_fill_normal(sg_rng *r, float *x, long n, float mean, float std) {
    for (long i = 0; i < n; i++) x[i] = mean + std * (float)sg_rng_normal(r);
}
