/* kernels/cuda/aug.cu: the augmentation ops of the CUDA backend (contract in kernels.h; the CPU
 * twin, whose torchvision formulas these follow line by line, is kernels/cpu/aug.c).
 *
 * Each op works on one image in device memory; scalar parameters come from the host by value.
 * Kernels are per element or per pixel, grid-stride, one launch per op, except colour jitter
 * (one launch per jitter op, plus a one-block mean for contrast) and the blur (two passes).
 * The batch op (aug_views) runs each stage over all N images at once (a launch or two, whatever
 * N), the per-image draws read from a table uploaded into its work; its kernels call the same
 * device functions as the single-image kernels, so each view is what those make, bit for bit.
 * Float arithmetic is spelled with __fmul_rn / __fadd_rn / __fdiv_rn: nvcc would otherwise
 * contract a*b + c into an FMA, while the CPU build (ISO C11, -ffp-contract=off) rounds each
 * operation; spelled this way the results are bit-identical to the CPU's, except the contrast
 * mean, whose double sum runs in a different (still fixed) order and can round differently in
 * its last float bit.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/backend.h"
#include "kernels/cuda/cuda_internal.h"

enum {
    AUG_THREADS = 256,
    AUG_MAX_BLOCKS = 8192, /* grid-stride beyond this */
    MEAN_THREADS = 1024,   /* the contrast mean: one block, power of two for the tree */
    BLUR_MAX_KSIZE = SG_AUG_BLUR_MAX_KSIZE, /* the front door's largest: taps travel by value */
    NORM_MAX_C = 32,       /* aug_normalize: mean/std travel by value in the launch */
};

static unsigned aug_blocks(size_t n) {
    unsigned b = sg_cu_blocks(n, AUG_THREADS);
    return b > (unsigned)AUG_MAX_BLOCKS ? (unsigned)AUG_MAX_BLOCKS : b;
}

#define GRID_STRIDE_LOOP(i, n)                                                                     \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

static __device__ __forceinline__ float clamp01(float v) {
    v = v < 0.0f ? 0.0f : v; /* the CPU's compare-and-select (a NaN passes through) */
    return v > 1.0f ? 1.0f : v;
}

/* 0.299 R + 0.587 G + 0.114 B, summed left to right as the CPU's luma() */
static __device__ __forceinline__ float luma(float r, float g, float b) {
    return __fadd_rn(__fadd_rn(__fmul_rn(0.299f, r), __fmul_rn(0.587f, g)), __fmul_rn(0.114f, b));
}

/* ---- u8 -> float ------------------------------------------------------------------------ */

static __device__ __forceinline__ float u8_to_float(uint8_t v) {
    return __fdiv_rn((float)v, 255.0f);
}

static __global__ void k_u8_to_float(size_t n, const uint8_t *__restrict__ src,
                                     float *__restrict__ dst) {
    GRID_STRIDE_LOOP(i, n) dst[i] = u8_to_float(src[i]);
}

static void cu_aug_u8_to_float(const sg_backend *be, size_t n, const uint8_t *src, float *dst) {
    if (n == 0) return;
    k_u8_to_float<<<aug_blocks(n), AUG_THREADS, 0, sg_cu_stream(be)>>>(n, src, dst);
    SG_CU_LAUNCH("k_u8_to_float");
}

/* ---- resized crop --------------------------------------------------------------------------
 * One axis of the bilinear sampling (cpu/aug.c's crop_axis_taps): output index i samples
 * s = start + (i + 0.5) * scale - 0.5, clamped into [box_lo, box_hi]. The per-axis constants
 * are computed in float exactly as the CPU computes them: on the host for one image, on the
 * device (crop_axis_dev, the same operations each rounded once) for a batch. */
typedef struct {
    float start, scale, box_lo, box_hi;
    int n_in;
} crop_axis;

static crop_axis crop_axis_make(int n_in, float start, float len, int n_out) {
    crop_axis a;
    a.start = start;
    a.scale = len / (float)n_out;
    float box_hi = start + len - 1.0f;
    const float limit = (float)(n_in - 1);
    if (box_hi > limit) box_hi = limit;
    const float box_lo = start < box_hi ? start : box_hi; /* boxes under a pixel: one point */
    if (box_hi < box_lo) box_hi = box_lo;
    a.box_lo = box_lo;
    a.box_hi = box_hi;
    a.n_in = n_in;
    return a;
}

/* crop_axis_make on the device: aug_views' boxes live in device memory. No multiplications, so
 * nothing to contract; the intrinsics only pin each operation's rounding as the host's. */
static __device__ __forceinline__ crop_axis crop_axis_dev(int n_in, float start, float len,
                                                          int n_out) {
    crop_axis a;
    a.start = start;
    a.scale = __fdiv_rn(len, __int2float_rn(n_out));
    float box_hi = __fsub_rn(__fadd_rn(start, len), 1.0f);
    const float limit = __int2float_rn(n_in - 1);
    if (box_hi > limit) box_hi = limit;
    const float box_lo = start < box_hi ? start : box_hi;
    if (box_hi < box_lo) box_hi = box_lo;
    a.box_lo = box_lo;
    a.box_hi = box_hi;
    a.n_in = n_in;
    return a;
}

static __device__ __forceinline__ void crop_tap(const crop_axis &a, int i, int *lo, int *hi,
                                                float *frac) {
    float s = __fsub_rn(__fadd_rn(a.start, __fmul_rn(__fadd_rn((float)i, 0.5f), a.scale)), 0.5f);
    s = s < a.box_lo ? a.box_lo : s;
    s = s > a.box_hi ? a.box_hi : s;
    const int k = (int)s; /* s >= box_lo >= 0: truncation is floor */
    *lo = k;
    *hi = k + 1 < a.n_in ? k + 1 : k;
    *frac = __fsub_rn(s, (float)k);
}

/* A source value as float: a float image as is, a uint8 one as k_u8_to_float makes it (the batch
 * reads the uint8 source directly instead of keeping a float copy of every image). */
static __device__ __forceinline__ float src_value(const float *p, size_t i) { return p[i]; }
static __device__ __forceinline__ float src_value(const uint8_t *p, size_t i) {
    return u8_to_float(p[i]);
}

/* Output (i, j) of one source plane of row length W: the bilinear blend of its four taps. */
template <typename T>
static __device__ __forceinline__ float crop_sample(const T *plane, int W, const crop_axis &ay,
                                                    const crop_axis &ax, int i, int j) {
    int ylo, yhi, xlo, xhi;
    float yfrac, xfrac;
    crop_tap(ay, i, &ylo, &yhi, &yfrac);
    crop_tap(ax, j, &xlo, &xhi, &xfrac);
    const T *r0 = plane + (size_t)ylo * W, *r1 = plane + (size_t)yhi * W;
    const float wy1 = yfrac, wy0 = __fsub_rn(1.0f, yfrac);
    const float wx1 = xfrac, wx0 = __fsub_rn(1.0f, xfrac);
    const float top = __fadd_rn(__fmul_rn(wx0, src_value(r0, (size_t)xlo)),
                                __fmul_rn(wx1, src_value(r0, (size_t)xhi)));
    const float bot = __fadd_rn(__fmul_rn(wx0, src_value(r1, (size_t)xlo)),
                                __fmul_rn(wx1, src_value(r1, (size_t)xhi)));
    return __fadd_rn(__fmul_rn(wy0, top), __fmul_rn(wy1, bot));
}

/* One thread per output value dst[c, i, j]. */
static __global__ void k_resized_crop(int C, int H, int W, const float *__restrict__ src,
                                      crop_axis ay, crop_axis ax, int outH, int outW,
                                      float *__restrict__ dst) {
    const size_t total = (size_t)C * outH * outW;
    GRID_STRIDE_LOOP(idx, total) {
        const int j = (int)(idx % (size_t)outW);
        const size_t ci = idx / (size_t)outW;
        const int i = (int)(ci % (size_t)outH);
        const int c = (int)(ci / (size_t)outH);
        dst[idx] = crop_sample(src + (size_t)c * H * W, W, ay, ax, i, j);
    }
}

static void cu_aug_resized_crop(const sg_backend *be, int C, int H, int W, const float *src,
                                float y0, float x0, float h, float w, int outH, int outW,
                                float *dst) {
    const crop_axis ay = crop_axis_make(H, y0, h, outH);
    const crop_axis ax = crop_axis_make(W, x0, w, outW);
    const size_t total = (size_t)C * outH * outW;
    k_resized_crop<<<aug_blocks(total), AUG_THREADS, 0, sg_cu_stream(be)>>>(C, H, W, src, ay, ax,
                                                                            outH, outW, dst);
    SG_CU_LAUNCH("k_resized_crop");
}

/* ---- horizontal flip ---------------------------------------------------------------------- */

/* dst distinct from src: one thread per output element. */
static __global__ void k_hflip(size_t rows, int W, const float *__restrict__ src,
                               float *__restrict__ dst) {
    const size_t total = rows * (size_t)W;
    GRID_STRIDE_LOOP(idx, total) {
        const int x = (int)(idx % (size_t)W);
        const size_t row = idx - (size_t)x;
        dst[idx] = src[row + (size_t)(W - 1 - x)];
    }
}

/* In place: one thread per pair (x, W-1-x), x < W/2, swaps them (the middle column of an odd
 * width stays), so no element is read after another thread wrote it. */
static __global__ void k_hflip_inplace(size_t rows, int W, float *img) {
    const int half = W / 2;
    const size_t total = rows * (size_t)half;
    GRID_STRIDE_LOOP(idx, total) {
        const size_t r = idx / (size_t)half;
        const int x = (int)(idx % (size_t)half);
        float *row = img + r * (size_t)W;
        const float t = row[x];
        row[x] = row[W - 1 - x];
        row[W - 1 - x] = t;
    }
}

static void cu_aug_hflip(const sg_backend *be, int C, int H, int W, const float *src, float *dst) {
    const size_t rows = (size_t)C * H, n = rows * W;
    cudaStream_t st = sg_cu_stream(be);
    if (dst == src) {
        if (W / 2 == 0) return; /* one column: nothing to swap */
        k_hflip_inplace<<<aug_blocks(rows * (size_t)(W / 2)), AUG_THREADS, 0, st>>>(rows, W, dst);
        SG_CU_LAUNCH("k_hflip_inplace");
        return;
    }
    k_hflip<<<aug_blocks(n), AUG_THREADS, 0, st>>>(rows, W, src, dst);
    SG_CU_LAUNCH("k_hflip");
}

/* ---- colour ----------------------------------------------------------------------------------
 * img[3,H,W] as three planes r, g, b of n = H*W pixels; one thread per pixel. Each op's
 * per-pixel arithmetic is one device function on the pixel's (R, G, B), shared by the single-image
 * kernels and the batch's, so both compute literally the same thing. */

static __device__ __forceinline__ void brightness_px(float &R, float &G, float &B, float f) {
    R = clamp01(__fmul_rn(f, R));
    G = clamp01(__fmul_rn(f, G));
    B = clamp01(__fmul_rn(f, B));
}

/* m = (1 - f) * mean luma, from contrast_mean_block */
static __device__ __forceinline__ void contrast_px(float &R, float &G, float &B, float f,
                                                   float m) {
    R = clamp01(__fadd_rn(__fmul_rn(f, R), m));
    G = clamp01(__fadd_rn(__fmul_rn(f, G), m));
    B = clamp01(__fadd_rn(__fmul_rn(f, B), m));
}

static __device__ __forceinline__ void saturation_px(float &R, float &G, float &B, float f) {
    const float l = __fmul_rn(__fsub_rn(1.0f, f), luma(R, G, B));
    R = clamp01(__fadd_rn(__fmul_rn(f, R), l));
    G = clamp01(__fadd_rn(__fmul_rn(f, G), l));
    B = clamp01(__fadd_rn(__fmul_rn(f, B), l));
}

/* torchvision's _rgb2hsv -> h = (h + shift) mod 1 -> _hsv2rgb, cpu/aug.c's jitter_hue with its
 * selects written as ?: (ties in the max go to R, then G). */
static __device__ __forceinline__ void hue_px(float &R, float &G, float &B, float shift) {
    float maxc = R > G ? R : G;
    maxc = maxc > B ? maxc : B;
    float minc = R < G ? R : G;
    minc = minc < B ? minc : B;
    const bool gray = maxc == minc;
    const float cr = __fsub_rn(maxc, minc);
    const float s = __fdiv_rn(cr, gray ? 1.0f : maxc);
    const float div = gray ? 1.0f : cr;
    const float rc = __fdiv_rn(__fsub_rn(maxc, R), div);
    const float gc = __fdiv_rn(__fsub_rn(maxc, G), div);
    const float bc = __fdiv_rn(__fsub_rn(maxc, B), div);
    float hh = maxc == R   ? __fsub_rn(bc, gc)
               : maxc == G ? __fsub_rn(__fadd_rn(2.0f, rc), bc)
                           : __fsub_rn(__fadd_rn(4.0f, gc), rc);
    hh = __fadd_rn(__fdiv_rn(hh, 6.0f), 1.0f); /* in [5/6, 11/6] */
    hh = hh >= 1.0f ? __fsub_rn(hh, 1.0f) : hh;
    hh = __fadd_rn(hh, shift); /* in [-0.5, 1.5): Python's % 1.0 by one correction */
    hh = hh < 0.0f ? __fadd_rn(hh, 1.0f) : (hh >= 1.0f ? __fsub_rn(hh, 1.0f) : hh);

    const float v = maxc;
    const float h6 = __fmul_rn(hh, 6.0f);
    const int k = (int)h6; /* 0..6; 6 (hh rounded up to 1.0) is sector 0, as torch's i % 6 */
    const float fr = __fsub_rn(h6, (float)k);
    const float pp = clamp01(__fmul_rn(v, __fsub_rn(1.0f, s)));
    const float qq = clamp01(__fmul_rn(v, __fsub_rn(1.0f, __fmul_rn(s, fr))));
    const float tt = clamp01(__fmul_rn(v, __fsub_rn(1.0f, __fmul_rn(s, __fsub_rn(1.0f, fr)))));
    const bool s0 = k == 0 || k == 6, s1 = k == 1, s2 = k == 2, s3 = k == 3, s4 = k == 4,
               s5 = k == 5;
    /* sector: 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q) */
    const float nr = (s0 || s5) ? v : (s1 ? qq : (s4 ? tt : pp));
    const float ng = (s1 || s2) ? v : (s0 ? tt : (s3 ? qq : pp));
    const float nb = (s3 || s4) ? v : (s2 ? tt : (s5 ? qq : pp));
    R = clamp01(nr);
    G = clamp01(ng);
    B = clamp01(nb);
}

static __device__ __forceinline__ void grayscale_px(float &R, float &G, float &B) {
    const float l = luma(R, G, B);
    R = l;
    G = l;
    B = l;
}

/* Pixel p of the planes r, g, b through one of the *_px functions above. */
#define PIXEL_APPLY(r, g, b, p, call)                                                              \
    do {                                                                                           \
        float R = (r)[p], G = (g)[p], B = (b)[p];                                                  \
        call;                                                                                      \
        (r)[p] = R;                                                                                \
        (g)[p] = G;                                                                                \
        (b)[p] = B;                                                                                \
    } while (0)

static __global__ void k_brightness(size_t n, float *__restrict__ img, float f) {
    float *r = img, *g = img + n, *b = img + 2 * n;
    GRID_STRIDE_LOOP(p, n) PIXEL_APPLY(r, g, b, p, brightness_px(R, G, B, f));
}

/* One block of MEAN_THREADS: *m_out = (1 - f) * mean luma of img[3, n], the mean summed in double
 * (per-thread strided partials, then a fixed tree), as the CPU's jitter_contrast computes m.
 * part: the block's MEAN_THREADS shared doubles. Every thread of the block must call it. */
static __device__ __forceinline__ void contrast_mean_block(size_t n, const float *img, float f,
                                                           double *part, float *m_out) {
    const float *r = img, *g = img + n, *b = img + 2 * n;
    const unsigned t = threadIdx.x;
    double acc = 0.0;
    for (size_t p = t; p < n; p += MEAN_THREADS)
        acc = __dadd_rn(acc, (double)luma(r[p], g[p], b[p]));
    part[t] = acc;
    __syncthreads();
    for (unsigned h = MEAN_THREADS / 2; h > 0; h >>= 1) {
        if (t < h) part[t] = __dadd_rn(part[t], part[t + h]);
        __syncthreads();
    }
    if (t == 0) {
        const float mean = (float)(part[0] / (double)n);
        *m_out = __fmul_rn(__fsub_rn(1.0f, f), mean);
    }
}

static __global__ void k_contrast_mean(size_t n, const float *__restrict__ img, float f,
                                       float *__restrict__ m_out) {
    __shared__ double part[MEAN_THREADS];
    contrast_mean_block(n, img, f, part, m_out);
}

static __global__ void k_contrast(size_t n, float *__restrict__ img, float f,
                                  const float *__restrict__ m_dev) {
    const float m = *m_dev;
    float *r = img, *g = img + n, *b = img + 2 * n;
    GRID_STRIDE_LOOP(p, n) PIXEL_APPLY(r, g, b, p, contrast_px(R, G, B, f, m));
}

static __global__ void k_saturation(size_t n, float *__restrict__ img, float f) {
    float *r = img, *g = img + n, *b = img + 2 * n;
    GRID_STRIDE_LOOP(p, n) PIXEL_APPLY(r, g, b, p, saturation_px(R, G, B, f));
}

static __global__ void k_hue(size_t n, float *__restrict__ img, float shift) {
    float *r = img, *g = img + n, *b = img + 2 * n;
    GRID_STRIDE_LOOP(p, n) PIXEL_APPLY(r, g, b, p, hue_px(R, G, B, shift));
}

/* order[4] is host memory. The contrast mean goes through the backend scratch (one float), read
 * by the next kernel in stream order. */
static void cu_aug_color_jitter(const sg_backend *be, int H, int W, float *img, float brightness,
                                float contrast, float saturation, float hue, const int order[4]) {
    const size_t n = (size_t)H * W;
    const unsigned blocks = aug_blocks(n);
    cudaStream_t st = sg_cu_stream(be);
    for (int i = 0; i < 4; i++) {
        switch (order[i]) {
        case 0:
            k_brightness<<<blocks, AUG_THREADS, 0, st>>>(n, img, brightness);
            SG_CU_LAUNCH("k_brightness");
            break;
        case 1: {
            float *m = (float *)sg_cu_scratch(be, sizeof(float));
            k_contrast_mean<<<1, MEAN_THREADS, 0, st>>>(n, img, contrast, m);
            SG_CU_LAUNCH("k_contrast_mean");
            k_contrast<<<blocks, AUG_THREADS, 0, st>>>(n, img, contrast, m);
            SG_CU_LAUNCH("k_contrast");
            break;
        }
        case 2:
            k_saturation<<<blocks, AUG_THREADS, 0, st>>>(n, img, saturation);
            SG_CU_LAUNCH("k_saturation");
            break;
        default:
            /* A zero shift is skipped, as ColorJitter skips a hue range of 0; the HSV round trip
             * is not bit-exact, and the identity parameters must leave the image unchanged. */
            if (hue != 0.0f) {
                k_hue<<<blocks, AUG_THREADS, 0, st>>>(n, img, hue);
                SG_CU_LAUNCH("k_hue");
            }
            break;
        }
    }
}

static __global__ void k_grayscale(size_t n, float *__restrict__ img) {
    float *r = img, *g = img + n, *b = img + 2 * n;
    GRID_STRIDE_LOOP(p, n) PIXEL_APPLY(r, g, b, p, grayscale_px(R, G, B));
}

static void cu_aug_grayscale(const sg_backend *be, int H, int W, float *img) {
    const size_t n = (size_t)H * W;
    k_grayscale<<<aug_blocks(n), AUG_THREADS, 0, sg_cu_stream(be)>>>(n, img);
    SG_CU_LAUNCH("k_grayscale");
}

/* ---- Gaussian blur ---------------------------------------------------------------------------
 * cpu/aug.c's separable blur: taps from sg_aug_blur_taps (the CPU's), a horizontal pass
 * src -> work and a vertical pass work -> dst, each output summing its ksize taps in ascending
 * order from 0 (the CPU's order for border and interior pixels alike), torch 'reflect' padding
 * repeated periodically for kernels wider than the image. dst may alias src (the vertical pass
 * reads only work); work must alias neither. */

typedef struct {
    float t[BLUR_MAX_KSIZE];
} blur_taps;

static __device__ __forceinline__ int reflect_index(int i, int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

/* Output i of a line of n values (line[0], line[stride], ...: a row with stride 1, a column
 * with stride W): the ksize taps summed in ascending order from 0, reflect-padded. Both passes of
 * the single-image blur and of the batch's. */
static __device__ __forceinline__ float blur_line_px(const float *taps, int ksize,
                                                     const float *line, size_t stride, int i,
                                                     int n) {
    const int pad = ksize / 2;
    float acc = 0.0f;
    for (int k = 0; k < ksize; k++)
        acc = __fadd_rn(acc,
                        __fmul_rn(taps[k], line[(size_t)reflect_index(i - pad + k, n) * stride]));
    return acc;
}

/* The taps are copied to shared memory first: every thread reaches the barrier (the grid-stride
 * loop comes after it). */
static __global__ void k_blur_h(int C, int H, int W, const float *__restrict__ src,
                                float *__restrict__ work, blur_taps taps, int ksize) {
    __shared__ float st[BLUR_MAX_KSIZE];
    for (int k = threadIdx.x; k < ksize; k += blockDim.x) st[k] = taps.t[k];
    __syncthreads();
    const size_t total = (size_t)C * H * W;
    GRID_STRIDE_LOOP(idx, total) {
        const int x = (int)(idx % (size_t)W);
        /* from the start of the row */
        work[idx] = blur_line_px(st, ksize, src + (idx - (size_t)x), 1, x, W);
    }
}

static __global__ void k_blur_v(int C, int H, int W, const float *__restrict__ work, float *dst,
                                blur_taps taps, int ksize) {
    __shared__ float st[BLUR_MAX_KSIZE];
    for (int k = threadIdx.x; k < ksize; k += blockDim.x) st[k] = taps.t[k];
    __syncthreads();
    const size_t plane = (size_t)H * W, total = (size_t)C * plane;
    GRID_STRIDE_LOOP(idx, total) {
        const size_t c = idx / plane;
        const size_t rem = idx - c * plane;
        const int y = (int)(rem / (size_t)W), x = (int)(rem % (size_t)W);
        const float *col = work + c * plane + (size_t)x;
        dst[idx] = blur_line_px(st, ksize, col, (size_t)W, y, H);
    }
}

static void cu_aug_gaussian_blur(const sg_backend *be, int C, int H, int W, const float *src,
                                 float *dst, int ksize, float sigma, float *work) {
    blur_taps taps;
    sg_aug_blur_taps(ksize, sigma, taps.t); /* the CPU's taps, bit for bit */
    for (int k = ksize; k < BLUR_MAX_KSIZE; k++) taps.t[k] = 0.0f; /* never read */
    const size_t total = (size_t)C * H * W;
    cudaStream_t st = sg_cu_stream(be);
    k_blur_h<<<aug_blocks(total), AUG_THREADS, 0, st>>>(C, H, W, src, work, taps, ksize);
    SG_CU_LAUNCH("k_blur_h");
    k_blur_v<<<aug_blocks(total), AUG_THREADS, 0, st>>>(C, H, W, work, dst, taps, ksize);
    SG_CU_LAUNCH("k_blur_v");
}

/* ---- solarize, normalize -------------------------------------------------------------------- */

static __device__ __forceinline__ float solarize_px(float v, float threshold) {
    return v >= threshold ? __fsub_rn(1.0f, v) : v;
}

static __global__ void k_solarize(size_t n, float *__restrict__ img, float threshold) {
    GRID_STRIDE_LOOP(i, n) img[i] = solarize_px(img[i], threshold);
}

static void cu_aug_solarize(const sg_backend *be, size_t n, float *img, float threshold) {
    if (n == 0) return;
    k_solarize<<<aug_blocks(n), AUG_THREADS, 0, sg_cu_stream(be)>>>(n, img, threshold);
    SG_CU_LAUNCH("k_solarize");
}

typedef struct {
    float mean[NORM_MAX_C], std[NORM_MAX_C];
} norm_params;

/* (x - mean) / std with a true division, as torch's sub_(mean).div_(std). img holds
 * total / (C*HW) images of C planes of HW values: one for aug_normalize, N for aug_views. */
static __global__ void k_normalize(size_t total, int C, int HW, float *__restrict__ img,
                                   norm_params np) {
    GRID_STRIDE_LOOP(idx, total) {
        const int c = (int)(idx / (size_t)HW % (size_t)C);
        img[idx] = __fdiv_rn(__fsub_rn(img[idx], np.mean[c]), np.std[c]);
    }
}

/* mean[C] and std[C] are HOST pointers on this backend (as on the CPU, where host and backend
 * memory are one): the few per-channel constants are read here and travel by value in the
 * launch, so the caller need not keep device copies. Hence C <= NORM_MAX_C. */
static norm_params norm_params_make(const char *op, int C, const float *mean, const float *std) {
    SG_CHECK(C <= NORM_MAX_C, "%s: C=%d, at most %d channels on cuda", op, C, NORM_MAX_C);
    norm_params np;
    for (int c = 0; c < NORM_MAX_C; c++) {
        np.mean[c] = c < C ? mean[c] : 0.0f;
        np.std[c] = c < C ? std[c] : 1.0f;
    }
    return np;
}

static void cu_aug_normalize(const sg_backend *be, int C, int HW, float *img, const float *mean,
                             const float *std) {
    const norm_params np = norm_params_make("aug_normalize", C, mean, std);
    const size_t total = (size_t)C * HW;
    k_normalize<<<aug_blocks(total), AUG_THREADS, 0, sg_cu_stream(be)>>>(total, C, HW, img, np);
    SG_CU_LAUNCH("k_normalize");
}

/* ---- a batch of views -------------------------------------------------------------------------
 * aug_views: image n of src[N, Cin, H, W] through sg_augment's stages with view[n]'s draws into
 * dst[N, C, S, S]. Each stage is one grid-stride launch over the whole batch (the jitter: a mean
 * and a per-pixel launch per position of its order), whose threads find their image by dividing
 * the flat index and read its draws from the view table; an image a stage skips is left as it
 * is. Each kernel computes through the device functions of the single-image kernels above. The
 * work, in sg_aug_views_work_bytes' order, each part starting on a 256-byte boundary:
 *   view table [N]                 uploaded with the taps in one copy
 *   blur taps  [N][ksize]          row n: image n's taps when it blurs (unused otherwise)
 *   m          [N] floats          the contrast terms (in room for N doubles)
 *   blur pass  [N, C, S, S]        the horizontal pass's output
 * Jitter and grey run only with C = 3 (the front door checks each view that asks for them). */

/* u8 -> float, the resized crop and the flip in one pass, one thread per output dst[n, c, i, j]:
 * the source is read as k_u8_to_float would have written it (Cin = 1 with C = 3: every channel
 * reads the one plane, as the single-image path's copies do), and the flip, a permutation, is
 * folded into the index: output column j is the crop's column S-1-j. */
static __global__ void k_views_crop(size_t total, int Cin, int H, int W,
                                    const uint8_t *__restrict__ src, int C, int S,
                                    const sg_aug_view *__restrict__ view,
                                    float *__restrict__ dst) {
    const size_t plane = (size_t)H * W;
    GRID_STRIDE_LOOP(idx, total) {
        const int j = (int)(idx % (size_t)S);
        size_t t = idx / (size_t)S;
        const int i = (int)(t % (size_t)S);
        t /= (size_t)S;
        const int c = (int)(t % (size_t)C);
        const size_t n = t / (size_t)C;
        const sg_aug_view *v = &view[n];
        const crop_axis ay = crop_axis_dev(H, v->y0, v->h, S);
        const crop_axis ax = crop_axis_dev(W, v->x0, v->w, S);
        const uint8_t *in = src + (n * (size_t)Cin + (size_t)(Cin == C ? c : 0)) * plane;
        dst[idx] = crop_sample(in, W, ay, ax, i, v->flip ? S - 1 - j : j);
    }
}

/* Position pos of the jitter orders, contrast's mean: block n computes image n's m[n] as
 * k_contrast_mean does, when its op at pos is contrast. A block with nothing to do returns as a
 * whole, before any barrier. */
static __global__ void k_views_contrast_mean(size_t HW, size_t img_elems,
                                             const float *__restrict__ img,
                                             const sg_aug_view *__restrict__ view, int pos,
                                             float *__restrict__ m) {
    __shared__ double part[MEAN_THREADS];
    const size_t n = blockIdx.x;
    const sg_aug_view *v = &view[n];
    if (!v->jitter || v->order[pos] != 1) return;
    contrast_mean_block(HW, img + n * img_elems, v->contrast, part, &m[n]);
}

/* Position pos of the jitter orders, one thread per pixel: each image's op at pos (a zero hue
 * shift skipped, as cu_aug_color_jitter skips it), or nothing when the image does not jitter. */
static __global__ void k_views_jitter(size_t total, size_t HW, size_t img_elems,
                                      float *__restrict__ img,
                                      const sg_aug_view *__restrict__ view, int pos,
                                      const float *__restrict__ m) {
    GRID_STRIDE_LOOP(idx, total) {
        const size_t n = idx / HW;
        const sg_aug_view *v = &view[n];
        if (!v->jitter) continue;
        const int op = v->order[pos];
        if (op == 3 && v->hue == 0.0f) continue;
        float *r = img + n * img_elems + (idx - n * HW), *g = r + HW, *b = g + HW;
        switch (op) {
        case 0: PIXEL_APPLY(r, g, b, 0, brightness_px(R, G, B, v->brightness)); break;
        case 1: PIXEL_APPLY(r, g, b, 0, contrast_px(R, G, B, v->contrast, m[n])); break;
        case 2: PIXEL_APPLY(r, g, b, 0, saturation_px(R, G, B, v->saturation)); break;
        default: PIXEL_APPLY(r, g, b, 0, hue_px(R, G, B, v->hue)); break;
        }
    }
}

static __global__ void k_views_grayscale(size_t total, size_t HW, size_t img_elems,
                                         float *__restrict__ img,
                                         const sg_aug_view *__restrict__ view) {
    GRID_STRIDE_LOOP(idx, total) {
        const size_t n = idx / HW;
        if (!view[n].gray) continue;
        float *r = img + n * img_elems + (idx - n * HW), *g = r + HW, *b = g + HW;
        PIXEL_APPLY(r, g, b, 0, grayscale_px(R, G, B));
    }
}

/* The blur's passes, dst -> work -> dst for the images that blur, with row n of taps. The taps
 * stay in global memory (a block may span images); the arithmetic is k_blur_h / k_blur_v's. */
static __global__ void k_views_blur_h(size_t total, size_t img_elems, int S,
                                      const float *__restrict__ src, float *__restrict__ work,
                                      const sg_aug_view *__restrict__ view,
                                      const float *__restrict__ taps, int ksize) {
    GRID_STRIDE_LOOP(idx, total) {
        const size_t n = idx / img_elems;
        if (!view[n].blur) continue;
        const int x = (int)(idx % (size_t)S);
        work[idx] = blur_line_px(taps + n * (size_t)ksize, ksize, src + (idx - (size_t)x), 1, x,
                                 S);
    }
}

static __global__ void k_views_blur_v(size_t total, size_t img_elems, int S,
                                      const float *__restrict__ work, float *__restrict__ dst,
                                      const sg_aug_view *__restrict__ view,
                                      const float *__restrict__ taps, int ksize) {
    const size_t plane = (size_t)S * S;
    GRID_STRIDE_LOOP(idx, total) {
        const size_t n = idx / img_elems;
        if (!view[n].blur) continue;
        const size_t rem = idx % plane;
        const int y = (int)(rem / (size_t)S), x = (int)(rem % (size_t)S);
        const float *col = work + (idx - rem) + (size_t)x;
        dst[idx] = blur_line_px(taps + n * (size_t)ksize, ksize, col, (size_t)S, y, S);
    }
}

/* sg_augment solarizes at 0.5 */
static __global__ void k_views_solarize(size_t total, size_t img_elems, float *__restrict__ img,
                                        const sg_aug_view *__restrict__ view) {
    GRID_STRIDE_LOOP(idx, total) {
        if (view[idx / img_elems].solarize) img[idx] = solarize_px(img[idx], 0.5f);
    }
}

static size_t round256(size_t bytes) { return (bytes + 255) / 256 * 256; }

static void cu_aug_views(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src,
                         int C, int S, const sg_aug_view *view, int ksize, const float *mean,
                         const float *std, float *dst, void *work) {
    /* The host image of the work's front (table, then taps), uploaded in one copy. A pageable
     * source is consumed before cudaMemcpyAsync returns, so the next call may refill it without
     * waiting on the stream. Static, grown, never freed, and not thread-safe: the loader makes
     * its batches from one thread. */
    static unsigned char *stage = NULL;
    static size_t stage_cap = 0;

    const size_t n = (size_t)N, HW = (size_t)S * S, img_elems = (size_t)C * HW;
    const size_t total = n * img_elems, pixels = n * HW;
    const size_t rows = (size_t)(ksize > 0 ? ksize : 1); /* as sg_aug_views_work_bytes */
    const size_t table = n * sizeof(sg_aug_view), taps_off = round256(table);
    const size_t m_off = taps_off + round256(n * rows * sizeof(float));
    const size_t blur_off = m_off + round256(n * sizeof(double));
    char *w = (char *)work;
    const sg_aug_view *d_view = (const sg_aug_view *)w;
    const float *d_taps = (const float *)(w + taps_off);
    float *d_m = (float *)(w + m_off), *d_blur = (float *)(w + blur_off);

    /* the stages some image runs: the others are not launched */
    int mean_at[4] = {0, 0, 0, 0}, jitter_at[4] = {0, 0, 0, 0};
    int any_gray = 0, any_blur = 0, any_solarize = 0;
    for (int i = 0; i < N; i++) {
        const sg_aug_view *v = &view[i];
        for (int pos = 0; v->jitter && pos < 4; pos++) {
            mean_at[pos] |= v->order[pos] == 1;
            jitter_at[pos] |= !(v->order[pos] == 3 && v->hue == 0.0f);
        }
        any_gray |= v->gray;
        any_blur |= v->blur;
        any_solarize |= v->solarize;
    }

    const size_t up = any_blur ? taps_off + n * (size_t)ksize * sizeof(float) : table;
    if (up > stage_cap) {
        void *p = realloc(stage, up);
        SG_CHECK(p != NULL, "aug_views: no host memory for a %zu-byte view table", up);
        stage = (unsigned char *)p;
        stage_cap = up;
    }
    memcpy(stage, view, table);
    if (any_blur) {
        /* the padding and the rows of images that do not blur are never read: zeros, so that no
         * uninitialised byte goes up */
        memset(stage + table, 0, up - table);
        float *taps = (float *)(stage + taps_off);
        for (int i = 0; i < N; i++)
            if (view[i].blur) sg_aug_blur_taps(ksize, view[i].sigma, taps + (size_t)i * ksize);
    }
    cudaStream_t st = sg_cu_stream(be);
    SG_CU(cudaMemcpyAsync(work, stage, up, cudaMemcpyHostToDevice, st));

    const unsigned blocks = aug_blocks(total), pixel_blocks = aug_blocks(pixels);
    k_views_crop<<<blocks, AUG_THREADS, 0, st>>>(total, Cin, H, W, src, C, S, d_view, dst);
    SG_CU_LAUNCH("k_views_crop");
    for (int pos = 0; pos < 4; pos++) {
        if (mean_at[pos]) {
            k_views_contrast_mean<<<(unsigned)N, MEAN_THREADS, 0, st>>>(HW, img_elems, dst,
                                                                        d_view, pos, d_m);
            SG_CU_LAUNCH("k_views_contrast_mean");
        }
        if (jitter_at[pos]) {
            k_views_jitter<<<pixel_blocks, AUG_THREADS, 0, st>>>(pixels, HW, img_elems, dst,
                                                                 d_view, pos, d_m);
            SG_CU_LAUNCH("k_views_jitter");
        }
    }
    if (any_gray) {
        k_views_grayscale<<<pixel_blocks, AUG_THREADS, 0, st>>>(pixels, HW, img_elems, dst,
                                                                d_view);
        SG_CU_LAUNCH("k_views_grayscale");
    }
    if (any_blur) {
        k_views_blur_h<<<blocks, AUG_THREADS, 0, st>>>(total, img_elems, S, dst, d_blur, d_view,
                                                       d_taps, ksize);
        SG_CU_LAUNCH("k_views_blur_h");
        k_views_blur_v<<<blocks, AUG_THREADS, 0, st>>>(total, img_elems, S, d_blur, dst, d_view,
                                                       d_taps, ksize);
        SG_CU_LAUNCH("k_views_blur_v");
    }
    if (any_solarize) {
        k_views_solarize<<<blocks, AUG_THREADS, 0, st>>>(total, img_elems, dst, d_view);
        SG_CU_LAUNCH("k_views_solarize");
    }
    if (mean) {
        const norm_params np = norm_params_make("aug_views", C, mean, std);
        k_normalize<<<blocks, AUG_THREADS, 0, st>>>(total, C, (int)HW, dst, np);
        SG_CU_LAUNCH("k_normalize");
    }
}

void sg_cuda_fill_aug(sg_backend *be) {
    be->aug_u8_to_float = cu_aug_u8_to_float;
    be->aug_resized_crop = cu_aug_resized_crop;
    be->aug_hflip = cu_aug_hflip;
    be->aug_color_jitter = cu_aug_color_jitter;
    be->aug_grayscale = cu_aug_grayscale;
    be->aug_gaussian_blur = cu_aug_gaussian_blur;
    be->aug_solarize = cu_aug_solarize;
    be->aug_normalize = cu_aug_normalize;
    be->aug_views = cu_aug_views;
}
