/* ResNet-18/50 trunks and the MLP head: the backward pass of the whole network against central
 * finite differences (float forward, double accumulation of the scalar loss), on tiny networks
 * with every kind of block: basic and bottleneck, with and without downsampling, both stems. */
#include "core/nn/heads.h"
#include "core/nn/resnet.h"
#include "test_util.h"

typedef struct {
    const sg_backend *be;
    sg_resnet net;
    sg_mlp head;
    sg_params p;
    sg_resnet_acts acts;
    sg_resnet_scratch scratch;
    sg_mlp_acts hacts;
    float *x, *g; /* input, loss weights [N, out] */
    size_t nout;
} model;

/* L = sum(g .* head(trunk(x))) */
static double loss(model *m) {
    sg_resnet_forward(m->be, &m->net, &m->acts, &m->scratch, m->x, 1);
    sg_mlp_forward(m->be, &m->head, &m->hacts, m->acts.feat, 1);
    double l = 0;
    for (size_t i = 0; i < m->nout; i++) l += (double)m->g[i] * m->hacts.y[i];
    return l;
}

static void build(model *m, sg_params *p, sg_arena *a, const sg_resnet_spec *spec, int N) {
    sg_err err;
    int rc = sg_resnet_build(&m->net, spec, N, p, SG_PG_TRUNK, m->be, &err);
    SG_CHECK(rc == 0, "%s", err.msg);
    sg_mlp_build(&m->head, p, SG_PG_PROJECTOR, "projector", N, m->net.feat_dim, 8, 5);
    sg_resnet_acts_build(&m->acts, &m->net, a);
    sg_resnet_scratch_build(&m->scratch, &m->net, a);
    sg_mlp_acts_build(&m->hacts, &m->head, a);
}

static void check_spec(const char *what, const sg_resnet_spec *spec, int N, uint64_t seed) {
    model m = {0};
    m.be = sg_backend_get("cpu");
    sg_params pm;
    sg_arena am;
    sg_params_init_measure(&pm);
    sg_arena_init_measure(&am);
    build(&m, &pm, &am, spec, N);
    sg_err err;
    SG_CHECK(sg_params_init_like(&m.p, &pm, &err) == 0, "%s", err.msg);
    sg_arena arena;
    SG_CHECK(sg_arena_init(&arena, am.peak, &err) == 0, "%s", err.msg);
    build(&m, &m.p, &arena, spec, N);
    CHECK(m.p.total == pm.total && arena.used == am.used, "%s: measured sizes match", what);

    sg_rng r;
    sg_rng_init(&r, seed, 1, 0, 0);
    sg_resnet_init(&m.net, &r);
    sg_mlp_init(&m.head, &r);
    /* BN gamma/beta away from their 1/0 init so their gradients are generic */
    for (int i = 0; i < m.p.count; i++) {
        sg_param_entry *e = &m.p.entries[i];
        if (e->kind == SG_PK_BN_GAMMA || e->kind == SG_PK_BN_BETA)
            tu_fill(m.p.w + e->offset, e->count, seed, 100 + (uint32_t)i, 0.5f, 1.5f);
    }
    size_t nx = (size_t)N * spec->in_channels * spec->H * spec->W;
    m.nout = (size_t)N * 5;
    m.x = tu_alloc(nx * sizeof(float));
    m.g = tu_alloc(m.nout * sizeof(float));
    tu_fill(m.x, nx, seed, 2, -1, 1);
    tu_fill(m.g, m.nout, seed, 3, -1, 1);

    /* analytic */
    memset(m.p.g, 0, m.p.total * sizeof(float));
    loss(&m);
    sg_mlp_backward(m.be, &m.head, &m.hacts, m.g, m.scratch.buf[0]);
    /* head dx went to buf[0]; copy it out since the trunk backward reuses the buffers */
    size_t nfeat = (size_t)N * m.net.feat_dim;
    float *dfeat = tu_alloc(nfeat * sizeof(float));
    memcpy(dfeat, m.scratch.buf[0], nfeat * sizeof(float));
    sg_resnet_backward(m.be, &m.net, &m.acts, &m.scratch, dfeat);

    /* numeric, on a sample of coordinates from every parameter tensor */
    int bad = 0, checked = 0;
    const float h = 1e-2f;
    for (int i = 0; i < m.p.count; i++) {
        const sg_param_entry *e = &m.p.entries[i];
        for (int k = 0; k < 3; k++) {
            size_t j = e->offset + sg_rng_below(&r, (uint32_t)e->count);
            float keep = m.p.w[j];
            m.p.w[j] = keep + h;
            double lp = loss(&m);
            m.p.w[j] = keep - h;
            double lm = loss(&m);
            m.p.w[j] = keep;
            double fd = (lp - lm) / (2.0 * h), an = m.p.g[j];
            checked++;
            if (!(fabs(fd - an) <= 2e-3 + 3e-2 * fabs(fd))) {
                if (bad < 5)
                    fprintf(stderr, "  %s %s[%zu]: analytic %.6g numeric %.6g\n", what, e->name,
                            j - e->offset, an, fd);
                bad++;
            }
        }
    }
    CHECK(bad == 0, "%s: %d of %d gradient coordinates differ from finite differences", what, bad,
          checked);
    free(dfeat);
    free(m.x);
    free(m.g);
    sg_arena_free(&arena);
    sg_params_free(&m.p);
    free(pm.entries);
}

int main(void) {
    sg_cpu_set_threads(2);
    sg_resnet_spec r18_cifar = {18, SG_STEM_CIFAR, 0.0625, 2, 8, 8};
    check_spec("resnet18/cifar-stem", &r18_cifar, 3, 11);
    sg_resnet_spec r18_imnet = {18, SG_STEM_IMAGENET, 0.0625, 3, 20, 18};
    check_spec("resnet18/imagenet-stem", &r18_imnet, 2, 12);
    sg_resnet_spec r50 = {50, SG_STEM_CIFAR, 0.0625, 1, 8, 8};
    check_spec("resnet50/cifar-stem", &r50, 2, 13);

    /* shapes of the canonical STL-10 trunk, by construction */
    sg_params pm;
    sg_params_init_measure(&pm);
    sg_resnet net;
    sg_err err;
    sg_resnet_spec stl = {18, SG_STEM_IMAGENET, 1.0, 3, 96, 96};
    CHECK(sg_resnet_build(&net, &stl, 4, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) == 0, "%s",
          err.msg);
    CHECK(net.feat_dim == 512 && net.final_HW == 9, "feat %d final HW %d", net.feat_dim,
          net.final_HW);
    CHECK(pm.total == 11176512, "ResNet-18 trunk has %zu parameters (torchvision: 11176512)",
          pm.total);
    sg_params_free(&pm);
    sg_params_init_measure(&pm);
    sg_resnet_spec in50 = {50, SG_STEM_IMAGENET, 1.0, 3, 224, 224};
    CHECK(sg_resnet_build(&net, &in50, 2, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) == 0, "%s",
          err.msg);
    CHECK(net.feat_dim == 2048 && pm.total == 23508032,
          "ResNet-50 trunk: feat %d, %zu parameters (torchvision without fc: 23508032)",
          net.feat_dim, pm.total);
    sg_params_free(&pm);
    sg_resnet_spec bad = {34, SG_STEM_IMAGENET, 1.0, 3, 96, 96};
    sg_params_init_measure(&pm);
    CHECK(sg_resnet_build(&net, &bad, 2, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) != 0 &&
              strstr(err.msg, "model.depth: 34") != NULL,
          "unsupported depth named: %s", err.msg);
    sg_params_free(&pm);
    return test_finish();
}
