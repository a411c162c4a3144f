/* Training steps on one backend (argv[1]: cpu, staged, cuda; tests/test_backend.h) are
 * deterministic: two builds with the same seed and inputs give bit-identical losses, weights,
 * gradients and F after several steps, for BYOL with its MLP predictor (SGD) and DirectPred
 * (LARS, symmetric loss, eigen-update every step). On a backend other than the CPU the same
 * steps also agree with the CPU backend's: bit for bit on `staged` (the same kernels), and on
 * CUDA within float32 summation-order differences (losses to 1e-4 relative after 4 steps,
 * weights to 1e-3 of each tensor's scale). */
#include "core/ssl/ssl.h"
#include "test_backend.h"
#include "test_util.h"

#define STEPS 4

typedef struct {
    double loss[STEPS];
    float *w, *g, *F;
    size_t nw, nF;
} outcome;

static sg_ssl_settings settings(int directpred) {
    sg_ssl_settings s;
    memset(&s, 0, sizeof s);
    s.trunk = (sg_resnet_spec){18, SG_STEM_CIFAR, 0.125, 3, 16, 16};
    s.proj_hidden = 32;
    s.proj_out = 16;
    s.pred_hidden = 32;
    s.batch = 8;
    s.method = SG_METHOD_BYOL;
    s.stop_gradient = 1;
    s.ema = 0.99;
    s.symmetric_loss = 1;
    s.normalize_loss = 1;
    s.pred = directpred ? SG_PRED_DIRECTPRED : SG_PRED_MLP;
    s.pred_lr_mult = 1;
    s.pred_wd = 4e-4;
    s.rho = 0.3;
    s.eps = 0.1;
    s.freq = 1;
    s.optimizer = directpred ? SG_OPT_LARS : SG_OPT_SGD;
    s.lars_eta = 0.001;
    s.lr = directpred ? 0.3 : 0.05;
    s.momentum = 0.9;
    s.wd = 4e-4;
    s.total_steps = 100;
    s.seed = 5;
    return s;
}

static void run(const sg_backend *be, int directpred, outcome *o) {
    sg_ssl m;
    sg_err err;
    sg_ssl_settings s = settings(directpred);
    SG_CHECK(sg_ssl_build(&m, &s, be, &err) == 0, "build on %s: %s", be->name, err.msg);
    size_t nx = (size_t)m.B * 3 * 16 * 16;
    float *x = tu_alloc(nx * sizeof(float));
    for (int k = 0; k < STEPS; k++) {
        for (int v = 0; v < 2; v++) {
            tu_fill(x, nx, 17, (uint32_t)(2 * k + v), 0, 1);
            sg_ssl_put(&m, m.x[v], x, nx);
        }
        o->loss[k] = sg_ssl_step(&m);
    }
    o->nw = m.online.total;
    o->nF = (size_t)m.D * m.D;
    o->w = tu_alloc(o->nw * sizeof(float));
    o->g = tu_alloc(o->nw * sizeof(float));
    o->F = tu_alloc(o->nF * sizeof(float));
    sg_ssl_get(&m, o->w, m.online.w, o->nw);
    sg_ssl_get(&m, o->g, m.online.g, o->nw);
    sg_ssl_get(&m, o->F, m.F, o->nF);
    free(x);
    sg_ssl_free(&m);
}

static void release(outcome *o) {
    free(o->w), free(o->g), free(o->F);
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
                double worst = 0;
                for (int k = 0; k < STEPS; k++)
                    worst = fmax(worst, fabs(a.loss[k] - c.loss[k]) / fabs(c.loss[k]));
                double dw = rel_diff(a.w, c.w, a.nw), dF = rel_diff(a.F, c.F, a.nF);
                printf("%s: %s vs cpu: loss %.3g, weights %.3g, F %.3g (relative)\n", name,
                       be->name, worst, dw, dF);
                CHECK(worst <= 1e-4, "%s: losses agree with the CPU's (%.3g)", name, worst);
                CHECK(dw <= 1e-3, "%s: weights agree with the CPU's (%.3g)", name, dw);
                CHECK(dF <= 1e-3, "%s: F agrees with the CPU's (%.3g)", name, dF);
            }
            release(&c);
        }
        release(&a), release(&b);
    }
    return test_finish();
}
