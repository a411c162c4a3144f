/* tests/kernels/test_eig_rebuild.c: the CPU backend's eig_rebuild, W = sum_j p[j] u_j u_j^T
 * (u_j = row j of V), against ref_eig_rebuild for random V and p (any V, not only orthogonal
 * ones: the kernel is a plain product), exact symmetry of W, determinism, 1 and 2 threads,
 * and the DirectPred round trip: syevd then eig_rebuild with p = the eigenvalues gives back A. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

static int exactly_symmetric(int D, const float *W) {
    for (int a = 0; a < D; a++)
        for (int b = 0; b < a; b++)
            if (memcmp(&W[(size_t)a * D + b], &W[(size_t)b * D + a], sizeof(float)) != 0)
                return 0;
    return 1;
}

static void check_random(const sg_backend *be, int threads) {
    const int Ds[] = {1, 3, 16, 65, 128, 256};
    for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++) {
        const int D = Ds[k];
        const size_t DD = (size_t)D * D;
        float *V = (float *)tu_alloc(DD * sizeof(float));
        float *p = (float *)tu_alloc((size_t)D * sizeof(float));
        float *W = (float *)tu_alloc(DD * sizeof(float));
        float *W2 = (float *)tu_alloc(DD * sizeof(float));
        float *work = (float *)tu_alloc(DD * sizeof(float));
        double *Vd = (double *)tu_alloc(DD * sizeof(double));
        double *pd = (double *)tu_alloc((size_t)D * sizeof(double));
        double *Wd = (double *)tu_alloc(DD * sizeof(double));
        tu_fill(V, DD, 600 + (uint64_t)D, 1, -1.0f, 1.0f);
        tu_fill(p, (size_t)D, 600 + (uint64_t)D, 2, -0.5f, 2.0f); /* DirectPred's p can be < 0 */
        tu_fill(W, DD, 600 + (uint64_t)D, 3, -9.0f, 9.0f);       /* overwritten, not read */
        tu_f2d(V, Vd, DD);
        tu_f2d(p, pd, (size_t)D);
        ref_eig_rebuild(D, Vd, pd, Wd);
        sg_eig_rebuild(be, D, V, p, W, work);

        char what[64];
        snprintf(what, sizeof what, "eig_rebuild D %d threads %d", D, threads);
        /* sums of D products of O(1) terms: error ~ eps * sqrt(D) * typical |term| */
        double scale = 0;
        for (size_t i = 0; i < DD; i++) scale = fmax(scale, fabs(Wd[i]));
        CHECK(tu_close_fd(what, W, Wd, DD, 1e-6 * sqrt((double)D) * (scale > 1 ? scale : 1),
                          1e-5),
              "%s", what);
        CHECK(exactly_symmetric(D, W), "%s: W not exactly symmetric", what);
        sg_eig_rebuild(be, D, V, p, W2, work);
        CHECK(memcmp(W, W2, DD * sizeof(float)) == 0, "%s: two calls differ", what);
        free(V);
        free(p);
        free(W);
        free(W2);
        free(work);
        free(Vd);
        free(pd);
        free(Wd);
    }
}

/* syevd then eig_rebuild(V, w) reproduces A (DirectPred with the identity eigenvalue map),
 * and eig_rebuild(V, 1) is the identity (V orthogonal). */
static void check_round_trip(const sg_backend *be, int threads) {
    const int D = 128;
    const size_t DD = (size_t)D * D;
    float *A = (float *)tu_alloc(DD * sizeof(float));
    float *V = (float *)tu_alloc(DD * sizeof(float));
    float *w = (float *)tu_alloc((size_t)D * sizeof(float));
    float *ones = (float *)tu_alloc((size_t)D * sizeof(float));
    float *W = (float *)tu_alloc(DD * sizeof(float));
    float *work = (float *)tu_alloc(DD * sizeof(float));
    void *ws = tu_alloc(sg_syevd_workspace_bytes(be, D));
    tu_fill(A, DD, 700, 1, -1.0f, 1.0f);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) A[(size_t)i * D + j] = A[(size_t)j * D + i];
    memcpy(V, A, DD * sizeof(float));
    CHECK(sg_syevd(be, D, V, w, ws, NULL) == 0, "round trip: syevd failed");
    sg_eig_rebuild(be, D, V, w, W, work);
    double num = 0, den = 0;
    for (size_t i = 0; i < DD; i++) {
        num += ((double)W[i] - A[i]) * ((double)W[i] - A[i]);
        den += (double)A[i] * A[i];
    }
    const double tol = 5.96e-8 * D;
    CHECK(sqrt(num / den) <= tol, "round trip D %d threads %d: ||W - A|| / ||A|| = %.3g > %.3g",
          D, threads, sqrt(num / den), tol);
    for (int j = 0; j < D; j++) ones[j] = 1.0f;
    sg_eig_rebuild(be, D, V, ones, W, work);
    double worst = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            worst = fmax(worst, fabs(W[(size_t)i * D + j] - (i == j ? 1.0 : 0.0)));
    CHECK(worst <= tol, "V^T V - I: %.3g > %.3g (threads %d)", worst, tol, threads);
    free(A);
    free(V);
    free(w);
    free(ones);
    free(W);
    free(work);
    free(ws);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->eig_rebuild && be->syevd, "cpu backend lacks eig_rebuild / syevd");
    if (!be || !be->eig_rebuild || !be->syevd) return test_finish();
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        check_random(be, t);
        check_round_trip(be, t);
    }
    return test_finish();
}
