/* kernels/cost_aug.c: FLOP and byte counts of the augmentation ops (see kernels.h and the
 * conventions of cost_nn.c: compulsory traffic, float32 = 4 bytes, uint8 = 1 byte). */
#include "kernels/kernels.h"

#define F32 4.0

static sg_cost cost(double flops, double bytes) {
    sg_cost r = {flops, bytes};
    return r;
}

/* one division per element; read a byte, write a float */
sg_cost sg_cost_aug_u8_to_float(size_t n) { return cost((double)n, 5.0 * n); }

/* 4 taps and 3 lerps (2 flops each) per output value; each output reads its 4 taps, so the
 * source traffic is at most 4 per output and never more than the whole image */
sg_cost sg_cost_aug_resized_crop(int C, int H, int W, int outH, int outW) {
    double ndst = (double)C * outH * outW, nsrc = (double)C * H * W;
    double src = 4.0 * ndst < nsrc ? 4.0 * ndst : nsrc;
    return cost(6.0 * ndst, F32 * (ndst + src));
}

/* a copy: read and write every value */
sg_cost sg_cost_aug_hflip(int C, int H, int W) { return cost(0, 2.0 * F32 * C * H * W); }

/* about 60 flops per pixel over brightness, contrast (a mean), saturation and hue; in place */
sg_cost sg_cost_aug_color_jitter(int H, int W) {
    double n = 3.0 * H * W;
    return cost(60.0 * n / 3, 2.0 * F32 * n);
}

/* 3 multiplies and 2 adds per pixel; in place */
sg_cost sg_cost_aug_grayscale(int H, int W) {
    double n = 3.0 * H * W;
    return cost(5.0 * n / 3, 2.0 * F32 * n);
}

/* two separable passes of ksize multiply-adds */
sg_cost sg_cost_aug_gaussian_blur(int C, int H, int W, int ksize) {
    double n = (double)C * H * W;
    return cost(4.0 * ksize * n, 2.0 * F32 * n);
}

/* a comparison per value; in place */
sg_cost sg_cost_aug_solarize(size_t n) { return cost((double)n, 2.0 * F32 * n); }

/* a subtraction and a division per value; in place */
sg_cost sg_cost_aug_normalize(int C, int HW) {
    double n = (double)C * HW;
    return cost(2.0 * n, 2.0 * F32 * n);
}

/* every stage on, per image: compulsory traffic is the uint8 source read once and the view
 * written once (the stages between work on the view in place) */
sg_cost sg_cost_aug_views(int N, int Cin, int H, int W, int C, int S, int ksize) {
    const double n_out = (double)C * S * S, n_in = (double)Cin * H * W;
    const double flops = 6.0 * n_out + sg_cost_aug_color_jitter(S, S).flops +
                         sg_cost_aug_grayscale(S, S).flops + 4.0 * ksize * n_out +
                         3.0 * n_out;
    return cost((double)N * flops, (double)N * (n_in + F32 * n_out));
}
