/* tests/core/test_rng.c: the counter-based RNG (core/base/rng.c).
 * Philox4x32-10 against the published known-answer vectors, the stream layout documented in
 * rng.h (a value depends only on seed, ids and position), and the distributions of the draws
 * built on it. Every statistical bound is about 5 standard deviations wide and every seed is
 * fixed, so the test is deterministic and a pass is not luck. */
#include "core/base/rng.h"
#include "test_util.h"

/* Known answers for Philox4x32 with 10 rounds. Source: the kat_vectors file of the Random123
 * distribution (D. E. Shaw Research), lines "philox4x32 10", as cut and pasted into
 * DEShawResearch/Random123-Boost, libs/random/test/test_philox.cpp (test_kat_philox4x32). */
static const struct {
    uint32_t ctr[4], key[2], out[4];
} KAT[3] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

static void test_known_answers(void) {
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        sg_philox4x32_10(KAT[v].ctr, KAT[v].key, out);
        for (int w = 0; w < 4; w++)
            CHECK(out[w] == KAT[v].out[w], "vector %d word %d: got %08x want %08x", v, w, out[w],
                  KAT[v].out[w]);
    }
}

static void test_layout_and_determinism(void) {
    const uint64_t seed = 0x0123456789abcdefull;
    const uint32_t id0 = 7, id1 = 123456, id2 = 3;
    enum { N = 1000 };
    uint32_t a[N], b[N];
    sg_rng r;
    sg_rng_init(&r, seed, id0, id1, id2);
    for (int k = 0; k < N; k++) a[k] = sg_rng_u32(&r);
    sg_rng_init(&r, seed, id0, id1, id2);
    for (int k = 0; k < N; k++) b[k] = sg_rng_u32(&r);
    CHECK(memcmp(a, b, sizeof a) == 0, "the same stream twice differs");

    int mismatches = 0;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int k = 0; k < N; k++) {
        uint32_t ctr[4] = {(uint32_t)(k / 4), id0, id1, id2}, out[4];
        sg_philox4x32_10(ctr, key, out);
        mismatches += out[k % 4] != a[k];
    }
    CHECK(mismatches == 0, "%d of %d values differ from philox(ctr={k/4, ids}, key=seed)",
          mismatches, N);

    /* Interleaving draws from another stream changes nothing. */
    sg_rng r1, r2;
    sg_rng_init(&r1, seed, id0, id1, id2);
    sg_rng_init(&r2, seed, id0 + 1, id1, id2);
    int same = 1;
    for (int k = 0; k < N; k++) {
        same &= sg_rng_u32(&r1) == a[k];
        for (int j = 0; j <= k % 3; j++) (void)sg_rng_u32(&r2);
    }
    CHECK(same, "interleaved draws changed a stream");

    /* Draws of different kinds consume whole words in order: a double takes two u32s. */
    sg_rng_init(&r, seed, id0, id1, id2);
    double d = sg_rng_uniform_double(&r);
    double want = ((double)(a[0] >> 5) * 67108864.0 + (double)(a[1] >> 6)) / 9007199254740992.0;
    CHECK(d == want, "uniform_double %.17g want %.17g", d, want);
    CHECK(sg_rng_u32(&r) == a[2], "position after a double");
    float f = sg_rng_uniform(&r);
    CHECK(f == (float)(a[3] >> 8) / 16777216.0f, "uniform float from the 4th word");
    CHECK(sg_rng_u32(&r) == a[4], "next block starts at word 4");

    /* fill_* are the single draws in sequence. */
    float x[37], y[37];
    sg_rng_init(&r, seed, 1, 2, 3);
    sg_rng_fill_uniform(&r, x, 37, -2.0f, 3.0f);
    sg_rng_init(&r, seed, 1, 2, 3);
    for (int k = 0; k < 37; k++) y[k] = -2.0f + 5.0f * sg_rng_uniform(&r);
    CHECK(memcmp(x, y, sizeof x) == 0, "fill_uniform is not the uniform draws in sequence");
    sg_rng_init(&r, seed, 1, 2, 3);
    sg_rng_fill_normal(&r, x, 37, 0.5f, 2.0f);
    sg_rng_init(&r, seed, 1, 2, 3);
    for (int k = 0; k < 37; k++) y[k] = 0.5f + 2.0f * (float)sg_rng_normal(&r);
    CHECK(memcmp(x, y, sizeof x) == 0, "fill_normal is not the normal draws in sequence");
}

/* Streams that differ in any one of seed (low or high word), id0, id1, id2 share no values. */
static void test_streams_differ(void) {
    const uint64_t seed = 42;
    struct {
        uint64_t seed;
        uint32_t id[3];
    } s[6] = {
        {seed, {0, 0, 0}}, {seed + 1, {0, 0, 0}}, {seed | (1ull << 32), {0, 0, 0}},
        {seed, {1, 0, 0}}, {seed, {0, 1, 0}},     {seed, {0, 0, 1}},
    };
    enum { N = 64 };
    uint32_t v[6][N];
    for (int i = 0; i < 6; i++) {
        sg_rng r;
        sg_rng_init(&r, s[i].seed, s[i].id[0], s[i].id[1], s[i].id[2]);
        for (int k = 0; k < N; k++) v[i][k] = sg_rng_u32(&r);
    }
    for (int i = 0; i < 6; i++)
        for (int j = i + 1; j < 6; j++) {
            int equal = 0;
            for (int k = 0; k < N; k++) equal += v[i][k] == v[j][k];
            /* Two independent 32-bit words agree with probability 2^-32. */
            CHECK(equal == 0, "streams %d and %d agree in %d of %d positions", i, j, equal, N);
        }
}

static void test_uniform(void) {
    enum { N = 100000 };
    sg_rng r;
    sg_rng_init(&r, 2024, 1, 0, 0);
    double sum = 0, sum2 = 0, mn = 1, mx = 0;
    int bins[10] = {0}, off_grid = 0;
    for (int k = 0; k < N; k++) {
        float u = sg_rng_uniform(&r);
        if (u < mn) mn = u;
        if (u > mx) mx = u;
        sum += u;
        sum2 += ((double)u - 0.5) * ((double)u - 0.5);
        bins[(int)(u * 10)]++;
        /* 24 random bits: every value is a multiple of 2^-24. */
        off_grid += (double)u * 16777216.0 != floor((double)u * 16777216.0);
    }
    CHECK(mn >= 0 && mx < 1, "float uniform outside [0, 1): min %g max %g", mn, mx);
    CHECK(off_grid == 0, "%d float uniforms are not multiples of 2^-24", off_grid);
    /* mean: sd sqrt(1/12/N) = 9.1e-4; variance: sd sqrt(1/180/N) = 2.4e-4. */
    double mean = sum / N, var = sum2 / N;
    CHECK(fabs(mean - 0.5) < 5 * 9.2e-4, "float uniform mean %.5f", mean);
    CHECK(fabs(var - 1.0 / 12) < 5 * 2.4e-4, "float uniform variance %.5f (want %.5f)", var,
          1.0 / 12);
    /* Chi-square over 10 equal bins, 9 degrees of freedom: the 1e-5 quantile is about 40. */
    double chi2 = 0;
    for (int b = 0; b < 10; b++) chi2 += (bins[b] - N / 10.0) * (bins[b] - N / 10.0) / (N / 10.0);
    CHECK(chi2 < 40, "float uniform histogram chi2 %.2f", chi2);

    sg_rng_init(&r, 2024, 2, 0, 0);
    sum = sum2 = 0;
    mn = 1;
    mx = 0;
    int low_bits = 0;
    for (int k = 0; k < N; k++) {
        double u = sg_rng_uniform_double(&r);
        if (u < mn) mn = u;
        if (u > mx) mx = u;
        sum += u;
        sum2 += (u - 0.5) * (u - 0.5);
        /* Bits below 2^-32 are set about half the time when 53 bits are random. */
        double scaled = u * 4294967296.0;
        low_bits += scaled != floor(scaled);
    }
    mean = sum / N;
    var = sum2 / N;
    CHECK(mn >= 0 && mx < 1, "double uniform outside [0, 1): min %g max %g", mn, mx);
    CHECK(fabs(mean - 0.5) < 5 * 9.2e-4, "double uniform mean %.5f", mean);
    CHECK(fabs(var - 1.0 / 12) < 5 * 2.4e-4, "double uniform variance %.5f", var);
    CHECK(low_bits > N * 9 / 10, "only %d of %d doubles use bits below 2^-32", low_bits, N);

    /* Range version: [lo, hi) with mean (lo + hi) / 2. */
    sg_rng_init(&r, 2024, 3, 0, 0);
    sum = 0;
    int outside = 0;
    for (int k = 0; k < N; k++) {
        double u = sg_rng_uniform_range(&r, -3.0, 5.0);
        outside += u < -3.0 || u >= 5.0;
        sum += u;
    }
    CHECK(outside == 0, "%d uniform_range values outside [-3, 5)", outside);
    CHECK(fabs(sum / N - 1.0) < 5 * 8 * 9.2e-4, "uniform_range mean %.5f", sum / N);
}

static void test_normal(void) {
    enum { N = 100000 };
    sg_rng r;
    sg_rng_init(&r, 7, 0, 1, 0);
    double sum = 0, sum2 = 0, sum4 = 0;
    int within1 = 0, nonfinite = 0;
    for (int k = 0; k < N; k++) {
        double z = sg_rng_normal(&r);
        nonfinite += !isfinite(z);
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
        within1 += fabs(z) < 1.0;
    }
    double mean = sum / N, var = sum2 / N - mean * mean, kurt = sum4 / N;
    double frac = (double)within1 / N;
    CHECK(nonfinite == 0, "%d non-finite normals", nonfinite);
    /* mean: sd 1/sqrt(N) = 3.2e-3; variance: sd sqrt(2/N) = 4.5e-3; P(|z| < 1) = 0.682689,
     * sd sqrt(p(1-p)/N) = 1.5e-3; E z^4 = 3 with sd sqrt(96/N) = 0.031. */
    CHECK(fabs(mean) < 5 * 3.2e-3, "normal mean %.5f", mean);
    CHECK(fabs(var - 1) < 5 * 4.5e-3, "normal variance %.5f", var);
    CHECK(fabs(frac - 0.682689) < 5 * 1.5e-3, "fraction within 1 sigma %.5f", frac);
    CHECK(fabs(kurt - 3) < 5 * 0.031, "fourth moment %.4f", kurt);

    float x[4096];
    sg_rng_init(&r, 7, 0, 2, 0);
    sg_rng_fill_normal(&r, x, 4096, 10.0f, 0.5f);
    double s = 0;
    for (int k = 0; k < 4096; k++) s += x[k];
    /* sd of the mean: 0.5 / 64. */
    CHECK(fabs(s / 4096 - 10.0) < 5 * 0.5 / 64, "fill_normal mean %.4f", s / 4096);
}

/* Upper quantile of chi-square with df degrees of freedom at normal deviate z
 * (Wilson-Hilferty). */
static double chi2_quantile(int df, double z) {
    double a = 2.0 / (9.0 * df);
    double t = 1 - a + z * sqrt(a);
    return df * t * t * t;
}

static void test_below(void) {
    sg_rng r;
    sg_rng_init(&r, 99, 5, 0, 0);
    /* n = 1: always 0. */
    int nonzero = 0;
    for (int k = 0; k < 1000; k++) nonzero += sg_rng_below(&r, 1) != 0;
    CHECK(nonzero == 0, "sg_rng_below(1) returned non-zero %d times", nonzero);

    /* Small n: every value in range and the counts pass a chi-square test at z = 4.5
     * (p ~ 3e-6 per n). */
    const uint32_t ns[] = {2, 3, 5, 6, 7, 10, 17, 100};
    enum { N = 100000 };
    static int counts[100];
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        uint32_t n = ns[t];
        memset(counts, 0, sizeof counts);
        int out = 0;
        for (int k = 0; k < N; k++) {
            uint32_t v = sg_rng_below(&r, n);
            if (v >= n)
                out++;
            else
                counts[v]++;
        }
        CHECK(out == 0, "n=%u: %d values out of range", n, out);
        double e = (double)N / n, chi2 = 0;
        for (uint32_t v = 0; v < n; v++) chi2 += (counts[v] - e) * (counts[v] - e) / e;
        double crit = chi2_quantile((int)n - 1, 4.5);
        CHECK(chi2 < crit, "n=%u: chi2 %.2f >= %.2f", n, chi2, crit);
    }

    /* Large n, where a biased method is visible: n = 3 * 2^30 = 0xC0000000.
     * Plain x % n gives [0, 2^30) twice the weight of the rest (fraction 1/2 instead of 1/3);
     * multiply-shift without rejection gives the multiples of 3 twice the weight of the other
     * values (fraction 1/2 instead of 1/3). Unbiased: both fractions 1/3, sd sqrt(2/9/N). */
    const uint32_t big = 0xC0000000u;
    int below_2_30 = 0, mult3 = 0, out = 0;
    for (int k = 0; k < N; k++) {
        uint32_t v = sg_rng_below(&r, big);
        out += v >= big;
        below_2_30 += v < (1u << 30);
        mult3 += v % 3 == 0;
    }
    double sd = sqrt(2.0 / 9.0 / N);
    CHECK(out == 0, "n=0xC0000000: %d values out of range", out);
    CHECK(fabs((double)below_2_30 / N - 1.0 / 3) < 5 * sd, "n=0xC0000000: P(v < 2^30) = %.4f",
          (double)below_2_30 / N);
    CHECK(fabs((double)mult3 / N - 1.0 / 3) < 5 * sd, "n=0xC0000000: P(v %% 3 == 0) = %.4f",
          (double)mult3 / N);

    /* n just above 2^31 (rejection rate near 1/2) and the largest n: in range, and the top
     * half of [0, n) gets half the draws. */
    const uint32_t bigs[] = {0x80000001u, 0x80000000u + 12345u, 0xFFFFFFFFu};
    for (size_t t = 0; t < 3; t++) {
        uint32_t n = bigs[t];
        int upper = 0;
        out = 0;
        for (int k = 0; k < N; k++) {
            uint32_t v = sg_rng_below(&r, n);
            out += v >= n;
            upper += v >= n / 2;
        }
        CHECK(out == 0, "n=%u: %d values out of range", n, out);
        CHECK(fabs((double)upper / N - 0.5) < 5 * sqrt(0.25 / N), "n=%u: upper half %.4f", n,
              (double)upper / N);
    }

    /* The top value n - 1 is reachable. */
    int hit_top = 0;
    for (int k = 0; k < 1000; k++) hit_top |= sg_rng_below(&r, 3) == 2;
    CHECK(hit_top, "sg_rng_below(3) never returned 2");
}

int main(void) {
    test_known_answers();
    test_layout_and_determinism();
    test_streams_differ();
    test_uniform();
    test_normal();
    test_below();
    return test_finish();
}
