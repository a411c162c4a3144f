/* tests/test_util.h: the small harness every test program uses.
 *
 * A test program is tests/<group>/test_<name>.c with a main(); CMake registers it as the ctest
 * <group>.<name>. CHECK records a failure and continues; the program prints
 * "N passed, N failed" and exits non-zero on any failure, or 77 (ctest: skipped) via TEST_SKIP.
 * Random inputs come from the project's own counter RNG with fixed seeds (never zeros), so a
 * failure reproduces exactly.
 */
#pragma once
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/base/text.h"

static int tu_pass_count = 0;
static int tu_fail_count = 0;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        if (cond) {                                                                             \
            tu_pass_count++;                                                                    \
        } else {                                                                                \
            tu_fail_count++;                                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                     \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
        }                                                                                       \
    } while (0)

/* Prints the closing line and returns the exit status for main. */
static inline int test_finish(void) {
    printf("%d passed, %d failed\n", tu_pass_count, tu_fail_count);
    if (tu_pass_count == 0 && tu_fail_count == 0) {
        fprintf(stderr, "test asserted nothing\n");
        return 1;
    }
    return tu_fail_count ? 1 : 0;
}

#define TEST_SKIP(...)                                                                          \
    do {                                                                                        \
        printf("SKIPPED: ");                                                                    \
        printf(__VA_ARGS__);                                                                    \
        printf("\n");                                                                           \
        exit(77);                                                                               \
    } while (0)

/* Uniform in [lo, hi); a fresh stream per (seed, tag) so each buffer is independent. */
static inline void tu_fill(float *x, size_t n, uint64_t seed, uint32_t tag, float lo, float hi) {
    sg_rng r;
    sg_rng_init(&r, seed, tag, 0, 0);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * sg_rng_uniform(&r);
}

static inline void tu_f2d(const float *x, double *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (double)x[i];
}
static inline void tu_d2f(const double *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
}

static inline void *tu_alloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return p;
}

/* Max over i of |got - want| / (atol + rtol * |want|); <= 1 means within tolerance.
 * Reports the worst index on failure. */
static inline int tu_close_fd(const char *what, const float *got, const double *want, size_t n,
                              double atol, double rtol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(e <= worst)) { /* also catches NaN */
            worst = e;
            wi = i;
        }
    }
    int ok = worst <= 1.0;
    if (!ok && n)
        fprintf(stderr, "  %s: index %zu got %.9g want %.9g (err %.3g x tolerance)\n", what, wi,
                (double)got[wi], want[wi], worst);
    return ok;
}

static inline int tu_close_dd(const char *what, const double *got, const double *want, size_t n,
                              double atol, double rtol) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(e <= worst)) {
            worst = e;
            wi = i;
        }
    }
    int ok = worst <= 1.0;
    if (!ok && n)
        fprintf(stderr, "  %s: index %zu got %.12g want %.12g (err %.3g x tolerance)\n", what, wi,
                got[wi], want[wi], worst);
    return ok;
}

/* Finite-difference gradient check in double precision.
 * f(x, ctx) is a scalar function of x[n] (typically sum(g .* forward(x)) for a random g);
 * grad[n] is the analytic gradient. Central differences with step h; returns 1 when every
 * component agrees within atol + rtol*|fd|. Kinks (relu, max) must be avoided by the caller's
 * choice of inputs. */
typedef double (*tu_scalar_fn)(const double *x, void *ctx);
static inline int tu_gradcheck(const char *what, tu_scalar_fn f, void *ctx, double *x, size_t n,
                               const double *grad, double h, double atol, double rtol) {
    double *fd = (double *)tu_alloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double fp = f(x, ctx);
        x[i] = keep - h;
        double fm = f(x, ctx);
        x[i] = keep;
        fd[i] = (fp - fm) / (2 * h);
    }
    int ok = tu_close_dd(what, grad, fd, n, atol, rtol);
    free(fd);
    return ok;
}

/* A random int in [lo, hi] from a stream, for random shapes. */
static inline int tu_randint(sg_rng *r, int lo, int hi) {
    return lo + (int)sg_rng_below(r, (uint32_t)(hi - lo + 1));
}

/* Directory for test output files: $SG_TEST_TMP (set by ctest) or /tmp. */
static inline const char *tu_tmpdir(void) {
    const char *d = getenv("SG_TEST_TMP");
    return (d && *d) ? d : "/tmp";
}

/* 1 when the program is on PATH (the optional tools some tests check only where installed). */
static inline int tu_have_program(const char *name) {
    char exe[4096];
    return sg_find_program(name, exe, sizeof exe);
}

/* 1 when path starts with the PNG signature and holds more than a header (a drawn chart). */
static inline int tu_is_png(const char *path) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char b[8];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ok = fread(b, 1, 8, f) == 8 && !memcmp(b, sig, 8);
    fseek(f, 0, SEEK_END);
    ok = ok && ftell(f) > 1000;
    fclose(f);
    return ok;
}
