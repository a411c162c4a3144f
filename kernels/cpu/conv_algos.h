/* kernels/cpu/conv_algos.h: convolution algorithms of the CPU backend besides im2col + sgemm
 * (kernels/cpu/dense.c), as standalone kernels with the conventions of kernels/kernels.h:
 * float32, x NCHW, w KCRS, y NCHW (see sg_conv_shape); the caller passes a workspace of the
 * size the matching *_workspace_bytes function gives; kernels do not allocate; `accumulate` 0
 * overwrites dw, 1 adds to it. Results are
 * deterministic for a given thread count (sg_cpu_set_threads).
 *
 * Winograd (conv_winograd.c): 3x3, stride 1, pad 0..2 only (sg_cpu_winograd_supports).
 */
#pragma once
#include <stddef.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Winograd ------------------------------------------------------------------------------
 * F(2x2,3x3) or F(4x4,3x3), chosen per shape (the one with fewer transformed-domain
 * multiplications, F(2x2) on ties: its error is smaller); the products over channels run as one
 * sgemm per transformed tile position. The filter gradient uses the dual algorithms F(3x3,2x2)
 * and F(3x3,4x4), whose products over tiles are sgemms too. */
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
/* For tests and timing: makes later calls use output tile m (2 or 4; 0 = per shape) and the given
 * vector path. Returns 0, or -1 (nothing changed) for a bad m or a path this CPU lacks. Not
 * thread-safe: call it while no Winograd kernel runs. The workspace size covers every m. */
int sg_cpu_winograd_force(int m, sg_wino_isa isa);
/* The output tile (2 or 4) and vector path ("avx2", "avx512") the next call on s will use. */
int sg_cpu_winograd_tile(const sg_conv_shape *s);
const char *sg_cpu_winograd_isa(void);

#ifdef __cplusplus
}
#endif
