/* kernels/cpu/conv_algos.h: convolution algorithms of the CPU backend besides im2col + sgemm
 * (kernels/cpu/dense.c), as standalone kernels with the conventions of kernels/kernels.h:
 * float32, x NCHW, w KCRS, y NCHW (see sg_conv_shape); the caller passes a workspace of the
 * size the matching *_workspace_bytes function gives; kernels do not allocate (except inside
 * oneDNN, below); `accumulate` 0 overwrites dw, 1 adds to it. Results are
 * deterministic for a given thread count (sg_cpu_set_threads).
 *
 * Winograd (conv_winograd.c): 3x3, stride 1, pad 0..2 only (sg_cpu_winograd_supports).
 * oneDNN (conv_dnnl.c): any geometry, when the build found oneDNN (sg_cpu_dnnl_available).
 */
#pragma once
#include <stddef.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Winograd ------------------------------------------------------------------------------
 * F(2x2,3x3), F(3x3,3x3) or F(4x4,3x3), chosen per shape (the one with the fewest
 * transformed-domain multiplications, the smaller tile on ties: its error is smaller); the
 * products over channels run as one sgemm per transformed tile position. The filter gradient
 * uses the dual algorithms F(3x3,mxm), whose products over tiles are sgemms too. */
int sg_cpu_winograd_supports(const sg_conv_shape *s);
/* Shared by the three passes; 0 for an unsupported shape. */
size_t sg_cpu_winograd_workspace_bytes(const sg_conv_shape *s);
/* y[N,K,P,Q] = conv(x[N,C,H,W], w[K,C,3,3]) */
void sg_cpu_winograd_fwd(const sg_conv_shape *s, const float *x, const float *w, float *y,
                         void *workspace);
/* dx[N,C,H,W] (overwritten) from dy[N,K,P,Q] and w */
void sg_cpu_winograd_bwd_data(const sg_conv_shape *s, const float *dy, const float *w, float *dx,
                              void *workspace);
/* dw[K,C,3,3] from x and dy, overwritten or accumulated */
void sg_cpu_winograd_bwd_filter(const sg_conv_shape *s, const float *x, const float *dy,
                                float *dw, int accumulate, void *workspace);

/* Vector paths: the AVX-512 one runs where the CPU has AVX-512F, the AVX2 one elsewhere
 * (decided at run time from the CPU, not from the build machine). */
typedef enum { SG_WINO_ISA_AUTO = 0, SG_WINO_ISA_AVX2 = 1, SG_WINO_ISA_AVX512 = 2 } sg_wino_isa;
/* The transformed-domain sgemms: the backend's (AUTO: gemm.impl, sg_cpu_set_gemm_impl), or
 * forced to OpenBLAS's cblas_sgemm or oneDNN's dnnl_sgemm (where the build has oneDNN).
 * dnnl_sgemm ran 2x OpenBLAS 0.3.21 on an AVX-512 CPU that OpenBLAS does not know (it falls back
 * to its AVX2 kernels there), making these convs 1.5x faster, but it allocates its packing
 * buffers on every call (about 200 mallocs per conv), so it is opt-in (gemm.impl=dnnl). */
typedef enum { SG_WINO_GEMM_AUTO = 0, SG_WINO_GEMM_OPENBLAS = 1, SG_WINO_GEMM_DNNL = 2 } sg_wino_gemm;
/* For tests and timing: makes later calls use output tile m (2, 3 or 4; 0 = per shape), the given
 * vector path and sgemm. Returns 0, or -1 (nothing changed) for a bad m or a path or sgemm this
 * machine or build lacks. Not thread-safe: call it while no Winograd kernel runs. The workspace
 * size covers every choice. */
int sg_cpu_winograd_force(int m, sg_wino_isa isa, sg_wino_gemm gemm);
/* The output tile (2, 3 or 4) the next call on s will use, and the vector path ("avx2", "avx512")
 * and sgemm ("openblas", "dnnl") of the next call. */
int sg_cpu_winograd_tile(const sg_conv_shape *s);
const char *sg_cpu_winograd_isa(void);
const char *sg_cpu_winograd_gemm(void);

/* ---- oneDNN ---------------------------------------------------------------------------------
 * The three passes through oneDNN's convolution primitives (fp32, NCHW/KCRS at the interface).
 * Primitives are created on a shape's first use and cached for the life of the process
 * (primitive creation is slow: milliseconds); scratch memory comes from the workspace. oneDNN
 * itself still allocates a few small objects per execution (its execution context: about 20 per
 * call through the C API) and dnnl_sgemm its packing buffers per call. Cache lookups are
 * thread-safe; oneDNN runs on the same OpenMP runtime as the rest of the backend. */
/* 1 when oneDNN is usable; else 0, with the reason in *why (when why != NULL). The functions
 * below require it (they stop with the reason otherwise). */
int sg_cpu_dnnl_available(const char **why);
/* Shared by the three passes. It depends on the thread count, as oneDNN's scratchpads do: size
 * the workspace after sg_cpu_set_threads, and again after changing it. */
size_t sg_cpu_dnnl_workspace_bytes(const sg_conv_shape *s);
void sg_cpu_dnnl_fwd(const sg_conv_shape *s, const float *x, const float *w, float *y,
                     void *workspace);
void sg_cpu_dnnl_bwd_data(const sg_conv_shape *s, const float *dy, const float *w, float *dx,
                          void *workspace);
void sg_cpu_dnnl_bwd_filter(const sg_conv_shape *s, const float *x, const float *dy, float *dw,
                            int accumulate, void *workspace);
/* Layouts inside the primitives: PLAIN computes on NCHW / KCRS directly; BLOCKED lets oneDNN
 * pick its layouts (nChw16c, OIhw16i16o on AVX-512) and reorders at the interface; AUTO is the
 * faster of the two as measured (blocked). For tests and timing; returns -1 for a bad value or
 * without oneDNN. Not thread-safe: call it while no oneDNN kernel runs. */
typedef enum {
    SG_DNNL_LAYOUT_AUTO = 0,
    SG_DNNL_LAYOUT_PLAIN = 1,
    SG_DNNL_LAYOUT_BLOCKED = 2
} sg_dnnl_layout;
int sg_cpu_dnnl_set_layout(sg_dnnl_layout layout);
/* The name of the oneDNN implementation a pass (0 fwd, 1 bwd data, 2 bwd filter) runs on s
 * ("jit:avx512_core", "gemm:jit", ...), for reports. */
const char *sg_cpu_dnnl_impl(const sg_conv_shape *s, int pass);
/* dnnl_sgemm with cblas_sgemm's row-major semantics: C[M,N] = alpha op(A) op(B) + beta C. */
void sg_cpu_dnnl_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc);

#ifdef __cplusplus
}
#endif
