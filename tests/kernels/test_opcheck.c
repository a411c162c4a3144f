/* tests/kernels/test_opcheck.c: the op checker (kernels/opcheck/opcheck.h).
 *
 * Every op passes on the CPU backend for two seeds, on its default shape and on shapes that
 * reach the other modes (accumulate off, no bias, in-place, stride 1, ...); shape specs parse
 * and bad ones are rejected with the parameter named; and the checker catches broken kernels:
 * a copy of the CPU backend with one slot replaced by a deliberately wrong function must be
 * reported failing for that op (and only that op), while a correct-but-different syevd
 * (an eigenvector with its sign flipped) must still pass. */
#include <math.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/opcheck/opcheck.h"
#include "kernels/kernels.h"
#include "test_util.h"
#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

static const sg_backend *cpu;

static int op_index(const char *name) {
    int i = sg_op_find(name);
    SG_CHECK(i >= 0, "no op %s", name);
    return i;
}

/* Runs an op; returns 1 when it ran and matched (reporting why not otherwise). */
static int passes(const sg_backend *be, const char *name, const char *shape, uint64_t seed) {
    sg_opcheck_result res;
    sg_err err = {{0}};
    if (sg_opcheck_run(be, op_index(name), shape, seed, 0, &res, &err)) {
        fprintf(stderr, "  %s %s: could not run: %s\n", name, shape ? shape : "(default)",
                err.msg);
        return 0;
    }
    if (!res.ok)
        fprintf(stderr, "  %s %s seed %llu: err/tol %.3g (atol %.2g rtol %.2g)\n", name,
                res.shape, (unsigned long long)seed, res.max_err, res.tol_atol, res.tol_rtol);
    return res.ok;
}

/* Runs an op that must run and mismatch. */
static int fails(const sg_backend *be, const char *name, const char *shape) {
    sg_opcheck_result res;
    sg_err err = {{0}};
    if (sg_opcheck_run(be, op_index(name), shape, 5, 3, &res, &err)) {
        fprintf(stderr, "  %s: could not run: %s\n", name, err.msg);
        return 0;
    }
    /* a mismatch is recorded and never timed */
    return !res.ok && res.max_err > 1 && res.reps == 0 && res.seconds_median == 0;
}

/* ---- deliberately broken kernels ---------------------------------------------------------- */

static void relu_leaking_negatives(const sg_backend *be, size_t n, const float *x, float *y) {
    (void)be;
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.01f * x[i];
}

static void gemm_ignoring_beta(const sg_backend *be, int tA, int tB, int M, int N, int K,
                               float alpha, const float *A, int lda, const float *B, int ldb,
                               float beta, float *C, int ldc) {
    (void)be, (void)beta;
    cpu->gemm(cpu, tA, tB, M, N, K, alpha, A, lda, B, ldb, 0.0f, C, ldc);
}

static void conv_filter_ignoring_accumulate(const sg_backend *be, const sg_conv_shape *s,
                                            const float *x, const float *dy, float *dw,
                                            int accumulate, void *workspace) {
    (void)be, (void)accumulate;
    cpu->conv2d_bwd_filter(cpu, s, x, dy, dw, 0, workspace);
}

static void bn_bwd_without_mean_term(const sg_backend *be, int N, int C, int HW, const float *x,
                                     const float *gamma, const float *mean, const float *invstd,
                                     const float *dy, float *dx, float *dgamma, float *dbeta,
                                     int accumulate) {
    /* the right dgamma/dbeta, but dx = gamma * invstd * dy (the batch-statistics terms lost) */
    (void)be;
    cpu->batchnorm_bwd(cpu, N, C, HW, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                size_t k = ((size_t)n * C + c) * HW + i;
                dx[k] = (gamma ? gamma[c] : 1.0f) * invstd[c] * dy[k];
            }
}

/* Sums that ignore the center (sum x and sum x^2 where sum (x - c)... was asked for). */
static void bn_sums_ignoring_center(const sg_backend *be, int N, int C, int HW, const float *x,
                                    const float *center, const float *dy, double *sums) {
    (void)be, (void)center;
    cpu->batchnorm_sums(cpu, N, C, HW, x, NULL, dy, sums);
}

/* The gradient of synchronised BN with this batch's count in place of M: right for one rank
 * only. */
static void bn_apply_with_local_count(const sg_backend *be, int N, int C, int HW, const float *x,
                                      const float *gamma, const float *mean, const float *invstd,
                                      const float *dy, const double *sums, double M, float *dx) {
    (void)be, (void)M;
    cpu->batchnorm_bwd_apply(cpu, N, C, HW, x, gamma, mean, invstd, dy, sums, (double)N * HW, dx);
}

/* A fused batch norm + ReLU backward that forgets the ReLU (the batch norm gradient of dy). */
static void bn_relu_bwd_without_mask(const sg_backend *be, int N, int C, int HW, const float *x,
                                     const float *y, const float *gamma, const float *mean,
                                     const float *invstd, const float *dy, float *dx,
                                     float *dgamma, float *dbeta, int accumulate) {
    (void)be, (void)y;
    cpu->batchnorm_bwd(cpu, N, C, HW, x, gamma, mean, invstd, dy, dx, dgamma, dbeta, accumulate);
}

/* A fused forward whose ReLU lets 0.01 x of negatives through: within the reference tolerance
 * nowhere, and not the bits of batchnorm_fwd_train then relu_fwd either. */
static void bn_relu_fwd_leaking(const sg_backend *be, int N, int C, int HW, const float *x,
                                const float *gamma, const float *beta, float eps, float momentum,
                                float *rm, float *rv, float *mean, float *invstd, float *y) {
    (void)be;
    cpu->batchnorm_fwd_train(cpu, N, C, HW, x, gamma, beta, eps, momentum, rm, rv, mean, invstd,
                             y);
    for (size_t i = 0; i < (size_t)N * C * HW; i++) y[i] = y[i] > 0 ? y[i] : 0.01f * y[i];
}

/* A fused forward one ulp off where it is positive: well within the reference's tolerance, but
 * not the bits of the two kernels it stands for, which the check also demands. */
static void bn_relu_fwd_one_ulp_off(const sg_backend *be, int N, int C, int HW, const float *x,
                                    const float *gamma, const float *beta, float eps,
                                    float momentum, float *rm, float *rv, float *mean,
                                    float *invstd, float *y) {
    (void)be;
    cpu->batchnorm_relu_fwd(cpu, N, C, HW, x, gamma, beta, eps, momentum, rm, rv, mean, invstd,
                            y);
    for (size_t i = 0; i < (size_t)N * C * HW; i++)
        if (y[i] > 0) y[i] = nextafterf(y[i], 1e30f);
}

/* A batch of views that never flips: the reference and the single-image ops both see it. */
static void views_never_flipping(const sg_backend *be, int N, int Cin, int H, int W,
                                 const uint8_t *src, int C, int S, const sg_aug_view *view,
                                 int ksize, const float *mean, const float *std, float *dst,
                                 void *work) {
    sg_aug_view *v = malloc((size_t)N * sizeof *v);
    memcpy(v, view, (size_t)N * sizeof *v);
    for (int n = 0; n < N; n++) v[n].flip = 0;
    cpu->aug_views(be, N, Cin, H, W, src, C, S, v, ksize, mean, std, dst, work);
    free(v);
}

/* A correct solver whose first eigenvector comes out with the other sign: must pass. */
static int syevd_flipping_a_sign(const sg_backend *be, int D, float *A, float *w, void *work,
                                 int *info_at) {
    (void)be;
    int rc = cpu->syevd(cpu, D, A, w, work, info_at);
    for (int k = 0; k < D; k++) A[k] = -A[k];
    return rc;
}

/* Eigenvalues right, but two eigenvectors swapped: reconstruction fails. */
static int syevd_swapping_vectors(const sg_backend *be, int D, float *A, float *w, void *work,
                                  int *info_at) {
    (void)be;
    int rc = cpu->syevd(cpu, D, A, w, work, info_at);
    for (int k = 0; k < D; k++) {
        float t = A[k];
        A[k] = A[(size_t)D + k];
        A[(size_t)D + k] = t;
    }
    return rc;
}

/* The tied symmetrisation writing A only: B keeps its old values. */
static void pred_sym_forgetting_b(const sg_backend *be, int R, int C, float *A, float *B) {
    (void)be;
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            A[(size_t)r * C + c] = 0.5f * (A[(size_t)r * C + c] + (B ? B[(size_t)c * R + r] : 0));
}

/* The optimal predictor's scaling without clamping negative eigenvalues at 0. */
static void pair_scale_unclamped(const sg_backend *be, int D, float *X, const float *s,
                                 double reg) {
    (void)be;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) X[(size_t)i * D + j] /= (float)((s[i] + s[j] + reg) / 2.0);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_list(void) {
    int n = SG_OP_COUNT;
    CHECK(n == 46, "%d ops", n);
    static const char *const expected[] = {
        "gemm_nn", "gemm_nt", "gemm_tn", "gemm_tt", "linear_fwd", "linear_bwd", "conv2d_fwd",
        "conv2d_bwd_data", "conv2d_bwd_filter", "batchnorm_fwd_train", "batchnorm_fwd_eval",
        "batchnorm_bwd", "batchnorm_sums", "batchnorm_bwd_apply", "batchnorm_relu_fwd",
        "batchnorm_relu_bwd", "relu_fwd", "relu_bwd",
        "add_fwd", "add_bwd", "maxpool_fwd",
        "maxpool_bwd", "avgpool_global_fwd", "avgpool_global_bwd", "pair_loss_fwd",
        "pair_loss_bwd", "sgd_step", "lars_step", "ema_update", "corr_update", "syevd", "eig_rebuild",
        "eig_map", "pred_symmetrize", "directcopy_fill", "eig_pair_scale", "rank1_sub",
        "aug_u8_to_float", "aug_resized_crop", "aug_hflip", "aug_color_jitter", "aug_grayscale",
        "aug_gaussian_blur", "aug_solarize", "aug_normalize", "aug_views"};
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++)
        CHECK(sg_op_find(expected[k]) >= 0, "op %s missing from the list", expected[k]);
    for (int i = 0; i < n; i++) {
        CHECK(sg_op_find(sg_op_get(i)->name) == i, "op %s listed twice", sg_op_get(i)->name);
        CHECK(strlen(sg_op_params_text(i)) > 0, "op %s has no parameters", sg_op_get(i)->name);
    }
    CHECK(strcmp(sg_op_params_text(op_index("gemm_nn")), "M,N,K,[ldpad=0],[gemm=0],[prec=0]") == 0, "%s",
          sg_op_params_text(op_index("gemm_nn")));
    CHECK(sg_op_find("gemm") == -1, "a prefix is not a name");
}

static void test_every_op_passes(void) {
    const uint64_t seeds[2] = {1, 20240611};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < SG_OP_COUNT; i++)
            CHECK(passes(cpu, sg_op_get(i)->name, NULL, seeds[s]), "%s seed %llu",
                  sg_op_get(i)->name, (unsigned long long)seeds[s]);
}

/* The other modes and geometries, each for two seeds. */
static void test_modes_pass(void) {
    static const char *const cases[][2] = {
        {"gemm_nn", "M=1,N=1,K=1"},
        {"gemm_tt", "M=20,N=33,K=7,ldpad=0"},
        {"linear_fwd", "N=5,In=9,Out=4,bias=0"},
        {"linear_bwd", "N=5,In=9,Out=4,dx=0,bias=0,acc=0"},
        {"linear_bwd", "N=5,In=9,Out=4,acc=0"},
        {"conv2d_fwd", "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=0"},
        {"conv2d_fwd", "N=2,C=4,H=7,W=7,K=3,R=1,S=1,stride=2,pad=0"},
        {"conv2d_fwd", "N=1,C=3,H=13,W=12,K=4,R=7,S=7,stride=2,pad=3"},
        {"conv2d_bwd_data", "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=0"},
        {"conv2d_bwd_data", "N=2,C=4,H=7,W=7,K=3,R=1,S=1,stride=2,pad=0"},
        {"conv2d_bwd_data", "N=1,C=3,H=13,W=12,K=4,R=7,S=7,stride=2,pad=3"},
        {"conv2d_bwd_filter", "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=1,acc=0"},
        {"conv2d_bwd_filter", "N=2,C=4,H=7,W=7,K=3,R=1,S=1,stride=2,pad=0"},
        {"conv2d_bwd_filter", "N=1,C=3,H=13,W=12,K=4,R=7,S=7,stride=2,pad=3"},
        {"batchnorm_fwd_train", "N=8,C=6,HW=1"},
        {"batchnorm_fwd_train", "N=4,C=3,HW=5,affine=0,running=0"},
        {"batchnorm_fwd_eval", "N=4,C=3,HW=5,affine=0"},
        {"batchnorm_bwd", "N=8,C=6,HW=1,acc=0"},
        {"batchnorm_bwd", "N=4,C=3,HW=5,affine=0"},
        {"batchnorm_sums", "N=8,C=6,HW=1,center=0,dy=0"},
        {"batchnorm_sums", "N=4,C=3,HW=5,dy=0"},
        {"batchnorm_sums", "N=5,C=40,HW=1,center=0"},
        {"batchnorm_sums", "N=3,C=4,HW=17,center=0"},
        {"batchnorm_bwd_apply", "N=8,C=6,HW=1,affine=0,ranks=1"},
        {"batchnorm_bwd_apply", "N=4,C=3,HW=5,ranks=3"},
        {"batchnorm_bwd_apply", "N=5,C=40,HW=1,ranks=1"},
        {"batchnorm_bwd_apply", "N=1,C=2,HW=1,affine=0,ranks=4"},
        {"batchnorm_relu_fwd", "N=8,C=6,HW=1"},
        {"batchnorm_relu_fwd", "N=4,C=3,HW=5,affine=0,running=0"},
        {"batchnorm_relu_fwd", "N=3,C=40,HW=17,running=0"},
        {"batchnorm_relu_bwd", "N=8,C=6,HW=1,acc=0"},
        {"batchnorm_relu_bwd", "N=4,C=3,HW=5,affine=0"},
        {"batchnorm_relu_bwd", "N=5,C=40,HW=17,affine=1,acc=0"},
        {"relu_fwd", "n=37,inplace=1"},
        {"relu_bwd", "n=37,inplace=1"},
        {"add_fwd", "n=37,inplace=1"},
        {"add_fwd", "n=37,inplace=2"},
        {"add_bwd", "n=37,db=0,acc=0"},
        {"add_bwd", "n=37,acc=0"},
        {"maxpool_fwd", "N=1,C=2,H=8,W=6,k=2,stride=2,pad=0"},
        {"maxpool_bwd", "N=1,C=2,H=8,W=6,k=2,stride=2,pad=0"},
        {"avgpool_global_fwd", "N=2,C=3,HW=1"},
        {"pair_loss_fwd", "N=4,D=7,normalize=0"},
        {"pair_loss_bwd", "N=4,D=7,normalize=0,dz=0"},
        {"pair_loss_bwd", "N=4,D=7,dz=0"},
        {"sgd_step", "n=10,groups=1"},
        {"sgd_step", "n=10,groups=3"},
        {"corr_update", "N=9,D=5,init=1,center=0"},
        {"corr_update", "N=9,D=5,center=0"},
        {"corr_update", "N=9,D=5,init=1"},
        {"syevd", "D=1"},
        {"syevd", "D=7"},
        {"eig_map", "D=1,mode=1"},
        {"eig_map", "D=9,mode=2"},
        {"eig_map", "D=9,mode=3"},
        {"pred_symmetrize", "R=7,C=7,tied=0"},
        {"pred_symmetrize", "R=1,C=5"},
        {"directcopy_fill", "D=7,normalize=0"},
        {"directcopy_fill", "D=1"},
        {"eig_pair_scale", "D=1"},
        {"rank1_sub", "D=1"},
        {"aug_resized_crop", "C=1,H=30,W=9,outH=8,outW=20"},
        {"aug_hflip", "C=2,H=3,W=8,inplace=1"},
        {"aug_gaussian_blur", "C=1,H=4,W=9,ksize=7"},
        {"aug_views", "N=4,Cin=1,H=17,W=13,S=9,ksize=3,norm=0"},
        {"aug_views", "N=2,Cin=1,H=12,W=15,C=1,S=10,ksize=7"},
        {"aug_views", "N=5,Cin=4,H=11,W=10,C=4,S=7,ksize=13"},
        {"aug_gaussian_blur", "C=2,H=5,W=5,ksize=1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (uint64_t seed = 3; seed <= 4; seed++)
            CHECK(passes(cpu, cases[k][0], cases[k][1], seed), "%s %s seed %llu", cases[k][0],
                  cases[k][1], (unsigned long long)seed);
}

static void test_shape_specs(void) {
    sg_opcheck_result res;
    sg_err err = {{0}};
    const char *resnet = "N=2,C=3,H=5,W=6,K=4,R=3,S=3,stride=1,pad=1,algo=0,gemm=0,prec=0";
    int rc = sg_opcheck_run(cpu, op_index("conv2d_fwd"), resnet, 1, 0, &res, &err);
    CHECK(rc == 0 && res.ok, "rc %d ok %d: %s", rc, res.ok, err.msg);
    CHECK(strcmp(res.shape, resnet) == 0, "shape %s", res.shape);
    CHECK(strcmp(res.kernel, "conv2d_fwd") == 0, "kernel %s", res.kernel);
    sg_conv_shape s = sg_conv_shape_make(2, 3, 5, 6, 4, 3, 3, 1, 1);
    CHECK(res.cost.flops == sg_cost_conv2d_fwd(&s).flops && res.cost.bytes > 0, "cost %g",
          res.cost.flops);

    /* spaces around keys and values; optional parameters take their default */
    rc = sg_opcheck_run(cpu, op_index("gemm_nt"), " M = 5, N=6 ,K=7", 1, 0, &res, &err);
    CHECK(rc == 0 && res.ok, "rc %d: %s", rc, err.msg);
    CHECK(strcmp(res.shape, "M=5,N=6,K=7,ldpad=0,gemm=0,prec=0") == 0, "shape %s", res.shape);
    CHECK(res.cost.flops == sg_cost_gemm(5, 6, 7, 1).flops, "cost %g", res.cost.flops);

    /* the default shape is the op's default_shape, spelled out */
    rc = sg_opcheck_run(cpu, op_index("relu_fwd"), NULL, 1, 0, &res, &err);
    CHECK(rc == 0 && strcmp(res.shape, "n=1001,inplace=0") == 0, "shape %s", res.shape);

    static const char *const bad[][3] = {
        /* op, spec, text the message must contain */
        {"gemm_nn", "M=4,N=4,K=4,Q=2", "unknown shape parameter 'Q'"},
        {"gemm_nn", "M=4,N=4", "missing shape parameter 'K'"},
        {"gemm_nn", "M=4,N=4,K=4,M=5", "'M' is given twice"},
        {"gemm_nn", "M=4,N=four,K=4", "'N' = 'four' is not an integer"},
        {"gemm_nn", "M=0,N=4,K=4", "'M' = 0 is out of range"},
        {"gemm_nn", "M=4,N=4,K", "'K' is not key=value"},
        {"gemm_nn", "M=4,N=4,K=4,", "ends with a comma"},
        {"gemm_nn", "", "missing shape parameter 'M'"},
        {"relu_fwd", "n=5,inplace=2", "'inplace' = 2 is out of range [0, 1]"},
        {"conv2d_fwd", "N=1,C=1,H=2,W=2,K=1,R=5,S=5,stride=1,pad=1", "larger than the padded"},
        {"conv2d_fwd", "N=1,C=1,H=2,W=2,K=1,R=1,S=1,stride=1", "missing shape parameter 'pad'"},
        {"maxpool_fwd", "N=1,C=1,H=4,W=4,k=2,stride=2,pad=2", "pad must be smaller"},
        {"aug_gaussian_blur", "C=1,H=8,W=8,ksize=4", "ksize must be odd"},
        {"aug_gaussian_blur", "C=1,H=3,W=8,ksize=7", "reflect padding"},
        {"aug_views", "N=1,Cin=2,H=8,W=8,S=4,ksize=3", "C must equal Cin"},
        {"aug_views", "N=1,H=8,W=8,S=4,ksize=4", "ksize must be odd"},
        {"aug_views", "N=1,H=8,W=8,S=3,ksize=7", "reflect padding"},
        {"sgd_step", "n=2,groups=3", "at least one parameter"},
        {"linear_fwd", "N=100000,In=100000,Out=1", "more than"},
        {"pred_symmetrize", "R=3,C=4,tied=0", "square"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        memset(&err, 0, sizeof err);
        rc = sg_opcheck_run(cpu, op_index(bad[k][0]), bad[k][1], 1, 0, &res, &err);
        CHECK(rc == -1 && strstr(err.msg, bad[k][2]) && strstr(err.msg, bad[k][0]),
              "%s '%s': rc %d, message '%s' (expected it to contain '%s')", bad[k][0], bad[k][1],
              rc, err.msg, bad[k][2]);
    }
}

static void test_timing(void) {
    sg_opcheck_result res;
    sg_err err = {{0}};
    int rc = sg_opcheck_run(cpu, op_index("relu_fwd"), "n=200000", 1, 5, &res, &err);
    CHECK(rc == 0 && res.ok && res.reps == 5 && res.seconds_median > 0, "rc %d reps %d t %g", rc,
          res.reps, res.seconds_median);
    /* an op that overwrites its input (restored between timed calls) times too */
    rc = sg_opcheck_run(cpu, op_index("syevd"), "D=16", 1, 3, &res, &err);
    CHECK(rc == 0 && res.ok && res.reps == 3 && res.seconds_median > 0, "rc %d reps %d", rc,
          res.reps);
    rc = sg_opcheck_run(cpu, op_index("gemm_nn"), NULL, 1, 0, &res, &err);
    CHECK(rc == 0 && res.reps == 0 && res.seconds_median == 0, "untimed reps %d", res.reps);
}

static void test_broken_kernels(void) {
    sg_backend broken = *cpu;
    broken.name = "broken";
    broken.relu_fwd = relu_leaking_negatives;
    CHECK(fails(&broken, "relu_fwd", NULL), "a relu leaking negatives passed");
    CHECK(passes(&broken, "relu_bwd", NULL, 1), "the untouched relu_bwd failed");

    broken = *cpu;
    broken.gemm = gemm_ignoring_beta;
    CHECK(fails(&broken, "gemm_nn", NULL), "a gemm ignoring beta passed (nn)");
    CHECK(fails(&broken, "gemm_nt", NULL), "a gemm ignoring beta passed (nt)");
    CHECK(fails(&broken, "gemm_tn", NULL), "a gemm ignoring beta passed (tn)");
    CHECK(fails(&broken, "gemm_tt", NULL), "a gemm ignoring beta passed (tt)");

    broken = *cpu;
    broken.conv2d_bwd_filter = conv_filter_ignoring_accumulate;
    CHECK(fails(&broken, "conv2d_bwd_filter", NULL), "a conv ignoring accumulate passed");
    CHECK(passes(&broken, "conv2d_bwd_filter", "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=1,acc=0",
                 1),
          "without accumulation that conv is right");

    broken = *cpu;
    broken.batchnorm_bwd = bn_bwd_without_mean_term;
    CHECK(fails(&broken, "batchnorm_bwd", NULL), "a bn backward without its mean terms passed");
    CHECK(fails(&broken, "batchnorm_bwd", "N=64,C=2,HW=100"), "... at a large batch");

    broken = *cpu;
    broken.batchnorm_sums = bn_sums_ignoring_center;
    CHECK(fails(&broken, "batchnorm_sums", NULL), "bn sums ignoring the center passed");
    CHECK(fails(&broken, "batchnorm_sums", "N=6,C=5,HW=1,dy=0"), "... without dy, HW=1");
    CHECK(passes(&broken, "batchnorm_sums", "N=6,C=5,HW=9,center=0", 1),
          "without a center those sums are right");
    /* the one-rank identity runs batchnorm_sums too: a broken one fails the apply check */
    CHECK(fails(&broken, "batchnorm_bwd_apply", "N=6,C=5,HW=9,ranks=1"),
          "the one-rank identity missed broken sums");

    broken = *cpu;
    broken.batchnorm_bwd_apply = bn_apply_with_local_count;
    CHECK(fails(&broken, "batchnorm_bwd_apply", NULL), "bn apply ignoring M passed");
    CHECK(fails(&broken, "batchnorm_bwd_apply", "N=64,C=2,HW=1,ranks=2"), "... HW=1");
    CHECK(passes(&broken, "batchnorm_bwd_apply", "N=6,C=5,HW=9,ranks=1", 1),
          "with one rank M = N*HW, and that apply is right");

    broken = *cpu;
    broken.batchnorm_relu_bwd = bn_relu_bwd_without_mask;
    CHECK(fails(&broken, "batchnorm_relu_bwd", NULL), "a bn+relu backward without the mask passed");
    CHECK(fails(&broken, "batchnorm_relu_bwd", "N=32,C=3,HW=1,affine=0,acc=0"), "... HW=1");
    broken.batchnorm_relu_fwd = bn_relu_fwd_leaking;
    CHECK(fails(&broken, "batchnorm_relu_fwd", NULL), "a bn+relu forward leaking negatives passed");
    CHECK(passes(&broken, "batchnorm_fwd_train", NULL, 1), "the untouched batchnorm_fwd_train");
    broken.batchnorm_relu_fwd = bn_relu_fwd_one_ulp_off;
    CHECK(fails(&broken, "batchnorm_relu_fwd", NULL), "a bn+relu forward not bit for bit passed");

    broken = *cpu;
    broken.syevd = syevd_flipping_a_sign;
    CHECK(passes(&broken, "syevd", NULL, 1), "a sign-flipped eigenvector was rejected");
    broken.syevd = syevd_swapping_vectors;
    CHECK(fails(&broken, "syevd", NULL), "swapped eigenvectors passed");

    broken = *cpu;
    broken.pred_symmetrize = pred_sym_forgetting_b;
    CHECK(fails(&broken, "pred_symmetrize", NULL), "a tied symmetrisation forgetting B passed");
    broken.eig_pair_scale = pair_scale_unclamped;
    CHECK(fails(&broken, "eig_pair_scale", NULL), "an unclamped eigenvalue scaling passed");

    broken = *cpu;
    broken.aug_views = views_never_flipping;
    CHECK(fails(&broken, "aug_views", "N=8,H=20,W=24,S=16,ksize=5"),
          "views that never flip passed");
    CHECK(passes(&broken, "aug_solarize", NULL, 1), "the untouched aug_solarize failed");

    /* a backend without a kernel: the op cannot run, and the error names the slot */
    broken = *cpu;
    broken.aug_solarize = NULL;
    sg_opcheck_result res;
    sg_err err = {{0}};
    int rc = sg_opcheck_run(&broken, op_index("aug_solarize"), NULL, 1, 0, &res, &err);
    CHECK(rc == -1 && strstr(err.msg, "no kernel aug_solarize"), "rc %d: %s", rc, err.msg);
}

/* conv.algo=cudnn: the CPU backend refuses it in each pass, naming the shape and the algorithms
 * it runs there; on a CUDA device every pass passes with cuDNN's algorithms, and a cuDNN filter
 * pass that drops `accumulate` is caught (the cudnn tolerance is tight enough to see it). */
static const sg_backend *cuda_cudnn;
static void cuda_filter_ignoring_accumulate(const sg_backend *be, const sg_conv_shape *s,
                                            const float *x, const float *dy, float *dw,
                                            int accumulate, void *workspace) {
    (void)be, (void)accumulate;
    cuda_cudnn->conv2d_bwd_filter(cuda_cudnn, s, x, dy, dw, 0, workspace);
}

static void test_cudnn(void) {
    static const char *const pass_ops[3] = {"conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter"};
    static const char *const shapes[] = {
        "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=1,algo=4",
        "N=2,C=4,H=7,W=7,K=3,R=1,S=1,stride=2,pad=0,algo=4",
        "N=1,C=3,H=13,W=12,K=4,R=7,S=7,stride=2,pad=3,algo=4",
        "N=3,C=16,H=12,W=12,K=8,R=3,S=3,stride=1,pad=1,algo=4",
    };
    for (int p = 0; p < 3; p++) {
        sg_opcheck_result res;
        sg_err err = {{0}};
        int rc = sg_opcheck_run(cpu, op_index(pass_ops[p]), shapes[0], 1, 0, &res, &err);
        CHECK(rc == -1 && strstr(err.msg, "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=1,algo=4") &&
                  strstr(err.msg, "the cudnn algorithm") &&
                  strstr(err.msg, "it runs: default, im2col, winograd"),
              "cpu %s with cudnn: rc %d, '%s'", pass_ops[p], rc, err.msg);
    }
    const sg_backend *cuda = sg_backend_get("cuda");
    if (!cuda) {
        printf("cudnn on cuda: skipped: %s\n", sg_backend_unavailable("cuda"));
        return;
    }
#ifdef SG_HAVE_CUDA
    const char *why = "";
    if (!sg_cuda_cudnn_available(&why)) {
        /* a build with cuDNN must run it on a device; one without says so */
        CHECK(sg_cuda_cudnn_version() == 0, "cuDNN %ld is built in but does not run: %s",
              sg_cuda_cudnn_version(), why);
        printf("cudnn on cuda: skipped: %s\n", why);
        return;
    }
#endif
    for (int p = 0; p < 3; p++) {
        CHECK(passes(cuda, pass_ops[p], "N=2,C=5,H=9,W=11,K=6,R=3,S=3,stride=2,pad=1,algo=4", 1),
              "cuda %s with cudnn on its default shape", pass_ops[p]);
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
            for (uint64_t seed = 3; seed <= 4; seed++)
                CHECK(passes(cuda, pass_ops[p], shapes[k], seed), "cuda %s %s seed %llu",
                      pass_ops[p], shapes[k], (unsigned long long)seed);
    }
    CHECK(passes(cuda, "conv2d_bwd_filter",
                 "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=1,algo=4,acc=0", 5),
          "cuda cudnn filter pass overwriting");
    cuda_cudnn = cuda;
    sg_backend broken = *cuda;
    broken.name = "broken-cuda";
    broken.conv2d_bwd_filter = cuda_filter_ignoring_accumulate;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        CHECK(fails(&broken, "conv2d_bwd_filter", shapes[k]),
              "a cudnn filter pass ignoring accumulate passed at %s", shapes[k]);
}

/* gemm=1, oneDNN's sgemm under gemm, linear and the sgemm-based convolutions: validated like
 * OpenBLAS's where the build has oneDNN, the process's sgemm restored after each call; refused
 * with the reason where it has not. */
static void test_gemm_impls(void) {
    static const char *const cases[][2] = {
        {"gemm_nn", "M=37,N=300,K=129,gemm=1"},
        {"gemm_tn", "M=64,N=64,K=700,ldpad=5,gemm=1"},
        {"gemm_tt", "M=3,N=200,K=33,gemm=1"},
        {"linear_fwd", "N=64,In=512,Out=128,gemm=1"},
        {"linear_bwd", "N=64,In=96,Out=200,acc=0,gemm=1"},
        {"conv2d_fwd", "N=3,C=8,H=10,W=9,K=16,R=3,S=3,stride=2,pad=1,algo=1,gemm=1"},
        {"conv2d_bwd_data", "N=4,C=8,H=8,W=8,K=8,R=3,S=3,stride=1,pad=1,algo=2,gemm=1"},
        {"conv2d_bwd_filter", "N=4,C=6,H=9,W=7,K=5,R=3,S=3,stride=1,pad=1,algo=2,gemm=1"},
        {"conv2d_bwd_filter", "N=2,C=4,H=7,W=7,K=3,R=1,S=1,stride=2,pad=0,gemm=1"},
    };
    const char *why = NULL;
    const int have = sg_cpu_gemm_impl_available(SG_GEMM_DNNL, &why);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (have) {
            for (uint64_t seed = 5; seed <= 6; seed++)
                CHECK(passes(cpu, cases[k][0], cases[k][1], seed), "%s %s seed %llu",
                      cases[k][0], cases[k][1], (unsigned long long)seed);
            CHECK(sg_cpu_get_gemm_impl() == SG_GEMM_OPENBLAS,
                  "%s %s: the process's sgemm was not restored", cases[k][0], cases[k][1]);
        } else {
            sg_opcheck_result res;
            sg_err err = {{0}};
            int rc = sg_opcheck_run(cpu, op_index(cases[k][0]), cases[k][1], 1, 0, &res, &err);
            CHECK(rc == -1 && strstr(err.msg, "gemm=1") && strstr(err.msg, why), "%s: rc %d: %s",
                  cases[k][0], rc, err.msg);
        }
    }
}

/* prec=1|2 (tf32, bf16 products) are the CUDA backend's: the CPU refuses them naming the
 * precision and what it runs instead; a dry trace records what was set on it. */
static void test_precisions(void) {
    static const char *const cases[][2] = {
        {"gemm_nt", "M=5,N=6,K=7,prec=1"},
        {"linear_fwd", "N=4,In=9,Out=3,prec=2"},
        {"conv2d_bwd_data", "N=2,C=3,H=6,W=5,K=4,R=3,S=3,stride=1,pad=1,prec=2"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sg_opcheck_result res;
        sg_err err = {{0}};
        int rc = sg_opcheck_run(cpu, op_index(cases[k][0]), cases[k][1], 1, 0, &res, &err);
        CHECK(rc == -1 && strstr(err.msg, "prec=") && strstr(err.msg, "runs prec=0 (fp32)"),
              "%s: rc %d: %s", cases[k][0], rc, err.msg);
    }
    CHECK(sg_backend_precision(cpu) == SG_PREC_FP32, "the CPU backend runs fp32");
    CHECK(sg_backend_set_precision(cpu, SG_PREC_TF32) == -1 &&
              sg_backend_set_precision(cpu, SG_PREC_FP32) == SG_PREC_FP32,
          "the CPU backend refuses tf32 and keeps fp32");
    CHECK(sg_precision_input_unit(SG_PREC_FP32) == 0 &&
              sg_precision_input_unit(SG_PREC_TF32) == ldexp(1, -11) &&
              sg_precision_input_unit(SG_PREC_BF16) == ldexp(1, -8),
          "input units: 0, 2^-11 (10 mantissa bits), 2^-8 (7 bits)");
}

int main(void) {
    cpu = sg_backend_get("cpu");
    CHECK(cpu != NULL, "no cpu backend");
    if (!cpu) return test_finish();
    sg_cpu_set_threads(2);
    test_list();
    test_every_op_passes();
    test_modes_pass();
    test_shape_specs();
    test_timing();
    test_broken_kernels();
    test_cudnn();
    test_gemm_impls();
    test_precisions();
    return test_finish();
}
