/* aug_gaussian_blur: separable Gaussian with torch 'reflect' padding. Known images (an impulse
 * gives the normalised outer-product kernel, an impulse next to the border shows the reflection,
 * a constant image is unchanged, ksize 1 is the identity), the double reference (a direct 2-D
 * convolution) on random images, kernel sizes and sigmas, including images smaller than the
 * padding, and concurrent calls from several threads. */
#include <pthread.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

static const sg_backend *be;

/* torchvision's 1-D kernel in double: x = linspace(-(k-1)/2, (k-1)/2, k), exp(-x^2/2s^2), sum 1 */
static void kernel1d(int k, double sigma, double *w) {
    double sum = 0;
    for (int i = 0; i < k; i++) {
        double x = -(k - 1) / 2.0 + i;
        w[i] = exp(-0.5 * x * x / (sigma * sigma));
        sum += w[i];
    }
    for (int i = 0; i < k; i++) w[i] /= sum;
}

enum { THREADS = 4, TC = 3, TH = 21, TW = 18, TK = 7 };
typedef struct {
    float *src, *dst, *work;
    float sigma;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    for (int rep = 0; rep < 4; rep++)
        sg_aug_gaussian_blur(be, TC, TH, TW, j->src, j->dst, TK, j->sigma, j->work);
    return NULL;
}

int main(void) {
    be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_gaussian_blur != NULL, "cpu backend lacks aug_gaussian_blur");

    /* Impulse in the middle: the output is the outer product w w^T around it, 0 elsewhere. */
    {
        enum { H = 15, W = 17, K = 7, cy = 7, cx = 8 };
        const double sigma = 1.3;
        float src[H * W], dst[H * W], work[H * W];
        double w[K];
        kernel1d(K, sigma, w);
        memset(src, 0, sizeof src);
        src[cy * W + cx] = 1.0f;
        sg_aug_gaussian_blur(be, 1, H, W, src, dst, K, (float)sigma, work);
        double want[H * W];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int a = y - cy + K / 2, b = x - cx + K / 2;
                want[y * W + x] = (a >= 0 && a < K && b >= 0 && b < K) ? w[a] * w[b] : 0.0;
            }
        CHECK(tu_close_fd("impulse", dst, want, H * W, 1e-7, 1e-6), "impulse != outer product");
        double sum = 0;
        for (int i = 0; i < H * W; i++) sum += dst[i];
        CHECK(fabs(sum - 1) <= 1e-6, "impulse response sums to %.9g", sum);

        /* Impulse at (1,1): reflect (no edge repeat) folds tap offsets +-1 onto row/column 0, so
         * out[0][0] = (w[K/2+1] + w[K/2-1])^2 = (2 w[K/2-1])^2; replicate or symmetric padding
         * would give different values. */
        memset(src, 0, sizeof src);
        src[1 * W + 1] = 1.0f;
        sg_aug_gaussian_blur(be, 1, H, W, src, dst, K, (float)sigma, work);
        double corner = (2 * w[K / 2 - 1]) * (2 * w[K / 2 - 1]);
        CHECK(fabs(dst[0] - corner) <= 1e-6 * corner, "reflect corner %.9g want %.9g",
              (double)dst[0], corner);
        /* out[0][3] (column 3 = 1 + 2: only the direct tap, rows folded) = 2 w[K/2-1] w[K/2-2] */
        double side = 2 * w[K / 2 - 1] * w[K / 2 - 2];
        CHECK(fabs(dst[3] - side) <= 1e-6 * side, "reflect edge %.9g want %.9g", (double)dst[3],
              side);
    }

    sg_rng r;
    sg_rng_init(&r, 31, 0, 0, 0);

    /* A constant image stays constant (the taps sum to 1 up to float rounding); ksize 1 is the
     * identity exactly. */
    {
        enum { C = 3, H = 12, W = 19 };
        float src[C * H * W], dst[C * H * W], work[C * H * W];
        for (int i = 0; i < C * H * W; i++) src[i] = 0.6f;
        sg_aug_gaussian_blur(be, C, H, W, src, dst, 9, 2.0f, work);
        double e = 0;
        for (int i = 0; i < C * H * W; i++) e = fmax(e, fabs(dst[i] - 0.6));
        CHECK(e <= 1e-6, "constant image moved by %g", e);
        tu_fill(src, C * H * W, 1100, 1, 0.0f, 1.0f);
        sg_aug_gaussian_blur(be, C, H, W, src, dst, 1, 0.7f, work);
        CHECK(memcmp(src, dst, sizeof src) == 0, "ksize 1 is not the identity");
    }

    /* Against the double reference: random sizes (some smaller than the padding, where the
     * mirror repeats), odd kernel sizes 1..23, sigma in [0.1, 3]. */
    for (int trial = 0; trial < 20; trial++) {
        const int C = tu_randint(&r, 1, 3), H = tu_randint(&r, 1, 24), W = tu_randint(&r, 1, 24);
        const int K = 2 * tu_randint(&r, 0, 11) + 1;
        const float sigma = (float)sg_rng_uniform_range(&r, 0.1, 3.0);
        const size_t n = (size_t)C * H * W;
        float *src = tu_alloc(n * sizeof(float)), *dst = tu_alloc(n * sizeof(float));
        float *work = tu_alloc(n * sizeof(float));
        double *dsrc = tu_alloc(n * sizeof(double)), *ref = tu_alloc(n * sizeof(double));
        tu_fill(src, n, 1200 + trial, 1, 0.0f, 1.0f);
        tu_f2d(src, dsrc, n);
        sg_aug_gaussian_blur(be, C, H, W, src, dst, K, sigma, work);
        ref_aug_gaussian_blur(C, H, W, dsrc, ref, K, sigma);
        /* float taps, two passes of <= 23 float multiply-adds on [0,1] values (seen: 1.2e-7) */
        CHECK(tu_close_fd("blur", dst, ref, n, 5e-7, 0.0), "trial %d %dx%dx%d k=%d sigma=%g", trial,
              C, H, W, K, (double)sigma);
        free(src);
        free(dst);
        free(work);
        free(dsrc);
        free(ref);
    }

    /* Concurrent calls with per-thread work buffers give the same bits as sequential ones. */
    {
        static job jobs[THREADS];
        const size_t n = (size_t)TC * TH * TW;
        float *seq = tu_alloc(THREADS * n * sizeof(float)), *seq_work = tu_alloc(n * sizeof(float));
        for (int t = 0; t < THREADS; t++) {
            jobs[t].src = tu_alloc(n * sizeof(float));
            jobs[t].dst = tu_alloc(n * sizeof(float));
            jobs[t].work = tu_alloc(n * sizeof(float));
            jobs[t].sigma = 0.5f + 0.4f * (float)t;
            tu_fill(jobs[t].src, n, 1300 + t, 1, 0.0f, 1.0f);
            sg_aug_gaussian_blur(be, TC, TH, TW, jobs[t].src, seq + t * n, TK, jobs[t].sigma,
                                  seq_work);
        }
        pthread_t tid[THREADS];
        int started = 0;
        for (int t = 0; t < THREADS; t++)
            started += pthread_create(&tid[t], NULL, run_job, &jobs[t]) == 0;
        CHECK(started == THREADS, "started %d of %d threads", started, THREADS);
        for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
        for (int t = 0; t < THREADS; t++) {
            CHECK(memcmp(jobs[t].dst, seq + t * n, n * sizeof(float)) == 0,
                  "thread %d differs from the sequential run", t);
            free(jobs[t].src);
            free(jobs[t].dst);
            free(jobs[t].work);
        }
        free(seq);
        free(seq_work);
    }
    return test_finish();
}
