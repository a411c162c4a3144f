/* kernels/cpu/cpu_internal.h: how the CPU backend's files plug into its sg_backend value.
 * Each group of kernels lives in its own file and fills its slots of the struct. */
#pragma once
#include "kernels/kernels.h"

/* The CPU backend value, made on first use (kernels/backend.c hands it out by name). */
const sg_backend *sg_cpu_backend(void);

void sg_cpu_fill_dense(sg_backend *be);
/* Whether the CPU runs conv shape s with its algorithm (s->algo), cpu/dense.c. */
int sg_cpu_conv_supports(const sg_conv_shape *s);   /* cpu/dense.c: gemm, linear, conv2d */
/* Row-major C[M,N] = alpha op(A) op(B) + beta C through the sgemm sg_cpu_set_gemm_impl chose
 * (cpu/dense.c). From inside one of our parallel regions it runs on the calling thread. */
void sg_cpu_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);
void sg_cpu_fill_nn(sg_backend *be);      /* cpu/nn.c: batch norm, relu, add, pooling, loss */
void sg_cpu_fill_optim(sg_backend *be);   /* cpu/optim.c: sgd, ema, correlation, eigen */
void sg_cpu_fill_aug(sg_backend *be);     /* cpu/aug.c: augmentation ops */
