/* core/nn/heads.c */
#include "core/nn/heads.h"

#include "kernels/backend.h"

#include <stdio.h>
#include <string.h>

void sg_mlp_build(sg_mlp *m, sg_params *p, sg_param_group g, const char *name, int N, int In,
                  int Hid, int Out, const sg_mlp_form *form) {
    const int L = form->layers;
    SG_CHECK(L >= 2 && L <= SG_MLP_MAX_LAYERS, "%s: %d layers (2..%d)", name, L, SG_MLP_MAX_LAYERS);
    m->form = *form;
    m->N = N;
    m->In = In;
    m->Hid = Hid;
    m->Out = Out;
    char nm[64];
    for (int k = 0; k < L; k++) {
        const int last = k == L - 1;
        snprintf(nm, sizeof nm, "%s.%d", name, 3 * k);
        sg_linear_build(&m->lin[k], p, g, nm, N, k ? Hid : In, last ? Out : Hid, form->bias);
        snprintf(nm, sizeof nm, "%s.%d", name, 3 * k + 1);
        if (!last)
            sg_bn_build(&m->bn[k], p, g, nm, N, Hid, 1, form->bn_affine);
        else if (form->out_bn)
            sg_bn_build(&m->out, p, g, nm, N, Out, 1, 0);
    }
}

void sg_mlp_init(sg_mlp *m, sg_rng *r) {
    const int L = m->form.layers;
    for (int k = 0; k < L; k++) {
        sg_linear_init(&m->lin[k], r);
        if (k < L - 1) sg_bn_init(&m->bn[k]);
    }
    if (m->form.out_bn) sg_bn_init(&m->out);
}

void sg_mlp_acts_build(sg_mlp_acts *a, const sg_mlp *m, sg_arena *arena) {
    const size_t nh = (size_t)m->N * m->Hid, no = (size_t)m->N * m->Out;
    memset(a, 0, sizeof *a);
    for (int k = 0; k < m->form.layers - 1; k++) {
        a->h[k] = SG_ARENA_NEW(arena, float, nh);
        a->r[k] = SG_ARENA_NEW(arena, float, nh);
        a->saved[k].mean = SG_ARENA_NEW(arena, float, m->Hid);
        a->saved[k].invstd = SG_ARENA_NEW(arena, float, m->Hid);
    }
    a->y = SG_ARENA_NEW(arena, float, no);
    a->o = a->y;
    if (m->form.out_bn) {
        a->o = SG_ARENA_NEW(arena, float, no);
        a->out_saved.mean = SG_ARENA_NEW(arena, float, m->Out);
        a->out_saved.invstd = SG_ARENA_NEW(arena, float, m->Out);
        a->dout = SG_ARENA_NEW(arena, float, no);
    }
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
    const int L = m->form.layers;
    const size_t nh = (size_t)m->N * m->Hid;
    a->x = x;
    const float *in = x;
    for (int k = 0; k < L - 1; k++) {
        sg_linear_forward(be, &m->lin[k], in, a->h[k]);
        sg_bn_forward(be, &m->bn[k], a->h[k], a->r[k], &a->saved[k], train);
        sg_relu_fwd(be, nh, a->r[k], a->r[k]);
        in = a->r[k];
    }
    sg_linear_forward(be, &m->lin[L - 1], in, a->o);
    if (m->form.out_bn) sg_bn_forward(be, &m->out, a->o, a->y, &a->out_saved, train);
}

void sg_mlp_backward(const sg_backend *be, const sg_mlp *m, sg_mlp_acts *a, const float *dy,
                     float *dx) {
    const int L = m->form.layers;
    const size_t nh = (size_t)m->N * m->Hid;
    if (m->form.out_bn) {
        sg_bn_backward(be, &m->out, a->o, &a->out_saved, dy, a->dout);
        dy = a->dout;
    }
    /* dr: the gradient at r[k] (lin[k+1]'s input); dh: at h[k] */
    sg_linear_backward(be, &m->lin[L - 1], a->r[L - 2], dy, a->dr);
    for (int k = L - 2; k >= 0; k--) {
        sg_relu_bwd(be, nh, a->r[k], a->dr, a->dr);
        sg_bn_backward(be, &m->bn[k], a->h[k], &a->saved[k], a->dr, a->dh);
        sg_linear_backward(be, &m->lin[k], k ? a->r[k - 1] : a->x, a->dh, k ? a->dr : dx);
    }
}
