/* tests/kernels/test_ema.c: the CPU backend's ema_update against ref_ema_update over several
 * steps and momenta (BYOL's 0.996, 0.99, 0.5), the exact end points m = 1 (target kept) and
 * m = 0 (target copied), determinism, and bit-identity across 1 and 2 threads. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

enum { NSTEPS = 5 };

/* Sizes: tiny, odd, and above the kernel's parallel threshold. */
static const size_t sizes[4] = {1, 7, 1001, 100003};
static const float momenta[3] = {0.996f, 0.99f, 0.5f};

/* NSTEPS updates of target toward fresh online weights; out[n] is the final target. */
static void run_backend(const sg_backend *be, size_t n, float m, uint64_t seed, float *target,
                        float *online) {
    tu_fill(target, n, seed, 1, -1.0f, 1.0f);
    for (int s = 0; s < NSTEPS; s++) {
        tu_fill(online, n, seed, 10 + s, -2.0f, 2.0f);
        sg_ema_update(be, n, m, NULL, online, target);
    }
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->ema_update, "cpu backend has no ema_update");
    if (!be || !be->ema_update) return test_finish();

    const size_t nmax = 100003;
    float *target = (float *)tu_alloc(nmax * sizeof(float));
    float *target2 = (float *)tu_alloc(nmax * sizeof(float));
    float *online = (float *)tu_alloc(nmax * sizeof(float));
    float *first = (float *)tu_alloc(nmax * sizeof(float));
    float *by_threads[2][4][3];
    double *rt = (double *)tu_alloc(nmax * sizeof(double));
    double *ro = (double *)tu_alloc(nmax * sizeof(double));

    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        for (int si = 0; si < 4; si++) {
            const size_t n = sizes[si];
            for (int mi = 0; mi < 3; mi++) {
                const float m = momenta[mi];
                const uint64_t seed = 1000 + 10 * si + mi;
                /* reference on the same float inputs */
                tu_fill(first, n, seed, 1, -1.0f, 1.0f);
                tu_f2d(first, rt, n);
                for (int s = 0; s < NSTEPS; s++) {
                    tu_fill(online, n, seed, 10 + s, -2.0f, 2.0f);
                    tu_f2d(online, ro, n);
                    ref_ema_update(n, m, ro, rt);
                }
                run_backend(be, n, m, seed, target, online);
                char what[96];
                snprintf(what, sizeof what, "ema n %zu m %g threads %d", n, m, t);
                /* values O(1), two roundings per step */
                CHECK(tu_close_fd(what, target, rt, n, 1e-6, 1e-6), "%s", what);
                /* the target moved */
                size_t moved = 0;
                for (size_t i = 0; i < n; i++) moved += target[i] != first[i];
                CHECK(moved == n, "%s: only %zu of %zu moved", what, moved, n);
                /* determinism */
                run_backend(be, n, m, seed, target2, online);
                CHECK(memcmp(target, target2, n * sizeof(float)) == 0, "%s: two runs differ",
                      what);
                by_threads[t - 1][si][mi] = (float *)tu_alloc(n * sizeof(float));
                memcpy(by_threads[t - 1][si][mi], target, n * sizeof(float));
            }
            /* m = 1 keeps the target bit for bit; m = 0 copies the online weights exactly */
            tu_fill(target, n, 5, 1, -1.0f, 1.0f);
            tu_fill(online, n, 5, 2, -1.0f, 1.0f);
            memcpy(first, target, n * sizeof(float));
            sg_ema_update(be, n, 1.0f, NULL, online, target);
            CHECK(memcmp(target, first, n * sizeof(float)) == 0, "m=1 changed the target (n %zu)",
                  n);
            sg_ema_update(be, n, 0.0f, NULL, online, target);
            CHECK(memcmp(target, online, n * sizeof(float)) == 0,
                  "m=0 did not copy online (n %zu)", n);
        }
    }
    sg_ema_update(be, 0, 0.5f, NULL, NULL, NULL); /* n = 0 is a no-op */
    for (int si = 0; si < 4; si++)
        for (int mi = 0; mi < 3; mi++) {
            CHECK(memcmp(by_threads[0][si][mi], by_threads[1][si][mi],
                         sizes[si] * sizeof(float)) == 0,
                  "n %zu m %g: 1 and 2 threads differ", sizes[si], momenta[mi]);
            free(by_threads[0][si][mi]);
            free(by_threads[1][si][mi]);
        }
    free(target);
    free(target2);
    free(online);
    free(first);
    free(rt);
    free(ro);
    return test_finish();
}
