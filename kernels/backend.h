/* kernels/backend.h: the backend front door, what every caller of a kernel uses.
 *
 * kernels.h is the interface a backend implements (a struct of function pointers); this is the
 * interface callers use, as ggml-backend's public API stands in front of ggml_backend_i:
 *   - the registry: a backend by name, why one is unavailable, its device, what was compiled;
 *   - one function per kernel slot, sg_<slot>(be, ...), that validates the arguments once, here,
 *     for every backend (sizes, pointers, modes, a conv shape that sg_conv_shape_make made) and
 *     then calls the backend's slot. An invalid call is a programming error: it aborts with the
 *     op and the argument named, before any backend sees it. Backends check only what is their
 *     own (a device limit, an argument in device memory).
 * Memory, synchronisation and timers are called through the struct directly (be->mem_alloc). */
#pragma once
#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The backend named `name` ("cpu"; "cuda" when built with it and a device is present), or
 * NULL. A NULL for "cuda" comes with the reason in sg_backend_unavailable("cuda"). */
const sg_backend *sg_backend_get(const char *name);
/* Why sg_backend_get(name) returned NULL: "not built (no CUDA toolkit at configure time)",
 * "no CUDA device", an unknown name, ... ("available" when it did not). */
const char *sg_backend_unavailable(const char *name);
/* The device behind a backend, for machine descriptions: a readable description ("NVIDIA H200,
 * cc 9.0, 132 SMs, 139.8 GiB, driver 13.0, runtime 13.0, cuBLAS 130001, cuSOLVER 12000") and
 * its hardware part (name, cc, SMs, memory) into key; both "" on the CPU backend. */
void sg_backend_device(const sg_backend *be, char *desc, size_t desc_len, char *key,
                       size_t key_len);
/* Backends compiled into this binary, space-separated: "cpu" or "cpu cuda". */
const char *sg_backend_compiled(void);
/* The name of the first required slot (every slot from gemm to timer_stop) that be leaves
 * empty, or NULL when it fills them all. Backends check themselves with it when they are made. */
const char *sg_backend_empty_slot(const sg_backend *be);

/* The precision of be's matrix products (kernels.h's sg_precision; fp32 on a backend without
 * the precision slot). */
sg_precision sg_backend_precision(const sg_backend *be);
/* Sets it: returns the previous one, or -1 (nothing changed) when be does not run p. Like the
 * CPU's thread count it holds for every later call: set it while no kernel of be is queued. */
int sg_backend_set_precision(const sg_backend *be, sg_precision p);

/* ---- the kernels, validated (see kernels.h for what each computes) ------------------------ */
void sg_gemm(const sg_backend *be, int transA, int transB, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void sg_linear_fwd(const sg_backend *be, int N, int In, int Out, const float *x, const float *W,
                   const float *b, float *y);
void sg_linear_bwd(const sg_backend *be, int N, int In, int Out, const float *x, const float *W,
                   const float *dy, float *dx, float *dW, float *db, int accumulate);
size_t sg_conv2d_workspace_bytes(const sg_backend *be, const sg_conv_shape *s);
void sg_conv2d_fwd(const sg_backend *be, const sg_conv_shape *s, const float *x, const float *w,
                   float *y, void *workspace);
void sg_conv2d_bwd_data(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                        const float *w, float *dx, void *workspace);
void sg_conv2d_bwd_filter(const sg_backend *be, const sg_conv_shape *s, const float *x,
                          const float *dy, float *dw, int accumulate, void *workspace);
void sg_batchnorm_fwd_train(const sg_backend *be, int N, int C, int HW, const float *x,
                            const float *gamma, const float *beta, float eps, float momentum,
                            float *running_mean, float *running_var, float *mean, float *invstd,
                            float *y);
void sg_batchnorm_fwd_eval(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *gamma, const float *beta, float eps,
                           const float *running_mean, const float *running_var, float *y);
void sg_batchnorm_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *gamma, const float *mean, const float *invstd, const float *dy,
                      float *dx, float *dgamma, float *dbeta, int accumulate);
void sg_batchnorm_sums(const sg_backend *be, int N, int C, int HW, const float *x,
                      const float *center, const float *dy, double *sums);
void sg_batchnorm_bwd_apply(const sg_backend *be, int N, int C, int HW, const float *x,
                            const float *gamma, const float *mean, const float *invstd,
                            const float *dy, const double *sums, double M, float *dx);
void sg_batchnorm_relu_fwd(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *gamma, const float *beta, float eps, float momentum,
                           float *running_mean, float *running_var, float *mean, float *invstd,
                           float *y);
void sg_batchnorm_relu_bwd(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *y, const float *gamma, const float *mean,
                           const float *invstd, const float *dy, float *dx, float *dgamma,
                           float *dbeta, int accumulate);
void sg_relu_fwd(const sg_backend *be, size_t n, const float *x, float *y);
void sg_relu_bwd(const sg_backend *be, size_t n, const float *y, const float *dy, float *dx);
void sg_add_fwd(const sg_backend *be, size_t n, const float *a, const float *b, float *y);
void sg_add_bwd(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                int accumulate);
void sg_maxpool_fwd(const sg_backend *be, const sg_pool_shape *s, const float *x, float *y,
                    int32_t *argmax);
void sg_maxpool_bwd(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                    const int32_t *argmax, float *dx);
void sg_avgpool_global_fwd(const sg_backend *be, int N, int C, int HW, const float *x, float *y);
void sg_avgpool_global_bwd(const sg_backend *be, int N, int C, int HW, const float *dy,
                           float *dx);
void sg_pair_loss_fwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                      const float *z, float *row_loss);
void sg_pair_loss_bwd(const sg_backend *be, int N, int D, int normalize, const float *p,
                      const float *z, float scale, float *dp, float *dz);
void sg_sgd_step(const sg_backend *be, int ngroups, const sg_sgd_group *groups, float momentum);
void sg_lars_step(const sg_backend *be, int ngroups, const sg_lars_group *groups, float lr,
                  float momentum, float eta);
void sg_ema_update(const sg_backend *be, size_t n, float m, const float *m_at,
                   const float *online, float *target);
void sg_corr_update(const sg_backend *be, int N, int D, const float *f, float rho, int init,
                    int center, float *F, float *work);
size_t sg_syevd_workspace_bytes(const sg_backend *be, int D);
int sg_syevd(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at);
void sg_eig_rebuild(const sg_backend *be, int D, const float *V, const float *p, float *W,
                    float *work);
void sg_eig_map(const sg_backend *be, int D, const float *s, float *p, int mode, double eps,
                double shift_c);
void sg_pred_symmetrize(const sg_backend *be, int R, int C, float *A, float *B);
void sg_directcopy_fill(const sg_backend *be, int D, const float *F, const float *s,
                        int normalize, double eps, float *W);
void sg_eig_pair_scale(const sg_backend *be, int D, float *X, const float *s, double reg);
void sg_rank1_sub(const sg_backend *be, int D, const float *mu, float *V);
void sg_aug_u8_to_float(const sg_backend *be, size_t n, const uint8_t *src, float *dst);
void sg_aug_resized_crop(const sg_backend *be, int C, int H, int W, const float *src, float y0,
                         float x0, float h, float w, int outH, int outW, float *dst);
void sg_aug_hflip(const sg_backend *be, int C, int H, int W, const float *src, float *dst);
void sg_aug_color_jitter(const sg_backend *be, int H, int W, float *img, float brightness,
                         float contrast, float saturation, float hue, const int order[4]);
void sg_aug_grayscale(const sg_backend *be, int H, int W, float *img);
void sg_aug_gaussian_blur(const sg_backend *be, int C, int H, int W, const float *src,
                          float *dst, int ksize, float sigma, float *work);
void sg_aug_solarize(const sg_backend *be, size_t n, float *img, float threshold);
void sg_aug_normalize(const sg_backend *be, int C, int HW, float *img, const float *mean,
                      const float *std);
void sg_aug_views(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src, int C,
                  int S, const sg_aug_view *view, int ksize, const float *mean, const float *std,
                  float *dst, void *work);

/* torchvision's Gaussian blur taps, taps[ksize] for sigma: exp(-x^2/2sigma^2) over
 * x = k - ksize/2, summed and divided in double, then rounded to float. Every backend's blur
 * takes its taps from here, so they are the same bits everywhere. */
void sg_aug_blur_taps(int ksize, float sigma, float *taps);

/* One view of one image through the single-image aug ops above, in aug_views' order
 * (sg_augment's): what aug_views computes for one image, defined by the ops it chains. src
 * [Cin, H, W] uint8 and dst [C, S, S]; scratch img [C, H, W], blurred and blur_work [C, S, S];
 * all in be's memory. ksize is read when v blurs; mean/std (host, C values) or NULL. */
void sg_aug_view_by_ops(const sg_backend *be, int Cin, int H, int W, const uint8_t *src, int C,
                        int S, const sg_aug_view *v, int ksize, const float *mean,
                        const float *std, float *dst, float *img, float *blurred,
                        float *blur_work);

/* The largest Gaussian blur kernel the augmentation ops take (odd). */
#define SG_AUG_BLUR_MAX_KSIZE 255 /* the backends keep the taps on the stack / in the launch */

#ifdef __cplusplus
}
#endif
