/* The ResNet-18 and ResNet-50 trunks with the ImageNet/STL-10 stem (7x7/2 conv, 3x3/2 max-pool,
 * bottlenecks with the stride on the 3x3 conv) against PyTorch: the features and every parameter
 * gradient of sum(g .* trunk(x)) for weights, x and g from scripts/make_fixtures.py, each against
 * its float64 value within its float32 rounding envelope (tests/fixture.h), at 1 and 2 threads. (The CIFAR
 * stem and the heads are covered by tests/ssl/test_pytorch_fixtures.c; finite differences of a
 * whole float network are no check at all: BN over small batches makes them noise.) Also the
 * canonical trunks' parameter counts against torchvision's. */
#include "core/nn/resnet.h"
#include "fixture.h"
#include "kernels/backend.h"
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
    sg_resnet_spec spec = {depth, SG_STEM_IMAGENET, 0.0625, 3, 48, 40, SG_CONV_DEFAULT, NULL, 0};
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
    CHECK(feat->n == (size_t)N * net.feat_dim &&
              fx_close_to_exact(&fx, name, "feat", acts.feat, feat->n),
          "%s: features", name);

    memset(p.g, 0, p.total * sizeof(float));
    sg_resnet_backward(be, &net, &acts, &scr, g->data);
    int bad = 0;
    for (int i = 0; i < p.count; i++) {
        char nm[160];
        snprintf(nm, sizeof nm, "grad.%s", p.entries[i].name);
        bad += !fx_close_to_exact(&fx, name, nm, p.g + p.entries[i].offset, p.entries[i].count);
    }
    CHECK(bad == 0, "%s: %d of %d gradient tensors outside their envelope around the float64 "
                    "gradient", name, bad, p.count);
    sg_arena_free(&a);
    sg_params_free(&p);
    free(pm.entries);
    fx_free(&fx);
}

int main(void) {
    for (int threads = 1; threads <= 2; threads++) {
        sg_cpu_set_threads(threads);
        fx_worst_ratio = 0;
        check_trunk("trunk_r18_imagenet", 18);
        check_trunk("trunk_r50_imagenet", 50);
        printf("%d thread(s): worst |ours - float64| / tolerance %.3f (%s)\n", threads,
               fx_worst_ratio, fx_worst_what);
    }

    /* the canonical trunks, by construction */
    sg_params pm;
    sg_resnet net;
    sg_err err;
    sg_params_init_measure(&pm);
    sg_resnet_spec stl = {18, SG_STEM_IMAGENET, 1.0, 3, 96, 96, SG_CONV_DEFAULT, NULL, 0};
    CHECK(sg_resnet_build(&net, &stl, 4, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) == 0, "%s",
          err.msg);
    CHECK(net.feat_dim == 512 && net.final_HW == 9, "STL-10 trunk: feat %d, final %d pixels",
          net.feat_dim, net.final_HW);
    CHECK(pm.total == 11176512, "ResNet-18 trunk has %zu parameters (torchvision: 11176512)",
          pm.total);
    sg_params_free(&pm);
    sg_params_init_measure(&pm);
    sg_resnet_spec in50 = {50, SG_STEM_IMAGENET, 1.0, 3, 224, 224, SG_CONV_DEFAULT, NULL, 0};
    CHECK(sg_resnet_build(&net, &in50, 2, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) == 0, "%s",
          err.msg);
    CHECK(net.feat_dim == 2048 && pm.total == 23508032,
          "ResNet-50 trunk: feat %d, %zu parameters (torchvision without fc: 23508032)",
          net.feat_dim, pm.total);
    sg_params_free(&pm);
    sg_resnet_spec bad = {34, SG_STEM_IMAGENET, 1.0, 3, 96, 96, SG_CONV_DEFAULT, NULL, 0};
    sg_params_init_measure(&pm);
    CHECK(sg_resnet_build(&net, &bad, 2, &pm, SG_PG_TRUNK, sg_backend_get("cpu"), &err) != 0 &&
              strstr(err.msg, "model.depth: 34") != NULL,
          "unsupported depth named: %s", err.msg);
    sg_params_free(&pm);
    return test_finish();
}
