/* Every kernel of one backend (argv[1]: cpu, staged, cuda; tests/test_backend.h) against the
 * double-precision references, through the checker's one op table (kernels/opcheck/opcheck.h):
 * each op on its default shape, on random shapes with random modes (accumulate, bias, in-place,
 * ...), and on model-scale shapes that take the large-problem paths (two-stage reductions,
 * grouped im2col). The tolerance of each op is stated where the checker computes it
 * (kernels/opcheck/opcheck.c): float32 summation-order error of the op's sums, so a backend
 * passes only if every output agrees with the reference as closely as any correct float32
 * implementation must. Comparing with the double reference rather than with the CPU backend's
 * output is the stricter test: two backends can agree with each other and both be wrong, but
 * not both be within this tolerance of the exact value and differ by more than twice it.
 * syevd is checked by reconstruction and orthogonality (eigenvector signs are arbitrary).
 * Each conv pass also runs with every algorithm besides the backend's own im2col that the
 * backend runs (CPU: dnnl; CUDA: cudnn, under both conv.deterministic settings), on random shapes
 * and the model shapes, and cudnn on every conv shape of a ResNet-18 STL-10 trunk, each with the
 * error bound of the algorithm's summation (kernels/opcheck/opcheck_dense.c). The gemm, linear
 * and conv ops also run in each precision the backend runs besides fp32 (CUDA: tf32, bf16; the
 * CPU runs fp32 only and says so), with the bound of their rounded inputs. */
#include "core/nn/conv_auto.h"
#include "kernels/backend.h"
#include "kernels/opcheck/opcheck.h"
#include "test_backend.h"
#include "test_util.h"
#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

/* Large-problem shapes: what a real STL-10 / CIFAR step runs, scaled to stay quick on a CPU. */
static const struct {
    const char *op, *shape;
} kModelShapes[] = {
    {"gemm_nn", "M=300,N=257,K=513,ldpad=0"},
    {"gemm_tn", "M=128,N=128,K=512,ldpad=0"},
    {"linear_fwd", "N=128,In=512,Out=128,bias=1"},
    {"linear_bwd", "N=128,In=512,Out=128,dx=1,bias=1,acc=1"},
    {"conv2d_fwd", "N=8,C=32,H=24,W=24,K=32,R=3,S=3,stride=1,pad=1"},
    {"conv2d_bwd_data", "N=8,C=32,H=24,W=24,K=32,R=3,S=3,stride=1,pad=1"},
    {"conv2d_bwd_filter", "N=8,C=32,H=24,W=24,K=32,R=3,S=3,stride=1,pad=1,acc=1"},
    {"conv2d_fwd", "N=4,C=3,H=48,W=48,K=16,R=7,S=7,stride=2,pad=3"},
    {"conv2d_bwd_filter", "N=4,C=3,H=48,W=48,K=16,R=7,S=7,stride=2,pad=3,acc=0"},
    {"conv2d_bwd_data", "N=8,C=32,H=12,W=12,K=64,R=1,S=1,stride=2,pad=0"},
    {"batchnorm_fwd_train", "N=64,C=16,HW=576,affine=1,running=1"},
    {"batchnorm_fwd_train", "N=256,C=64,HW=1,affine=0,running=1"},
    {"batchnorm_bwd", "N=64,C=16,HW=576,affine=1,acc=1"},
    {"batchnorm_bwd", "N=256,C=64,HW=1,affine=0,acc=0"},
    {"batchnorm_sums", "N=64,C=16,HW=576,center=1,dy=1"},
    {"batchnorm_sums", "N=256,C=64,HW=1,center=1,dy=0"},
    {"batchnorm_bwd_apply", "N=64,C=16,HW=576,affine=1,ranks=4"},
    {"batchnorm_bwd_apply", "N=256,C=64,HW=1,affine=0,ranks=1"},
    {"batchnorm_relu_fwd", "N=64,C=16,HW=576,affine=1,running=1"},
    {"batchnorm_relu_fwd", "N=256,C=64,HW=1,affine=0,running=1"},
    {"batchnorm_relu_bwd", "N=64,C=16,HW=576,affine=1,acc=1"},
    {"batchnorm_relu_bwd", "N=256,C=64,HW=1,affine=0,acc=0"},
    {"maxpool_fwd", "N=8,C=16,H=48,W=48,k=3,stride=2,pad=1"},
    {"maxpool_bwd", "N=8,C=16,H=48,W=48,k=3,stride=2,pad=1"},
    {"avgpool_global_fwd", "N=64,C=128,HW=36"},
    {"pair_loss_fwd", "N=256,D=128"},
    {"pair_loss_bwd", "N=256,D=128"},
    {"corr_update", "N=512,D=128"},
    {"syevd", "D=128"},
    {"eig_rebuild", "D=128"},
    {"eig_map", "D=512,mode=3"},
    {"pred_symmetrize", "R=128,C=128,tied=0"},
    {"pred_symmetrize", "R=512,C=128,tied=1"},
    {"directcopy_fill", "D=128,normalize=1"},
    {"eig_pair_scale", "D=128"},
    {"rank1_sub", "D=128"},
    {"lars_step", "n=200000,groups=7"},
    {"sgd_step", "n=300000,groups=3"},
};

/* Value of `key` in a "k=v,k=v" spec, or -1. */
static int spec_value(const char *spec, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = spec; p && *p;) {
        if (!strncmp(p, key, kl) && p[kl] == '=') return atoi(p + kl + 1);
        p = strchr(p, ',');
        if (p) p++;
    }
    return -1;
}

/* A random shape for op i: every size in [1, 3x its default], every mode (a parameter with a
 * range of at most 4 values) uniformly over its range. */
static void random_shape(int i, sg_rng *g, char *out, size_t len) {
    const char *def = sg_op_get(i)->default_shape;
    size_t at = 0;
    out[0] = 0;
    const sg_op_desc *op = sg_op_get(i);
    for (int k = 0; k < SG_OP_MAXP && op->params[k].name; k++) {
        const char *name = op->params[k].name;
        int lo = op->params[k].lo, hi = op->params[k].hi;
        int d = op->params[k].def == SG_OP_REQUIRED ? -1 : op->params[k].def;
        int v = spec_value(def, name);
        if (v < 0) v = d;
        if (hi - lo <= 3 || !strcmp(name, "algo")) {
            v = lo + (int)(sg_rng_u32(g) % (uint32_t)(hi - lo + 1));
        } else if (d < 0 || spec_value(def, name) >= 0) {
            int top = 3 * (v > 0 ? v : 1);
            if (top > hi) top = hi;
            int bottom = lo > 1 ? lo : 1;
            if (!strcmp(name, "pad") || !strcmp(name, "ldpad")) bottom = lo;
            if (top < bottom) top = bottom;
            v = bottom + (int)(sg_rng_u32(g) % (uint32_t)(top - bottom + 1));
        }
        int w = snprintf(out + at, len - at, "%s%s=%d", k ? "," : "", name, v);
        if (w < 0 || (size_t)w >= len - at) break;
        at += (size_t)w;
    }
}

static int run_one(const sg_backend *be, int i, const char *shape, uint64_t seed, double *worst) {
    sg_opcheck_result res;
    sg_err err;
    if (sg_opcheck_run(be, i, shape, seed, 0, &res, &err) != 0) return -1; /* shape rejected */
    CHECK(res.ok, "%s on %s: %s max err/tol %.3g (atol %.3g, rtol %.3g)", be->name,
          sg_op_get(i)->name, res.shape, res.max_err, res.tol_atol, res.tol_rtol);
    if (res.max_err > *worst) *worst = res.max_err;
    return 0;
}

/* shape with its parameter `name` replaced by v */
static void with_param(int i, const char *shape, const char *name, int v, char *out, size_t len) {
    int val[SG_OP_MAXP];
    sg_err err;
    SG_CHECK(sg_op_parse_shape(i, shape, val, &err) == 0, "%s", err.msg);
    val[sg_op_param_index(i, name)] = v;
    sg_op_format_shape(i, val, out, len);
}
/* shape with its algo replaced by a */
static void with_algo(int i, const char *shape, int a, char *out, size_t len) {
    with_param(i, shape, "algo", a, out, len);
}

/* Op i (a gemm, linear or conv op) in precision p (tf32, bf16) on its default shape, random
 * shapes and the model shapes, each against the reference with the bound of its rounded
 * inputs; the shapes ran, or 0 when the backend does not run p (the CPU: fp32 only). */
static int precision_runs(const sg_backend *be, int i, int p, sg_rng *g, int nrandom,
                          double *worst) {
    char shape[256];
    with_param(i, sg_op_get(i)->default_shape, "prec", p, shape, sizeof shape);
    int val[SG_OP_MAXP];
    sg_err err;
    SG_CHECK(sg_op_parse_shape(i, shape, val, &err) == 0, "%s", err.msg);
    if (!sg_backend_supports(be, i, val)) return 0;
    int ran = run_one(be, i, shape, 3, worst) == 0;
    for (int k = 0, tries = 0; k < nrandom && tries < 50; tries++) {
        char r[256];
        random_shape(i, g, r, sizeof r);
        with_param(i, r, "prec", p, shape, sizeof shape);
        if (run_one(be, i, shape, 300 + (uint64_t)tries, worst) == 0) k++, ran++;
    }
    for (size_t s = 0; s < sizeof kModelShapes / sizeof kModelShapes[0]; s++) {
        if (strcmp(kModelShapes[s].op, sg_op_get(i)->name)) continue;
        with_param(i, kModelShapes[s].shape, "prec", p, shape, sizeof shape);
        ran += run_one(be, i, shape, 10, worst) == 0;
    }
    return ran;
}

/* Conv op i with algorithm a on random shapes, the model shapes and (cudnn) a real trunk's
 * shapes; the shapes ran, or 0 when the backend does not run a at the op's default shape. */
static int conv_algo_runs(const sg_backend *be, int i, int a, sg_rng *g, int nrandom,
                          double *worst) {
    char shape[256];
    with_algo(i, sg_op_get(i)->default_shape, a, shape, sizeof shape);
    int val[SG_OP_MAXP];
    sg_err err;
    SG_CHECK(sg_op_parse_shape(i, shape, val, &err) == 0, "%s", err.msg);
    if (!sg_backend_supports(be, i, val)) return 0;
    int ran = run_one(be, i, shape, 2, worst) == 0;
    for (int k = 0, tries = 0; k < nrandom && tries < 50; tries++) {
        char r[256];
        random_shape(i, g, r, sizeof r);
        with_algo(i, r, a, shape, sizeof shape);
        if (run_one(be, i, shape, 200 + (uint64_t)tries, worst) == 0) k++, ran++;
    }
    for (size_t s = 0; s < sizeof kModelShapes / sizeof kModelShapes[0]; s++) {
        if (strcmp(kModelShapes[s].op, sg_op_get(i)->name)) continue;
        with_algo(i, kModelShapes[s].shape, a, shape, sizeof shape);
        ran += run_one(be, i, shape, 8, worst) == 0;
    }
    if (a == SG_CONV_CUDNN) {
        /* the trunk of the STL-10 configuration (96x96 crops, width 1), batch 2: every conv
         * shape a training step runs, stem and downsampling convs included */
        sg_resnet_spec spec = {.depth = 18, .stem = SG_STEM_IMAGENET, .width = 1,
                               .in_channels = 3, .H = 96, .W = 96, .conv_algo = SG_CONV_DEFAULT};
        sg_conv_auto_table t;
        CHECK(sg_conv_auto_shapes(&spec, 2, be, &t, &err) == 0, "trunk shapes: %s", err.msg);
        for (int k = 0; k < t.n; k++) {
            sg_conv_shape cs = t.c[k].s;
            cs.algo = a;
            int v[SG_OP_MAXP];
            sg_op_conv_vals(i, &cs, 1, v);
            sg_op_format_shape(i, v, shape, sizeof shape);
            int rc = run_one(be, i, shape, 9, worst);
            CHECK(rc == 0, "trunk shape %s of %s runs", shape, sg_op_get(i)->name);
            ran += rc == 0;
        }
    }
    return ran;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* the table survives a kernel that aborts */
    sg_cpu_set_threads(2);
    const sg_backend *be = tb_backend(argc, argv);
    const int kRandom = 6;
    printf("backend %s\n%-22s %6s %10s\n", be->name, "op", "shapes", "worst");
    sg_rng g;
    sg_rng_init(&g, 2026, 0x70617279u /* "pary" */, 0, 0);
    for (int i = 0; i < SG_OP_COUNT; i++) {
        double worst = 0;
        int ran = 0;
        ran += run_one(be, i, NULL, 1, &worst) == 0;
        for (int k = 0, tries = 0; k < kRandom && tries < 50; tries++) {
            char shape[256];
            random_shape(i, &g, shape, sizeof shape);
            if (run_one(be, i, shape, 100 + (uint64_t)tries, &worst) == 0) k++, ran++;
        }
        for (size_t s = 0; s < sizeof kModelShapes / sizeof kModelShapes[0]; s++) {
            if (strcmp(kModelShapes[s].op, sg_op_get(i)->name)) continue;
            int rc = run_one(be, i, kModelShapes[s].shape, 7, &worst);
            CHECK(rc == 0, "model shape %s of %s is accepted", kModelShapes[s].shape,
                  kModelShapes[s].op);
            ran += rc == 0;
        }
        CHECK(ran >= 1 + kRandom, "%s ran on %d shapes (want >= %d)", sg_op_get(i)->name, ran,
              1 + kRandom);
        printf("%-22s %6d %10.3g\n", sg_op_get(i)->name, ran, worst);
        if (sg_op_param_index(i, "prec") >= 0)
            for (int p = SG_PREC_FP32 + 1; p < SG_PREC_COUNT; p++) {
                double w = 0;
                int n = precision_runs(be, i, p, &g, kRandom, &w);
                if (!n) {
                    printf("%-22s %s: not run by backend %s\n", sg_op_get(i)->name,
                           sg_precision_names[p], be->name);
                    continue;
                }
                CHECK(n >= 1 + kRandom, "%s in %s ran on %d shapes (want >= %d)",
                      sg_op_get(i)->name, sg_precision_names[p], n, 1 + kRandom);
                char label[64];
                snprintf(label, sizeof label, "%s[%s]", sg_op_get(i)->name, sg_precision_names[p]);
                printf("%-22s %6d %10.3g\n", label, n, w);
            }
        if (sg_op_param_index(i, "algo") < 0) continue;
        for (int a = SG_CONV_IM2COL + 1; a < SG_CONV_ALGO_COUNT; a++) {
            /* cudnn twice: deterministic algorithms only (the default), then any */
            const int settings = a == SG_CONV_CUDNN && !strcmp(be->name, "cuda") ? 2 : 1;
            for (int det = 1; det > 1 - settings; det--) {
#ifdef SG_HAVE_CUDA
                if (a == SG_CONV_CUDNN) sg_cuda_cudnn_set_deterministic(det);
#endif
                double w = 0;
                int n = conv_algo_runs(be, i, a, &g, kRandom, &w);
                if (!n) {
                    printf("%-22s %s: not run by backend %s\n", sg_op_get(i)->name,
                           sg_conv_algo_names[a], be->name);
                    continue;
                }
                CHECK(n >= 1 + kRandom, "%s with %s ran on %d shapes (want >= %d)",
                      sg_op_get(i)->name, sg_conv_algo_names[a], n, 1 + kRandom);
                char label[64];
                snprintf(label, sizeof label, "%s[%s%s]", sg_op_get(i)->name,
                         sg_conv_algo_names[a], det ? "" : ",nondet");
                printf("%-22s %6d %10.3g\n", label, n, w);
            }
        }
#ifdef SG_HAVE_CUDA
        sg_cuda_cudnn_set_deterministic(1);
#endif
    }
#ifdef SG_HAVE_CUDA
    /* on a device, a build with cuDNN must run cudnn (its version is 0 in a build without) */
    const char *why = "";
    if (!strcmp(be->name, "cuda") && !sg_cuda_cudnn_available(&why)) {
        CHECK(sg_cuda_cudnn_version() == 0, "this build has cuDNN %ld but it does not run: %s",
              sg_cuda_cudnn_version(), why);
        printf("cudnn: not run: %s\n", why);
    }
#endif
    return test_finish();
}
