/* The ResNet-18 and ResNet-50 trunks with the ImageNet/STL-10 stem (7x7/2 conv, 3x3/2 max-pool,
 * bottlenecks with the stride on the 3x3 conv) against PyTorch: the features and every parameter
 * gradient of sum(g .* trunk(x)) for weights, x and g from scripts/make_fixtures.py. (The CIFAR
 * stem and the heads are covered by tests/ssl/test_pytorch_fixtures.c; finite differences of a
 * whole float network are no check at all: BN over small batches makes them noise.) Also the
 * canonical trunks' parameter counts against torchvision's. */
#include "core/nn/resnet.h"
#include "fixture.h"
#include "test_util.h"

static void check_trunk(const char *name, int depth) {
    char path[1024];
    const char *src = getenv("SG_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/%s.sgfx", src ? src : ".", name);
    fx_file fx;
    CHECK(fx_load(&fx, path) == 0, "%s: fixture loads", name);
    if (!fx.count) return;
    const sg_backend *be = sg_backend_get("cpu");
    const int N = 4;
    sg_resnet_spec spec = {depth, SG_STEM_IMAGENET, 0.0625, 3, 48, 40};
    sg_params pm, p;
    sg_arena am, a;
    sg_resnet net;
    sg_resnet_acts acts;
    sg_resnet_scratch scr;
    sg_err err;
    sg_params_init_measure(&pm);
    sg_arena_init_measure(&am);
    SG_CHECK(sg_resnet_build(&net, &spec, N, &pm, SG_PG_TRUNK, be, &err) == 0, "%s", err.msg);
    sg_resnet_acts_build(&acts, &net, &am);
    sg_resnet_scratch_build(&scr, &net, &am);
    SG_CHECK(sg_params_init_like(&p, &pm, NULL, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_arena_init(&a, am.peak, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_resnet_build(&net, &spec, N, &p, SG_PG_TRUNK, be, &err) == 0, "%s", err.msg);
    sg_resnet_acts_build(&acts, &net, &a);
    sg_resnet_scratch_build(&scr, &net, &a);
    sg_rng rng;
    sg_rng_init(&rng, 1, 0, 0, 0);
    sg_resnet_init(&net, &rng); /* BN running statistics 0/1; the weights are replaced below */

    int missing = 0;
    for (int i = 0; i < p.count; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "online.%s", p.entries[i].name);
        const fx_tensor *t = fx_get(&fx, nm);
        if (!t || t->n != p.entries[i].count) {
            fprintf(stderr, "  %s: fixture lacks %s\n", name, nm);
            missing++;
            continue;
        }
        memcpy(p.w + p.entries[i].offset, t->data, t->n * sizeof(float));
    }
    CHECK(missing == 0, "%s: every parameter named as in torchvision", name);

    const fx_tensor *x = fx_get(&fx, "x"), *g = fx_get(&fx, "g"), *feat = fx_get(&fx, "feat");
    sg_resnet_forward(be, &net, &acts, &scr, x->data, 1);
    double fscale = 0, ferr = 0;
    for (size_t j = 0; j < feat->n; j++) {
        fscale = fmax(fscale, fabs(feat->data[j]));
        ferr = fmax(ferr, fabs(acts.feat[j] - feat->data[j]));
    }
    CHECK(feat->n == (size_t)N * net.feat_dim && ferr <= 1e-4 * fscale,
          "%s: features differ by %.3g (scale %.3g)", name, ferr, fscale);

    memset(p.g, 0, p.total * sizeof(float));
    sg_resnet_backward(be, &net, &acts, &scr, g->data);
    /* per tensor relative to its own scale, but a tensor whose gradients are all far below the
     * model's largest (a BN bias early in a 50-layer net: 1e-5 against ~1) is compared at
     * 1e-4 of 1% of the largest: its float rounding comes from sums of much larger terms */
    double global = 0;
    for (int i = 0; i < p.count; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "grad.%s", p.entries[i].name);
        const fx_tensor *t = fx_get(&fx, nm);
        for (size_t j = 0; t && j < t->n; j++) global = fmax(global, fabs(t->data[j]));
    }
    int bad = 0;
    for (int i = 0; i < p.count; i++) {
        const sg_param_entry *e = &p.entries[i];
        char nm[160];
        snprintf(nm, sizeof nm, "grad.%s", e->name);
        const fx_tensor *t = fx_get(&fx, nm);
        if (!t) continue;
        double scale = 0, worst = 0;
        for (size_t j = 0; j < t->n; j++) {
            scale = fmax(scale, fabs(t->data[j]));
            worst = fmax(worst, fabs(p.g[e->offset + j] - t->data[j]));
        }
        if (worst > 1e-4 * fmax(scale, 1e-2 * global)) {
            if (bad < 5)
                fprintf(stderr, "  %s: %s differs by %.3g (scale %.3g, largest %.3g)\n", name,
                        e->name, worst, scale, global);
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %d of %d gradient tensors differ from PyTorch", name, bad, p.count);
    sg_arena_free(&a);
    sg_params_free(&p);
    free(pm.entries);
    fx_free(&fx);
}

int main(void) {
    sg_cpu_set_threads(2);
    check_trunk("trunk_r18_imagenet", 18);
    check_trunk("trunk_r50_imagenet", 50);

    /* the canonical trunks, by construction */
    sg_params pm;
    sg_resnet net;
    sg_err err;
    sg_params_init_measure(&pm);
    sg_resnet_spec stl = {18, SG_STEM_IMAGENET, 1.0, 3, 96, 96};
    CHECK(sg_resnet_build(&net, &stl, 4, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) == 0, "%s",
          err.msg);
    CHECK(net.feat_dim == 512 && net.final_HW == 9, "STL-10 trunk: feat %d, final %d pixels",
          net.feat_dim, net.final_HW);
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
