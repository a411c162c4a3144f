/* kernels/cpu/optim.c: the optimiser, EMA and DirectPred linear algebra of the CPU backend.
 *
 * sgd_step / ema_update: elementwise OpenMP loops (each element is computed by exactly one
 * thread with the same float expression, so results are bit-identical for any thread count).
 * corr_update: one cblas_ssyrk on the upper triangle, then the triangle is mirrored.
 * syevd: LAPACK ssyevd through its Fortran interface (lapack.h), workspace passed in.
 * eig_rebuild: rows of V scaled into work, one sgemm (gemm.impl's), then exact symmetrisation.
 * eig_map, pred_symmetrize, directcopy_fill, eig_pair_scale, rank1_sub: plain loops, the
 * expressions core/ssl computed on the host before they became ops.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <cblas.h>
#include <lapack.h>

#include "core/base/err.h"
#include "kernels/cpu/cpu_internal.h"

/* Below this many elements an elementwise loop runs on the calling thread: starting a parallel
 * region costs more than the loop (the result is identical either way). */
#define SG_OPTIM_PAR_MIN 32768

/* ---- SGD -------------------------------------------------------------------------------- */

/* PyTorch SGD (dampening 0, no Nesterov) per group:
 *   g' = g + wd*w;  m = momentum*m + g';  w -= lr*m.
 * With a zero-initialised momentum buffer the first step gives m = g', as PyTorch's
 * "buffer = clone(g')" does. */
static void cpu_sgd_step(const sg_backend *be, int ngroups, const sg_sgd_group *groups,
                         float momentum) {
    (void)be;
    for (int gi = 0; gi < ngroups; gi++) {
        const sg_sgd_group *grp = &groups[gi];
        if (grp->n == 0) continue;
        float *restrict w = grp->w;
        const float *restrict g = grp->g;
        float *restrict m = grp->m;
        const ptrdiff_t n = (ptrdiff_t)grp->n;
        const float lr = grp->lr_at ? *grp->lr_at : grp->lr, wd = grp->weight_decay;
#pragma omp parallel for schedule(static) if (n >= SG_OPTIM_PAR_MIN)
        for (ptrdiff_t i = 0; i < n; i++) {
            float gd = g[i] + wd * w[i];
            float mi = momentum * m[i] + gd;
            m[i] = mi;
            w[i] = w[i] - lr * mi;
        }
    }
}

/* ---- EMA -------------------------------------------------------------------------------- */

/* target[n] = m*target + (1-m)*online */
static void cpu_lars_step(const sg_backend *be, int ngroups, const sg_lars_group *groups,
                          float lr, float momentum, float eta) {
    (void)be;
    for (int gi = 0; gi < ngroups; gi++) {
        const sg_lars_group *grp = &groups[gi];
        if (grp->n == 0) continue;
        float *restrict w = grp->w;
        const float *restrict g = grp->g;
        float *restrict m = grp->m;
        const ptrdiff_t n = (ptrdiff_t)grp->n;
        const float wd = grp->adapt ? grp->weight_decay : 0.0f;
        const float glr = grp->lr_at ? *grp->lr_at : lr;
        float scale = glr;
        if (grp->adapt) {
            /* serial double sums: a tensor is at most a few million floats and the order must
             * not depend on the thread count */
            double ww = 0, uu = 0;
            for (ptrdiff_t i = 0; i < n; i++) {
                double u = (double)g[i] + (double)wd * w[i];
                ww += (double)w[i] * w[i];
                uu += u * u;
            }
            if (ww > 0 && uu > 0) scale = (float)(glr * eta * sqrt(ww) / sqrt(uu));
        }
#pragma omp parallel for schedule(static) if (n >= SG_OPTIM_PAR_MIN)
        for (ptrdiff_t i = 0; i < n; i++) {
            float u = g[i] + wd * w[i];
            float mi = momentum * m[i] + scale * u;
            m[i] = mi;
            w[i] = w[i] - mi;
        }
    }
}

static void cpu_ema_update(const sg_backend *be, size_t n, float m_value, const float *m_at,
                           const float *online, float *target) {
    (void)be;
    if (n == 0) return;
    const float m = m_at ? *m_at : m_value;
    const float one_minus_m = 1.0f - m;
    const ptrdiff_t nn = (ptrdiff_t)n;
    const float *restrict o = online;
    float *restrict t = target;
#pragma omp parallel for schedule(static) if (nn >= SG_OPTIM_PAR_MIN)
    for (ptrdiff_t i = 0; i < nn; i++) t[i] = m * t[i] + one_minus_m * o[i];
}

/* ---- correlation ------------------------------------------------------------------------ */

/* Copies the upper triangle of the row-major F[D,D] into the lower one. */
static void mirror_upper_to_lower(int D, float *F) {
#pragma omp parallel for schedule(static) if ((size_t)D * D >= SG_OPTIM_PAR_MIN)
    for (int i = 1; i < D; i++)
        for (int j = 0; j < i; j++) F[(size_t)i * D + j] = F[(size_t)j * D + i];
}

/* mean[D] = (1/N) sum_n f[n,:], accumulated in double per column. Columns are handled in
 * blocks of 16 so the inner loop reads contiguous floats; each column's sum has a fixed order,
 * so the result does not depend on the thread count. */
static void column_mean(int N, int D, const float *f, float *mean) {
    enum { BLK = 16 };
    const int nblk = (D + BLK - 1) / BLK;
#pragma omp parallel for schedule(static) if ((size_t)N * D >= SG_OPTIM_PAR_MIN)
    for (int b = 0; b < nblk; b++) {
        const int d0 = b * BLK;
        const int w = D - d0 < BLK ? D - d0 : BLK;
        double acc[BLK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = f + (size_t)n * D + d0;
            for (int k = 0; k < w; k++) acc[k] += row[k];
        }
        for (int k = 0; k < w; k++) mean[d0 + k] = (float)(acc[k] / N);
    }
}

/* F[D,D] <- rho*F + (1-rho)*B (init: F <- B), B = (1/N) f^T f for f[N,D].
 * Centred: B = (1/N) (f - mu)^T (f - mu) = (1/N) f^T f - mu mu^T with mu = work[D], computed as a
 * rank-1 correction (f is const and only D floats of scratch are available, so the centred
 * copy of f is never formed). Only the upper triangle is computed, then mirrored. */
static void cpu_corr_update(const sg_backend *be, int N, int D, const float *f, float rho,
                            int init, int center, float *F, float *work) {
    (void)be;
    const float blend = init ? 1.0f : 1.0f - rho; /* weight of the new batch */
    const float keep = init ? 0.0f : rho;         /* weight of the old F (0: F not read) */
    /* F_upper = (blend/N) f^T f + keep F_upper */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D, N, blend / (float)N, f, D, keep, F,
                D);
    if (center) {
        column_mean(N, D, f, work);
        /* F_upper -= blend * mu mu^T */
        cblas_ssyr(CblasRowMajor, CblasUpper, D, -blend, work, 1, F, D);
    }
    mirror_upper_to_lower(D, F);
}

/* ---- eigendecomposition ----------------------------------------------------------------- */

/* The float and int workspace sizes (elements) ssyevd needs for JOBZ='V': the documented
 * minimum (LWORK = 1+6D+2D^2, LIWORK = 3+5D for D > 1; 1 and 1 for D = 1) or LAPACK's
 * preferred size from a workspace query, whichever is larger. The query's answer is returned
 * in a float, which rounds for large D, hence the max with the exact minimum. */
static void syevd_sizes(int D, lapack_int *lwork, lapack_int *liwork) {
    int64_t lw_min = 1, liw_min = 1;
    if (D > 1) {
        lw_min = 1 + 6 * (int64_t)D + 2 * (int64_t)D * D;
        liw_min = 3 + 5 * (int64_t)D;
    }
    SG_CHECK(sizeof(lapack_int) >= 8 || lw_min <= INT32_MAX,
             "syevd: D %d needs %lld workspace floats, more than LAPACK's 32-bit int can index", D,
             (long long)lw_min);
    const char jobz = 'V', uplo = 'L';
    const lapack_int n = D, lda = D > 1 ? D : 1, query = -1;
    float a_dummy = 0.0f, w_dummy = 0.0f, work_opt = 0.0f;
    lapack_int iwork_opt = 0, info = 0;
    LAPACK_ssyevd(&jobz, &uplo, &n, &a_dummy, &lda, &w_dummy, &work_opt, &query, &iwork_opt,
                  &query, &info);
    lapack_int lw = (lapack_int)lw_min, liw = (lapack_int)liw_min;
    if (info == 0) {
        if ((double)work_opt > (double)lw && (double)work_opt < 2e9) lw = (lapack_int)work_opt;
        if (iwork_opt > liw) liw = iwork_opt;
    }
    *lwork = lw;
    *liwork = liw;
}

static size_t align64(size_t bytes) { return (bytes + 63) & ~(size_t)63; }

/* Layout of work: float work[lwork] (64-byte aligned size), then lapack_int iwork[liwork]. */
static size_t cpu_syevd_workspace_bytes(const sg_backend *be, int D) {
    (void)be;
    SG_CHECK(D > 0, "syevd: D %d", D);
    lapack_int lwork, liwork;
    syevd_sizes(D, &lwork, &liwork);
    return align64((size_t)lwork * sizeof(float)) + align64((size_t)liwork * sizeof(lapack_int));
}

/* A[D,D] symmetric (row-major) -> w[D] ascending, row j of A = unit eigenvector of w[j].
 * A symmetric matrix is its own transpose, so the row-major buffer handed to LAPACK as
 * column-major is the same matrix; LAPACK returns eigenvector j in column j (column-major),
 * which read row-major is row j. */
static int cpu_syevd(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at) {
    (void)be;
    SG_CHECK(D > 0, "syevd: D %d", D);
    SG_CHECK(A && w && work, "syevd: NULL buffer");
    lapack_int lwork, liwork;
    syevd_sizes(D, &lwork, &liwork);
    float *fwork = (float *)work;
    lapack_int *iwork = (lapack_int *)((char *)work + align64((size_t)lwork * sizeof(float)));
    const char jobz = 'V', uplo = 'L';
    const lapack_int n = D, lda = D;
    lapack_int info = 0;
    /* One thread: ssyevd of a predictor-sized matrix (D = 128..512) is a long chain of small
     * BLAS calls, and waking the thread team for each made it 25x slower on 2 threads than on
     * one (16.6 ms against 0.65 ms at D = 128, passive waiting; `stopgrad bench`). One thread
     * also makes F's eigenvectors the same whatever the thread count. */
    const int threads = openblas_get_num_threads();
    if (threads > 1) openblas_set_num_threads(1);
    LAPACK_ssyevd(&jobz, &uplo, &n, A, &lda, w, fwork, &lwork, iwork, &liwork, &info);
    if (threads > 1) openblas_set_num_threads(threads);
    if (info_at) { /* host memory here: the status is where the caller will read it */
        *info_at = (int)info;
        return 0;
    }
    return (int)info;
}

/* W[D,D] = sum_j p[j] u_j u_j^T = V^T diag(p) V, u_j = row j of V[D,D]; work[D*D] = diag(p) V.
 * The product is not bit-symmetric (p_j*V[j,b] is rounded before multiplying V[j,a]), so the
 * result is symmetrised exactly with (W + W^T)/2: the predictor DirectPred sets is symmetric
 * by construction, and its measured asymmetry must not be rounding noise. */
static void cpu_eig_rebuild(const sg_backend *be, int D, const float *V, const float *p, float *W,
                            float *work) {
    (void)be;
    SG_CHECK(D > 0, "eig_rebuild: D %d", D);
    SG_CHECK(V && p && W && work, "eig_rebuild: NULL buffer");
#pragma omp parallel for schedule(static) if ((size_t)D * D >= SG_OPTIM_PAR_MIN)
    for (int j = 0; j < D; j++) {
        const float pj = p[j];
        const float *vr = V + (size_t)j * D;
        float *wr = work + (size_t)j * D;
        for (int k = 0; k < D; k++) wr[k] = pj * vr[k];
    }
    sg_cpu_sgemm(1, 0, D, D, D, 1.0f, V, D, work, D, 0.0f, W, D);
#pragma omp parallel for schedule(static) if ((size_t)D * D >= SG_OPTIM_PAR_MIN)
    for (int i = 1; i < D; i++)
        for (int j = 0; j < i; j++) {
            float s = 0.5f * (W[(size_t)i * D + j] + W[(size_t)j * D + i]);
            W[(size_t)i * D + j] = s;
            W[(size_t)j * D + i] = s;
        }
}

/* ---- the steps around the eigendecomposition -------------------------------------------
 * Each is core/ssl's former host loop, expression for expression (the training fixtures and
 * determinism tests hold these bits); every output element is written by one thread. */

/* kernels.h's map; smax is a max (order-free), the map a serial pass over D <= a few
 * thousand eigenvalues. */
static void cpu_eig_map(const sg_backend *be, int D, const float *s, float *p, int mode,
                        double eps, double shift_c) {
    (void)be;
    double smax = 0;
    for (int j = 0; j < D; j++)
        if (s[j] > smax) smax = s[j];
    for (int j = 0; j < D; j++) {
        double sj = s[j] > 0 ? s[j] : 0, v;
        switch (mode) {
        case SG_EIG_MAP_CODE:
            v = (smax > 0 ? sqrt(sj / smax) : 0) + eps;
            if (v < 1e-4) v = 1e-4;
            break;
        case SG_EIG_MAP_PAPER: v = sqrt(sj) + eps * smax; break;
        case SG_EIG_MAP_SHIFT_REL: /* c relative to s_max; the floor keeps p_j > 0 */
            v = (smax > 0 ? s[j] / smax : 0) - shift_c;
            v = sqrt(v > 1e-4 ? v : 1e-4);
            break;
        default: v = s[j] - shift_c > 0 ? sqrt(s[j] - shift_c) : 0; break;
        }
        p[j] = (float)v;
    }
}

/* In place: row i's pairs (i, j > i), so no two threads touch one element. Tied: row r of A
 * with column r of B. */
static void cpu_pred_symmetrize(const sg_backend *be, int R, int C, float *A, float *B) {
    (void)be;
    if (!B) {
#pragma omp parallel for schedule(static) if ((size_t)R * R >= SG_OPTIM_PAR_MIN)
        for (int i = 0; i < R; i++)
            for (int j = i + 1; j < R; j++) {
                float a = 0.5f * (A[(size_t)i * R + j] + A[(size_t)j * R + i]);
                A[(size_t)i * R + j] = A[(size_t)j * R + i] = a;
            }
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)R * C >= SG_OPTIM_PAR_MIN)
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float a = 0.5f * (A[(size_t)r * C + c] + B[(size_t)c * R + r]);
            A[(size_t)r * C + c] = B[(size_t)c * R + r] = a;
        }
}

static void cpu_directcopy_fill(const sg_backend *be, int D, const float *F, const float *s,
                                int normalize, double eps, float *W) {
    (void)be;
    float scale = 1.0f;
    if (normalize && s[D - 1] > 0) scale = 1.0f / s[D - 1];
#pragma omp parallel for schedule(static) if ((size_t)D * D >= SG_OPTIM_PAR_MIN)
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            W[(size_t)i * D + j] = scale * F[(size_t)i * D + j] + (i == j ? (float)eps : 0.0f);
}

static void cpu_eig_pair_scale(const sg_backend *be, int D, float *X, const float *s,
                               double reg) {
    (void)be;
#pragma omp parallel for schedule(static) if ((size_t)D * D >= SG_OPTIM_PAR_MIN)
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double si = s[i] > 0 ? s[i] : 0, sj = s[j] > 0 ? s[j] : 0;
            X[(size_t)i * D + j] /= (float)((si + sj + reg) / 2.0);
        }
}

static void cpu_rank1_sub(const sg_backend *be, int D, const float *mu, float *V) {
    (void)be;
#pragma omp parallel for schedule(static) if ((size_t)D * D >= SG_OPTIM_PAR_MIN)
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) V[(size_t)i * D + j] -= mu[i] * mu[j];
}

void sg_cpu_fill_optim(sg_backend *be) {
    be->sgd_step = cpu_sgd_step;
    be->lars_step = cpu_lars_step;
    be->ema_update = cpu_ema_update;
    be->corr_update = cpu_corr_update;
    be->syevd_workspace_bytes = cpu_syevd_workspace_bytes;
    be->syevd = cpu_syevd;
    be->eig_rebuild = cpu_eig_rebuild;
    be->eig_map = cpu_eig_map;
    be->pred_symmetrize = cpu_pred_symmetrize;
    be->directcopy_fill = cpu_directcopy_fill;
    be->eig_pair_scale = cpu_eig_pair_scale;
    be->rank1_sub = cpu_rank1_sub;
}
