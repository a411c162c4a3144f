/* The SSL pair loss of the CPU backend against the double reference: normalize on and off, dz
 * NULL and not (dp must not depend on it), random rows, nearly aligned rows (loss ~ 1e-5, where
 * 2 - 2cos would cancel), rows of zeros and rows of norm ~1e-14 (F.normalize's 1e-12 clamp,
 * which also stops the gradient through the norm); repeated calls
 * bit-identical, 1 and 2 threads; and the reference backward against central finite
 * differences of the reference forward. */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

enum { RANDOM, ALIGNED, ZERO_ROWS, TINY_ROWS };

/* Row by row, with an absolute tolerance at the natural scale of the row's gradient terms:
 * 2 scale / max(|p_i|, 1e-12) (+ the same for z) normalised, 2 scale (|p_i| + |z_i|) / sqrt(D)
 * per element otherwise. A clamped zero row's gradient is ~1e12 times the others', and a
 * gradient that is zero in exact arithmetic (D = 1, or the z side of a zero p row) is rounding
 * noise at that scale. */
static int close_rows(const char *what, const float *got, const double *want, const float *p,
                      const float *z, int N, int D, int normalize, double scale) {
    int ok = 1;
    for (int i = 0; i < N; i++) {
        double pp = 0, zz = 0;
        for (int j = 0; j < D; j++) {
            pp += (double)p[(size_t)i * D + j] * p[(size_t)i * D + j];
            zz += (double)z[(size_t)i * D + j] * z[(size_t)i * D + j];
        }
        double term = normalize ? 2 * fabs(scale) * (1 / fmax(sqrt(pp), 1e-12) +
                                                     1 / fmax(sqrt(zz), 1e-12))
                                : 2 * fabs(scale) * (sqrt(pp) + sqrt(zz)) / sqrt((double)D);
        ok &= tu_close_fd(what, got + (size_t)i * D, want + (size_t)i * D, D, 1e-7 * term, 1e-6);
    }
    return ok;
}

typedef struct {
    float *loss, *dp, *dz;
} loss_out;

static void check_case(const sg_backend *be, int N, int D, int normalize, int kind,
                       uint64_t seed, loss_out *keep) {
    const size_t n = (size_t)N * D, fb = n * sizeof(float);
    const float scale = 1.0f / (float)N;
    float *p = tu_alloc(fb), *z = tu_alloc(fb), *dp_only = tu_alloc(fb);
    tu_fill(p, n, seed, 1, -1.0f, 1.0f);
    tu_fill(z, n, seed, 2, -1.0f, 1.0f);
    if (kind == ALIGNED) /* z = 1.7 p + small noise: cos(p, z) ~ 1 - 1e-5 */
        for (size_t i = 0; i < n; i++) z[i] = 1.7f * p[i] + 0.003f * z[i];
    if (kind == ZERO_ROWS) { /* row 0 of p and the last row of z are zero */
        memset(p, 0, (size_t)D * sizeof(float));
        memset(z + (size_t)(N - 1) * D, 0, (size_t)D * sizeof(float));
    }
    if (kind == TINY_ROWS) /* norms ~1e-14, below the clamp but not zero: u = p / 1e-12 */
        for (int j = 0; j < D; j++) {
            p[j] *= 1e-14f;
            z[(size_t)(N - 1) * D + j] *= 1e-14f;
        }

    loss_out o[2];
    for (int r = 0; r < 2; r++) {
        o[r].loss = tu_alloc((size_t)N * sizeof(float));
        o[r].dp = tu_alloc(fb);
        o[r].dz = tu_alloc(fb);
        sg_pair_loss_fwd(be, N, D, normalize, p, z, o[r].loss);
        sg_pair_loss_bwd(be, N, D, normalize, p, z, scale, o[r].dp, o[r].dz);
    }
    sg_pair_loss_bwd(be, N, D, normalize, p, z, scale, dp_only, NULL);
    CHECK(memcmp(o[0].loss, o[1].loss, (size_t)N * sizeof(float)) == 0 &&
              memcmp(o[0].dp, o[1].dp, fb) == 0 && memcmp(o[0].dz, o[1].dz, fb) == 0,
          "pair loss N%d D%d: two calls differ", N, D);
    CHECK(memcmp(o[0].dp, dp_only, fb) == 0, "pair loss N%d D%d: dp changes with dz = NULL", N,
          D);

    double *pd = tu_alloc(n * sizeof(double)), *zd = tu_alloc(n * sizeof(double));
    double *ld = tu_alloc((size_t)N * sizeof(double));
    double *dpd = tu_alloc(n * sizeof(double)), *dzd = tu_alloc(n * sizeof(double));
    tu_f2d(p, pd, n);
    tu_f2d(z, zd, n);
    ref_pair_loss_fwd(N, D, normalize, pd, zd, ld);
    ref_pair_loss_bwd(N, D, normalize, pd, zd, scale, dpd, dzd);
    /* the loss is summed in double, only the final rounding remains; gradients are computed in
     * double per element */
    CHECK(tu_close_fd("row_loss", o[0].loss, ld, N, 1e-12, 1e-6),
          "row_loss N%d D%d normalize %d kind %d", N, D, normalize, kind);
    CHECK(close_rows("dp", o[0].dp, dpd, p, z, N, D, normalize, scale),
          "dp N%d D%d normalize %d kind %d", N, D, normalize, kind);
    CHECK(close_rows("dz", o[0].dz, dzd, p, z, N, D, normalize, scale),
          "dz N%d D%d normalize %d kind %d", N, D, normalize, kind);
    if (kind == ZERO_ROWS && normalize) {
        /* a zero p row normalises to 0 (clamped norm), so its loss is |z/|z||^2 = 1 */
        CHECK(fabs(o[0].loss[0] - 1.0f) < 1e-6f, "zero row loss %g, want 1", o[0].loss[0]);
    }

    *keep = o[0];
    free(o[1].loss), free(o[1].dp), free(o[1].dz);
    free(p), free(z), free(dp_only), free(pd), free(zd), free(ld), free(dpd), free(dzd);
}

/* f = scale * sum_i row_loss_i(p, z). tu_gradcheck perturbs p or z (or one row of them) in
 * place, so the objective reads them from the context. */
typedef struct {
    int N, D, normalize;
    double scale;
    const double *p, *z;
    double *loss;
} fd_ctx;

static double loss_objective(const double *v, void *vctx) {
    (void)v;
    fd_ctx *c = vctx;
    ref_pair_loss_fwd(c->N, c->D, c->normalize, c->p, c->z, c->loss);
    double f = 0;
    for (int i = 0; i < c->N; i++) f += c->scale * c->loss[i];
    return f;
}

/* tiny != 0: row 0 of p and the last row of z get norms ~1e-14, inside F.normalize's clamp,
 * and only those rows are perturbed, with a step far below the clamp (1e-12). */
static void fd_check(int N, int D, int normalize, int tiny, uint64_t seed) {
    const size_t n = (size_t)N * D;
    float *t = tu_alloc(n * sizeof(float));
    double *p = tu_alloc(n * sizeof(double)), *z = tu_alloc(n * sizeof(double));
    double *dp = tu_alloc(n * sizeof(double)), *dz = tu_alloc(n * sizeof(double));
    tu_fill(t, n, seed, 1, -1.0f, 1.0f);
    tu_f2d(t, p, n);
    tu_fill(t, n, seed, 2, -1.0f, 1.0f);
    tu_f2d(t, z, n);
    const size_t zlast = (size_t)(N - 1) * D;
    if (tiny)
        for (int j = 0; j < D; j++) p[j] *= 1e-14, z[zlast + j] *= 1e-14;
    const double scale = 0.37;
    ref_pair_loss_bwd(N, D, normalize, p, z, scale, dp, dz);
    fd_ctx c = {N, D, normalize, scale, p, z, tu_alloc((size_t)N * sizeof(double))};
    if (tiny) {
        CHECK(tu_gradcheck("fd dp (clamped row)", loss_objective, &c, p, D, dp, 1e-17, 1e-8,
                           1e-6),
              "ref pair_loss dp vs finite differences, clamped row, N%d D%d", N, D);
        CHECK(tu_gradcheck("fd dz (clamped row)", loss_objective, &c, z + zlast, D, dz + zlast,
                           1e-17, 1e-8, 1e-6),
              "ref pair_loss dz vs finite differences, clamped row, N%d D%d", N, D);
    } else {
        CHECK(tu_gradcheck("fd dp", loss_objective, &c, p, n, dp, 1e-6, 1e-8, 1e-6),
              "ref pair_loss dp vs finite differences N%d D%d normalize %d", N, D, normalize);
        CHECK(tu_gradcheck("fd dz", loss_objective, &c, z, n, dz, 1e-6, 1e-8, 1e-6),
              "ref pair_loss dz vs finite differences N%d D%d normalize %d", N, D, normalize);
    }
    free(t), free(p), free(z), free(dp), free(dz), free(c.loss);
}

#define NSHAPES 6

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    for (int normalize = 0; normalize < 2; normalize++) {
        fd_check(3, 5, normalize, 0, 1);
        fd_check(2, 17, normalize, 0, 2);
    }
    fd_check(3, 6, 1, 1, 3);

    int shapes[NSHAPES][2] = {{4, 8}, {7, 33}, {3, 1}, {64, 1024} /* threaded */, {0, 0}, {0, 0}};
    sg_rng r;
    sg_rng_init(&r, 20240505, 7, 0, 0);
    for (int i = 4; i < NSHAPES; i++) {
        shapes[i][0] = tu_randint(&r, 2, 20);
        shapes[i][1] = tu_randint(&r, 1, 300);
    }

    loss_out keep[NSHAPES][2][4];
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (int i = 0; i < NSHAPES; i++) {
            const int N = shapes[i][0], D = shapes[i][1];
            const size_t fb = (size_t)N * D * sizeof(float);
            for (int normalize = 0; normalize < 2; normalize++)
                for (int kind = RANDOM; kind <= TINY_ROWS; kind++) {
                    loss_out o;
                    check_case(be, N, D, normalize, kind, 600 + (uint64_t)i, &o);
                    if (ti == 0) {
                        keep[i][normalize][kind] = o;
                        continue;
                    }
                    loss_out *q = &keep[i][normalize][kind];
                    CHECK(memcmp(o.loss, q->loss, (size_t)N * sizeof(float)) == 0 &&
                              memcmp(o.dp, q->dp, fb) == 0 && memcmp(o.dz, q->dz, fb) == 0,
                          "pair loss N%d D%d: 1 and 2 threads differ", N, D);
                    free(o.loss), free(o.dp), free(o.dz), free(q->loss), free(q->dp),
                        free(q->dz);
                }
        }
    }

    sg_cost f = sg_cost_pair_loss_fwd(4, 8), b = sg_cost_pair_loss_bwd(4, 8, 0);
    sg_cost bz = sg_cost_pair_loss_bwd(4, 8, 1);
    CHECK(f.bytes == 4.0 * (2 * 32 + 4) && b.bytes == 4.0 * 3 * 32 && bz.bytes == 4.0 * 4 * 32 &&
              bz.flops > b.flops && f.flops > 0,
          "pair loss costs: fwd %g B, bwd %g/%g B", f.bytes, b.bytes, bz.bytes);
    return test_finish();
}
