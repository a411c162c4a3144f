/* core/nn/heads.c */
#include "core/nn/heads.h"

#include "kernels/backend.h"

#include <stdio.h>

void sg_mlp_build(sg_mlp *m, sg_params *p, sg_param_group g, const char *name, int N, int In,
                  int Hid, int Out) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.0", name);
    sg_linear_build(&m->l1, p, g, nm, N, In, Hid, 1);
    snprintf(nm, sizeof nm, "%s.1", name);
    sg_bn_build(&m->bn, p, g, nm, N, Hid, 1, 0);
    snprintf(nm, sizeof nm, "%s.3", name);
    sg_linear_build(&m->l2, p, g, nm, N, Hid, Out, 1);
}

void sg_mlp_init(sg_mlp *m, sg_rng *r) {
    sg_linear_init(&m->l1, r);
    sg_bn_init(&m->bn);
    sg_linear_init(&m->l2, r);
}

void sg_mlp_acts_build(sg_mlp_acts *a, const sg_mlp *m, sg_arena *arena) {
    size_t nh = (size_t)m->l1.N * m->l1.Out;
    a->x = NULL;
    a->h = SG_ARENA_NEW(arena, float, nh);
    a->r = SG_ARENA_NEW(arena, float, nh);
    a->y = SG_ARENA_NEW(arena, float, (size_t)m->l2.N * m->l2.Out);
    a->saved.mean = SG_ARENA_NEW(arena, float, m->bn.C);
    a->saved.invstd = SG_ARENA_NEW(arena, float, m->bn.C);
    a->dr = SG_ARENA_NEW(arena, float, nh);
    a->dh = SG_ARENA_NEW(arena, float, nh);
}

void sg_linear_forward(const sg_backend *be, const sg_linear *l, const float *x, float *y) {
    sg_linear_fwd(be, l->N, l->In, l->Out, x, l->W, l->b, y);
}

void sg_linear_backward(const sg_backend *be, const sg_linear *l, const float *x, const float *dy,
                        float *dx) {
    sg_linear_bwd(be, l->N, l->In, l->Out, x, l->W, dy, dx, l->dW, l->db, 1);
}

void sg_mlp_forward(const sg_backend *be, const sg_mlp *m, sg_mlp_acts *a, const float *x,
                    int train) {
    a->x = x;
    sg_linear_forward(be, &m->l1, x, a->h);
    sg_bn_forward(be, &m->bn, a->h, a->r, &a->saved, train);
    sg_relu_fwd(be, (size_t)m->l1.N * m->l1.Out, a->r, a->r);
    sg_linear_forward(be, &m->l2, a->r, a->y);
}

void sg_mlp_backward(const sg_backend *be, const sg_mlp *m, sg_mlp_acts *a, const float *dy,
                     float *dx) {
    size_t nh = (size_t)m->l1.N * m->l1.Out;
    sg_linear_backward(be, &m->l2, a->r, dy, a->dr);
    sg_relu_bwd(be, nh, a->r, a->dr, a->dr);
    sg_bn_backward(be, &m->bn, a->h, &a->saved, a->dr, a->dh);
    sg_linear_backward(be, &m->l1, a->x, a->dh, dx);
}
