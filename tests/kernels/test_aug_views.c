/* aug_views: one view of each of N images in one call (kernels.h). On the backend named by
 * argv[1] (tests/test_backend.h: cpu, staged, cuda), over random shapes (N 1..5; 3 channels
 * from 3, 3 from 1, 1 from 1; H, W in 9..40; S in 8..24; odd kernel sizes with ksize/2 < S;
 * normalised or not) and random views in which every combination of the stage flags appears,
 * the batch must equal, bit for bit, the same backend's single-image ops run image by image in
 * the slot's order; and it must agree with the double reference (ref_aug_views) within the
 * error of the chained stages. Every buffer is backend memory reached through
 * mem_upload / mem_download, outputs and scratch start as garbage. */
#include <float.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_backend.h"
#include "test_util.h"

/* The views of one trial, drawn from r; `combo` (advanced per view) picks the stage flags so
 * that the trials go through every combination: bits flip, blur, solarize, then (C = 3 only)
 * jitter, gray. */
static void draw_views(sg_rng *r, int N, int H, int W, int C, sg_aug_view *view, int *combo) {
    const int ncombo = C == 3 ? 32 : 8;
    for (int n = 0; n < N; n++) {
        sg_aug_view *v = &view[n];
        memset(v, 0, sizeof *v);
        const int h = tu_randint(r, 1, H), w = tu_randint(r, 1, W);
        v->y0 = (float)tu_randint(r, 0, H - h);
        v->x0 = (float)tu_randint(r, 0, W - w);
        v->h = (float)h;
        v->w = (float)w;
        const int f = combo[C == 3]++ % ncombo;
        v->flip = f & 1;
        v->blur = (f >> 1) & 1;
        v->solarize = (f >> 2) & 1;
        v->jitter = (f >> 3) & 1;
        v->gray = (f >> 4) & 1;
        v->brightness = (float)sg_rng_uniform_range(r, 0.6, 1.4);
        v->contrast = (float)sg_rng_uniform_range(r, 0.6, 1.4);
        v->saturation = (float)sg_rng_uniform_range(r, 0.6, 1.4);
        v->hue = (float)sg_rng_uniform_range(r, -0.1, 0.1);
        for (int k = 0; k < 4; k++) v->order[k] = k;
        for (int k = 3; k > 0; k--) {
            const int j = tu_randint(r, 0, k);
            const int32_t t = v->order[k];
            v->order[k] = v->order[j];
            v->order[j] = t;
        }
        v->sigma = (float)sg_rng_uniform_range(r, 0.1, 2.0);
    }
}

/* The single-image ops through the front door, image by image, as the slot describes them. */
static void chain(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src, int C,
                  int S, const sg_aug_view *view, int ksize, const float *mean, const float *std,
                  float *dst, float *img, float *blurred, float *blur_work) {
    const size_t in = (size_t)Cin * H * W, out = (size_t)C * S * S;
    for (int n = 0; n < N; n++)
        sg_aug_view_by_ops(be, Cin, H, W, src + (size_t)n * in, C, S, &view[n], ksize, mean, std,
                           dst + (size_t)n * out, img, blurred, blur_work);
}

static void *dev_upload(const sg_backend *be, const void *h, size_t bytes) {
    void *d = be->mem_alloc(be, bytes);
    if (!d) {
        fprintf(stderr, "%s: out of backend memory (%zu bytes)\n", be->name, bytes);
        exit(2);
    }
    if (h) be->mem_upload(be, d, h, bytes);
    return d;
}

/* bytes of garbage from (seed, tag): never zeros, never a valid result by chance */
static void *garbage(size_t bytes, uint64_t seed, uint32_t tag) {
    float *g = tu_alloc(bytes + sizeof(float));
    tu_fill(g, bytes / sizeof(float) + 1, seed, tag, -100.0f, 100.0f);
    return g;
}

int main(int argc, char **argv) {
    const sg_backend *be = tb_backend(argc, argv);
    CHECK(be->aug_views != NULL, "backend %s lacks aug_views", be->name);
    if (!be->aug_views) return test_finish();

    static const int kCin[3] = {3, 1, 1}, kC[3] = {3, 3, 1};
    int combo[2] = {0, 0}; /* the next flag combination: [0] C = 1, [1] C = 3 */
    int seen1[8] = {0}, seen3[32] = {0};
    int all_seen = 0, norm_runs[2] = {0, 0};
    double worst = 0;
    sg_rng r;
    sg_rng_init(&r, 4242, 0x76696577u /* "view" */, 0, 0);
    for (int trial = 0; trial < 80 && (trial < 24 || !all_seen); trial++) {
        const int cfg = trial % 3, Cin = kCin[cfg], C = kC[cfg];
        const int norm = (trial / 3) % 2;
        const int N = tu_randint(&r, 1, 5), H = tu_randint(&r, 9, 40), W = tu_randint(&r, 9, 40);
        const int S = tu_randint(&r, 8, 24);
        const int half = tu_randint(&r, 0, S - 1 < 11 ? S - 1 : 11), ksize = 2 * half + 1;
        const size_t nsrc = (size_t)N * Cin * H * W, out = (size_t)C * S * S;
        const size_t ndst = (size_t)N * out, plane = (size_t)H * W;
        const size_t work_bytes = sg_aug_views_work_bytes(N, Cin, H, W, C, S, ksize);

        uint8_t *src = tu_alloc(nsrc);
        for (size_t i = 0; i < nsrc; i++) src[i] = (uint8_t)(sg_rng_u32(&r) >> 24);
        sg_aug_view *view = tu_alloc((size_t)N * sizeof *view);
        draw_views(&r, N, H, W, C, view, combo);
        float mean[3], std[3];
        double md[3], sd[3];
        tu_fill(mean, (size_t)C, 4300 + (uint64_t)trial, 1, 0.3f, 0.6f);
        tu_fill(std, (size_t)C, 4300 + (uint64_t)trial, 2, 0.2f, 0.3f);
        tu_f2d(mean, md, (size_t)C);
        tu_f2d(std, sd, (size_t)C);
        for (int n = 0; n < N; n++) {
            const int f = view[n].flip | view[n].blur << 1 | view[n].solarize << 2 |
                          view[n].jitter << 3 | view[n].gray << 4;
            if (C == 3)
                seen3[f] = 1;
            else
                seen1[f] = 1;
        }
        norm_runs[norm]++;

        void *g_dst = garbage(ndst * sizeof(float), 4400 + (uint64_t)trial, 1);
        void *g_chain = garbage(ndst * sizeof(float), 4400 + (uint64_t)trial, 2);
        void *g_work = garbage(work_bytes, 4400 + (uint64_t)trial, 3);
        void *g_img = garbage((size_t)C * plane * sizeof(float), 4400 + (uint64_t)trial, 4);
        void *g_out = garbage(out * sizeof(float), 4400 + (uint64_t)trial, 5);
        uint8_t *dsrc = dev_upload(be, src, nsrc);
        float *ddst = dev_upload(be, g_dst, ndst * sizeof(float));
        void *dwork = dev_upload(be, g_work, work_bytes);
        float *cdst = dev_upload(be, g_chain, ndst * sizeof(float));
        float *img = dev_upload(be, g_img, (size_t)C * plane * sizeof(float));
        float *blurred = dev_upload(be, g_out, out * sizeof(float));
        float *blur_work = dev_upload(be, g_out, out * sizeof(float));

        const float *m = norm ? mean : NULL, *s = norm ? std : NULL;
        sg_aug_views(be, N, Cin, H, W, dsrc, C, S, view, ksize, m, s, ddst, dwork);
        chain(be, N, Cin, H, W, dsrc, C, S, view, ksize, m, s, cdst, img, blurred, blur_work);
        be->sync(be);
        float *got = tu_alloc(ndst * sizeof(float)), *want = tu_alloc(ndst * sizeof(float));
        be->mem_download(be, got, ddst, ndst * sizeof(float));
        be->mem_download(be, want, cdst, ndst * sizeof(float));

        size_t first = ndst;
        for (size_t i = 0; i < ndst && first == ndst; i++)
            if (memcmp(&got[i], &want[i], sizeof(float))) first = i;
        CHECK(first == ndst,
              "%s trial %d N=%d Cin=%d H=%d W=%d C=%d S=%d ksize=%d norm=%d: the batch differs "
              "from the single-image ops at %zu (image %zu: %.9g vs %.9g)",
              be->name, trial, N, Cin, H, W, C, S, ksize, norm, first, first / out,
              first < ndst ? (double)got[first] : 0.0, first < ndst ? (double)want[first] : 0.0);

        /* Against the double reference, with the checker's bound (kernels/opcheck/opcheck_aug.c,
         * oc_aug_views): the crop's coordinate error, counted 3 times through the jitter, the
         * jitter's and the blur's own, over std. */
        double *ref = tu_alloc(ndst * sizeof(double));
        ref_aug_views(N, Cin, H, W, src, C, S, view, ksize, norm ? md : NULL, norm ? sd : NULL,
                      ref);
        int side = H > W ? H : W;
        side = side > S ? side : S;
        double inv_std = 1;
        for (int c = 0; norm && c < C; c++) inv_std = fmax(inv_std, 1.0 / std[c]);
        const double eps = (double)FLT_EPSILON;
        const double pre =
            (C == 3 ? 3 : 1) * 4 * eps * side + (C == 3 ? 3e-5 : 0) + 4 * eps * ksize;
        const double atol = inv_std * pre, rtol = 4 * eps;
        CHECK(tu_close_fd("aug_views vs ref", got, ref, ndst, atol, rtol),
              "%s trial %d N=%d Cin=%d H=%d W=%d C=%d S=%d ksize=%d norm=%d", be->name, trial, N,
              Cin, H, W, C, S, ksize, norm);
        for (size_t i = 0; i < ndst; i++) {
            const double e = fabs((double)got[i] - ref[i]) / (atol + rtol * fabs(ref[i]));
            if (e > worst) worst = e;
        }

        all_seen = 1;
        for (int f = 0; f < 32; f++) all_seen &= seen3[f];
        for (int f = 0; f < 8; f++) all_seen &= seen1[f];

        be->mem_free(be, dsrc);
        be->mem_free(be, ddst);
        be->mem_free(be, dwork);
        be->mem_free(be, cdst);
        be->mem_free(be, img);
        be->mem_free(be, blurred);
        be->mem_free(be, blur_work);
        free(g_dst);
        free(g_chain);
        free(g_work);
        free(g_img);
        free(g_out);
        free(src);
        free(view);
        free(got);
        free(want);
        free(ref);
    }
    CHECK(all_seen, "not every combination of the stage flags was run");
    CHECK(norm_runs[0] > 0 && norm_runs[1] > 0, "normalised %d times, not %d times", norm_runs[1],
          norm_runs[0]);
    printf("%s: worst error against the reference %.3g x tolerance\n", be->name, worst);
    return test_finish();
}
