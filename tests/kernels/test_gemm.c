/* tests/kernels/test_gemm.c: gemm of the CPU backend against the double reference (every
 * transpose combination, alpha/beta, padded leading dimensions), the reference against a hand
 * computed product and finite differences, determinism, and the cost. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_impls.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

typedef struct {
    int transA, transB, M, N, K;
    float alpha, beta;
    int lda, ldb, ldc;
} gemm_case;

/* Stored sizes: A is [M,K] ([K,M] transposed), B is [K,N] ([N,K] transposed), C is [M,N]. */
static int a_rows(const gemm_case *c) { return c->transA ? c->K : c->M; }
static int a_cols(const gemm_case *c) { return c->transA ? c->M : c->K; }
static int b_rows(const gemm_case *c) { return c->transB ? c->N : c->K; }
static int b_cols(const gemm_case *c) { return c->transB ? c->K : c->N; }

/* Shapes from 1 up to past OpenBLAS's blocking; leading dimensions wider than the rows. */
static gemm_case random_case(sg_rng *r, int trans_combo, int big) {
    static const float alphas[] = {1.0f, -0.75f, 1.5f, 0.3f};
    static const float betas[] = {0.0f, 1.0f, 0.5f, -1.25f};
    gemm_case c;
    c.transA = trans_combo & 1;
    c.transB = (trans_combo >> 1) & 1;
    int hi = big ? 200 : 40;
    c.M = tu_randint(r, 1, hi);
    c.N = tu_randint(r, 1, hi);
    c.K = tu_randint(r, 1, hi);
    c.alpha = alphas[tu_randint(r, 0, 3)];
    c.beta = betas[tu_randint(r, 0, 3)];
    c.lda = a_cols(&c) + tu_randint(r, 1, 7);
    c.ldb = b_cols(&c) + tu_randint(r, 1, 7);
    c.ldc = c.N + tu_randint(r, 1, 7);
    return c;
}

/* float32 vs the double reference: an entry sums K products of values in [-1, 1]; the tolerance
 * grows linearly with K, well above the ~sqrt growth seen in practice and far below the O(0.1)
 * error of any indexing mistake. */
static double atol_for(const gemm_case *c) {
    return 1e-5 + 3e-7 * c->K * fabs(c->alpha) + 1e-7 * fabs(c->beta);
}

/* One case at the current thread count: C against the reference (the padding columns of C must
 * be left alone), then a second call from the same C must give the same bits. With beta = 0 C
 * starts as NaN: BLAS semantics, C is not read. */
static void check_case(const sg_backend *be, const gemm_case *c, uint64_t seed, int threads) {
    size_t na = (size_t)a_rows(c) * c->lda, nb = (size_t)b_rows(c) * c->ldb;
    size_t nc = (size_t)c->M * c->ldc;
    float *A = tu_alloc(na * sizeof(float)), *B = tu_alloc(nb * sizeof(float));
    float *C0 = tu_alloc(nc * sizeof(float)), *C = tu_alloc(nc * sizeof(float));
    float *C2 = tu_alloc(nc * sizeof(float));
    double *Ad = tu_alloc(na * sizeof(double)), *Bd = tu_alloc(nb * sizeof(double));
    double *Cd = tu_alloc(nc * sizeof(double));
    tu_fill(A, na, seed, 1, -1, 1);
    tu_fill(B, nb, seed, 2, -1, 1);
    tu_fill(C0, nc, seed, 3, -1, 1);
    if (c->beta == 0) {
        /* NaN inside the matrix, the padding keeps its values to check it is not touched */
        for (int i = 0; i < c->M; i++)
            for (int j = 0; j < c->N; j++) C0[(size_t)i * c->ldc + j] = NAN;
    }
    tu_f2d(A, Ad, na);
    tu_f2d(B, Bd, nb);
    tu_f2d(C0, Cd, nc);
    ref_gemm(c->transA, c->transB, c->M, c->N, c->K, c->alpha, Ad, c->lda, Bd, c->ldb, c->beta, Cd,
             c->ldc);

    memcpy(C, C0, nc * sizeof(float));
    sg_gemm(be, c->transA, c->transB, c->M, c->N, c->K, c->alpha, A, c->lda, B, c->ldb, c->beta, C,
            c->ldc);
    int ok = 1, pad_ok = 1;
    for (int i = 0; i < c->M; i++) {
        const float *row = C + (size_t)i * c->ldc;
        ok &= tu_close_fd("C", row, Cd + (size_t)i * c->ldc, (size_t)c->N, atol_for(c), 1e-5);
        pad_ok &= memcmp(row + c->N, C0 + (size_t)i * c->ldc + c->N,
                         (size_t)(c->ldc - c->N) * sizeof(float)) == 0;
    }
    CHECK(ok, "gemm transA%d transB%d M%d N%d K%d alpha %g beta %g lda%d ldb%d ldc%d, %d threads",
          c->transA, c->transB, c->M, c->N, c->K, c->alpha, c->beta, c->lda, c->ldb, c->ldc,
          threads);
    CHECK(pad_ok, "gemm wrote past column N of C (M%d N%d ldc%d)", c->M, c->N, c->ldc);

    memcpy(C2, C0, nc * sizeof(float));
    sg_gemm(be, c->transA, c->transB, c->M, c->N, c->K, c->alpha, A, c->lda, B, c->ldb, c->beta, C2,
            c->ldc);
    CHECK(memcmp(C, C2, nc * sizeof(float)) == 0, "gemm not deterministic: M%d N%d K%d, %d threads",
          c->M, c->N, c->K, threads);
    free(A), free(B), free(C0), free(C), free(C2), free(Ad), free(Bd), free(Cd);
}

/* ---- the reference itself ------------------------------------------------------------------ */

/* [[1,2],[3,4]] [[5,6],[7,8]] = [[19,22],[43,50]], in every storage order. */
static void check_known_answer(const sg_backend *be) {
    static const double A[4] = {1, 2, 3, 4}, At[4] = {1, 3, 2, 4};
    static const double B[4] = {5, 6, 7, 8}, Bt[4] = {5, 7, 6, 8};
    static const double want[4] = {19, 22, 43, 50};
    for (int combo = 0; combo < 4; combo++) {
        int ta = combo & 1, tb = combo >> 1;
        double C[4] = {1, 1, 1, 1}, want2[4];
        /* C = 2 AB - 1 C */
        ref_gemm(ta, tb, 2, 2, 2, 2.0, ta ? At : A, 2, tb ? Bt : B, 2, -1.0, C, 2);
        for (int i = 0; i < 4; i++) want2[i] = 2 * want[i] - 1;
        CHECK(tu_close_dd("ref C", C, want2, 4, 1e-12, 0), "ref_gemm known answer, combo %d",
              combo);
        float Af[4], Bf[4], Cf[4] = {1, 1, 1, 1};
        tu_d2f(ta ? At : A, Af, 4);
        tu_d2f(tb ? Bt : B, Bf, 4);
        sg_gemm(be, ta, tb, 2, 2, 2, 2.0f, Af, 2, Bf, 2, -1.0f, Cf, 2);
        CHECK(tu_close_fd("cpu C", Cf, want2, 4, 1e-6, 0), "cpu gemm known answer, combo %d",
              combo);
    }
}

/* f(A, B) = sum(G .* (alpha op(A) op(B))): dop(A) = alpha G op(B)^T, dop(B) = alpha op(A)^T G,
 * transposed back into A's / B's storage when trans is set. The gradients are computed with
 * ref_gemm in other transpose modes, so this ties the four modes of the reference together. */
typedef struct {
    gemm_case c;
    const double *A, *B, *G;
    double *C;
} fd_ctx;

static double f_value(const fd_ctx *ctx, const double *A, const double *B) {
    const gemm_case *c = &ctx->c;
    ref_gemm(c->transA, c->transB, c->M, c->N, c->K, c->alpha, A, c->lda, B, c->ldb, 0.0, ctx->C,
             c->N);
    double sum = 0;
    for (size_t i = 0; i < (size_t)c->M * c->N; i++) sum += ctx->G[i] * ctx->C[i];
    return sum;
}
static double f_of_A(const double *A, void *vctx) {
    fd_ctx *ctx = vctx;
    return f_value(ctx, A, ctx->B);
}
static double f_of_B(const double *B, void *vctx) {
    fd_ctx *ctx = vctx;
    return f_value(ctx, ctx->A, B);
}

static void check_gradients(int combo, uint64_t seed) {
    gemm_case c = {combo & 1, combo >> 1, 3, 4, 5, 0.7f, 0.0f, 0, 0, 0};
    c.lda = a_cols(&c) + 2; /* padded; gradients of the padding are zero */
    c.ldb = b_cols(&c) + 1;
    c.ldc = c.N;
    size_t na = (size_t)a_rows(&c) * c.lda, nb = (size_t)b_rows(&c) * c.ldb, ng = (size_t)c.M * c.N;
    float *buf = tu_alloc((na + nb + ng) * sizeof(float));
    tu_fill(buf, na + nb + ng, seed, 9, -1, 1);
    double *A = tu_alloc(na * sizeof(double)), *B = tu_alloc(nb * sizeof(double));
    double *G = tu_alloc(ng * sizeof(double)), *C = tu_alloc(ng * sizeof(double));
    double *dA = tu_alloc(na * sizeof(double)), *dB = tu_alloc(nb * sizeof(double));
    tu_f2d(buf, A, na);
    tu_f2d(buf + na, B, nb);
    tu_f2d(buf + na + nb, G, ng);
    /* dA: op(A) = A  -> dA[M,K] = alpha G[M,N] op(B)^T;  op(A) = A^T -> dA[K,M] = alpha op(B) G^T
     */
    if (!c.transA)
        ref_gemm(0, !c.transB, c.M, c.K, c.N, c.alpha, G, c.N, B, c.ldb, 0.0, dA, c.lda);
    else
        ref_gemm(c.transB, 1, c.K, c.M, c.N, c.alpha, B, c.ldb, G, c.N, 0.0, dA, c.lda);
    /* dB: op(B) = B  -> dB[K,N] = alpha op(A)^T G;  op(B) = B^T -> dB[N,K] = alpha G^T op(A) */
    if (!c.transB)
        ref_gemm(!c.transA, 0, c.K, c.N, c.M, c.alpha, A, c.lda, G, c.N, 0.0, dB, c.ldb);
    else
        ref_gemm(1, c.transA, c.N, c.K, c.M, c.alpha, G, c.N, A, c.lda, 0.0, dB, c.ldb);
    fd_ctx ctx = {c, A, B, G, C};
    CHECK(tu_gradcheck("d/dA", f_of_A, &ctx, A, na, dA, 1e-3, 1e-9, 1e-7),
          "ref_gemm gradient w.r.t. A, transA%d transB%d", c.transA, c.transB);
    CHECK(tu_gradcheck("d/dB", f_of_B, &ctx, B, nb, dB, 1e-3, 1e-9, 1e-7),
          "ref_gemm gradient w.r.t. B, transA%d transB%d", c.transA, c.transB);
    free(buf), free(A), free(B), free(G), free(C), free(dA), free(dB);
}

static void check_cost(void) {
    sg_cost c0 = sg_cost_gemm(300, 200, 100, 0), c1 = sg_cost_gemm(300, 200, 100, 1);
    CHECK(c0.flops == 2.0 * 300 * 200 * 100, "gemm flops %.17g", c0.flops);
    CHECK(c1.flops == c0.flops, "beta changes gemm flops: %.17g", c1.flops);
    CHECK(c0.bytes == 4.0 * (300 * 100 + 100 * 200 + 300 * 200), "gemm bytes %.17g", c0.bytes);
    CHECK(c1.bytes == c0.bytes + 4.0 * 300 * 200, "gemm bytes with beta != 0: %.17g", c1.bytes);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    check_cost();
    check_known_answer(be);
    for (int combo = 0; combo < 4; combo++) check_gradients(combo, 50 + combo);

    enum { PER_COMBO = 5 };
    gemm_case cases[4 * PER_COMBO];
    sg_rng r;
    sg_rng_init(&r, 77, 0, 0, 0);
    for (int i = 0; i < 4 * PER_COMBO; i++) cases[i] = random_case(&r, i % 4, i >= 12);
    FOR_EACH_GEMM_IMPL {
        for (int threads = 1; threads <= 2; threads++) {
            sg_cpu_set_threads(threads);
            for (int i = 0; i < 4 * PER_COMBO; i++) check_case(be, &cases[i], 200 + i, threads);
        }
    }
    return test_finish();
}
