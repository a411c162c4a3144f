/* core/data/augment.c */
#include "core/data/augment.h"

#include "kernels/backend.h"

#include <math.h>
#include <string.h>

static void set_common(sg_aug_recipe *r, int out_size) {
    memset(r, 0, sizeof *r);
    r->out_size = out_size;
    r->scale_min = 0.08;
    r->scale_max = 1.0;
    r->ratio_min = 3.0 / 4.0;
    r->ratio_max = 4.0 / 3.0;
    r->flip_p = 0.5;
    r->blur_sigma_min = 0.1;
    r->blur_sigma_max = 2.0;
}

void sg_aug_recipe_make(const sg_dataset_info *ds, int view, int C, int out_size,
                        sg_aug_recipe *r) {
    set_common(r, out_size);
    const int colour = C == 3;
    switch (ds->recipe) {
    case SG_RECIPE_STL10:
        /* reference code: SimCLR's recipe with s = 1 and a 9x9 blur (int(0.1 * 96)) always */
        r->jitter_p = colour ? 0.8 : 0;
        r->brightness = r->contrast = r->saturation = 0.8;
        r->hue = 0.2;
        r->gray_p = colour ? 0.2 : 0;
        r->blur_p = 1.0;
        r->blur_ksize = (int)(0.1 * out_size) | 1;
        break;
    case SG_RECIPE_CIFAR:
        r->jitter_p = colour ? 0.8 : 0;
        r->brightness = r->contrast = r->saturation = 0.4;
        r->hue = 0.1;
        r->gray_p = colour ? 0.2 : 0;
        break;
    case SG_RECIPE_IMAGENET:
        /* BYOL's asymmetric views: blur 1.0 / 0.1, solarisation 0 / 0.2, kernel 23 at 224 */
        r->jitter_p = colour ? 0.8 : 0;
        r->brightness = r->contrast = 0.4;
        r->saturation = 0.2;
        r->hue = 0.1;
        r->gray_p = colour ? 0.2 : 0;
        r->blur_p = view == 0 ? 1.0 : 0.1;
        r->blur_ksize = ((int)(0.1 * out_size)) | 1;
        r->solarize_p = view == 0 ? 0.0 : 0.2;
        break;
    case SG_RECIPE_FASHION:
        /* The CPU-scale mirror. Grey images are replicated into three channels so the CIFAR
         * jitter applies (brightness and contrast; saturation and hue leave grey as it is):
         * with crop and flip alone, BYOL matches the views by low-level cues and its features
         * fall below a random network's. A milder crop than ImageNet's 0.08, since a 28x28
         * garment loses its class below ~20% of its area; a light blur as in the STL-10 recipe. */
        r->scale_min = 0.2;
        r->out_channels = 3;
        r->jitter_p = 0.8;
        r->brightness = r->contrast = 0.4;
        r->blur_p = 0.5;
        r->blur_ksize = 3;
        break;
    }
    if (ds->mean && colour) {
        r->normalize = 1;
        memcpy(r->mean, ds->mean, sizeof r->mean);
        memcpy(r->std, ds->std, sizeof r->std);
    }
}

void sg_aug_recipe_linear_eval(const sg_aug_recipe *r, sg_aug_recipe *out) {
    *out = *r;
    out->scale_min = 0.08;
    out->scale_max = 1.0;
    out->ratio_min = 3.0 / 4.0;
    out->ratio_max = 4.0 / 3.0;
    out->flip_p = 0.5;
    out->jitter_p = 0.0;
    out->gray_p = 0.0;
    out->blur_p = 0.0;
    out->solarize_p = 0.0;
}

int sg_aug_recipe_for(const char *dataset, int view, int C, int out_size, sg_aug_recipe *r) {
    const sg_dataset_info *ds = sg_dataset_find(dataset);
    if (!ds) return -1;
    sg_aug_recipe_make(ds, view, C, out_size, r);
    return 0;
}

size_t sg_aug_scratch_floats(int C, int H, int W, int out_size) {
    size_t c = (size_t)(C > 3 ? C : 3);
    size_t a = c * H * W, b = c * out_size * out_size;
    return a > b ? a : b;
}

/* u8 [C, H, W] -> float s->a, replicated into three channels when the recipe asks for it.
 * Returns the channel count from here on. */
static int load_float(const sg_backend *be, const sg_aug_recipe *r, const uint8_t *img, int C,
                      int H, int W, sg_aug_scratch *s) {
    const size_t plane = (size_t)H * W;
    if (C == 1 && r->out_channels == 3) {
        sg_aug_u8_to_float(be, plane, img, s->a);
        /* through the backend: the scratch is device memory when a device augments */
        be->mem_copy(be, s->a + plane, s->a, plane * sizeof(float));
        be->mem_copy(be, s->a + 2 * plane, s->a, plane * sizeof(float));
        return 3;
    }
    sg_aug_u8_to_float(be, (size_t)C * plane, img, s->a);
    return C;
}

void sg_aug_draw_crop(sg_rng *r, const sg_aug_recipe *rec, int H, int W, int box[4]) {
    const double area = (double)H * W;
    const double lr0 = log(rec->ratio_min), lr1 = log(rec->ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * sg_rng_uniform_range(r, rec->scale_min, rec->scale_max);
        double aspect = exp(sg_rng_uniform_range(r, lr0, lr1));
        int w = (int)lround(sqrt(target * aspect));
        int h = (int)lround(sqrt(target / aspect));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            box[0] = (int)sg_rng_below(r, (uint32_t)(H - h + 1));
            box[1] = (int)sg_rng_below(r, (uint32_t)(W - w + 1));
            box[2] = h;
            box[3] = w;
            return;
        }
    }
    /* torchvision's fallback: the central crop with the ratio clamped */
    double in_ratio = (double)W / H;
    int w = W, h = H;
    if (in_ratio < rec->ratio_min)
        h = (int)lround(w / rec->ratio_min);
    else if (in_ratio > rec->ratio_max)
        w = (int)lround(h * rec->ratio_max);
    box[0] = (H - h) / 2;
    box[1] = (W - w) / 2;
    box[2] = h;
    box[3] = w;
}

void sg_aug_draw_view(const sg_aug_recipe *r, int C, int H, int W, uint64_t seed,
                      uint32_t epoch, uint32_t sample, uint32_t view, sg_aug_view *v) {
    sg_rng rng;
    sg_rng_init(&rng, seed, epoch, sample, view);
    memset(v, 0, sizeof *v);
    int box[4];
    sg_aug_draw_crop(&rng, r, H, W, box);
    v->y0 = (float)box[0];
    v->x0 = (float)box[1];
    v->h = (float)box[2];
    v->w = (float)box[3];
    v->flip = sg_rng_uniform_double(&rng) < r->flip_p;
    if (r->jitter_p > 0 && C == 3 && sg_rng_uniform_double(&rng) < r->jitter_p) {
        v->jitter = 1;
        v->brightness = (float)sg_rng_uniform_range(&rng, fmax(0, 1 - r->brightness),
                                                    1 + r->brightness);
        v->contrast = (float)sg_rng_uniform_range(&rng, fmax(0, 1 - r->contrast),
                                                  1 + r->contrast);
        v->saturation = (float)sg_rng_uniform_range(&rng, fmax(0, 1 - r->saturation),
                                                    1 + r->saturation);
        v->hue = (float)sg_rng_uniform_range(&rng, -r->hue, r->hue);
        int32_t order[4] = {0, 1, 2, 3};
        for (int i = 3; i > 0; i--) { /* Fisher-Yates: torchvision's randperm(4) */
            int j = (int)sg_rng_below(&rng, (uint32_t)(i + 1));
            int32_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        memcpy(v->order, order, sizeof order);
    }
    v->gray = r->gray_p > 0 && C == 3 && sg_rng_uniform_double(&rng) < r->gray_p;
    if (r->blur_p > 0 && sg_rng_uniform_double(&rng) < r->blur_p) {
        v->blur = 1;
        v->sigma = (float)sg_rng_uniform_range(&rng, r->blur_sigma_min, r->blur_sigma_max);
    }
    v->solarize = r->solarize_p > 0 && sg_rng_uniform_double(&rng) < r->solarize_p;
}

int sg_aug_out_channels(const sg_aug_recipe *r, int C) {
    return C == 1 && r->out_channels == 3 ? 3 : C;
}

void sg_augment(const sg_backend *be, const sg_aug_recipe *r, const uint8_t *img, int C, int H,
                int W, uint64_t seed, uint32_t epoch, uint32_t sample, uint32_t view, float *dst,
                sg_aug_scratch *s) {
    const int S = r->out_size, Cout = sg_aug_out_channels(r, C);
    SG_CHECK(s->cap >= sg_aug_scratch_floats(C, H, W, S), "augmentation scratch too small");
    sg_aug_view v;
    sg_aug_draw_view(r, Cout, H, W, seed, epoch, sample, view, &v);
    sg_aug_view_by_ops(be, C, H, W, img, Cout, S, &v, r->blur_ksize,
                       r->normalize ? r->mean : NULL, r->normalize ? r->std : NULL, dst, s->a,
                       s->b, s->c);
}

void sg_eval_view(const sg_backend *be, const sg_aug_recipe *r, int center_crop, const uint8_t *img,
                  int C, int H, int W, float *dst, sg_aug_scratch *s) {
    const int S = r->out_size;
    SG_CHECK(s->cap >= sg_aug_scratch_floats(C, H, W, S), "augmentation scratch too small");
    C = load_float(be, r, img, C, H, W, s);
    if (!center_crop && H == S && W == S) {
        memcpy(dst, s->a, (size_t)C * S * S * sizeof(float));
    } else {
        float side = (float)(H < W ? H : W);
        float h = center_crop ? side * 224.0f / 256.0f : (float)H;
        float w = center_crop ? side * 224.0f / 256.0f : (float)W;
        sg_aug_resized_crop(be, C, H, W, s->a, (H - h) / 2, (W - w) / 2, h, w, S, S, dst);
    }
    if (r->normalize) sg_aug_normalize(be, C, S * S, dst, r->mean, r->std);
}
