/* kernels/cpu/conv_winograd.c: Winograd convolution (3x3, stride 1) for the CPU backend with
 * output tiles of 2x2, 3x3 or 4x4 (F(m x m, 3x3), m = 2, 3, 4): the driver (plan, blocking,
 * sgemms, OpenMP) and the AVX2 build of the vector kernels (conv_winograd_kern.h;
 * conv_winograd_avx512.c builds the AVX-512 one).
 *
 * Forward, with alpha = m + 2, xi = one of the alpha^2 transformed tile positions:
 *   U[K][xi][C]  = G w[k][c] G^T                       (filter transform)
 *   V[C][xi][TB] = B^T d B for a block of TB tiles      (input transform)
 *   M[.][xi][.]  = U[.][xi][.] V[.][xi][.]              (alpha^2 sgemms [K,C] x [C,TB])
 *   y tiles      = A^T M[k][.][t] A                     (output transform)
 * Backward data is the same with dy as input, the filter rotated by 180 degrees and C and K
 * swapped (U'[C][xi][K]), padding 2 - pad. Backward filter uses the dual algorithm F(3, m):
 *   D[K][xi][TB] = A e A^T (dy tiles), X[C][xi][TB] = B^T d B (x tiles, as forward),
 *   W[.][xi][.] += D[.][xi][.] X[.][xi][.]^T over the blocks (alpha^2 sgemms [K,TB] x [TB,C]),
 *   dw[k][c]    (+)= G^T W[k][.][c] G.
 * Transformed data is stored channel-major, [channel][xi][...]: each transform writes one
 * contiguous block (xi-major, the filter transform's 36 stores per filter group landed 1 MB
 * apart at 512 channels and ran 1.4x slower); the sgemm of one xi reads its strided rows with a
 * leading dimension of alpha^2 rows.
 *
 * Blocking: the tiles are processed TB at a time so that a block's V and M (alpha^2 (C+K) TB
 * floats) stay in the caches between the transforms and the sgemms, instead of going to memory
 * and back as whole-batch buffers would (at 24x24x64, F(4x4): 21 MB each).
 *
 * Threads: one OpenMP region per call; transforms split over channels, the alpha^2 sgemms of a
 * block split over xi, each a single-threaded sgemm (OpenBLAS and oneDNN run single-threaded
 * inside our parallel regions). Every output element is computed by one thread in a fixed order
 * (one sgemm call sums over its K dimension alone, the blocks of the filter gradient are summed
 * in block order), so results do not depend on the thread count at all (the test checks 1 and
 * 2 threads bit for bit).
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <cblas.h>

#include "core/base/err.h"
#include "kernels/cpu/conv_algos.h"

#define WINO_VL 8
#define WINO_TABLE sg_wino_kernels_avx2
#include "kernels/cpu/conv_winograd_kern.h"

/* A block's V and M together stay under this... */
#define WINO_BLOCK_BYTES ((size_t)2 << 20)
/* ...unless that gives fewer tiles than this: U (alpha^2 K C floats, 26 MB at 512 channels) is
 * read once per block, and below ~64 tiles the sgemms would wait on it. (1 to 4 MB blocks and a
 * minimum of 64 or 128 tiles measured the same at the ResNet-18 STL-10 shapes; 8 MB slower.) */
#define WINO_TB_MIN 64

/* U larger than this is written with non-temporal stores: it would not stay in the caches until
 * its sgemms, and streaming spares the read-for-ownership of every line (512 channels, F(3x3):
 * 26 MB; forward and backward data 20% faster there). */
#define WINO_STREAM_BYTES ((size_t)12 << 20)

static int forced_m = 0;
static sg_wino_isa forced_isa = SG_WINO_ISA_AUTO;
static sg_wino_gemm forced_gemm = SG_WINO_GEMM_AUTO;

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

static const wino_kernels *kernels(void) {
    if (forced_isa == SG_WINO_ISA_AVX2) return &sg_wino_kernels_avx2;
    if (forced_isa == SG_WINO_ISA_AVX512 || cpu_has_avx512()) return &sg_wino_kernels_avx512;
    return &sg_wino_kernels_avx2;
}

/* OpenBLAS unless oneDNN's sgemm is asked for (it allocates on every call; see conv_algos.h). */
/* AUTO follows the backend's sgemm (gemm.impl, sg_cpu_set_gemm_impl) */
static int use_dnnl(void) {
    return forced_gemm == SG_WINO_GEMM_DNNL ||
           (forced_gemm == SG_WINO_GEMM_AUTO && sg_cpu_get_gemm_impl() == SG_GEMM_DNNL);
}

int sg_cpu_winograd_force(int m, sg_wino_isa isa, sg_wino_gemm gemm) {
    if (m != 0 && (m < 2 || m > 4)) return -1;
    if (isa != SG_WINO_ISA_AUTO && isa != SG_WINO_ISA_AVX2 && isa != SG_WINO_ISA_AVX512) return -1;
    if (isa == SG_WINO_ISA_AVX512 && !cpu_has_avx512()) return -1;
    if (gemm != SG_WINO_GEMM_AUTO && gemm != SG_WINO_GEMM_OPENBLAS && gemm != SG_WINO_GEMM_DNNL)
        return -1;
    if (gemm == SG_WINO_GEMM_DNNL && !sg_cpu_dnnl_available(NULL)) return -1;
    forced_m = m;
    forced_isa = isa;
    forced_gemm = gemm;
    return 0;
}

const char *sg_cpu_winograd_isa(void) { return kernels()->name; }
const char *sg_cpu_winograd_gemm(void) { return use_dnnl() ? "dnnl" : "openblas"; }

/* Row-major C[M,N] = A[M,K] op(B) + beta C, called single-threaded from inside our parallel
 * region (both libraries then run on the calling thread only). */
static void gemm(int dnnl, int transB, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    if (dnnl)
        sg_cpu_dnnl_sgemm(0, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K,
                    1.0f, A, lda, B, ldb, beta, C, ldc);
}

int sg_cpu_winograd_supports(const sg_conv_shape *s) {
    if (!(s->R == 3 && s->S == 3 && s->stride == 1 && s->pad >= 0 && s->pad <= 2)) return 0;
    if (!(s->N > 0 && s->C > 0 && s->K > 0 && s->H > 0 && s->W > 0)) return 0;
    if (!(s->P == s->H + 2 * s->pad - 2 && s->Q == s->W + 2 * s->pad - 2 && s->P > 0 && s->Q > 0))
        return 0;
    /* int sgemm dimensions and gather indices (16 lanes * 9 C) stay well inside int */
    const size_t lim = (size_t)INT_MAX / 64;
    return (size_t)s->C * 9 < lim && (size_t)s->K * 9 < lim && (size_t)s->H * s->W < lim &&
           (size_t)s->N * s->H * s->W < lim;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static size_t round_up(size_t a, size_t b) { return (a + b - 1) / b * b; }

/* Tile size: the one with the fewest transformed-domain multiplications (alpha^2 per tile) for
 * the P x Q plane, which also makes the transformed filter (alpha^2 K C) no larger than needed;
 * ties go to the smaller tile, whose transforms are cheaper and rounding error smaller (growth
 * factors 7, 66, 256 for m = 2, 3, 4). ResNet planes: 24 and 12 take F(4x4) (36 per 16 outputs);
 * 6 and 3 take F(3x3) (F(4x4) would tile them as 8x8 and 4x4: 144 and 36 against 100 and 25). */
int sg_cpu_winograd_tile(const sg_conv_shape *s) {
    if (forced_m) return forced_m;
    int best = 2;
    long best_cost = LONG_MAX;
    for (int m = 2; m <= 4; m++) {
        long cost = (long)(m + 2) * (m + 2) * ceil_div(s->P, m) * ceil_div(s->Q, m);
        if (cost < best_cost) best = m, best_cost = cost;
    }
    return best;
}

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_FILTER };

typedef struct {
    wino_grid g;
    int cin, cout;                 /* channels transformed in, produced (bwd filter: C, K) */
    int ld;                        /* row stride of U (W for the filter gradient) */
    size_t u_floats, v_floats, m_floats;
} wino_plan;

/* A function of the shape, m and pass only (never of the vector path or the thread count), so
 * the workspace size and the passes agree. */
static wino_plan plan_make(const sg_conv_shape *s, int m, int pass) {
    SG_CHECK(sg_cpu_winograd_supports(s),
             "winograd: unsupported conv N%d C%d %dx%d K%d %dx%d/%d pad %d (P%d Q%d)", s->N, s->C,
             s->H, s->W, s->K, s->R, s->S, s->stride, s->pad, s->P, s->Q);
    wino_plan p;
    wino_grid *g = &p.g;
    g->m = m;
    g->alpha = m + 2;
    g->N = s->N;
    if (pass == PASS_BWD_DATA) { /* dx = conv(dy, rotated w), padding 2 - pad */
        g->OP = s->H, g->OQ = s->W, g->IH = s->P, g->IW = s->Q, g->ipad = 2 - s->pad;
        p.cin = s->K, p.cout = s->C;
    } else { /* forward; the filter gradient tiles dy's P x Q plane the same way */
        g->OP = s->P, g->OQ = s->Q, g->IH = s->H, g->IW = s->W, g->ipad = s->pad;
        p.cin = s->C, p.cout = s->K;
    }
    g->TX = ceil_div(g->OQ, m);
    g->TPI = ceil_div(g->OP, m) * g->TX;
    const size_t a2 = (size_t)g->alpha * g->alpha;
    /* the most tiles a pass has: images rounded up to the widest vector path's 16 lanes */
    const size_t tmax = round_up((size_t)s->N, 16) * (size_t)g->TPI;
    size_t tb = WINO_BLOCK_BYTES / (a2 * (size_t)(s->C + s->K) * sizeof(float)) / 16 * 16;
    if (tb < WINO_TB_MIN) tb = WINO_TB_MIN;
    if (tb > tmax) tb = tmax;
    g->TB = (int)tb;
    /* U / W rows padded to 16 floats: the vector kernels store and load whole rows of lanes */
    if (pass == PASS_BWD_DATA) {
        p.ld = (int)round_up((size_t)s->K, 16);
        p.u_floats = a2 * (size_t)s->C * p.ld;
    } else {
        p.ld = (int)round_up((size_t)s->C, 16);
        p.u_floats = a2 * (size_t)s->K * p.ld;
    }
    if (pass == PASS_BWD_FILTER) { /* X[xi][C][TB], D[xi][K][TB] */
        p.v_floats = a2 * (size_t)s->C * tb;
        p.m_floats = a2 * (size_t)s->K * tb;
    } else {
        p.v_floats = a2 * (size_t)p.cin * tb;
        p.m_floats = a2 * (size_t)p.cout * tb;
    }
    return p;
}

/* Each region starts on a 64-byte boundary; the base is aligned up inside the workspace. */
#define WS_ALIGN 64
static size_t plan_bytes(const wino_plan *p) {
    return WS_ALIGN + round_up(p->u_floats * sizeof(float), WS_ALIGN) +
           round_up(p->v_floats * sizeof(float), WS_ALIGN) +
           round_up(p->m_floats * sizeof(float), WS_ALIGN);
}

size_t sg_cpu_winograd_workspace_bytes(const sg_conv_shape *s) {
    if (!sg_cpu_winograd_supports(s)) return 0;
    size_t most = 0;
    for (int m = 2; m <= 4; m++)
        for (int pass = PASS_FWD; pass <= PASS_BWD_FILTER; pass++) {
            wino_plan p = plan_make(s, m, pass);
            size_t b = plan_bytes(&p);
            if (b > most) most = b;
        }
    return most;
}

typedef struct {
    float *u, *v, *m;
} wino_ws;

static wino_ws carve(const wino_plan *p, void *workspace) {
    SG_CHECK(workspace != NULL, "winograd conv needs a workspace");
    uintptr_t a = ((uintptr_t)workspace + WS_ALIGN - 1) & ~(uintptr_t)(WS_ALIGN - 1);
    wino_ws w;
    w.u = (float *)a;
    w.v = (float *)(a + round_up(p->u_floats * sizeof(float), WS_ALIGN));
    w.m = (float *)((char *)w.v + round_up(p->v_floats * sizeof(float), WS_ALIGN));
    return w;
}

/* Forward (pass PASS_FWD: in = x, out = y) and backward data (in = dy, out = dx). */
static void wino_conv(const sg_conv_shape *s, int pass, const float *in, const float *w,
                      float *out, void *workspace) {
    const wino_plan p = plan_make(s, sg_cpu_winograd_tile(s), pass);
    const wino_kernels *kt = kernels();
    const wino_grid *g = &p.g;
    const wino_ws ws = carve(&p, workspace);
    const int m = g->m, a2 = g->alpha * g->alpha, vl = kt->vl, cin = p.cin, cout = p.cout;
    /* U[cout][xi][ld], V[cin][xi][TB], M[cout][xi][TB]: row strides rs_*, xi strides xs_* */
    const size_t rs_u = (size_t)a2 * p.ld, rs_v = (size_t)a2 * g->TB, rs_m = rs_v;
    const size_t xs_u = p.ld, xs_v = g->TB, xs_m = g->TB;
    /* U[xi][a][b] from w[k][c]: forward a = k, b = c; backward data a = c, b = k, rotated */
    const int fwd = pass == PASS_FWD;
    const int sa = fwd ? s->C * 9 : 9, sb = fwd ? 9 : s->C * 9;
    const int stream = p.u_floats * sizeof(float) > WINO_STREAM_BYTES, dnnl = use_dnnl();
    const long nslots = (long)ceil_div(s->N, vl) * g->TPI, per_block = g->TB / vl;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int a = 0; a < cout; a++)
            kt->filter(m, w, a, cin, sa, sb, !fwd, ws.u, rs_u, xs_u, stream);
        for (long s0 = 0; s0 < nslots; s0 += per_block) {
            const int ns = (int)(nslots - s0 < per_block ? nslots - s0 : per_block);
#pragma omp for schedule(static)
            for (int c = 0; c < cin; c++)
                kt->input(g, in, cin, c, s0, ns, ws.v, rs_v, xs_v);
#pragma omp for schedule(static)
            for (int xi = 0; xi < a2; xi++)
                gemm(dnnl, 0, cout, ns * vl, cin, ws.u + xi * xs_u, (int)rs_u, ws.v + xi * xs_v,
                     (int)rs_v, 0.0f, ws.m + xi * xs_m, (int)rs_m);
#pragma omp for schedule(static)
            for (int k = 0; k < cout; k++)
                kt->output(g, ws.m, cout, k, s0, ns, rs_m, xs_m, out);
        }
    }
}

void sg_cpu_winograd_fwd(const sg_conv_shape *s, const float *x, const float *w, float *y,
                         void *workspace) {
    wino_conv(s, PASS_FWD, x, w, y, workspace);
}

void sg_cpu_winograd_bwd_data(const sg_conv_shape *s, const float *dy, const float *w, float *dx,
                              void *workspace) {
    wino_conv(s, PASS_BWD_DATA, dy, w, dx, workspace);
}

void sg_cpu_winograd_bwd_filter(const sg_conv_shape *s, const float *x, const float *dy,
                                float *dw, int accumulate, void *workspace) {
    const wino_plan p = plan_make(s, sg_cpu_winograd_tile(s), PASS_BWD_FILTER);
    const wino_kernels *kt = kernels();
    const wino_grid *g = &p.g;
    const wino_ws ws = carve(&p, workspace);
    const int m = g->m, a2 = g->alpha * g->alpha, vl = kt->vl, C = s->C, K = s->K;
    const int dnnl = use_dnnl();
    /* W = ws.u [K][xi][ld], X = ws.v [C][xi][TB], D = ws.m [K][xi][TB] */
    const size_t rs_w = (size_t)a2 * p.ld, rs_x = (size_t)a2 * g->TB, rs_d = rs_x;
    const size_t xs_w = p.ld, xs_x = g->TB, xs_d = g->TB;
    const long nslots = (long)ceil_div(s->N, vl) * g->TPI, per_block = g->TB / vl;
#pragma omp parallel
    {
        for (long s0 = 0; s0 < nslots; s0 += per_block) {
            const int ns = (int)(nslots - s0 < per_block ? nslots - s0 : per_block);
#pragma omp for schedule(static) nowait
            for (int c = 0; c < C; c++) kt->input(g, x, C, c, s0, ns, ws.v, rs_x, xs_x);
#pragma omp for schedule(static)
            for (int k = 0; k < K; k++) kt->dy(g, dy, K, k, s0, ns, ws.m, rs_d, xs_d);
            /* W[xi][K][C] (+)= D[xi][K][ns*vl] X[xi][C][ns*vl]^T; blocks summed in order */
#pragma omp for schedule(static)
            for (int xi = 0; xi < a2; xi++)
                gemm(dnnl, 1, K, C, ns * vl, ws.m + xi * xs_d, (int)rs_d, ws.v + xi * xs_x,
                     (int)rs_x, s0 ? 1.0f : 0.0f, ws.u + xi * xs_w, (int)rs_w);
        }
#pragma omp for schedule(static)
        for (int k = 0; k < K; k++)
            kt->filter_grad(m, ws.u, k, C, rs_w, xs_w, dw, accumulate);
    }
}
