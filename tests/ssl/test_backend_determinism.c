/* Training steps on one backend (argv[1]: cpu, staged, cuda; tests/test_backend.h) are
 * deterministic: two builds with the same seed and inputs give bit-identical losses, weights,
 * gradients and F after several steps, for BYOL with its MLP predictor (SGD) and DirectPred
 * (LARS, symmetric loss, eigen-update every step). On a backend other than the CPU the steps
 * also agree with the CPU backend's: bit for bit on `staged` (the same kernels); on CUDA the
 * first step within float32 summation-order differences (loss to 1e-5 relative, gradients and
 * F to 1e-4 of their scale). Later steps are not compared across backends: these small models
 * are chaotic (PyTorch's own losses spread by 1% after three steps when its inputs move by one
 * rounding; tests/fixtures' envelopes), so a multi-step comparison would test the chaos. Where
 * the backend runs tf32 and bf16 (CUDA), tf32's first step is compared with the CPU's fp32 and
 * bf16's loss curve with fp32's (check_precisions states the bounds). */
#include "core/ssl/ssl.h"
#include "kernels/backend.h"
#include "test_backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

#define STEPS 4

typedef struct {
    double loss[STEPS];
    double loss1;          /* after the first step: */
    float *w1, *g1, *F1;   /* weights, gradients and F */
    float *w, *g, *F;
    size_t nw, nF;
} outcome;

static sg_ssl_settings settings(int directpred) {
    sg_ssl_settings s = tiny_ssl(0.125, 32, 16, 8);
    s.pred = directpred ? SG_PRED_DIRECTPRED : SG_PRED_MLP;
    s.optimizer = directpred ? SG_OPT_LARS : SG_OPT_SGD;
    s.lars_eta = 0.001;
    s.lr = directpred ? 0.3 : 0.05;
    s.seed = 5;
    return s;
}

static void snapshot(sg_ssl *m, float **w, float **g, float **F) {
    *w = tu_alloc(m->online.total * sizeof(float));
    *g = tu_alloc(m->online.total * sizeof(float));
    *F = tu_alloc((size_t)m->D * m->D * sizeof(float));
    sg_ssl_get(m, *w, m->online.w, m->online.total);
    sg_ssl_get(m, *g, m->online.g, m->online.total);
    sg_ssl_get(m, *F, m->F, (size_t)m->D * m->D);
}

static void run(const sg_backend *be, int directpred, outcome *o) {
    sg_ssl m;
    sg_err err;
    sg_ssl_settings s = settings(directpred);
    s.precision = sg_backend_precision(be); /* what the caller set on be */
    SG_CHECK(sg_ssl_build(&m, &s, be, &err) == 0, "build on %s: %s", be->name, err.msg);
    size_t nx = (size_t)m.B * 3 * 16 * 16;
    float *x = tu_alloc(nx * sizeof(float));
    for (int k = 0; k < STEPS; k++) {
        for (int v = 0; v < 2; v++) {
            tu_fill(x, nx, 17, (uint32_t)(2 * k + v), 0, 1);
            sg_ssl_put(&m, m.x[v], x, nx);
        }
        o->loss[k] = sg_ssl_step(&m);
        if (k == 0) snapshot(&m, &o->w1, &o->g1, &o->F1);
    }
    o->nw = m.online.total;
    o->nF = (size_t)m.D * m.D;
    snapshot(&m, &o->w, &o->g, &o->F);
    free(x);
    sg_ssl_free(&m);
}

static void release(outcome *o) {
    free(o->w), free(o->g), free(o->F), free(o->w1), free(o->g1), free(o->F1);
}

static int same(const outcome *a, const outcome *b) {
    return !memcmp(a->loss, b->loss, sizeof a->loss) && a->nw == b->nw &&
           !memcmp(a->w, b->w, a->nw * sizeof(float)) && !memcmp(a->g, b->g, a->nw * sizeof(float)) &&
           !memcmp(a->F, b->F, a->nF * sizeof(float));
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return scale > 0 ? d / scale : d;
}

/* The mean loss over each window of LONG_WINDOW steps of a LONG_STEPS-step BYOL run in
 * precision p (the same inputs in every precision); 0, or -1 when be does not run p. */
#define LONG_STEPS 200
#define LONG_WINDOW 20
static int long_run(const sg_backend *be, sg_precision p, double *window_mean) {
    const int was = sg_backend_set_precision(be, p);
    if (was < 0) return -1;
    sg_ssl m;
    sg_err err;
    sg_ssl_settings s = settings(0);
    s.precision = p;
    SG_CHECK(sg_ssl_build(&m, &s, be, &err) == 0, "build on %s: %s", be->name, err.msg);
    size_t nx = (size_t)m.B * 3 * 16 * 16;
    float *x = tu_alloc(nx * sizeof(float));
    for (int w = 0; w < LONG_STEPS / LONG_WINDOW; w++) window_mean[w] = 0;
    for (int k = 0; k < LONG_STEPS; k++) {
        for (int v = 0; v < 2; v++) {
            tu_fill(x, nx, 23, (uint32_t)(2 * k + v), 0, 1);
            sg_ssl_put(&m, m.x[v], x, nx);
        }
        window_mean[k / LONG_WINDOW] += sg_ssl_step(&m) / LONG_WINDOW;
    }
    free(x);
    sg_ssl_free(&m);
    (void)sg_backend_set_precision(be, (sg_precision)was);
    return 0;
}

/* tf32 and bf16 where the backend runs them (CUDA): the first step's gradients against the CPU's
 * fp32 ones, and bf16's loss curve against fp32's on the same backend.
 *   tf32: every product's inputs carry a relative rounding of at most 2^-11; the first step's
 *     gradients pass through about 40 products in a row (the trunk's 20 layers forward and
 *     back), so they may differ from fp32's by up to 40 x 2^-11 ~ 2e-2 of their scale;
 *   bf16: 2^-8 per input compounds to far more than the loss over a run, and these small models
 *     are chaotic, so the curve is compared, not the steps: the mean loss of every window of 20
 *     steps within 0.1 of fp32's (the BYOL loss 2 - 2cos lies in [0, 4] and falls by about 1
 *     over such a run), every loss finite. */
static void check_precisions(const sg_backend *be, const sg_backend *cpu) {
    const int tf32 = sg_backend_set_precision(be, SG_PREC_TF32);
    if (tf32 < 0) {
        printf("tf32, bf16: not run by backend %s (fp32 only)\n", be->name);
        return;
    }
    outcome t, c;
    run(be, 0, &t);
    (void)sg_backend_set_precision(be, (sg_precision)tf32);
    run(cpu, 0, &c);
    const double dl = fabs(t.loss[0] - c.loss[0]) / fabs(c.loss[0]);
    const double dg = rel_diff(t.g1, c.g1, t.nw);
    printf("tf32 on %s vs fp32 on cpu after step 1: loss %.3g, gradients %.3g (relative)\n",
           be->name, dl, dg);
    CHECK(dl <= 2e-2 && dg <= 2e-2, "tf32: first loss and gradients within 2e-2 of the CPU's "
          "fp32 (loss %.3g, gradients %.3g)", dl, dg);
    release(&t), release(&c);
    double f32[LONG_STEPS / LONG_WINDOW], b16[LONG_STEPS / LONG_WINDOW], worst = 0;
    CHECK(long_run(be, SG_PREC_FP32, f32) == 0 && long_run(be, SG_PREC_BF16, b16) == 0,
          "%s runs fp32 and bf16", be->name);
    int finite = 1;
    for (int w = 0; w < LONG_STEPS / LONG_WINDOW; w++) {
        finite &= isfinite(f32[w]) && isfinite(b16[w]);
        worst = fmax(worst, fabs(b16[w] - f32[w]));
    }
    printf("bf16 vs fp32 on %s over %d steps: window means within %.3g (first %.3f / %.3f, "
           "last %.3f / %.3f)\n", be->name, LONG_STEPS, worst, b16[0], f32[0],
           b16[LONG_STEPS / LONG_WINDOW - 1], f32[LONG_STEPS / LONG_WINDOW - 1]);
    CHECK(finite && worst <= 0.1, "bf16's loss curve within 0.1 of fp32's (worst window %.3g)",
          worst);
}

int main(int argc, char **argv) {
    sg_cpu_set_threads(2);
    const sg_backend *be = tb_backend(argc, argv);
    const sg_backend *cpu = sg_backend_get("cpu");
    printf("backend %s\n", be->name);
    for (int dp = 0; dp < 2; dp++) {
        const char *name = dp ? "DirectPred + LARS" : "BYOL + MLP predictor";
        outcome a, b;
        run(be, dp, &a);
        run(be, dp, &b);
        CHECK(same(&a, &b), "%s on %s: two runs are bit-identical", name, be->name);
        for (int k = 0; k < STEPS; k++)
            CHECK(isfinite(a.loss[k]), "%s: loss %d is finite (%g)", name, k, a.loss[k]);
        if (be != cpu) {
            outcome c;
            run(cpu, dp, &c);
            if (!strcmp(be->name, "staged")) {
                CHECK(same(&a, &c), "%s: staged equals the CPU backend bit for bit", name);
            } else {
                double dl = fabs(a.loss[0] - c.loss[0]) / fabs(c.loss[0]);
                double dg = rel_diff(a.g1, c.g1, a.nw), dw = rel_diff(a.w1, c.w1, a.nw);
                double dF = rel_diff(a.F1, c.F1, a.nF);
                double later = 0;
                for (int k = 1; k < STEPS; k++)
                    later = fmax(later, fabs(a.loss[k] - c.loss[k]) / fabs(c.loss[k]));
                printf("%s: %s vs cpu after step 1: loss %.3g, gradients %.3g, weights %.3g, "
                       "F %.3g (relative); losses of steps 2-%d within %.3g\n",
                       name, be->name, dl, dg, dw, dF, STEPS, later);
                CHECK(dl <= 1e-5, "%s: first loss agrees with the CPU's (%.3g)", name, dl);
                CHECK(dg <= 1e-4, "%s: first gradients agree with the CPU's (%.3g)", name, dg);
                CHECK(dw <= 1e-4, "%s: weights after one step agree (%.3g)", name, dw);
                CHECK(dF <= 1e-4, "%s: F after one step agrees (%.3g)", name, dF);
            }
            release(&c);
        }
        release(&a), release(&b);
    }
    check_precisions(be, cpu);
    return test_finish();
}
