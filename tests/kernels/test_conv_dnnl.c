/* tests/kernels/test_conv_dnnl.c: the oneDNN kernels (kernels/cpu/conv_dnnl.c) against the double
 * references: conv2d forward, backward data and backward filter in both layouts (plain NCHW and
 * oneDNN's blocked ones behind reorders), at 1 and 2 threads, on the geometries of
 * conv_cases.h, random ones and the ResNet-18 STL-10 convs at a small batch; determinism;
 * accumulate; and dnnl_sgemm with cblas_sgemm's row-major semantics. Skipped (77) in a build
 * without oneDNN, with the reason.
 *
 * Tolerance, per output element: a direct convolution (or a gemm) sums L products; each product
 * is exact inside an FMA or rounded once, and each partial sum is rounded, so to first order
 * |err| <= (1 + L) u S with S = sum |terms| (the same computation on absolute values, done with
 * the references) and u = 2^-24. Rounding errors of a long sum partly cancel and the
 * implementations sum in blocks, so the test uses the probabilistic form (Higham & Mary 2019),
 *     tol = (1 + 2 sqrt(L)) u S   (+ u |result| when accumulating onto dw),
 * with L = C*R*S (forward), K*R*S (backward data), N*P*Q (backward filter), K (gemm).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv_algos.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"
#include "conv_cases.h"

#define U32 (1.0 / 16777216.0)

static double worst_ratio = 0; /* worst err / (u S), reported */

static int within(const char *what, const float *got, const double *want, const double *S,
                  size_t n, double L) {
    double worst = 0;
    size_t wi = 0;
    const double c = 1.0 + 2.0 * sqrt(L);
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        double r = err / (c * U32 * S[i] + U32 * fabs(want[i]) + 1e-30);
        if (!(r <= worst)) {
            worst = r;
            wi = i;
        }
        double ratio = err / (U32 * S[i] + 1e-30);
        if (ratio > worst_ratio) worst_ratio = ratio;
    }
    if (!(worst <= 1.0))
        fprintf(stderr, "  %s: index %zu got %.9g want %.9g sum|terms| %.4g (err %.3g x tol)\n",
                what, wi, (double)got[wi], want[wi], S[wi], worst);
    return worst <= 1.0;
}

static void absd(const double *a, double *b, size_t n) {
    for (size_t i = 0; i < n; i++) b[i] = fabs(a[i]);
}

static const char *layout_name(sg_dnnl_layout l) {
    return l == SG_DNNL_LAYOUT_PLAIN ? "plain" : "blocked";
}

/* One geometry: references once, then both layouts at 1 and 2 threads, each run twice. */
static void check_case(const conv_case *cc, uint64_t seed) {
    sg_conv_shape s = make_shape(cc);
    const size_t nx = x_count(&s), nw = w_count(&s), ny = y_count(&s);
    float *x = tu_alloc(nx * sizeof(float)), *w = tu_alloc(nw * sizeof(float));
    float *dy = tu_alloc(ny * sizeof(float)), *dw0 = tu_alloc(nw * sizeof(float));
    tu_fill(x, nx, seed, 1, -1, 1);
    tu_fill(w, nw, seed, 2, -1, 1);
    tu_fill(dy, ny, seed, 3, -1, 1);
    tu_fill(dw0, nw, seed, 4, -1, 1);
    double *xd = tu_alloc(nx * sizeof(double)), *wd = tu_alloc(nw * sizeof(double));
    double *dyd = tu_alloc(ny * sizeof(double));
    double *xa = tu_alloc(nx * sizeof(double)), *wa = tu_alloc(nw * sizeof(double));
    double *dya = tu_alloc(ny * sizeof(double));
    double *yr = tu_alloc(ny * sizeof(double)), *dxr = tu_alloc(nx * sizeof(double));
    double *dwr = tu_alloc(nw * sizeof(double)), *dwacc = tu_alloc(nw * sizeof(double));
    double *Sy = tu_alloc(ny * sizeof(double)), *Sx = tu_alloc(nx * sizeof(double));
    double *Sw = tu_alloc(nw * sizeof(double));
    tu_f2d(x, xd, nx);
    tu_f2d(w, wd, nw);
    tu_f2d(dy, dyd, ny);
    tu_f2d(dw0, dwacc, nw);
    absd(xd, xa, nx);
    absd(wd, wa, nw);
    absd(dyd, dya, ny);
    ref_conv2d_fwd(&s, xd, wd, yr);
    ref_conv2d_bwd_data(&s, dyd, wd, dxr);
    ref_conv2d_bwd_filter(&s, xd, dyd, dwr, 0);
    ref_conv2d_bwd_filter(&s, xd, dyd, dwacc, 1);
    ref_conv2d_fwd(&s, xa, wa, Sy);
    ref_conv2d_bwd_data(&s, dya, wa, Sx);
    ref_conv2d_bwd_filter(&s, xa, dya, Sw, 0);
    const double Lf = (double)s.C * s.R * s.S, Ld = (double)s.K * s.R * s.S,
                 Lw = (double)s.N * s.P * s.Q;

    float *y = tu_alloc(ny * sizeof(float)), *y2 = tu_alloc(ny * sizeof(float));
    float *dx = tu_alloc(nx * sizeof(float)), *dx2 = tu_alloc(nx * sizeof(float));
    float *dwk = tu_alloc(nw * sizeof(float)), *dwk2 = tu_alloc(nw * sizeof(float));
    for (int li = 0; li < 2; li++) {
        const sg_dnnl_layout lay = li ? SG_DNNL_LAYOUT_BLOCKED : SG_DNNL_LAYOUT_PLAIN;
        CHECK(sg_cpu_dnnl_set_layout(lay) == 0, "set layout %s", layout_name(lay));
        for (int threads = 1; threads <= 2; threads++) {
            sg_cpu_set_threads(threads);
            const size_t wsb = sg_cpu_dnnl_workspace_bytes(&s); /* per thread count */
            void *work = tu_alloc(wsb ? wsb : 1);
            for (int rep = 0; rep < 2; rep++) {
                float *yo = rep ? y2 : y, *dxo = rep ? dx2 : dx, *dwo = rep ? dwk2 : dwk;
                /* NaN-filled outputs and workspace: an element never written shows up */
                memset(work, 0xff, wsb);
                memset(yo, 0xff, ny * sizeof(float));
                sg_cpu_dnnl_fwd(&s, x, w, yo, work);
                memset(work, 0xff, wsb);
                memset(dxo, 0xff, nx * sizeof(float));
                sg_cpu_dnnl_bwd_data(&s, dy, w, dxo, work);
                memset(work, 0xff, wsb);
                memset(dwo, 0xff, nw * sizeof(float));
                sg_cpu_dnnl_bwd_filter(&s, x, dy, dwo, 0, work);
            }
            CHECK(within("y", y, yr, Sy, ny, Lf),
                  "fwd %s, %s layout (%s), %d threads: N%d C%d %dx%d K%d %dx%d/%d pad %d",
                  cc->what, layout_name(lay), sg_cpu_dnnl_impl(&s, 0), threads, s.N, s.C, s.H,
                  s.W, s.K, s.R, s.S, s.stride, s.pad);
            CHECK(within("dx", dx, dxr, Sx, nx, Ld),
                  "bwd data %s, %s layout (%s), %d threads: N%d C%d %dx%d K%d %dx%d/%d pad %d",
                  cc->what, layout_name(lay), sg_cpu_dnnl_impl(&s, 1), threads, s.N, s.C, s.H,
                  s.W, s.K, s.R, s.S, s.stride, s.pad);
            CHECK(within("dw", dwk, dwr, Sw, nw, Lw),
                  "bwd filter %s, %s layout (%s), %d threads: N%d C%d %dx%d K%d %dx%d/%d pad %d",
                  cc->what, layout_name(lay), sg_cpu_dnnl_impl(&s, 2), threads, s.N, s.C, s.H,
                  s.W, s.K, s.R, s.S, s.stride, s.pad);
            CHECK(!memcmp(y, y2, ny * sizeof(float)) && !memcmp(dx, dx2, nx * sizeof(float)) &&
                      !memcmp(dwk, dwk2, nw * sizeof(float)),
                  "%s, %s layout, %d threads: two runs differ", cc->what, layout_name(lay),
                  threads);
            memcpy(dwk, dw0, nw * sizeof(float));
            memset(work, 0xff, wsb);
            sg_cpu_dnnl_bwd_filter(&s, x, dy, dwk, 1, work);
            CHECK(within("dw accumulated", dwk, dwacc, Sw, nw, Lw),
                  "bwd filter accumulate %s, %s layout, %d threads", cc->what, layout_name(lay),
                  threads);
            /* accumulating is one float add of the gradient onto dw: the bits of the gradient
             * the call without accumulate wrote, added to dw0 */
            int acc_exact = 1;
            for (size_t i = 0; i < nw; i++) {
                const float want = dw0[i] + dwk2[i];
                acc_exact &= !memcmp(&dwk[i], &want, sizeof want);
            }
            CHECK(acc_exact, "bwd filter accumulate %s, %s layout, %d threads: not dw + gradient "
                  "bit for bit", cc->what, layout_name(lay), threads);
            free(work);
        }
    }
    sg_cpu_dnnl_set_layout(SG_DNNL_LAYOUT_AUTO);
    free(x), free(w), free(dy), free(dw0), free(xd), free(wd), free(dyd), free(xa), free(wa);
    free(dya), free(yr), free(dxr), free(dwr), free(dwacc), free(Sy), free(Sx), free(Sw);
    free(y), free(y2), free(dx), free(dx2), free(dwk), free(dwk2);
}

/* dnnl_sgemm against ref_gemm: every transpose combination, alpha/beta, padded leading
 * dimensions, C's padding columns untouched, two runs bit-identical. */
static void check_sgemm(uint64_t seed, int threads) {
    sg_rng r;
    sg_rng_init(&r, seed, 0, 0, 0);
    static const float alphas[] = {1.0f, -0.75f, 1.5f}, betas[] = {0.0f, 1.0f, -1.25f};
    for (int i = 0; i < 24; i++) {
        const int tA = i & 1, tB = (i >> 1) & 1, big = i >= 12;
        const int M = tu_randint(&r, 1, big ? 300 : 40), N = tu_randint(&r, 1, big ? 300 : 40),
                  K = tu_randint(&r, 1, big ? 300 : 40);
        const float alpha = alphas[i % 3], beta = betas[(i / 3) % 3];
        const int ar = tA ? K : M, ac = tA ? M : K, br = tB ? N : K, bc = tB ? K : N;
        const int lda = ac + tu_randint(&r, 0, 5), ldb = bc + tu_randint(&r, 0, 5),
                  ldc = N + tu_randint(&r, 1, 5);
        const size_t na = (size_t)ar * lda, nb = (size_t)br * ldb, nc = (size_t)M * ldc;
        float *A = tu_alloc(na * 4), *B = tu_alloc(nb * 4), *C0 = tu_alloc(nc * 4);
        float *C = tu_alloc(nc * 4), *C2 = tu_alloc(nc * 4);
        double *Ad = tu_alloc(na * 8), *Bd = tu_alloc(nb * 8), *Cd = tu_alloc(nc * 8);
        double *Aa = tu_alloc(na * 8), *Ba = tu_alloc(nb * 8), *Ca = tu_alloc(nc * 8);
        tu_fill(A, na, seed + i, 1, -1, 1);
        tu_fill(B, nb, seed + i, 2, -1, 1);
        tu_fill(C0, nc, seed + i, 3, -1, 1);
        tu_f2d(A, Ad, na);
        tu_f2d(B, Bd, nb);
        tu_f2d(C0, Cd, nc);
        absd(Ad, Aa, na);
        absd(Bd, Ba, nb);
        absd(Cd, Ca, nc);
        ref_gemm(tA, tB, M, N, K, alpha, Ad, lda, Bd, ldb, beta, Cd, ldc);
        ref_gemm(tA, tB, M, N, K, fabs(alpha), Aa, lda, Ba, ldb, fabs(beta), Ca, ldc);
        for (int rep = 0; rep < 2; rep++) {
            float *Co = rep ? C2 : C;
            memcpy(Co, C0, nc * 4);
            if (beta == 0) /* BLAS semantics: C is not read */
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) Co[(size_t)m * ldc + n] = NAN;
            sg_cpu_dnnl_sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, Co, ldc);
        }
        int pad_ok = 1;
        for (int m = 0; m < M; m++)
            for (int n = N; n < ldc; n++)
                pad_ok &= C[(size_t)m * ldc + n] == C0[(size_t)m * ldc + n];
        /* compare row by row: the padding columns are not results */
        int ok = 1;
        for (int m = 0; m < M; m++)
            ok &= within("C", C + (size_t)m * ldc, Cd + (size_t)m * ldc, Ca + (size_t)m * ldc, N, K);
        CHECK(ok && pad_ok, "dnnl_sgemm %c%c M%d N%d K%d alpha %g beta %g, %d threads%s",
              tA ? 'T' : 'N', tB ? 'T' : 'N', M, N, K, alpha, beta, threads,
              pad_ok ? "" : ": wrote into C's padding");
        CHECK(!memcmp(C, C2, nc * 4), "dnnl_sgemm M%d N%d K%d: two runs differ, %d threads", M, N,
              K, threads);
        free(A), free(B), free(C0), free(C), free(C2), free(Ad), free(Bd), free(Cd), free(Aa);
        free(Ba), free(Ca);
    }
}

int main(void) {
    const char *why = NULL;
    if (!sg_cpu_dnnl_available(&why)) TEST_SKIP("oneDNN: %s", why);
    CHECK(sg_cpu_dnnl_set_layout((sg_dnnl_layout)7) == -1, "set_layout accepts a bad value");

    /* the shared geometries (stem, 3x3/1 and /2, 1x1/1 and /2, several image groups) */
    for (int i = 0; i < NFIXED; i++) check_case(&fixed_cases[i], 900 + i);
    sg_rng r;
    sg_rng_init(&r, 4242, 0, 0, 0);
    for (int i = 0; i < NRANDOM; i++) {
        conv_case c = random_case(&r);
        check_case(&c, 950 + i);
    }
    /* ResNet-18 on 96x96 STL-10 at batch 1: the stem, the 3x3/1 convs of each stage, the
     * downsampling 3x3/2 and 1x1/2 convs */
    static const conv_case resnet[] = {
        {1, 3, 96, 96, 64, 7, 7, 2, 3, "resnet18 stl10 stem"},
        {1, 64, 24, 24, 64, 3, 3, 1, 1, "resnet18 stl10 layer1 3x3"},
        {1, 64, 24, 24, 128, 3, 3, 2, 1, "resnet18 stl10 layer2 3x3/2"},
        {1, 64, 24, 24, 128, 1, 1, 2, 0, "resnet18 stl10 layer2 1x1/2"},
        {1, 128, 12, 12, 128, 3, 3, 1, 1, "resnet18 stl10 layer2 3x3"},
        {1, 256, 6, 6, 256, 3, 3, 1, 1, "resnet18 stl10 layer3 3x3"},
        {1, 512, 3, 3, 512, 3, 3, 1, 1, "resnet18 stl10 layer4 3x3"},
    };
    for (size_t i = 0; i < sizeof resnet / sizeof resnet[0]; i++) check_case(&resnet[i], 980 + i);

    for (int threads = 1; threads <= 2; threads++) {
        sg_cpu_set_threads(threads);
        check_sgemm(31, threads);
    }
    (void)close_enough; /* conv_cases.h's shared tolerance: this test derives its own above */
    printf("worst err / (u sum|terms|): %.3g\n", worst_ratio);
    return test_finish();
}
