/* tests/kernels/test_conv_winograd.c: the Winograd convolution (kernels/cpu/conv_winograd.c)
 * against the double references of kernels/ref: forward, backward data and backward filter, for
 * both tile sizes, every vector path this CPU has and both sgemms (OpenBLAS; oneDNN where
 * built), at 1 and 2 threads, on random shapes and at the ResNet-18 STL-10 3x3 stride-1 shapes
 * (small batch); determinism; accumulate; the shapes it refuses.
 *
 * Tolerance, derived per output element. Winograd computes each output as a sum of terms, each
 * a product of transform coefficients, a filter value and an input value; float32 rounding
 * perturbs each term by at most n roundings of relative size u = 2^-24 on its way (filter,
 * input and output transforms, the product, the sgemm's sum), so to first order
 *     |err| <= n u E,   E = |A^T| [ sum_c (|G| |g| |G^T|) .* (|B^T| |d| |B|) ] |A|,
 * the same computation on absolute values (computed here in double). E is the transform's
 * growth over the direct sum of |terms|: with every |g| = |d| = 1 it is 64 (F(2x2)), up to
 * 592 (F(3x3)) and up to 2304 (F(4x4), the corner output) against 9 for the direct sum, i.e.
 * 7.1x, up to 66x and up to 256x. n = n_t + L: the transforms' roundings along one term's path
 * (n_t, counted from the kernels' operation sequences: F(2x2) 11, F(3x3) and F(4x4) 20,
 * including the float32 rounding of G's 1/6, 1/3, 1/12, 1/24) plus L for the sum in the sgemm
 * (L = channels, or tiles for the filter gradient).
 * The bound n u E is worst-case: rounding errors of a long sum partly cancel, and sgemm sums in
 * blocks, so the test uses the probabilistic form (Higham & Mary 2019) with sqrt(L) in place of
 * L, which still leaves the worst observed error well inside it (the test prints the ratio):
 *     tol = (n_t + 2 sqrt(L)) u E.
 * A wrong tap, channel or tile is off by O(|y| / sqrt(9 L)), far above tol at every shape here.
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

#define U32 (1.0 / 16777216.0) /* float32 unit roundoff, 2^-24 */

/* ---- the transform matrices in double (from the algorithms' points, as in the kernels) ----- */

typedef struct {
    int m, al;
    double bt[6][6]; /* B^T [al][al], stored in the top-left corner */
    double g[6][3];  /* G [al][3] */
    double at[4][6]; /* A^T [m][al] */
    int nt;          /* transform roundings along one term's path */
} wmat;

static wmat wmat_make(int m) {
    wmat w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.al = m + 2;
    if (m == 2) {
        static const double bt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
        static const double g[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
        static const double at[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) w.bt[i][j] = bt[i][j];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++) w.g[i][j] = g[i][j];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) w.at[i][j] = at[i][j];
        w.nt = 11; /* G 2+2, B^T 1+1, product 1, A^T 2+2 */
    } else if (m == 3) { /* points 0, 1, -1, 2, inf */
        static const double bt[5][5] = {{2, -1, -2, 1, 0},
                                        {0, -2, -1, 1, 0},
                                        {0, 2, -3, 1, 0},
                                        {0, -1, 0, 1, 0},
                                        {0, 2, -1, -2, 1}};
        static const double g[5][3] = {{.5, 0, 0},
                                       {-.5, -.5, -.5},
                                       {-1. / 6, 1. / 6, -1. / 6},
                                       {1. / 6, 1. / 3, 2. / 3},
                                       {0, 0, 1}};
        static const double at[3][5] = {{1, 1, 1, 1, 0}, {0, 1, -1, 2, 0}, {0, 1, 1, 4, 1}};
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) w.bt[i][j] = bt[i][j];
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 3; j++) w.g[i][j] = g[i][j];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 5; j++) w.at[i][j] = at[i][j];
        w.nt = 20; /* G 3+3 and its two rounded constants, B^T 2+2, product 1, A^T 3+3 + 1 */
    } else {
        static const double bt[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                        {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                        {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
        static const double g[6][3] = {{1. / 4, 0, 0},           {-1. / 6, -1. / 6, -1. / 6},
                                       {-1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6},
                                       {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}};
        static const double at[4][6] = {{1, 1, 1, 1, 1, 0},
                                        {0, 1, -1, 2, -2, 0},
                                        {0, 1, 1, 4, 4, 0},
                                        {0, 1, -1, 8, -8, 1}};
        memcpy(w.bt, bt, sizeof bt);
        memcpy(w.g, g, sizeof g);
        memcpy(w.at, at, sizeof at);
        w.nt = 20; /* G 3+3 and its two rounded constants, B^T 2+2, product 1, A^T 3+3 + 1 */
    }
    return w;
}

/* out[i][j] = sum_a sum_b |L[i][a]| X[a][b] |R[j][b]|; L is p x q (row stride ls), X q x q2,
 * R p2 x q2 (row stride rs), out p x p2. */
static void sandwich(const double *L, int ls, int p, int q, const double *X, int q2,
                     const double *R, int rs, int p2, double *out) {
    double t[6 * 6];
    for (int i = 0; i < p; i++)
        for (int b = 0; b < q2; b++) {
            double sum = 0;
            for (int a = 0; a < q; a++) sum += fabs(L[i * ls + a]) * X[a * q2 + b];
            t[i * q2 + b] = sum;
        }
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p2; j++) {
            double sum = 0;
            for (int b = 0; b < q2; b++) sum += t[i * q2 + b] * fabs(R[j * rs + b]);
            out[i * p2 + j] = sum;
        }
}

/* Transposed copies, so that every transform is a sandwich with row-major matrices. */
static void transpose(const double *a, int rows, int cols, int lda, double *out, int ldo) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) out[j * ldo + i] = a[i * lda + j];
}

/* E of a convolution out[N][Co][OP][OQ] = conv(in[N][Ci][IH][IW] padded by ipad, f[Co][Ci][3][3]),
 * from |in| and |f|: the forward pass, and backward data with dy as input and the rotated,
 * transposed filter. */
static void bound_conv(const wmat *wm, int N, int Ci, int IH, int IW, int ipad, int Co, int OP,
                       int OQ, const double *in, const double *f, double *E) {
    const int m = wm->m, al = wm->al, a2 = al * al;
    const int TY = (OP + m - 1) / m, TX = (OQ + m - 1) / m;
    double *U = tu_alloc((size_t)Co * Ci * a2 * sizeof(double));
    double *V = tu_alloc((size_t)Ci * a2 * sizeof(double));
    for (size_t kc = 0; kc < (size_t)Co * Ci; kc++) {
        double g[9];
        for (int i = 0; i < 9; i++) g[i] = fabs(f[kc * 9 + i]);
        sandwich(&wm->g[0][0], 3, al, 3, g, 3, &wm->g[0][0], 3, al, U + kc * a2);
    }
    for (int n = 0; n < N; n++)
        for (int ty = 0; ty < TY; ty++)
            for (int tx = 0; tx < TX; tx++) {
                for (int c = 0; c < Ci; c++) {
                    double d[36];
                    for (int i = 0; i < al; i++)
                        for (int j = 0; j < al; j++) {
                            int h = ty * m - ipad + i, v = tx * m - ipad + j;
                            d[i * al + j] = (h >= 0 && h < IH && v >= 0 && v < IW)
                                                ? fabs(in[(((size_t)n * Ci + c) * IH + h) * IW + v])
                                                : 0.0;
                        }
                    sandwich(&wm->bt[0][0], 6, al, al, d, al, &wm->bt[0][0], 6, al, V + c * a2);
                }
                for (int k = 0; k < Co; k++) {
                    double acc[36] = {0}, y[16];
                    for (int c = 0; c < Ci; c++)
                        for (int x = 0; x < a2; x++)
                            acc[x] += U[((size_t)k * Ci + c) * a2 + x] * V[c * a2 + x];
                    sandwich(&wm->at[0][0], 6, m, al, acc, al, &wm->at[0][0], 6, m, y);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < m; j++) {
                            int p = ty * m + i, q = tx * m + j;
                            if (p < OP && q < OQ)
                                E[(((size_t)n * Co + k) * OP + p) * OQ + q] = y[i * m + j];
                        }
                }
            }
    free(U), free(V);
}

/* E of the filter gradient: |G^T| [ sum over tiles (|A| |e| |A^T|) .* (|B^T| |d| |B|) ] |G|. */
static void bound_filter(const wmat *wm, const sg_conv_shape *s, const double *x,
                         const double *dy, double *E) {
    const int m = wm->m, al = wm->al, a2 = al * al, C = s->C, K = s->K;
    const int TY = (s->P + m - 1) / m, TX = (s->Q + m - 1) / m;
    double A[6 * 4], GT[3 * 6]; /* A = (A^T)^T [al][m], G^T [3][al] */
    transpose(&wm->at[0][0], m, al, 6, A, m);
    transpose(&wm->g[0][0], al, 3, 3, GT, al);
    double *acc = tu_alloc((size_t)K * C * a2 * sizeof(double));
    double *V = tu_alloc((size_t)C * a2 * sizeof(double));
    double *D = tu_alloc((size_t)K * a2 * sizeof(double));
    for (int n = 0; n < s->N; n++)
        for (int ty = 0; ty < TY; ty++)
            for (int tx = 0; tx < TX; tx++) {
                for (int c = 0; c < C; c++) {
                    double d[36];
                    for (int i = 0; i < al; i++)
                        for (int j = 0; j < al; j++) {
                            int h = ty * m - s->pad + i, v = tx * m - s->pad + j;
                            d[i * al + j] = (h >= 0 && h < s->H && v >= 0 && v < s->W)
                                                ? fabs(x[(((size_t)n * C + c) * s->H + h) * s->W + v])
                                                : 0.0;
                        }
                    sandwich(&wm->bt[0][0], 6, al, al, d, al, &wm->bt[0][0], 6, al, V + c * a2);
                }
                for (int k = 0; k < K; k++) {
                    double e[16];
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < m; j++) {
                            int p = ty * m + i, q = tx * m + j;
                            e[i * m + j] = (p < s->P && q < s->Q)
                                               ? fabs(dy[(((size_t)n * K + k) * s->P + p) * s->Q + q])
                                               : 0.0;
                        }
                    sandwich(A, m, al, m, e, m, A, m, al, D + k * a2);
                }
                for (int k = 0; k < K; k++)
                    for (int c = 0; c < C; c++)
                        for (int xx = 0; xx < a2; xx++)
                            acc[((size_t)k * C + c) * a2 + xx] += D[k * a2 + xx] * V[c * a2 + xx];
            }
    for (size_t kc = 0; kc < (size_t)K * C; kc++)
        sandwich(GT, al, 3, al, acc + kc * a2, al, GT, al, 3, E + kc * 9);
    free(acc), free(V), free(D);
}

/* ---- one case: reference once, then every variant ----------------------------------------- */

typedef struct {
    int N, C, H, W, K, pad;
    const char *what;
} wcase;

typedef struct {
    int m;
    sg_wino_isa isa;
    sg_wino_gemm gemm;
    const char *name;
} variant;

static variant variants[12];
static int nvariants = 0;
/* worst err / (u E) seen, per tile size: reported, so the tolerance's margin is visible */
static double worst_ratio[5];

/* |got - want| <= (nt + 2 sqrt(L)) u E + u |want| (the last term: the accumulate add). */
static int within(const char *what, const float *got, const double *want, const double *E,
                  size_t n, int nt, double L, int m) {
    double worst = 0;
    size_t wi = 0;
    const double c = nt + 2.0 * sqrt(L);
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        double r = err / (c * U32 * E[i] + U32 * fabs(want[i]) + 1e-30);
        if (!(r <= worst)) {
            worst = r;
            wi = i;
        }
        double ratio = err / (U32 * E[i] + 1e-30);
        if (ratio > worst_ratio[m]) worst_ratio[m] = ratio;
    }
    if (!(worst <= 1.0))
        fprintf(stderr, "  %s: index %zu got %.9g want %.9g bound E %.4g (err %.3g x tolerance)\n",
                what, wi, (double)got[wi], want[wi], E[wi], worst);
    return worst <= 1.0;
}

static void check_case(const wcase *wc, uint64_t seed) {
    sg_conv_shape s = sg_conv_shape_make(wc->N, wc->C, wc->H, wc->W, wc->K, 3, 3, 1, wc->pad);
    CHECK(sg_cpu_winograd_supports(&s), "%s: supports() refuses N%d C%d %dx%d K%d pad %d", wc->what,
          s.N, s.C, s.H, s.W, s.K, s.pad);
    const size_t nx = (size_t)s.N * s.C * s.H * s.W, nw = (size_t)s.K * s.C * 9,
                 ny = (size_t)s.N * s.K * s.P * s.Q;
    float *x = tu_alloc(nx * sizeof(float)), *w = tu_alloc(nw * sizeof(float));
    float *dy = tu_alloc(ny * sizeof(float)), *dw0 = tu_alloc(nw * sizeof(float));
    tu_fill(x, nx, seed, 1, -1, 1);
    tu_fill(w, nw, seed, 2, -1, 1);
    tu_fill(dy, ny, seed, 3, -1, 1);
    tu_fill(dw0, nw, seed, 4, -1, 1);
    double *xd = tu_alloc(nx * sizeof(double)), *wd = tu_alloc(nw * sizeof(double));
    double *dyd = tu_alloc(ny * sizeof(double));
    double *yr = tu_alloc(ny * sizeof(double)), *dxr = tu_alloc(nx * sizeof(double));
    double *dwr = tu_alloc(nw * sizeof(double)), *dwa = tu_alloc(nw * sizeof(double));
    double *wrot = tu_alloc(nw * sizeof(double));
    double *Ey = tu_alloc(ny * sizeof(double)), *Ex = tu_alloc(nx * sizeof(double));
    double *Ew = tu_alloc(nw * sizeof(double));
    tu_f2d(x, xd, nx);
    tu_f2d(w, wd, nw);
    tu_f2d(dy, dyd, ny);
    tu_f2d(dw0, dwa, nw);
    ref_conv2d_fwd(&s, xd, wd, yr);
    ref_conv2d_bwd_data(&s, dyd, wd, dxr);
    ref_conv2d_bwd_filter(&s, xd, dyd, dwr, 0);
    ref_conv2d_bwd_filter(&s, xd, dyd, dwa, 1);
    /* backward data as a convolution: wrot[c][k][r][s] = w[k][c][2-r][2-s] */
    for (int k = 0; k < s.K; k++)
        for (int c = 0; c < s.C; c++)
            for (int rs = 0; rs < 9; rs++)
                wrot[((size_t)c * s.K + k) * 9 + rs] = wd[((size_t)k * s.C + c) * 9 + 8 - rs];

    const size_t wsb = sg_cpu_winograd_workspace_bytes(&s);
    CHECK(wsb > 0, "%s: workspace 0", wc->what);
    void *work = tu_alloc(wsb);
    float *y = tu_alloc(ny * sizeof(float)), *y2 = tu_alloc(ny * sizeof(float));
    float *dx = tu_alloc(nx * sizeof(float)), *dx2 = tu_alloc(nx * sizeof(float));
    float *dwk = tu_alloc(nw * sizeof(float)), *dwk2 = tu_alloc(nw * sizeof(float));
    /* results of the first run of each variant, for the bit-identical checks */
    float *keep_y = tu_alloc(ny * sizeof(float)), *keep_dx = tu_alloc(nx * sizeof(float));
    float *keep_dw = tu_alloc(nw * sizeof(float));

    int last_m = 0;
    for (int v = 0; v < nvariants; v++) {
        const variant *var = &variants[v];
        CHECK(sg_cpu_winograd_force(var->m, var->isa, var->gemm) == 0, "cannot select %s",
              var->name);
        CHECK(sg_cpu_winograd_tile(&s) == var->m, "%s: tile %d", var->name,
              sg_cpu_winograd_tile(&s));
        if (var->m != last_m) { /* the bounds depend on the tile size only */
            wmat wm = wmat_make(var->m);
            bound_conv(&wm, s.N, s.C, s.H, s.W, s.pad, s.K, s.P, s.Q, xd, wd, Ey);
            bound_conv(&wm, s.N, s.K, s.P, s.Q, 2 - s.pad, s.C, s.H, s.W, dyd, wrot, Ex);
            bound_filter(&wm, &s, xd, dyd, Ew);
            last_m = var->m;
        }
        const wmat wm = wmat_make(var->m);
        const double tiles = (double)s.N * ((s.P + var->m - 1) / var->m) * ((s.Q + var->m - 1) / var->m);
        for (int threads = 1; threads <= 2; threads++) {
            sg_cpu_set_threads(threads);
            for (int rep = 0; rep < 2; rep++) {
                float *yo = rep ? y2 : y, *dxo = rep ? dx2 : dx, *dwo = rep ? dwk2 : dwk;
                /* NaN-filled outputs, and workspace before a variant's first calls: an element
                 * never written, or scratch read before it is written, shows up */
                const int fill = threads == 1 && rep == 0;
                if (fill) memset(work, 0xff, wsb);
                memset(yo, 0xff, ny * sizeof(float));
                sg_cpu_winograd_fwd(&s, x, w, yo, work);
                if (fill) memset(work, 0xff, wsb);
                memset(dxo, 0xff, nx * sizeof(float));
                sg_cpu_winograd_bwd_data(&s, dy, w, dxo, work);
                if (fill) memset(work, 0xff, wsb);
                memset(dwo, 0xff, nw * sizeof(float));
                sg_cpu_winograd_bwd_filter(&s, x, dy, dwo, 0, work);
            }
            CHECK(within("y", y, yr, Ey, ny, wm.nt, s.C, var->m),
                  "fwd %s, %s, %d threads: N%d C%d %dx%d K%d pad %d", wc->what, var->name, threads,
                  s.N, s.C, s.H, s.W, s.K, s.pad);
            CHECK(within("dx", dx, dxr, Ex, nx, wm.nt, s.K, var->m),
                  "bwd data %s, %s, %d threads: N%d C%d %dx%d K%d pad %d", wc->what, var->name,
                  threads, s.N, s.C, s.H, s.W, s.K, s.pad);
            CHECK(within("dw", dwk, dwr, Ew, nw, wm.nt, tiles, var->m),
                  "bwd filter %s, %s, %d threads: N%d C%d %dx%d K%d pad %d", wc->what, var->name,
                  threads, s.N, s.C, s.H, s.W, s.K, s.pad);
            CHECK(!memcmp(y, y2, ny * sizeof(float)) && !memcmp(dx, dx2, nx * sizeof(float)) &&
                      !memcmp(dwk, dwk2, nw * sizeof(float)),
                  "%s, %s, %d threads: two runs differ", wc->what, var->name, threads);
            /* the design computes every element in one thread: 1 and 2 threads agree too */
            if (threads == 1) {
                memcpy(keep_y, y, ny * sizeof(float));
                memcpy(keep_dx, dx, nx * sizeof(float));
                memcpy(keep_dw, dwk, nw * sizeof(float));
            } else {
                CHECK(!memcmp(y, keep_y, ny * sizeof(float)) &&
                          !memcmp(dx, keep_dx, nx * sizeof(float)) &&
                          !memcmp(dwk, keep_dw, nw * sizeof(float)),
                      "%s, %s: 1 and 2 threads differ", wc->what, var->name);
            }
            /* accumulate: dw0 + gradient */
            memcpy(dwk, dw0, nw * sizeof(float));
            sg_cpu_winograd_bwd_filter(&s, x, dy, dwk, 1, work);
            CHECK(within("dw accumulated", dwk, dwa, Ew, nw, wm.nt, tiles, var->m),
                  "bwd filter accumulate %s, %s, %d threads", wc->what, var->name, threads);
        }
    }
    sg_cpu_winograd_force(0, SG_WINO_ISA_AUTO, SG_WINO_GEMM_AUTO);
    free(x), free(w), free(dy), free(dw0), free(xd), free(wd), free(dyd), free(yr), free(dxr);
    free(dwr), free(dwa), free(wrot), free(Ey), free(Ex), free(Ew), free(work), free(y), free(y2);
    free(dx), free(dx2), free(dwk), free(dwk2), free(keep_y), free(keep_dx), free(keep_dw);
}

/* ---- shapes it takes and refuses ---------------------------------------------------------- */

static void check_supports(void) {
    static const int ok[][9] = {
        /* N C H W K R S stride pad */
        {2, 3, 8, 8, 4, 3, 3, 1, 1}, {1, 1, 3, 3, 1, 3, 3, 1, 0}, {2, 2, 1, 1, 2, 3, 3, 1, 2},
        {64, 64, 24, 24, 64, 3, 3, 1, 1},
    };
    static const int refused[][9] = {
        {2, 3, 8, 8, 4, 3, 3, 2, 1}, /* stride 2 */
        {2, 3, 8, 8, 4, 1, 1, 1, 0}, /* 1x1 */
        {2, 3, 8, 8, 4, 7, 7, 2, 3}, /* the 7x7 stem */
        {2, 3, 8, 8, 4, 5, 5, 1, 2}, /* 5x5 */
        {2, 3, 8, 8, 4, 3, 3, 1, 3}, /* pad 3 */
        {2, 3, 8, 8, 4, 3, 1, 1, 1}, /* 3x1 */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const int *a = ok[i];
        sg_conv_shape s = sg_conv_shape_make(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
        CHECK(sg_cpu_winograd_supports(&s) && sg_cpu_winograd_workspace_bytes(&s) > 0,
              "supports() refuses valid shape %zu", i);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const int *a = refused[i];
        sg_conv_shape s = sg_conv_shape_make(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]);
        CHECK(!sg_cpu_winograd_supports(&s) && sg_cpu_winograd_workspace_bytes(&s) == 0,
              "supports() takes shape %zu (%dx%d/%d pad %d)", i, a[5], a[6], a[7], a[8]);
    }
    /* a shape whose P, Q do not follow from its geometry (not made by sg_conv_shape_make) */
    sg_conv_shape bad = sg_conv_shape_make(2, 3, 8, 8, 4, 3, 3, 1, 1);
    bad.P = 7;
    CHECK(!sg_cpu_winograd_supports(&bad), "supports() takes an inconsistent P");
    /* the automatic tile size: F(4x4) where it needs fewer multiplications */
    static const int planes[][2] = {{24, 4}, {12, 4}, {6, 3}, {3, 3}, {2, 2}, {5, 3}, {8, 4}, {1, 2}};
    for (size_t i = 0; i < sizeof planes / sizeof planes[0]; i++) {
        sg_conv_shape s = sg_conv_shape_make(1, 1, planes[i][0], planes[i][0], 1, 3, 3, 1, 1);
        CHECK(sg_cpu_winograd_tile(&s) == planes[i][1], "tile for %dx%d: %d, want %d",
              planes[i][0], planes[i][0], sg_cpu_winograd_tile(&s), planes[i][1]);
    }
    CHECK(sg_cpu_winograd_force(5, SG_WINO_ISA_AUTO, SG_WINO_GEMM_AUTO) == -1,
          "force accepts m = 5");
    CHECK(sg_cpu_winograd_force(0, SG_WINO_ISA_AUTO, (sg_wino_gemm)9) == -1,
          "force accepts an unknown sgemm");
}

int main(void) {
    check_supports();
    /* both tile sizes on each vector path with OpenBLAS's sgemm, then on the CPU's own path with
     * oneDNN's */
    const sg_wino_gemm ob = SG_WINO_GEMM_OPENBLAS, dn = SG_WINO_GEMM_DNNL;
    variants[nvariants++] = (variant){2, SG_WINO_ISA_AVX2, ob, "F(2x2,3x3) avx2 openblas"};
    variants[nvariants++] = (variant){3, SG_WINO_ISA_AVX2, ob, "F(3x3,3x3) avx2 openblas"};
    variants[nvariants++] = (variant){4, SG_WINO_ISA_AVX2, ob, "F(4x4,3x3) avx2 openblas"};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        variants[nvariants++] = (variant){2, SG_WINO_ISA_AVX512, ob, "F(2x2,3x3) avx512 openblas"};
        variants[nvariants++] = (variant){3, SG_WINO_ISA_AVX512, ob, "F(3x3,3x3) avx512 openblas"};
        variants[nvariants++] = (variant){4, SG_WINO_ISA_AVX512, ob, "F(4x4,3x3) avx512 openblas"};
    } else {
        CHECK(sg_cpu_winograd_force(0, SG_WINO_ISA_AVX512, ob) == -1,
              "AVX-512 path selectable on a CPU without AVX-512F");
        printf("no AVX-512F on this CPU: the AVX-512 path is not run\n");
    }
    const char *why = NULL;
    if (sg_cpu_dnnl_available(&why)) {
        variants[nvariants++] = (variant){2, SG_WINO_ISA_AUTO, dn, "F(2x2,3x3) dnnl_sgemm"};
        variants[nvariants++] = (variant){3, SG_WINO_ISA_AUTO, dn, "F(3x3,3x3) dnnl_sgemm"};
        variants[nvariants++] = (variant){4, SG_WINO_ISA_AUTO, dn, "F(4x4,3x3) dnnl_sgemm"};
        CHECK(sg_cpu_winograd_force(0, SG_WINO_ISA_AUTO, dn) == 0 &&
                  !strcmp(sg_cpu_winograd_gemm(), "dnnl"),
              "oneDNN's sgemm asked for, %s reported", sg_cpu_winograd_gemm());
    } else {
        CHECK(sg_cpu_winograd_force(0, SG_WINO_ISA_AUTO, dn) == -1,
              "oneDNN's sgemm selectable without oneDNN");
        printf("oneDNN: %s: its sgemm is not run\n", why);
    }
    /* the default is OpenBLAS's (allocation-free) sgemm, with or without oneDNN */
    CHECK(sg_cpu_winograd_force(0, SG_WINO_ISA_AUTO, SG_WINO_GEMM_AUTO) == 0 &&
              !strcmp(sg_cpu_winograd_gemm(), "openblas"),
          "automatic sgemm is %s", sg_cpu_winograd_gemm());

    /* ResNet-18 on 96x96 STL-10: every 3x3 stride-1 conv (after the stem and max-pool) at batch
     * 1 (the double-precision references and bounds dominate the test's time); then the lane
     * groups: 18 images = one full group of 16 (two of 8) and a partial one. */
    static const wcase fixed[] = {
        {1, 64, 24, 24, 64, 1, "resnet18 stl10 layer1 64ch 24x24"},
        {1, 128, 12, 12, 128, 1, "resnet18 stl10 layer2 128ch 12x12"},
        {1, 256, 6, 6, 256, 1, "resnet18 stl10 layer3 256ch 6x6"},
        {1, 512, 3, 3, 512, 1, "resnet18 stl10 layer4 512ch 3x3"},
        {18, 12, 24, 24, 20, 1, "18 images, full and partial lane groups"},
        {17, 5, 13, 11, 3, 1, "17 images, odd plane"},
        {3, 4, 1, 1, 5, 1, "1x1 plane"},
        {2, 3, 7, 9, 4, 0, "pad 0"},
        {2, 3, 5, 6, 4, 2, "pad 2"},
        {1, 40, 37, 70, 9, 1, "wide plane: several strips per tile row"},
    };
    int ncases = (int)(sizeof fixed / sizeof fixed[0]);
    for (int i = 0; i < ncases; i++) check_case(&fixed[i], 500 + i);

    sg_rng r;
    sg_rng_init(&r, 77, 0, 0, 0);
    for (int i = 0; i < 12; i++) {
        wcase c;
        c.pad = tu_randint(&r, 0, 2);
        c.N = tu_randint(&r, 1, 20);
        c.C = tu_randint(&r, 1, 20);
        c.K = tu_randint(&r, 1, 20);
        c.H = tu_randint(&r, 3 - 2 * c.pad > 1 ? 3 - 2 * c.pad : 1, 20);
        c.W = tu_randint(&r, 3 - 2 * c.pad > 1 ? 3 - 2 * c.pad : 1, 20);
        c.what = "random";
        check_case(&c, 700 + i);
    }
    printf("worst err / (u E): F(2x2) %.3g, F(3x3) %.3g, F(4x4) %.3g\n", worst_ratio[2],
           worst_ratio[3], worst_ratio[4]);
    return test_finish();
}
