/* tests/fixture.h: reads the PyTorch reference fixtures written by scripts/make_fixtures.py.
 * Format: "SGFX", u32 count, then per tensor: u32 name length, name, u32 ndim, u32 dims[ndim],
 * f32 data. Little endian, like every machine this runs on. */
#pragma once
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
