/* tests/kernels/test_eig_pair_scale.c: the CPU backend's eig_pair_scale, the optimal
 * predictor's X[i,j] / ((max(s_i,0) + max(s_j,0) + reg)/2), against ref_eig_pair_scale and bit
 * for bit against the host loop core/ssl ran before it became an op (the training fixtures hold
 * those bits); negative eigenvalues count as 0; 1 and 2 threads; determinism; its cost. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* core/ssl's former host loop */
static void host_scale(int D, float *X, const float *s, double reg) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double si = s[i] > 0 ? s[i] : 0, sj = s[j] > 0 ? s[j] : 0;
            X[(size_t)i * D + j] /= (float)((si + sj + reg) / 2.0);
        }
}

static void check_shape(const sg_backend *be, int D, double reg, int threads) {
    const size_t DD = (size_t)D * D;
    float *X = (float *)tu_alloc(DD * sizeof(float)), *Xh = (float *)tu_alloc(DD * sizeof(float));
    float *X2 = (float *)tu_alloc(DD * sizeof(float)),
          *s = (float *)tu_alloc((size_t)D * sizeof(float));
    double *Xd = (double *)tu_alloc(DD * sizeof(double)),
           *sd = (double *)tu_alloc((size_t)D * sizeof(double));
    tu_fill(X, DD, 1200 + (uint64_t)D, 1, -1.0f, 1.0f);
    tu_fill(s, (size_t)D, 1200 + (uint64_t)D, 2, -0.2f, 2.0f);
    memcpy(Xh, X, DD * sizeof(float));
    memcpy(X2, X, DD * sizeof(float));
    tu_f2d(X, Xd, DD);
    tu_f2d(s, sd, (size_t)D);
    ref_eig_pair_scale(D, Xd, sd, reg);
    sg_eig_pair_scale(be, D, X, s, reg);
    char what[96];
    snprintf(what, sizeof what, "eig_pair_scale D %d reg %g threads %d", D, reg, threads);
    /* the denominator rounded to float, then the division */
    CHECK(tu_close_fd(what, X, Xd, DD, 0, 2.4e-7), "%s", what);
    host_scale(D, Xh, s, reg);
    CHECK(memcmp(X, Xh, DD * sizeof(float)) == 0, "%s: not the host loop's bits", what);
    sg_eig_pair_scale(be, D, X2, s, reg);
    CHECK(memcmp(X, X2, DD * sizeof(float)) == 0, "%s: two calls differ", what);
    free(X), free(Xh), free(X2), free(s), free(Xd), free(sd);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->eig_pair_scale, "cpu backend lacks eig_pair_scale");
    if (!be || !be->eig_pair_scale) return test_finish();
    const int Ds[] = {1, 3, 16, 65, 200};
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++) {
            check_shape(be, Ds[k], 0.01, t);
            check_shape(be, Ds[k], 1.0, t);
        }
    }
    /* X[i,j] = (s_i + s_j + reg)/2 comes back as ones (every value exact in float) */
    float s[3] = {-1.0f, 0.5f, 2.0f}, X[9];
    const double reg = 0.5, sp[3] = {0.0, 0.5, 2.0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) X[i * 3 + j] = (float)((sp[i] + sp[j] + reg) / 2);
    sg_eig_pair_scale(be, 3, X, s, reg);
    int ones = 1;
    for (int i = 0; i < 9; i++) ones &= X[i] == 1.0f;
    CHECK(ones, "X / its own denominators is not all ones");
    sg_cost c = sg_cost_eig_pair_scale(10);
    CHECK(c.flops == 400 && c.bytes == 840, "cost: %g flops, %g bytes", c.flops, c.bytes);
    return test_finish();
}
