/* core/theory/linalg.c: small dense double-precision helpers (see linalg.h). */
#include "core/theory/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"
#include "core/base/rng.h"

void sg_th_mm(double *C, const double *A, const double *B, int m, int k, int n) {
    for (int i = 0; i < m; i++) {
        double *c = C + (size_t)i * n;
        for (int j = 0; j < n; j++) c[j] = 0;
        for (int l = 0; l < k; l++) {
            double a = A[(size_t)i * k + l];
            const double *b = B + (size_t)l * n;
            for (int j = 0; j < n; j++) c[j] += a * b[j];
        }
    }
}

void sg_th_mm_nt(double *C, const double *A, const double *B, int m, int k, int n) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            const double *a = A + (size_t)i * k, *b = B + (size_t)j * k;
            double acc = 0;
            for (int l = 0; l < k; l++) acc += a[l] * b[l];
            C[(size_t)i * n + j] = acc;
        }
}

void sg_th_mm_tn(double *C, const double *A, const double *B, int m, int k, int n) {
    for (int i = 0; i < m * n; i++) C[i] = 0;
    for (int l = 0; l < k; l++) {
        const double *a = A + (size_t)l * m, *b = B + (size_t)l * n;
        for (int i = 0; i < m; i++) {
            double ai = a[i];
            double *c = C + (size_t)i * n;
            for (int j = 0; j < n; j++) c[j] += ai * b[j];
        }
    }
}

void sg_th_mm_diag_nt(double *C, const double *U, int ldu, const double *d, const double *V,
                      int ldv, int m, int n, int k) {
    for (int a = 0; a < m; a++)
        for (int b = 0; b < n; b++) {
            double acc = 0;
            for (int j = 0; j < k; j++)
                acc += U[(size_t)a * ldu + j] * d[j] * V[(size_t)b * ldv + j];
            C[(size_t)a * n + b] = acc;
        }
}

void sg_th_symmetrize(double *A, int n) {
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double v = 0.5 * (A[(size_t)i * n + j] + A[(size_t)j * n + i]);
            A[(size_t)i * n + j] = A[(size_t)j * n + i] = v;
        }
}

void sg_th_commutator(double *C, const double *A, const double *B, int n, double *tmp) {
    sg_th_mm(C, A, B, n, n, n);
    sg_th_mm(tmp, B, A, n, n, n);
    for (int i = 0; i < n * n; i++) C[i] -= tmp[i];
}

double sg_th_dot(const double *a, const double *b, int n) {
    double acc = 0;
    for (int i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

double sg_th_frob(const double *x, int n) { return sqrt(sg_th_dot(x, x, n)); }

int sg_th_sym_eig(int n, const double *A, double *w, double *V, double *work) {
    double *a = work;
    memcpy(a, A, (size_t)n * n * sizeof(double));
    for (int i = 0; i < n * n; i++) V[i] = 0;
    for (int i = 0; i < n; i++) V[(size_t)i * n + i] = 1;
    double total = 0;
    for (int i = 0; i < n * n; i++) total += a[i] * a[i];
    int sweeps = -1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[(size_t)p * n + q] * a[(size_t)p * n + q];
        if (off <= 1e-30 * total || off == 0) {
            sweeps = sweep;
            break;
        }
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[(size_t)p * n + q];
                if (apq == 0) continue;
                double app = a[(size_t)p * n + p], aqq = a[(size_t)q * n + q];
                /* Rotation angle that zeroes a_pq (Rutishauser's stable form). */
                double theta = (aqq - app) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                if (fabs(theta) > 1e150) t = 0.5 / theta;
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                /* A <- A J (columns p, q), then A <- J^T A (rows p, q), V <- V J. */
                for (int k = 0; k < n; k++) {
                    double akp = a[(size_t)k * n + p], akq = a[(size_t)k * n + q];
                    a[(size_t)k * n + p] = c * akp - s * akq;
                    a[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = a[(size_t)p * n + k], aqk = a[(size_t)q * n + k];
                    a[(size_t)p * n + k] = c * apk - s * aqk;
                    a[(size_t)q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = V[(size_t)k * n + p], vkq = V[(size_t)k * n + q];
                    V[(size_t)k * n + p] = c * vkp - s * vkq;
                    V[(size_t)k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) w[i] = a[(size_t)i * n + i];
    /* Selection sort, ascending, moving eigenvector columns along. */
    for (int i = 0; i < n; i++) {
        int m = i;
        for (int j = i + 1; j < n; j++)
            if (w[j] < w[m]) m = j;
        if (m != i) {
            double tw = w[i];
            w[i] = w[m];
            w[m] = tw;
            for (int k = 0; k < n; k++) {
                double tv = V[(size_t)k * n + i];
                V[(size_t)k * n + i] = V[(size_t)k * n + m];
                V[(size_t)k * n + m] = tv;
            }
        }
    }
    return sweeps;
}

int sg_th_cholesky(int n, const double *A, double *L) {
    for (int i = 0; i < n * n; i++) L[i] = 0;
    for (int j = 0; j < n; j++) {
        double d = A[(size_t)j * n + j];
        for (int k = 0; k < j; k++) d -= L[(size_t)j * n + k] * L[(size_t)j * n + k];
        if (!(d > 0)) return -1;
        double ljj = sqrt(d);
        L[(size_t)j * n + j] = ljj;
        for (int i = j + 1; i < n; i++) {
            double v = A[(size_t)i * n + j];
            for (int k = 0; k < j; k++) v -= L[(size_t)i * n + k] * L[(size_t)j * n + k];
            L[(size_t)i * n + j] = v / ljj;
        }
    }
    return 0;
}

void sg_th_random_normal(double *x, int n, double std, uint64_t seed, uint32_t tag) {
    sg_rng r;
    sg_rng_init(&r, seed, tag, 0x7e0, 0);
    for (int i = 0; i < n; i++) x[i] = std * sg_rng_normal(&r);
}

void sg_th_random_orthogonal(int n, uint64_t seed, uint32_t tag, double *Q) {
    sg_th_random_normal(Q, n * n, 1.0, seed, tag);
    /* Modified Gram-Schmidt on the columns, twice for orthogonality to rounding level. */
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < j; i++) {
                double d = 0;
                for (int k = 0; k < n; k++) d += Q[(size_t)k * n + i] * Q[(size_t)k * n + j];
                for (int k = 0; k < n; k++) Q[(size_t)k * n + j] -= d * Q[(size_t)k * n + i];
            }
            double nn = 0;
            for (int k = 0; k < n; k++) nn += Q[(size_t)k * n + j] * Q[(size_t)k * n + j];
            nn = sqrt(nn);
            for (int k = 0; k < n; k++) Q[(size_t)k * n + j] /= nn;
        }
}

void sg_th_random_spd(int n, double shift, uint64_t seed, uint32_t tag, double *A) {
    double *B = calloc((size_t)n * n, sizeof(double));
    SG_CHECK(B != NULL, "out of memory (%d x %d)", n, n);
    sg_th_random_normal(B, n * n, 1.0, seed, tag);
    sg_th_mm_nt(A, B, B, n, n, n);
    for (int i = 0; i < n * n; i++) A[i] /= n;
    for (int i = 0; i < n; i++) A[(size_t)i * n + i] += shift;
    sg_th_symmetrize(A, n); /* the product is symmetric up to rounding already */
    free(B);
}

double *sg_th_alloc_parts(int n, double **const *parts, const size_t *len) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += len[i];
    double *mem = calloc(total ? total : 1, sizeof(double));
    if (!mem) return NULL;
    double *at = mem;
    for (int i = 0; i < n; i++) {
        *parts[i] = at;
        at += len[i];
    }
    return mem;
}
