/* core/theory/linalg.h: the few dense double-precision operations the theory simulators need.
 * Matrices are row-major; shapes in the comments are [rows x cols]. Sizes are small (n <= ~64),
 * so plain loops are enough and the code stays independent of the kernels library. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* C[m x n] = A[m x k] B[k x n] */
void sg_th_mm(double *C, const double *A, const double *B, int m, int k, int n);
/* C[m x n] = A[m x k] B[n x k]^T */
void sg_th_mm_nt(double *C, const double *A, const double *B, int m, int k, int n);
/* C[m x n] = A[k x m]^T B[k x n] */
void sg_th_mm_tn(double *C, const double *A, const double *B, int m, int k, int n);

/* C[m x n] = U diag(d) V^T over the first k columns of U [m x ldu] and of V [n x ldv]. */
void sg_th_mm_diag_nt(double *C, const double *U, int ldu, const double *d, const double *V,
                      int ldv, int m, int n, int k);

/* A[n x n] = (A + A^T)/2 in place: exact symmetry (for Jacobi, or a symmetric predictor). */
void sg_th_symmetrize(double *A, int n);
/* C[n x n] = A B - B A; tmp: n*n doubles. */
void sg_th_commutator(double *C, const double *A, const double *B, int n, double *tmp);

/* Frobenius norm of x[n] seen as a matrix; squared variant; dot product. */
double sg_th_frob(const double *x, int n);
double sg_th_dot(const double *a, const double *b, int n);

/* Symmetric eigendecomposition by cyclic Jacobi rotations: A[n x n] (only read; must be
 * symmetric) = V diag(w) V^T with w ascending and V's column j the unit eigenvector of w[j].
 * work: n*n doubles. Returns the number of sweeps used, or -1 when 100 sweeps did not bring
 * the off-diagonal mass below 1e-30 of the total (does not happen for finite input). */
int sg_th_sym_eig(int n, const double *A, double *w, double *V, double *work);

/* Cholesky A[n x n] = L L^T, L lower triangular (upper part set to 0). Returns 0, or -1 when A
 * is not positive definite. */
int sg_th_cholesky(int n, const double *A, double *L);

/* Q[n x n] orthogonal, from Gram-Schmidt on a Gaussian matrix drawn from stream (seed; tag). */
void sg_th_random_orthogonal(int n, uint64_t seed, uint32_t tag, double *Q);
/* x[n] ~ N(0, std^2) from stream (seed; tag). */
void sg_th_random_normal(double *x, int n, double std, uint64_t seed, uint32_t tag);
/* A[n x n] = B B^T / n + shift*I with B Gaussian: a random symmetric positive-definite matrix. */
void sg_th_random_spd(int n, double shift, uint64_t seed, uint32_t tag, double *A);

/* One zeroed allocation cut into consecutive arrays: *parts[i] points at len[i] doubles, in
 * order. Returns the allocation (free it; *parts[0] points at it too), or NULL when out of
 * memory. */
double *sg_th_alloc_parts(int n, double **const *parts, const size_t *len);
