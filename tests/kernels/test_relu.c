/* relu forward/backward of the CPU backend against the double reference (exact: both are a
 * select), in place (y aliasing x, dx aliasing dy), repeated calls bit-identical, with 1 and 2
 * threads; and the reference backward against central finite differences of the reference
 * forward on inputs kept away from the kink at 0. */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* got[i] == want[i] exactly (the kernels only select, so nothing may round). */
static int exact(const char *what, const float *got, const double *want, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((double)got[i] != want[i]) {
            fprintf(stderr, "  %s: index %zu got %.9g want %.9g\n", what, i, (double)got[i],
                    want[i]);
            return 0;
        }
    return 1;
}

static void check_size(const sg_backend *be, size_t n, uint64_t seed) {
    float *x = tu_alloc(n * sizeof(float)), *y = tu_alloc(n * sizeof(float));
    float *y2 = tu_alloc(n * sizeof(float)), *dy = tu_alloc(n * sizeof(float));
    float *dx = tu_alloc(n * sizeof(float)), *dx2 = tu_alloc(n * sizeof(float));
    float *buf = tu_alloc(n * sizeof(float));
    double *xd = tu_alloc(n * sizeof(double)), *yd = tu_alloc(n * sizeof(double));
    double *dyd = tu_alloc(n * sizeof(double)), *dxd = tu_alloc(n * sizeof(double));
    tu_fill(x, n, seed, 1, -1.0f, 1.0f);
    tu_fill(dy, n, seed, 2, -1.0f, 1.0f);
    tu_f2d(x, xd, n);
    tu_f2d(dy, dyd, n);

    sg_relu_fwd(be, n, x, y);
    sg_relu_fwd(be, n, x, y2);
    ref_relu_fwd(n, xd, yd);
    CHECK(exact("relu y", y, yd, n), "relu_fwd n=%zu", n);
    CHECK(memcmp(y, y2, n * sizeof(float)) == 0, "relu_fwd n=%zu: two calls differ", n);
    int has_neg = 0, has_pos = 0;
    for (size_t i = 0; i < n; i++) has_neg |= y[i] == 0.0f, has_pos |= y[i] > 0.0f;
    CHECK(n < 16 || (has_neg && has_pos), "inputs should hit both sides of the kink");

    memcpy(buf, x, n * sizeof(float));
    sg_relu_fwd(be, n, buf, buf);
    CHECK(memcmp(buf, y, n * sizeof(float)) == 0, "relu_fwd in place n=%zu", n);

    sg_relu_bwd(be, n, y, dy, dx);
    sg_relu_bwd(be, n, y, dy, dx2);
    ref_relu_bwd(n, yd, dyd, dxd);
    CHECK(exact("relu dx", dx, dxd, n), "relu_bwd n=%zu", n);
    CHECK(memcmp(dx, dx2, n * sizeof(float)) == 0, "relu_bwd n=%zu: two calls differ", n);

    memcpy(buf, dy, n * sizeof(float));
    sg_relu_bwd(be, n, y, buf, buf);
    CHECK(memcmp(buf, dx, n * sizeof(float)) == 0, "relu_bwd in place n=%zu", n);

    free(x), free(y), free(y2), free(dy), free(dx), free(dx2), free(buf);
    free(xd), free(yd), free(dyd), free(dxd);
}

/* f(x) = sum(g .* relu(x)) */
typedef struct {
    size_t n;
    const double *g;
    double *y;
} fd_ctx;

static double relu_objective(const double *x, void *vctx) {
    fd_ctx *c = vctx;
    ref_relu_fwd(c->n, x, c->y);
    double f = 0;
    for (size_t i = 0; i < c->n; i++) f += c->g[i] * c->y[i];
    return f;
}

static void fd_check(size_t n, uint64_t seed) {
    float *u = tu_alloc(n * sizeof(float)), *s = tu_alloc(n * sizeof(float));
    double *x = tu_alloc(n * sizeof(double)), *g = tu_alloc(n * sizeof(double));
    double *y = tu_alloc(n * sizeof(double)), *dx = tu_alloc(n * sizeof(double));
    tu_fill(u, n, seed, 1, 0.1f, 1.0f); /* |x| >= 0.1: far from the kink at the step used */
    tu_fill(s, n, seed, 2, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++) x[i] = s[i] < 0 ? -(double)u[i] : (double)u[i];
    tu_fill(s, n, seed, 3, -1.0f, 1.0f);
    tu_f2d(s, g, n);
    ref_relu_fwd(n, x, y);
    ref_relu_bwd(n, y, g, dx);
    fd_ctx c = {n, g, tu_alloc(n * sizeof(double))};
    CHECK(tu_gradcheck("fd relu dx", relu_objective, &c, x, n, dx, 1e-6, 1e-8, 1e-7),
          "ref relu_bwd vs finite differences n=%zu", n);
    free(c.y), free(u), free(s), free(x), free(g), free(y), free(dx);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    fd_check(37, 1);
    fd_check(200, 2);

    /* odd sizes, vector tails, and sizes above the threading threshold */
    const size_t sizes[] = {1, 7, 33, 1000, 4099, 100003, 262144};
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            check_size(be, sizes[i], 10 + i);
    }

    sg_cost f = sg_cost_relu_fwd(1000), b = sg_cost_relu_bwd(1000);
    CHECK(f.bytes == 8000 && b.bytes == 12000 && f.flops == 1000 && b.flops == 1000,
          "relu costs: fwd %g B %g F, bwd %g B %g F", f.bytes, f.flops, b.bytes, b.flops);
    return test_finish();
}
