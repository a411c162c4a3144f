/* aug_color_jitter: torchvision's ColorJitter with drawn factors and order. Known images (the
 * identity parameters, brightness and its clamp, contrast 0 = the mean gray, saturation 0 = the
 * grayscale, hue shifts of +-1/3 cycling the primaries), the double reference on random images,
 * factors and orders (each op alone and all four together), and concurrent calls from several
 * threads agreeing bit for bit with sequential ones. */
#include <pthread.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

static const sg_backend *be;

static void fill_colour(float *img, size_t n, float r, float g, float b) {
    for (size_t p = 0; p < n; p++) {
        img[p] = r;
        img[n + p] = g;
        img[2 * n + p] = b;
    }
}

/* max |img - (r,g,b)| over the image */
static double colour_error(const float *img, size_t n, double r, double g, double b) {
    double e = 0;
    for (size_t p = 0; p < n; p++) {
        e = fmax(e, fabs(img[p] - r));
        e = fmax(e, fabs(img[n + p] - g));
        e = fmax(e, fabs(img[2 * n + p] - b));
    }
    return e;
}

static void random_order(sg_rng *r, int order[4]) {
    for (int i = 0; i < 4; i++) order[i] = i;
    for (int i = 3; i > 0; i--) { /* Fisher-Yates, like torch.randperm */
        int j = (int)sg_rng_below(r, (uint32_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* ---- concurrency: each thread jitters its own images; no shared mutable state allowed ---- */
enum { THREADS = 4, IMAGES = 6, TH = 19, TW = 23 };
typedef struct {
    float *imgs; /* [IMAGES][3][TH][TW] */
    float factors[IMAGES][4];
    int orders[IMAGES][4];
} job;

static void *run_job(void *arg) {
    job *j = arg;
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < IMAGES; i++)
            sg_aug_color_jitter(be, TH, TW, j->imgs + (size_t)i * 3 * TH * TW, j->factors[i][0],
                                 j->factors[i][1], j->factors[i][2], j->factors[i][3],
                                 j->orders[i]);
    return NULL;
}

int main(void) {
    be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_color_jitter != NULL, "cpu backend lacks aug_color_jitter");
    sg_rng r;
    sg_rng_init(&r, 29, 0, 0, 0);

    /* Identity parameters leave a random image unchanged, in every order. */
    {
        const int H = 9, W = 14;
        const size_t n = 3 * (size_t)H * W;
        float img[3 * 9 * 14], orig[3 * 9 * 14];
        tu_fill(orig, n, 800, 1, 0.0f, 1.0f);
        for (int t = 0; t < 4; t++) {
            int order[4];
            random_order(&r, order);
            memcpy(img, orig, sizeof img);
            sg_aug_color_jitter(be, H, W, img, 1.0f, 1.0f, 1.0f, 0.0f, order);
            CHECK(memcmp(img, orig, sizeof img) == 0, "identity changed the image (order %d%d%d%d)",
                  order[0], order[1], order[2], order[3]);
        }
    }

    /* Known colours on constant images. */
    {
        const int H = 6, W = 7;
        const size_t n = (size_t)H * W;
        float img[3 * 6 * 7];
        const int o_b[4] = {0, 1, 2, 3}, o_c[4] = {1, 0, 2, 3}, o_s[4] = {2, 0, 1, 3},
                  o_h[4] = {3, 0, 1, 2};
        fill_colour(img, n, 0.5f, 0.25f, 0.125f);
        sg_aug_color_jitter(be, H, W, img, 1.5f, 1, 1, 0, o_b);
        CHECK(colour_error(img, n, 0.75, 0.375, 0.1875) == 0, "brightness 1.5 of (.5,.25,.125)");
        fill_colour(img, n, 0.5f, 0.25f, 0.125f);
        sg_aug_color_jitter(be, H, W, img, 3.0f, 1, 1, 0, o_b);
        CHECK(colour_error(img, n, 1.0, 0.75, 0.375) == 0, "brightness 3 does not clamp at 1");

        /* hue +1/3: red -> green -> blue -> red; -1/3 the other way */
        const struct {
            float in[3], shift, out[3];
        } hues[] = {
            {{1, 0, 0}, 1.0f / 3, {0, 1, 0}},
            {{0, 1, 0}, 1.0f / 3, {0, 0, 1}},
            {{0, 0, 1}, 1.0f / 3, {1, 0, 0}},
            {{1, 0, 0}, -1.0f / 3, {0, 0, 1}},
            {{0.5f, 0, 0}, 1.0f / 3, {0, 0.5f, 0}},
            {{1, 1, 0}, 1.0f / 3, {0, 1, 1}},
            /* h = 0 - 1e-9 wraps to 1 - 1e-9, which rounds to 1.0 in float: sector 6 = 0 */
            {{1, 0, 0}, -1e-9f, {1, 0, 0}},
        };
        for (size_t i = 0; i < sizeof hues / sizeof hues[0]; i++) {
            fill_colour(img, n, hues[i].in[0], hues[i].in[1], hues[i].in[2]);
            sg_aug_color_jitter(be, H, W, img, 1, 1, 1, hues[i].shift, o_h);
            double e = colour_error(img, n, hues[i].out[0], hues[i].out[1], hues[i].out[2]);
            CHECK(e <= 1e-6, "hue %+.4f of (%g,%g,%g): error %g", (double)hues[i].shift,
                  (double)hues[i].in[0], (double)hues[i].in[1], (double)hues[i].in[2], e);
        }
        /* a gray pixel has no hue: unchanged by any shift */
        fill_colour(img, n, 0.4f, 0.4f, 0.4f);
        sg_aug_color_jitter(be, H, W, img, 1, 1, 1, 0.37f, o_h);
        CHECK(colour_error(img, n, 0.4f, 0.4f, 0.4f) == 0, "hue shift changed a gray image");

        /* contrast 0: every pixel becomes the mean luma of the image */
        float *rnd = tu_alloc(3 * n * sizeof(float));
        tu_fill(rnd, 3 * n, 810, 1, 0.0f, 1.0f);
        double mean = 0;
        for (size_t p = 0; p < n; p++)
            mean += 0.299 * rnd[p] + 0.587 * rnd[n + p] + 0.114 * rnd[2 * n + p];
        mean /= (double)n;
        memcpy(img, rnd, 3 * n * sizeof(float));
        sg_aug_color_jitter(be, H, W, img, 1, 0.0f, 1, 0, o_c);
        CHECK(colour_error(img, n, mean, mean, mean) <= 2e-7, "contrast 0 is not the mean gray");

        /* saturation 0: the grayscale op's result */
        float gray[3 * 6 * 7];
        memcpy(gray, rnd, sizeof gray);
        sg_aug_grayscale(be, H, W, gray);
        memcpy(img, rnd, sizeof img);
        sg_aug_color_jitter(be, H, W, img, 1, 1, 0.0f, 0, o_s);
        double e = 0;
        for (size_t i = 0; i < 3 * n; i++) e = fmax(e, fabs((double)img[i] - gray[i]));
        CHECK(e <= 2e-7, "saturation 0 differs from grayscale by %g", e);
        free(rnd);
    }

    /* Against the double reference. Trials 0-3: one op alone (the others at identity);
     * then all four with random factors and orders. */
    for (int trial = 0; trial < 28; trial++) {
        const int H = tu_randint(&r, 1, 24), W = tu_randint(&r, 1, 24);
        const size_t n = 3 * (size_t)H * W;
        float f[4] = {1, 1, 1, 0};
        int order[4];
        random_order(&r, order);
        const float lo[4] = {0.0f, 0.0f, 0.0f, -0.5f}, hi[4] = {2.0f, 2.0f, 2.0f, 0.5f};
        for (int k = 0; k < 4; k++)
            if (trial >= 4 || trial == k) f[k] = (float)sg_rng_uniform_range(&r, lo[k], hi[k]);
        float *img = tu_alloc(n * sizeof(float));
        double *ref = tu_alloc(n * sizeof(double));
        tu_fill(img, n, 900 + trial, 1, 0.0f, 1.0f);
        tu_f2d(img, ref, n);
        sg_aug_color_jitter(be, H, W, img, f[0], f[1], f[2], f[3], order);
        ref_aug_color_jitter(H, W, ref, f[0], f[1], f[2], f[3], order);
        /* a few float roundings per op, amplified by factors <= 2 through up to four ops */
        CHECK(tu_close_fd("color jitter", img, ref, n, 1e-5, 0.0),
              "trial %d %dx%d b=%g c=%g s=%g h=%g order %d%d%d%d", trial, H, W, (double)f[0],
              (double)f[1], (double)f[2], (double)f[3], order[0], order[1], order[2], order[3]);
        free(img);
        free(ref);
    }

    /* Concurrent calls: THREADS threads at once give the same bits as one thread alone. */
    {
        static job jobs[THREADS];
        const size_t per = (size_t)IMAGES * 3 * TH * TW;
        float *seq = tu_alloc(THREADS * per * sizeof(float));
        for (int t = 0; t < THREADS; t++) {
            jobs[t].imgs = tu_alloc(per * sizeof(float));
            tu_fill(jobs[t].imgs, per, 1000 + t, 1, 0.0f, 1.0f);
            for (int i = 0; i < IMAGES; i++) {
                jobs[t].factors[i][0] = (float)sg_rng_uniform_range(&r, 0.6, 1.4);
                jobs[t].factors[i][1] = (float)sg_rng_uniform_range(&r, 0.6, 1.4);
                jobs[t].factors[i][2] = (float)sg_rng_uniform_range(&r, 0.6, 1.4);
                jobs[t].factors[i][3] = (float)sg_rng_uniform_range(&r, -0.1, 0.1);
                random_order(&r, jobs[t].orders[i]);
            }
            memcpy(seq + t * per, jobs[t].imgs, per * sizeof(float));
        }
        for (int t = 0; t < THREADS; t++) {
            job one = jobs[t];
            one.imgs = seq + t * per;
            run_job(&one);
        }
        pthread_t tid[THREADS];
        int started = 0;
        for (int t = 0; t < THREADS; t++)
            started += pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
        CHECK(started == THREADS, "started %d of %d threads", started, THREADS);
        for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
        for (int t = 0; t < THREADS; t++) {
            CHECK(memcmp(jobs[t].imgs, seq + t * per, per * sizeof(float)) == 0,
                  "thread %d differs from the sequential run", t);
            free(jobs[t].imgs);
        }
        free(seq);
    }
    return test_finish();
}
