/* tests/kernels/test_corr_update.c: the CPU backend's corr_update (DirectPred's moving-average
 * correlation F) against ref_corr_update: initialisation from the first batch, then rho blends
 * of further batches, plain and centred; both triangles written and exactly symmetric; init
 * never reads the old F; determinism; 1 and 2 threads. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

enum { NSTEPS = 3 };

typedef struct {
    int N, D;
} shape;

/* Features f[N,D] with a nonzero mean (uniform in [-0.5, 1.5)) so centring changes F. */
static void make_batch(float *f, int N, int D, uint64_t seed, int step) {
    tu_fill(f, (size_t)N * D, seed, 100 + step, -0.5f, 1.5f);
}

/* Runs init + (NSTEPS-1) blends on the backend into F. */
static void run_backend(const sg_backend *be, shape s, float rho, int center, uint64_t seed,
                        float *f, float *F, float *work) {
    for (int step = 0; step < NSTEPS; step++) {
        make_batch(f, s.N, s.D, seed, step);
        sg_corr_update(be, s.N, s.D, f, rho, step == 0, center, F, work);
    }
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->corr_update, "cpu backend has no corr_update");
    if (!be || !be->corr_update) return test_finish();

    /* (N, D): degenerate, odd, N < D (rank-deficient, as DirectPred's batch vs width can be),
     * N > D, and a DirectPred-sized one. */
    const shape shapes[] = {{1, 1}, {7, 5}, {20, 33}, {96, 40}, {128, 128}, {256, 64}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    const float rhos[2] = {0.3f, 0.5f};
    const int Nmax = 256, Dmax = 128;

    float *f = (float *)tu_alloc((size_t)Nmax * Dmax * sizeof(float));
    float *F = (float *)tu_alloc((size_t)Dmax * Dmax * sizeof(float));
    float *F2 = (float *)tu_alloc((size_t)Dmax * Dmax * sizeof(float));
    float *work = (float *)tu_alloc((size_t)Dmax * sizeof(float));
    double *fd = (double *)tu_alloc((size_t)Nmax * Dmax * sizeof(double));
    double *Fr = (double *)tu_alloc((size_t)Dmax * Dmax * sizeof(double));
    double *Fr_plain = (double *)tu_alloc((size_t)Dmax * Dmax * sizeof(double));

    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        for (int si = 0; si < nshapes; si++) {
            const shape s = shapes[si];
            const size_t DD = (size_t)s.D * s.D;
            for (int center = 0; center <= 1; center++) {
                const float rho = rhos[(si + center) % 2];
                const uint64_t seed = 7 + si;
                char what[128];
                snprintf(what, sizeof what, "N %d D %d center %d rho %g threads %d", s.N, s.D,
                         center, rho, t);

                /* F starts as garbage (NaN): init must overwrite, never blend, it */
                for (size_t i = 0; i < DD; i++) F[i] = NAN;
                for (int step = 0; step < NSTEPS; step++) {
                    make_batch(f, s.N, s.D, seed, step);
                    tu_f2d(f, fd, (size_t)s.N * s.D);
                    ref_corr_update(s.N, s.D, fd, rho, step == 0, center, Fr);
                    sg_corr_update(be, s.N, s.D, f, rho, step == 0, center, F, work);
                    /* Entries are means of products of O(1) values; float sums over N terms
                     * (and, centred, the f^T f / N - mu mu^T cancellation with |mu| ~ 0.5). */
                    char w2[160];
                    snprintf(w2, sizeof w2, "%s step %d", what, step);
                    CHECK(tu_close_fd(w2, F, Fr, DD, 2e-6, 2e-5), "%s", w2);
                    int sym = 1;
                    for (int a = 0; a < s.D && sym; a++)
                        for (int b = 0; b < a; b++)
                            if (memcmp(&F[(size_t)a * s.D + b], &F[(size_t)b * s.D + a],
                                       sizeof(float)) != 0) {
                                sym = 0;
                                break;
                            }
                    CHECK(sym, "%s: F is not exactly symmetric", w2);
                }
                if (center == 0) {
                    memcpy(Fr_plain, Fr, DD * sizeof(double));
                } else if (s.N > 1) {
                    /* centring changed the answer (mean ~0.5 so F drops by ~0.25 on the
                     * diagonal): the flag is not ignored */
                    double diff = 0;
                    for (size_t i = 0; i < DD; i++) diff = fmax(diff, fabs(Fr_plain[i] - Fr[i]));
                    CHECK(diff > 0.1, "%s: centred and plain F are the same (%g)", what, diff);
                }

                /* determinism */
                run_backend(be, s, rho, center, seed, f, F, work);
                memcpy(F2, F, DD * sizeof(float));
                run_backend(be, s, rho, center, seed, f, F, work);
                CHECK(memcmp(F, F2, DD * sizeof(float)) == 0, "%s: two runs differ", what);
            }
        }
    }

    /* A single batch with N = 1, centred: f - mean = 0, so F = 0 exactly up to rounding. */
    {
        const int D = 9;
        make_batch(f, 1, D, 3, 0);
        sg_corr_update(be, 1, D, f, 0.3f, 1, 1, F, work);
        double worst = 0;
        for (int i = 0; i < D * D; i++) worst = fmax(worst, fabs(F[i]));
        CHECK(worst < 1e-6, "centred F of one sample is %g, want 0", worst);
    }

    free(f);
    free(F);
    free(F2);
    free(work);
    free(fd);
    free(Fr);
    free(Fr_plain);
    return test_finish();
}
