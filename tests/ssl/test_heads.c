/* tests/ssl/test_heads.c: the head forms of core/nn/heads.h and their switches
 * (model.proj_layers, model.proj_out_bn, model.head_bn_affine, predictor.mlp_bias).
 *
 * - The MLP head alone, for several forms: the CPU forward against a double-precision forward
 *   written here, and every gradient of sum(g .* head(x)) (weights, biases, BN gamma/beta, x)
 *   against central finite differences of that double forward (training-mode BN, so the paths
 *   through the batch statistics count). The output BN's features have mean 0, variance 1.
 * - The model: each switch changes the parameters by exactly its layers (names as PyTorch's
 *   nn.Sequential gives them, the default names unchanged), the target projector mirrors the
 *   online one, affine BN parameters get gradients and are trained (LARS exempts them), the
 *   symmetric 2-layer predictor still ties W0 = W1^T without biases.
 * - The config: ranges, the cross-key check of predictor.mlp_bias, and the setting hash of runs
 *   at the new keys' defaults. */
#include "core/ssl/ssl.h"
#include "core/ssl/train_config.h"
#include "kernels/backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

/* ---- the head alone ------------------------------------------------------------------------ */

typedef struct {
    sg_mlp m;
    sg_mlp_acts a;
    sg_params p;
    sg_arena arena;
} head;

static void head_build(head *t, const sg_mlp_form *f, int N, int In, int Hid, int Out) {
    sg_params pm;
    sg_arena am;
    sg_err err;
    sg_params_init_measure(&pm);
    sg_arena_init_measure(&am);
    sg_mlp_build(&t->m, &pm, SG_PG_PROJECTOR, "projector", N, In, Hid, Out, f);
    sg_mlp_acts_build(&t->a, &t->m, &am);
    SG_CHECK(sg_params_init_like(&t->p, &pm, NULL, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_arena_init(&t->arena, am.peak, &err) == 0, "%s", err.msg);
    free(pm.entries);
    sg_mlp_build(&t->m, &t->p, SG_PG_PROJECTOR, "projector", N, In, Hid, Out, f);
    sg_mlp_acts_build(&t->a, &t->m, &t->arena);
}

static void head_free(head *t) {
    sg_params_free(&t->p);
    sg_arena_free(&t->arena);
}

/* The head's tensors in double, as the finite differences perturb them. */
enum { MAXT = 4 * SG_MLP_MAX_LAYERS + 1 };
typedef struct {
    sg_mlp_form f;
    int N, In, Hid, Out;
    double *W[SG_MLP_MAX_LAYERS], *b[SG_MLP_MAX_LAYERS];
    double *gamma[SG_MLP_MAX_LAYERS - 1], *beta[SG_MLP_MAX_LAYERS - 1];
    double *x, *g;
    double *bufA, *bufB, *y; /* scratch */
} dhead;

/* y[N,C] <- batch norm of y over the batch (biased variance, eps 1e-5), then affine if given. */
static void dbn(double *y, int N, int C, const double *gamma, const double *beta) {
    for (int c = 0; c < C; c++) {
        double mean = 0, var = 0;
        for (int n = 0; n < N; n++) mean += y[(size_t)n * C + c];
        mean /= N;
        for (int n = 0; n < N; n++) {
            double d = y[(size_t)n * C + c] - mean;
            var += d * d;
        }
        var /= N;
        double is = 1.0 / sqrt(var + 1e-5);
        for (int n = 0; n < N; n++) {
            double v = (y[(size_t)n * C + c] - mean) * is;
            y[(size_t)n * C + c] = gamma ? gamma[c] * v + beta[c] : v;
        }
    }
}

/* out[N,O] = in[N,I] W^T + b */
static void dlin(const double *in, int N, int I, int O, const double *W, const double *b,
                 double *out) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < I; i++) s += in[(size_t)n * I + i] * W[(size_t)o * I + i];
            out[(size_t)n * O + o] = s;
        }
}

/* The double forward into h->y; returns sum(g .* y). */
static double dhead_forward(dhead *h) {
    const int L = h->f.layers;
    const double *in = h->x;
    double *buf[2] = {h->bufA, h->bufB};
    for (int k = 0; k < L - 1; k++) {
        double *hk = buf[k % 2];
        dlin(in, h->N, k ? h->Hid : h->In, h->Hid, h->W[k], h->b[k], hk);
        dbn(hk, h->N, h->Hid, h->gamma[k], h->beta[k]);
        for (size_t i = 0; i < (size_t)h->N * h->Hid; i++) hk[i] = hk[i] > 0 ? hk[i] : 0;
        in = hk;
    }
    dlin(in, h->N, h->Hid, h->Out, h->W[L - 1], h->b[L - 1], h->y);
    if (h->f.out_bn) dbn(h->y, h->N, h->Out, NULL, NULL);
    double s = 0;
    for (size_t i = 0; i < (size_t)h->N * h->Out; i++) s += h->g[i] * h->y[i];
    return s;
}

/* tu_gradcheck perturbs the tensor in place; the objective reads every tensor from the ctx. */
static double dhead_objective(const double *v, void *ctx) {
    (void)v;
    return dhead_forward(ctx);
}

static double max_abs(const float *x, size_t n) {
    double a = 0;
    for (size_t i = 0; i < n; i++) a = fmax(a, fabs(x[i]));
    return a;
}

static double *dcopy(const float *x, size_t n) {
    double *d = tu_alloc(n * sizeof(double));
    tu_f2d(x, d, n);
    return d;
}

/* One float gradient against the finite differences of the double forward: within 2e-4 of the
 * gradient's scale plus 1e-3 relative (float32 rounding through a batch norm over 16 rows). The
 * scale is at least `ref`: a Linear's bias before a BN has gradient 0 exactly, and its float
 * value is rounding noise of the size of the layer's weight gradient. */
static int grad_ok(const char *what, dhead *h, double *t, const float *gf, size_t n, double ref) {
    double *gd = dcopy(gf, n), scale = ref;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(gd[i]));
    int ok = tu_gradcheck(what, dhead_objective, h, t, n, gd, 1e-6, 2e-4 * scale + 1e-7, 1e-3);
    free(gd);
    return ok;
}

static void check_form(sg_mlp_form f, uint64_t seed) {
    const int N = 16, In = 12, Hid = 10, Out = 6, L = f.layers;
    char tag[96];
    snprintf(tag, sizeof tag, "layers %d bias %d affine %d out_bn %d", f.layers, f.bias,
             f.bn_affine, f.out_bn);
    const sg_backend *be = sg_backend_get("cpu");
    head t;
    head_build(&t, &f, N, In, Hid, Out);
    sg_rng r;
    sg_rng_init(&r, seed, 1, 0, 0);
    sg_mlp_init(&t.m, &r);
    /* generic gamma/beta (init leaves 1/0) */
    for (int k = 0; k < L - 1; k++)
        if (f.bn_affine) {
            tu_fill(t.m.bn[k].gamma, Hid, seed, 10 + k, 0.5f, 1.5f);
            tu_fill(t.m.bn[k].beta, Hid, seed, 20 + k, -0.5f, 0.5f);
        }
    float *x = tu_alloc((size_t)N * In * sizeof(float)),
          *g = tu_alloc((size_t)N * Out * sizeof(float));
    float *dx = tu_alloc((size_t)N * In * sizeof(float));
    tu_fill(x, (size_t)N * In, seed, 2, -1.0f, 1.0f);
    tu_fill(g, (size_t)N * Out, seed, 3, -1.0f, 1.0f);
    sg_mlp_forward(be, &t.m, &t.a, x, 1);
    memset(t.p.g, 0, t.p.total * sizeof(float));
    sg_mlp_backward(be, &t.m, &t.a, g, dx);

    /* parameters: exactly the form's */
    size_t want = 0;
    for (int k = 0; k < L; k++) {
        int I = k ? Hid : In, O = k == L - 1 ? Out : Hid;
        want += (size_t)O * I + (f.bias ? (size_t)O : 0);
        if (k < L - 1 && f.bn_affine) want += 2 * (size_t)Hid;
        CHECK((t.m.lin[k].b != NULL) == f.bias, "%s: lin[%d] bias present iff the form has them",
              tag, k);
    }
    CHECK(t.p.total == want, "%s: %zu parameters, want %zu", tag, t.p.total, want);
    CHECK(t.p.nbuf == 2 * (size_t)(L - 1) * Hid + (f.out_bn ? 2 * (size_t)Out : 0),
          "%s: running statistics of every BN (%zu floats)", tag, t.p.nbuf);

    /* the double forward at the same weights */
    dhead h = {f, N, In, Hid, Out, {0}, {0}, {0}, {0}, NULL, NULL, NULL, NULL, NULL};
    for (int k = 0; k < L; k++) {
        const sg_linear *l = &t.m.lin[k];
        h.W[k] = dcopy(l->W, (size_t)l->Out * l->In);
        if (l->b) h.b[k] = dcopy(l->b, (size_t)l->Out);
        if (k < L - 1 && f.bn_affine) {
            h.gamma[k] = dcopy(t.m.bn[k].gamma, Hid);
            h.beta[k] = dcopy(t.m.bn[k].beta, Hid);
        }
    }
    h.x = dcopy(x, (size_t)N * In);
    h.g = dcopy(g, (size_t)N * Out);
    h.bufA = tu_alloc((size_t)N * Hid * sizeof(double));
    h.bufB = tu_alloc((size_t)N * Hid * sizeof(double));
    h.y = tu_alloc((size_t)N * Out * sizeof(double));
    dhead_forward(&h);
    CHECK(tu_close_fd("y", t.a.y, h.y, (size_t)N * Out, 1e-5, 1e-4), "%s: forward vs double", tag);

    /* the output BN: every feature has batch mean 0 and (biased) variance 1 - eps/var */
    if (f.out_bn) {
        double worst_m = 0, worst_v = 0;
        for (int c = 0; c < Out; c++) {
            double mean = 0, var = 0;
            for (int n = 0; n < N; n++) mean += t.a.y[n * Out + c];
            mean /= N;
            for (int n = 0; n < N; n++) var += pow(t.a.y[n * Out + c] - mean, 2);
            var /= N;
            worst_m = fmax(worst_m, fabs(mean));
            worst_v = fmax(worst_v, fabs(var - 1));
        }
        CHECK(worst_m < 1e-6 && worst_v < 1e-3, "%s: output BN mean %g, variance off 1 by %g", tag,
              worst_m, worst_v);
    }

    /* every gradient against finite differences of the double forward */
    char what[160];
    for (int k = 0; k < L; k++) {
        const sg_linear *l = &t.m.lin[k];
        snprintf(what, sizeof what, "%s dW[%d]", tag, k);
        const double wscale = max_abs(l->dW, (size_t)l->Out * l->In);
        CHECK(grad_ok(what, &h, h.W[k], l->dW, (size_t)l->Out * l->In, 0), "%s", what);
        if (l->b) {
            snprintf(what, sizeof what, "%s db[%d]", tag, k);
            CHECK(grad_ok(what, &h, h.b[k], l->db, (size_t)l->Out, wscale), "%s", what);
        }
        if (k < L - 1 && f.bn_affine) {
            snprintf(what, sizeof what, "%s dgamma[%d]", tag, k);
            CHECK(grad_ok(what, &h, h.gamma[k], t.m.bn[k].dgamma, Hid, 0), "%s", what);
            snprintf(what, sizeof what, "%s dbeta[%d]", tag, k);
            CHECK(grad_ok(what, &h, h.beta[k], t.m.bn[k].dbeta, Hid, 0), "%s", what);
        }
    }
    snprintf(what, sizeof what, "%s dx", tag);
    CHECK(grad_ok(what, &h, h.x, dx, (size_t)N * In, 0), "%s", what);

    for (int k = 0; k < L; k++) free(h.W[k]), free(h.b[k]);
    for (int k = 0; k < L - 1; k++) free(h.gamma[k]), free(h.beta[k]);
    free(h.x), free(h.g), free(h.bufA), free(h.bufB), free(h.y);
    free(x), free(g), free(dx);
    head_free(&t);
}

/* ---- the model ------------------------------------------------------------------------------ */

static void build(sg_ssl *m, const sg_ssl_settings *s) {
    sg_err err;
    SG_CHECK(sg_ssl_build(m, s, sg_backend_get("cpu"), &err) == 0, "%s", err.msg);
}

static void views(sg_ssl *m, uint32_t k) {
    size_t n = (size_t)m->B * 3 * 16 * 16;
    tu_fill(m->x[0], n, 21, 2 * k, -1, 1);
    tu_fill(m->x[1], n, 21, 2 * k + 1, -1, 1);
}

/* Two steps with finite losses. */
static int step_ok(sg_ssl *m) {
    views(m, 0);
    double a = sg_ssl_step(m);
    views(m, 1);
    double b = sg_ssl_step(m);
    return isfinite(a) && isfinite(b) && a != b;
}

static size_t group_count(const sg_params *p, sg_param_group g) {
    size_t first, count;
    return sg_params_group_range(p, g, &first, &count) ? count : 0;
}

static const sg_param_entry *entry(const sg_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->entries[i].name, name)) return &p->entries[i];
    return NULL;
}

static void check_model(void) {
    const int F = 32, H = 16, D = 8; /* trunk features at width 0.0625, head sizes */
    sg_ssl m;
    sg_ssl_settings s = tiny_ssl(0.0625, H, D, 8);
    build(&m, &s);
    const size_t proj0 = group_count(&m.online, SG_PG_PROJECTOR);
    const size_t pred0 = group_count(&m.online, SG_PG_PREDICTOR), nbuf0 = m.online.nbuf;
    CHECK(m.trunk.feat_dim == F, "trunk features %d", m.trunk.feat_dim);
    CHECK(proj0 == (size_t)F * H + H + (size_t)H * D + D &&
              pred0 == (size_t)D * H + H + (size_t)H * D + D,
          "default heads: projector %zu, predictor %zu parameters", proj0, pred0);
    CHECK(entry(&m.online, "projector.0.weight") && entry(&m.online, "projector.3.bias") &&
              entry(&m.online, "predictor.0.bias") && entry(&m.online, "predictor.3.weight") &&
              !entry(&m.online, "projector.1.weight"),
          "default heads keep the names projector/predictor .0 and .3");
    sg_ssl_free(&m);

    /* model.proj_layers=3: one more Linear(H,H) with bias and a BN(H); the target mirrors it */
    s.proj_layers = 3;
    build(&m, &s);
    CHECK(group_count(&m.online, SG_PG_PROJECTOR) == proj0 + (size_t)H * H + H &&
              group_count(&m.target, SG_PG_PROJECTOR) == proj0 + (size_t)H * H + H &&
              m.online.nbuf == nbuf0 + 2 * (size_t)H &&
              m.target.nbuf == m.online.nbuf - 2 * (size_t)H,
          "3-layer projector: %zu parameters (2-layer %zu), buffers %zu (%zu)",
          group_count(&m.online, SG_PG_PROJECTOR), proj0, m.online.nbuf, nbuf0);
    const sg_param_entry *e6 = entry(&m.online, "projector.6.weight"),
                         *e3 = entry(&m.online, "projector.3.weight");
    CHECK(e6 && e6->count == (size_t)D * H && e3 && e3->count == (size_t)H * H &&
              entry(&m.target, "projector.6.bias"),
          "3-layer projector: Linear(H,H) at .3, Linear(H,D) at .6 (PyTorch's Sequential)");
    CHECK(step_ok(&m), "3-layer projector trains");
    sg_ssl_free(&m);

    /* model.proj_out_bn: no parameters, two buffers of D; z has mean 0, variance 1 per
     * feature in training mode, online and target */
    s = tiny_ssl(0.0625, H, D, 8);
    s.proj_out_bn = 1;
    build(&m, &s);
    CHECK(group_count(&m.online, SG_PG_PROJECTOR) == proj0 &&
              m.online.nbuf == nbuf0 + 2 * (size_t)D,
          "output BN: no parameters, running statistics of D");
    views(&m, 0);
    sg_ssl_forward(&m);
    for (int br = 0; br < 2; br++) {
        const float *z = br ? m.tg_proj[1].y : m.on_proj[0].y;
        double wm = 0, wv = 0;
        for (int c = 0; c < D; c++) {
            double mean = 0, var = 0;
            for (int b = 0; b < m.B; b++) mean += z[b * D + c];
            mean /= m.B;
            for (int b = 0; b < m.B; b++) var += pow(z[b * D + c] - mean, 2);
            var /= m.B;
            wm = fmax(wm, fabs(mean));
            wv = fmax(wv, fabs(var - 1));
        }
        CHECK(wm < 1e-6 && wv < 1e-3, "%s projector output: mean %g, variance off 1 by %g",
              br ? "target" : "online", wm, wv);
    }
    sg_ssl_free(&m);

    /* model.head_bn_affine: gamma/beta (kinds BN_GAMMA/BETA) on the projector's and predictor's
     * hidden BNs; they get gradients, SGD trains them, LARS exempts them from adaptation */
    s = tiny_ssl(0.0625, H, D, 8);
    s.head_bn_affine = 1;
    s.proj_layers = 3;
    build(&m, &s);
    CHECK(group_count(&m.online, SG_PG_PROJECTOR) == proj0 + (size_t)H * H + H + 4 * (size_t)H &&
              group_count(&m.online, SG_PG_PREDICTOR) == pred0 + 2 * (size_t)H &&
              group_count(&m.target, SG_PG_PROJECTOR) == group_count(&m.online, SG_PG_PROJECTOR),
          "affine head BNs: 2H parameters per hidden BN");
    static const char *const affine_names[] = {"projector.1.weight", "projector.1.bias",
                                               "projector.4.weight", "projector.4.bias",
                                               "predictor.1.weight", "predictor.1.bias"};
    float *w0 = tu_alloc(m.online.total * sizeof(float));
    memcpy(w0, m.online.w, m.online.total * sizeof(float));
    views(&m, 0);
    sg_ssl_forward(&m);
    sg_ssl_backward(&m);
    int all = 1;
    for (int i = 0; i < 6; i++) {
        const sg_param_entry *e = entry(&m.online, affine_names[i]);
        int ok = e && e->count == (size_t)H &&
                 e->kind == (i % 2 ? SG_PK_BN_BETA : SG_PK_BN_GAMMA) &&
                 max_abs(m.online.g + e->offset, e->count) > 1e-7;
        if (!ok) fprintf(stderr, "  %s: missing, wrong kind or no gradient\n", affine_names[i]);
        all &= ok;
    }
    CHECK(all, "affine head BN parameters exist with their kinds and get gradients");
    sg_ssl_reduce(&m);
    sg_ssl_update(&m);
    all = 1;
    for (int i = 0; i < 6; i++) {
        const sg_param_entry *e = entry(&m.online, affine_names[i]);
        all &= e && memcmp(w0 + e->offset, m.online.w + e->offset, e->count * sizeof(float)) != 0;
    }
    CHECK(all, "SGD trains the affine head BN parameters");
    int lars_ok = 1, seen = 0;
    for (int i = 0; i < m.n_lars_tp; i++)
        for (int j = 0; j < 4; j++) {
            const sg_param_entry *e = entry(&m.online, affine_names[j]);
            if (e && m.lars_tp[i].w == m.online.w + e->offset)
                seen++, lars_ok &= !m.lars_tp[i].adapt;
        }
    for (int i = 0; i < m.n_lars_pred; i++)
        for (int j = 4; j < 6; j++) {
            const sg_param_entry *e = entry(&m.online, affine_names[j]);
            if (e && m.lars_pred[i].w == m.online.w + e->offset)
                seen++, lars_ok &= !m.lars_pred[i].adapt;
        }
    CHECK(lars_ok && seen == 6, "LARS exempts the head BNs' gamma/beta (%d of 6 seen)", seen);
    free(w0);
    sg_ssl_free(&m);

    /* predictor.mlp_bias=false: the predictor's two Linears without biases (H + D fewer) */
    s = tiny_ssl(0.0625, H, D, 8);
    s.pred_mlp_bias = 0;
    build(&m, &s);
    CHECK(group_count(&m.online, SG_PG_PREDICTOR) == pred0 - H - D && !m.pred_mlp.lin[0].b &&
              !m.pred_mlp.lin[1].b && !entry(&m.online, "predictor.0.bias") &&
              !entry(&m.online, "predictor.3.bias") && entry(&m.online, "projector.0.bias"),
          "2-layer predictor without biases: %zu parameters",
          group_count(&m.online, SG_PG_PREDICTOR));
    CHECK(step_ok(&m), "bias-free predictor trains");
    sg_ssl_free(&m);

    /* ... and symmetric: W0 = W1^T still holds after a step */
    s.pred_symmetric = 1;
    build(&m, &s);
    views(&m, 0);
    sg_ssl_step(&m);
    int tied = 1;
    for (int h = 0; h < H; h++)
        for (int d = 0; d < D; d++)
            tied &= m.pred_mlp.lin[0].W[h * D + d] == m.pred_mlp.lin[1].W[d * H + h];
    CHECK(tied, "symmetric bias-free 2-layer predictor ties W0 to W1^T");
    sg_ssl_free(&m);

    /* SimSiam with every switch: trains, and a bad layer count is an error naming the key */
    s = tiny_ssl(0.0625, H, D, 8);
    s.method = SG_METHOD_SIMSIAM;
    s.proj_layers = 3;
    s.proj_out_bn = 1;
    s.head_bn_affine = 1;
    s.pred_mlp_bias = 0;
    build(&m, &s);
    CHECK(!m.has_target && step_ok(&m), "SimSiam with every head switch trains");
    sg_ssl_free(&m);
    s.proj_layers = 4;
    sg_err err;
    CHECK(sg_ssl_build(&m, &s, sg_backend_get("cpu"), &err) == -1 &&
              strstr(err.msg, "model.proj_layers"),
          "4 projector layers: %s", err.msg);
}

/* ---- the config ---------------------------------------------------------------------------- */

static int settings_of(const char *const *args, int n, sg_ssl_settings *s, sg_err *err) {
    sg_config *c = sg_train_config_new();
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) rc = sg_train_config_set_arg(c, args[i], err);
    if (rc == 0) rc = sg_train_settings(c, 3, 32, 32, 10, s, err);
    sg_config_free(c);
    return rc;
}
#define SETTINGS(s, err, ...)                                                                      \
    settings_of((const char *const[]){__VA_ARGS__},                                                \
                (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)), s, err)

static uint64_t hash_of(const char *const *args, int n) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    for (int i = 0; i < n; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    uint64_t h = sg_train_config_hash(c);
    sg_config_free(c);
    return h;
}
#define HASH(...)                                                                                  \
    hash_of((const char *const[]){__VA_ARGS__},                                                    \
            (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

static void check_config(void) {
    sg_ssl_settings s;
    sg_err err;
    CHECK(SETTINGS(&s, &err, "trainer.seed=1") == 0 && s.proj_layers == 2 && !s.proj_out_bn &&
              !s.head_bn_affine && s.pred_mlp_bias == 1,
          "defaults: 2 layers, no output BN, no affine, predictor biases");
    CHECK(SETTINGS(&s, &err, "model.proj_layers=3", "model.proj_out_bn=true",
                   "model.head_bn_affine=true", "predictor.mlp_bias=false") == 0 &&
              s.proj_layers == 3 && s.proj_out_bn && s.head_bn_affine && !s.pred_mlp_bias,
          "every switch reaches the settings");
    CHECK(SETTINGS(&s, &err, "model.proj_layers=4") == -1 && strstr(err.msg, "model.proj_layers"),
          "model.proj_layers=4: %s", err.msg);
    CHECK(SETTINGS(&s, &err, "model.proj_layers=1") == -1, "model.proj_layers=1 is refused");
    CHECK(SETTINGS(&s, &err, "predictor.kind=random", "predictor.mlp_bias=false") == 0,
          "the frozen random 2-layer predictor may drop its biases");
    static const char *const other[] = {"linear", "identity", "directpred", "directcopy",
                                        "optimal"};
    for (int i = 0; i < 5; i++) {
        char kind[64];
        snprintf(kind, sizeof kind, "predictor.kind=%s", other[i]);
        int rc = SETTINGS(&s, &err, kind, "predictor.mlp_bias=false");
        CHECK(rc == -1 && strstr(err.msg, "predictor.mlp_bias") &&
                  strstr(err.msg, "predictor.kind") && strstr(err.msg, other[i]),
              "predictor.mlp_bias=false with %s names both keys: %s", kind,
              rc ? err.msg : "(accepted)");
    }
    CHECK(SETTINGS(&s, &err, "predictor.kind=linear", "predictor.mlp_bias=true") == 0,
          "predictor.mlp_bias at its default goes with any predictor");

    /* the setting hash: the new keys count only away from their defaults */
    const uint64_t h0 = HASH("trainer.seed=1");
    CHECK(HASH("model.proj_layers=2", "model.proj_out_bn=false", "model.head_bn_affine=no",
               "predictor.mlp_bias=yes") == h0,
          "the new keys at their defaults keep the hash");
    const uint64_t h[4] = {HASH("model.proj_layers=3"), HASH("model.proj_out_bn=true"),
                           HASH("model.head_bn_affine=true"), HASH("predictor.mlp_bias=false")};
    int distinct = 1;
    for (int i = 0; i < 4; i++) {
        distinct &= h[i] != h0;
        for (int j = 0; j < i; j++) distinct &= h[i] != h[j];
    }
    CHECK(distinct, "each new key away from its default is a setting of its own");
}

int main(void) {
    sg_cpu_set_threads(2);
    /* the forms: the recipe's, SimSiam's projector, the bias-free predictor, and the rest */
    check_form((sg_mlp_form){2, 1, 0, 0}, 1);
    check_form((sg_mlp_form){3, 1, 1, 1}, 2);
    check_form((sg_mlp_form){2, 0, 0, 0}, 3);
    check_form((sg_mlp_form){2, 0, 1, 1}, 4);
    check_form((sg_mlp_form){3, 0, 0, 1}, 5);
    check_form((sg_mlp_form){3, 1, 1, 0}, 6);
    check_model();
    check_config();
    return test_finish();
}
