/* core/nn/resnet.h: ResNet-18 (basic blocks) and ResNet-50 (bottlenecks, torchvision's v1.5:
 * stride on the 3x3 conv) as trunks, with the ImageNet/STL-10 stem (7x7/2 conv + 3x3/2 max-pool)
 * or the CIFAR stem (3x3/1 conv, no pool), a width multiplier for CPU-scale runs, and global
 * average pooling to a [N, feat_dim] feature (no fc: the heads follow).
 *
 * Shapes (ResNet-18, STL-10, N images):
 *   x [N,3,96,96] -> stem conv [N,64,48,48] -> pool [N,64,24,24] -> layer1 [N,64,24,24]
 *   -> layer2 [N,128,12,12] -> layer3 [N,256,6,6] -> layer4 [N,512,3,3] -> feat [N,512]
 */
#pragma once
#include "core/base/arena.h"
#include "core/nn/layers.h"

typedef enum { SG_STEM_IMAGENET = 0, SG_STEM_CIFAR = 1 } sg_stem;

typedef struct {
    int depth;       /* 18 or 50 */
    sg_stem stem;
    double width;    /* multiplies the widths 64, 128, 256, 512 (at least 1 channel each) */
    int in_channels; /* 3 for colour images, 1 for Fashion-MNIST */
    int H, W;        /* input size */
    /* the convolution algorithm asked for (conv.algo); a layer the backend cannot run it on
     * (all three passes, at its shape) keeps the backend's default */
    sg_conv_algo conv_algo;
    /* per-shape algorithms (conv.algo=auto, core/nn/conv_auto.h): a layer whose shape is one of
     * conv_choices[0..n) (algo ignored in the match) runs that entry's algo instead of
     * conv_algo. The array must outlive sg_resnet_build only. */
    const sg_conv_shape *conv_choices;
    int n_conv_choices;
} sg_resnet_spec;

#define SG_RESNET_MAX_BLOCKS 16

typedef struct {
    int bottleneck, has_down;
    sg_conv c1, c2, c3, cd; /* c3 only in bottlenecks, cd only with has_down */
    sg_bn b1, b2, b3, bd;
} sg_block;

typedef struct {
    sg_resnet_spec spec;
    int N;
    sg_conv stem_conv;
    sg_bn stem_bn;
    int has_pool;
    sg_pool_shape pool;
    int nblocks;
    sg_block blocks[SG_RESNET_MAX_BLOCKS];
    int feat_dim, final_HW;
    size_t max_act;         /* floats of the largest activation: sizes the scratch buffers */
    size_t conv_workspace;  /* bytes: the largest conv workspace */
} sg_resnet;

/* Takes the parameters (all in group `group`) from p. Returns -1 with a message naming the
 * spec field for an unsupported depth/width/size. */
int sg_resnet_build(sg_resnet *net, const sg_resnet_spec *spec, int N, sg_params *p,
                    sg_param_group group, const sg_backend *be, sg_err *err);
void sg_resnet_init(sg_resnet *net, sg_rng *r);

/* One forward instance's activations (the two views of a step each have one). */
typedef struct {
    float *t1, *t2, *t3, *td; /* conv outputs = BN inputs */
    float *r1, *r2;           /* BN+ReLU outputs = next conv inputs */
    float *out;               /* block output after the final ReLU */
    sg_bn_saved s1, s2, s3, sd;
} sg_block_acts;

typedef struct {
    const float *x;          /* the input of the last forward (kept for backward) */
    float *stem_c, *stem_r;  /* stem conv output, stem BN+ReLU output */
    float *pool;             /* max-pool output (== stem_r without pool) */
    int32_t *argmax;
    sg_bn_saved stem_s;
    sg_block_acts b[SG_RESNET_MAX_BLOCKS];
    float *feat;             /* [N, feat_dim] */
} sg_resnet_acts;

/* Shared by all instances: four backward buffers of max_act floats and the conv workspace. */
typedef struct {
    float *buf[4];
    void *conv_ws;
} sg_resnet_scratch;

void sg_resnet_acts_build(sg_resnet_acts *a, const sg_resnet *net, sg_arena *arena);
void sg_resnet_scratch_build(sg_resnet_scratch *s, const sg_resnet *net, sg_arena *arena);

/* feat = trunk(x). train: BN batch statistics (and running-stat updates), else running stats.
 * x [N, in_channels, H, W] must stay valid until the backward. */
void sg_resnet_forward(const sg_backend *be, const sg_resnet *net, sg_resnet_acts *a,
                       sg_resnet_scratch *s, const float *x, int train);
/* Accumulates parameter gradients for dL/dfeat = dfeat [N, feat_dim]. */
void sg_resnet_backward(const sg_backend *be, const sg_resnet *net, sg_resnet_acts *a,
                        sg_resnet_scratch *s, const float *dfeat);
