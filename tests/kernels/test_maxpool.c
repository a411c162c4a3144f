/* Max-pool forward/backward of the CPU backend: ResNet's 3x3 stride-2 pad-1 stem pool and random
 * geometries (odd sizes, overlapping and disjoint windows, padding), against the double
 * reference (y and argmax exact, dx to rounding); argmax checked on its own (inside the window,
 * holds the max, first in row-major window order on ties), inputs with many ties, with NaNs (the
 * first NaN of a window wins) and all-negative inputs (padding must act as -inf, not 0); repeated calls bit-identical, 1 and 2 threads; and
 * the reference backward against central finite differences of the reference forward on inputs
 * without ties. */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* Independent argmax check: position inside the clipped window, x there equals y, every earlier
 * cell of the window is strictly smaller and every later one no larger. */
static int argmax_valid(const sg_pool_shape *s, const float *x, const float *y,
                        const int32_t *am) {
    for (int nc = 0; nc < s->N * s->C; nc++) {
        const float *xp = x + (size_t)nc * s->H * s->W;
        for (int p = 0; p < s->P; p++)
            for (int q = 0; q < s->Q; q++) {
                size_t o = ((size_t)nc * s->P + p) * s->Q + q;
                int a = am[o], h0 = p * s->stride - s->pad, w0 = q * s->stride - s->pad;
                if (a < 0 || a >= s->H * s->W) return 0;
                int ah = a / s->W, aw = a % s->W;
                if (ah < h0 || ah >= h0 + s->k || aw < w0 || aw >= w0 + s->k) return 0;
                if (xp[a] != y[o]) return 0;
                for (int h = h0 < 0 ? 0 : h0; h < h0 + s->k && h < s->H; h++)
                    for (int w = w0 < 0 ? 0 : w0; w < w0 + s->k && w < s->W; w++) {
                        int before = h < ah || (h == ah && w < aw);
                        float v = xp[h * s->W + w];
                        if (before ? !(v < y[o]) : !(v <= y[o])) return 0;
                    }
            }
    }
    return 1;
}

/* input kinds */
enum { UNIFORM, TIES, NEGATIVE, NANS };

typedef struct {
    float *y, *dx;
    int32_t *am;
} pool_out;

static void check_shape(const sg_backend *be, const sg_pool_shape *s, int kind, uint64_t seed,
                        pool_out *keep) {
    const size_t nx = (size_t)s->N * s->C * s->H * s->W, ny = (size_t)s->N * s->C * s->P * s->Q;
    float *x = tu_alloc(nx * sizeof(float)), *dy = tu_alloc(ny * sizeof(float));
    pool_out o[2];
    for (int r = 0; r < 2; r++) {
        o[r].y = tu_alloc(ny * sizeof(float));
        o[r].dx = tu_alloc(nx * sizeof(float));
        o[r].am = tu_alloc(ny * sizeof(int32_t));
    }
    if (kind == NEGATIVE) {
        tu_fill(x, nx, seed, 1, -2.0f, -1.0f);
    } else {
        tu_fill(x, nx, seed, 1, -1.0f, 1.0f);
    }
    if (kind == TIES || kind == NANS) /* four levels: most windows hold several equal maxima */
        for (size_t i = 0; i < nx; i++) x[i] = floorf(x[i] * 2.0f) * 0.5f;
    if (kind == NANS) { /* and a NaN in one cell of 16: the first NaN of a window wins */
        sg_rng rn;
        sg_rng_init(&rn, seed, 3, 0, 0);
        for (size_t i = 0; i < nx; i++)
            if ((sg_rng_u32(&rn) & 15) == 0) x[i] = NAN;
    }
    tu_fill(dy, ny, seed, 2, -1.0f, 1.0f);

    for (int r = 0; r < 2; r++) {
        sg_maxpool_fwd(be, s, x, o[r].y, o[r].am);
        sg_maxpool_bwd(be, s, dy, o[r].am, o[r].dx);
    }
    CHECK(memcmp(o[0].y, o[1].y, ny * sizeof(float)) == 0 &&
              memcmp(o[0].am, o[1].am, ny * sizeof(int32_t)) == 0 &&
              memcmp(o[0].dx, o[1].dx, nx * sizeof(float)) == 0,
          "maxpool N%d C%d %dx%d k%d s%d p%d: two calls differ", s->N, s->C, s->H, s->W, s->k,
          s->stride, s->pad);
    if (kind != NANS) /* the independent check compares values, which NaN defeats */
        CHECK(argmax_valid(s, x, o[0].y, o[0].am), "argmax N%d C%d %dx%d k%d s%d p%d kind %d",
              s->N, s->C, s->H, s->W, s->k, s->stride, s->pad, kind);

    double *xd = tu_alloc(nx * sizeof(double)), *yd = tu_alloc(ny * sizeof(double));
    double *dyd = tu_alloc(ny * sizeof(double)), *dxd = tu_alloc(nx * sizeof(double));
    int32_t *amd = tu_alloc(ny * sizeof(int32_t));
    tu_f2d(x, xd, nx);
    tu_f2d(dy, dyd, ny);
    ref_maxpool_fwd(s, xd, yd, amd);
    ref_maxpool_bwd(s, dyd, amd, dxd);
    int y_exact = 1;
    for (size_t i = 0; i < ny; i++)
        y_exact &= (double)o[0].y[i] == yd[i] || (isnan(o[0].y[i]) && isnan(yd[i]));
    CHECK(y_exact, "maxpool y differs from the reference");
    CHECK(memcmp(o[0].am, amd, ny * sizeof(int32_t)) == 0, "argmax differs from the reference");
    /* dx sums at most ceil(k/stride)^2 gradients per cell */
    CHECK(tu_close_fd("maxpool dx", o[0].dx, dxd, nx, 1e-6, 1e-6), "maxpool dx kind %d", kind);

    *keep = o[0];
    free(o[1].y), free(o[1].dx), free(o[1].am);
    free(x), free(dy), free(xd), free(yd), free(dyd), free(dxd), free(amd);
}

/* f(x) = sum(g .* maxpool(x)) */
typedef struct {
    const sg_pool_shape *s;
    const double *g;
    double *y;
    int32_t *am;
} fd_ctx;

static double pool_objective(const double *x, void *vctx) {
    fd_ctx *c = vctx;
    ref_maxpool_fwd(c->s, x, c->y, c->am);
    double f = 0;
    for (size_t i = 0; i < (size_t)c->s->N * c->s->C * c->s->P * c->s->Q; i++)
        f += c->g[i] * c->y[i];
    return f;
}

static void fd_check(const sg_pool_shape *s, uint64_t seed) {
    const size_t nx = (size_t)s->N * s->C * s->H * s->W, ny = (size_t)s->N * s->C * s->P * s->Q;
    /* a random permutation of the levels 0.01*i: no ties, gaps far above the step */
    double *x = tu_alloc(nx * sizeof(double)), *dx = tu_alloc(nx * sizeof(double));
    for (size_t i = 0; i < nx; i++) x[i] = 0.01 * (double)i - 1.0;
    sg_rng r;
    sg_rng_init(&r, seed, 1, 0, 0);
    for (size_t i = nx - 1; i > 0; i--) {
        size_t j = sg_rng_below(&r, (uint32_t)(i + 1));
        double t = x[i];
        x[i] = x[j], x[j] = t;
    }
    float *gf = tu_alloc(ny * sizeof(float));
    double *g = tu_alloc(ny * sizeof(double));
    tu_fill(gf, ny, seed, 2, -1.0f, 1.0f);
    tu_f2d(gf, g, ny);
    fd_ctx c = {s, g, tu_alloc(ny * sizeof(double)), tu_alloc(ny * sizeof(int32_t))};
    (void)pool_objective(x, &c);
    ref_maxpool_bwd(s, g, c.am, dx);
    CHECK(tu_gradcheck("fd maxpool dx", pool_objective, &c, x, nx, dx, 1e-6, 1e-8, 1e-7),
          "ref maxpool_bwd vs finite differences %dx%d k%d s%d p%d", s->H, s->W, s->k, s->stride,
          s->pad);
    free(x), free(dx), free(gf), free(g), free(c.y), free(c.am);
}

#define NFIXED 8
#define NRANDOM 8
#define NSHAPES (NFIXED + NRANDOM)

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    sg_pool_shape fd1 = sg_pool_shape_make(1, 2, 7, 7, 3, 2, 1);
    sg_pool_shape fd2 = sg_pool_shape_make(2, 1, 6, 5, 2, 2, 0);
    sg_pool_shape fd3 = sg_pool_shape_make(1, 1, 5, 6, 3, 1, 1); /* heavily overlapping */
    fd_check(&fd1, 1);
    fd_check(&fd2, 2);
    fd_check(&fd3, 3);

    sg_pool_shape shapes[NSHAPES] = {
        sg_pool_shape_make(2, 3, 16, 16, 3, 2, 1),   /* ResNet stem pool */
        sg_pool_shape_make(1, 2, 15, 17, 3, 2, 1),   /* odd sizes */
        sg_pool_shape_make(2, 64, 32, 32, 3, 2, 1),  /* threaded */
        sg_pool_shape_make(3, 2, 9, 8, 2, 2, 0),     /* disjoint windows */
        sg_pool_shape_make(1, 3, 4, 5, 4, 3, 3),     /* pad = k - 1 */
        sg_pool_shape_make(2, 2, 1, 1, 1, 1, 0),     /* 1x1 */
        sg_pool_shape_make(1, 2, 7, 300, 3, 2, 1),   /* 3x3 rows of several 64-output chunks */
        sg_pool_shape_make(2, 1, 9, 203, 3, 4, 2),   /* 3x3 at the largest stride of that path */
    };
    sg_rng r;
    sg_rng_init(&r, 20240503, 7, 0, 0);
    for (int i = NFIXED; i < NSHAPES; i++) {
        int k = tu_randint(&r, 1, 4), stride = tu_randint(&r, 1, 3), pad = tu_randint(&r, 0, k - 1);
        int H = tu_randint(&r, k > 1 ? k - 1 : 1, 19), W = tu_randint(&r, k > 1 ? k - 1 : 1, 19);
        if (H + 2 * pad < k) H = k;
        if (W + 2 * pad < k) W = k;
        shapes[i] = sg_pool_shape_make(tu_randint(&r, 1, 3), tu_randint(&r, 1, 4), H, W, k,
                                       stride, pad);
    }

    pool_out keep[NSHAPES][4];
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (int i = 0; i < NSHAPES; i++) {
            const sg_pool_shape *s = &shapes[i];
            const size_t nx = (size_t)s->N * s->C * s->H * s->W;
            const size_t ny = (size_t)s->N * s->C * s->P * s->Q;
            for (int kind = UNIFORM; kind <= NANS; kind++) {
                pool_out o;
                check_shape(be, s, kind, 400 + (uint64_t)i, &o);
                if (ti == 0) {
                    keep[i][kind] = o;
                    continue;
                }
                pool_out *q = &keep[i][kind];
                CHECK(memcmp(o.y, q->y, ny * sizeof(float)) == 0 &&
                          memcmp(o.am, q->am, ny * sizeof(int32_t)) == 0 &&
                          memcmp(o.dx, q->dx, nx * sizeof(float)) == 0,
                      "maxpool shape %d: 1 and 2 threads differ", i);
                free(o.y), free(o.dx), free(o.am), free(q->y), free(q->dx), free(q->am);
            }
        }
    }

    sg_pool_shape cs = sg_pool_shape_make(2, 3, 8, 8, 3, 2, 1); /* P = Q = 4 */
    sg_cost f = sg_cost_maxpool_fwd(&cs), b = sg_cost_maxpool_bwd(&cs);
    CHECK(f.bytes == 4.0 * 2 * 3 * 64 + 8.0 * 2 * 3 * 16 && f.flops == 9.0 * 2 * 3 * 16 &&
              b.bytes == f.bytes,
          "maxpool costs: fwd %g B %g F, bwd %g B", f.bytes, f.flops, b.bytes);
    return test_finish();
}
