/* Global average pool forward/backward of the CPU backend against the double reference on
 * several shapes (ResNet's 7x7 and 4x4 final maps, odd sizes, HW = 1); repeated calls
 * bit-identical, 1 and 2 threads; and the reference backward against central finite
 * differences of the reference forward. */
#include <string.h>

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

typedef struct {
    float *y, *dx;
} avg_out;

static void check_shape(const sg_backend *be, int N, int C, int HW, uint64_t seed,
                        avg_out *keep) {
    const size_t nx = (size_t)N * C * HW, ny = (size_t)N * C;
    float *x = tu_alloc(nx * sizeof(float)), *dy = tu_alloc(ny * sizeof(float));
    avg_out o[2];
    tu_fill(x, nx, seed, 1, -1.0f, 3.0f);
    tu_fill(dy, ny, seed, 2, -1.0f, 1.0f);
    for (int r = 0; r < 2; r++) {
        o[r].y = tu_alloc(ny * sizeof(float));
        o[r].dx = tu_alloc(nx * sizeof(float));
        sg_avgpool_global_fwd(be, N, C, HW, x, o[r].y);
        sg_avgpool_global_bwd(be, N, C, HW, dy, o[r].dx);
    }
    CHECK(memcmp(o[0].y, o[1].y, ny * sizeof(float)) == 0 &&
              memcmp(o[0].dx, o[1].dx, nx * sizeof(float)) == 0,
          "avgpool N%d C%d HW%d: two calls differ", N, C, HW);

    double *xd = tu_alloc(nx * sizeof(double)), *yd = tu_alloc(ny * sizeof(double));
    double *dyd = tu_alloc(ny * sizeof(double)), *dxd = tu_alloc(nx * sizeof(double));
    tu_f2d(x, xd, nx);
    tu_f2d(dy, dyd, ny);
    ref_avgpool_global_fwd(N, C, HW, xd, yd);
    ref_avgpool_global_bwd(N, C, HW, dyd, dxd);
    /* the mean is summed in double: only the final rounding to float remains */
    CHECK(tu_close_fd("avgpool y", o[0].y, yd, ny, 1e-7, 2e-7), "avgpool_fwd N%d C%d HW%d", N, C,
          HW);
    CHECK(tu_close_fd("avgpool dx", o[0].dx, dxd, nx, 1e-9, 2e-7), "avgpool_bwd N%d C%d HW%d", N,
          C, HW);

    *keep = o[0];
    free(o[1].y), free(o[1].dx);
    free(x), free(dy), free(xd), free(yd), free(dyd), free(dxd);
}

/* f(x) = sum(g .* avgpool(x)) */
typedef struct {
    int N, C, HW;
    const double *g;
    double *y;
} fd_ctx;

static double avg_objective(const double *x, void *vctx) {
    fd_ctx *c = vctx;
    ref_avgpool_global_fwd(c->N, c->C, c->HW, x, c->y);
    double f = 0;
    for (size_t i = 0; i < (size_t)c->N * c->C; i++) f += c->g[i] * c->y[i];
    return f;
}

static void fd_check(int N, int C, int HW, uint64_t seed) {
    const size_t nx = (size_t)N * C * HW, ny = (size_t)N * C;
    float *t = tu_alloc(nx * sizeof(float));
    double *x = tu_alloc(nx * sizeof(double)), *dx = tu_alloc(nx * sizeof(double));
    double *g = tu_alloc(ny * sizeof(double));
    tu_fill(t, nx, seed, 1, -1.0f, 1.0f);
    tu_f2d(t, x, nx);
    tu_fill(t, ny, seed, 2, -1.0f, 1.0f);
    tu_f2d(t, g, ny);
    ref_avgpool_global_bwd(N, C, HW, g, dx);
    fd_ctx c = {N, C, HW, g, tu_alloc(ny * sizeof(double))};
    CHECK(tu_gradcheck("fd avgpool dx", avg_objective, &c, x, nx, dx, 1e-6, 1e-9, 1e-7),
          "ref avgpool_global_bwd vs finite differences N%d C%d HW%d", N, C, HW);
    free(t), free(x), free(dx), free(g), free(c.y);
}

#define NSHAPES 8

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();

    fd_check(2, 3, 7, 1);
    fd_check(1, 4, 16, 2);

    int shapes[NSHAPES][3] = {
        {2, 3, 49}, {4, 5, 16}, {3, 7, 1}, {16, 64, 49}, /* threaded */
        {1, 1, 1},  {0, 0, 0},  {0, 0, 0}, {0, 0, 0},
    };
    sg_rng r;
    sg_rng_init(&r, 20240504, 7, 0, 0);
    for (int i = 5; i < NSHAPES; i++) {
        shapes[i][0] = tu_randint(&r, 1, 9);
        shapes[i][1] = tu_randint(&r, 1, 40);
        shapes[i][2] = tu_randint(&r, 1, 70);
    }

    avg_out keep[NSHAPES];
    const int threads[2] = {1, 2};
    for (int ti = 0; ti < 2; ti++) {
        CHECK(sg_cpu_set_threads(threads[ti]) == threads[ti], "set %d threads", threads[ti]);
        for (int i = 0; i < NSHAPES; i++) {
            const int N = shapes[i][0], C = shapes[i][1], HW = shapes[i][2];
            avg_out o;
            check_shape(be, N, C, HW, 500 + (uint64_t)i, &o);
            if (ti == 0) {
                keep[i] = o;
                continue;
            }
            CHECK(memcmp(o.y, keep[i].y, (size_t)N * C * sizeof(float)) == 0 &&
                      memcmp(o.dx, keep[i].dx, (size_t)N * C * HW * sizeof(float)) == 0,
                  "avgpool N%d C%d HW%d: 1 and 2 threads differ", N, C, HW);
            free(o.y), free(o.dx), free(keep[i].y), free(keep[i].dx);
        }
    }

    sg_cost f = sg_cost_avgpool_global_fwd(2, 3, 49), b = sg_cost_avgpool_global_bwd(2, 3, 49);
    CHECK(f.bytes == 4.0 * 6 * 50 && b.bytes == f.bytes && f.flops >= 6 * 49 && b.flops > 0,
          "avgpool costs: fwd %g B %g F, bwd %g B", f.bytes, f.flops, b.bytes);
    return test_finish();
}
