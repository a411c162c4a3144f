/* One training step of BYOL, SimSiam, BYOL without stop-gradient, DirectPred, SimSiam with its
 * own heads (3-layer projector, output BN, affine hidden BNs) and BYOL with a bias-free 2-layer
 * predictor against PyTorch (fixtures from scripts/make_fixtures.py, committed in
 * tests/fixtures/): the loss, every parameter gradient and DirectPred's F and W_p of the first step against their float64 values,
 * each within a tolerance derived from how float32 rounding moves that result (so the test holds
 * whichever kernels OpenBLAS picks), then the losses of 10 steps. On the backend named
 * by argv[1] (tests/test_backend.h): cpu, staged or cuda. */
#include "core/ssl/ssl.h"
#include "fixture.h"
#include "test_backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

static const sg_backend *g_be;

/* make_fixtures.py's model and recipe */
static sg_ssl_settings settings(sg_method method, sg_pred_kind pred, int stop_gradient) {
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 4);
    s.method = method;
    s.stop_gradient = stop_gradient;
    s.ema = 0.996;
    s.target_copy = 0;
    s.pred = pred;
    s.lr = 0.03;
    s.total_steps = 10;
    s.seed = 7;
    return s;
}

/* Copies every parameter named prefix+entry from the fixture; returns how many were missing. */
static int load_params(sg_ssl *m, const fx_file *fx, sg_params *p, const char *prefix) {
    int missing = 0;
    for (int i = 0; i < p->count; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "%s%s", prefix, p->entries[i].name);
        const fx_tensor *t = fx_get(fx, nm);
        if (!t || t->n != p->entries[i].count) {
            fprintf(stderr, "  fixture lacks %s (or its size differs: %zu)\n", nm,
                    p->entries[i].count);
            missing++;
            continue;
        }
        sg_ssl_put(m, p->w + p->entries[i].offset, t->data, t->n);
    }
    return missing;
}

/* One first-step result of case cas against its float64 value (tests/fixture.h). */
static int first_step_close(const char *cas, const char *name, const fx_file *fx,
                            const float *ours, size_t n) {
    return fx_close_to_exact(fx, cas, name, ours, n);
}

static void run_case_with(const char *name, const sg_ssl_settings *set) {
    char path[1024];
    const char *src = getenv("SG_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/%s.sgfx", src ? src : ".", name);
    fx_file fx;
    CHECK(fx_load(&fx, path) == 0, "%s: fixture loads", name);
    if (!fx.count) return;

    sg_ssl m;
    sg_err err;
    CHECK(sg_ssl_build(&m, set, g_be, &err) == 0, "%s: build: %s", name, err.msg);
    CHECK(load_params(&m, &fx, &m.online, "online.") == 0, "%s: online weights", name);
    if (m.has_target)
        CHECK(load_params(&m, &fx, &m.target, "target.") == 0, "%s: target weights", name);

    const size_t nx = (size_t)4 * 3 * 16 * 16;
    sg_ssl_put(&m, m.x[0], fx_get(&fx, "x1")->data, nx);
    sg_ssl_put(&m, m.x[1], fx_get(&fx, "x2")->data, nx);
    double loss0 = sg_ssl_step(&m);
    float loss0f = (float)loss0;
    CHECK(first_step_close(name, "loss0", &fx, &loss0f, 1), "%s: first-step loss %.7f", name,
          loss0);

    /* DirectPred: F and the predictor it sets after the first step */
    if (fx_get(&fx, "F.after0")) {
        size_t DD = fx_get(&fx, "F.after0")->n;
        float *F = malloc(DD * sizeof(float)), *W = malloc(DD * sizeof(float));
        sg_ssl_get(&m, F, m.F, DD);
        sg_ssl_get(&m, W, m.pred_lin.W, DD);
        CHECK(first_step_close(name, "F.after0", &fx, F, DD), "%s: F after step 0", name);
        CHECK(first_step_close(name, "predictor.weight.after0", &fx, W, DD),
              "%s: W_p after step 0", name);
        free(F);
        free(W);
    }

    /* every gradient, per tensor (tensors whose exact gradient is zero, the bias of a Linear
     * followed by batch norm, are held to the same rule: their float32 values are rounding
     * noise, and the envelope measures its size) */
    float *grad = malloc(m.online.total * sizeof(float));
    sg_ssl_get(&m, grad, m.online.g, m.online.total);
    int bad = 0;
    for (int i = 0; i < m.online.count; i++) {
        const sg_param_entry *e = &m.online.entries[i];
        char nm[160];
        snprintf(nm, sizeof nm, "grad.%s", e->name);
        bad += !first_step_close(name, nm, &fx, grad + e->offset, e->count);
    }
    free(grad);
    CHECK(bad == 0, "%s: %d of %d gradient tensors outside their envelope around the float64 "
                    "gradient", name, bad, m.online.count);

    /* 10 steps: the losses stay within PyTorch's own rounding envelope (4x the spread of
     * PyTorch runs whose inputs differ at the rounding level; see make_fixtures.py) */
    const fx_tensor *losses = fx_get(&fx, "losses");
    const fx_tensor *env = fx_get(&fx, "losses_envelope");
    int steps_ok = 1;
    for (int k = 1; k < (int)losses->n; k++) {
        char n1[64], n2[64];
        snprintf(n1, sizeof n1, "x1.step%d", k);
        snprintf(n2, sizeof n2, "x2.step%d", k);
        sg_ssl_put(&m, m.x[0], fx_get(&fx, n1)->data, nx);
        sg_ssl_put(&m, m.x[1], fx_get(&fx, n2)->data, nx);
        double l = sg_ssl_step(&m);
        double tol = 1e-4 * fabs(losses->data[k]) + 4.0 * env->data[k];
        if (!(fabs(l - losses->data[k]) <= tol)) {
            fprintf(stderr, "  %s: step %d loss %.7f vs PyTorch %.7f (envelope %.3g)\n", name, k,
                    l, losses->data[k], tol);
            steps_ok = 0;
        }
    }
    CHECK(steps_ok, "%s: 10-step losses match", name);
    sg_ssl_free(&m);
    fx_free(&fx);
}

static void run_case(const char *name, sg_method method, sg_pred_kind pred, int sg) {
    sg_ssl_settings s = settings(method, pred, sg);
    run_case_with(name, &s);
}

int main(int argc, char **argv) {
    g_be = tb_backend(argc, argv);
    printf("backend %s\n", g_be->name);
    /* the CPU's summation orders depend on the thread count: both counts the project runs at */
    for (int threads = 1; threads <= 2; threads++) {
        sg_cpu_set_threads(threads);
        fx_worst_ratio = 0;
        run_case("byol", SG_METHOD_BYOL, SG_PRED_MLP, 1);
        run_case("simsiam", SG_METHOD_SIMSIAM, SG_PRED_MLP, 1);
        run_case("byol_nosg", SG_METHOD_BYOL, SG_PRED_MLP, 0);
        run_case("directpred", SG_METHOD_BYOL, SG_PRED_DIRECTPRED, 1);
        /* the head forms: SimSiam's projector (3 layers, output BN) with affine hidden BNs in
         * both heads; the 2-layer predictor without biases */
        sg_ssl_settings s = settings(SG_METHOD_SIMSIAM, SG_PRED_MLP, 1);
        s.proj_layers = 3;
        s.proj_out_bn = 1;
        s.head_bn_affine = 1;
        run_case_with("simsiam_proj3", &s);
        s = settings(SG_METHOD_BYOL, SG_PRED_MLP, 1);
        s.pred_mlp_bias = 0;
        run_case_with("byol_mlp_nobias", &s);
        printf("%d thread(s): first step, worst |ours - float64| / tolerance %.3f (%s)\n",
               threads, fx_worst_ratio, fx_worst_what);
    }
    return test_finish();
}
