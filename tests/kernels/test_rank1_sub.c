/* tests/kernels/test_rank1_sub.c: the CPU backend's rank1_sub, F's zero-mean correction
 * V -= mu mu^T, against ref_rank1_sub and bit for bit against the host loop core/ssl ran before it
 * became an op (the training fixtures hold those bits); V = mu mu^T gives exact zeros; 1 and 2
 * threads; determinism; its cost. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* core/ssl's former host loop */
static void host_sub(int D, const float *mu, float *V) {
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) V[(size_t)i * D + j] -= mu[i] * mu[j];
}

static void check_shape(const sg_backend *be, int D, int threads) {
    const size_t DD = (size_t)D * D;
    float *V = (float *)tu_alloc(DD * sizeof(float)), *Vh = (float *)tu_alloc(DD * sizeof(float));
    float *V2 = (float *)tu_alloc(DD * sizeof(float)),
          *mu = (float *)tu_alloc((size_t)D * sizeof(float));
    double *Vd = (double *)tu_alloc(DD * sizeof(double)),
           *mud = (double *)tu_alloc((size_t)D * sizeof(double));
    tu_fill(V, DD, 1300 + (uint64_t)D, 1, -1.0f, 1.0f);
    tu_fill(mu, (size_t)D, 1300 + (uint64_t)D, 2, -1.0f, 1.0f);
    memcpy(Vh, V, DD * sizeof(float));
    memcpy(V2, V, DD * sizeof(float));
    tu_f2d(V, Vd, DD);
    tu_f2d(mu, mud, (size_t)D);
    ref_rank1_sub(D, mud, Vd);
    sg_rank1_sub(be, D, mu, V);
    char what[96];
    snprintf(what, sizeof what, "rank1_sub D %d threads %d", D, threads);
    /* the product (<= 1) and the difference (<= 2), each rounded once */
    CHECK(tu_close_fd(what, V, Vd, DD, 2.4e-7, 0), "%s", what);
    host_sub(D, mu, Vh);
    CHECK(memcmp(V, Vh, DD * sizeof(float)) == 0, "%s: not the host loop's bits", what);
    sg_rank1_sub(be, D, mu, V2);
    CHECK(memcmp(V, V2, DD * sizeof(float)) == 0, "%s: two calls differ", what);
    /* V = fl(mu_i mu_j) minus the same product: exact zeros */
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) V[(size_t)i * D + j] = mu[i] * mu[j];
    sg_rank1_sub(be, D, mu, V);
    int zero = 1;
    for (size_t i = 0; i < DD; i++) zero &= V[i] == 0.0f;
    CHECK(zero, "%s: mu mu^T - mu mu^T is not 0", what);
    free(V), free(Vh), free(V2), free(mu), free(Vd), free(mud);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->rank1_sub, "cpu backend lacks rank1_sub");
    if (!be || !be->rank1_sub) return test_finish();
    const int Ds[] = {1, 3, 16, 65, 200};
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++) check_shape(be, Ds[k], t);
    }
    sg_cost c = sg_cost_rank1_sub(10);
    CHECK(c.flops == 200 && c.bytes == 840, "cost: %g flops, %g bytes", c.flops, c.bytes);
    return test_finish();
}
