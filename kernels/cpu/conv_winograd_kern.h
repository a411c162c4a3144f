/* kernels/cpu/conv_winograd_kern.h: the vector kernels of the Winograd convolution, written once
 * and compiled twice: by conv_winograd.c with 8 lanes (AVX2, the build's baseline) and by
 * conv_winograd_avx512.c with 16 lanes (-mavx512f, called only where the CPU has AVX-512F).
 * The driver (blocking, sgemms, OpenMP) in conv_winograd.c reaches them through wino_kernels.
 *
 * Lanes are images. A slot is one tile position (ty, tx) of a group of VL consecutive images, so
 * a transformed tile of a slot is VL contiguous floats of an sgemm operand: transforms load and
 * store whole vectors, and the only shuffling is the 8x8 transposes that move NCHW rows
 * (contiguous along the width) into [row][col][image] strips and back. Images past N are zero
 * lanes; their results are never stored.
 *
 * Transforms (Lavin & Gray 2016), 1D, applied to columns then rows of a tile:
 *   F(2,3), alpha 4, points 0, 1, -1, inf;  F(3,3), alpha 5, points 0, 1, -1, 2, inf;
 *   F(4,3), alpha 6, points 0, 1, -1, 2, -2, inf. (Toom-Cook; the F(3,3) matrices were derived
 *   exactly in rational arithmetic, with the non-integer constants kept in G.)
 *   forward / backward data:  y = A^T [ (G g G^T) .* (B^T d B) ] A
 *   filter gradient, the dual F(3,m) with the same points (T_ijk = [k = i + j] read the other
 *   way round: A^T' = G^T, G' = A, B^T' = B^T):  dw = G^T [ (A e A^T) .* (B^T d B) ] G
 *   with d an alpha x alpha input tile and e the m x m dy tile.
 */
#pragma once
#include <stddef.h>

#define WINO_MAX_ALPHA 6
/* Tiles per strip: one repack (transpose) serves up to this many tiles of a tile row. */
#define WINO_CHUNK 8

/* One pass's tiling. Tiles cover the OP x OQ plane (the output of fwd / bwd data, dy of bwd
 * filter) in m x m squares; tile (ty, tx) reads the alpha x alpha input window whose corner is
 * (ty*m - ipad, tx*m - ipad) of the IH x IW input plane (zero outside). */
typedef struct {
    int m, alpha;
    int N;
    int OP, OQ;
    int TX, TPI; /* tiles per row, per image */
    int IH, IW, ipad;
    int TB; /* tiles per block: the sgemms' column count; row stride of the V / M blocks */
} wino_grid;

typedef struct {
    int vl;           /* lanes (images per slot) */
    const char *name; /* "avx2", "avx512" */
    /* Transformed data: element (row, xi, col) at row*rs + xi*xs + col. The driver stores rows
     * (channels) outermost, [row][xi][col], so that each transform writes one contiguous block;
     * the sgemm for one xi then takes its operand with leading dimension rs. */
    /* U(a, xi, b) = (G g G^T)[xi] for b in [0, nb) of one a, with
     * g[r][s] = w[a*sa + b*sb + (rot ? 8 - 3r - s : 3r + s)]. Columns nb .. nb rounded up to
     * 16 are written too (copies of column nb - 1), never read by the sgemm. stream != 0:
     * non-temporal stores (U aligned to 64 bytes, rs and xs multiples of 16), for a U too large
     * to stay in the caches until its sgemm: no read-for-ownership of the lines it overwrites. */
    void (*filter)(int m, const float *w, int a, int nb, int sa, int sb, int rot, float *U,
                   size_t rs, size_t xs, int stream);
    /* V(c, xi, t) = (B^T d B)[xi] for the tiles t of slots [s0, s0 + ns) (t counted from s0),
     * d read from channel c of in[N][Cin][IH][IW]. */
    void (*input)(const wino_grid *g, const float *in, int Cin, int c, long s0, int ns, float *V,
                  size_t rs, size_t xs);
    /* out[n][k] over the slots' tiles = A^T M(k, ., t) A, clipped to the OP x OQ plane. */
    void (*output)(const wino_grid *g, const float *M, int Cout, int k, long s0, int ns,
                   size_t rs, size_t xs, float *out);
    /* D(k, xi, t) = (A e A^T)[xi], e the m x m tile of channel k of dy[N][K][OP][OQ]. */
    void (*dy)(const wino_grid *g, const float *dy, int K, int k, long s0, int ns, float *D,
               size_t rs, size_t xs);
    /* dw[k][c][3][3] (+)= G^T W(k, ., c) G for c in [0, C). */
    void (*filter_grad)(int m, const float *W, int k, int C, size_t rs, size_t xs, float *dw,
                        int accumulate);
} wino_kernels;

extern const wino_kernels sg_wino_kernels_avx2;
extern const wino_kernels sg_wino_kernels_avx512;

/* ---- the template: the including file defines WINO_VL (8 or 16) and WINO_TABLE ------------- */
#ifdef WINO_VL

#include <immintrin.h>
#include <string.h>

#if WINO_VL == 16
typedef __m512 vf;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSTREAM(p, v) _mm512_stream_ps((p), (v))
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VFMA _mm512_fmadd_ps   /* a*b + c */
#define VFNMA _mm512_fnmadd_ps /* c - a*b */
#define VSET1 _mm512_set1_ps
#define VZERO _mm512_setzero_ps
typedef __m512i vi;
#define VGATHER(base, idx) _mm512_i32gather_ps((idx), (base), 4)
#define VIDX_STRIDE(b0, nb, sb) wino_idx16((b0), (nb), (sb))
static inline __m512i wino_idx16(int b0, int nb, int sb) {
    int ix[16];
    for (int l = 0; l < 16; l++) ix[l] = (b0 + l < nb ? l : nb - 1 - b0) * sb;
    return _mm512_loadu_si512(ix);
}
#elif WINO_VL == 8
typedef __m256 vf;
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSTREAM(p, v) _mm256_stream_ps((p), (v))
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VFMA _mm256_fmadd_ps
#define VFNMA _mm256_fnmadd_ps
#define VSET1 _mm256_set1_ps
#define VZERO _mm256_setzero_ps
typedef __m256i vi;
#define VGATHER(base, idx) _mm256_i32gather_ps((base), (idx), 4)
#define VIDX_STRIDE(b0, nb, sb) wino_idx8((b0), (nb), (sb))
static inline __m256i wino_idx8(int b0, int nb, int sb) {
    int ix[8];
    for (int l = 0; l < 8; l++) ix[l] = (b0 + l < nb ? l : nb - 1 - b0) * sb;
    return _mm256_loadu_si256((const __m256i *)ix);
}
#else
#error "WINO_VL must be 8 or 16"
#endif

#define WINO_INLINE static inline __attribute__((always_inline))

/* ---- 1D transforms on vectors: o[i*os] from d[j*ds] --------------------------------------- */

/* B^T, alpha 4: rows [1 0 -1 0] [0 1 1 0] [0 -1 1 0] [0 1 0 -1] */
WINO_INLINE void bt4(const vf *d, int ds, vf *o, int os) {
    vf d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds];
    o[0] = VSUB(d0, d2);
    o[os] = VADD(d1, d2);
    o[2 * os] = VSUB(d2, d1);
    o[3 * os] = VSUB(d1, d3);
}
/* B^T, alpha 6: [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0] [0 -2 -1 2 1 0]
 * [0 2 -1 -2 1 0] [0 4 0 -5 0 1] */
WINO_INLINE void bt6(const vf *d, int ds, vf *o, int os) {
    const vf c4 = VSET1(4.0f), c5 = VSET1(5.0f), c2 = VSET1(2.0f);
    vf d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds], d5 = d[5 * ds];
    vf t1 = VFNMA(c4, d2, d4); /* d4 - 4 d2 */
    vf t2 = VFNMA(c4, d1, d3); /* d3 - 4 d1 */
    vf t3 = VSUB(d4, d2);
    vf t4 = VMUL(c2, VSUB(d3, d1));
    o[0] = VFNMA(c5, d2, VFMA(c4, d0, d4));
    o[os] = VADD(t1, t2);
    o[2 * os] = VSUB(t1, t2);
    o[3 * os] = VADD(t3, t4);
    o[4 * os] = VSUB(t3, t4);
    o[5 * os] = VFNMA(c5, d3, VFMA(c4, d1, d5));
}
/* B^T, alpha 5: [2 -1 -2 1 0] [0 -2 -1 1 0] [0 2 -3 1 0] [0 -1 0 1 0] [0 2 -1 -2 1] */
WINO_INLINE void bt5(const vf *d, int ds, vf *o, int os) {
    const vf c2 = VSET1(2.0f);
    vf d0 = d[0], d1 = d[ds], d2 = d[2 * ds], d3 = d[3 * ds], d4 = d[4 * ds];
    vf t = VSUB(d3, d1);
    o[0] = VFMA(c2, VSUB(d0, d2), t);
    o[os] = VSUB(t, VADD(d1, d2));
    o[2 * os] = VFNMA(VSET1(3.0f), d2, VFMA(c2, d1, d3));
    o[3 * os] = t;
    o[4 * os] = VFMA(c2, VSUB(d1, d3), VSUB(d4, d2));
}
/* A^T, m 2: [1 1 1 0] [0 1 -1 -1] */
WINO_INLINE void at4(const vf *d, int ds, vf *o, int os) {
    vf d1 = d[ds], d2 = d[2 * ds];
    o[0] = VADD(VADD(d[0], d1), d2);
    o[os] = VSUB(VSUB(d1, d2), d[3 * ds]);
}
/* A^T, m 3: [1 1 1 1 0] [0 1 -1 2 0] [0 1 1 4 1] */
WINO_INLINE void at5(const vf *d, int ds, vf *o, int os) {
    vf s12 = VADD(d[ds], d[2 * ds]), d12 = VSUB(d[ds], d[2 * ds]), d3 = d[3 * ds];
    o[0] = VADD(VADD(d[0], s12), d3);
    o[os] = VFMA(VSET1(2.0f), d3, d12);
    o[2 * os] = VADD(VFMA(VSET1(4.0f), d3, s12), d[4 * ds]);
}
/* A^T, m 4: [1 1 1 1 1 0] [0 1 -1 2 -2 0] [0 1 1 4 4 0] [0 1 -1 8 -8 1] */
WINO_INLINE void at6(const vf *d, int ds, vf *o, int os) {
    vf s12 = VADD(d[ds], d[2 * ds]), d12 = VSUB(d[ds], d[2 * ds]);
    vf s34 = VADD(d[3 * ds], d[4 * ds]), d34 = VSUB(d[3 * ds], d[4 * ds]);
    o[0] = VADD(VADD(d[0], s12), s34);
    o[os] = VFMA(VSET1(2.0f), d34, d12);
    o[2 * os] = VFMA(VSET1(4.0f), s34, s12);
    o[3 * os] = VADD(VFMA(VSET1(8.0f), d34, d12), d[5 * ds]);
}
/* G, alpha 4: [1 0 0] [1/2 1/2 1/2] [1/2 -1/2 1/2] [0 0 1] */
WINO_INLINE void g4(const vf *d, int ds, vf *o, int os) {
    const vf h = VSET1(0.5f);
    vf g0 = d[0], g1 = d[ds], g2 = d[2 * ds];
    vf s = VMUL(h, VADD(g0, g2)), t = VMUL(h, g1);
    o[0] = g0;
    o[os] = VADD(s, t);
    o[2 * os] = VSUB(s, t);
    o[3 * os] = g2;
}
/* G, alpha 5: [1/2 0 0] [-1/2 -1/2 -1/2] [-1/6 1/6 -1/6] [1/6 1/3 2/3] [0 0 1] */
WINO_INLINE void g5(const vf *d, int ds, vf *o, int os) {
    vf g0 = d[0], g1 = d[ds], g2 = d[2 * ds], a = VADD(g0, g2);
    o[0] = VMUL(VSET1(0.5f), g0);
    o[os] = VMUL(VSET1(-0.5f), VADD(a, g1));
    o[2 * os] = VMUL(VSET1(-1.0f / 6.0f), VSUB(a, g1));
    o[3 * os] = VFMA(VSET1(1.0f / 6.0f), g0,
                     VFMA(VSET1(1.0f / 3.0f), g1, VMUL(VSET1(2.0f / 3.0f), g2)));
    o[4 * os] = g2;
}
/* G, alpha 6: [1/4 0 0] [-1/6 -1/6 -1/6] [-1/6 1/6 -1/6] [1/24 1/12 1/6] [1/24 -1/12 1/6]
 * [0 0 1] */
WINO_INLINE void g6(const vf *d, int ds, vf *o, int os) {
    vf g0 = d[0], g1 = d[ds], g2 = d[2 * ds];
    vf a = VMUL(VSET1(-1.0f / 6.0f), VADD(g0, g2)), b = VMUL(VSET1(-1.0f / 6.0f), g1);
    vf c = VFMA(VSET1(1.0f / 24.0f), g0, VMUL(VSET1(1.0f / 6.0f), g2));
    vf e = VMUL(VSET1(1.0f / 12.0f), g1);
    o[0] = VMUL(VSET1(0.25f), g0);
    o[os] = VADD(a, b);
    o[2 * os] = VSUB(a, b);
    o[3 * os] = VADD(c, e);
    o[4 * os] = VSUB(c, e);
    o[5 * os] = g2;
}
/* A (alpha x m), m 2: [1 0] [1 1] [1 -1] [0 -1] */
WINO_INLINE void a4(const vf *d, int ds, vf *o, int os) {
    vf e0 = d[0], e1 = d[ds];
    o[0] = e0;
    o[os] = VADD(e0, e1);
    o[2 * os] = VSUB(e0, e1);
    o[3 * os] = VSUB(VZERO(), e1);
}
/* A (alpha x m), m 3: [1 0 0] [1 1 1] [1 -1 1] [1 2 4] [0 0 1] */
WINO_INLINE void a5(const vf *d, int ds, vf *o, int os) {
    vf e0 = d[0], e1 = d[ds], e2 = d[2 * ds], ev = VADD(e0, e2);
    o[0] = e0;
    o[os] = VADD(ev, e1);
    o[2 * os] = VSUB(ev, e1);
    o[3 * os] = VFMA(VSET1(4.0f), e2, VFMA(VSET1(2.0f), e1, e0));
    o[4 * os] = e2;
}
/* A (alpha x m), m 4: [1 0 0 0] [1 1 1 1] [1 -1 1 -1] [1 2 4 8] [1 -2 4 -8] [0 0 0 1] */
WINO_INLINE void a6(const vf *d, int ds, vf *o, int os) {
    vf e0 = d[0], e1 = d[ds], e2 = d[2 * ds], e3 = d[3 * ds];
    vf ev = VADD(e0, e2), od = VADD(e1, e3);
    vf ev4 = VFMA(VSET1(4.0f), e2, e0), od4 = VFMA(VSET1(4.0f), e3, e1);
    o[0] = e0;
    o[os] = VADD(ev, od);
    o[2 * os] = VSUB(ev, od);
    o[3 * os] = VFMA(VSET1(2.0f), od4, ev4);
    o[4 * os] = VFNMA(VSET1(2.0f), od4, ev4);
    o[5 * os] = e3;
}
/* G^T (3 x alpha), alpha 4: [1 1/2 1/2 0] [0 1/2 -1/2 0] [0 1/2 1/2 1] */
WINO_INLINE void gt4(const vf *d, int ds, vf *o, int os) {
    const vf h = VSET1(0.5f);
    vf s = VMUL(h, VADD(d[ds], d[2 * ds]));
    o[0] = VADD(d[0], s);
    o[os] = VMUL(h, VSUB(d[ds], d[2 * ds]));
    o[2 * os] = VADD(s, d[3 * ds]);
}
/* G^T (3 x alpha), alpha 5: [1/2 -1/2 -1/6 1/6 0] [0 -1/2 1/6 1/3 0] [0 -1/2 -1/6 2/3 1] */
WINO_INLINE void gt5(const vf *d, int ds, vf *o, int os) {
    const vf h = VSET1(0.5f), sixth = VSET1(1.0f / 6.0f);
    vf v1 = d[ds], v2 = d[2 * ds], v3 = d[3 * ds];
    o[0] = VFMA(h, VSUB(d[0], v1), VMUL(sixth, VSUB(v3, v2)));
    o[os] = VFNMA(h, v1, VFMA(sixth, v2, VMUL(VSET1(1.0f / 3.0f), v3)));
    o[2 * os] = VADD(VFNMA(h, v1, VFNMA(sixth, v2, VMUL(VSET1(2.0f / 3.0f), v3))), d[4 * ds]);
}
/* G^T (3 x alpha), alpha 6: [1/4 -1/6 -1/6 1/24 1/24 0] [0 -1/6 1/6 1/12 -1/12 0]
 * [0 -1/6 -1/6 1/6 1/6 1] */
WINO_INLINE void gt6(const vf *d, int ds, vf *o, int os) {
    vf s12 = VADD(d[ds], d[2 * ds]), d21 = VSUB(d[2 * ds], d[ds]);
    vf s34 = VADD(d[3 * ds], d[4 * ds]), d34 = VSUB(d[3 * ds], d[4 * ds]);
    const vf sixth = VSET1(1.0f / 6.0f);
    o[0] = VFMA(VSET1(0.25f), d[0], VFMA(VSET1(1.0f / 24.0f), s34, VMUL(VSET1(-1.0f / 6.0f), s12)));
    o[os] = VFMA(sixth, d21, VMUL(VSET1(1.0f / 12.0f), d34));
    o[2 * os] = VADD(VMUL(sixth, VSUB(s34, s12)), d[5 * ds]);
}

/* The transform of tile size m (a compile-time constant after inlining: the branches fold). */
WINO_INLINE void bt_m(const int m, const vf *d, int ds, vf *o, int os) {
    if (m == 2) bt4(d, ds, o, os);
    else if (m == 3) bt5(d, ds, o, os);
    else bt6(d, ds, o, os);
}
WINO_INLINE void at_m(const int m, const vf *d, int ds, vf *o, int os) {
    if (m == 2) at4(d, ds, o, os);
    else if (m == 3) at5(d, ds, o, os);
    else at6(d, ds, o, os);
}
WINO_INLINE void g_m(const int m, const vf *d, int ds, vf *o, int os) {
    if (m == 2) g4(d, ds, o, os);
    else if (m == 3) g5(d, ds, o, os);
    else g6(d, ds, o, os);
}
WINO_INLINE void a_m(const int m, const vf *d, int ds, vf *o, int os) {
    if (m == 2) a4(d, ds, o, os);
    else if (m == 3) a5(d, ds, o, os);
    else a6(d, ds, o, os);
}
WINO_INLINE void gt_m(const int m, const vf *d, int ds, vf *o, int os) {
    if (m == 2) gt4(d, ds, o, os);
    else if (m == 3) gt5(d, ds, o, os);
    else gt6(d, ds, o, os);
}

/* ---- 8x8 transpose and the strip repacks (AVX2 instructions, used by both builds) --------- */

WINO_INLINE void tr8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Columns [w, w + 8) of a row of W floats, zero outside [0, W). Inside: one load. At a border of
 * a row at least 8 wide: the in-bounds 8 columns nearest to w, shifted into place by a lane
 * permute with the lanes outside the row zeroed (w - base in [-7, 7] keeps permute indices and
 * the validity test in step). Narrower rows: built in registers (through memory, the 8 scalar
 * stores and the vector reload would stall store-to-load forwarding). */
WINO_INLINE __m256 load_row8(const float *row, int w, int W) {
    if (w >= 0 && w + 8 <= W) return _mm256_loadu_ps(row + w);
    if (W >= 8) {
        const int base = w < 0 ? 0 : W - 8;
        const __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(w - base));
        const __m256i valid = _mm256_andnot_si256(
            _mm256_cmpgt_epi32(_mm256_setzero_si256(), idx), /* idx < 0 */
            _mm256_cmpgt_epi32(_mm256_set1_epi32(8), idx));  /* idx < 8 */
        const __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(row + base), idx);
        return _mm256_and_ps(v, _mm256_castsi256_ps(valid));
    }
#define COL(j) ((unsigned)(w + (j)) < (unsigned)W ? row[w + (j)] : 0.0f)
    return _mm256_setr_ps(COL(0), COL(1), COL(2), COL(3), COL(4), COL(5), COL(6), COL(7));
#undef COL
}

/* Strip width in columns for `cols` needed columns: whole 8-column transposes. */
static inline int strip_cols(int cols) { return (cols + 7) & ~7; }
/* Largest strip: alpha rows of (WINO_CHUNK * 4 + 2) columns rounded to 8, VL lanes. */
#define STRIP_FLOATS (WINO_MAX_ALPHA * ((WINO_CHUNK * 4 + 2 + 7) & ~7) * WINO_VL)

/* strip[i][j][l] = plane of image l at (h0 + i, w0 + j); zero outside [0,H) x [0,W) and for
 * lanes l >= nimg. plane0: image 0's plane; img_stride: floats between images' planes;
 * ncols a multiple of 8. */
static void load_strip(const float *plane0, size_t img_stride, int nimg, int H, int W, int h0,
                       int w0, int nrows, int ncols, float *strip) {
    for (int i = 0; i < nrows; i++) {
        float *srow = strip + (size_t)i * ncols * WINO_VL;
        const int h = h0 + i;
        if (h < 0 || h >= H) {
            memset(srow, 0, (size_t)ncols * WINO_VL * sizeof(float));
            continue;
        }
        for (int half = 0; half < WINO_VL; half += 8) {
            for (int j0 = 0; j0 < ncols; j0 += 8) {
                const int w = w0 + j0;
                __m256 r[8];
                for (int l = 0; l < 8; l++) {
                    const int n = half + l;
                    if (n >= nimg) {
                        r[l] = _mm256_setzero_ps();
                        continue;
                    }
                    r[l] = load_row8(plane0 + (size_t)n * img_stride + (size_t)h * W, w, W);
                }
                tr8(r);
                for (int j = 0; j < 8; j++) _mm256_storeu_ps(srow + (size_t)(j0 + j) * WINO_VL + half, r[j]);
            }
        }
    }
}

/* The inverse: plane of image l at (p0 + i, q0 + j) = strip[i][j][l] for rows p0 + i < P,
 * columns q0 + j < qend and lanes l < nimg; the planes' rows are Q floats apart. */
static void store_strip(const float *strip, int nrows, int ncols, float *plane0, size_t img_stride,
                        int nimg, int P, int Q, int qend, int p0, int q0) {
    for (int i = 0; i < nrows && p0 + i < P; i++) {
        const float *srow = strip + (size_t)i * ncols * WINO_VL;
        const int p = p0 + i;
        for (int half = 0; half < WINO_VL && half < nimg; half += 8) {
            for (int j0 = 0; j0 < ncols && q0 + j0 < qend; j0 += 8) {
                const int q = q0 + j0;
                __m256 r[8];
                for (int j = 0; j < 8; j++) r[j] = _mm256_loadu_ps(srow + (size_t)(j0 + j) * WINO_VL + half);
                tr8(r);
                for (int l = 0; l < 8 && half + l < nimg; l++) {
                    float *row = plane0 + (size_t)(half + l) * img_stride + (size_t)p * Q;
                    if (q + 8 <= qend) {
                        _mm256_storeu_ps(row + q, r[l]);
                    } else { /* the row's last columns: lanes j < qend - q */
                        const __m256i keep = _mm256_cmpgt_epi32(
                            _mm256_set1_epi32(qend - q), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                        _mm256_maskstore_ps(row + q, keep, r[l]);
                    }
                }
            }
        }
    }
}

/* A run: consecutive slots of one image group and tile row, at most WINO_CHUNK tiles. */
typedef struct {
    int group, ty, tx0, ntiles;
    long first; /* slot offset from the block's first slot */
} wino_run;

/* The run starting at slot s (block offset `first`), ending by `end`. */
static wino_run run_at(const wino_grid *g, long s, long first, long end) {
    wino_run r;
    r.group = (int)(s / g->TPI);
    const int pos = (int)(s % g->TPI);
    r.ty = pos / g->TX;
    r.tx0 = pos % g->TX;
    long n = g->TX - r.tx0;
    if (n > WINO_CHUNK) n = WINO_CHUNK;
    if (n > end - s) n = end - s;
    r.ntiles = (int)n;
    r.first = first;
    return r;
}

/* ---- filter transform --------------------------------------------------------------------- */

WINO_INLINE void filter_m(const int m, const float *w, int a, int nb, int sa, int sb, int rot,
                          float *U, size_t rs, size_t xs, int stream) {
    const int al = m + 2;
    const float *base = w + (size_t)a * sa;
    for (int b0 = 0; b0 < nb; b0 += WINO_VL) {
        const vi idx = VIDX_STRIDE(b0, nb, sb);
        const float *bb = base + (size_t)b0 * sb;
        vf g[9], t[WINO_MAX_ALPHA * 3], u[WINO_MAX_ALPHA * WINO_MAX_ALPHA];
        /* gathers do not start the hardware prefetcher: fetch the next group's lines (its
         * 9 VL contiguous floats when b is the channel, sb = 9; one line per lane else) */
        if (b0 + WINO_VL >= nb) {
            /* the last group */
        } else if (sb == 9) {
            for (int l = 0; l < WINO_VL * 9; l += 16)
                _mm_prefetch((const char *)(bb + WINO_VL * 9 + l), _MM_HINT_T0);
        } else {
            for (int l = 0; l < WINO_VL; l++)
                _mm_prefetch((const char *)(bb + (size_t)(WINO_VL + l) * sb), _MM_HINT_T0);
        }
        for (int tap = 0; tap < 9; tap++) g[tap] = VGATHER(bb + (rot ? 8 - tap : tap), idx);
        for (int s = 0; s < 3; s++) g_m(m, g + s, 3, t + s, 3);          /* columns */
        for (int i = 0; i < al; i++) g_m(m, t + 3 * i, 1, u + al * i, 1); /* rows */
        float *dst = U + (size_t)a * rs + b0;
        if (stream)
            for (int xi = 0; xi < al * al; xi++) VSTREAM(dst + xi * xs, u[xi]);
        else
            for (int xi = 0; xi < al * al; xi++) VSTORE(dst + xi * xs, u[xi]);
    }
}
static void k_filter(int m, const float *w, int a, int nb, int sa, int sb, int rot, float *U,
                     size_t rs, size_t xs, int stream) {
    if (m == 2) filter_m(2, w, a, nb, sa, sb, rot, U, rs, xs, stream);
    else if (m == 3) filter_m(3, w, a, nb, sa, sb, rot, U, rs, xs, stream);
    else filter_m(4, w, a, nb, sa, sb, rot, U, rs, xs, stream);
}

/* ---- input transform ---------------------------------------------------------------------- */

WINO_INLINE void input_m(const int m, const wino_grid *g, const float *in, int Cin, int c,
                         long s0, int ns, float *V, size_t rs, size_t xs) {
    const int al = m + 2;
    const size_t plane = (size_t)g->IH * g->IW;
    float strip[STRIP_FLOATS] __attribute__((aligned(64)));
    for (long s = s0; s < s0 + ns;) {
        const wino_run r = run_at(g, s, s - s0, s0 + ns);
        const int n0 = r.group * WINO_VL, nimg = g->N - n0 < WINO_VL ? g->N - n0 : WINO_VL;
        const int ncols = strip_cols(r.ntiles * m + 2);
        load_strip(in + ((size_t)n0 * Cin + c) * plane, (size_t)Cin * plane, nimg, g->IH, g->IW,
                   r.ty * m - g->ipad, r.tx0 * m - g->ipad, al, ncols, strip);
        for (int t = 0; t < r.ntiles; t++) {
            vf d[WINO_MAX_ALPHA * WINO_MAX_ALPHA], e[WINO_MAX_ALPHA * WINO_MAX_ALPHA];
            for (int i = 0; i < al; i++)
                for (int j = 0; j < al; j++)
                    d[i * al + j] = VLOAD(strip + ((size_t)i * ncols + t * m + j) * WINO_VL);
            for (int j = 0; j < al; j++) bt_m(m, d + j, al, e + j, al);           /* columns */
            for (int i = 0; i < al; i++) bt_m(m, e + i * al, 1, d + i * al, 1); /* rows */
            float *dst = V + (size_t)c * rs + (size_t)(r.first + t) * WINO_VL;
            for (int xi = 0; xi < al * al; xi++) VSTORE(dst + xi * xs, d[xi]);
        }
        s += r.ntiles;
    }
}
static void k_input(const wino_grid *g, const float *in, int Cin, int c, long s0, int ns,
                    float *V, size_t rs, size_t xs) {
    if (g->m == 2) input_m(2, g, in, Cin, c, s0, ns, V, rs, xs);
    else if (g->m == 3) input_m(3, g, in, Cin, c, s0, ns, V, rs, xs);
    else input_m(4, g, in, Cin, c, s0, ns, V, rs, xs);
}

/* ---- output transform --------------------------------------------------------------------- */

WINO_INLINE void output_m(const int m, const wino_grid *g, const float *M, int Cout, int k,
                          long s0, int ns, size_t rs, size_t xs, float *out) {
    const int al = m + 2;
    const size_t plane = (size_t)g->OP * g->OQ;
    float strip[STRIP_FLOATS] __attribute__((aligned(64)));
    for (long s = s0; s < s0 + ns;) {
        const wino_run r = run_at(g, s, s - s0, s0 + ns);
        const int n0 = r.group * WINO_VL, nimg = g->N - n0 < WINO_VL ? g->N - n0 : WINO_VL;
        const int ncols = strip_cols(r.ntiles * m);
        for (int t = 0; t < r.ntiles; t++) {
            vf d[WINO_MAX_ALPHA * WINO_MAX_ALPHA], e[4 * WINO_MAX_ALPHA], y[16];
            const float *src = M + (size_t)k * rs + (size_t)(r.first + t) * WINO_VL;
            for (int xi = 0; xi < al * al; xi++) d[xi] = VLOAD(src + xi * xs);
            for (int j = 0; j < al; j++) at_m(m, d + j, al, e + j, al);         /* columns: e[m][al] */
            for (int i = 0; i < m; i++) at_m(m, e + i * al, 1, y + i * m, 1); /* rows: y[m][m] */
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++)
                    VSTORE(strip + ((size_t)i * ncols + t * m + j) * WINO_VL, y[i * m + j]);
        }
        /* the strip's columns past the run's tiles (to the 8-column boundary) go through the
         * transpose but are not stored; zero them rather than transpose stale stack values */
        for (int i = 0; i < m; i++)
            for (int j = r.ntiles * m; j < ncols; j++)
                VSTORE(strip + ((size_t)i * ncols + j) * WINO_VL, VZERO());
        const int q0 = r.tx0 * m, qend = q0 + r.ntiles * m;
        store_strip(strip, m, ncols, out + ((size_t)n0 * Cout + k) * plane, (size_t)Cout * plane,
                    nimg, g->OP, g->OQ, qend < g->OQ ? qend : g->OQ, r.ty * m, q0);
        s += r.ntiles;
    }
}
static void k_output(const wino_grid *g, const float *M, int Cout, int k, long s0, int ns,
                     size_t rs, size_t xs, float *out) {
    if (g->m == 2) output_m(2, g, M, Cout, k, s0, ns, rs, xs, out);
    else if (g->m == 3) output_m(3, g, M, Cout, k, s0, ns, rs, xs, out);
    else output_m(4, g, M, Cout, k, s0, ns, rs, xs, out);
}

/* ---- dy transform (filter gradient) ------------------------------------------------------- */

WINO_INLINE void dy_m(const int m, const wino_grid *g, const float *dy, int K, int k, long s0,
                      int ns, float *D, size_t rs, size_t xs) {
    const int al = m + 2;
    const size_t plane = (size_t)g->OP * g->OQ;
    float strip[STRIP_FLOATS] __attribute__((aligned(64)));
    for (long s = s0; s < s0 + ns;) {
        const wino_run r = run_at(g, s, s - s0, s0 + ns);
        const int n0 = r.group * WINO_VL, nimg = g->N - n0 < WINO_VL ? g->N - n0 : WINO_VL;
        const int ncols = strip_cols(r.ntiles * m);
        /* dy beyond the OP x OQ plane is zero: partial tiles contribute only their inside */
        load_strip(dy + ((size_t)n0 * K + k) * plane, (size_t)K * plane, nimg, g->OP, g->OQ,
                   r.ty * m, r.tx0 * m, m, ncols, strip);
        for (int t = 0; t < r.ntiles; t++) {
            vf e[16], f[4 * WINO_MAX_ALPHA], d[WINO_MAX_ALPHA * WINO_MAX_ALPHA];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++)
                    e[i * m + j] = VLOAD(strip + ((size_t)i * ncols + t * m + j) * WINO_VL);
            for (int j = 0; j < m; j++) a_m(m, e + j, m, f + j, m);            /* columns: f[al][m] */
            for (int i = 0; i < al; i++) a_m(m, f + i * m, 1, d + i * al, 1); /* rows: d[al][al] */
            float *dst = D + (size_t)k * rs + (size_t)(r.first + t) * WINO_VL;
            for (int xi = 0; xi < al * al; xi++) VSTORE(dst + xi * xs, d[xi]);
        }
        s += r.ntiles;
    }
}
static void k_dy(const wino_grid *g, const float *dy, int K, int k, long s0, int ns, float *D,
                 size_t rs, size_t xs) {
    if (g->m == 2) dy_m(2, g, dy, K, k, s0, ns, D, rs, xs);
    else if (g->m == 3) dy_m(3, g, dy, K, k, s0, ns, D, rs, xs);
    else dy_m(4, g, dy, K, k, s0, ns, D, rs, xs);
}

/* ---- filter gradient inverse transform ---------------------------------------------------- */

WINO_INLINE void filter_grad_m(const int m, const float *W, int k, int C, size_t rs, size_t xs,
                               float *dw, int accumulate) {
    const int al = m + 2;
    for (int c0 = 0; c0 < C; c0 += WINO_VL) {
        vf d[WINO_MAX_ALPHA * WINO_MAX_ALPHA], e[3 * WINO_MAX_ALPHA], o[9];
        const float *src = W + (size_t)k * rs + c0; /* rows padded to 16 columns */
        /* W (alpha^2 K C floats: 26 MB at 512 channels) comes from memory as alpha^2 interleaved
         * streams, more than the hardware prefetcher follows: fetch 4 lines ahead in each */
        if (c0 + 64 < C)
            for (int xi = 0; xi < al * al; xi++)
                _mm_prefetch((const char *)(src + xi * xs + 64), _MM_HINT_T0);
        for (int xi = 0; xi < al * al; xi++) d[xi] = VLOAD(src + xi * xs);
        for (int j = 0; j < al; j++) gt_m(m, d + j, al, e + j, al);        /* columns: e[3][al] */
        for (int i = 0; i < 3; i++) gt_m(m, e + i * al, 1, o + i * 3, 1); /* rows: o[3][3] */
        float buf[9 * WINO_VL] __attribute__((aligned(64)));
        for (int tap = 0; tap < 9; tap++) VSTORE(buf + tap * WINO_VL, o[tap]);
        /* dw[k][c0 .. c0+VL) is 9*VL contiguous floats: a scalar transpose */
        const int nc = C - c0 < WINO_VL ? C - c0 : WINO_VL;
        float *dst = dw + ((size_t)k * C + c0) * 9;
        for (int l = 0; l < nc; l++)
            for (int tap = 0; tap < 9; tap++)
                dst[l * 9 + tap] = (accumulate ? dst[l * 9 + tap] : 0.0f) + buf[tap * WINO_VL + l];
    }
}
static void k_filter_grad(int m, const float *W, int k, int C, size_t rs, size_t xs, float *dw,
                          int accumulate) {
    if (m == 2) filter_grad_m(2, W, k, C, rs, xs, dw, accumulate);
    else if (m == 3) filter_grad_m(3, W, k, C, rs, xs, dw, accumulate);
    else filter_grad_m(4, W, k, C, rs, xs, dw, accumulate);
}

const wino_kernels WINO_TABLE = {WINO_VL, WINO_VL == 16 ? "avx512" : "avx2", k_filter, k_input,
                                 k_output, k_dy, k_filter_grad};

#endif /* WINO_VL */
