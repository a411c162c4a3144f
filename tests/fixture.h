/* tests/fixture.h: reads the PyTorch reference fixtures written by scripts/make_fixtures.py and
 * compares results with their float64 values.
 * Format: "SGFX", u32 count, then per tensor: u32 name length, name, u32 ndim, u32 dims[ndim],
 * f32 data. Little endian, like every machine this runs on. */
#pragma once
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[128];
    int ndim;
    uint32_t dims[8];
    size_t n;
    float *data;
} fx_tensor;

typedef struct {
    int count;
    fx_tensor *t;
} fx_file;

static inline int fx_read_u32(FILE *f, uint32_t *v) { return fread(v, 4, 1, f) == 1; }

/* Returns 0 on success; prints why not. */
static inline int fx_load(fx_file *fx, const char *path) {
    memset(fx, 0, sizeof *fx);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fixture %s: cannot open (generate with scripts/make_fixtures.py)\n", path);
        return -1;
    }
    char magic[4];
    uint32_t count;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "SGFX", 4) || !fx_read_u32(f, &count)) {
        fprintf(stderr, "fixture %s: bad header\n", path);
        fclose(f);
        return -1;
    }
    fx->t = calloc(count, sizeof *fx->t);
    fx->count = (int)count;
    for (uint32_t i = 0; i < count; i++) {
        fx_tensor *t = &fx->t[i];
        uint32_t len, ndim;
        if (!fx_read_u32(f, &len) || len >= sizeof t->name || fread(t->name, 1, len, f) != len ||
            !fx_read_u32(f, &ndim) || ndim > 8) {
            fprintf(stderr, "fixture %s: truncated at tensor %u\n", path, i);
            fclose(f);
            return -1;
        }
        t->ndim = (int)ndim;
        t->n = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            if (!fx_read_u32(f, &t->dims[d])) {
                fclose(f);
                return -1;
            }
            t->n *= t->dims[d];
        }
        t->data = malloc(t->n * sizeof(float) + 1);
        if (fread(t->data, sizeof(float), t->n, f) != t->n) {
            fprintf(stderr, "fixture %s: truncated data of %s\n", path, t->name);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static inline const fx_tensor *fx_get(const fx_file *fx, const char *name) {
    for (int i = 0; i < fx->count; i++)
        if (!strcmp(fx->t[i].name, name)) return &fx->t[i];
    return NULL;
}

static inline void fx_free(fx_file *fx) {
    for (int i = 0; i < fx->count; i++) free(fx->t[i].data);
    free(fx->t);
    memset(fx, 0, sizeof *fx);
}

/* The worst ratio |ours - exact| / tolerance over every fx_close_to_exact call, and what it was,
 * for the tests to print the margin they pass by. */
static double fx_worst_ratio;
static char fx_worst_what[200];

/* ours[0..n) against the fixture's float64 value of `name` (name.f64) within 4x its envelope
 * (name.env: the largest deviation from float64 of PyTorch float32 runs whose inputs differ by
 * one rounding; see scripts/make_fixtures.py), plus 16 float32 ulps of the tensor's scale for
 * results that every float32 run happened to round alike. The tolerance is a property of the
 * computation, not of the machine: it holds whichever kernels OpenBLAS picks. Prints the
 * difference when outside; returns 1 when within, 0 when not (or when the fixture lacks it). */
static inline int fx_close_to_exact(const fx_file *fx, const char *what, const char *name,
                                    const float *ours, size_t n) {
    char k64[200], kenv[200];
    snprintf(k64, sizeof k64, "%s.f64", name);
    snprintf(kenv, sizeof kenv, "%s.env", name);
    const fx_tensor *exact = fx_get(fx, k64), *env = fx_get(fx, kenv);
    if (!exact || !env || exact->n != n || env->n != 1) {
        fprintf(stderr, "  %s: fixture lacks %s / %s of %zu values (regenerate the fixtures)\n",
                what, k64, kenv, n);
        return 0;
    }
    double scale = 0, worst = 0;
    for (size_t j = 0; j < n; j++) {
        scale = fmax(scale, fabs(exact->data[j]));
        double d = fabs((double)ours[j] - exact->data[j]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    double tol = 4.0 * env->data[0] + 16.0 * (FLT_EPSILON / 2) * scale;
    if (worst / tol > fx_worst_ratio) {
        fx_worst_ratio = worst / tol;
        snprintf(fx_worst_what, sizeof fx_worst_what, "%s %s", what, name);
    }
    if (worst <= tol) return 1;
    fprintf(stderr, "  %s: %s differs from float64 by %.3g, tolerance %.3g (envelope %.3g, "
                    "scale %.3g)\n", what, name, worst, tol, env->data[0], scale);
    return 0;
}

