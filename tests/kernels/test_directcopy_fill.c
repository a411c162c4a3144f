/* tests/kernels/test_directcopy_fill.c: the CPU backend's directcopy_fill, DirectCopy's
 * W = F / lambda_max + eps I (normalize) or F + eps I, against ref_directcopy_fill and bit for bit
 * against the host loop core/ssl ran before it became an op (the training fixtures hold those
 * bits); lambda_max <= 0 keeps scale 1; s is not read without normalize; 1 and 2 threads;
 * determinism; its cost. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* core/ssl's former DirectCopy branch, after the eigenvalues were downloaded */
static void host_fill(int D, const float *F, const float *s, int normalize, double eps, float *W) {
    float scale = 1.0f;
    if (normalize && s[D - 1] > 0) scale = 1.0f / s[D - 1];
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            W[(size_t)i * D + j] = scale * F[(size_t)i * D + j] + (i == j ? (float)eps : 0.0f);
}

static void check_shape(const sg_backend *be, int D, int normalize, float lmax, double eps,
                        int threads) {
    const size_t DD = (size_t)D * D;
    float *F = (float *)tu_alloc(DD * sizeof(float)), *W = (float *)tu_alloc(DD * sizeof(float));
    float *Wh = (float *)tu_alloc(DD * sizeof(float)), *W2 = (float *)tu_alloc(DD * sizeof(float));
    float *s = (float *)tu_alloc((size_t)D * sizeof(float));
    double *Fd = (double *)tu_alloc(DD * sizeof(double)),
           *Wd = (double *)tu_alloc(DD * sizeof(double));
    double *sd = (double *)tu_alloc((size_t)D * sizeof(double));
    tu_fill(F, DD, 1100 + (uint64_t)D, 1, -1.0f, 1.0f);
    tu_fill(s, (size_t)D, 1100 + (uint64_t)D, 2, -0.1f, 1.0f);
    tu_fill(W, DD, 1100 + (uint64_t)D, 3, -9.0f, 9.0f); /* overwritten, not read */
    s[D - 1] = lmax;
    tu_f2d(F, Fd, DD);
    tu_f2d(s, sd, (size_t)D);
    ref_directcopy_fill(D, Fd, sd, normalize, eps, Wd);
    sg_directcopy_fill(be, D, F, normalize ? s : NULL, normalize, eps, W);
    char what[96];
    snprintf(what, sizeof what, "directcopy_fill D %d normalize %d lmax %g threads %d", D,
             normalize, (double)lmax, threads);
    /* four roundings of terms <= scale + |eps| <= 3 */
    CHECK(tu_close_fd(what, W, Wd, DD, 2.4e-7 * 3, 0), "%s", what);
    host_fill(D, F, s, normalize, eps, Wh);
    CHECK(memcmp(W, Wh, DD * sizeof(float)) == 0, "%s: not the host loop's bits", what);
    sg_directcopy_fill(be, D, F, normalize ? s : NULL, normalize, eps, W2);
    CHECK(memcmp(W, W2, DD * sizeof(float)) == 0, "%s: two calls differ", what);
    free(F), free(W), free(Wh), free(W2), free(s), free(Fd), free(Wd), free(sd);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->directcopy_fill, "cpu backend lacks directcopy_fill");
    if (!be || !be->directcopy_fill) return test_finish();
    const int Ds[] = {1, 3, 16, 65, 200};
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++) {
            check_shape(be, Ds[k], 1, 0.7f, 0.1, t);
            check_shape(be, Ds[k], 1, -0.3f, 0.3, t); /* lambda_max <= 0: scale 1 */
            check_shape(be, Ds[k], 1, 0.0f, 0.1, t);
            check_shape(be, Ds[k], 0, 0.7f, -0.05, t);
        }
    }
    /* F = I, lambda_max 2, eps 0.5: W = I exactly */
    float F[4] = {1, 0, 0, 1}, s[2] = {1, 2}, W[4];
    sg_directcopy_fill(be, 2, F, s, 1, 0.5, W);
    CHECK(W[0] == 1 && W[1] == 0 && W[2] == 0 && W[3] == 1, "F = I: %g %g %g %g", W[0], W[1], W[2],
          W[3]);
    sg_cost c = sg_cost_directcopy_fill(10);
    CHECK(c.flops == 200 && c.bytes == 800, "cost: %g flops, %g bytes", c.flops, c.bytes);
    return test_finish();
}
