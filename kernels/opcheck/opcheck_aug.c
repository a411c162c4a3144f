/* kernels/opcheck/opcheck_aug.c: the checks of the augmentation ops (see opcheck_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/opcheck/opcheck_internal.h"
#include "kernels/ref/ref.h"

/* ---- augmentation ------------------------------------------------------------------------------
 * kernels.h has no sg_cost_* for these; the cost follows its convention (each input read once,
 * each output written once), counting the arithmetic per output element noted at each op. */

typedef struct {
    size_t n;
    int C, H, W, HW, outH, outW, ksize;
    float y0, x0, h, w, b, c, s, hue, sigma, threshold;
    int order[4];
    const uint8_t *u8;
    const float *src, *mean, *std, *img0;
    float *dst, *img, *work;
} aug_args;

static void aug_u8_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_u8_to_float(be, a->n, OC_DEV(a->u8), OC_DEV(a->dst));
}
static void aug_crop_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_resized_crop(be, a->C, a->H, a->W, OC_DEV(a->src), a->y0, a->x0, a->h, a->w, a->outH,
                         a->outW, OC_DEV(a->dst));
}
static void aug_hflip_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_hflip(be, a->C, a->H, a->W, OC_DEV(a->src), OC_DEV(a->dst));
}
static void aug_jitter_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_color_jitter(be, a->H, a->W, OC_DEV(a->img), a->b, a->c, a->s, a->hue, a->order);
}
static void aug_gray_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_grayscale(be, a->H, a->W, OC_DEV(a->img));
}
static void aug_blur_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_gaussian_blur(be, a->C, a->H, a->W, OC_DEV(a->src), OC_DEV(a->dst), a->ksize, a->sigma,
                          OC_DEV(a->work));
}
static void aug_solarize_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_solarize(be, a->n, OC_DEV(a->img), a->threshold);
}
static void aug_normalize_call(const sg_backend *be, void *p) {
    aug_args *a = p;
    sg_aug_normalize(be, a->C, a->HW, OC_DEV(a->img), a->mean, a->std);
}
/* The in-place ops that would drift under repetition start each timed call from the input. */
static void aug_restore_img(const sg_backend *be, void *p) {
    (void)be;
    aug_args *a = p;
    be->mem_copy(be, OC_DEV(a->img), OC_DEV(a->img0), sizeof(float) * a->n);
}

int oc_aug_u8_to_float(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    uint8_t *src = OC_BACKEND(r, n, 1);
    float *dst = OC_F(r, n);
    double *dstd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    sg_rng g = oc_stream(r);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(sg_rng_u32(&g) >> 24);
    oc_uniform(r, dst, n, -100, 100);
    aug_args a = {.n = n, .u8 = src, .dst = dst};
    oc_exec(r, aug_u8_call, &a);
    ref_aug_u8_to_float(n, src, dstd);
    oc_tol(r, 0, 2 * EPS32); /* x/255 or x*(1/255.f): at most two roundings */
    oc_cmp(r, dst, dstd, n);
    return oc_finish(r, aug_u8_call, NULL, &a);
}

/* The crop box is drawn from the seed with integer corners, as RandomResizedCrop draws it. */
int oc_aug_resized_crop(oc_run *r) {
    int C = oc_p(r, "C"), H = oc_p(r, "H"), W = oc_p(r, "W");
    int outH = oc_p(r, "outH"), outW = oc_p(r, "outW");
    size_t nsrc = oc_n(r, C, H, W, 1), ndst = oc_n(r, C, outH, outW, 1);
    float *src = OC_F(r, nsrc), *dst = OC_F(r, ndst);
    double *srcd = OC_D(r, nsrc), *dstd = OC_D(r, ndst);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, src, nsrc, 0, 1);
    oc_uniform(r, dst, ndst, -100, 100);
    oc_to_double(src, srcd, nsrc);
    sg_rng g = oc_stream(r);
    int h = 1 + (int)sg_rng_below(&g, (uint32_t)H), w = 1 + (int)sg_rng_below(&g, (uint32_t)W);
    int y0 = (int)sg_rng_below(&g, (uint32_t)(H - h + 1));
    int x0 = (int)sg_rng_below(&g, (uint32_t)(W - w + 1));
    aug_args a = {.C = C,
                  .H = H,
                  .W = W,
                  .src = src,
                  .y0 = (float)y0,
                  .x0 = (float)x0,
                  .h = (float)h,
                  .w = (float)w,
                  .outH = outH,
                  .outW = outW,
                  .dst = dst};
    oc_exec(r, aug_crop_call, &a);
    ref_aug_resized_crop(C, H, W, srcd, y0, x0, h, w, outH, outW, dstd);
    /* sampling coordinates in float are off by a few ulps of the image size, and so are the
     * interpolation weights of neighbours that differ by <= 1 */
    int side = H > W ? H : W;
    side = side > outH ? side : outH;
    side = side > outW ? side : outW;
    oc_tol(r, 4 * EPS32 * side, 1e-5);
    oc_cmp(r, dst, dstd, ndst);
    /* 4 taps, 3 lerps (2 flops each) per output value */
    return oc_finish(r, aug_crop_call, NULL, &a);
}

/* inplace = 1: dst aliases src. */
int oc_aug_hflip(oc_run *r) {
    int C = oc_p(r, "C"), H = oc_p(r, "H"), W = oc_p(r, "W"), inplace = oc_p(r, "inplace");
    size_t n = oc_n(r, C, H, W, 1);
    float *src = OC_F(r, n), *dst = OC_F(r, n);
    double *srcd = OC_D(r, n), *dstd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, src, n, 0, 1);
    oc_uniform(r, dst, n, -100, 100);
    oc_to_double(src, srcd, n);
    aug_args a = {.C = C, .H = H, .W = W, .src = src, .dst = inplace ? src : dst};
    oc_exec(r, aug_hflip_call, &a);
    ref_aug_hflip(C, H, W, srcd, dstd);
    oc_tol(r, 0, 0); /* a copy */
    oc_cmp(r, a.dst, dstd, n);
    return oc_finish(r, aug_hflip_call, NULL, &a);
}

/* The factors and the order are drawn from the seed over the ranges BYOL uses
 * (brightness/contrast/saturation 1 +- 0.4, hue +- 0.1). */
int oc_aug_color_jitter(oc_run *r) {
    int H = oc_p(r, "H"), W = oc_p(r, "W");
    size_t n = oc_n(r, 3, H, W, 1);
    float *img = OC_F(r, n), *img0 = OC_F(r, n);
    double *imgd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_to_double(img0, imgd, n);
    sg_rng g = oc_stream(r);
    aug_args a = {.n = n, .H = H, .W = W, .img = img, .img0 = img0};
    a.b = (float)sg_rng_uniform_range(&g, 0.6, 1.4);
    a.c = (float)sg_rng_uniform_range(&g, 0.6, 1.4);
    a.s = (float)sg_rng_uniform_range(&g, 0.6, 1.4);
    a.hue = (float)sg_rng_uniform_range(&g, -0.1, 0.1);
    for (int k = 0; k < 4; k++) a.order[k] = k;
    for (int k = 3; k > 0; k--) { /* Fisher-Yates */
        int j = (int)sg_rng_below(&g, (uint32_t)(k + 1)), t = a.order[k];
        a.order[k] = a.order[j];
        a.order[j] = t;
    }
    oc_exec(r, aug_jitter_call, &a);
    ref_aug_color_jitter(H, W, imgd, a.b, a.c, a.s, a.hue, a.order);
    /* four chained ops on values in [0,1], one of them through HSV and an image-wide mean */
    oc_tol(r, 2e-5, 1e-5);
    oc_cmp(r, img, imgd, n);
    return oc_finish(r, aug_jitter_call, aug_restore_img, &a);
}

int oc_aug_grayscale(oc_run *r) {
    int H = oc_p(r, "H"), W = oc_p(r, "W");
    size_t n = oc_n(r, 3, H, W, 1);
    float *img = OC_F(r, n), *img0 = OC_F(r, n);
    double *imgd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_to_double(img0, imgd, n);
    aug_args a = {.n = n, .H = H, .W = W, .img = img, .img0 = img0};
    oc_exec(r, aug_gray_call, &a);
    ref_aug_grayscale(H, W, imgd);
    oc_tol(r, 4 * EPS32, 4 * EPS32); /* a 3-term weighted sum of values <= 1 */
    oc_cmp(r, img, imgd, n);
    return oc_finish(r, aug_gray_call, aug_restore_img, &a);
}

/* sigma drawn from the seed in [0.1, 2] (BYOL's range); reflect padding needs ksize/2 < H, W. */
int oc_aug_gaussian_blur(oc_run *r) {
    int C = oc_p(r, "C"), H = oc_p(r, "H"), W = oc_p(r, "W"), ksize = oc_p(r, "ksize");
    if (ksize % 2 == 0) return oc_bad_shape(r, "ksize must be odd");
    if (ksize / 2 >= H || ksize / 2 >= W)
        return oc_bad_shape(r, "reflect padding needs ksize/2 < H and ksize/2 < W");
    size_t n = oc_n(r, C, H, W, 1);
    float *src = OC_F(r, n), *dst = OC_F(r, n), *work = OC_F(r, n);
    double *srcd = OC_D(r, n), *dstd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, src, n, 0, 1);
    oc_uniform(r, dst, n, -100, 100);
    oc_uniform(r, work, n, -100, 100);
    oc_to_double(src, srcd, n);
    sg_rng g = oc_stream(r);
    aug_args a = {.C = C, .H = H, .W = W, .src = src, .dst = dst, .work = work, .ksize = ksize};
    a.sigma = (float)sg_rng_uniform_range(&g, 0.1, 2.0);
    oc_exec(r, aug_blur_call, &a);
    ref_aug_gaussian_blur(C, H, W, srcd, dstd, ksize, a.sigma);
    oc_tol(r, 2 * EPS32 * 2 * ksize, 1e-6); /* two passes of ksize-term weighted sums <= 1 */
    oc_cmp(r, dst, dstd, n);
    return oc_finish(r, aug_blur_call, NULL, &a);
}

int oc_aug_solarize(oc_run *r) {
    size_t n = (size_t)oc_p(r, "n");
    float *img = OC_F(r, n), *img0 = OC_F(r, n);
    double *imgd = OC_D(r, n);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_to_double(img0, imgd, n);
    aug_args a = {.n = n, .img = img, .img0 = img0, .threshold = 0.5f};
    oc_exec(r, aug_solarize_call, &a);
    ref_aug_solarize(n, imgd, (double)a.threshold);
    oc_tol(r, 0, EPS32); /* 1 - x: one rounding */
    oc_cmp(r, img, imgd, n);
    return oc_finish(r, aug_solarize_call, aug_restore_img, &a);
}

int oc_aug_normalize(oc_run *r) {
    int C = oc_p(r, "C"), HW = oc_p(r, "HW");
    size_t n = oc_n(r, C, HW, 1, 1);
    float *img = OC_F(r, n), *img0 = OC_F(r, n), *mean = OC_F(r, (size_t)C),
          *std = OC_F(r, (size_t)C);
    double *imgd = OC_D(r, n), *md = OC_D(r, (size_t)C), *sd = OC_D(r, (size_t)C);
    if (oc_alloc_status(r)) return -1;
    oc_uniform(r, img0, n, 0, 1);
    memcpy(img, img0, sizeof(float) * n);
    oc_uniform(r, mean, (size_t)C, 0.3f, 0.6f);
    oc_uniform(r, std, (size_t)C, 0.2f, 0.3f);
    oc_to_double(img0, imgd, n);
    oc_to_double(mean, md, (size_t)C);
    oc_to_double(std, sd, (size_t)C);
    aug_args a = {.n = n, .C = C, .HW = HW, .img = img, .img0 = img0, .mean = mean, .std = std};
    oc_exec(r, aug_normalize_call, &a);
    ref_aug_normalize(C, HW, imgd, md, sd);
    /* (x - m)/s or (x - m)*(1/s): up to three roundings of a value <= 3 */
    oc_tol(r, 4 * EPS32, 4 * EPS32);
    oc_cmp(r, img, imgd, n);
    return oc_finish(r, aug_normalize_call, aug_restore_img, &a);
}

/* ---- a batch of views ------------------------------------------------------------------------ */

typedef struct {
    int N, Cin, H, W, C, S, ksize;
    const uint8_t *src;
    const sg_aug_view *view; /* host table (not a backend buffer: no OC_DEV) */
    const float *mean, *std; /* host tables, NULL when norm = 0 */
    float *dst;
    void *work;
    float *dst2, *img, *blurred, *blur_work; /* the single-image ops' run */
} views_args;

static void aug_views_call(const sg_backend *be, void *p) {
    views_args *a = p;
    sg_aug_views(be, a->N, a->Cin, a->H, a->W, OC_DEV(a->src), a->C, a->S, a->view, a->ksize,
                 a->mean, a->std, OC_DEV(a->dst), OC_DEV(a->work));
}
/* The same views made by the single-image ops, image by image in the slot's order, into dst2. */
static void aug_views_by_image_call(const sg_backend *be, void *p) {
    views_args *a = p;
    const size_t in = (size_t)a->Cin * a->H * a->W, out = (size_t)a->C * a->S * a->S;
    for (int n = 0; n < a->N; n++)
        sg_aug_view_by_ops(be, a->Cin, a->H, a->W, OC_DEV(a->src + (size_t)n * in), a->C, a->S,
                           &a->view[n], a->ksize, a->mean, a->std,
                           OC_DEV(a->dst2 + (size_t)n * out), OC_DEV(a->img),
                           OC_DEV(a->blurred), OC_DEV(a->blur_work));
}

/* Random uint8 images and one random view each, drawn from the seed as sg_augment draws them:
 * an integer crop box inside the image (as oc_aug_resized_crop), each stage on with
 * probability 1/2 (jitter and gray only when C = 3), the jitter's factors and order over BYOL's
 * ranges (as oc_aug_color_jitter), sigma in [0.1, 2] (as oc_aug_gaussian_blur); with norm, mean
 * in [0.3, 0.6] and std in [0.2, 0.3] (as oc_aug_normalize). The blur's reflect padding needs
 * ksize/2 < S, as the single-image check requires. Against the backend's single-image ops run
 * image by image, which must give the same bits (the slot's contract), and against the
 * reference. */
int oc_aug_views(oc_run *r) {
    const int N = oc_p(r, "N"), Cin = oc_p(r, "Cin"), H = oc_p(r, "H"), W = oc_p(r, "W");
    const int C = oc_p(r, "C"), S = oc_p(r, "S"), ksize = oc_p(r, "ksize");
    const int norm = oc_p(r, "norm");
    if (C != Cin && !(Cin == 1 && C == 3))
        return oc_bad_shape(r, "C must equal Cin, or be 3 with Cin = 1");
    if (ksize % 2 == 0) return oc_bad_shape(r, "ksize must be odd");
    if (ksize / 2 >= S) return oc_bad_shape(r, "reflect padding needs ksize/2 < S");
    size_t nsrc = oc_n(r, N, Cin, H, W), ndst = oc_n(r, N, C, S, S);
    const size_t work_bytes = sg_aug_views_work_bytes(N, Cin, H, W, C, S, ksize);
    uint8_t *src = OC_BACKEND(r, nsrc, 1);
    float *dst = OC_F(r, ndst), *dst2 = OC_F(r, ndst), *img = OC_F(r, oc_n(r, C, H, W, 1));
    float *blurred = OC_F(r, oc_n(r, C, S, S, 1)), *blur_work = OC_F(r, oc_n(r, C, S, S, 1));
    uint8_t *work = OC_BACKEND(r, work_bytes, 1);
    sg_aug_view *view = OC_HOST(r, (size_t)N, sizeof(sg_aug_view));
    float *mean = OC_HOST(r, (size_t)C, sizeof(float)), *std = OC_HOST(r, (size_t)C, sizeof(float));
    double *dstd = OC_D(r, ndst), *md = OC_D(r, (size_t)C), *sd = OC_D(r, (size_t)C);
    if (oc_alloc_status(r)) return -1;
    sg_rng g = oc_stream(r);
    for (size_t i = 0; i < nsrc; i++) src[i] = (uint8_t)(sg_rng_u32(&g) >> 24);
    oc_uniform(r, dst, ndst, -100, 100);
    oc_uniform(r, dst2, ndst, -100, 100);
    sg_rng gw = oc_stream(r); /* the scratch starts as garbage: the kernel writes before reading */
    for (size_t i = 0; i < work_bytes; i++) work[i] = (uint8_t)(sg_rng_u32(&gw) >> 24);
    sg_rng gv = oc_stream(r);
    for (int n = 0; n < N; n++) {
        sg_aug_view *v = &view[n];
        memset(v, 0, sizeof *v);
        const int h = 1 + (int)sg_rng_below(&gv, (uint32_t)H);
        const int w = 1 + (int)sg_rng_below(&gv, (uint32_t)W);
        v->y0 = (float)sg_rng_below(&gv, (uint32_t)(H - h + 1));
        v->x0 = (float)sg_rng_below(&gv, (uint32_t)(W - w + 1));
        v->h = (float)h;
        v->w = (float)w;
        v->flip = (uint8_t)sg_rng_below(&gv, 2);
        v->jitter = (uint8_t)sg_rng_below(&gv, 2);
        v->gray = (uint8_t)sg_rng_below(&gv, 2);
        v->blur = (uint8_t)sg_rng_below(&gv, 2);
        v->solarize = (uint8_t)sg_rng_below(&gv, 2);
        if (C != 3) v->jitter = v->gray = 0;
        v->brightness = (float)sg_rng_uniform_range(&gv, 0.6, 1.4);
        v->contrast = (float)sg_rng_uniform_range(&gv, 0.6, 1.4);
        v->saturation = (float)sg_rng_uniform_range(&gv, 0.6, 1.4);
        v->hue = (float)sg_rng_uniform_range(&gv, -0.1, 0.1);
        for (int k = 0; k < 4; k++) v->order[k] = k;
        for (int k = 3; k > 0; k--) { /* Fisher-Yates */
            const int j = (int)sg_rng_below(&gv, (uint32_t)(k + 1));
            const int32_t t = v->order[k];
            v->order[k] = v->order[j];
            v->order[j] = t;
        }
        v->sigma = (float)sg_rng_uniform_range(&gv, 0.1, 2.0);
    }
    oc_uniform(r, mean, (size_t)C, 0.3f, 0.6f);
    oc_uniform(r, std, (size_t)C, 0.2f, 0.3f);
    oc_to_double(mean, md, (size_t)C);
    oc_to_double(std, sd, (size_t)C);
    views_args a = {.N = N,
                    .Cin = Cin,
                    .H = H,
                    .W = W,
                    .C = C,
                    .S = S,
                    .ksize = ksize,
                    .src = src,
                    .view = view,
                    .mean = norm ? mean : NULL,
                    .std = norm ? std : NULL,
                    .dst = dst,
                    .work = work,
                    .dst2 = dst2,
                    .img = img,
                    .blurred = blurred,
                    .blur_work = blur_work};
    oc_exec(r, aug_views_call, &a);
    oc_exec(r, aug_views_by_image_call, &a);
    /* the single-image ops' bits (the reference's buffer serves as scratch until it is made) */
    oc_to_double(dst2, dstd, ndst);
    oc_tol(r, 0, 0);
    oc_cmp(r, dst, dstd, ndst);
    ref_aug_views(N, Cin, H, W, src, C, S, view, ksize, norm ? md : NULL, norm ? sd : NULL, dstd);
    /* The stages chain, so each one's error is carried by the ones after it. In [0,1] units
     * before normalisation: the crop's sampling coordinates are off by a few ulps of the image
     * size (4 eps side, oc_aug_resized_crop's bound); the jitter (C = 3 only) adds its own
     * (2e-5 + 1e-5 |x|, oc_aug_color_jitter's) and can stretch what it is handed: the hue
     * rotation by up to 3 (measured near the grey axis), the brightness, contrast and
     * saturation blends by up to 1.4, 1.8, 1.8 when neighbouring errors line up against the
     * mean, which few-ulp errors of random sign do not do; so the crop's error is counted 3
     * times when C = 3. Grayscale, the blur and solarize do not stretch a difference (weights
     * >= 0 summing to 1; 1 - x); the blur rounds (4 eps ksize, two passes). Normalisation then
     * divides by std (x 1/min std, <= 5 here) and rounds a value <= 3.5 a few times (rtol
     * 4 eps). Seen: err/tol <= 0.17 over 3000 random shapes with sides up to 224 (the error
     * before normalisation <= 3.3e-5), while a missing stage, a wrong box, sigma or mean moves
     * outputs by 1e-2 or more (the bits of the single-image ops, checked above, catch the
     * subtler ones, e.g. a jitter order with two nearly commuting blends swapped). */
    int side = H > W ? H : W;
    side = side > S ? side : S;
    double inv_std = 1;
    for (int c = 0; norm && c < C; c++) inv_std = fmax(inv_std, 1.0 / std[c]);
    const double pre =
        (C == 3 ? 3 : 1) * 4 * EPS32 * side + (C == 3 ? 3e-5 : 0) + 4 * EPS32 * ksize;
    oc_tol(r, inv_std * pre, 4 * EPS32);
    oc_cmp(r, dst, dstd, ndst);
    return oc_finish(r, aug_views_call, NULL, &a);
}
