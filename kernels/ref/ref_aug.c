/* kernels/ref/ref_aug.c: naive double-precision references of the augmentation ops (see ref.h and
 * kernels.h). Written independently of kernels/cpu/aug.c, the obvious way: per-pixel formulas,
 * the blur as a direct 2-D convolution with explicit reflect indexing, the hue through an explicit
 * RGB -> HSV -> RGB conversion per pixel (Python's colorsys, which torchvision's tensor code
 * reproduces with masks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/ref/ref.h"

void ref_aug_u8_to_float(size_t n, const uint8_t *src, double *dst) {
    for (size_t i = 0; i < n; i++) dst[i] = src[i] / 255.0;
}

static double clampd(double v, double lo, double hi) {
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
}

/* Source coordinate of output index i along an axis: align_corners=False, kept inside the crop box
 * [start, start + len - 1] (and inside the image). */
static double crop_source(double start, double len, int n_out, int n_in, int i) {
    double s = start + (i + 0.5) * len / n_out - 0.5;
    double lo = start, hi = start + len - 1;
    if (hi > n_in - 1) hi = n_in - 1;
    if (lo > hi) lo = hi;
    return clampd(s, lo, hi);
}

void ref_aug_resized_crop(int C, int H, int W, const double *src, double y0, double x0, double h,
                          double w, int outH, int outW, double *dst) {
    for (int c = 0; c < C; c++) {
        const double *img = src + (size_t)c * H * W;
        for (int i = 0; i < outH; i++) {
            double sy = crop_source(y0, h, outH, H, i);
            int ya = (int)floor(sy);
            int yb = ya + 1 <= H - 1 ? ya + 1 : H - 1;
            double fy = sy - ya;
            for (int j = 0; j < outW; j++) {
                double sx = crop_source(x0, w, outW, W, j);
                int xa = (int)floor(sx);
                int xb = xa + 1 <= W - 1 ? xa + 1 : W - 1;
                double fx = sx - xa;
                double top = (1 - fx) * img[ya * W + xa] + fx * img[ya * W + xb];
                double bottom = (1 - fx) * img[yb * W + xa] + fx * img[yb * W + xb];
                dst[((size_t)c * outH + i) * outW + j] = (1 - fy) * top + fy * bottom;
            }
        }
    }
}

void ref_aug_hflip(int C, int H, int W, const double *src, double *dst) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++) {
            const double *in = src + ((size_t)c * H + y) * W;
            double *out = dst + ((size_t)c * H + y) * W;
            for (int x = 0; x < W / 2; x++) { /* swap pairs, so dst == src works too */
                double left = in[x], right = in[W - 1 - x];
                out[x] = right;
                out[W - 1 - x] = left;
            }
            if (W % 2) out[W / 2] = in[W / 2];
        }
}

static double gray_of(double r, double g, double b) { return 0.299 * r + 0.587 * g + 0.114 * b; }

static void rgb_to_hsv(double r, double g, double b, double *h, double *s, double *v) {
    double maxc = fmax(r, fmax(g, b));
    double minc = fmin(r, fmin(g, b));
    *v = maxc;
    if (maxc == minc) {
        *h = 0;
        *s = 0;
        return;
    }
    *s = (maxc - minc) / maxc;
    double rc = (maxc - r) / (maxc - minc);
    double gc = (maxc - g) / (maxc - minc);
    double bc = (maxc - b) / (maxc - minc);
    double hh;
    if (r == maxc)
        hh = bc - gc;
    else if (g == maxc)
        hh = 2.0 + rc - bc;
    else
        hh = 4.0 + gc - rc;
    hh = hh / 6.0;
    *h = hh - floor(hh);
}

static void hsv_to_rgb(double h, double s, double v, double *r, double *g, double *b) {
    if (s == 0) {
        *r = *g = *b = v;
        return;
    }
    int i = (int)floor(h * 6.0);
    double f = h * 6.0 - i;
    double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    const double sectors[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    const int k = ((i % 6) + 6) % 6;
    *r = sectors[k][0];
    *g = sectors[k][1];
    *b = sectors[k][2];
}

void ref_aug_color_jitter(int H, int W, double *img, double brightness, double contrast,
                          double saturation, double hue, const int order[4]) {
    size_t n = (size_t)H * W;
    double *R = img, *G = img + n, *B = img + 2 * n;
    for (int op = 0; op < 4; op++) {
        if (order[op] == 0) { /* blend with black */
            for (size_t p = 0; p < n; p++) {
                R[p] = clampd(brightness * R[p], 0, 1);
                G[p] = clampd(brightness * G[p], 0, 1);
                B[p] = clampd(brightness * B[p], 0, 1);
            }
        } else if (order[op] == 1) { /* blend with the mean gray level */
            double mean = 0;
            for (size_t p = 0; p < n; p++) mean += gray_of(R[p], G[p], B[p]);
            mean /= (double)n;
            for (size_t p = 0; p < n; p++) {
                R[p] = clampd(contrast * R[p] + (1 - contrast) * mean, 0, 1);
                G[p] = clampd(contrast * G[p] + (1 - contrast) * mean, 0, 1);
                B[p] = clampd(contrast * B[p] + (1 - contrast) * mean, 0, 1);
            }
        } else if (order[op] == 2) { /* blend with the pixel's own gray */
            for (size_t p = 0; p < n; p++) {
                double l = gray_of(R[p], G[p], B[p]);
                R[p] = clampd(saturation * R[p] + (1 - saturation) * l, 0, 1);
                G[p] = clampd(saturation * G[p] + (1 - saturation) * l, 0, 1);
                B[p] = clampd(saturation * B[p] + (1 - saturation) * l, 0, 1);
            }
        } else if (hue != 0) { /* rotate the hue; a zero shift is the identity (skipped) */
            for (size_t p = 0; p < n; p++) {
                double h, s, v;
                rgb_to_hsv(R[p], G[p], B[p], &h, &s, &v);
                h = h + hue;
                h = h - floor(h);
                double r, g, b;
                hsv_to_rgb(h, s, v, &r, &g, &b);
                R[p] = clampd(r, 0, 1);
                G[p] = clampd(g, 0, 1);
                B[p] = clampd(b, 0, 1);
            }
        }
    }
}

void ref_aug_grayscale(int H, int W, double *img) {
    size_t n = (size_t)H * W;
    for (size_t p = 0; p < n; p++) {
        double l = gray_of(img[p], img[n + p], img[2 * n + p]);
        img[p] = img[n + p] = img[2 * n + p] = l;
    }
}

/* torch 'reflect' padding: mirror about the edge pixel without repeating it, as many times as
 * it takes to land inside [0, n). */
static int reflect(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i > n - 1) {
        if (i < 0) i = -i;
        if (i > n - 1) i = 2 * (n - 1) - i;
    }
    return i;
}

void ref_aug_gaussian_blur(int C, int H, int W, const double *src, double *dst, int ksize,
                           double sigma) {
    SG_CHECK(ksize >= 1 && ksize % 2 == 1 && ksize <= 255, "kernel size %d", ksize);
    int half = ksize / 2;
    double w1[255];
    double sum = 0;
    for (int k = 0; k < ksize; k++) {
        double x = -(ksize - 1) / 2.0 + k;
        w1[k] = exp(-0.5 * (x / sigma) * (x / sigma));
        sum += w1[k];
    }
    for (int k = 0; k < ksize; k++) w1[k] /= sum;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double acc = 0;
                for (int a = 0; a < ksize; a++)
                    for (int b = 0; b < ksize; b++) {
                        int yy = reflect(y - half + a, H), xx = reflect(x - half + b, W);
                        acc += w1[a] * w1[b] * src[((size_t)c * H + yy) * W + xx];
                    }
                dst[((size_t)c * H + y) * W + x] = acc;
            }
}

void ref_aug_solarize(size_t n, double *img, double threshold) {
    for (size_t i = 0; i < n; i++)
        if (img[i] >= threshold) img[i] = 1 - img[i];
}

void ref_aug_normalize(int C, int HW, double *img, const double *mean, const double *std) {
    for (int c = 0; c < C; c++)
        for (int p = 0; p < HW; p++) {
            double *x = &img[(size_t)c * HW + p];
            *x = (*x - mean[c]) / std[c];
        }
}

/* One view per image: the stage references above, in the order kernels.h's aug_views states. */
void ref_aug_views(int N, int Cin, int H, int W, const uint8_t *src, int C, int S,
                   const sg_aug_view *view, int ksize, const double *mean, const double *std,
                   double *dst) {
    SG_CHECK(C == Cin || (Cin == 1 && C == 3), "ref_aug_views: %d channels from %d", C, Cin);
    const size_t plane = (size_t)H * W, in = (size_t)Cin * plane, out = (size_t)C * S * S;
    double *img = malloc((size_t)C * plane * sizeof(double));
    double *blurred = malloc(out * sizeof(double));
    SG_CHECK(img && blurred, "ref_aug_views: out of memory");
    for (int n = 0; n < N; n++) {
        const sg_aug_view *v = &view[n];
        double *d = dst + (size_t)n * out;
        ref_aug_u8_to_float(in, src + (size_t)n * in, img);
        if (Cin == 1 && C == 3) { /* the grey plane in all three channels */
            memcpy(img + plane, img, plane * sizeof(double));
            memcpy(img + 2 * plane, img, plane * sizeof(double));
        }
        ref_aug_resized_crop(C, H, W, img, v->y0, v->x0, v->h, v->w, S, S, d);
        if (v->flip) ref_aug_hflip(C, S, S, d, d);
        if (v->jitter) {
            const int order[4] = {v->order[0], v->order[1], v->order[2], v->order[3]};
            ref_aug_color_jitter(S, S, d, v->brightness, v->contrast, v->saturation, v->hue, order);
        }
        if (v->gray) ref_aug_grayscale(S, S, d);
        if (v->blur) {
            ref_aug_gaussian_blur(C, S, S, d, blurred, ksize, v->sigma);
            memcpy(d, blurred, out * sizeof(double));
        }
        if (v->solarize) ref_aug_solarize(out, d, 0.5);
        if (mean) ref_aug_normalize(C, S * S, d, mean, std);
    }
    free(img);
    free(blurred);
}
