/* core/nn/heads.h: the projector and predictor heads.
 *
 * MLP head of L Linear layers (L = 2: the recipe's projector and 2-layer predictor; L = 3:
 * SimSiam's projector), each hidden Linear followed by BN and ReLU:
 *   x [N,In] -> Linear(In,Hid) -> BN(Hid) -> ReLU                     (hidden layer 0)
 *            -> Linear(Hid,Hid) -> BN(Hid) -> ReLU                    (hidden layer 1, L = 3)
 *            -> Linear(Hid,Out) [-> BN(Out, no affine)] -> y [N,Out]
 * The form (sg_mlp_form) says L, whether the Linears have biases, whether the hidden BNs have
 * gamma/beta (PyTorch's default; off: the reference code's BatchNorm1d(affine=False)), and
 * whether the output has its own BN without affine (SimSiam's code). Parameter names follow
 * PyTorch's nn.Sequential indices: layer k's Linear is "<name>.<3k>", its BN "<name>.<3k+1>"
 * (its ReLU, "<name>.<3k+2>", has no parameters), the output BN "<name>.<3(L-1)+1>"; so the
 * default form keeps the names "<name>.0" / "<name>.3" of the checkpoints and fixtures.
 * Linear head (the linear predictor): y = x W^T (+ b), W [D,D]. */
#pragma once
#include "core/base/arena.h"
#include "core/nn/layers.h"

#define SG_MLP_MAX_LAYERS 3

typedef struct {
    int layers;    /* Linear layers, 2..SG_MLP_MAX_LAYERS */
    int bias;      /* the Linear layers have biases */
    int bn_affine; /* the hidden BN layers have gamma/beta */
    int out_bn;    /* BN(Out, no affine) after the last Linear */
} sg_mlp_form;

/* The recipe's head: 2 layers, biases, hidden BN without affine, no output BN. */
static inline sg_mlp_form sg_mlp_form_default(void) { return (sg_mlp_form){2, 1, 0, 0}; }

typedef struct {
    sg_mlp_form form;
    int N, In, Hid, Out;
    /* W of lin[0] [Hid,In], lin[1..L-2] [Hid,Hid], lin[L-1] [Out,Hid]; lin[L..] unused */
    sg_linear lin[SG_MLP_MAX_LAYERS];
    sg_bn bn[SG_MLP_MAX_LAYERS - 1]; /* bn[k] after lin[k], k < L-1: C = Hid */
    sg_bn out;                       /* form.out_bn: C = Out */
} sg_mlp;

typedef struct {
    const float *x;                  /* input of the last forward, kept for backward */
    float *h[SG_MLP_MAX_LAYERS - 1]; /* [N,Hid] lin[k] output = bn[k] input */
    float *r[SG_MLP_MAX_LAYERS - 1]; /* [N,Hid] bn[k]+ReLU output = lin[k+1] input */
    float *o;                        /* [N,Out] lin[L-1] output = out BN input (out_bn) */
    float *y;                        /* [N,Out] the head's output (= o without out_bn) */
    sg_bn_saved saved[SG_MLP_MAX_LAYERS - 1], out_saved;
    float *dr;   /* [N,Hid] backward scratch */
    float *dh;   /* [N,Hid] backward scratch */
    float *dout; /* [N,Out] backward scratch (out_bn) */
} sg_mlp_acts;

/* Takes the head's parameters (order: lin[0], bn[0], ..., lin[L-1], out) and buffers. */
void sg_mlp_build(sg_mlp *m, sg_params *p, sg_param_group g, const char *name, int N, int In,
                  int Hid, int Out, const sg_mlp_form *form);
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
