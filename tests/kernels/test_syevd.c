/* tests/kernels/test_syevd.c: the CPU backend's symmetric eigendecomposition (LAPACK ssyevd).
 *
 * For each matrix: reconstruction ||A - V^T diag(w) V||_F / ||A||_F, orthogonality
 * max |V V^T - I|, ascending eigenvalues, eigenvalues against the double Jacobi reference
 * (or the known spectrum), info == 0, workspace bounds (a guard past the requested bytes stays
 * untouched: LAPACK is not instrumented by AddressSanitizer), and determinism (two calls give
 * the same bits). Matrices: random symmetric (D = 1 .. 128, and DirectPred's 512), a known
 * spectrum with repeated and (near-)zero eigenvalues, and a rank-deficient PSD correlation
 * matrix from corr_update. The Jacobi reference itself is checked the same way in double.
 * All of it under 1 and 2 threads.
 *
 * Tolerances, float32 (eps = 2^-24 = 6e-8): a backward-stable solver gives reconstruction and
 * orthogonality errors, and eigenvalue errors relative to ||A||_2, of c * eps with c growing
 * slowly with D (OpenBLAS 0.3.21 measured: c = 8..25 for D = 2..512). The bound is
 * 64 eps up to D = 64 and eps * D beyond (LAPACK's own tests allow 30 * D * eps): loose enough
 * for any correct solver, and a wrong eigenpair shows up at 1e-3 or more. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

static const double EPS_F = 5.96e-8; /* 2^-24 */

static double solver_tol(int D) { return EPS_F * (D > 64 ? D : 64); }

static void *guarded_workspace(size_t bytes, size_t guard) {
    unsigned char *p = (unsigned char *)tu_alloc(bytes + guard);
    memset(p + bytes, 0xA5, guard);
    return p;
}
static int guard_intact(const void *ws, size_t bytes, size_t guard) {
    const unsigned char *p = (const unsigned char *)ws + bytes;
    for (size_t i = 0; i < guard; i++)
        if (p[i] != 0xA5) return 0;
    return 1;
}

/* A[D,D] = (X + X^T)/2 for X uniform in [-1,1): exactly symmetric in float. */
static void random_symmetric(float *A, int D, uint64_t seed) {
    tu_fill(A, (size_t)D * D, seed, 1, -1.0f, 1.0f);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) {
            float s = 0.5f * (A[(size_t)i * D + j] + A[(size_t)j * D + i]);
            A[(size_t)i * D + j] = s;
            A[(size_t)j * D + i] = s;
        }
}

/* Reconstruction error ||A - V^T diag(w) V||_F / ||A||_F and orthogonality max|V V^T - I|,
 * in double. V rows are eigenvectors. */
typedef struct {
    double rec, orth;
    int ascending;
} decomp_err;

static decomp_err decomp_check_d(int D, const double *A, const double *V, const double *w) {
    const size_t DD = (size_t)D * D;
    double *R = (double *)tu_alloc(DD * sizeof(double));
    memcpy(R, A, DD * sizeof(double));
    for (int j = 0; j < D; j++) {
        const double *v = V + (size_t)j * D;
        for (int a = 0; a < D; a++) {
            const double s = w[j] * v[a];
            double *r = R + (size_t)a * D;
            for (int b = 0; b < D; b++) r[b] -= s * v[b];
        }
    }
    double num = 0, den = 0;
    for (size_t i = 0; i < DD; i++) {
        num += R[i] * R[i];
        den += A[i] * A[i];
    }
    decomp_err e = {.rec = den > 0 ? sqrt(num / den) : sqrt(num), .orth = 0, .ascending = 1};
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double s = 0;
            for (int k = 0; k < D; k++) s += V[(size_t)i * D + k] * V[(size_t)j * D + k];
            e.orth = fmax(e.orth, fabs(s - (i == j ? 1.0 : 0.0)));
        }
    for (int j = 0; j + 1 < D; j++)
        if (!(w[j] <= w[j + 1])) e.ascending = 0;
    free(R);
    return e;
}

static decomp_err decomp_check_f(int D, const float *A, const float *V, const float *w) {
    const size_t DD = (size_t)D * D;
    double *Ad = (double *)tu_alloc(DD * sizeof(double));
    double *Vd = (double *)tu_alloc(DD * sizeof(double));
    double *wd = (double *)tu_alloc((size_t)D * sizeof(double));
    tu_f2d(A, Ad, DD);
    tu_f2d(V, Vd, DD);
    tu_f2d(w, wd, (size_t)D);
    decomp_err e = decomp_check_d(D, Ad, Vd, wd);
    free(Ad);
    free(Vd);
    free(wd);
    return e;
}

/* Runs the backend's syevd on a copy of A into V, w and checks info, the workspace guard,
 * the decomposition and determinism. Returns the decomposition errors. */
static decomp_err backend_syevd_checked(const sg_backend *be, const char *what, int D,
                                        const float *A, float *V, float *w) {
    const size_t DD = (size_t)D * D, guard = 4096;
    const size_t bytes = sg_syevd_workspace_bytes(be, D);
    /* ssyevd's documented minimum for JOBZ='V' */
    const size_t min_bytes = D > 1 ? (size_t)(1 + 6 * D + 2 * D * D) * 4 + (size_t)(3 + 5 * D) * 4
                                   : 8;
    CHECK(bytes >= min_bytes, "%s: workspace %zu bytes < ssyevd's minimum %zu", what, bytes,
          min_bytes);
    void *ws = guarded_workspace(bytes, guard);
    memcpy(V, A, DD * sizeof(float));
    int info = sg_syevd(be, D, V, w, ws, NULL);
    CHECK(info == 0, "%s: info %d", what, info);
    CHECK(guard_intact(ws, bytes, guard), "%s: syevd wrote past its workspace", what);

    decomp_err e = decomp_check_f(D, A, V, w);
    const double tol = solver_tol(D);
    CHECK(e.rec <= tol, "%s: reconstruction error %.3g > %.3g", what, e.rec, tol);
    CHECK(e.orth <= tol, "%s: orthogonality error %.3g > %.3g", what, e.orth, tol);
    CHECK(e.ascending, "%s: eigenvalues not ascending", what);

    /* determinism: same input, same bits */
    float *V2 = (float *)tu_alloc(DD * sizeof(float));
    float *w2 = (float *)tu_alloc((size_t)D * sizeof(float));
    memcpy(V2, A, DD * sizeof(float));
    info = sg_syevd(be, D, V2, w2, ws, NULL);
    CHECK(info == 0 && memcmp(V, V2, DD * sizeof(float)) == 0 &&
              memcmp(w, w2, (size_t)D * sizeof(float)) == 0,
          "%s: two calls differ (info %d)", what, info);
    free(V2);
    free(w2);
    free(ws);
    return e;
}

/* |w - want| <= tol_rel * max|want| for every eigenvalue. */
static int eigenvalues_close(const char *what, int D, const float *w, const double *want,
                             double tol_rel) {
    double scale = 0;
    for (int j = 0; j < D; j++) scale = fmax(scale, fabs(want[j]));
    return tu_close_fd(what, w, want, (size_t)D, tol_rel * (scale > 0 ? scale : 1.0), 0.0);
}

/* Random symmetric matrices against the Jacobi reference. */
static void check_random(const sg_backend *be, int threads) {
    const int Ds[] = {1, 2, 5, 17, 64, 128};
    for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++) {
        const int D = Ds[k];
        const size_t DD = (size_t)D * D;
        float *A = (float *)tu_alloc(DD * sizeof(float));
        float *V = (float *)tu_alloc(DD * sizeof(float));
        float *w = (float *)tu_alloc((size_t)D * sizeof(float));
        double *Ad = (double *)tu_alloc(DD * sizeof(double));
        double *wd = (double *)tu_alloc((size_t)D * sizeof(double));
        random_symmetric(A, D, 40 + (uint64_t)D);
        char what[96];
        snprintf(what, sizeof what, "random D %d threads %d", D, threads);
        backend_syevd_checked(be, what, D, A, V, w);
        tu_f2d(A, Ad, DD);
        CHECK(ref_syevd(D, Ad, wd) == 0, "%s: ref_syevd failed", what);
        CHECK(eigenvalues_close(what, D, w, wd, solver_tol(D)),
              "%s: eigenvalues differ from the Jacobi reference", what);
        free(A);
        free(V);
        free(w);
        free(Ad);
        free(wd);
    }
}

/* DirectPred's size: too slow for the O(sweeps * D^3) Jacobi reference, so checked by
 * reconstruction and orthogonality (which together pin the eigenvalues) and order. */
static void check_large(const sg_backend *be, int threads) {
    const int D = 512;
    const size_t DD = (size_t)D * D;
    float *A = (float *)tu_alloc(DD * sizeof(float));
    float *V = (float *)tu_alloc(DD * sizeof(float));
    float *w = (float *)tu_alloc((size_t)D * sizeof(float));
    random_symmetric(A, D, 512);
    char what[64];
    snprintf(what, sizeof what, "random D %d threads %d", D, threads);
    backend_syevd_checked(be, what, D, A, V, w);
    /* a Wigner matrix: off-diagonal entries (x + y)/2 with x, y uniform in [-1,1) have
     * variance 1/6, so the spectrum is close to [-2s, 2s], s = sqrt(D/6) */
    const double edge = 2.0 * sqrt(D / 6.0);
    CHECK(w[0] < -0.9 * edge && w[0] > -1.1 * edge && w[D - 1] > 0.9 * edge &&
              w[D - 1] < 1.1 * edge,
          "%s: spectrum [%g, %g], want about +-%g", what, w[0], w[D - 1], edge);
    free(A);
    free(V);
    free(w);
}

/* Q (rows orthonormal, in double) from the Jacobi reference on a random symmetric matrix. */
static void random_orthogonal(double *Q, int D, uint64_t seed) {
    float *X = (float *)tu_alloc((size_t)D * D * sizeof(float));
    double *wd = (double *)tu_alloc((size_t)D * sizeof(double));
    random_symmetric(X, D, seed);
    tu_f2d(X, Q, (size_t)D * D);
    ref_syevd(D, Q, wd);
    free(X);
    free(wd);
}

/* Known spectrum with an 8-fold zero, a 4-fold 1e-6, a 10-fold 1 and a spread of distinct
 * values: A = Q^T diag(lambda) Q. Eigenvectors of a repeated eigenvalue are not unique, but
 * orthogonality and reconstruction still must hold. */
static void check_known_spectrum(const sg_backend *be, int threads) {
    const int D = 48;
    const size_t DD = (size_t)D * D;
    double *lambda = (double *)tu_alloc((size_t)D * sizeof(double));
    double *Q = (double *)tu_alloc(DD * sizeof(double));
    double *Ad = (double *)tu_alloc(DD * sizeof(double));
    float *A = (float *)tu_alloc(DD * sizeof(float));
    float *V = (float *)tu_alloc(DD * sizeof(float));
    float *w = (float *)tu_alloc((size_t)D * sizeof(float));
    int j = 0;
    for (int k = 0; k < 8; k++) lambda[j++] = 0.0;
    for (int k = 0; k < 4; k++) lambda[j++] = 1e-6;
    for (int k = 0; k < 10; k++) lambda[j++] = 1.0;
    for (int k = 0; j < D; k++) lambda[j++] = 1.5 + 0.25 * k; /* ascending already */
    random_orthogonal(Q, D, 77);
    ref_eig_rebuild(D, Q, lambda, Ad);
    tu_d2f(Ad, A, DD);
    char what[64];
    snprintf(what, sizeof what, "known spectrum D %d threads %d", D, threads);
    backend_syevd_checked(be, what, D, A, V, w);
    CHECK(eigenvalues_close(what, D, w, lambda, solver_tol(D)),
          "%s: eigenvalues differ from the known spectrum", what);
    free(lambda);
    free(Q);
    free(Ad);
    free(A);
    free(V);
    free(w);
}

/* F = (1/N) f^T f with N = 64 < D = 128 (corr_update's output): PSD of rank 64, so 64
 * eigenvalues are zero up to rounding and the other 64 lie in the Marchenko-Pastur bulk
 * (about [0.06, 1.9] for entries uniform in [-1,1)). */
static void check_correlation(const sg_backend *be, int threads) {
    const int N = 64, D = 128;
    const size_t DD = (size_t)D * D;
    float *f = (float *)tu_alloc((size_t)N * D * sizeof(float));
    float *F = (float *)tu_alloc(DD * sizeof(float));
    float *V = (float *)tu_alloc(DD * sizeof(float));
    float *w = (float *)tu_alloc((size_t)D * sizeof(float));
    float *work = (float *)tu_alloc((size_t)D * sizeof(float));
    double *Fd = (double *)tu_alloc(DD * sizeof(double));
    double *wd = (double *)tu_alloc((size_t)D * sizeof(double));
    tu_fill(f, (size_t)N * D, 99, 1, -1.0f, 1.0f);
    sg_corr_update(be, N, D, f, 0.3f, 1, 0, F, work);
    char what[64];
    snprintf(what, sizeof what, "correlation N %d D %d threads %d", N, D, threads);
    backend_syevd_checked(be, what, D, F, V, w);
    const double wmax = w[D - 1];
    const double zero_tol = solver_tol(D) * wmax;
    CHECK(fabs(w[N - 1]) <= zero_tol && w[0] >= -zero_tol,
          "%s: null space eigenvalues [%g, %g], want |.| <= %g", what, w[0], w[N - 1], zero_tol);
    CHECK(w[N] > 0.02, "%s: smallest nonzero eigenvalue %g, want > 0.02", what, w[N]);
    tu_f2d(F, Fd, DD);
    ref_syevd(D, Fd, wd);
    CHECK(eigenvalues_close(what, D, w, wd, solver_tol(D)),
          "%s: eigenvalues differ from the Jacobi reference", what);
    free(f);
    free(F);
    free(V);
    free(w);
    free(work);
    free(Fd);
    free(wd);
}

/* The reference on its own, in double: a 2x2 by hand, random matrices and the known
 * spectrum, to 1e-12. */
static void check_reference(void) {
    double A2[4] = {2, 1, 1, 2}, w2[2];
    ref_syevd(2, A2, w2);
    const double r = sqrt(0.5);
    CHECK(fabs(w2[0] - 1) < 1e-14 && fabs(w2[1] - 3) < 1e-14, "2x2 eigenvalues %g %g", w2[0],
          w2[1]);
    /* (1,-1)/sqrt2 for 1 and (1,1)/sqrt2 for 3, up to sign */
    CHECK(fabs(fabs(A2[0]) - r) < 1e-14 && fabs(A2[0] + A2[1]) < 1e-14 &&
              fabs(fabs(A2[2]) - r) < 1e-14 && fabs(A2[2] - A2[3]) < 1e-14,
          "2x2 eigenvectors (%g %g) (%g %g)", A2[0], A2[1], A2[2], A2[3]);

    const int Ds[] = {1, 3, 10, 31};
    for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++) {
        const int D = Ds[k];
        const size_t DD = (size_t)D * D;
        float *Af = (float *)tu_alloc(DD * sizeof(float));
        double *A = (double *)tu_alloc(DD * sizeof(double));
        double *V = (double *)tu_alloc(DD * sizeof(double));
        double *w = (double *)tu_alloc((size_t)D * sizeof(double));
        random_symmetric(Af, D, 300 + (uint64_t)D);
        tu_f2d(Af, A, DD);
        memcpy(V, A, DD * sizeof(double));
        CHECK(ref_syevd(D, V, w) == 0, "ref_syevd D %d returned nonzero", D);
        decomp_err e = decomp_check_d(D, A, V, w);
        CHECK(e.rec < 1e-12 && e.orth < 1e-12 && e.ascending,
              "ref_syevd D %d: reconstruction %.3g orthogonality %.3g ascending %d", D, e.rec,
              e.orth, e.ascending);
        double trace = 0, wsum = 0;
        for (int i = 0; i < D; i++) {
            trace += A[(size_t)i * D + i];
            wsum += w[i];
        }
        CHECK(fabs(trace - wsum) < 1e-12 * D, "ref_syevd D %d: trace %.15g sum w %.15g", D,
              trace, wsum);
        free(Af);
        free(A);
        free(V);
        free(w);
    }

    /* known spectrum with repeats, exactly in double */
    const int D = 24;
    const size_t DD = (size_t)D * D;
    double *lambda = (double *)tu_alloc((size_t)D * sizeof(double));
    double *Q = (double *)tu_alloc(DD * sizeof(double));
    double *A = (double *)tu_alloc(DD * sizeof(double));
    double *V = (double *)tu_alloc(DD * sizeof(double));
    double *w = (double *)tu_alloc((size_t)D * sizeof(double));
    /* 0 (6-fold), 2 (6-fold), then 3.0, 3.5, ..., 8.5: ascending */
    for (int j = 0; j < D; j++) lambda[j] = j < 6 ? 0.0 : (j < 12 ? 2.0 : -3.0 + 0.5 * j);
    random_orthogonal(Q, D, 55);
    ref_eig_rebuild(D, Q, lambda, A);
    memcpy(V, A, DD * sizeof(double));
    ref_syevd(D, V, w);
    CHECK(tu_close_dd("ref_syevd known spectrum", w, lambda, (size_t)D, 1e-12, 0.0),
          "ref_syevd: eigenvalues differ from the known spectrum");
    decomp_err e = decomp_check_d(D, A, V, w);
    CHECK(e.rec < 1e-12 && e.orth < 1e-12 && e.ascending,
          "ref_syevd known spectrum: reconstruction %.3g orthogonality %.3g ascending %d", e.rec,
          e.orth, e.ascending);
    free(lambda);
    free(Q);
    free(A);
    free(V);
    free(w);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->syevd && be->syevd_workspace_bytes && be->corr_update,
          "cpu backend lacks syevd / corr_update");
    if (!be || !be->syevd || !be->syevd_workspace_bytes || !be->corr_update)
        return test_finish();

    check_reference();
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        check_random(be, t);
        check_large(be, t);
        check_known_spectrum(be, t);
        check_correlation(be, t);
    }
    return test_finish();
}
