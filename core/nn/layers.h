/* core/nn/layers.h: the layers of the networks, as plain structs and functions.
 *
 * A layer struct holds its shapes and pointers into the parameter buffer (shared by every
 * forward instance: the two views of a step run the same layers on their own activations).
 * Forward functions read inputs and write outputs the caller owns; backward functions always
 * ACCUMULATE parameter gradients (the step zeroes the gradient buffer once), so a layer used by
 * both views, or by the target branch without stop-gradient, sums its gradients. */
#pragma once
#include "core/nn/params.h"
#include "core/base/rng.h"
#include "kernels/kernels.h"

/* conv2d without bias. w [K,C,R,S] */
typedef struct {
    sg_conv_shape s;
    float *w, *dw;
} sg_conv;

/* The algorithm a conv layer of shape s runs: `want` when the backend runs it at that shape in
 * all three passes, else the backend's default. */
sg_conv_algo sg_conv_algo_for(const sg_backend *be, sg_conv_algo want, const sg_conv_shape *s);

void sg_conv_build(sg_conv *c, sg_params *p, sg_param_group g, const char *name, int N, int C,
                   int H, int W, int K, int R, int stride, int pad);
/* torchvision's ResNet init: kaiming normal, fan_out, gain sqrt(2). */
void sg_conv_init(sg_conv *c, sg_rng *r);
size_t sg_conv_numel_out(const sg_conv *c);

/* Batch norm over several ranks' batches (model.sync_bn, data-parallel training): the
 * per-channel sums a layer's statistics need (sg_batchnorm_sums) are added up across the ranks
 * (core/dist, in rank order) between the kernels, so every rank normalises with the statistics
 * of the global batch. One per model, shared by its layers (they run one after another); the
 * host-side arithmetic is over C values per layer. */
typedef struct sg_bn_sync {
    int ranks;     /* > 1 */
    int active;    /* 0 while one rank works alone (evaluation): this rank's statistics */
    int cap;       /* channels the buffers hold */
    double *sums;  /* [2*cap] backend memory */
    float *stat;   /* [2*cap] backend memory: the global mean and biased variance */
    double *hsums; /* [2*cap] host */
    float *hstat;  /* [6*cap] host */
} sg_bn_sync;

/* Batch norm over [N, C, HW]; affine optional. Running stats live in the params' buffers. */
typedef struct {
    int N, C, HW;
    int affine;
    float eps, momentum;
    float *gamma, *beta, *dgamma, *dbeta;
    float *running_mean, *running_var;
    const sg_bn_sync *sync; /* NULL: statistics of this rank's batch */
} sg_bn;

void sg_bn_build(sg_bn *b, sg_params *p, sg_param_group g, const char *name, int N, int C, int HW,
                 int affine);
/* gamma = 1, beta = 0, running mean 0, running var 1 (PyTorch's defaults). */
void sg_bn_init(sg_bn *b);

/* What a BN forward keeps for its backward: mean[C], invstd[C] (per forward instance). */
typedef struct {
    float *mean, *invstd;
} sg_bn_saved;

/* train != 0: batch statistics (and running-stat update); else running statistics. With
 * b->sync the batch is every rank's (the running statistics then agree on every rank). */
void sg_bn_forward(const sg_backend *be, const sg_bn *b, const float *x, float *y,
                   sg_bn_saved *saved, int train);
/* dx overwritten; dgamma/dbeta accumulated. */
void sg_bn_backward(const sg_backend *be, const sg_bn *b, const float *x, const sg_bn_saved *saved,
                    const float *dy, float *dx);
/* Batch norm then ReLU: y = max(sg_bn_forward's y, 0). Training on one rank's batch runs the
 * fused kernel (batchnorm_relu_fwd, the same bits as the two kernels with one pass fewer over
 * y); evaluation and synchronised BN run batch norm, then relu_fwd on y in place. */
void sg_bn_relu_forward(const sg_backend *be, const sg_bn *b, const float *x, float *y,
                        sg_bn_saved *saved, int train);
/* Its backward from the forward's input x and output y: dy masked in place (relu_bwd), then
 * sg_bn_backward into dx (overwritten; dgamma/dbeta accumulated). */
void sg_bn_relu_backward(const sg_backend *be, const sg_bn *b, const float *x, const float *y,
                         const sg_bn_saved *saved, float *dy, float *dx);

/* y[N,Out] = x W^T + b. W [Out,In], b [Out] or none. */
typedef struct {
    int N, In, Out;
    float *W, *dW, *b, *db;
} sg_linear;

void sg_linear_build(sg_linear *l, sg_params *p, sg_param_group g, const char *name, int N, int In,
                     int Out, int bias);
/* PyTorch's nn.Linear init: W, b ~ U(-1/sqrt(In), 1/sqrt(In)). */
void sg_linear_init(sg_linear *l, sg_rng *r);
