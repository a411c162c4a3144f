/* tests/kernels/test_sgd.c: the CPU backend's sgd_step against ref_sgd_step (several groups with
 * their own lr / weight decay, several momenta, several steps), a hand-computed PyTorch step,
 * determinism, and bit-identity across 1 and 2 threads (the update is elementwise). */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

enum { NGROUPS = 4, NSTEPS = 6 };

/* Group sizes: a single parameter, odd small ones, and one above the kernel's parallel
 * threshold so the OpenMP path runs. */
static const size_t group_n[NGROUPS] = {1, 37, 70001, 1000};
static const float group_lr[NGROUPS] = {0.03f, 0.3f, 0.05f, 0.01f};
static const float group_wd[NGROUPS] = {4e-4f, 0.0f, 1e-2f, 1.5e-6f};

typedef struct {
    float *w[NGROUPS], *g[NGROUPS], *m[NGROUPS];
} fstate;

static void fstate_init(fstate *s, uint64_t seed) {
    for (int k = 0; k < NGROUPS; k++) {
        s->w[k] = (float *)tu_alloc(group_n[k] * sizeof(float));
        s->g[k] = (float *)tu_alloc(group_n[k] * sizeof(float));
        s->m[k] = (float *)tu_alloc(group_n[k] * sizeof(float));
        tu_fill(s->w[k], group_n[k], seed, 100 + k, -1.0f, 1.0f);
        /* momentum buffers start at zero, as PyTorch's are before the first step */
    }
}
static void fstate_free(fstate *s) {
    for (int k = 0; k < NGROUPS; k++) {
        free(s->w[k]);
        free(s->g[k]);
        free(s->m[k]);
    }
}

/* Runs NSTEPS steps with fresh random gradients each step on the backend. */
static void run_backend(const sg_backend *be, fstate *s, float momentum, uint64_t seed) {
    sg_sgd_group groups[NGROUPS];
    for (int step = 0; step < NSTEPS; step++) {
        for (int k = 0; k < NGROUPS; k++) {
            tu_fill(s->g[k], group_n[k], seed, 1000 * (step + 1) + k, -0.5f, 0.7f);
            groups[k] = (sg_sgd_group){.w = s->w[k], .g = s->g[k], .m = s->m[k],
                                       .n = group_n[k], .lr = group_lr[k],
                                       .weight_decay = group_wd[k]};
        }
        sg_sgd_step(be, NGROUPS, groups, momentum);
    }
}

static void check_against_ref(const sg_backend *be, float momentum, uint64_t seed, int threads) {
    fstate s;
    fstate_init(&s, seed);
    double *rw[NGROUPS], *rg[NGROUPS], *rm[NGROUPS];
    for (int k = 0; k < NGROUPS; k++) {
        rw[k] = (double *)tu_alloc(group_n[k] * sizeof(double));
        rg[k] = (double *)tu_alloc(group_n[k] * sizeof(double));
        rm[k] = (double *)tu_alloc(group_n[k] * sizeof(double));
        tu_f2d(s.w[k], rw[k], group_n[k]);
    }
    float *g_tmp = (float *)tu_alloc(70001 * sizeof(float));
    ref_sgd_group rgroups[NGROUPS];
    for (int step = 0; step < NSTEPS; step++) {
        for (int k = 0; k < NGROUPS; k++) {
            tu_fill(g_tmp, group_n[k], seed, 1000 * (step + 1) + k, -0.5f, 0.7f);
            tu_f2d(g_tmp, rg[k], group_n[k]);
            rgroups[k] = (ref_sgd_group){.w = rw[k], .g = rg[k], .m = rm[k], .n = group_n[k],
                                         .lr = group_lr[k], .weight_decay = group_wd[k]};
        }
        ref_sgd_step(NGROUPS, rgroups, momentum);
    }
    float *w0 = (float *)tu_alloc(70001 * sizeof(float));
    run_backend(be, &s, momentum, seed);
    for (int k = 0; k < NGROUPS; k++) {
        char what[96];
        snprintf(what, sizeof what, "w group %d momentum %g threads %d", k, momentum, threads);
        /* a few float roundings per step, NSTEPS steps: far below 1e-5 relative */
        CHECK(tu_close_fd(what, s.w[k], rw[k], group_n[k], 1e-6, 1e-5), "%s", what);
        snprintf(what, sizeof what, "m group %d momentum %g threads %d", k, momentum, threads);
        CHECK(tu_close_fd(what, s.m[k], rm[k], group_n[k], 1e-6, 1e-5), "%s", what);
        /* the steps moved the weights (the test is not vacuous); a rare weight can land back
         * on its start bits */
        tu_fill(w0, group_n[k], seed, 100 + k, -1.0f, 1.0f);
        size_t moved = 0;
        for (size_t i = 0; i < group_n[k]; i++) moved += s.w[k][i] != w0[i];
        CHECK(moved >= group_n[k] - group_n[k] / 1000, "group %d: %zu of %zu weights moved", k, moved, group_n[k]);
    }
    free(w0);
    free(g_tmp);
    for (int k = 0; k < NGROUPS; k++) {
        free(rw[k]);
        free(rg[k]);
        free(rm[k]);
    }
    fstate_free(&s);
}

/* Two runs from the same state give the same bits; returns the final weights of run one. */
static void check_determinism(const sg_backend *be, float momentum, uint64_t seed, fstate *out) {
    fstate b;
    fstate_init(out, seed);
    fstate_init(&b, seed);
    run_backend(be, out, momentum, seed);
    run_backend(be, &b, momentum, seed);
    for (int k = 0; k < NGROUPS; k++) {
        CHECK(memcmp(out->w[k], b.w[k], group_n[k] * sizeof(float)) == 0,
              "w group %d differs between two identical runs", k);
        CHECK(memcmp(out->m[k], b.m[k], group_n[k] * sizeof(float)) == 0,
              "m group %d differs between two identical runs", k);
    }
    fstate_free(&b);
}

/* PyTorch semantics by hand: w=1, g=0.5, wd=0.1, lr=0.1, momentum 0.9, m=0.
 * step 1: g'=0.6, m=0.6, w=0.94.  step 2: g'=0.5+0.094=0.594, m=0.54+0.594=1.134,
 * w=0.94-0.1134=0.8266. A second group (lr 0.2, wd 0) in the same call must not mix with it:
 * w=2, g=-1: m=-1, w=2.2; then m=-0.9-1=-1.9, w=2.2+0.38=2.58. */
static void check_known_values(const sg_backend *be) {
    float w1 = 1.0f, g1 = 0.5f, m1 = 0.0f;
    float w2 = 2.0f, g2 = -1.0f, m2 = 0.0f;
    sg_sgd_group groups[2] = {
        {.w = &w1, .g = &g1, .m = &m1, .n = 1, .lr = 0.1f, .weight_decay = 0.1f},
        {.w = &w2, .g = &g2, .m = &m2, .n = 1, .lr = 0.2f, .weight_decay = 0.0f},
    };
    sg_sgd_step(be, 2, groups, 0.9f);
    CHECK(fabsf(m1 - 0.6f) < 1e-6f && fabsf(w1 - 0.94f) < 1e-6f, "step 1: m %g w %g", m1, w1);
    CHECK(fabsf(m2 + 1.0f) < 1e-6f && fabsf(w2 - 2.2f) < 1e-6f, "step 1 group 2: m %g w %g", m2,
          w2);
    sg_sgd_step(be, 2, groups, 0.9f);
    CHECK(fabsf(m1 - 1.134f) < 1e-6f && fabsf(w1 - 0.8266f) < 1e-6f, "step 2: m %g w %g", m1, w1);
    CHECK(fabsf(m2 + 1.9f) < 1e-6f && fabsf(w2 - 2.58f) < 1e-6f, "step 2 group 2: m %g w %g", m2,
          w2);
    /* zero groups and an empty group are no-ops */
    const float w1_kept = w1, m1_kept = m1;
    sg_sgd_step(be, 0, groups, 0.9f);
    sg_sgd_group empty = {.w = NULL, .g = NULL, .m = NULL, .n = 0, .lr = 0.1f,
                          .weight_decay = 0.0f};
    sg_sgd_step(be, 1, &empty, 0.9f);
    CHECK(w1 == w1_kept && m1 == m1_kept, "no-op calls changed w %g or m %g", w1, m1);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->sgd_step, "cpu backend has no sgd_step");
    if (!be || !be->sgd_step) return test_finish();

    const float momenta[3] = {0.9f, 0.0f, 0.5f};
    fstate by_threads[2][3];
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        check_known_values(be);
        for (int mi = 0; mi < 3; mi++) {
            check_against_ref(be, momenta[mi], 17 + mi, t);
            check_determinism(be, momenta[mi], 29 + mi, &by_threads[t - 1][mi]);
        }
    }
    /* elementwise: every element is one thread's identical float expression */
    for (int mi = 0; mi < 3; mi++) {
        for (int k = 0; k < NGROUPS; k++)
            CHECK(memcmp(by_threads[0][mi].w[k], by_threads[1][mi].w[k],
                         group_n[k] * sizeof(float)) == 0,
                  "momentum %g group %d: 1 and 2 threads differ", momenta[mi], k);
        fstate_free(&by_threads[0][mi]);
        fstate_free(&by_threads[1][mi]);
    }
    return test_finish();
}
