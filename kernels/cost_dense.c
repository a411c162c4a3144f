/* kernels/cost_dense.c: FLOP and byte counts of the dense kernels (see kernels.h).
 * A multiply-add is 2 FLOPs; bytes count each input read once and each output written once
 * (float32), so they are the compulsory traffic, not what a given implementation moves. */
#include "kernels/kernels.h"

#define F32 4.0

/* C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C: beta != 0 reads C as well as writing it. */
sg_cost sg_cost_gemm(int M, int N, int K, int beta_nonzero) {
    double m = M, n = N, k = K;
    sg_cost c;
    c.flops = 2.0 * m * n * k;
    c.bytes = F32 * (m * k + k * n + m * n * (beta_nonzero ? 2.0 : 1.0));
    return c;
}

/* y[N,Out] = x[N,In] W[Out,In]^T (+ b[Out]): the bias adds one FLOP per output. */
sg_cost sg_cost_linear_fwd(int N, int In, int Out, int has_bias) {
    double n = N, in = In, out = Out;
    sg_cost c;
    c.flops = 2.0 * n * in * out + (has_bias ? n * out : 0.0);
    c.bytes = F32 * (n * in + out * in + (has_bias ? out : 0.0) + n * out);
    return c;
}

/* dW = dy^T x always; dx = dy W when wanted; db = column sums of dy when there is a bias. */
sg_cost sg_cost_linear_bwd(int N, int In, int Out, int want_dx, int has_bias) {
    double n = N, in = In, out = Out;
    sg_cost c;
    c.flops = 2.0 * n * in * out * (want_dx ? 2.0 : 1.0) + (has_bias ? n * out : 0.0);
    c.bytes = F32 * (n * in + n * out                      /* read x, dy */
                     + (want_dx ? out * in + n * in : 0.0) /* read W, write dx */
                     + out * in                            /* write dW */
                     + (has_bias ? out : 0.0));            /* write db */
    return c;
}

/* All three conv passes are the same N*K*P*Q*C*R*S multiply-adds over the same three tensors
 * (x[N,C,H,W], w[K,C,R,S], y[N,K,P,Q]); only which one is written differs. */
static sg_cost conv_cost(const sg_conv_shape *s) {
    double n = s->N, k = s->K, crs = (double)s->C * s->R * s->S;
    double pq = (double)s->P * s->Q, chw = (double)s->C * s->H * s->W;
    sg_cost c;
    c.flops = 2.0 * n * k * pq * crs;
    c.bytes = F32 * (n * chw + k * crs + n * k * pq);
    return c;
}

sg_cost sg_cost_conv2d_fwd(const sg_conv_shape *s) { return conv_cost(s); }
sg_cost sg_cost_conv2d_bwd_data(const sg_conv_shape *s) { return conv_cost(s); }
sg_cost sg_cost_conv2d_bwd_filter(const sg_conv_shape *s) { return conv_cost(s); }
