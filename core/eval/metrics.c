/* core/eval/metrics.c: collapse and spectrum diagnostics (SimSiam's output std; the DirectPred
 * paper's Fig. 2: F's spectrum, W_p against F's eigenvectors, W_p's asymmetry).
 * Sums in double; every buffer comes from the caller. */
#include <math.h>
#include <stdio.h>

#include "core/base/err.h"
#include "core/eval/eval.h"
#include "kernels/backend.h"

double sg_collapse_std(int N, int d, const float *z, double *work) {
    SG_CHECK(N >= 2 && d >= 1, "collapse_std: N %d (>= 2), d %d (>= 1)", N, d);
    double *mean = work, *m2 = work + d; /* Welford per dimension: exact 0 for equal rows */
    for (int j = 0; j < d; j++) mean[j] = 0.0, m2[j] = 0.0;
    for (int i = 0; i < N; i++) {
        const float *r = z + (size_t)i * d;
        double s = 0.0;
        for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
        double nrm = sqrt(s);
        const double inv = 1.0 / (nrm > 1e-12 ? nrm : 1e-12);
        for (int j = 0; j < d; j++) {
            double x = r[j] * inv;
            double delta = x - mean[j];
            mean[j] += delta / (i + 1);
            m2[j] += delta * (x - mean[j]);
        }
    }
    double acc = 0.0;
    for (int j = 0; j < d; j++) acc += sqrt(m2[j] / (N - 1));
    return acc / d;
}

double sg_effective_rank(int n, const float *s) {
    SG_CHECK(n >= 1, "effective_rank: n %d", n);
    double total = 0.0;
    for (int i = 0; i < n; i++)
        if (s[i] > 0.0f) total += s[i];
    if (!(total > 0.0)) return 0.0;
    double entropy = 0.0;
    for (int i = 0; i < n; i++)
        if (s[i] > 0.0f) {
            double p = s[i] / total;
            entropy -= p * log(p);
        }
    return exp(entropy);
}

void sg_predictor_alignment(const sg_backend *be, int D, const float *V, const float *Wp,
                            float *cos_align, float *rayleigh, float *work) {
    SG_CHECK(D >= 1, "predictor_alignment: D %d", D);
    /* work[D, D] = V Wp^T: row j = (Wp u_j)^T */
    sg_gemm(be, 0, 1, D, D, D, 1.0f, V, D, Wp, D, 0.0f, work, D);
    for (int j = 0; j < D; j++) {
        const float *u = V + (size_t)j * D, *wu = work + (size_t)j * D;
        double dot = 0.0, uu = 0.0, ww = 0.0;
        for (int i = 0; i < D; i++) {
            dot += (double)wu[i] * u[i];
            uu += (double)u[i] * u[i];
            ww += (double)wu[i] * wu[i];
        }
        if (cos_align) cos_align[j] = (ww > 0.0 && uu > 0.0) ? (float)(dot / sqrt(ww * uu)) : 0.0f;
        if (rayleigh) rayleigh[j] = uu > 0.0 ? (float)(dot / uu) : 0.0f;
    }
}

double sg_asymmetry(int D, const float *W) {
    SG_CHECK(D >= 1, "asymmetry: D %d", D);
    double diff = 0.0, norm = 0.0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double a = W[(size_t)i * D + j], t = W[(size_t)j * D + i];
            diff += (a - t) * (a - t);
            norm += a * a;
        }
    return norm > 0.0 ? sqrt(diff / norm) : 0.0;
}

int sg_sym_part_eigvals(const sg_backend *be, int D, const float *W, float *eig, float *sym,
                        void *syevd_work) {
    SG_CHECK(D >= 1, "sym_part_eigvals: D %d", D);
    for (int i = 0; i < D; i++)
        for (int j = 0; j <= i; j++) {
            float s = 0.5f * (W[(size_t)i * D + j] + W[(size_t)j * D + i]);
            sym[(size_t)i * D + j] = s;
            sym[(size_t)j * D + i] = s;
        }
    return sg_syevd(be, D, sym, eig, syevd_work, NULL);
}

int sg_format_spectrum(int n, const float *v, char *buf, size_t len) {
    size_t at = 0;
    if (len) buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t room = at < len ? len - at : 0;
        int w = snprintf(room ? buf + at : NULL, room, i ? ";%.6g" : "%.6g", (double)v[i]);
        if (w < 0) return w;
        at += (size_t)w;
    }
    return (int)at;
}
