/* kernels/ref/ref_dense.c: naive double-precision references of gemm, linear and conv2d
 * (see ref.h). Plain loops, written for obviousness, not speed. The outer loops over
 * independent outputs run in parallel (OpenMP): each output is still summed by one thread in the
 * same order, so a reference is identical for any thread count, and the kernel suite can
 * validate model-scale convolutions before timing them. */
#include "kernels/ref/ref.h"

/* C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C; beta == 0 ignores C's old contents (BLAS). */
void ref_gemm(int transA, int transB, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc) {
#pragma omp parallel for schedule(static) if ((double)M * N * K > 1e6)
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double sum = 0;
            for (int k = 0; k < K; k++) {
                double a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                sum += a * b;
            }
            double *c = &C[(size_t)i * ldc + j];
            *c = alpha * sum + (beta != 0 ? beta * *c : 0.0);
        }
    }
}

/* y[N,Out] = x[N,In] W[Out,In]^T + b[Out] */
void ref_linear_fwd(int N, int In, int Out, const double *x, const double *W, const double *b,
                    double *y) {
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < Out; o++) {
            double sum = b ? b[o] : 0.0;
            for (int i = 0; i < In; i++) sum += x[(size_t)n * In + i] * W[(size_t)o * In + i];
            y[(size_t)n * Out + o] = sum;
        }
    }
}

/* dx[N,In] = dy W; dW[Out,In] (+)= dy^T x; db[Out] (+)= sum_n dy */
void ref_linear_bwd(int N, int In, int Out, const double *x, const double *W, const double *dy,
                    double *dx, double *dW, double *db, int accumulate) {
    if (dx) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < In; i++) {
                double sum = 0;
                for (int o = 0; o < Out; o++)
                    sum += dy[(size_t)n * Out + o] * W[(size_t)o * In + i];
                dx[(size_t)n * In + i] = sum;
            }
        }
    }
    for (int o = 0; o < Out; o++) {
        for (int i = 0; i < In; i++) {
            double sum = 0;
            for (int n = 0; n < N; n++) sum += dy[(size_t)n * Out + o] * x[(size_t)n * In + i];
            double *d = &dW[(size_t)o * In + i];
            *d = (accumulate ? *d : 0.0) + sum;
        }
    }
    if (db) {
        for (int o = 0; o < Out; o++) {
            double sum = 0;
            for (int n = 0; n < N; n++) sum += dy[(size_t)n * Out + o];
            db[o] = (accumulate ? db[o] : 0.0) + sum;
        }
    }
}

/* Index helpers: NCHW activations and KCRS filters. */
static size_t idx4(int a, int b, int c, int d, int B, int C, int D) {
    return (((size_t)a * B + b) * C + c) * D + d;
}

/* y[n,k,p,q] = sum_{c,r,s} x[n,c,p*stride-pad+r, q*stride-pad+s] w[k,c,r,s] (zero padding). */
void ref_conv2d_fwd(const sg_conv_shape *s, const double *x, const double *w, double *y) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int n = 0; n < s->N; n++)
        for (int k = 0; k < s->K; k++)
            for (int p = 0; p < s->P; p++)
                for (int q = 0; q < s->Q; q++) {
                    double sum = 0;
                    for (int c = 0; c < s->C; c++)
                        for (int r = 0; r < s->R; r++)
                            for (int t = 0; t < s->S; t++) {
                                int h = p * s->stride - s->pad + r;
                                int v = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || v < 0 || v >= s->W) continue;
                                sum += x[idx4(n, c, h, v, s->C, s->H, s->W)] *
                                       w[idx4(k, c, r, t, s->C, s->R, s->S)];
                            }
                    y[idx4(n, k, p, q, s->K, s->P, s->Q)] = sum;
                }
}

/* dx[n,c,h,v] = sum of dy[n,k,p,q] w[k,c,r,t] over every (k,p,q,r,t) whose tap lands on (h,v). */
void ref_conv2d_bwd_data(const sg_conv_shape *s, const double *dy, const double *w, double *dx) {
    size_t nx = (size_t)s->N * s->C * s->H * s->W;
    for (size_t i = 0; i < nx; i++) dx[i] = 0;
#pragma omp parallel for schedule(static) /* image n's taps land in image n only */
    for (int n = 0; n < s->N; n++)
        for (int k = 0; k < s->K; k++)
            for (int p = 0; p < s->P; p++)
                for (int q = 0; q < s->Q; q++) {
                    double g = dy[idx4(n, k, p, q, s->K, s->P, s->Q)];
                    for (int c = 0; c < s->C; c++)
                        for (int r = 0; r < s->R; r++)
                            for (int t = 0; t < s->S; t++) {
                                int h = p * s->stride - s->pad + r;
                                int v = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || v < 0 || v >= s->W) continue;
                                dx[idx4(n, c, h, v, s->C, s->H, s->W)] +=
                                    g * w[idx4(k, c, r, t, s->C, s->R, s->S)];
                            }
                }
}

/* dw[k,c,r,t] (+)= sum_{n,p,q} dy[n,k,p,q] x[n,c,p*stride-pad+r, q*stride-pad+t] */
void ref_conv2d_bwd_filter(const sg_conv_shape *s, const double *x, const double *dy, double *dw,
                           int accumulate) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int k = 0; k < s->K; k++)
        for (int c = 0; c < s->C; c++)
            for (int r = 0; r < s->R; r++)
                for (int t = 0; t < s->S; t++) {
                    double sum = 0;
                    for (int n = 0; n < s->N; n++)
                        for (int p = 0; p < s->P; p++)
                            for (int q = 0; q < s->Q; q++) {
                                int h = p * s->stride - s->pad + r;
                                int v = q * s->stride - s->pad + t;
                                if (h < 0 || h >= s->H || v < 0 || v >= s->W) continue;
                                sum += dy[idx4(n, k, p, q, s->K, s->P, s->Q)] *
                                       x[idx4(n, c, h, v, s->C, s->H, s->W)];
                            }
                    double *d = &dw[idx4(k, c, r, t, s->C, s->R, s->S)];
                    *d = (accumulate ? *d : 0.0) + sum;
                }
}
