/* kernels/cost_nn.c: FLOP and byte counts of batch norm, relu, add, pooling and the pair loss
 * (see kernels.h).
 *
 * Convention: bytes are the compulsory traffic, each input tensor read once and each output
 * written once (float32 = 4 bytes, int32 argmax = 4 bytes); a tensor that is both read and
 * updated (running statistics) counts once each way. The extra passes an implementation makes
 * (batch norm reads x two or three times) and accumulate-mode reads are not counted. FLOPs count
 * adds, multiplies, subtractions and comparisons as one each; per-row or per-channel scalar work
 * (a square root, a division) is counted as one FLOP. */
#include "kernels/kernels.h"

#define F32 4.0
#define I32 4.0

/* Training pass (eval does a subset, and is reported with the same count): per element
 * mean (1 add), variance (sub, mul, add), normalise (sub, mul), affine (mul, add);
 * per channel mean/var divisions, invstd (add, sqrt, div) and the running-stat updates (8).
 * Bytes: x, y; gamma, beta; mean, invstd written; running mean/var read and written. */
sg_cost sg_cost_batchnorm_fwd(int N, int C, int HW, int affine) {
    double e = (double)N * C * HW, c = C;
    sg_cost r;
    r.flops = e * (6.0 + (affine ? 2.0 : 0.0)) + c * 13.0;
    r.bytes = F32 * (2.0 * e + c * (2.0 + 4.0 + (affine ? 2.0 : 0.0)));
    return r;
}

/* Per element: sum dy (1), sum dy*(x-mean) (sub, mul, add), and
 * dx = k*((dy - mean_dy) - (x - mean)*q) (sub, sub, mul, sub, mul) = 9; per channel ~8.
 * Bytes: read x, dy, mean, invstd (+ gamma); write dx (+ dgamma, dbeta). */
sg_cost sg_cost_batchnorm_bwd(int N, int C, int HW, int affine) {
    double e = (double)N * C * HW, c = C;
    sg_cost r;
    r.flops = e * 9.0 + c * 8.0;
    r.bytes = F32 * (3.0 * e + c * (2.0 + (affine ? 3.0 : 0.0)));
    return r;
}

/* Batch norm then ReLU, fused: batch norm's count plus one comparison per element; the same
 * bytes (the ReLU reads and writes nothing of its own). */
sg_cost sg_cost_batchnorm_relu_fwd(int N, int C, int HW, int affine) {
    sg_cost r = sg_cost_batchnorm_fwd(N, C, HW, affine);
    r.flops += (double)N * C * HW;
    return r;
}

/* Its backward: batch norm's count plus the mask (one comparison per element), and y read. */
sg_cost sg_cost_batchnorm_relu_bwd(int N, int C, int HW, int affine) {
    sg_cost r = sg_cost_batchnorm_bwd(N, C, HW, affine);
    r.flops += (double)N * C * HW;
    r.bytes += F32 * (double)N * C * HW;
    return r;
}

/* Per element: d = x - center (1) and the two sums (add; mul, add) = 4, or with dy sum dy (1)
 * and sum dy*(x - center) (sub, mul, add) = 4; the centring subtraction is counted without a
 * center too. Bytes: read x (+ dy, + center); write 2*C doubles. */
sg_cost sg_cost_batchnorm_sums(int N, int C, int HW, int with_center, int with_dy) {
    double e = (double)N * C * HW, c = C;
    sg_cost r;
    r.flops = e * 4.0;
    r.bytes = F32 * (e * (with_dy ? 2.0 : 1.0) + (with_center ? c : 0.0)) + 8.0 * 2.0 * c;
    return r;
}

/* Per element dx = k*((dy - mean_dy) - (x - mean)*q) (sub, sub, mul, sub, mul) = 5; per
 * channel k, sum(dy)/M and invstd^2*sum/M = 5. Bytes: read x, dy, mean, invstd (+ gamma) and
 * the 2*C double sums; write dx. */
sg_cost sg_cost_batchnorm_bwd_apply(int N, int C, int HW, int affine) {
    double e = (double)N * C * HW, c = C;
    sg_cost r;
    r.flops = e * 5.0 + c * 5.0;
    r.bytes = F32 * (3.0 * e + c * (2.0 + (affine ? 1.0 : 0.0))) + 8.0 * 2.0 * c;
    return r;
}

/* One comparison per element; read x, write y. */
sg_cost sg_cost_relu_fwd(size_t n) {
    sg_cost r;
    r.flops = (double)n;
    r.bytes = F32 * 2.0 * (double)n;
    return r;
}

/* One comparison per element; read y, dy, write dx. */
sg_cost sg_cost_relu_bwd(size_t n) {
    sg_cost r;
    r.flops = (double)n;
    r.bytes = F32 * 3.0 * (double)n;
    return r;
}

/* One add per element; read a, b, write y. */
sg_cost sg_cost_add_fwd(size_t n) {
    sg_cost r;
    r.flops = (double)n;
    r.bytes = F32 * 3.0 * (double)n;
    return r;
}

/* A copy of dy into `outputs` (0, 1 or 2) gradients: no FLOPs (an accumulating call adds one
 * per element per output, not counted); read dy, write each output. */
sg_cost sg_cost_add_bwd(size_t n, int outputs) {
    sg_cost r;
    r.flops = 0.0;
    r.bytes = F32 * (double)n * (outputs > 0 ? 1.0 + outputs : 0.0);
    return r;
}

/* k*k comparisons per output (border windows do fewer; the nominal count is reported).
 * Read x; write y and argmax. */
sg_cost sg_cost_maxpool_fwd(const sg_pool_shape *s) {
    double planes = (double)s->N * s->C, pq = (double)s->P * s->Q;
    sg_cost r;
    r.flops = planes * pq * (double)s->k * s->k;
    r.bytes = F32 * planes * (double)s->H * s->W + (F32 + I32) * planes * pq;
    return r;
}

/* One add per output gradient; read dy and argmax, write dx. */
sg_cost sg_cost_maxpool_bwd(const sg_pool_shape *s) {
    double planes = (double)s->N * s->C, pq = (double)s->P * s->Q;
    sg_cost r;
    r.flops = planes * pq;
    r.bytes = (F32 + I32) * planes * pq + F32 * planes * (double)s->H * s->W;
    return r;
}

/* HW adds and one division per plane; read x[N,C,HW], write y[N,C]. */
sg_cost sg_cost_avgpool_global_fwd(int N, int C, int HW) {
    double planes = (double)N * C;
    sg_cost r;
    r.flops = planes * ((double)HW + 1.0);
    r.bytes = F32 * planes * ((double)HW + 1.0);
    return r;
}

/* One division per plane, then a broadcast; read dy[N,C], write dx[N,C,HW]. */
sg_cost sg_cost_avgpool_global_bwd(int N, int C, int HW) {
    double planes = (double)N * C;
    sg_cost r;
    r.flops = planes;
    r.bytes = F32 * planes * (1.0 + (double)HW);
    return r;
}

/* The normalised loss (the costlier option): per element |p|^2, |z|^2, p.z (6) and
 * (a p - b z)^2 summed (mul, mul, sub, mul, add = 5); per row two norms (sqrt, max, div).
 * Read p, z; write row_loss[N]. */
sg_cost sg_cost_pair_loss_fwd(int N, int D) {
    double n = N, e = (double)N * D;
    sg_cost r;
    r.flops = e * 11.0 + n * 6.0;
    r.bytes = F32 * (2.0 * e + n);
    return r;
}

/* The normalised loss: per element the three dot products (6) and
 * dp = cp*(u - v - u*ud) with u, v scaled (mul, mul, sub, mul, sub, mul = 6); dz adds
 * (mul, sub, mul = 3) per element on top of the shared u, v, d. Per row ~12.
 * Read p, z; write dp (and dz). */
sg_cost sg_cost_pair_loss_bwd(int N, int D, int want_dz) {
    double n = N, e = (double)N * D;
    sg_cost r;
    r.flops = e * (12.0 + (want_dz ? 3.0 : 0.0)) + n * 12.0;
    r.bytes = F32 * e * (3.0 + (want_dz ? 1.0 : 0.0));
    return r;
}
