/* core/nn/resnet.c */
#include "core/nn/resnet.h"

#include "kernels/backend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int scaled(int base, double width) {
    int c = (int)lround(base * width);
    return c < 1 ? 1 : c;
}

static void track(sg_resnet *net, size_t numel) {
    if (numel > net->max_act) net->max_act = numel;
}

static void track_conv(sg_resnet *net, const sg_backend *be, const sg_conv *c) {
    track(net, sg_conv_numel_out(c));
    track(net, (size_t)c->s.N * c->s.C * c->s.H * c->s.W);
    size_t ws = sg_conv2d_workspace_bytes(be, &c->s);
    if (ws > net->conv_workspace) net->conv_workspace = ws;
}

/* A conv and its BN, named like torchvision's ("layer2.0.conv1", "layer2.0.bn1"). */
static void conv_bn(sg_resnet *net, const sg_backend *be, sg_params *p, sg_param_group g,
                    sg_conv *c, sg_bn *b, const char *prefix, const char *cname,
                    const char *bname, int C, int H, int W, int K, int R, int stride, int pad) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s%s.weight", prefix, cname);
    sg_conv_build(c, p, g, nm, net->N, C, H, W, K, R, stride, pad);
    sg_conv_algo want = net->spec.conv_algo;
    for (int i = 0; i < net->spec.n_conv_choices; i++) {
        const sg_conv_shape *t = &net->spec.conv_choices[i];
        if (t->N == c->s.N && t->C == c->s.C && t->H == c->s.H && t->W == c->s.W &&
            t->K == c->s.K && t->R == c->s.R && t->S == c->s.S && t->stride == c->s.stride &&
            t->pad == c->s.pad)
            want = (sg_conv_algo)t->algo;
    }
    c->s.algo = sg_conv_algo_for(be, want, &c->s);
    snprintf(nm, sizeof nm, "%s%s", prefix, bname);
    sg_bn_build(b, p, g, nm, net->N, K, c->s.P * c->s.Q, 1);
    track_conv(net, be, c);
}

int sg_resnet_build(sg_resnet *net, const sg_resnet_spec *spec, int N, sg_params *p,
                    sg_param_group group, const sg_backend *be, sg_err *err) {
    memset(net, 0, sizeof *net);
    net->spec = *spec;
    net->N = N;
    if (spec->depth != 18 && spec->depth != 50)
        return sg_errf(err, "model.depth: %d is not supported (expected 18 or 50)", spec->depth);
    if (!(spec->width > 0 && spec->width <= 8))
        return sg_errf(err, "model.width: %g is out of range (expected (0, 8])", spec->width);
    if (spec->in_channels < 1 || spec->H < 8 || spec->W < 8)
        return sg_errf(err, "input of %dx%dx%d is too small for a ResNet (expected >= 8x8)",
                       spec->in_channels, spec->H, spec->W);

    int C = scaled(64, spec->width), H = spec->H, W = spec->W;
    if (spec->stem == SG_STEM_IMAGENET) {
        conv_bn(net, be, p, group, &net->stem_conv, &net->stem_bn, "", "conv1", "bn1",
                spec->in_channels, H, W, C, 7, 2, 3);
    } else {
        conv_bn(net, be, p, group, &net->stem_conv, &net->stem_bn, "", "conv1", "bn1",
                spec->in_channels, H, W, C, 3, 1, 1);
    }
    H = net->stem_conv.s.P;
    W = net->stem_conv.s.Q;
    net->has_pool = spec->stem == SG_STEM_IMAGENET;
    if (net->has_pool) {
        net->pool = sg_pool_shape_make(N, C, H, W, 3, 2, 1);
        H = net->pool.P;
        W = net->pool.Q;
        track(net, (size_t)N * C * H * W);
    }

    static const int blocks18[4] = {2, 2, 2, 2}, blocks50[4] = {3, 4, 6, 3};
    const int bottleneck = spec->depth == 50;
    const int *nb = bottleneck ? blocks50 : blocks18;
    const int expansion = bottleneck ? 4 : 1;
    int in_c = C;
    for (int layer = 0; layer < 4; layer++) {
        int width = scaled(64 << layer, spec->width);
        int out_c = width * expansion;
        for (int i = 0; i < nb[layer]; i++) {
            int stride = (layer > 0 && i == 0) ? 2 : 1;
            sg_block *b = &net->blocks[net->nblocks++];
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d.", layer + 1, i);
            b->bottleneck = bottleneck;
            if (!bottleneck) {
                conv_bn(net, be, p, group, &b->c1, &b->b1, prefix, "conv1", "bn1", in_c, H, W,
                        width, 3, stride, 1);
                conv_bn(net, be, p, group, &b->c2, &b->b2, prefix, "conv2", "bn2", width,
                        b->c1.s.P, b->c1.s.Q, width, 3, 1, 1);
            } else {
                conv_bn(net, be, p, group, &b->c1, &b->b1, prefix, "conv1", "bn1", in_c, H, W,
                        width, 1, 1, 0);
                conv_bn(net, be, p, group, &b->c2, &b->b2, prefix, "conv2", "bn2", width, H, W,
                        width, 3, stride, 1);
                conv_bn(net, be, p, group, &b->c3, &b->b3, prefix, "conv3", "bn3", width,
                        b->c2.s.P, b->c2.s.Q, out_c, 1, 1, 0);
            }
            b->has_down = stride != 1 || in_c != out_c;
            if (b->has_down)
                conv_bn(net, be, p, group, &b->cd, &b->bd, prefix, "downsample.0", "downsample.1",
                        in_c, H, W, out_c, 1, stride, 0);
            const sg_conv *last = bottleneck ? &b->c3 : &b->c2;
            H = last->s.P;
            W = last->s.Q;
            in_c = out_c;
        }
    }
    net->feat_dim = in_c;
    net->final_HW = H * W;
    return 0;
}

void sg_resnet_init(sg_resnet *net, sg_rng *r) {
    sg_conv_init(&net->stem_conv, r);
    sg_bn_init(&net->stem_bn);
    for (int i = 0; i < net->nblocks; i++) {
        sg_block *b = &net->blocks[i];
        sg_conv_init(&b->c1, r);
        sg_bn_init(&b->b1);
        sg_conv_init(&b->c2, r);
        sg_bn_init(&b->b2);
        if (b->bottleneck) {
            sg_conv_init(&b->c3, r);
            sg_bn_init(&b->b3);
        }
        if (b->has_down) {
            sg_conv_init(&b->cd, r);
            sg_bn_init(&b->bd);
        }
    }
}

static void saved_build(sg_bn_saved *s, const sg_bn *b, sg_arena *arena) {
    s->mean = SG_ARENA_NEW(arena, float, b->C);
    s->invstd = SG_ARENA_NEW(arena, float, b->C);
}

void sg_resnet_acts_build(sg_resnet_acts *a, const sg_resnet *net, sg_arena *arena) {
    memset(a, 0, sizeof *a);
    size_t stem_out = sg_conv_numel_out(&net->stem_conv);
    a->stem_c = SG_ARENA_NEW(arena, float, stem_out);
    a->stem_r = SG_ARENA_NEW(arena, float, stem_out);
    saved_build(&a->stem_s, &net->stem_bn, arena);
    if (net->has_pool) {
        const sg_pool_shape *ps = &net->pool;
        size_t n = (size_t)ps->N * ps->C * ps->P * ps->Q;
        a->pool = SG_ARENA_NEW(arena, float, n);
        a->argmax = SG_ARENA_NEW(arena, int32_t, n);
    } else {
        a->pool = a->stem_r;
    }
    for (int i = 0; i < net->nblocks; i++) {
        const sg_block *b = &net->blocks[i];
        sg_block_acts *ba = &a->b[i];
        ba->t1 = SG_ARENA_NEW(arena, float, sg_conv_numel_out(&b->c1));
        ba->r1 = SG_ARENA_NEW(arena, float, sg_conv_numel_out(&b->c1));
        ba->t2 = SG_ARENA_NEW(arena, float, sg_conv_numel_out(&b->c2));
        saved_build(&ba->s1, &b->b1, arena);
        saved_build(&ba->s2, &b->b2, arena);
        const sg_conv *last = &b->c2;
        if (b->bottleneck) {
            ba->r2 = SG_ARENA_NEW(arena, float, sg_conv_numel_out(&b->c2));
            ba->t3 = SG_ARENA_NEW(arena, float, sg_conv_numel_out(&b->c3));
            saved_build(&ba->s3, &b->b3, arena);
            last = &b->c3;
        }
        if (b->has_down) {
            ba->td = SG_ARENA_NEW(arena, float, sg_conv_numel_out(&b->cd));
            saved_build(&ba->sd, &b->bd, arena);
        }
        ba->out = SG_ARENA_NEW(arena, float, sg_conv_numel_out(last));
    }
    a->feat = SG_ARENA_NEW(arena, float, (size_t)net->N * net->feat_dim);
}

void sg_resnet_scratch_build(sg_resnet_scratch *s, const sg_resnet *net, sg_arena *arena) {
    for (int i = 0; i < 4; i++) s->buf[i] = SG_ARENA_NEW(arena, float, net->max_act);
    s->conv_ws = sg_arena_alloc(arena, net->conv_workspace);
}

/* conv -> BN (-> ReLU when relu, fused with the BN) */
static void conv_bn_fwd(const sg_backend *be, const sg_conv *c, const sg_bn *b, const float *x,
                        float *t, float *y, sg_bn_saved *saved, int relu, int train, void *ws) {
    sg_conv2d_fwd(be, &c->s, x, c->w, t, ws);
    if (relu)
        sg_bn_relu_forward(be, b, t, y, saved, train);
    else
        sg_bn_forward(be, b, t, y, saved, train);
}

void sg_resnet_forward(const sg_backend *be, const sg_resnet *net, sg_resnet_acts *a,
                       sg_resnet_scratch *s, const float *x, int train) {
    a->x = x;
    conv_bn_fwd(be, &net->stem_conv, &net->stem_bn, x, a->stem_c, a->stem_r, &a->stem_s, 1,
                train, s->conv_ws);
    if (net->has_pool) sg_maxpool_fwd(be, &net->pool, a->stem_r, a->pool, a->argmax);
    const float *in = a->pool;
    for (int i = 0; i < net->nblocks; i++) {
        const sg_block *b = &net->blocks[i];
        sg_block_acts *ba = &a->b[i];
        conv_bn_fwd(be, &b->c1, &b->b1, in, ba->t1, ba->r1, &ba->s1, 1, train, s->conv_ws);
        const sg_conv *last = &b->c2;
        if (!b->bottleneck) {
            conv_bn_fwd(be, &b->c2, &b->b2, ba->r1, ba->t2, ba->out, &ba->s2, 0, train,
                        s->conv_ws);
        } else {
            conv_bn_fwd(be, &b->c2, &b->b2, ba->r1, ba->t2, ba->r2, &ba->s2, 1, train,
                        s->conv_ws);
            conv_bn_fwd(be, &b->c3, &b->b3, ba->r2, ba->t3, ba->out, &ba->s3, 0, train,
                        s->conv_ws);
            last = &b->c3;
        }
        size_t n = sg_conv_numel_out(last);
        if (b->has_down) {
            /* the shortcut's BN output is only needed here: it goes through scratch */
            conv_bn_fwd(be, &b->cd, &b->bd, in, ba->td, s->buf[0], &ba->sd, 0, train, s->conv_ws);
            sg_add_fwd(be, n, ba->out, s->buf[0], ba->out);
        } else {
            sg_add_fwd(be, n, ba->out, in, ba->out);
        }
        sg_relu_fwd(be, n, ba->out, ba->out);
        in = ba->out;
    }
    sg_avgpool_global_fwd(be, net->N, net->feat_dim, net->final_HW, in, a->feat);
}

/* dy (consumed) -> (ReLU backward from its output r, when the forward had one) -> BN backward
 * -> conv backward: accumulates dW, writes dx when dx != NULL. tmp receives dL/d(conv output). */
static void conv_bn_bwd(const sg_backend *be, const sg_conv *c, const sg_bn *b, const float *x,
                        const float *t, const float *r, const sg_bn_saved *saved, float *dy,
                        float *tmp, float *dx, void *ws) {
    if (r)
        sg_bn_relu_backward(be, b, t, r, saved, dy, tmp);
    else
        sg_bn_backward(be, b, t, saved, dy, tmp);
    sg_conv2d_bwd_filter(be, &c->s, x, tmp, c->dw, 1, ws);
    if (dx) sg_conv2d_bwd_data(be, &c->s, tmp, c->w, dx, ws);
}

void sg_resnet_backward(const sg_backend *be, const sg_resnet *net, sg_resnet_acts *a,
                        sg_resnet_scratch *s, const float *dfeat) {
    float *A = s->buf[0], *B = s->buf[1], *C = s->buf[2], *D = s->buf[3];
    void *ws = s->conv_ws;
    /* A = dL/d(last block output) */
    sg_avgpool_global_bwd(be, net->N, net->feat_dim, net->final_HW, dfeat, A);
    for (int i = net->nblocks - 1; i >= 0; i--) {
        const sg_block *b = &net->blocks[i];
        sg_block_acts *ba = &a->b[i];
        const float *in = i > 0 ? a->b[i - 1].out : a->pool;
        const sg_conv *last = b->bottleneck ? &b->c3 : &b->c2;
        size_t n_out = sg_conv_numel_out(last);
        sg_relu_bwd(be, n_out, ba->out, A, A); /* A = d(sum) */
        if (!b->bottleneck) {
            conv_bn_bwd(be, &b->c2, &b->b2, ba->r1, ba->t2, NULL, &ba->s2, A, C, D, ws);
        } else {
            conv_bn_bwd(be, &b->c3, &b->b3, ba->r2, ba->t3, NULL, &ba->s3, A, C, D, ws);
            conv_bn_bwd(be, &b->c2, &b->b2, ba->r1, ba->t2, ba->r2, &ba->s2, D, C, D, ws);
        }
        conv_bn_bwd(be, &b->c1, &b->b1, in, ba->t1, ba->r1, &ba->s1, D, C, B, ws);
        size_t n_in = (size_t)b->c1.s.N * b->c1.s.C * b->c1.s.H * b->c1.s.W;
        if (b->has_down) {
            conv_bn_bwd(be, &b->cd, &b->bd, in, ba->td, NULL, &ba->sd, A, C, D, ws);
            sg_add_fwd(be, n_in, B, D, B);
        } else {
            sg_add_fwd(be, n_in, B, A, B);
        }
        float *t = A; /* B is now dL/d(block input): the next (earlier) block's dout */
        A = B;
        B = t;
    }
    if (net->has_pool) {
        sg_maxpool_bwd(be, &net->pool, A, a->argmax, B);
        float *t = A;
        A = B;
        B = t;
    }
    conv_bn_bwd(be, &net->stem_conv, &net->stem_bn, a->x, a->stem_c, a->stem_r, &a->stem_s, A, C,
                NULL, ws);
}
