/* kernels/ref/ref_nn.c: naive double-precision references of batch norm, relu, add, pooling and
 * the pair loss (see ref.h and kernels.h for the semantics). Plain loops, formulas as written
 * in the papers / PyTorch docs; no attention to speed. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base/err.h"
#include "kernels/ref/ref.h"

/* ---- batch norm: x[N, C, HW], element (n, c, i) at (n*C + c)*HW + i ----------------------- */

static size_t bn_at(int C, int HW, int n, int c, int i) {
    return ((size_t)n * C + c) * HW + i;
}

void ref_batchnorm_fwd_train(int N, int C, int HW, const double *x, const double *gamma,
                             const double *beta, double eps, double momentum,
                             double *running_mean, double *running_var, double *mean,
                             double *invstd, double *y) {
    SG_CHECK(N > 0 && C > 0 && HW > 0 && (long long)N * HW > 1,
             "ref_batchnorm_fwd_train: N%d C%d HW%d", N, C, HW);
    const double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double mu = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) mu += x[bn_at(C, HW, n, c, i)];
        mu /= M;
        double var = 0; /* biased: divides by M */
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                double d = x[bn_at(C, HW, n, c, i)] - mu;
                var += d * d;
            }
        var /= M;
        const double is = 1.0 / sqrt(var + eps);
        mean[c] = mu;
        invstd[c] = is;
        if (running_mean) {
            running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu;
            running_var[c] = (1 - momentum) * running_var[c] + momentum * var * M / (M - 1);
        }
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double xhat = (x[at] - mu) * is;
                y[at] = (gamma ? gamma[c] : 1.0) * xhat + (beta ? beta[c] : 0.0);
            }
    }
}

void ref_batchnorm_fwd_eval(int N, int C, int HW, const double *x, const double *gamma,
                            const double *beta, double eps, const double *running_mean,
                            const double *running_var, double *y) {
    for (int c = 0; c < C; c++) {
        const double is = 1.0 / sqrt(running_var[c] + eps);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double xhat = (x[at] - running_mean[c]) * is;
                y[at] = (gamma ? gamma[c] : 1.0) * xhat + (beta ? beta[c] : 0.0);
            }
    }
}

/* The textbook batch-norm gradient (Ioffe & Szegedy 2015), M = N*HW, xhat = (x - mean)*invstd:
 *   dbeta = sum dy,  dgamma = sum dy*xhat,
 *   dx = gamma*invstd/M * (M*dy - sum(dy) - xhat * sum(dy*xhat)). */
void ref_batchnorm_bwd(int N, int C, int HW, const double *x, const double *gamma,
                       const double *mean, const double *invstd, const double *dy, double *dx,
                       double *dgamma, double *dbeta, int accumulate) {
    const double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                sum_dy += dy[at];
                sum_dy_xhat += dy[at] * (x[at] - mean[c]) * invstd[c];
            }
        if (dbeta) dbeta[c] = (accumulate ? dbeta[c] : 0.0) + sum_dy;
        if (dgamma) dgamma[c] = (accumulate ? dgamma[c] : 0.0) + sum_dy_xhat;
        const double g = gamma ? gamma[c] : 1.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double xhat = (x[at] - mean[c]) * invstd[c];
                dx[at] = g * invstd[c] / M * (M * dy[at] - sum_dy - xhat * sum_dy_xhat);
            }
    }
}

/* Synchronised batch norm's per-channel sums, straight from their definition (kernels.h):
 *   no dy: sum (x - center), sum (x - center)^2;  dy: sum dy, sum dy * (x - center). */
void ref_batchnorm_sums(int N, int C, int HW, const double *x, const double *center,
                        const double *dy, double *sums) {
    for (int c = 0; c < C; c++) {
        const double cen = center ? center[c] : 0.0;
        double a = 0, b = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double d = x[at] - cen;
                if (dy) {
                    a += dy[at];
                    b += dy[at] * d;
                } else {
                    a += d;
                    b += d * d;
                }
            }
        sums[c] = a;
        sums[C + c] = b;
    }
}

/* The textbook gradient above with the batch's sums replaced by sums over M values
 * (sums[c] = sum dy, sums[C+c] = sum dy*(x - mean) = sum(dy*xhat) / invstd):
 *   dx = gamma*invstd * (dy - sum(dy)/M - xhat * invstd * sums[C+c]/M). */
void ref_batchnorm_bwd_apply(int N, int C, int HW, const double *x, const double *gamma,
                             const double *mean, const double *invstd, const double *dy,
                             const double *sums, double M, double *dx) {
    for (int c = 0; c < C; c++) {
        const double g = gamma ? gamma[c] : 1.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double xhat = (x[at] - mean[c]) * invstd[c];
                dx[at] =
                    g * invstd[c] * (dy[at] - sums[c] / M - xhat * invstd[c] * sums[C + c] / M);
            }
    }
}

/* Batch norm then ReLU: the batch norm above, then max(y, 0). */
void ref_batchnorm_relu_fwd(int N, int C, int HW, const double *x, const double *gamma,
                            const double *beta, double eps, double momentum, double *running_mean,
                            double *running_var, double *mean, double *invstd, double *y) {
    ref_batchnorm_fwd_train(N, C, HW, x, gamma, beta, eps, momentum, running_mean, running_var,
                            mean, invstd, y);
    ref_relu_fwd((size_t)N * C * HW, y, y);
}

/* Its backward: the textbook gradient above applied to g = dy where the output y > 0, else 0
 * (the ReLU's gradient, taken at its output as relu_bwd does). */
void ref_batchnorm_relu_bwd(int N, int C, int HW, const double *x, const double *y,
                            const double *gamma, const double *mean, const double *invstd,
                            const double *dy, double *dx, double *dgamma, double *dbeta,
                            int accumulate) {
    const double M = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double sum_g = 0, sum_g_xhat = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double g = y[at] > 0 ? dy[at] : 0.0;
                sum_g += g;
                sum_g_xhat += g * (x[at] - mean[c]) * invstd[c];
            }
        if (dbeta) dbeta[c] = (accumulate ? dbeta[c] : 0.0) + sum_g;
        if (dgamma) dgamma[c] = (accumulate ? dgamma[c] : 0.0) + sum_g_xhat;
        const double gm = gamma ? gamma[c] : 1.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) {
                size_t at = bn_at(C, HW, n, c, i);
                double g = y[at] > 0 ? dy[at] : 0.0;
                double xhat = (x[at] - mean[c]) * invstd[c];
                dx[at] = gm * invstd[c] / M * (M * g - sum_g - xhat * sum_g_xhat);
            }
    }
}

/* ---- elementwise ---------------------------------------------------------------------------- */

void ref_relu_fwd(size_t n, const double *x, double *y) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? 0.0 : x[i];
}

void ref_relu_bwd(size_t n, const double *y, const double *dy, double *dx) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0.0;
}

void ref_add_fwd(size_t n, const double *a, const double *b, double *y) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ref_add_bwd(size_t n, const double *dy, double *da, double *db, int accumulate) {
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] = (accumulate ? da[i] : 0.0) + dy[i];
        if (db) db[i] = (accumulate ? db[i] : 0.0) + dy[i];
    }
}

/* ---- pooling -------------------------------------------------------------------------------- */

/* Scans the whole padded window; padded cells are -inf and never taken. The first maximum in
 * row-major window order wins; a NaN beats any number. */
void ref_maxpool_fwd(const sg_pool_shape *s, const double *x, double *y, int32_t *argmax) {
    for (int nc = 0; nc < s->N * s->C; nc++) {
        const double *xp = x + (size_t)nc * s->H * s->W;
        for (int p = 0; p < s->P; p++)
            for (int q = 0; q < s->Q; q++) {
                double best = -INFINITY;
                int32_t bi = -1;
                for (int r = 0; r < s->k; r++)
                    for (int t = 0; t < s->k; t++) {
                        int h = p * s->stride - s->pad + r, w = q * s->stride - s->pad + t;
                        if (h < 0 || h >= s->H || w < 0 || w >= s->W) continue;
                        double v = xp[h * s->W + w];
                        if (bi < 0 || v > best || (isnan(v) && !isnan(best))) {
                            best = v;
                            bi = h * s->W + w;
                        }
                    }
                SG_CHECK(bi >= 0, "ref_maxpool_fwd: window (%d,%d) holds no input cell", p, q);
                size_t o = ((size_t)nc * s->P + p) * s->Q + q;
                y[o] = best;
                argmax[o] = bi;
            }
    }
}

void ref_maxpool_bwd(const sg_pool_shape *s, const double *dy, const int32_t *argmax, double *dx) {
    const size_t HW = (size_t)s->H * s->W, PQ = (size_t)s->P * s->Q;
    for (size_t i = 0; i < (size_t)s->N * s->C * HW; i++) dx[i] = 0;
    for (size_t nc = 0; nc < (size_t)s->N * s->C; nc++)
        for (size_t o = 0; o < PQ; o++) dx[nc * HW + (size_t)argmax[nc * PQ + o]] += dy[nc * PQ + o];
}

void ref_avgpool_global_fwd(int N, int C, int HW, const double *x, double *y) {
    for (size_t nc = 0; nc < (size_t)N * C; nc++) {
        double s = 0;
        for (int i = 0; i < HW; i++) s += x[nc * HW + i];
        y[nc] = s / HW;
    }
}

void ref_avgpool_global_bwd(int N, int C, int HW, const double *dy, double *dx) {
    for (size_t nc = 0; nc < (size_t)N * C; nc++)
        for (int i = 0; i < HW; i++) dx[nc * HW + i] = dy[nc] / HW;
}

/* ---- the pair loss -------------------------------------------------------------------------- */

#define REF_NORM_EPS 1e-12

static double ref_norm(int D, const double *v) {
    double s = 0;
    for (int j = 0; j < D; j++) s += v[j] * v[j];
    return sqrt(s);
}

void ref_pair_loss_fwd(int N, int D, int normalize, const double *p, const double *z,
                       double *row_loss) {
    for (int i = 0; i < N; i++) {
        const double *pi = p + (size_t)i * D, *zi = z + (size_t)i * D;
        double np = 1, nz = 1;
        if (normalize) {
            np = fmax(ref_norm(D, pi), REF_NORM_EPS);
            nz = fmax(ref_norm(D, zi), REF_NORM_EPS);
        }
        double l = 0;
        for (int j = 0; j < D; j++) {
            double d = pi[j] / np - zi[j] / nz;
            l += d * d;
        }
        row_loss[i] = l;
    }
}

/* normalize = 1, u = p/max(|p|,eps), v = z/max(|z|,eps), d = u - v, l = |d|^2:
 * dl/du = 2d, and the Jacobian of u is (I - u u^T)/|p| where |p| >= eps (clamp_min passes the
 * gradient there) and I/eps below; likewise for v with dl/dv = -2d. */
void ref_pair_loss_bwd(int N, int D, int normalize, const double *p, const double *z,
                       double scale, double *dp, double *dz) {
    for (int i = 0; i < N; i++) {
        const double *pi = p + (size_t)i * D, *zi = z + (size_t)i * D;
        double *dpi = dp + (size_t)i * D;
        double *dzi = dz ? dz + (size_t)i * D : NULL;
        if (!normalize) {
            for (int j = 0; j < D; j++) {
                dpi[j] = scale * 2 * (pi[j] - zi[j]);
                if (dzi) dzi[j] = -scale * 2 * (pi[j] - zi[j]);
            }
            continue;
        }
        const double rp = ref_norm(D, pi), rz = ref_norm(D, zi);
        const double np = fmax(rp, REF_NORM_EPS), nz = fmax(rz, REF_NORM_EPS);
        double u_dot_d = 0, v_dot_d = 0;
        for (int j = 0; j < D; j++) {
            double u = pi[j] / np, v = zi[j] / nz;
            u_dot_d += u * (u - v);
            v_dot_d += v * (u - v);
        }
        if (rp < REF_NORM_EPS) u_dot_d = 0;
        if (rz < REF_NORM_EPS) v_dot_d = 0;
        for (int j = 0; j < D; j++) {
            double u = pi[j] / np, v = zi[j] / nz;
            dpi[j] = scale * 2 / np * ((u - v) - u * u_dot_d);
            if (dzi) dzi[j] = scale * 2 / nz * (-(u - v) + v * v_dot_d);
        }
    }
}
