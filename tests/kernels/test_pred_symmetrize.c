/* tests/kernels/test_pred_symmetrize.c: the CPU backend's pred_symmetrize, in place on a square
 * linear predictor and tied on a two-layer one (W0 [H,D], W1 [D,H]), against
 * ref_pred_symmetrize and bit for bit against the host loops core/ssl ran before it became an op
 * (the training fixtures hold those bits): exact symmetry (W = W^T, W0 = W1^T), an untouched
 * diagonal, idempotence, 1 and 2 threads (sizes past the parallel threshold), the optimal
 * predictor's out-of-place use, and its cost. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* core/ssl's former symmetrize_predictor loops */
static void host_square(int D, float *W) {
    for (int i = 0; i < D; i++)
        for (int j = i + 1; j < D; j++) {
            float a = 0.5f * (W[(size_t)i * D + j] + W[(size_t)j * D + i]);
            W[(size_t)i * D + j] = W[(size_t)j * D + i] = a;
        }
}
static void host_tied(int H, int D, float *W0, float *W1) {
    for (int h = 0; h < H; h++)
        for (int d = 0; d < D; d++) {
            float a = 0.5f * (W0[(size_t)h * D + d] + W1[(size_t)d * H + h]);
            W0[(size_t)h * D + d] = W1[(size_t)d * H + h] = a;
        }
}

static void check_shape(const sg_backend *be, int R, int C, int tied, int threads) {
    const size_t n = (size_t)R * C;
    float *A = (float *)tu_alloc(n * sizeof(float)), *A0 = (float *)tu_alloc(n * sizeof(float));
    float *B = (float *)tu_alloc(n * sizeof(float)), *Ah = (float *)tu_alloc(n * sizeof(float));
    float *Bh = (float *)tu_alloc(n * sizeof(float)), *A2 = (float *)tu_alloc(n * sizeof(float));
    double *Ad = (double *)tu_alloc(n * sizeof(double)),
           *Bd = (double *)tu_alloc(n * sizeof(double));
    tu_fill(A0, n, 900 + (uint64_t)n, 1, -1.0f, 1.0f);
    tu_fill(B, n, 900 + (uint64_t)n, 2, -1.0f, 1.0f);
    memcpy(A, A0, n * sizeof(float));
    memcpy(Ah, A0, n * sizeof(float));
    memcpy(Bh, B, n * sizeof(float));
    tu_f2d(A0, Ad, n);
    tu_f2d(B, Bd, n);
    ref_pred_symmetrize(R, C, Ad, tied ? Bd : NULL);
    sg_pred_symmetrize(be, R, C, A, tied ? B : NULL);
    char what[96];
    snprintf(what, sizeof what, "pred_symmetrize %dx%d tied %d threads %d", R, C, tied, threads);
    /* one rounded add, an exact halving */
    CHECK(tu_close_fd(what, A, Ad, n, 0, 1.2e-7), "%s: A", what);
    if (tied) CHECK(tu_close_fd(what, B, Bd, n, 0, 1.2e-7), "%s: B", what);
    if (tied)
        host_tied(R, C, Ah, Bh);
    else
        host_square(R, Ah);
    CHECK(memcmp(A, Ah, n * sizeof(float)) == 0, "%s: A not the host loop's bits", what);
    CHECK(!tied || memcmp(B, Bh, n * sizeof(float)) == 0, "%s: B not the host loop's bits", what);
    int sym = 1, diag = 1;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float other = tied ? B[(size_t)c * R + r] : A[(size_t)c * R + r];
            sym &= memcmp(&A[(size_t)r * C + c], &other, sizeof(float)) == 0;
            if (!tied && r == c) diag &= A[(size_t)r * C + c] == A0[(size_t)r * C + c];
        }
    CHECK(sym, "%s: not exactly symmetric", what);
    CHECK(diag, "%s: the diagonal moved", what);
    /* a symmetric predictor stays as it is */
    memcpy(A2, A, n * sizeof(float));
    sg_pred_symmetrize(be, R, C, A2, tied ? B : NULL);
    CHECK(memcmp(A, A2, n * sizeof(float)) == 0, "%s: not idempotent", what);
    free(A), free(A0), free(B), free(Ah), free(Bh), free(A2), free(Ad), free(Bd);
}

/* core/ssl's optimal predictor: the tied form on two copies of M2 is the out-of-place
 * (M2 + M2^T)/2 its host loop computed, every entry 0.5f*(x_ij + x_ji), the diagonal too
 * (0.5f*(x + x) overflows for |x| > FLT_MAX/2, as that loop did). */
static void check_out_of_place(const sg_backend *be) {
    const int D = 37;
    const size_t DD = (size_t)D * D;
    float *M2 = (float *)tu_alloc(DD * sizeof(float)), *A = (float *)tu_alloc(DD * sizeof(float));
    float *B = (float *)tu_alloc(DD * sizeof(float)), *want = (float *)tu_alloc(DD * sizeof(float));
    tu_fill(M2, DD, 950, 1, -1.0f, 1.0f);
    M2[0] = 3e38f;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            want[(size_t)i * D + j] = 0.5f * (M2[(size_t)i * D + j] + M2[(size_t)j * D + i]);
    memcpy(A, M2, DD * sizeof(float));
    memcpy(B, M2, DD * sizeof(float));
    sg_pred_symmetrize(be, D, D, A, B);
    CHECK(memcmp(A, want, DD * sizeof(float)) == 0, "tied on two copies is not (M2 + M2^T)/2");
    CHECK(isinf(A[0]), "the diagonal is not 0.5f*(x + x)");
    free(M2), free(A), free(B), free(want);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->pred_symmetrize, "cpu backend lacks pred_symmetrize");
    if (!be || !be->pred_symmetrize) return test_finish();
    const int sq[] = {1, 2, 17, 128, 300};
    const int tied[][2] = {{1, 1}, {1, 7}, {13, 21}, {512, 128}, {64, 700}};
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        for (size_t k = 0; k < sizeof sq / sizeof sq[0]; k++) check_shape(be, sq[k], sq[k], 0, t);
        for (size_t k = 0; k < sizeof tied / sizeof tied[0]; k++)
            check_shape(be, tied[k][0], tied[k][1], 1, t);
    }
    check_out_of_place(be);
    sg_cost c0 = sg_cost_pred_symmetrize(10, 10, 0), c1 = sg_cost_pred_symmetrize(10, 20, 1);
    CHECK(c0.flops == 90 && c0.bytes == 720 && c1.flops == 400 && c1.bytes == 3200,
          "cost: %g/%g flops, %g/%g bytes", c0.flops, c1.flops, c0.bytes, c1.bytes);
    return test_finish();
}
