/* kernels/ref/ref.h: naive, obviously-correct references of every kernel in kernels.h.
 *
 * Plain loops in double precision, same argument order and semantics as the backend kernels
 * (minus the backend argument). Used only by tests and by the validation step that precedes
 * every timed benchmark; never by training. Their backward passes are themselves checked against
 * central finite differences in double precision (tests/kernels/), so a backend kernel that
 * matches its reference is transitively checked against the calculus.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dense */
void ref_gemm(int transA, int transB, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc);
void ref_linear_fwd(int N, int In, int Out, const double *x, const double *W, const double *b,
                    double *y);
void ref_linear_bwd(int N, int In, int Out, const double *x, const double *W, const double *dy,
                    double *dx, double *dW, double *db, int accumulate);

/* convolution */
void ref_conv2d_fwd(const sg_conv_shape *s, const double *x, const double *w, double *y);
void ref_conv2d_bwd_data(const sg_conv_shape *s, const double *dy, const double *w, double *dx);
void ref_conv2d_bwd_filter(const sg_conv_shape *s, const double *x, const double *dy, double *dw,
                           int accumulate);

/* batch norm */
void ref_batchnorm_fwd_train(int N, int C, int HW, const double *x, const double *gamma,
                             const double *beta, double eps, double momentum,
                             double *running_mean, double *running_var, double *mean,
                             double *invstd, double *y);
void ref_batchnorm_fwd_eval(int N, int C, int HW, const double *x, const double *gamma,
                            const double *beta, double eps, const double *running_mean,
                            const double *running_var, double *y);
void ref_batchnorm_bwd(int N, int C, int HW, const double *x, const double *gamma,
                       const double *mean, const double *invstd, const double *dy, double *dx,
                       double *dgamma, double *dbeta, int accumulate);
/* synchronised batch norm: sums[2*C] (center, dy may be NULL) and dx from sums over M values */
void ref_batchnorm_sums(int N, int C, int HW, const double *x, const double *center,
                        const double *dy, double *sums);
void ref_batchnorm_bwd_apply(int N, int C, int HW, const double *x, const double *gamma,
                             const double *mean, const double *invstd, const double *dy,
                             const double *sums, double M, double *dx);
/* batch norm then ReLU (batchnorm_relu_fwd) and its backward from the output y */
void ref_batchnorm_relu_fwd(int N, int C, int HW, const double *x, const double *gamma,
                            const double *beta, double eps, double momentum, double *running_mean,
                            double *running_var, double *mean, double *invstd, double *y);
void ref_batchnorm_relu_bwd(int N, int C, int HW, const double *x, const double *y,
                            const double *gamma, const double *mean, const double *invstd,
                            const double *dy, double *dx, double *dgamma, double *dbeta,
                            int accumulate);

/* elementwise and pooling */
void ref_relu_fwd(size_t n, const double *x, double *y);
void ref_relu_bwd(size_t n, const double *y, const double *dy, double *dx);
void ref_add_fwd(size_t n, const double *a, const double *b, double *y);
void ref_add_bwd(size_t n, const double *dy, double *da, double *db, int accumulate);
void ref_maxpool_fwd(const sg_pool_shape *s, const double *x, double *y, int32_t *argmax);
void ref_maxpool_bwd(const sg_pool_shape *s, const double *dy, const int32_t *argmax, double *dx);
void ref_avgpool_global_fwd(int N, int C, int HW, const double *x, double *y);
void ref_avgpool_global_bwd(int N, int C, int HW, const double *dy, double *dx);

/* loss */
void ref_pair_loss_fwd(int N, int D, int normalize, const double *p, const double *z,
                       double *row_loss);
void ref_pair_loss_bwd(int N, int D, int normalize, const double *p, const double *z,
                       double scale, double *dp, double *dz);

/* optimiser and EMA; the group arrays are double here */
typedef struct {
    double *w;
    const double *g;
    double *m;
    size_t n;
    double lr;
    double weight_decay;
} ref_sgd_group;
void ref_sgd_step(int ngroups, const ref_sgd_group *groups, double momentum);
typedef struct {
    double *w;
    const double *g;
    double *m;
    size_t n;
    double weight_decay;
    int adapt;
} ref_lars_group;
void ref_lars_step(int ngroups, const ref_lars_group *groups, double lr, double momentum,
                   double eta);
void ref_ema_update(size_t n, double m, const double *online, double *target);

/* DirectPred / DirectCopy */
void ref_corr_update(int N, int D, const double *f, double rho, int init, int center, double *F);
/* Jacobi eigenvalue iteration: w ascending, row j of A = eigenvector of w[j]. Returns 0. */
int ref_syevd(int D, double *A, double *w);
void ref_eig_rebuild(int D, const double *V, const double *p, double *W);
/* The steps around them (kernels.h): the eigenvalue map (mode an sg_eig_map_mode), the
 * predictor's symmetrisation (B NULL: A[R,R] in place; else tied A[R,C], B[C,R]), DirectCopy's
 * W = scale F + eps I, the optimal predictor's X[i,j] / ((si + sj + reg)/2), and V -= mu mu^T. */
void ref_eig_map(int D, const double *s, double *p, int mode, double eps, double shift_c);
void ref_pred_symmetrize(int R, int C, double *A, double *B);
void ref_directcopy_fill(int D, const double *F, const double *s, int normalize, double eps,
                         double *W);
void ref_eig_pair_scale(int D, double *X, const double *s, double reg);
void ref_rank1_sub(int D, const double *mu, double *V);

/* augmentation (float in the backends; double here) */
void ref_aug_u8_to_float(size_t n, const uint8_t *src, double *dst);
void ref_aug_resized_crop(int C, int H, int W, const double *src, double y0, double x0, double h,
                          double w, int outH, int outW, double *dst);
void ref_aug_hflip(int C, int H, int W, const double *src, double *dst);
void ref_aug_color_jitter(int H, int W, double *img, double brightness, double contrast,
                          double saturation, double hue, const int order[4]);
void ref_aug_grayscale(int H, int W, double *img);
void ref_aug_gaussian_blur(int C, int H, int W, const double *src, double *dst, int ksize,
                           double sigma);
void ref_aug_solarize(size_t n, double *img, double threshold);
void ref_aug_normalize(int C, int HW, double *img, const double *mean, const double *std);
/* aug_views: the references above composed image by image in the slot's order (kernels.h);
 * mean and std are both NULL (no normalisation) or C values each. */
void ref_aug_views(int N, int Cin, int H, int W, const uint8_t *src, int C, int S,
                   const sg_aug_view *view, int ksize, const double *mean, const double *std,
                   double *dst);

#ifdef __cplusplus
}
#endif
