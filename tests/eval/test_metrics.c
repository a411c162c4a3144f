/* tests/eval/test_metrics.c: collapse and spectrum diagnostics (core/eval/metrics.c).
 *
 * - Collapse std: identical rows (and rows that are positive multiples of one vector) -> 0;
 *   i.i.d. Gaussian rows -> 1/sqrt(d) within 10%; a small case against a direct two-pass
 *   computation in double.
 * - Effective rank: identity -> D, rank 1 -> 1, k equal eigenvalues -> k, negatives ignored,
 *   zero spectrum -> 0, a mixed spectrum against the formula.
 * - Alignment: W_p = V^T diag(p) V (eig_rebuild) with F's eigenvectors V -> cos 1 for p > 0
 *   (-1 for p < 0), Rayleigh quotients = p, asymmetry exactly 0; a random non-symmetric W:
 *   cos and Rayleigh against double computations, asymmetry > 0 matching a direct computation.
 * - Symmetric-part eigenvalues against the double Jacobi reference, and = sorted p for V^T p V.
 * - Spectrum formatting: exact strings, truncation, the SG_SPECTRUM_CHARS bound.
 */
#include "core/eval/eval.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

static void test_collapse(void) {
    enum { N = 64, d = 32 };
    static float z[N * d];
    double work[2 * d];
    /* identical rows, then positive multiples of one row: the normalised rows are equal */
    float row[d];
    tu_fill(row, d, 1, 1, -1.0f, 1.0f);
    for (int i = 0; i < N; i++) memcpy(z + i * d, row, sizeof row);
    double c = sg_collapse_std(N, d, z, work);
    CHECK(c == 0.0, "identical rows: %g", c);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < d; j++) z[i * d + j] = row[j] * (float)(1 << (i % 8));
    c = sg_collapse_std(N, d, z, work);
    CHECK(c == 0.0, "scaled copies of one row: %g", c);

    /* i.i.d. Gaussian rows: each normalised coordinate has variance 1/d */
    enum { NB = 4096, DB = 64 };
    float *g = tu_alloc((size_t)NB * DB * sizeof(float));
    sg_rng r;
    sg_rng_init(&r, 2, 0, 0, 0);
    sg_rng_fill_normal(&r, g, (long)NB * DB, 0.0f, 1.0f);
    double wb[2 * DB];
    c = sg_collapse_std(NB, DB, g, wb);
    CHECK(fabs(c - 1.0 / sqrt(DB)) < 0.1 / sqrt(DB), "gaussian: %g vs %g", c, 1.0 / sqrt(DB));
    /* the same rows shrunk 100-fold around e0: nearly collapsed */
    for (size_t i = 0; i < (size_t)NB * DB; i++) g[i] = 0.01f * g[i] + (i % DB == 0 ? 1.0f : 0.0f);
    double cs = sg_collapse_std(NB, DB, g, wb);
    /* normalised rows ~ e0 + 0.01 noise: std ~0.01 in the 63 other dimensions */
    CHECK(cs > 0.005 && cs < 0.015, "nearly collapsed: %g", cs);
    free(g);

    /* a small case against two passes in double with the unbiased std */
    enum { NS = 5, DS = 3 };
    float s[NS * DS];
    tu_fill(s, NS * DS, 3, 1, -2.0f, 2.0f);
    double u[NS * DS], want = 0;
    for (int i = 0; i < NS; i++) {
        double nrm = 0;
        for (int j = 0; j < DS; j++) nrm += (double)s[i * DS + j] * s[i * DS + j];
        for (int j = 0; j < DS; j++) u[i * DS + j] = s[i * DS + j] / sqrt(nrm);
    }
    for (int j = 0; j < DS; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < NS; i++) m += u[i * DS + j];
        m /= NS;
        for (int i = 0; i < NS; i++) v += (u[i * DS + j] - m) * (u[i * DS + j] - m);
        want += sqrt(v / (NS - 1));
    }
    want /= DS;
    double ws[2 * DS];
    c = sg_collapse_std(NS, DS, s, ws);
    CHECK(fabs(c - want) < 1e-12, "small case %.15g vs %.15g", c, want);
}

static void test_effective_rank(void) {
    enum { D = 16 };
    float s[D];
    for (int i = 0; i < D; i++) s[i] = 1.0f;
    double er = sg_effective_rank(D, s);
    CHECK(fabs(er - D) < 1e-9, "identity: %g", er);
    for (int i = 0; i < D; i++) s[i] = 0.0f;
    s[D - 1] = 3.5f;
    er = sg_effective_rank(D, s);
    CHECK(fabs(er - 1.0) < 1e-12, "rank 1: %g", er);
    /* tiny negative eigenvalues (solver noise of a PSD matrix) are clamped to 0 */
    for (int i = 0; i < D - 4; i++) s[i] = -1e-7f * (float)(i + 1);
    for (int i = D - 4; i < D; i++) s[i] = 2.0f;
    er = sg_effective_rank(D, s);
    CHECK(fabs(er - 4.0) < 1e-9, "4 equal + negatives: %g", er);
    for (int i = 0; i < D; i++) s[i] = -1.0f;
    CHECK(sg_effective_rank(D, s) == 0.0, "no positive eigenvalue -> 0");
    /* a random spectrum against the formula */
    tu_fill(s, D, 5, 1, 0.01f, 3.0f);
    double tot = 0, h = 0;
    for (int i = 0; i < D; i++) tot += s[i];
    for (int i = 0; i < D; i++) h -= s[i] / tot * log(s[i] / tot);
    er = sg_effective_rank(D, s);
    CHECK(fabs(er - exp(h)) < 1e-9 * exp(h) && er > 1.0 && er < D, "random: %g vs %g", er,
          exp(h));
}

/* V[D, D]: eigenvectors (rows) of a random symmetric matrix, from the backend's syevd. */
static void random_eigvecs(const sg_backend *be, int D, uint64_t seed, float *V, float *ev) {
    tu_fill(V, (size_t)D * D, seed, 1, -1.0f, 1.0f);
    for (int i = 0; i < D; i++)
        for (int j = 0; j < i; j++) {
            float a = 0.5f * (V[(size_t)i * D + j] + V[(size_t)j * D + i]);
            V[(size_t)i * D + j] = a;
            V[(size_t)j * D + i] = a;
        }
    void *ws = tu_alloc(sg_syevd_workspace_bytes(be, D));
    int info = sg_syevd(be, D, V, ev, ws, NULL);
    CHECK(info == 0, "syevd info %d", info);
    free(ws);
}

static void test_alignment(const sg_backend *be) {
    const int Ds[] = {1, 7, 32, 128};
    for (size_t t = 0; t < sizeof Ds / sizeof Ds[0]; t++) {
        const int D = Ds[t];
        const size_t DD = (size_t)D * D;
        float *V = tu_alloc(DD * sizeof(float)), *ev = tu_alloc(D * sizeof(float));
        float *W = tu_alloc(DD * sizeof(float)), *work = tu_alloc(DD * sizeof(float));
        float *p = tu_alloc(D * sizeof(float)), *cosv = tu_alloc(D * sizeof(float));
        float *ray = tu_alloc(D * sizeof(float)), *eig = tu_alloc(D * sizeof(float));
        float *sym = tu_alloc(DD * sizeof(float));
        void *sw = tu_alloc(sg_syevd_workspace_bytes(be, D));
        random_eigvecs(be, D, 10 + t, V, ev);

        /* W_p = V^T diag(p) V, p > 0: aligned with every eigenvector of F */
        tu_fill(p, D, 20 + t, 1, 0.1f, 2.0f);
        sg_eig_rebuild(be, D, V, p, W, work);
        sg_predictor_alignment(be, D, V, W, cosv, ray, work);
        double pd[128], ones[128];
        for (int j = 0; j < D; j++) pd[j] = p[j], ones[j] = 1.0;
        CHECK(tu_close_fd("cos", cosv, ones, D, 1e-5, 0), "D %d aligned cos", D);
        CHECK(tu_close_fd("rayleigh", ray, pd, D, 1e-5, 1e-4), "D %d Rayleigh = p", D);
        CHECK(sg_asymmetry(D, W) == 0.0, "D %d symmetric rebuild asymmetry %g", D,
              sg_asymmetry(D, W));
        /* its symmetric part is itself: eigenvalues = sorted p */
        int info = sg_sym_part_eigvals(be, D, W, eig, sym, sw);
        CHECK(info == 0, "D %d syevd info %d", D, info);
        double sorted[128];
        memcpy(sorted, pd, (size_t)D * sizeof(double));
        for (int i = 1; i < D; i++)
            for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                double x = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = x;
            }
        CHECK(tu_close_fd("sym eig = p", eig, sorted, D, 1e-5, 1e-4), "D %d", D);

        /* negative p: anti-aligned, cos -1 */
        for (int j = 0; j < D; j++) p[j] = -p[j], ones[j] = -1.0;
        sg_eig_rebuild(be, D, V, p, W, work);
        sg_predictor_alignment(be, D, V, W, cosv, NULL, work);
        CHECK(tu_close_fd("cos -1", cosv, ones, D, 1e-5, 0), "D %d anti-aligned", D);

        /* a random non-symmetric W against double computations */
        tu_fill(W, DD, 30 + t, 1, -1.0f, 1.0f);
        sg_predictor_alignment(be, D, V, W, cosv, ray, work);
        double *cw = tu_alloc(D * sizeof(double)), *rw = tu_alloc(D * sizeof(double));
        for (int j = 0; j < D; j++) {
            const float *u = V + (size_t)j * D;
            double dot = 0, ww = 0, uu = 0;
            for (int a = 0; a < D; a++) {
                double wu = 0;
                for (int b = 0; b < D; b++) wu += (double)W[(size_t)a * D + b] * u[b];
                dot += wu * u[a];
                ww += wu * wu;
                uu += (double)u[a] * u[a];
            }
            cw[j] = dot / sqrt(ww * uu);
            rw[j] = dot / uu;
        }
        CHECK(tu_close_fd("cos random", cosv, cw, D, 1e-5, 1e-4), "D %d", D);
        CHECK(tu_close_fd("rayleigh random", ray, rw, D, 1e-5, 1e-4), "D %d", D);
        double diff = 0, norm = 0;
        for (int i = 0; i < D; i++)
            for (int j = i + 1; j < D; j++) {
                double a = W[(size_t)i * D + j], b = W[(size_t)j * D + i];
                diff += 2 * (a - b) * (a - b); /* both (i,j) and (j,i) */
            }
        for (size_t i = 0; i < DD; i++) norm += (double)W[i] * W[i];
        double asym = sg_asymmetry(D, W), want = sqrt(diff / norm);
        if (D > 1)
            CHECK(asym > 0.1 && fabs(asym - want) < 1e-12 * (1 + want), "D %d asymmetry %.15g "
                  "vs %.15g", D, asym, want);
        else
            CHECK(asym == 0.0, "D 1 is always symmetric: %g", asym);
        /* eigenvalues of the symmetric part against the Jacobi reference */
        double *sd = tu_alloc(DD * sizeof(double)), *wd = tu_alloc(D * sizeof(double));
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                sd[(size_t)i * D + j] =
                    0.5 * ((double)W[(size_t)i * D + j] + (double)W[(size_t)j * D + i]);
        ref_syevd(D, sd, wd);
        info = sg_sym_part_eigvals(be, D, W, eig, sym, sw);
        CHECK(info == 0, "D %d syevd info %d", D, info);
        CHECK(tu_close_fd("sym part eig", eig, wd, D, 1e-4 * sqrt(D), 1e-4), "D %d", D);
        free(cw), free(rw), free(sd), free(wd);
        free(V), free(ev), free(W), free(work), free(p), free(cosv), free(ray), free(eig);
        free(sym), free(sw);
    }
    /* W = 0: asymmetry 0 by definition, cos 0 */
    float z[4] = {0, 0, 0, 0}, V2[4] = {1, 0, 0, 1}, c2[2] = {5, 5}, wk[4];
    CHECK(sg_asymmetry(2, z) == 0.0, "zero matrix asymmetry");
    sg_predictor_alignment(be, 2, V2, z, c2, NULL, wk);
    CHECK(c2[0] == 0.0f && c2[1] == 0.0f, "zero W cos %g %g", c2[0], c2[1]);
}

static void test_format(void) {
    float v[4] = {1.0f, 0.5f, -2.0f, 1e-7f};
    char buf[64];
    int n = sg_format_spectrum(4, v, buf, sizeof buf);
    CHECK(strcmp(buf, "1;0.5;-2;1e-07") == 0 && n == (int)strlen(buf), "got '%s' (%d)", buf, n);
    /* truncation: snprintf's contract */
    char small[6];
    n = sg_format_spectrum(4, v, small, sizeof small);
    CHECK(n == 14 && strcmp(small, "1;0.5") == 0, "truncated '%s' (%d)", small, n);
    n = sg_format_spectrum(0, v, buf, sizeof buf);
    CHECK(n == 0 && buf[0] == '\0', "empty spectrum");
    /* worst cases fit SG_SPECTRUM_CHARS */
    float worst[5] = {-1.2345678e-38f, -3.4028235e38f, -1.4e-45f, -NAN, -INFINITY};
    char big[SG_SPECTRUM_CHARS(5)];
    n = sg_format_spectrum(5, worst, big, sizeof big);
    CHECK(n > 0 && (size_t)n < sizeof big, "bound: %d >= %zu ('%s')", n, sizeof big, big);
    /* a random spectrum parses back to within %.6g */
    float r[32];
    tu_fill(r, 32, 8, 1, -10.0f, 10.0f);
    char rb[SG_SPECTRUM_CHARS(32)];
    sg_format_spectrum(32, r, rb, sizeof rb);
    char *at = rb;
    int ok = 1;
    for (int i = 0; i < 32; i++) {
        char *end;
        double x = strtod(at, &end);
        ok &= fabs(x - r[i]) <= 5e-6 * fabs(r[i]) + 1e-30;
        ok &= (i < 31 ? *end == ';' : *end == '\0');
        at = end + 1;
    }
    CHECK(ok, "round trip of '%s'", rb);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    test_collapse();
    test_effective_rank();
    test_alignment(be);
    test_format();
    return test_finish();
}
