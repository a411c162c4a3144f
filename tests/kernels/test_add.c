/* Residual add forward/backward of the CPU backend against the double reference (exact: the sum
 * of two floats is correctly rounded either way), with y aliasing a or b, with da/db NULL,
 * overwritten and accumulated; repeated calls bit-identical, 1 and 2 threads; and the reference
 * backward against central finite differences of the reference forward. */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* got[i] == (float)want[i] */
static int exact(const char *what, const float *got, const double *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (got[i] != (float)want[i]) {
            fprintf(stderr, "  %s: index %zu got %.9g want %.9g\n", what, i, (double)got[i],
                    want[i]);
            return 0;
        }
    return 1;
}

static void check_size(const sg_backend *be, size_t n, uint64_t seed) {
    const size_t fb = n * sizeof(float), db_ = n * sizeof(double);
    float *a = tu_alloc(fb), *b = tu_alloc(fb), *y = tu_alloc(fb), *y2 = tu_alloc(fb);
    float *buf = tu_alloc(fb), *dy = tu_alloc(fb), *da = tu_alloc(fb), *db = tu_alloc(fb);
    float *da0 = tu_alloc(fb), *db0 = tu_alloc(fb), *da2 = tu_alloc(fb), *db2 = tu_alloc(fb);
    double *ad = tu_alloc(db_), *bd = tu_alloc(db_), *yd = tu_alloc(db_), *dyd = tu_alloc(db_);
    double *dad = tu_alloc(db_), *dbd = tu_alloc(db_);
    tu_fill(a, n, seed, 1, -2.0f, 2.0f);
    tu_fill(b, n, seed, 2, -1.0f, 1.0f);
    tu_fill(dy, n, seed, 3, -1.0f, 1.0f);
    tu_fill(da0, n, seed, 4, -1.0f, 1.0f); /* prior contents, for accumulate */
    tu_fill(db0, n, seed, 5, -1.0f, 1.0f);
    tu_f2d(a, ad, n);
    tu_f2d(b, bd, n);
    tu_f2d(dy, dyd, n);

    sg_add_fwd(be, n, a, b, y);
    sg_add_fwd(be, n, a, b, y2);
    ref_add_fwd(n, ad, bd, yd);
    CHECK(exact("add y", y, yd, n), "add_fwd n=%zu", n);
    CHECK(memcmp(y, y2, fb) == 0, "add_fwd n=%zu: two calls differ", n);
    memcpy(buf, a, fb);
    sg_add_fwd(be, n, buf, b, buf);
    CHECK(memcmp(buf, y, fb) == 0, "add_fwd y aliasing a, n=%zu", n);
    memcpy(buf, b, fb);
    sg_add_fwd(be, n, a, buf, buf);
    CHECK(memcmp(buf, y, fb) == 0, "add_fwd y aliasing b, n=%zu", n);

    /* which: 1 da only, 2 db only, 3 both */
    for (int acc = 0; acc < 2; acc++)
        for (int which = 1; which <= 3; which++) {
            memcpy(da, da0, fb), memcpy(db, db0, fb), memcpy(da2, da0, fb), memcpy(db2, db0, fb);
            tu_f2d(da0, dad, n);
            tu_f2d(db0, dbd, n);
            float *pa = (which & 1) ? da : NULL, *pb = (which & 2) ? db : NULL;
            sg_add_bwd(be, n, dy, pa, pb, acc);
            sg_add_bwd(be, n, dy, (which & 1) ? da2 : NULL, (which & 2) ? db2 : NULL, acc);
            ref_add_bwd(n, dyd, (which & 1) ? dad : NULL, (which & 2) ? dbd : NULL, acc);
            CHECK(exact("da", da, dad, n) && exact("db", db, dbd, n),
                  "add_bwd n=%zu acc %d outputs %d", n, acc, which);
            CHECK(memcmp(da, da2, fb) == 0 && memcmp(db, db2, fb) == 0,
                  "add_bwd n=%zu: two calls differ", n);
            if (!(which & 1)) CHECK(memcmp(da, da0, fb) == 0, "da NULL, yet written");
            if (!(which & 2)) CHECK(memcmp(db, db0, fb) == 0, "db NULL, yet written");
        }

    free(a), free(b), free(y), free(y2), free(buf), free(dy), free(da), free(db), free(da0),
        free(db0), free(da2), free(db2);
    free(ad), free(bd), free(yd), free(dyd), free(dad), free(dbd);
}

/* f(a, b) = sum(g .* (a + b)); `which` 0 varies a, 1 varies b */
typedef struct {
    size_t n;
    int which;
    const double *a, *b, *g;
    double *y;
} fd_ctx;

static double add_objective(const double *v, void *vctx) {
    fd_ctx *c = vctx;
    ref_add_fwd(c->n, c->which == 0 ? v : c->a, c->which == 1 ? v : c->b, c->y);
    double f = 0;
    for (size_t i = 0; i < c->n; i++) f += c->g[i] * c->y[i];
    return f;
}

static void fd_check(size_t n, uint64_t seed) {
    float *t = tu_alloc(n * sizeof(float));
    double *a = tu_alloc(n * sizeof(double)), *b = tu_alloc(n * sizeof(double));
    double *g = tu_alloc(n * sizeof(double)), *da = tu_alloc(n * sizeof(double));
    double *db = tu_alloc(n * sizeof(double));
    tu_fill(t, n, seed, 1, -1.0f, 1.0f);
    tu_f2d(t, a, n);
    tu_fill(t, n, seed, 2, -1.0f, 1.0f);
    tu_f2d(t, b, n);
    tu_fill(t, n, seed, 3, -1.0f, 1.0f);
    tu_f2d(t, g, n);
    ref_add_bwd(n, g, da, db, 0);
    fd_ctx c = {n, 0, a, b, g, tu_alloc(n * sizeof(double))};
    CHECK(tu_gradcheck("fd da", add_objective, &c, a, n, da, 1e-6, 1e-8, 1e-7),
          "ref add_bwd da vs finite differences n=%zu", n);
    c.which = 1;
    CHECK(tu_gradcheck("fd db", add_objective, &c, b, n, db, 1e-6, 1e-8, 1e-7),
          "ref add_bwd db vs finite differences n=%zu", n);
    free(c.y), free(t), free(a), free(b), free(g), free(da), free(db);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    fd_check(29, 1);
    fd_check(150, 2);

    const size_t sizes[] = {1, 7, 33, 1000, 4099, 100003};
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            check_size(be, sizes[i], 20 + i);
    }

    sg_cost f = sg_cost_add_fwd(1000), b2 = sg_cost_add_bwd(1000, 2), b1 = sg_cost_add_bwd(1000, 1);
    CHECK(f.bytes == 12000 && f.flops == 1000 && b2.bytes == 12000 && b1.bytes == 8000,
          "add costs: fwd %g B, bwd(2) %g B, bwd(1) %g B", f.bytes, b2.bytes, b1.bytes);
    return test_finish();
}
