/* kernels/kernels.h: the one kernel interface every backend implements.
 *
 * A backend is a value: a struct of function pointers. Callers write
 *     const sg_backend *be = sg_backend_get("cpu");
 *     be->gemm(be, ...);
 * Every kernel takes the backend itself as its first argument, so that a wrapping backend (the
 * tracing backend of the kernel suite) can record the call and forward it to the backend it wraps,
 * and a device backend can reach its own state (handles, streams) through be->state.
 *
 * Conventions (all backends):
 *  - float32, row-major, activations NCHW, conv filters KCRS; pointers are backend memory
 *    (host memory for "cpu", device memory for "cuda"): callers take it with mem_alloc and move
 *    data with mem_upload / mem_download, so one caller serves every backend.
 *  - Kernels are queued in call order on the backend's one stream; host-side arguments (group
 *    tables, shapes) may be reused as soon as a call returns.
 *  - Kernels never allocate. Scratch memory is passed in by the caller, sized by the matching
 *    *_workspace_bytes function, so a training step can carve it from its arena at build time.
 *  - Gradient outputs of parameters take an `accumulate` flag: 0 overwrites, 1 adds (a weight used
 *    twice in a step, e.g. BYOL without stop-gradient, sums its gradients).
 *  - Every kernel has a FLOP and byte count for its shape (sg_cost_* below), backend-independent,
 *    used by the kernel suite to report GFLOP/s and GB/s.
 *  - Naive double-precision references of every kernel live in kernels/ref/ref.h.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sg_backend sg_backend;

/* eig_map's modes (core/ssl's sg_eigmap, in the same order). */
typedef enum {
    SG_EIG_MAP_CODE = 0,
    SG_EIG_MAP_PAPER = 1,
    SG_EIG_MAP_SHIFT = 2,
    SG_EIG_MAP_SHIFT_REL = 3,
    SG_EIG_MAP_COUNT
} sg_eig_map_mode;

/* How a backend computes a convolution. DEFAULT is the backend's own choice (im2col + gemm on
 * both backends); the others are asked for by name (conv.algo) and run where the backend
 * supports them at that shape (the backend's supports(), kernels/ops.h):
 *   IM2COL    im2col / col2im around the backend's sgemm (cuBLAS on CUDA);
 *   WINOGRAD  CPU: Winograd F(2x2|3x3|4x4, 3x3), 3x3 stride-1 convolutions only;
 *   DNNL      CPU: oneDNN's convolution primitives, when the build has oneDNN;
 *   CUDNN     CUDA: cuDNN's convolutions, any geometry, when the build has cuDNN (the algorithm
 *             of each pass measured by cuDNN per shape; kernels/cuda/conv_cudnn.cu). */
typedef enum {
    SG_CONV_DEFAULT = 0,
    SG_CONV_IM2COL = 1,
    SG_CONV_WINOGRAD = 2,
    SG_CONV_DNNL = 3,
    SG_CONV_CUDNN = 4,
    SG_CONV_ALGO_COUNT
} sg_conv_algo;
/* "default", "im2col", "winograd", "dnnl", "cudnn": the conv.algo values, in enum order. */
extern const char *const sg_conv_algo_names[SG_CONV_ALGO_COUNT];

/* conv2d geometry. input [N, C, H, W], filter [K, C, R, S], output [N, K, P, Q].
 * Same stride and padding in both spatial dimensions (all ResNet convs are). */
typedef struct {
    int N, C, H, W;
    int K, R, S;
    int stride, pad;
    int P, Q; /* output size, filled by sg_conv_shape_make */
    int algo; /* sg_conv_algo; sg_conv_shape_make sets SG_CONV_DEFAULT */
} sg_conv_shape;
sg_conv_shape sg_conv_shape_make(int N, int C, int H, int W, int K, int R, int S, int stride, int pad);

/* max-pool geometry: input [N, C, H, W], window k x k, output [N, C, P, Q]; padding acts as -inf. */
typedef struct {
    int N, C, H, W;
    int k, stride, pad;
    int P, Q; /* filled by sg_pool_shape_make */
} sg_pool_shape;
sg_pool_shape sg_pool_shape_make(int N, int C, int H, int W, int k, int stride, int pad);

/* One parameter group for the optimiser: n contiguous parameters w, gradients g and momentum m,
 * with the group's own learning rate and weight decay (trunk and predictor are separate groups).
 * lr_at, when not NULL, is backend memory holding the learning rate, read when the kernel runs
 * instead of lr: a step graph launches the same call every step, with that step's rate put
 * there first. */
typedef struct {
    float *w;
    const float *g;
    float *m;
    size_t n;
    float lr;
    float weight_decay;
    const float *lr_at;
} sg_sgd_group;

/* One tensor for LARS: adapt = 0 excludes it from the trust ratio and weight decay (biases and
 * BN parameters in BYOL's recipe). lr_at, when not NULL, is backend memory holding its learning
 * rate, read when the kernel runs instead of lars_step's lr (as sg_sgd_group's). */
typedef struct {
    float *w;
    const float *g;
    float *m;
    size_t n;
    float weight_decay;
    int adapt;
    const float *lr_at;
} sg_lars_group;

/* One view's random draws for aug_views: what sg_augment (core/data) draws for one image, in
 * the parameters of the single-image ops. */
typedef struct {
    float y0, x0, h, w;                          /* crop box: top, left, height, width (pixels) */
    float brightness, contrast, saturation, hue; /* colour jitter's factors (jitter != 0) */
    float sigma;                                 /* the blur's sigma (blur != 0) */
    int32_t order[4];                            /* colour jitter's order (jitter != 0) */
    uint8_t flip, jitter, gray, blur, solarize;  /* which stages run (0 or 1) */
    uint8_t unused_[3];
} sg_aug_view;

struct sg_backend {
    const char *name; /* "cpu", "cuda", "trace(cpu)", ... */
    void *state;      /* backend-private: threads, handles, streams; NULL for stateless ones */
    /* 1: backend pointers are host pointers (cpu), so host code may read and write them
     * directly; 0: device memory, reached only through the mem_* functions. */
    int host_memory;
    /* Optional (NULL: every op whose slots are filled runs at every shape). op is an sg_op of
     * kernels/ops.h, val its parameter values in the op table's order (NULL: any shape); 1 when
     * this backend runs it. Callers ask through sg_backend_supports (kernels/ops.h). */
    int (*supports)(const sg_backend *be, int op, const int *val);
    /* Optional (NULL: fp32 only). The precision of this backend's matrix products (gemm, linear
     * and conv; trainer.precision, sg_precision): p >= 0 sets it and returns the previous one,
     * or -1 (nothing changed) when the backend does not run p; p < 0 returns the current one.
     * Callers go through sg_backend_precision / sg_backend_set_precision (kernels/backend.h). */
    int (*precision)(const sg_backend *be, int p);

    /* ---- dense ---------------------------------------------------------------------------
     * C[M,N] = alpha * op(A) * op(B) + beta * C; op(X) = X or X^T (trans != 0).
     * op(A) is [M,K], op(B) is [K,N]; lda/ldb/ldc are row strides of the stored matrices. */
    void (*gemm)(const sg_backend *be, int transA, int transB, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

    /* y[N,Out] = x[N,In] * W[Out,In]^T + b[Out] (PyTorch's nn.Linear; b may be NULL). */
    void (*linear_fwd)(const sg_backend *be, int N, int In, int Out, const float *x,
                       const float *W, const float *b, float *y);
    /* dx[N,In] = dy W (overwritten; dx may be NULL), dW[Out,In] = dy^T x, db[Out] = sum_n dy
     * (db may be NULL); dW/db overwritten or accumulated per `accumulate`. */
    void (*linear_bwd)(const sg_backend *be, int N, int In, int Out, const float *x,
                       const float *W, const float *dy, float *dx, float *dW, float *db,
                       int accumulate);

    /* ---- convolution (no bias: every ResNet conv is followed by batch norm) ---------------
     * workspace: at least conv2d_workspace_bytes(be, s) bytes, shared by the three passes. */
    size_t (*conv2d_workspace_bytes)(const sg_backend *be, const sg_conv_shape *s);
    /* y[N,K,P,Q] = conv(x[N,C,H,W], w[K,C,R,S]) */
    void (*conv2d_fwd)(const sg_backend *be, const sg_conv_shape *s, const float *x,
                       const float *w, float *y, void *workspace);
    /* dx[N,C,H,W] (overwritten) from dy[N,K,P,Q] and w */
    void (*conv2d_bwd_data)(const sg_backend *be, const sg_conv_shape *s, const float *dy,
                            const float *w, float *dx, void *workspace);
    /* dw[K,C,R,S] from x and dy, overwritten or accumulated */
    void (*conv2d_bwd_filter)(const sg_backend *be, const sg_conv_shape *s, const float *x,
                              const float *dy, float *dw, int accumulate, void *workspace);

    /* ---- batch norm over x[N,C,HW] (HW = 1 for (N,C) features) ----------------------------
     * Training: normalise with the batch mean and biased variance, save mean[C] and
     * invstd[C] = 1/sqrt(var+eps) for backward, and (if running_mean != NULL) update the running
     * statistics PyTorch's way: r = (1-momentum) r + momentum * batch, with the unbiased variance.
     * gamma/beta NULL means no affine transform (the projector's and predictor's BN). */
    void (*batchnorm_fwd_train)(const sg_backend *be, int N, int C, int HW, const float *x,
                                const float *gamma, const float *beta, float eps, float momentum,
                                float *running_mean, float *running_var, float *mean,
                                float *invstd, float *y);
    /* Evaluation: normalise with the running statistics. */
    void (*batchnorm_fwd_eval)(const sg_backend *be, int N, int C, int HW, const float *x,
                               const float *gamma, const float *beta, float eps,
                               const float *running_mean, const float *running_var, float *y);
    /* dx (overwritten), dgamma/dbeta (NULL when no affine; overwritten or accumulated). */
    void (*batchnorm_bwd)(const sg_backend *be, int N, int C, int HW, const float *x,
                          const float *gamma, const float *mean, const float *invstd,
                          const float *dy, float *dx, float *dgamma, float *dbeta,
                          int accumulate);
    /* Synchronised batch norm (statistics over several ranks' batches) in two pieces, so the
     * caller can add the per-channel sums up across ranks in between.
     * Per-channel sums over x[N,C,HW], in double, overwritten, accumulated in a fixed order
     * (deterministic, independent of thread count):
     *   dy == NULL: sums[c] = sum (x - center[c]),  sums[C+c] = sum (x - center[c])^2
     *   dy != NULL: sums[c] = sum dy,               sums[C+c] = sum dy * (x - center[c])
     * center NULL means 0. sums is backend memory of 2*C doubles. */
    void (*batchnorm_sums)(const sg_backend *be, int N, int C, int HW, const float *x,
                           const float *center, const float *dy, double *sums);
    /* Batch-norm input gradient from sums over a batch of M values per channel (M may be larger
     * than N*HW: the sums then cover several ranks' batches):
     *   dx = gamma[c]*invstd[c] * (dy - sums[c]/M - (x - mean[c]) * invstd[c]^2 * sums[C+c]/M)
     * gamma NULL means 1; sums as batchnorm_sums(dy) wrote them, summed over the ranks; dx
     * overwritten. With one rank (M = N*HW, sums of this batch around mean) dx is
     * batchnorm_bwd's. */
    void (*batchnorm_bwd_apply)(const sg_backend *be, int N, int C, int HW, const float *x,
                                const float *gamma, const float *mean, const float *invstd,
                                const float *dy, const double *sums, double M, float *dx);
    /* Batch norm followed by a ReLU (ResNet's conv -> BN -> ReLU), fused so the activation is
     * not read and written once more for the ReLU.
     * Training forward: y = max(batchnorm_fwd_train's y, 0), with the same statistics, saved
     * mean/invstd and running updates; bit for bit batchnorm_fwd_train then relu_fwd. */
    void (*batchnorm_relu_fwd)(const sg_backend *be, int N, int C, int HW, const float *x,
                               const float *gamma, const float *beta, float eps, float momentum,
                               float *running_mean, float *running_var, float *mean, float *invstd,
                               float *y);
    /* Its backward from the forward's input x and output y: batchnorm_bwd of the gradient
     * relu_bwd passes (dy where y > 0, else 0), bit for bit relu_bwd then batchnorm_bwd; dy is
     * not written, dx may alias dy. */
    void (*batchnorm_relu_bwd)(const sg_backend *be, int N, int C, int HW, const float *x,
                               const float *y, const float *gamma, const float *mean,
                               const float *invstd, const float *dy, float *dx, float *dgamma,
                               float *dbeta, int accumulate);

    /* ---- elementwise and pooling ------------------------------------------------------------ */
    /* y = max(x, 0); y may alias x. */
    void (*relu_fwd)(const sg_backend *be, size_t n, const float *x, float *y);
    /* dx = dy * (y > 0), from the forward output y; dx may alias dy. */
    void (*relu_bwd)(const sg_backend *be, size_t n, const float *y, const float *dy, float *dx);
    /* y = a + b (residual add); y may alias a or b. */
    void (*add_fwd)(const sg_backend *be, size_t n, const float *a, const float *b, float *y);
    /* da = dy, db = dy (either may be NULL), overwritten or accumulated. */
    void (*add_bwd)(const sg_backend *be, size_t n, const float *dy, float *da, float *db,
                    int accumulate);
    /* y[N,C,P,Q] = max over the window; argmax[N,C,P,Q] = index into the H*W plane of the max
     * (first one on ties), kept for backward. */
    void (*maxpool_fwd)(const sg_backend *be, const sg_pool_shape *s, const float *x, float *y,
                        int32_t *argmax);
    /* dx (overwritten) scatters dy to argmax. */
    void (*maxpool_bwd)(const sg_backend *be, const sg_pool_shape *s, const float *dy,
                        const int32_t *argmax, float *dx);
    /* y[N,C] = mean over HW of x[N,C,HW] */
    void (*avgpool_global_fwd)(const sg_backend *be, int N, int C, int HW, const float *x,
                               float *y);
    /* dx[N,C,HW] = dy[N,C] / HW (overwritten) */
    void (*avgpool_global_bwd)(const sg_backend *be, int N, int C, int HW, const float *dy,
                               float *dx);

    /* ---- the SSL loss ----------------------------------------------------------------------
     * Row loss between predictions p[N,D] and targets z[N,D]:
     *   normalize = 1: l_i = || p_i/|p_i| - z_i/|z_i| ||^2 = 2 - 2 cos(p_i, z_i)
     *   normalize = 0: l_i = || p_i - z_i ||^2            (the reference code's option)
     * Norms are clamped below at 1e-12 as F.normalize does. Writes row_loss[N]. */
    void (*pair_loss_fwd)(const sg_backend *be, int N, int D, int normalize, const float *p,
                          const float *z, float *row_loss);
    /* With dL/dl_i = scale for every row: dp[N,D] (overwritten) and, when the target is not
     * stop-gradient, dz[N,D] (overwritten; NULL skips it). */
    void (*pair_loss_bwd)(const sg_backend *be, int N, int D, int normalize, const float *p,
                          const float *z, float scale, float *dp, float *dz);

    /* ---- optimiser and EMA -----------------------------------------------------------------
     * PyTorch SGD per group: g' = g + wd*w; m = momentum*m + g'; w -= lr*m. */
    void (*sgd_step)(const sg_backend *be, int ngroups, const sg_sgd_group *groups,
                     float momentum);
    /* LARS (You et al. 2017) as in BYOL's implementation, per tensor:
     *   u = g + wd*w (adapt) or g;  r = eta*||w||/||u|| if adapt and both norms > 0, else 1;
     *   m = momentum*m + lr*r*u;  w -= m.
     * Norms are accumulated in double in a fixed order (deterministic). */
    void (*lars_step)(const sg_backend *be, int ngroups, const sg_lars_group *groups, float lr,
                      float momentum, float eta);
    /* target = m*target + (1-m)*online; m_at, when not NULL, is backend memory holding m, read
     * when the kernel runs instead of m (a step graph's rate changes every step). */
    void (*ema_update)(const sg_backend *be, size_t n, float m, const float *m_at,
                       const float *online, float *target);

    /* ---- DirectPred / DirectCopy -----------------------------------------------------------
     * F[D,D] <- rho*F + (1-rho) * B, B = (1/N) f^T f for f[N,D] (both triangles written);
     * init != 0 sets F <- B (the first batch); center != 0 subtracts the batch mean of f first
     * (the zero-mean variant), using work[D]. */
    void (*corr_update)(const sg_backend *be, int N, int D, const float *f, float rho, int init,
                        int center, float *F, float *work);
    /* Symmetric eigendecomposition (LAPACK ssyevd / cuSOLVER syevd). In: A[D,D] symmetric.
     * Out: w[D] eigenvalues ascending; A row j = unit eigenvector of w[j]. work:
     * syevd_workspace_bytes(be, D) bytes. info_at NULL: returns 0 on success, else the
     * solver's info code (the host waits for it). info_at (backend memory, one int): the info
     * code is written there when the solver runs, and syevd returns 0 at once, so a step need
     * not wait for it (the caller reads it back with the step's losses). */
    size_t (*syevd_workspace_bytes)(const sg_backend *be, int D);
    int (*syevd)(const sg_backend *be, int D, float *A, float *w, void *work, int *info_at);
    /* W[D,D] = sum_j p[j] u_j u_j^T with u_j = row j of V[D,D] (syevd's output layout);
     * work[D*D]. */
    void (*eig_rebuild)(const sg_backend *be, int D, const float *V, const float *p, float *W,
                        float *work);
    /* The small steps around them, on the backend so a step never waits on a download. Each is
     * the float/double expression the host code used, so the CPU's results are that code's bits.
     * DirectPred's eigenvalue map, p[j] from s[D] (smax = max(0, s), si = max(s[j], 0), in
     * double; p[j] = (float)v), mode an sg_eig_map_mode:
     *   CODE  v = max(sqrt(si/smax) (0 if smax = 0) + eps, 1e-4)
     *   PAPER v = sqrt(si) + eps*smax
     *   SHIFT v = sqrt(s[j] - shift_c) if positive, else 0
     *   SHIFT_REL v = sqrt(max(s[j]/smax (0 if smax = 0) - shift_c, 1e-4)) */
    void (*eig_map)(const sg_backend *be, int D, const float *s, float *p, int mode, double eps,
                    double shift_c);
    /* B == NULL: A[R,R] <- (A + A^T)/2 in place (R == C), each pair i < j set to
     * 0.5f*(A[i,j] + A[j,i]), the diagonal untouched. B != NULL (the tied two-layer predictor):
     * A[R,C] and B[C,R] both <- 0.5f*(A[r,c] + B[c,r]) at (r,c) and (c,r); A and B distinct. */
    void (*pred_symmetrize)(const sg_backend *be, int R, int C, float *A, float *B);
    /* DirectCopy: W[D,D] = scale*F + (float)eps * I, scale = 1.0f/s[D-1] when normalize and
     * s[D-1] > 0 (s: F's ascending eigenvalues, read only then; may be NULL otherwise), else 1. */
    void (*directcopy_fill)(const sg_backend *be, int D, const float *F, const float *s,
                            int normalize, double eps, float *W);
    /* The optimal predictor's solve in F's eigenbasis: X[i,j] /= (float)((si + sj + reg)/2),
     * si = max(s[i], 0) in double. */
    void (*eig_pair_scale)(const sg_backend *be, int D, float *X, const float *s, double reg);
    /* V[D,D] -= mu mu^T (float: V[i,j] -= mu[i]*mu[j]): F's zero-mean correction. */
    void (*rank1_sub)(const sg_backend *be, int D, const float *mu, float *V);

    /* ---- augmentation (one image, float CHW in [0,1]) --------------------------------------
     * Randomness is drawn by the caller (core/data) and passed in as parameters, so each op is
     * a deterministic function, testable on known images. */
    /* dst[n] = src[n] / 255 */
    void (*aug_u8_to_float)(const sg_backend *be, size_t n, const uint8_t *src, float *dst);
    /* Crop the box (top y0, left x0, height h, width w; pixel units, inside the image) of
     * src[C,H,W] and resize it to dst[C,outH,outW] bilinearly (torchvision's
     * antialias=False, align_corners=False sampling). */
    void (*aug_resized_crop)(const sg_backend *be, int C, int H, int W, const float *src,
                             float y0, float x0, float h, float w, int outH, int outW,
                             float *dst);
    /* dst = src mirrored left-right; dst may alias src. */
    void (*aug_hflip)(const sg_backend *be, int C, int H, int W, const float *src, float *dst);
    /* torchvision ColorJitter on img[3,H,W] in place with the drawn factors (brightness,
     * contrast, saturation in [0,inf), 1 = identity; hue shift in [-0.5,0.5], 0 = identity),
     * applied in the drawn order: order[i] in {0 brightness, 1 contrast, 2 saturation, 3 hue}.
     * Results are clamped to [0,1] after each op as torchvision does. */
    void (*aug_color_jitter)(const sg_backend *be, int H, int W, float *img, float brightness,
                             float contrast, float saturation, float hue, const int order[4]);
    /* img[3,H,W] in place -> luma (0.299 R + 0.587 G + 0.114 B) in all three channels. */
    void (*aug_grayscale)(const sg_backend *be, int H, int W, float *img);
    /* Separable Gaussian blur of src[C,H,W] into dst, kernel size ksize (odd), reflect padding
     * (torchvision's GaussianBlur); work: C*H*W floats. */
    void (*aug_gaussian_blur)(const sg_backend *be, int C, int H, int W, const float *src,
                              float *dst, int ksize, float sigma, float *work);
    /* x >= threshold -> 1 - x, in place. */
    void (*aug_solarize)(const sg_backend *be, size_t n, float *img, float threshold);
    /* img[c] = (img[c] - mean[c]) / std[c] in place. mean and std are host arrays of C values
     * (C <= 32 on CUDA, where they travel as kernel arguments). */
    void (*aug_normalize)(const sg_backend *be, int C, int HW, float *img, const float *mean,
                          const float *std);
    /* One view of each of N same-size images in one call, where the ops above take one image
     * per call (on a GPU, a batch's few hundred tiny launches become a few). Image n goes
     * through the stages sg_augment runs, with view[n]'s draws:
     *   aug_u8_to_float (Cin = 1 with C = 3: the plane repeated in all three channels),
     *   aug_resized_crop of view[n]'s box to S x S, aug_hflip (flip), aug_color_jitter
     *   (jitter), aug_grayscale (gray), aug_gaussian_blur of size ksize (blur), aug_solarize at
     *   0.5 (solarize), aug_normalize (mean and std non-NULL);
     * each stage computes what its op computes on this backend, bit for bit, so a batch is
     * the views the single-image ops make one by one. src [N, Cin, H, W] uint8 and
     * dst [N, C, S, S] are backend memory; view[N], mean[C] and std[C] are host tables (C <= 32);
     * jitter and gray need C = 3; ksize is odd (1 where no view blurs). work: at least
     * sg_aug_views_work_bytes(N, Cin, H, W, C, S, ksize) bytes of backend memory. */
    void (*aug_views)(const sg_backend *be, int N, int Cin, int H, int W, const uint8_t *src,
                      int C, int S, const sg_aug_view *view, int ksize, const float *mean,
                      const float *std, float *dst, void *work);

    /* ---- memory, synchronisation, timing ---------------------------------------------------
     * mem_alloc: zero-filled backend memory aligned to 256 bytes, or NULL (CUDA: cudaMalloc,
     * never managed memory). A model takes all of its memory at build time. */
    void *(*mem_alloc)(const sg_backend *be, size_t bytes);
    void (*mem_free)(const sg_backend *be, void *p);
    /* Host memory for staging transfers (page-locked on CUDA, so copies run at full speed). */
    void *(*host_alloc)(const sg_backend *be, size_t bytes);
    void (*host_free)(const sg_backend *be, void *p);
    /* upload: host -> backend, returns when `src` may be reused. download: backend -> host,
     * returns when `dst` holds the data (after every queued kernel). copy (backend -> backend)
     * and zero are queued in order with the kernels. */
    void (*mem_upload)(const sg_backend *be, void *dst, const void *src, size_t bytes);
    void (*mem_download)(const sg_backend *be, void *dst, const void *src, size_t bytes);
    void (*mem_copy)(const sg_backend *be, void *dst, const void *src, size_t bytes);
    void (*mem_zero)(const sg_backend *be, void *dst, size_t bytes);
    /* Returns when every queued kernel has finished. */
    void (*sync)(const sg_backend *be);
    /* Times backend work as the device sees it: timer_stop returns the seconds between the two
     * calls (CUDA events recorded on the stream; the host clock on the CPU, whose kernels are
     * synchronous). One timer per backend, not nested. */
    void (*timer_start)(const sg_backend *be);
    double (*timer_stop)(const sg_backend *be);

    /* ---- step graphs (optional: NULL on a backend that cannot record; trainer.graph) --------
     * Work recorded once and queued again as one unit (a CUDA Graph on CUDA), so a step's few
     * hundred kernels cost one launch. The CPU backend runs kernels as they are called and has
     * none; the replaying backend (kernels/trace/replay.h) gives any backend these slots with
     * CUDA's semantics, so the protocol is tested without a GPU.
     * graph_begin: from now on every kernel, mem_copy and mem_zero queued on the backend is
     *   recorded, not run. 0, or -1 with the reason in why (nothing recorded). Until graph_end
     *   nothing may wait on the backend or take memory: mem_upload, mem_download, sync, the
     *   timers, mem_alloc / mem_free, host_alloc / host_free and syevd without info_at (which
     *   reads its status back) end the process naming the call (CUDA invalidates a capture
     *   that waits).
     * graph_end: stops recording; the recorded work as a graph, or NULL with the reason in why.
     * graph_launch: queues the graph's work again, in order, each call with the arguments it
     *   was recorded with (pointers, sizes, scalars, and host tables such as sgd_step's groups
     *   as they were then): a graph reads and writes the same memory on every launch.
     * graph_free: releases a graph (after the work queued from it has finished). */
    int (*graph_begin)(const sg_backend *be, char *why, size_t why_len);
    void *(*graph_end)(const sg_backend *be, char *why, size_t why_len);
    void (*graph_launch)(const sg_backend *be, void *graph);
    void (*graph_free)(const sg_backend *be, void *graph);
};

/* CPU backend threads: sets OpenMP's and OpenBLAS's thread counts together (OpenBLAS is the
 * OpenMP build, so a BLAS call inside one of our parallel regions does not spawn more threads).
 * n <= 0 means the number of cores. Returns the count in effect. */
int sg_cpu_set_threads(int n);
int sg_cpu_get_threads(void);

/* CPU backend sgemm (gemm.impl): every matrix product the CPU backend computes (gemm, linear,
 * im2col convolutions, Winograd's transformed-domain products, eig_rebuild) goes through one
 * sgemm, OpenBLAS's cblas_sgemm or oneDNN's dnnl_sgemm (where the build has oneDNN). Either is
 * deterministic for a given thread count. Process-wide like the thread count: set it while no
 * CPU kernel runs. Returns 0, or -1 (nothing changed) for an impl this build lacks. */
typedef enum { SG_GEMM_OPENBLAS = 0, SG_GEMM_DNNL = 1, SG_GEMM_IMPL_COUNT } sg_gemm_impl;
/* The precision of matrix products (trainer.precision): fp32 throughout; tf32 or bf16 inputs
 * (rounded to 10 or 7 mantissa bits) with fp32 accumulation and fp32 storage, on tensor cores.
 * The CPU backend runs fp32 only; the CUDA backend runs all three in its cuBLAS products
 * (gemm, linear, im2col convolutions). Everything else (BN, loss, EMA, the optimiser,
 * DirectPred's eigendecomposition and rebuild) is fp32 in every mode. */
typedef enum { SG_PREC_FP32 = 0, SG_PREC_TF32 = 1, SG_PREC_BF16 = 2, SG_PREC_COUNT } sg_precision;
extern const char *const sg_precision_names[SG_PREC_COUNT]; /* "fp32", "tf32", "bf16" */
/* The unit roundoff of a product's inputs in precision p (0 for fp32: they are not rounded;
 * 2^-11 for tf32, 2^-8 for bf16), from which checkers derive their error bounds. */
double sg_precision_input_unit(sg_precision p);
extern const char *const sg_gemm_impl_names[SG_GEMM_IMPL_COUNT]; /* "openblas", "dnnl" */
int sg_cpu_set_gemm_impl(sg_gemm_impl impl);
sg_gemm_impl sg_cpu_get_gemm_impl(void);
/* 1 when this build runs impl; else 0 with the reason in *why (when why != NULL). */
int sg_cpu_gemm_impl_available(sg_gemm_impl impl, const char **why);

/* ---- costs: FLOPs and bytes moved (each input read once, each output written once) ------- */
typedef struct {
    double flops;
    double bytes;
} sg_cost;

sg_cost sg_cost_gemm(int M, int N, int K, int beta_nonzero);
sg_cost sg_cost_linear_fwd(int N, int In, int Out, int has_bias);
sg_cost sg_cost_linear_bwd(int N, int In, int Out, int want_dx, int has_bias);
sg_cost sg_cost_conv2d_fwd(const sg_conv_shape *s);
sg_cost sg_cost_conv2d_bwd_data(const sg_conv_shape *s);
sg_cost sg_cost_conv2d_bwd_filter(const sg_conv_shape *s);
sg_cost sg_cost_batchnorm_fwd(int N, int C, int HW, int affine);
sg_cost sg_cost_batchnorm_bwd(int N, int C, int HW, int affine);
sg_cost sg_cost_batchnorm_sums(int N, int C, int HW, int with_center, int with_dy);
sg_cost sg_cost_batchnorm_bwd_apply(int N, int C, int HW, int affine);
sg_cost sg_cost_batchnorm_relu_fwd(int N, int C, int HW, int affine);
sg_cost sg_cost_batchnorm_relu_bwd(int N, int C, int HW, int affine);
sg_cost sg_cost_relu_fwd(size_t n);
sg_cost sg_cost_relu_bwd(size_t n);
sg_cost sg_cost_add_fwd(size_t n);
sg_cost sg_cost_add_bwd(size_t n, int outputs);
sg_cost sg_cost_maxpool_fwd(const sg_pool_shape *s);
sg_cost sg_cost_maxpool_bwd(const sg_pool_shape *s);
sg_cost sg_cost_avgpool_global_fwd(int N, int C, int HW);
sg_cost sg_cost_avgpool_global_bwd(int N, int C, int HW);
sg_cost sg_cost_pair_loss_fwd(int N, int D);
sg_cost sg_cost_pair_loss_bwd(int N, int D, int want_dz);
sg_cost sg_cost_sgd_step(size_t nparams);
sg_cost sg_cost_lars_step(size_t nparams);
sg_cost sg_cost_ema_update(size_t n);
sg_cost sg_cost_corr_update(int N, int D);
sg_cost sg_cost_syevd(int D);
sg_cost sg_cost_eig_rebuild(int D);
sg_cost sg_cost_eig_map(int D);
sg_cost sg_cost_pred_symmetrize(int R, int C, int tied);
sg_cost sg_cost_directcopy_fill(int D);
sg_cost sg_cost_eig_pair_scale(int D);
sg_cost sg_cost_rank1_sub(int D);
sg_cost sg_cost_aug_u8_to_float(size_t n);
sg_cost sg_cost_aug_resized_crop(int C, int H, int W, int outH, int outW);
sg_cost sg_cost_aug_hflip(int C, int H, int W);
sg_cost sg_cost_aug_color_jitter(int H, int W);
sg_cost sg_cost_aug_grayscale(int H, int W);
sg_cost sg_cost_aug_gaussian_blur(int C, int H, int W, int ksize);
sg_cost sg_cost_aug_solarize(size_t n);
sg_cost sg_cost_aug_normalize(int C, int HW);
/* aug_views with every stage on (a bound on any batch of these sizes). */
sg_cost sg_cost_aug_views(int N, int Cin, int H, int W, int C, int S, int ksize);

/* aug_views' scratch: room for what either backend keeps there (the CPU: one image's float
 * copy and two S x S buffers; CUDA: the views' table, the blur taps and contrast means of N
 * images, and an N x C x S x S blur buffer), each part rounded up to 256 bytes. */
size_t sg_aug_views_work_bytes(int N, int Cin, int H, int W, int C, int S, int ksize);

#ifdef __cplusplus
}
#endif
