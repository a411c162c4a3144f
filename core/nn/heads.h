/* core/nn/heads.h: the projector and predictor heads.
 *
 * MLP head (the recipe's projector and 2-layer predictor):
 *   x [N,In] -> Linear(In,Hid) -> BN(Hid, no affine) -> ReLU -> Linear(Hid,Out) -> y [N,Out]
 * Linear head (the linear predictor): y = x W^T (+ b), W [D,D]. */
#pragma once
#include "core/base/arena.h"
#include "core/nn/layers.h"

typedef struct {
    sg_linear l1, l2;
    sg_bn bn;
} sg_mlp;

typedef struct {
    const float *x; /* input of the last forward, kept for backward */
    float *h;       /* [N,Hid] l1 output = BN input */
    float *r;       /* [N,Hid] BN+ReLU output */
    float *y;       /* [N,Out] */
    sg_bn_saved saved;
    float *dr;      /* [N,Hid] backward scratch */
    float *dh;      /* [N,Hid] backward scratch */
} sg_mlp_acts;

void sg_mlp_build(sg_mlp *m, sg_params *p, sg_param_group g, const char *name, int N, int In,
                  int Hid, int Out);
void sg_mlp_init(sg_mlp *m, sg_rng *r);
void sg_mlp_acts_build(sg_mlp_acts *a, const sg_mlp *m, sg_arena *arena);
void sg_mlp_forward(const sg_backend *be, const sg_mlp *m, sg_mlp_acts *a, const float *x,
                    int train);
/* Accumulates parameter gradients; dx [N,In] overwritten (NULL: not needed). */
void sg_mlp_backward(const sg_backend *be, const sg_mlp *m, sg_mlp_acts *a, const float *dy,
                     float *dx);

/* Linear head forward/backward on sg_linear (layers.h): dW/db accumulated, dx overwritten. */
void sg_linear_forward(const sg_backend *be, const sg_linear *l, const float *x, float *y);
void sg_linear_backward(const sg_backend *be, const sg_linear *l, const float *x, const float *dy,
                        float *dx);
