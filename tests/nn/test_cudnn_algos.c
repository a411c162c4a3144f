/* The cuDNN algorithm cache and run record (core/nn/cudnn_algos.h) with an injected device: the
 * first choice measures every shape and writes the cache; a second uses the cache (presets,
 * nothing measured); another conv.deterministic setting is its own key; rows of another GPU,
 * driver or cuDNN are ignored (and kept); a cached row the device refuses is measured again; a
 * failed measurement is an error; a run's record reads back as written, with its key, and a
 * record that mixes keys or is not one is an error naming the file. No GPU needed; the
 * algorithm names are the CUDA backend's, so a build without CUDA skips. */
#define _DEFAULT_SOURCE /* setenv, unsetenv with -std=c11 */
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/rng.h"
#include "core/nn/cudnn_algos.h"
#include "kernels/backend.h"
#include "test_util.h"

#ifdef SG_HAVE_CUDA

/* A device whose measurement picks, per pass, an algorithm drawn at random for each shape (the
 * same shape, the same draw), and which refuses presets of one forward algorithm. */
typedef struct {
    uint64_t seed;
    int measures, presets, refused_fwd, fail_measure;
    sg_conv_shape last_preset;
    int last_algo[SG_CUDNN_PASSES];
} fake;

static int fake_measure(void *ctx, const sg_conv_shape *s, sg_cudnn_choice *out, sg_err *err) {
    fake *f = ctx;
    if (f->fail_measure) return sg_errf(err, "the fake device cannot measure");
    f->measures++;
    sg_rng g;
    sg_rng_init(&g, f->seed, (uint32_t)s->C, (uint32_t)s->H, (uint32_t)(s->K * 16 + s->R));
    memset(out, 0, sizeof *out);
    for (int p = 0; p < SG_CUDNN_PASSES; p++) {
        out->algo[p] = (int)(sg_rng_u32(&g) % (uint32_t)sg_cuda_cudnn_algo_count(p));
        out->ms[p] = 0.25f * (float)(1 + sg_rng_u32(&g) % 64);
        out->workspace[p] = (size_t)(sg_rng_u32(&g) % 100000) * 256;
    }
    out->deterministic = 1;
    return 0;
}

static int fake_preset(void *ctx, const sg_conv_shape *s, const int algo[SG_CUDNN_PASSES],
                       sg_err *err) {
    fake *f = ctx;
    if (algo[SG_CUDNN_FWD] == f->refused_fwd)
        return sg_errf(err, "the fake device refuses forward %s",
                       sg_cuda_cudnn_algo_name(SG_CUDNN_FWD, algo[SG_CUDNN_FWD]));
    f->presets++;
    f->last_preset = *s;
    memcpy(f->last_algo, algo, sizeof f->last_algo);
    return 0;
}

static int same_choices(const sg_cudnn_table *a, const sg_cudnn_table *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        const sg_conv_shape *x = &a->e[i].s, *y = &b->e[i].s;
        if (x->N != y->N || x->C != y->C || x->H != y->H || x->W != y->W || x->K != y->K ||
            x->R != y->R || x->S != y->S || x->stride != y->stride || x->pad != y->pad)
            return 0;
        for (int p = 0; p < SG_CUDNN_PASSES; p++)
            if (a->e[i].c.algo[p] != b->e[i].c.algo[p] || a->e[i].c.ms[p] != b->e[i].c.ms[p] ||
                a->e[i].c.workspace[p] != b->e[i].c.workspace[p])
                return 0;
    }
    return 1;
}

int main(void) {
    /* the names round-trip for every algorithm of every pass */
    for (int p = 0; p < SG_CUDNN_PASSES; p++)
        for (int a = 0; a < sg_cuda_cudnn_algo_count(p); a++)
            CHECK(sg_cuda_cudnn_algo_find(p, sg_cuda_cudnn_algo_name(p, a)) == a,
                  "pass %d algorithm %d", p, a);
    CHECK(sg_cuda_cudnn_algo_find(SG_CUDNN_FWD, "ALGO_0") == -1 &&
              sg_cuda_cudnn_algo_name(SG_CUDNN_BWD_DATA, 6) == NULL,
          "names of another pass or out of range");
    CHECK(!sg_cuda_cudnn_algo_deterministic(SG_CUDNN_BWD_FILTER,
                                            sg_cuda_cudnn_algo_find(SG_CUDNN_BWD_FILTER,
                                                                    "ALGO_3")) &&
              sg_cuda_cudnn_algo_sum(SG_CUDNN_FWD, sg_cuda_cudnn_algo_find(
                                                       SG_CUDNN_FWD, "FFT_TILING")) ==
                  SG_CUDNN_SUM_FFT,
          "determinism and summation as cuDNN documents them");

    /* the trunk's shapes: a ResNet-18 on 32x32 images */
    const sg_backend *be = sg_backend_get("cpu");
    sg_err err;
    sg_resnet_spec spec = {.depth = 18, .stem = SG_STEM_CIFAR, .width = 0.125, .in_channels = 3,
                           .H = 32, .W = 32, .conv_algo = SG_CONV_DEFAULT};
    sg_conv_auto_table shapes;
    CHECK(sg_conv_auto_shapes(&spec, 4, be, &shapes, &err) == 0, "shapes: %s", err.msg);
    sg_cudnn_table t0;
    sg_cudnn_table_of(&shapes, &t0);
    CHECK(t0.n == shapes.n && t0.n >= 5, "%d shapes", t0.n);

    char root[600], cache[700], cmd[2000];
    snprintf(root, sizeof root, "%s/cudnn_algos_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    snprintf(cache, sizeof cache, "%s/sub/cudnn-algo.csv", root);
    sg_cudnn_key key = {.gpu = "NVIDIA H100 80GB HBM3", .driver = 13000, .cudnn = 91900,
                        .deterministic = 1};
    sg_rng g;
    sg_rng_init(&g, 2026, 0x63756469u, 0, 0);
    fake f = {.seed = sg_rng_u32(&g), .refused_fwd = -1};
    sg_cudnn_ops ops = {fake_measure, fake_preset, &f};

    /* first choice: every shape measured, the cache written */
    sg_cudnn_table t1 = t0;
    int m = sg_cudnn_choose(&t1, &key, cache, &ops, &err);
    CHECK(m == t1.n && f.measures == t1.n && f.presets == 0, "every shape measured (%d, %d)", m,
          f.measures);
    CHECK(access(cache, F_OK) == 0, "cache written (its folder made)");

    /* round trip: the same algorithms, times and workspaces, preset, nothing measured */
    sg_cudnn_table t2 = t0;
    f.measures = 0;
    m = sg_cudnn_choose(&t2, &key, cache, &ops, &err);
    CHECK(m == 0 && f.measures == 0 && f.presets == t2.n,
          "cached: nothing measured (%d, %d measures, %d presets)", m, f.measures, f.presets);
    CHECK(same_choices(&t1, &t2), "the cached choices are the measured ones");
    CHECK(!memcmp(f.last_algo, t1.e[t1.n - 1].c.algo, sizeof f.last_algo) &&
              f.last_preset.C == t1.e[t1.n - 1].s.C && f.last_preset.H == t1.e[t1.n - 1].s.H,
          "the device was preset with the cached algorithms");

    /* conv.deterministic=false is another key: measured, and both kept */
    sg_cudnn_key kn = key;
    kn.deterministic = 0;
    fake fn = {.seed = sg_rng_u32(&g), .refused_fwd = -1};
    sg_cudnn_ops opsn = {fake_measure, fake_preset, &fn};
    sg_cudnn_table t3 = t0;
    CHECK(sg_cudnn_choose(&t3, &kn, cache, &opsn, &err) == t3.n, "the other setting measured");
    t3 = t0;
    f.measures = 0;
    CHECK(sg_cudnn_choose(&t3, &key, cache, &ops, &err) == 0 && same_choices(&t3, &t1),
          "the first setting's rows are still there");

    /* another GPU, driver or cuDNN: ignored (warned), measured, and the rows kept */
    sg_cudnn_key kg = key, kd = key, kc = key;
    snprintf(kg.gpu, sizeof kg.gpu, "NVIDIA H200");
    kd.driver = 12080;
    kc.cudnn = 90800;
    const sg_cudnn_key *others[3] = {&kg, &kd, &kc};
    for (int k = 0; k < 3; k++) {
        sg_cudnn_table to = t0;
        f.measures = 0;
        CHECK(sg_cudnn_choose(&to, others[k], cache, &ops, &err) == to.n && f.measures == to.n,
              "rows of another environment (%d) ignored", k);
    }
    sg_cudnn_table back = t0;
    f.measures = 0;
    CHECK(sg_cudnn_choose(&back, &key, cache, &ops, &err) == 0 && same_choices(&back, &t1),
          "the first environment's rows survive the others' writes");

    /* a cached row whose algorithm the device refuses: measured again, and the cache updated */
    f.refused_fwd = t1.e[0].c.algo[SG_CUDNN_FWD];
    f.seed = sg_rng_u32(&g); /* the device now measures differently */
    sg_cudnn_table tr = t0;
    f.measures = 0;
    m = sg_cudnn_choose(&tr, &key, cache, &ops, &err);
    int refused = 0;
    for (int i = 0; i < t1.n; i++) refused += t1.e[i].c.algo[SG_CUDNN_FWD] == f.refused_fwd;
    CHECK(m == refused && f.measures == refused && refused >= 1,
          "refused rows measured again (%d measured, %d refused)", m, refused);
    f.refused_fwd = -1;

    /* a failed measurement is an error, not a guess */
    f.fail_measure = 1;
    sg_cudnn_table tf = t0;
    CHECK(sg_cudnn_choose(&tf, &key, "", &ops, &err) == -1 && strstr(err.msg, "cannot measure"),
          "a failed measurement: %s", err.msg);
    f.fail_measure = 0;

    /* caches that cannot be read: a warning, measured, and a file of other columns left alone */
    sg_cudnn_table tu = t0;
    CHECK(sg_cudnn_choose(&tu, &key, root, &ops, &err) == tu.n, "a folder as the cache");
    char foreign[700];
    snprintf(foreign, sizeof foreign, "%s/foreign.csv", root);
    FILE *ff = fopen(foreign, "w");
    if (ff) fputs("a,b\n1,2\n", ff), fclose(ff);
    tu = t0;
    CHECK(sg_cudnn_choose(&tu, &key, foreign, &ops, &err) == tu.n, "a file of other columns");
    char buf[64] = "";
    ff = fopen(foreign, "r");
    if (ff) {
        if (!fgets(buf, sizeof buf, ff)) buf[0] = 0;
        fclose(ff);
    }
    CHECK(!strcmp(buf, "a,b\n"), "a file of other columns is left as it was: %s", buf);

    /* the run record: written, read back with its key, applied through the device */
    char rec[700];
    snprintf(rec, sizeof rec, "%s/run/cudnn-algo.csv", root);
    CHECK(sg_cudnn_write_run(rec, &t1, &key, &err) == 0, "record written: %s", err.msg);
    sg_cudnn_table rt;
    sg_cudnn_key rk;
    CHECK(sg_cudnn_read_run(rec, &rt, &rk, &err) == 0, "record read: %s", err.msg);
    CHECK(same_choices(&rt, &t1), "record round trip");
    CHECK(!strcmp(rk.gpu, key.gpu) && rk.driver == key.driver && rk.cudnn == key.cudnn &&
              rk.deterministic == 1,
          "record key: %s %d %ld %d", rk.gpu, rk.driver, rk.cudnn, rk.deterministic);
    f.presets = 0;
    CHECK(sg_cudnn_apply(&rt, &ops, &err) == 0 && f.presets == rt.n, "record applied");
    f.refused_fwd = rt.e[1].c.algo[SG_CUDNN_FWD];
    CHECK(sg_cudnn_apply(&rt, &ops, &err) == -1 && strstr(err.msg, "refuses") &&
              strstr(err.msg, "shape N=4"),
          "a record the device refuses: %s", err.msg);
    f.refused_fwd = -1;
    char mixed[700];
    snprintf(mixed, sizeof mixed, "%s/mixed.csv", root);
    snprintf(cmd, sizeof cmd, "sed '3s/H100 80GB HBM3/H200/' '%s' > '%s'", rec, mixed);
    CHECK(system(cmd) == 0, "mixed record made");
    CHECK(sg_cudnn_read_run(mixed, &rt, &rk, &err) == -1 && strstr(err.msg, "mixed.csv") &&
              strstr(err.msg, "line 3"),
          "a record mixing keys: %s", err.msg);
    CHECK(sg_cudnn_read_run(foreign, &rt, &rk, &err) == -1 && strstr(err.msg, "foreign.csv"),
          "a record of other columns: %s", err.msg);

    /* the default cache path */
    char dc[4096];
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    sg_cudnn_default_cache(dc, sizeof dc);
    CHECK(!strcmp(dc, "/xdg/stopgrad/cudnn-algo.csv"), "XDG_CACHE_HOME: %s", dc);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    sg_cudnn_default_cache(dc, sizeof dc);
    CHECK(!strcmp(dc, "/home/u/.cache/stopgrad/cudnn-algo.csv"), "HOME: %s", dc);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}

#else

int main(void) { TEST_SKIP("cuDNN algorithms: this build has no CUDA backend"); }

#endif
