/* tests/kernels/test_lars.c: lars_step against ref_lars_step over several steps (adapted and
 * excluded tensors, a zero-norm tensor), a hand-computed step, determinism and bit-identity
 * across 1 and 2 threads. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

enum { NG = 4, NSTEPS = 5 };
static const size_t gn[NG] = {3, 64, 70001, 512};
static const float gwd[NG] = {1.5e-6f, 0.0f, 1e-3f, 4e-4f};
static const int gadapt[NG] = {1, 0, 1, 1};

static void run(const sg_backend *be, float *w[NG], float *m[NG], float *g[NG], double *rw[NG],
                double *rm[NG], double *rg[NG], uint64_t seed, int with_ref) {
    for (int step = 0; step < NSTEPS; step++) {
        sg_lars_group groups[NG];
        ref_lars_group rgroups[NG];
        for (int k = 0; k < NG; k++) {
            tu_fill(g[k], gn[k], seed, 50 + 10 * (uint32_t)step + (uint32_t)k, -0.3f, 0.4f);
            groups[k] = (sg_lars_group){w[k], g[k], m[k], gn[k], gwd[k], gadapt[k], NULL};
            if (with_ref) {
                tu_f2d(g[k], rg[k], gn[k]);
                rgroups[k] = (ref_lars_group){rw[k], rg[k], rm[k], gn[k], gwd[k], gadapt[k]};
            }
        }
        sg_lars_step(be, NG, groups, 0.2f, 0.9f, 0.001f);
        if (with_ref) ref_lars_step(NG, rgroups, 0.2, 0.9, 0.001);
    }
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    float *w[NG], *m[NG], *g[NG], *w2[NG], *m2[NG];
    double *rw[NG], *rm[NG], *rg[NG];
    for (int k = 0; k < NG; k++) {
        w[k] = tu_alloc(gn[k] * sizeof(float));
        m[k] = tu_alloc(gn[k] * sizeof(float));
        g[k] = tu_alloc(gn[k] * sizeof(float));
        w2[k] = tu_alloc(gn[k] * sizeof(float));
        m2[k] = tu_alloc(gn[k] * sizeof(float));
        rw[k] = tu_alloc(gn[k] * sizeof(double));
        rm[k] = tu_alloc(gn[k] * sizeof(double));
        rg[k] = tu_alloc(gn[k] * sizeof(double));
        tu_fill(w[k], gn[k], 9, (uint32_t)k, -1, 1);
        tu_f2d(w[k], rw[k], gn[k]);
        memcpy(w2[k], w[k], gn[k] * sizeof(float));
    }
    sg_cpu_set_threads(2);
    run(be, w, m, g, rw, rm, rg, 3, 1);
    for (int k = 0; k < NG; k++) {
        CHECK(tu_close_fd("lars w", w[k], rw[k], gn[k], 1e-6, 1e-5), "tensor %d weights", k);
        CHECK(tu_close_fd("lars m", m[k], rm[k], gn[k], 1e-7, 1e-4), "tensor %d momentum", k);
    }
    /* same run with 1 thread: bit-identical (the norms are serial, the update elementwise) */
    sg_cpu_set_threads(1);
    run(be, w2, m2, g, rw, rm, rg, 3, 0);
    int same = 1;
    for (int k = 0; k < NG; k++) same &= memcmp(w[k], w2[k], gn[k] * sizeof(float)) == 0;
    CHECK(same, "1 and 2 threads give identical weights");

    /* by hand: w = (3, 4), g = (0.6, 0.8), wd 0, eta 0.5, lr 2, momentum 0:
     * trust = 0.5 * 5 / 1 = 2.5, step = 2 * 2.5 * g = (3, 4) -> w = (0, 0) */
    float hw[2] = {3, 4}, hg[2] = {0.6f, 0.8f}, hm[2] = {0.25f, -0.5f};
    sg_lars_group h = {hw, hg, hm, 2, 0.0f, 1, NULL};
    sg_lars_step(be, 1, &h, 2.0f, 0.0f, 0.5f);
    CHECK(fabsf(hw[0]) < 1e-6f && fabsf(hw[1]) < 1e-6f, "hand step: w = (%g, %g)", hw[0], hw[1]);
    /* excluded tensor: plain momentum SGD with lr, no decay */
    float ew[1] = {1}, eg[1] = {0.5f}, em[1] = {0.1f};
    sg_lars_group e = {ew, eg, em, 1, 0.3f, 0, NULL};
    sg_lars_step(be, 1, &e, 0.2f, 0.9f, 0.001f);
    CHECK(fabsf(em[0] - (0.09f + 0.1f)) < 1e-7f && fabsf(ew[0] - (1 - 0.19f)) < 1e-7f,
          "excluded: m %g w %g", em[0], ew[0]);
    sg_cost c = sg_cost_lars_step(1000);
    CHECK(c.flops > 0 && c.bytes == 4.0 * 7000, "cost %g flops %g bytes", c.flops, c.bytes);
    for (int k = 0; k < NG; k++) {
        free(w[k]), free(m[k]), free(g[k]), free(w2[k]), free(m2[k]);
        free(rw[k]), free(rm[k]), free(rg[k]);
    }
    return test_finish();
}
