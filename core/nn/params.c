/* core/nn/params.c */
#include "core/nn/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/arena.h"

void sg_params_init_measure(sg_params *p) {
    memset(p, 0, sizeof *p);
    p->measuring = 1;
}

static void *params_alloc(const sg_backend *be, size_t bytes) {
    return be ? be->mem_alloc(be, bytes) : sg_aligned_alloc(bytes);
}

int sg_params_init_like(sg_params *p, const sg_params *m, const sg_backend *be, sg_err *err) {
    memset(p, 0, sizeof *p);
    p->be = be;
    p->w = params_alloc(be, m->total * sizeof(float));
    p->g = params_alloc(be, m->total * sizeof(float));
    p->buf = params_alloc(be, m->nbuf * sizeof(float));
    p->entries = calloc((size_t)(m->count ? m->count : 1), sizeof *p->entries);
    if (!p->w || !p->g || !p->buf || !p->entries) {
        sg_params_free(p);
        return sg_errf(err, "out of %s memory: %zu parameters", be ? be->name : "host", m->total);
    }
    p->cap = m->count;
    return 0;
}

void sg_params_free(sg_params *p) {
    float *bufs[3] = {p->w, p->g, p->buf};
    for (int i = 0; i < 3; i++) {
        if (!bufs[i]) continue;
        if (p->be) p->be->mem_free(p->be, bufs[i]);
        else sg_aligned_free(bufs[i]);
    }
    free(p->entries);
    memset(p, 0, sizeof *p);
}

float *sg_params_take(sg_params *p, const char *name, size_t count, sg_param_group group,
                      sg_param_kind kind, float **grad) {
    if (p->count > 0)
        SG_CHECK(p->entries == NULL || group >= p->entries[p->count - 1].group,
                 "parameter '%s' taken out of group order", name);
    if (p->measuring) {
        if (p->count == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 64;
            p->entries = realloc(p->entries, (size_t)p->cap * sizeof *p->entries);
            SG_CHECK(p->entries != NULL, "out of memory");
        }
    } else {
        SG_CHECK(p->count < p->cap, "real build takes more parameters than the measuring one");
    }
    sg_param_entry *e = &p->entries[p->count++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->offset = p->total;
    e->count = count;
    e->group = group;
    e->kind = kind;
    p->total += count;
    if (p->measuring) {
        if (grad) *grad = NULL;
        return NULL;
    }
    if (grad) *grad = p->g + e->offset;
    return p->w + e->offset;
}

float *sg_params_take_buffer(sg_params *p, size_t count) {
    size_t at = p->nbuf;
    p->nbuf += count;
    return p->measuring ? NULL : p->buf + at;
}

int sg_params_group_range(const sg_params *p, sg_param_group group, size_t *first,
                          size_t *count) {
    size_t lo = 0, hi = 0;
    int found = 0;
    for (int i = 0; i < p->count; i++) {
        const sg_param_entry *e = &p->entries[i];
        if (e->group != group) continue;
        if (!found) lo = e->offset;
        hi = e->offset + e->count;
        found = 1;
    }
    *first = lo;
    *count = hi - lo;
    return found;
}
