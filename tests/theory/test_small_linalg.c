/* tests/theory/test_small_linalg.c: the small dense helpers of core/theory: Jacobi eigensolver
 * (residual, orthogonality, order, repeated eigenvalues), Cholesky, random orthogonal and SPD
 * matrices, products against naive sums. */
#include <math.h>

#include "core/theory/linalg.h"
#include "test_util.h"

static double max_abs(const double *a, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

int main(void) {
    /* Products against explicit sums. */
    {
        enum { M = 3, K = 5, N = 4 };
        double A[M * K], B[K * N], Bt[N * K], At[K * M], C[M * N], want[M * N];
        sg_th_random_normal(A, M * K, 1.0, 1, 1);
        sg_th_random_normal(B, K * N, 1.0, 1, 2);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < N; j++) Bt[j * K + i] = B[i * N + j];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < K; j++) At[j * M + i] = A[i * K + j];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int l = 0; l < K; l++) acc += A[i * K + l] * B[l * N + j];
                want[i * N + j] = acc;
            }
        sg_th_mm(C, A, B, M, K, N);
        CHECK(tu_close_dd("mm", C, want, M * N, 1e-14, 1e-13), "mm");
        sg_th_mm_nt(C, A, Bt, M, K, N);
        CHECK(tu_close_dd("mm_nt", C, want, M * N, 1e-14, 1e-13), "mm_nt");
        sg_th_mm_tn(C, At, B, M, K, N);
        CHECK(tu_close_dd("mm_tn", C, want, M * N, 1e-14, 1e-13), "mm_tn");
    }
    /* Jacobi on random symmetric matrices of several sizes. */
    for (int n = 1; n <= 12; n += 3) {
        double A[144], w[12], V[144], work[144], AV[144], VtV[144];
        sg_th_random_normal(A, n * n, 1.0, 7, (uint32_t)n);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) A[j * n + i] = A[i * n + j];
        int sweeps = sg_th_sym_eig(n, A, w, V, work);
        CHECK(sweeps >= 0 && sweeps < 20, "n=%d: %d sweeps", n, sweeps);
        sg_th_mm(AV, A, V, n, n, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) AV[i * n + j] -= V[i * n + j] * w[j];
        CHECK(max_abs(AV, n * n) < 1e-12, "n=%d: residual %.3e", n, max_abs(AV, n * n));
        sg_th_mm_tn(VtV, V, V, n, n, n);
        for (int i = 0; i < n; i++) VtV[i * n + i] -= 1;
        CHECK(max_abs(VtV, n * n) < 1e-13, "n=%d: V^T V - I %.3e", n, max_abs(VtV, n * n));
        for (int i = 1; i < n; i++) CHECK(w[i - 1] <= w[i], "n=%d: not ascending at %d", n, i);
        double tr = 0, sw = 0;
        for (int i = 0; i < n; i++) tr += A[i * n + i], sw += w[i];
        CHECK(fabs(tr - sw) < 1e-12, "n=%d: trace %.15f vs sum %.15f", n, tr, sw);
    }
    /* Known spectrum with a repeated eigenvalue: Q diag(1, 2, 2, 5) Q^T. */
    {
        enum { n = 4 };
        double Q[16], D[4] = {5, 2, 1, 2}, A[16], w[4], V[16], work[16];
        sg_th_random_orthogonal(n, 11, 1, Q);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int k = 0; k < n; k++) acc += Q[i * n + k] * D[k] * Q[j * n + k];
                A[i * n + j] = acc;
            }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) A[j * n + i] = A[i * n + j];
        sg_th_sym_eig(n, A, w, V, work);
        double want[4] = {1, 2, 2, 5};
        CHECK(tu_close_dd("repeated eigenvalues", w, want, 4, 1e-13, 1e-13), "spectrum");
        /* The identity is already diagonal: zero sweeps. */
        double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, wi[3], Vi[9], wk[9];
        CHECK(sg_th_sym_eig(3, I, wi, Vi, wk) == 0, "identity needs no sweep");
    }
    /* Random orthogonal, SPD and Cholesky. */
    {
        enum { n = 6 };
        double Q[36], QtQ[36], A[36], L[36], LLt[36], w[6], V[36], work[36];
        sg_th_random_orthogonal(n, 3, 4, Q);
        sg_th_mm_tn(QtQ, Q, Q, n, n, n);
        for (int i = 0; i < n; i++) QtQ[i * n + i] -= 1;
        CHECK(max_abs(QtQ, 36) < 1e-14, "orthogonal: %.3e", max_abs(QtQ, 36));
        sg_th_random_spd(n, 0.3, 5, 6, A);
        sg_th_sym_eig(n, A, w, V, work);
        CHECK(w[0] > 0.3 - 1e-12, "spd: smallest eigenvalue %.6f below the shift", w[0]);
        CHECK(sg_th_cholesky(n, A, L) == 0, "cholesky of an SPD matrix");
        sg_th_mm_nt(LLt, L, L, n, n, n);
        CHECK(tu_close_dd("L L^T", LLt, A, 36, 1e-14, 1e-13), "cholesky");
        A[0] = -1; /* no longer positive definite */
        CHECK(sg_th_cholesky(n, A, L) == -1, "cholesky must reject an indefinite matrix");
    }
    return test_finish();
}
