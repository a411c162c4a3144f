/* kernels/cpu/aug.c: the augmentation ops of the CPU backend (contract in kernels.h).
 *
 * One image per call, single-threaded: the data loader's worker threads parallelise across
 * images, so these never start OpenMP teams of their own (that would oversubscribe the cores the
 * workers already use), and they keep no static mutable state, so any number of threads may call
 * them at once. Inner loops run over contiguous floats of one plane, with selects instead of
 * branches and restrict-qualified planes, so that gcc vectorises them at -O3 without -ffast-math.
 *
 * Semantics follow torchvision's tensor implementations (transforms/functional_tensor.py):
 * blend(a, b, f) = clamp(f*a + (1-f)*b, 0, 1); brightness = blend(img, 0, f); contrast =
 * blend(img, mean(gray(img)), f); saturation = blend(img, gray(img), f); hue = HSV rotation
 * (_rgb2hsv / _hsv2rgb); gray = 0.299 R + 0.587 G + 0.114 B as kernels.h specifies (torchvision
 * writes 0.2989 for R; PIL and ITU-R 601 use 0.299). Arithmetic is float32 in torch's operation
 * order, except the contrast mean, whose sum over the image accumulates in double (torch's float
 * pairwise sum differs from it by rounding only).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_internal.h"

static inline float clamp01(float v) {
    v = v < 0.0f ? 0.0f : v; /* compare-and-select: maps to vmaxps/vminps */
    return v > 1.0f ? 1.0f : v;
}

/* cond ? a : b through a bit mask. Without -ffast-math gcc keeps float arithmetic that feeds only
 * one arm of a ?: behind a branch (it could raise an FP exception: -ftrapping-math), and a branch
 * stops vectorisation; computing both arms and selecting bits keeps the loop branch-free. */
static inline float select_f(int cond, float a, float b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const uint32_t mask = (uint32_t)0 - (uint32_t)(cond != 0);
    const uint32_t bits = (ua & mask) | (ub & ~mask);
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

/* ---- u8 -> float ---------------------------------------------------------------------------- */

/* Division, not multiplication by 1/255: bit-identical to torch's `img.float() / 255`. */
static void cpu_aug_u8_to_float(const sg_backend *be, size_t n, const uint8_t *restrict src,
                                float *restrict dst) {
    (void)be;
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

/* ---- resized crop ----------------------------------------------------------------------------
 * Bilinear resampling with align_corners=False: output index i of an axis of length n_out samples
 * the source coordinate
 *     s = start + (i + 0.5) * len / n_out - 0.5
 * clamped into the crop box [start, start + len - 1] (torchvision crops first and resizes the
 * crop, so pixels outside the box never contribute; for an integer box this is exactly
 * F.interpolate's clamp of negative coordinates to 0 and its repeat of the last row/column).
 * No antialiasing: a downscale samples the 2x2 neighbourhood only, as F.interpolate(...,
 * antialias=False) does. That is cheap and has no scale-dependent filter support for another
 * backend to reproduce; the price is some aliasing on strong downscales (torchvision >= 0.17 and
 * PIL antialias by default). */

enum { CROP_TILE = 256 }; /* output columns whose taps are computed once and reused by all rows */

/* Taps of `count` consecutive output positions starting at `first_out` along one axis. */
static void crop_axis_taps(int n_in, float start, float len, int n_out, int first_out, int count,
                           int *lo, int *hi, float *frac) {
    float scale = len / (float)n_out;
    float box_hi = start + len - 1.0f;
    float limit = (float)(n_in - 1);
    if (box_hi > limit) box_hi = limit;
    float box_lo = start < box_hi ? start : box_hi; /* boxes shorter than a pixel: one point */
    if (box_hi < box_lo) box_hi = box_lo;
    for (int t = 0; t < count; t++) {
        float s = start + ((float)(first_out + t) + 0.5f) * scale - 0.5f;
        s = s < box_lo ? box_lo : s;
        s = s > box_hi ? box_hi : s;
        int a = (int)s; /* s >= 0, so truncation is floor */
        lo[t] = a;
        hi[t] = a + 1 < n_in ? a + 1 : a;
        frac[t] = s - (float)a;
    }
}

static void cpu_aug_resized_crop(const sg_backend *be, int C, int H, int W,
                                 const float *restrict src, float y0, float x0, float h, float w,
                                 int outH, int outW, float *restrict dst) {
    (void)be;
    int xlo[CROP_TILE], xhi[CROP_TILE];
    float xfrac[CROP_TILE];
    const size_t in_plane = (size_t)H * W, out_plane = (size_t)outH * outW;
    for (int j0 = 0; j0 < outW; j0 += CROP_TILE) {
        int nj = outW - j0 < CROP_TILE ? outW - j0 : CROP_TILE;
        crop_axis_taps(W, x0, w, outW, j0, nj, xlo, xhi, xfrac);
        for (int c = 0; c < C; c++) {
            const float *plane = src + (size_t)c * in_plane;
            for (int i = 0; i < outH; i++) {
                int ylo, yhi;
                float yfrac;
                crop_axis_taps(H, y0, h, outH, i, 1, &ylo, &yhi, &yfrac);
                const float *r0 = plane + (size_t)ylo * W, *r1 = plane + (size_t)yhi * W;
                const float wy1 = yfrac, wy0 = 1.0f - yfrac;
                float *o = dst + (size_t)c * out_plane + (size_t)i * outW + j0;
                for (int t = 0; t < nj; t++) { /* vectorised with AVX2 gathers */
                    const float wx1 = xfrac[t], wx0 = 1.0f - wx1;
                    o[t] = wy0 * (wx0 * r0[xlo[t]] + wx1 * r0[xhi[t]]) +
                           wy1 * (wx0 * r1[xlo[t]] + wx1 * r1[xhi[t]]);
                }
            }
        }
    }
}

/* ---- horizontal flip ---------------------------------------------------------------------- */

static void cpu_aug_hflip(const sg_backend *be, int C, int H, int W, const float *src, float *dst) {
    (void)be;
    const size_t rows = (size_t)C * H;
    if (dst == src) {
        for (size_t r = 0; r < rows; r++) {
            float *row = dst + r * W;
            for (int j = 0; j < W / 2; j++) {
                float t = row[j];
                row[j] = row[W - 1 - j];
                row[W - 1 - j] = t;
            }
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        const float *restrict in = src + r * W;
        float *restrict out = dst + r * W;
        for (int j = 0; j < W; j++) out[j] = in[W - 1 - j];
    }
}

/* ---- colour ----------------------------------------------------------------------------------
 * img[3,H,W] as three planes r, g, b of n = H*W pixels. */

static inline float luma(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

static void jitter_brightness(size_t n, float *restrict r, float *restrict g, float *restrict b,
                              float f) {
    for (size_t p = 0; p < n; p++) {
        r[p] = clamp01(f * r[p]);
        g[p] = clamp01(f * g[p]);
        b[p] = clamp01(f * b[p]);
    }
}

/* Mean luma over the image: 8 independent double partial sums in fixed lanes, which gcc
 * vectorises without reassociating (the result does not depend on the vector width). */
static float mean_luma(size_t n, const float *restrict r, const float *restrict g,
                       const float *restrict b) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double)luma(r[p + l], g[p + l], b[p + l]);
    double tail = 0;
    for (; p < n; p++) tail += (double)luma(r[p], g[p], b[p]);
    double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    return (float)((sum + tail) / (double)n);
}

static void jitter_contrast(size_t n, float *restrict r, float *restrict g, float *restrict b,
                            float f) {
    const float m = (1.0f - f) * mean_luma(n, r, g, b);
    for (size_t p = 0; p < n; p++) {
        r[p] = clamp01(f * r[p] + m);
        g[p] = clamp01(f * g[p] + m);
        b[p] = clamp01(f * b[p] + m);
    }
}

static void jitter_saturation(size_t n, float *restrict r, float *restrict g, float *restrict b,
                              float f) {
    const float f1 = 1.0f - f;
    for (size_t p = 0; p < n; p++) {
        const float l = f1 * luma(r[p], g[p], b[p]);
        r[p] = clamp01(f * r[p] + l);
        g[p] = clamp01(f * g[p] + l);
        b[p] = clamp01(f * b[p] + l);
    }
}

/* torchvision's _rgb2hsv -> h = (h + shift) mod 1 -> _hsv2rgb, per pixel. Ties in the max go to
 * R, then G, as there. Every choice is a select_f, so the loop has no branches to vectorise
 * around (gcc would otherwise turn `cr / (gray ? 1 : maxc)` back into a branch, dividing by 1 being
 * free, and jump-thread the sector choice). */
static void jitter_hue(size_t n, float *restrict r, float *restrict g, float *restrict b,
                       float shift) {
    for (size_t p = 0; p < n; p++) {
        const float R = r[p], G = g[p], B = b[p];
        float maxc = R > G ? R : G;
        maxc = maxc > B ? maxc : B;
        float minc = R < G ? R : G;
        minc = minc < B ? minc : B;
        const int gray = maxc == minc;
        const float cr = maxc - minc;
        const float s = cr / select_f(gray, 1.0f, maxc);
        const float div = select_f(gray, 1.0f, cr);
        const float rc = (maxc - R) / div, gc = (maxc - G) / div, bc = (maxc - B) / div;
        float hh =
            select_f(maxc == R, bc - gc, select_f(maxc == G, 2.0f + rc - bc, 4.0f + gc - rc));
        hh = hh / 6.0f + 1.0f; /* in [5/6, 11/6]: fmod(., 1) is one exact subtraction */
        hh = select_f(hh >= 1.0f, hh - 1.0f, hh);
        /* Python-style `% 1.0` of a value in [-0.5, 1.5): hh - floor(hh), the floor spelled out
         * (a vector floorf needs -fno-trapping-math). */
        hh = hh + shift;
        hh = select_f(hh < 0.0f, hh + 1.0f, select_f(hh >= 1.0f, hh - 1.0f, hh));

        const float v = maxc;
        const float h6 = hh * 6.0f;
        const int k = (int)h6; /* h6 >= 0: truncation is floor. 0..6, 6 (hh rounded up to 1.0)
                                  meaning sector 0 as torch's `i % 6` */
        const float fr = h6 - (float)k;
        const int s0 = (k == 0) | (k == 6), s1 = k == 1, s2 = k == 2, s3 = k == 3, s4 = k == 4,
                  s5 = k == 5;
        const float pp = clamp01(v * (1.0f - s));
        const float qq = clamp01(v * (1.0f - s * fr));
        const float tt = clamp01(v * (1.0f - s * (1.0f - fr)));
        /* sector: 0 (v,t,p) 1 (q,v,p) 2 (p,v,t) 3 (p,q,v) 4 (t,p,v) 5 (v,p,q) */
        const float nr = select_f(s0 | s5, v, select_f(s1, qq, select_f(s4, tt, pp)));
        const float ng = select_f(s1 | s2, v, select_f(s0, tt, select_f(s3, qq, pp)));
        const float nb = select_f(s3 | s4, v, select_f(s2, tt, select_f(s5, qq, pp)));
        r[p] = clamp01(nr);
        g[p] = clamp01(ng);
        b[p] = clamp01(nb);
    }
}

static void cpu_aug_color_jitter(const sg_backend *be, int H, int W, float *img, float brightness,
                                 float contrast, float saturation, float hue, const int order[4]) {
    (void)be;
    const size_t n = (size_t)H * W;
    float *r = img, *g = img + n, *b = img + 2 * n;
    for (int i = 0; i < 4; i++) {
        switch (order[i]) {
        case 0: jitter_brightness(n, r, g, b, brightness); break;
        case 1: jitter_contrast(n, r, g, b, contrast); break;
        case 2: jitter_saturation(n, r, g, b, saturation); break;
        default:
            /* A zero shift is skipped, as ColorJitter skips a hue range of 0; the HSV round trip
             * is not bit-exact, and the identity parameters must leave the image unchanged. */
            if (hue != 0.0f) jitter_hue(n, r, g, b, hue);
            break;
        }
    }
}

static void cpu_aug_grayscale(const sg_backend *be, int H, int W, float *img) {
    (void)be;
    const size_t n = (size_t)H * W;
    float *restrict r = img, *restrict g = img + n, *restrict b = img + 2 * n;
    for (size_t p = 0; p < n; p++) {
        const float l = luma(r[p], g[p], b[p]);
        r[p] = l;
        g[p] = l;
        b[p] = l;
    }
}

/* ---- Gaussian blur ---------------------------------------------------------------------------
 * torchvision's gaussian_blur: 1-D taps x = linspace(-(k-1)/2, (k-1)/2, k),
 * w = exp(-0.5 (x/sigma)^2) / sum, applied as a 2-D convolution with the outer product after
 * reflect padding by k/2 (torch 'reflect': mirror about the edge pixel without repeating it).
 * Here separably: a horizontal pass src -> work, then a vertical pass work -> dst, each output
 * summing its k taps in ascending order. Torch only defines reflect padding when k/2 < the side;
 * beyond that the mirror repeats periodically (period 2(n-1)), so small images still work. */

/* taps live on the stack (kernels never allocate), up to the front door's largest kernel */
enum { BLUR_MAX_KSIZE = SG_AUG_BLUR_MAX_KSIZE };

static inline int reflect_index(int i, int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

static void cpu_aug_gaussian_blur(const sg_backend *be, int C, int H, int W, const float *src,
                                  float *dst, int ksize, float sigma, float *work) {
    (void)be;
    float taps[BLUR_MAX_KSIZE];
    const int pad = ksize / 2;
    sg_aug_blur_taps(ksize, sigma, taps);
    const size_t plane = (size_t)H * W;
    /* Output columns [pad, W - pad) read no padding: a plain vectorisable stencil. */
    const int x_in_lo = pad < W ? pad : W;
    const int x_in_hi = W - pad > x_in_lo ? W - pad : x_in_lo;
    for (int c = 0; c < C; c++) {
        const float *in_plane = src + (size_t)c * plane;
        float *tmp_plane = work + (size_t)c * plane;
        for (int y = 0; y < H; y++) {
            const float *restrict in = in_plane + (size_t)y * W;
            float *restrict out = tmp_plane + (size_t)y * W;
            for (int x = 0; x < x_in_lo; x++) {
                float acc = 0.0f;
                for (int k = 0; k < ksize; k++) acc += taps[k] * in[reflect_index(x - pad + k, W)];
                out[x] = acc;
            }
            for (int x = x_in_lo; x < x_in_hi; x++) out[x] = 0.0f;
            for (int k = 0; k < ksize; k++) {
                const float wk = taps[k];
                const float *restrict shifted = in + k - pad;
                for (int x = x_in_lo; x < x_in_hi; x++) out[x] += wk * shifted[x];
            }
            for (int x = x_in_hi; x < W; x++) {
                float acc = 0.0f;
                for (int k = 0; k < ksize; k++) acc += taps[k] * in[reflect_index(x - pad + k, W)];
                out[x] = acc;
            }
        }
        float *out_plane = dst + (size_t)c * plane;
        for (int y = 0; y < H; y++) {
            float *restrict out = out_plane + (size_t)y * W;
            for (int x = 0; x < W; x++) out[x] = 0.0f;
            for (int k = 0; k < ksize; k++) {
                const float wk = taps[k];
                const float *restrict row = tmp_plane + (size_t)reflect_index(y - pad + k, H) * W;
                for (int x = 0; x < W; x++) out[x] += wk * row[x];
            }
        }
    }
}

/* ---- solarize, normalize -------------------------------------------------------------------- */

static void cpu_aug_solarize(const sg_backend *be, size_t n, float *img, float threshold) {
    (void)be;
    for (size_t i = 0; i < n; i++) {
        const float v = img[i];
        img[i] = select_f(v >= threshold, 1.0f - v, v);
    }
}

/* (x - mean) / std with a true division, as torch's sub_(mean).div_(std). */
static void cpu_aug_normalize(const sg_backend *be, int C, int HW, float *img, const float *mean,
                              const float *std) {
    (void)be;
    for (int c = 0; c < C; c++) {
        const float m = mean[c], s = std[c];
        float *restrict x = img + (size_t)c * HW;
        for (int p = 0; p < HW; p++) x[p] = (x[p] - m) / s;
    }
}

/* ---- a batch of views -------------------------------------------------------------------------
 * The single-image ops above, image by image (sg_aug_view_by_ops, the chain that defines
 * aug_views), so a batch is the views those ops make one at a time, bit for bit. One thread,
 * like the ops (on the CPU the loader's workers make the views in parallel; this path serves
 * data.augment_on=backend's tests). The scratch: one image as floats and two S x S views,
 * carved from the front of work. */
static float *carve(char **at, size_t floats) {
    float *p = (float *)*at;
    *at += (floats * sizeof(float) + 255) / 256 * 256;
    return p;
}

static void cpu_aug_views(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src,
                          int C, int S, const sg_aug_view *view, int ksize, const float *mean,
                          const float *std, float *dst, void *work) {
    const size_t in = (size_t)Cin * H * W, out = (size_t)C * S * S;
    char *at = work;
    float *img = carve(&at, (size_t)C * H * W), *blurred = carve(&at, out),
          *blur_work = carve(&at, out);
    for (int n = 0; n < N; n++)
        sg_aug_view_by_ops(be, Cin, H, W, src + (size_t)n * in, C, S, &view[n], ksize, mean, std,
                           dst + (size_t)n * out, img, blurred, blur_work);
}

void sg_cpu_fill_aug(sg_backend *be) {
    be->aug_u8_to_float = cpu_aug_u8_to_float;
    be->aug_resized_crop = cpu_aug_resized_crop;
    be->aug_hflip = cpu_aug_hflip;
    be->aug_color_jitter = cpu_aug_color_jitter;
    be->aug_grayscale = cpu_aug_grayscale;
    be->aug_gaussian_blur = cpu_aug_gaussian_blur;
    be->aug_solarize = cpu_aug_solarize;
    be->aug_normalize = cpu_aug_normalize;
    be->aug_views = cpu_aug_views;
}
