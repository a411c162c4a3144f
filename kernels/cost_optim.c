/* kernels/cost_optim.c: FLOP and byte counts (see kernels.h) of the optimiser, the EMA and the
 * DirectPred linear algebra. Bytes: each input read once, each output written once, float32;
 * workspace traffic is not counted. */
#include "kernels/kernels.h"

/* Per parameter: g + wd*w (2), momentum*m + g' (2), w - lr*m (2) = 6 flops;
 * reads w, g, m and writes w, m: 5 floats. */
sg_cost sg_cost_sgd_step(size_t nparams) {
    double n = (double)nparams;
    return (sg_cost){.flops = 6.0 * n, .bytes = 4.0 * 5.0 * n};
}

/* Per element: m*t + (1-m)*o = 3 flops ((1-m) is a scalar); reads t, o, writes t. */
sg_cost sg_cost_lars_step(size_t nparams) {
    /* two norm passes (4 flops each) and the update (5 flops); w, g, m read, w and m written,
     * w and g read again by the norm pass */
    double n = (double)nparams;
    sg_cost c = {13.0 * n, 4.0 * (5.0 * n + 2.0 * n)};
    return c;
}

sg_cost sg_cost_ema_update(size_t n) {
    double e = (double)n;
    return (sg_cost){.flops = 3.0 * e, .bytes = 4.0 * 3.0 * e};
}

/* f^T f on one triangle (the other is a copy): D(D+1)/2 entries x N multiply-adds = N D (D+1)
 * flops; the blend rho*F + (1-rho)*B/N on the triangle: 3 flops per entry. The centred variant
 * adds N*D + D(D+1) flops (column mean, rank-1 correction), a lower-order term not counted.
 * Reads f[N,D] and F[D,D] (the blend), writes F[D,D]. */
sg_cost sg_cost_corr_update(int N, int D) {
    double n = N, d = D;
    double tri = d * (d + 1) / 2;
    return (sg_cost){.flops = n * d * (d + 1) + 3.0 * tri, .bytes = 4.0 * (n * d + 2.0 * d * d)};
}

/* Convention: 9 D^3 flops for all eigenvalues and eigenvectors of a dense symmetric matrix
 * (Golub & Van Loan's count for the symmetric QR algorithm: 4/3 D^3 for the tridiagonal
 * reduction, about 6 D^3 for the tridiagonal solve with vectors and the back-transformation).
 * Divide and conquer (ssyevd) does less in practice, so this is the conventional count used
 * for comparability, not the operations LAPACK executes. Reads A, writes A and w. */
sg_cost sg_cost_syevd(int D) {
    double d = D;
    return (sg_cost){.flops = 9.0 * d * d * d, .bytes = 4.0 * (2.0 * d * d + d)};
}

/* diag(p) V: D^2 multiplies; V^T (diag(p) V): 2 D^3; symmetrising (W + W^T)/2 over the
 * D(D-1)/2 off-diagonal pairs: 2 flops each. Reads V and p, writes W. */
sg_cost sg_cost_eig_rebuild(int D) {
    double d = D;
    return (sg_cost){.flops = 2.0 * d * d * d + d * d + d * (d - 1),
                     .bytes = 4.0 * (2.0 * d * d + d)};
}

/* smax: one compare per eigenvalue; the map: a division, a square root, an add and the floor's
 * compare, about 4 flops per eigenvalue. Reads s, writes p. */
sg_cost sg_cost_eig_map(int D) {
    double d = D;
    return (sg_cost){.flops = 5.0 * d, .bytes = 4.0 * 2.0 * d};
}

/* An add and a halving per pair: R(R-1)/2 off-diagonal pairs read and written in place, or
 * (tied) R*C pairs of A and B. */
sg_cost sg_cost_pred_symmetrize(int R, int C, int tied) {
    double pairs = tied ? (double)R * C : (double)R * (R - 1) / 2.0;
    return (sg_cost){.flops = 2.0 * pairs, .bytes = 4.0 * 4.0 * pairs};
}

/* scale*F + eps on the diagonal: 2 flops per entry; reads F, writes W. */
sg_cost sg_cost_directcopy_fill(int D) {
    double dd = (double)D * D;
    return (sg_cost){.flops = 2.0 * dd, .bytes = 4.0 * 2.0 * dd};
}

/* (si + sj + reg)/2 and the division: 4 flops per entry; reads X and s, writes X. */
sg_cost sg_cost_eig_pair_scale(int D) {
    double d = D;
    return (sg_cost){.flops = 4.0 * d * d, .bytes = 4.0 * (2.0 * d * d + d)};
}

/* mu_i*mu_j and the subtraction: 2 flops per entry; reads V and mu, writes V. */
sg_cost sg_cost_rank1_sub(int D) {
    double d = D;
    return (sg_cost){.flops = 2.0 * d * d, .bytes = 4.0 * (2.0 * d * d + d)};
}
