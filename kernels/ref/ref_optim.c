/* kernels/ref/ref_optim.c: naive double-precision references (see ref.h) of the optimiser, the
 * EMA and the DirectPred linear algebra. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/ref/ref.h"

/* PyTorch SGD per group: g' = g + wd*w; m = momentum*m + g'; w -= lr*m. */
void ref_sgd_step(int ngroups, const ref_sgd_group *groups, double momentum) {
    for (int gi = 0; gi < ngroups; gi++) {
        const ref_sgd_group *grp = &groups[gi];
        for (size_t i = 0; i < grp->n; i++) {
            double gd = grp->g[i] + grp->weight_decay * grp->w[i];
            grp->m[i] = momentum * grp->m[i] + gd;
            grp->w[i] -= grp->lr * grp->m[i];
        }
    }
}

/* target = m*target + (1-m)*online */
void ref_lars_step(int ngroups, const ref_lars_group *groups, double lr, double momentum,
                   double eta) {
    for (int gi = 0; gi < ngroups; gi++) {
        const ref_lars_group *grp = &groups[gi];
        double wd = grp->adapt ? grp->weight_decay : 0.0, ww = 0, uu = 0;
        for (size_t i = 0; i < grp->n; i++) {
            double u = grp->g[i] + wd * grp->w[i];
            ww += grp->w[i] * grp->w[i];
            uu += u * u;
        }
        double trust = (grp->adapt && ww > 0 && uu > 0) ? eta * sqrt(ww) / sqrt(uu) : 1.0;
        for (size_t i = 0; i < grp->n; i++) {
            double u = grp->g[i] + wd * grp->w[i];
            grp->m[i] = momentum * grp->m[i] + lr * trust * u;
            grp->w[i] -= grp->m[i];
        }
    }
}

void ref_ema_update(size_t n, double m, const double *online, double *target) {
    for (size_t i = 0; i < n; i++) target[i] = m * target[i] + (1.0 - m) * online[i];
}

/* F[D,D] <- rho*F + (1-rho)*B (init: F <- B), B[a,b] = (1/N) sum_n x[n,a] x[n,b] with
 * x = f, or f minus its column mean when center != 0. Every entry is computed directly. */
void ref_corr_update(int N, int D, const double *f, double rho, int init, int center,
                     double *F) {
    double *mean = (double *)calloc((size_t)D, sizeof(double));
    SG_CHECK(mean, "out of memory");
    if (center) {
        for (int d = 0; d < D; d++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += f[(size_t)n * D + d];
            mean[d] = s / N;
        }
    }
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int n = 0; n < N; n++)
                s += (f[(size_t)n * D + a] - mean[a]) * (f[(size_t)n * D + b] - mean[b]);
            double B = s / N;
            double *Fab = &F[(size_t)a * D + b];
            *Fab = init ? B : rho * *Fab + (1.0 - rho) * B;
        }
    free(mean);
}

/* Cyclic Jacobi eigenvalue iteration (Golub & Van Loan, Matrix Computations, 8.5.2-8.5.3).
 * Each rotation J(p,q,theta) zeroes A[p,q] in A <- J^T A J and is accumulated in V <- V J, so
 * A_in = V diag(A) V^T with the eigenvectors in the columns of V. Sweeps stop when the
 * off-diagonal mass is below 1e-15 of ||A||_F or stops shrinking (quadratic convergence takes
 * about 10 sweeps at the sizes the tests use; 100 is a hard cap). Eigenvalues are then sorted
 * ascending and the eigenvectors written as rows of A (syevd's layout). */
int ref_syevd(int D, double *A, double *w) {
    const size_t DD = (size_t)D * D;
    double *V = (double *)calloc(DD, sizeof(double));
    int *order = (int *)calloc((size_t)D, sizeof(int));
    SG_CHECK(V && order, "out of memory");
    for (int i = 0; i < D; i++) V[(size_t)i * D + i] = 1.0;

    double total = 0;
    for (size_t i = 0; i < DD; i++) total += A[i] * A[i];
    const double tol2 = 1e-30 * total; /* (1e-15 ||A||_F)^2 */
    double prev_off = INFINITY;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < D; p++)
            for (int q = 0; q < D; q++)
                if (p != q) off += A[(size_t)p * D + q] * A[(size_t)p * D + q];
        /* converged, or at the rounding floor (a sweep that no longer reduces the mass) */
        if (off <= tol2 || off >= prev_off) break;
        prev_off = off;
        for (int p = 0; p < D - 1; p++)
            for (int q = p + 1; q < D; q++) {
                const double apq = A[(size_t)p * D + q];
                if (apq == 0.0) continue;
                const double app = A[(size_t)p * D + p], aqq = A[(size_t)q * D + q];
                /* negligible next to both diagonal entries: rotating would only add rounding */
                if (fabs(app) + 1e3 * fabs(apq) == fabs(app) &&
                    fabs(aqq) + 1e3 * fabs(apq) == fabs(aqq)) {
                    A[(size_t)p * D + q] = 0.0;
                    A[(size_t)q * D + p] = 0.0;
                    continue;
                }
                /* t = tan(theta) is the smaller root of t^2 + 2 tau t - 1 = 0 */
                const double tau = (aqq - app) / (2.0 * apq);
                const double t = tau >= 0 ? 1.0 / (tau + sqrt(1.0 + tau * tau))
                                          : -1.0 / (-tau + sqrt(1.0 + tau * tau));
                const double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
                /* columns p, q of A and V: A J, V J */
                for (int k = 0; k < D; k++) {
                    double *ak = A + (size_t)k * D;
                    double akp = ak[p], akq = ak[q];
                    ak[p] = c * akp - s * akq;
                    ak[q] = s * akp + c * akq;
                    double *vk = V + (size_t)k * D;
                    double vkp = vk[p], vkq = vk[q];
                    vk[p] = c * vkp - s * vkq;
                    vk[q] = s * vkp + c * vkq;
                }
                /* rows p, q of A: J^T (A J) */
                double *ap = A + (size_t)p * D, *aq = A + (size_t)q * D;
                for (int k = 0; k < D; k++) {
                    double apk = ap[k], aqk = aq[k];
                    ap[k] = c * apk - s * aqk;
                    aq[k] = s * apk + c * aqk;
                }
                ap[q] = 0.0; /* zero by construction; drop the rounding residue */
                aq[p] = 0.0;
            }
    }

    /* insertion sort of the indices by eigenvalue (stable, ascending) */
    for (int i = 0; i < D; i++) {
        const double wi = A[(size_t)i * D + i];
        int k = i;
        while (k > 0 && A[(size_t)order[k - 1] * D + order[k - 1]] > wi) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    for (int j = 0; j < D; j++) w[j] = A[(size_t)order[j] * D + order[j]];
    for (int j = 0; j < D; j++)
        for (int k = 0; k < D; k++) A[(size_t)j * D + k] = V[(size_t)k * D + order[j]];
    free(order);
    free(V);
    return 0;
}

/* W[a,b] = sum_j p[j] V[j,a] V[j,b] */
void ref_eig_rebuild(int D, const double *V, const double *p, double *W) {
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int j = 0; j < D; j++) s += p[j] * V[(size_t)j * D + a] * V[(size_t)j * D + b];
            W[(size_t)a * D + b] = s;
        }
}

/* p[j] from s[j] per mode, smax = max(0, max_j s[j]). */
void ref_eig_map(int D, const double *s, double *p, int mode, double eps, double shift_c) {
    double smax = 0;
    for (int j = 0; j < D; j++) smax = fmax(smax, s[j]);
    for (int j = 0; j < D; j++) {
        const double pos = fmax(s[j], 0.0), rel = smax > 0 ? s[j] / smax : 0.0;
        switch (mode) {
        case SG_EIG_MAP_CODE: p[j] = fmax((smax > 0 ? sqrt(pos / smax) : 0.0) + eps, 1e-4); break;
        case SG_EIG_MAP_PAPER: p[j] = sqrt(pos) + eps * smax; break;
        case SG_EIG_MAP_SHIFT: p[j] = sqrt(fmax(s[j] - shift_c, 0.0)); break;
        default: p[j] = sqrt(fmax(rel - shift_c, 1e-4)); break;
        }
    }
}

/* (A + A^T)/2 in place, or the tied pair A[r,c] = B[c,r] = their mean. */
void ref_pred_symmetrize(int R, int C, double *A, double *B) {
    if (!B) {
        for (int i = 0; i < R; i++)
            for (int j = i + 1; j < R; j++)
                A[(size_t)i * R + j] = A[(size_t)j * R + i] =
                    (A[(size_t)i * R + j] + A[(size_t)j * R + i]) / 2;
        return;
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            A[(size_t)r * C + c] = B[(size_t)c * R + r] =
                (A[(size_t)r * C + c] + B[(size_t)c * R + r]) / 2;
}

/* W = F / s[D-1] + eps I (normalize and s[D-1] > 0), else F + eps I. */
void ref_directcopy_fill(int D, const double *F, const double *s, int normalize, double eps,
                         double *W) {
    const double div = normalize && s[D - 1] > 0 ? s[D - 1] : 1.0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            W[(size_t)i * D + j] = F[(size_t)i * D + j] / div + (i == j ? eps : 0.0);
}

void ref_eig_pair_scale(int D, double *X, const double *s, double reg) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            X[(size_t)i * D + j] /= (fmax(s[i], 0.0) + fmax(s[j], 0.0) + reg) / 2;
}

void ref_rank1_sub(int D, const double *mu, double *V) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) V[(size_t)i * D + j] -= mu[i] * mu[j];
}
