/* Batch-norm forward of the CPU backend against the double reference: training (batch
 * statistics, saved mean/invstd, PyTorch running-statistics update) and evaluation; with and
 * without the affine transform; NCHW maps and (N,C) features (HW = 1); a channel of ~630k values
 * with a large mean, where a float accumulation of the statistics would fail the tolerance.
 * Each call is repeated (bit-identical) and run with 1 and 2 threads (bit-identical too: every
 * channel's statistics are summed by one thread in a fixed order). */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* tolerances: |got - want| <= atol + rtol*|want| */
#define Y_ATOL 2e-6
#define Y_RTOL 1e-5
#define STAT_ATOL 1e-7
#define STAT_RTOL 2e-6

typedef struct {
    int N, C, HW;
    float xlo, xhi; /* input range: an offset range makes the mean large against the spread */
} bn_case;

/* Outputs of one float training call, kept to compare calls and thread counts. */
typedef struct {
    float *y, *mean, *invstd, *rm, *rv;
} train_out;

static void train_out_alloc(train_out *o, size_t n, int C) {
    o->y = tu_alloc(n * sizeof(float));
    o->mean = tu_alloc((size_t)C * sizeof(float));
    o->invstd = tu_alloc((size_t)C * sizeof(float));
    o->rm = tu_alloc((size_t)C * sizeof(float));
    o->rv = tu_alloc((size_t)C * sizeof(float));
}
static void train_out_free(train_out *o) {
    free(o->y);
    free(o->mean);
    free(o->invstd);
    free(o->rm);
    free(o->rv);
}
static int train_out_same(const train_out *a, const train_out *b, size_t n, int C) {
    size_t cb = (size_t)C * sizeof(float);
    return memcmp(a->y, b->y, n * sizeof(float)) == 0 && memcmp(a->mean, b->mean, cb) == 0 &&
           memcmp(a->invstd, b->invstd, cb) == 0 && memcmp(a->rm, b->rm, cb) == 0 &&
           memcmp(a->rv, b->rv, cb) == 0;
}

/* One training case: the backend (twice) against the reference. The outputs of the first call
 * go to `keep` for the cross-thread comparison. */
static void check_train(const sg_backend *be, const bn_case *k, int affine, int running,
                        uint64_t seed, train_out *keep) {
    const int N = k->N, C = k->C, HW = k->HW;
    const size_t n = (size_t)N * C * HW;
    const float eps = 1e-5f, momentum = 0.1f;
    float *x = tu_alloc(n * sizeof(float));
    float *gamma = tu_alloc((size_t)C * sizeof(float)), *beta = tu_alloc((size_t)C * sizeof(float));
    float *rm0 = tu_alloc((size_t)C * sizeof(float)), *rv0 = tu_alloc((size_t)C * sizeof(float));
    tu_fill(x, n, seed, 1, k->xlo, k->xhi);
    tu_fill(gamma, C, seed, 2, 0.5f, 1.5f);
    tu_fill(beta, C, seed, 3, -0.5f, 0.5f);
    tu_fill(rm0, C, seed, 4, -0.2f, 0.2f);
    tu_fill(rv0, C, seed, 5, 0.5f, 1.5f);
    const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;

    train_out o[2];
    for (int r = 0; r < 2; r++) {
        train_out_alloc(&o[r], n, C);
        memcpy(o[r].rm, rm0, (size_t)C * sizeof(float));
        memcpy(o[r].rv, rv0, (size_t)C * sizeof(float));
        sg_batchnorm_fwd_train(be, N, C, HW, x, g, b, eps, momentum, running ? o[r].rm : NULL,
                                running ? o[r].rv : NULL, o[r].mean, o[r].invstd, o[r].y);
    }
    CHECK(train_out_same(&o[0], &o[1], n, C), "train N%d C%d HW%d: two calls differ", N, C, HW);

    double *xd = tu_alloc(n * sizeof(double)), *yd = tu_alloc(n * sizeof(double));
    double *gd = tu_alloc((size_t)C * sizeof(double)), *bd = tu_alloc((size_t)C * sizeof(double));
    double *rmd = tu_alloc((size_t)C * sizeof(double)), *rvd = tu_alloc((size_t)C * sizeof(double));
    double *md = tu_alloc((size_t)C * sizeof(double)), *isd = tu_alloc((size_t)C * sizeof(double));
    tu_f2d(x, xd, n);
    tu_f2d(gamma, gd, C);
    tu_f2d(beta, bd, C);
    tu_f2d(rm0, rmd, C);
    tu_f2d(rv0, rvd, C);
    ref_batchnorm_fwd_train(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, eps, momentum,
                            running ? rmd : NULL, running ? rvd : NULL, md, isd, yd);

    CHECK(tu_close_fd("y", o[0].y, yd, n, Y_ATOL, Y_RTOL), "train y N%d C%d HW%d affine %d", N,
          C, HW, affine);
    CHECK(tu_close_fd("mean", o[0].mean, md, C, STAT_ATOL, STAT_RTOL), "train mean N%d C%d HW%d",
          N, C, HW);
    CHECK(tu_close_fd("invstd", o[0].invstd, isd, C, STAT_ATOL, STAT_RTOL),
          "train invstd N%d C%d HW%d", N, C, HW);
    if (running) {
        CHECK(tu_close_fd("running_mean", o[0].rm, rmd, C, STAT_ATOL, STAT_RTOL),
              "running_mean N%d C%d HW%d", N, C, HW);
        CHECK(tu_close_fd("running_var", o[0].rv, rvd, C, STAT_ATOL, STAT_RTOL),
              "running_var N%d C%d HW%d", N, C, HW);
    } else {
        CHECK(memcmp(o[0].rm, rm0, (size_t)C * sizeof(float)) == 0 &&
                  memcmp(o[0].rv, rv0, (size_t)C * sizeof(float)) == 0,
              "no running stats given, yet the buffers changed");
    }

    if (keep) {
        *keep = o[0];
    } else {
        train_out_free(&o[0]);
    }
    train_out_free(&o[1]);
    free(x), free(gamma), free(beta), free(rm0), free(rv0);
    free(xd), free(yd), free(gd), free(bd), free(rmd), free(rvd), free(md), free(isd);
}

/* One evaluation case; returns the first call's y in *keep (caller frees) when keep != NULL. */
static void check_eval(const sg_backend *be, const bn_case *k, int affine, uint64_t seed,
                       float **keep) {
    const int N = k->N, C = k->C, HW = k->HW;
    const size_t n = (size_t)N * C * HW;
    const float eps = 1e-5f;
    float *x = tu_alloc(n * sizeof(float));
    float *gamma = tu_alloc((size_t)C * sizeof(float)), *beta = tu_alloc((size_t)C * sizeof(float));
    float *rm = tu_alloc((size_t)C * sizeof(float)), *rv = tu_alloc((size_t)C * sizeof(float));
    float *y = tu_alloc(n * sizeof(float)), *y2 = tu_alloc(n * sizeof(float));
    tu_fill(x, n, seed, 11, k->xlo, k->xhi);
    tu_fill(gamma, C, seed, 12, 0.5f, 1.5f);
    tu_fill(beta, C, seed, 13, -0.5f, 0.5f);
    tu_fill(rm, C, seed, 14, k->xlo, k->xhi);
    tu_fill(rv, C, seed, 15, 0.05f, 2.0f);
    const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;
    sg_batchnorm_fwd_eval(be, N, C, HW, x, g, b, eps, rm, rv, y);
    sg_batchnorm_fwd_eval(be, N, C, HW, x, g, b, eps, rm, rv, y2);
    CHECK(memcmp(y, y2, n * sizeof(float)) == 0, "eval N%d C%d HW%d: two calls differ", N, C, HW);

    double *xd = tu_alloc(n * sizeof(double)), *yd = tu_alloc(n * sizeof(double));
    double *gd = tu_alloc((size_t)C * sizeof(double)), *bd = tu_alloc((size_t)C * sizeof(double));
    double *rmd = tu_alloc((size_t)C * sizeof(double)), *rvd = tu_alloc((size_t)C * sizeof(double));
    tu_f2d(x, xd, n);
    tu_f2d(gamma, gd, C);
    tu_f2d(beta, bd, C);
    tu_f2d(rm, rmd, C);
    tu_f2d(rv, rvd, C);
    ref_batchnorm_fwd_eval(N, C, HW, xd, affine ? gd : NULL, affine ? bd : NULL, eps, rmd, rvd,
                           yd);
    /* y can reach |x - rm| / sqrt(0.05) ~ 10 here; the tolerance is relative to that scale */
    CHECK(tu_close_fd("eval y", y, yd, n, 1e-5, Y_RTOL), "eval y N%d C%d HW%d affine %d", N, C,
          HW, affine);

    if (keep) {
        *keep = y;
    } else {
        free(y);
    }
    free(y2), free(x), free(gamma), free(beta), free(rm), free(rv);
    free(xd), free(yd), free(gd), free(bd), free(rmd), free(rvd);
}

#define NFIXED 8
#define NRANDOM 6
#define NCASES (NFIXED + NRANDOM)

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    bn_case cases[NCASES] = {
        {4, 3, 25, -1.0f, 1.0f},
        {2, 7, 49, -2.0f, 3.0f},
        {8, 5, 1, -1.0f, 1.0f},     /* (N,C) features */
        {16, 70, 1, -1.0f, 2.0f},   /* HW = 1 over three channel tiles, the last one partial */
        {1, 4, 9, -1.0f, 1.0f},     /* N = 1: statistics over the map alone */
        {3, 2, 10, 100.0f, 101.0f}, /* mean far larger than the spread */
        {256, 160, 1, -1.0f, 1.0f}, /* big enough to run threaded */
        {64, 2, 9801, 3.0f, 5.0f},  /* ~627k values per channel, mean 4 */
    };
    /* random geometries, including odd sizes */
    sg_rng r;
    sg_rng_init(&r, 20240501, 7, 0, 0);
    for (int i = NFIXED; i < NCASES; i++) {
        bn_case *k = &cases[i];
        k->N = tu_randint(&r, 2, 9);
        k->C = tu_randint(&r, 1, 45);
        k->HW = (i % 2) ? 1 : tu_randint(&r, 2, 70);
        k->xlo = (float)sg_rng_uniform_range(&r, -3, 1);
        k->xhi = k->xlo + (float)sg_rng_uniform_range(&r, 0.5, 4);
    }

    /* [case][affine][running] outputs of the 1-thread run, compared with the 2-thread run */
    train_out keep[NCASES][2][2];
    float *keep_eval[NCASES][2];
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (int i = 0; i < NCASES; i++) {
            const bn_case *k = &cases[i];
            const size_t n = (size_t)k->N * k->C * k->HW;
            for (int affine = 0; affine < 2; affine++) {
                for (int running = 0; running < 2; running++) {
                    train_out o;
                    check_train(be, k, affine, running, 100 + (uint64_t)i, &o);
                    if (ti == 0) {
                        keep[i][affine][running] = o;
                    } else {
                        CHECK(train_out_same(&o, &keep[i][affine][running], n, k->C),
                              "train N%d C%d HW%d: 1 and 2 threads differ", k->N, k->C, k->HW);
                        train_out_free(&o);
                        train_out_free(&keep[i][affine][running]);
                    }
                }
                float *y;
                check_eval(be, k, affine, 200 + (uint64_t)i, &y);
                if (ti == 0) {
                    keep_eval[i][affine] = y;
                } else {
                    CHECK(memcmp(y, keep_eval[i][affine], n * sizeof(float)) == 0,
                          "eval N%d C%d HW%d: 1 and 2 threads differ", k->N, k->C, k->HW);
                    free(y);
                    free(keep_eval[i][affine]);
                }
            }
        }
    }

    /* costs: at least x and y move; the affine transform costs more, never less */
    sg_cost c0 = sg_cost_batchnorm_fwd(8, 4, 16, 0), c1 = sg_cost_batchnorm_fwd(8, 4, 16, 1);
    CHECK(c0.bytes >= 2 * 4.0 * 8 * 4 * 16 && c1.bytes > c0.bytes && c1.flops > c0.flops &&
              c0.flops >= 8 * 4 * 16,
          "batchnorm_fwd cost: %g/%g bytes, %g/%g flops", c0.bytes, c1.bytes, c0.flops,
          c1.flops);
    return test_finish();
}
