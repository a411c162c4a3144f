/* core/data/synthetic.c: generated images with learnable classes, for smoke tests and quick
 * suites that must run without downloads.
 *
 * Class k, channel c is a pattern of SYN_WAVES plane waves a*cos(2 pi (fy*y/H + fx*x/W) + phi)
 * with integer frequencies |fy|, |fx| <= 3 (low frequency, and periodic, so circular shifts
 * stay on the pattern). An image of class k is its pattern shifted circularly by up to 1/8 of
 * the size, times a random contrast, plus a random brightness and per-pixel noise. A linear
 * probe or a kNN on good features separates the classes; the shifts and noise keep pixels
 * alone from being a perfect answer.
 *
 * Every random value comes from a Philox stream keyed by (seed, what, index), so image i is
 * the same whatever n or the order of generation. Each plane wave is evaluated separably:
 * cos(A + B) = cos A cos B - sin A sin B with A along y (phase included) and B along x, from
 * tables of cos/sin(2 pi m / size), so an image costs a few multiply-adds per pixel per wave. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/data/internal.h"

#define SYN_TAG 0x53594e54u /* "SYNT" */
#define SYN_WAVES 4
#define SYN_MAXF 3
#define SYN_GAIN 90.0f   /* pattern amplitude in pixel levels (before contrast) */
#define SYN_NOISE 20.0f  /* per-pixel noise: triangular in (-SYN_NOISE, SYN_NOISE) */
#define SYN_BRIGHT 20.0f /* per-image brightness offset in [-SYN_BRIGHT, SYN_BRIGHT) */

typedef struct {
    int fy, fx;
    float amp, cphi, sphi;
} syn_wave;

static const double SYN_TWO_PI = 6.283185307179586476925286766559;

/* (a mod m) in [0, m) for any sign of a. */
static int mod_pos(long a, int m) {
    long r = a % m;
    return (int)(r < 0 ? r + m : r);
}

int sg_dataset_synthetic(sg_dataset *d, int n, int C, int H, int W, int nclasses, uint64_t seed,
                         sg_err *err) {
    memset(d, 0, sizeof *d);
    if (n < 1 || C < 1 || H < 1 || W < 1 || nclasses < 1)
        return sg_errf(err, "synthetic dataset: n=%d, C=%d, H=%d, W=%d, nclasses=%d; all must "
                       "be >= 1", n, C, H, W, nclasses);
    if (H > 65536 || W > 65536 || C > 64 || (double)n * C * H * W > 1e12)
        return sg_errf(err, "synthetic dataset: %d images of %dx%dx%d is too large", n, C, H, W);
    const size_t plane = (size_t)H * W, image = (size_t)C * plane;
    char what[96];
    snprintf(what, sizeof what, "synthetic dataset (%d images of %dx%dx%d)", n, C, H, W);
    uint8_t *pixels = sgd_big_alloc((size_t)n * image, what, err);
    if (!pixels) return -1;
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    syn_wave *waves = malloc((size_t)nclasses * C * SYN_WAVES * sizeof *waves);
    float *amp_sum = malloc((size_t)nclasses * C * sizeof *amp_sum);
    /* tables [H] and [W]; per wave rows ca, sa [H] and columns cb, sb [W]; field [H*W] */
    float *tab = malloc((2 * (size_t)H + 2 * (size_t)W) * sizeof *tab);
    float *rows = malloc((2 * (size_t)H + 2 * (size_t)W) * sizeof *rows);
    float *field = malloc(plane * sizeof *field);
    if (!labels || !waves || !amp_sum || !tab || !rows || !field) {
        free(pixels);
        free(labels);
        free(waves);
        free(amp_sum);
        free(tab);
        free(rows);
        free(field);
        return sg_errf(err, "out of memory: %s", what);
    }
    float *cosH = tab, *sinH = tab + H, *cosW = tab + 2 * H, *sinW = tab + 2 * H + W;
    for (int m = 0; m < H; m++) {
        cosH[m] = (float)cos(SYN_TWO_PI * m / H);
        sinH[m] = (float)sin(SYN_TWO_PI * m / H);
    }
    for (int m = 0; m < W; m++) {
        cosW[m] = (float)cos(SYN_TWO_PI * m / W);
        sinW[m] = (float)sin(SYN_TWO_PI * m / W);
    }

    /* The classes' patterns. */
    for (int k = 0; k < nclasses; k++) {
        sg_rng r;
        sg_rng_init(&r, seed, SYN_TAG, 1, (uint32_t)k);
        for (int c = 0; c < C; c++) {
            float sum = 0;
            for (int j = 0; j < SYN_WAVES; j++) {
                syn_wave *w = &waves[((size_t)k * C + c) * SYN_WAVES + j];
                do {
                    w->fy = (int)sg_rng_below(&r, 2 * SYN_MAXF + 1) - SYN_MAXF;
                    w->fx = (int)sg_rng_below(&r, 2 * SYN_MAXF + 1) - SYN_MAXF;
                } while (w->fy == 0 && w->fx == 0);
                w->amp = 0.5f + 0.5f * sg_rng_uniform(&r);
                double phi = SYN_TWO_PI * sg_rng_uniform_double(&r);
                w->cphi = (float)cos(phi);
                w->sphi = (float)sin(phi);
                sum += w->amp;
            }
            amp_sum[(size_t)k * C + c] = sum;
        }
    }

    /* Balanced labels (counts differ by at most one), shuffled (Fisher-Yates). */
    for (int i = 0; i < n; i++) labels[i] = i % nclasses;
    {
        sg_rng r;
        sg_rng_init(&r, seed, SYN_TAG, 2, 0);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)sg_rng_below(&r, (uint32_t)i + 1);
            int32_t t = labels[i];
            labels[i] = labels[j];
            labels[j] = t;
        }
    }

    float *ca = rows, *sa = rows + H, *cb = rows + 2 * H, *sb = rows + 2 * H + W;
    const int shy = H / 8, shx = W / 8;
    for (int i = 0; i < n; i++) {
        sg_rng r;
        sg_rng_init(&r, seed, SYN_TAG, 3, (uint32_t)i);
        const int k = labels[i];
        const int dy = (int)sg_rng_below(&r, 2u * shy + 1) - shy;
        const int dx = (int)sg_rng_below(&r, 2u * shx + 1) - shx;
        const float contrast = 0.7f + 0.6f * sg_rng_uniform(&r);
        const float bright = SYN_BRIGHT * (2.0f * sg_rng_uniform(&r) - 1.0f);
        uint8_t *img = pixels + (size_t)i * image;
        for (int c = 0; c < C; c++) {
            memset(field, 0, plane * sizeof *field);
            for (int j = 0; j < SYN_WAVES; j++) {
                const syn_wave *w = &waves[((size_t)k * C + c) * SYN_WAVES + j];
                for (int y = 0; y < H; y++) { /* A = 2 pi fy (y+dy)/H + phi, times amp */
                    int m = mod_pos((long)w->fy * (y + dy), H);
                    ca[y] = w->amp * (cosH[m] * w->cphi - sinH[m] * w->sphi);
                    sa[y] = w->amp * (sinH[m] * w->cphi + cosH[m] * w->sphi);
                }
                for (int x = 0; x < W; x++) { /* B = 2 pi fx (x+dx)/W */
                    int m = mod_pos((long)w->fx * (x + dx), W);
                    cb[x] = cosW[m];
                    sb[x] = sinW[m];
                }
                for (int y = 0; y < H; y++) {
                    float *f = field + (size_t)y * W;
                    for (int x = 0; x < W; x++) f[x] += ca[y] * cb[x] - sa[y] * sb[x];
                }
            }
            const float scale = SYN_GAIN * contrast / amp_sum[(size_t)k * C + c];
            uint8_t *out = img + (size_t)c * plane;
            for (size_t p = 0; p < plane; p++) {
                uint32_t u = sg_rng_u32(&r); /* two 16-bit uniforms -> triangular noise */
                float noise = ((float)(u >> 16) + (float)(u & 0xffffu)) / 65536.0f - 1.0f;
                float v = 128.0f + bright + scale * field[p] + SYN_NOISE * noise;
                v = floorf(v + 0.5f);
                out[p] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
            }
        }
    }
    free(waves);
    free(amp_sum);
    free(tab);
    free(rows);
    free(field);
    d->kind = SG_DS_SYNTHETIC;
    d->n = n;
    d->C = C;
    d->H = H;
    d->W = W;
    d->nclasses = nclasses;
    d->pixels = pixels;
    d->labels = labels;
    snprintf(d->path, sizeof d->path, "synthetic:seed=%llu", (unsigned long long)seed);
    return 0;
}
