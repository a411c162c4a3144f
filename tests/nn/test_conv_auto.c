/* conv.algo=auto's chooser (core/nn/conv_auto.h) with injected timings: the fastest algorithm
 * wins and a tie goes to im2col; a cache round trip gives the same choices without measuring
 * again; rows of another machine or build are ignored (and kept in the file); a cache that
 * cannot be read or written is a warning and the shapes are measured; a run's record reads back
 * as written. Never asserts real timings: the real timer is only checked to return a time. */
#define _DEFAULT_SOURCE /* setenv, unsetenv with -std=c11 */
#include <sys/stat.h>
#include <unistd.h>

#include "core/nn/conv_auto.h"
#include "kernels/backend.h"
#include "test_util.h"

/* im2col 2, winograd 1, dnnl 3 (or as set), counting calls */
typedef struct {
    double sec[SG_CONV_ALGO_COUNT];
    int calls;
} fake;

static double fake_timer(void *ctx, const sg_backend *be, const sg_conv_shape *s) {
    (void)be;
    fake *f = ctx;
    f->calls++;
    return f->sec[s->algo];
}

static int same_choices(const sg_conv_auto_table *a, const sg_conv_auto_table *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->c[i].s.algo != b->c[i].s.algo || a->c[i].s.C != b->c[i].s.C ||
            a->c[i].s.H != b->c[i].s.H || a->c[i].s.K != b->c[i].s.K ||
            a->c[i].s.R != b->c[i].s.R || a->c[i].s.stride != b->c[i].s.stride)
            return 0;
    return 1;
}

int main(void) {
    /* the pick */
    {
        enum { NA = SG_CONV_ALGO_COUNT }; /* default, im2col, winograd, dnnl, cudnn */
        double a[NA] = {-1, 2, 1, -1, -1}, b[NA] = {-1, 1, 1, -1, -1}, c[NA] = {-1, 1, -1, 1, -1},
               d[NA] = {-1, -1, -1, -1, -1}, e[NA] = {-1, 2, 3, 1, -1},
               f[NA] = {-1, 1, 0.5, 0.5, -1}, g[NA] = {-1, 2, -1, -1, 1},
               h[NA] = {-1, 1, -1, -1, 1};
        CHECK(sg_conv_auto_pick(a) == SG_CONV_WINOGRAD, "fastest winograd");
        CHECK(sg_conv_auto_pick(b) == SG_CONV_IM2COL, "a tie with winograd keeps im2col");
        CHECK(sg_conv_auto_pick(c) == SG_CONV_IM2COL, "a tie with dnnl keeps im2col");
        CHECK(sg_conv_auto_pick(d) == SG_CONV_IM2COL, "nothing timed: im2col");
        CHECK(sg_conv_auto_pick(e) == SG_CONV_DNNL, "fastest dnnl");
        CHECK(sg_conv_auto_pick(f) == SG_CONV_WINOGRAD, "a tie of two others: the first of them");
        CHECK(sg_conv_auto_pick(g) == SG_CONV_CUDNN, "fastest cudnn");
        CHECK(sg_conv_auto_pick(h) == SG_CONV_IM2COL, "a tie with cudnn keeps im2col");
    }

    const sg_backend *be = sg_backend_get("cpu");
    sg_err err;
    sg_resnet_spec spec = {.depth = 18, .stem = SG_STEM_CIFAR, .width = 0.0625, .in_channels = 3,
                           .H = 16, .W = 16, .conv_algo = SG_CONV_DEFAULT};
    sg_conv_auto_table t0;
    CHECK(sg_conv_auto_shapes(&spec, 4, be, &t0, &err) == 0, "shapes: %s", err.msg);
    int layers = 0, wino_shapes = 0;
    for (int i = 0; i < t0.n; i++) {
        layers += t0.c[i].layers;
        wino_shapes += t0.c[i].s.R == 3 && t0.c[i].s.stride == 1;
    }
    CHECK(layers == 20 && t0.n >= 5 && t0.n < 20 && wino_shapes > 0,
          "ResNet-18: 20 conv layers in %d distinct shapes (%d layers, %d 3x3/1)", t0.n, layers,
          wino_shapes);

    char root[600], cache[700];
    snprintf(root, sizeof root, "%s/conv_auto_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    snprintf(cache, sizeof cache, "%s/sub/conv-algo.csv", root);
    sg_conv_auto_key key = {.machine_id = "0123456789abcdef", .build = "abc1234 Release -O3",
                            .backend = "cpu", .threads = 2};
    fake f = {{-1, 2, 1, 3, -1}, 0};

    /* first choice: every shape measured, winograd where it runs, else im2col */
    sg_conv_auto_table t1 = t0;
    long calls0 = sg_conv_auto_timer_calls();
    int m = sg_conv_auto_choose(be, &t1, &key, cache, fake_timer, &f);
    CHECK(m == t1.n, "every shape measured (%d of %d)", m, t1.n);
    CHECK(sg_conv_auto_timer_calls() - calls0 == f.calls && f.calls >= t1.n,
          "the timer calls are counted (%ld, %d)", sg_conv_auto_timer_calls() - calls0, f.calls);
    int ok = 1;
    for (int i = 0; i < t1.n; i++) {
        const sg_conv_shape *s = &t1.c[i].s;
        const int wino = s->R == 3 && s->S == 3 && s->stride == 1;
        const int dnnl = t1.c[i].sec[SG_CONV_DNNL] >= 0;
        ok &= s->algo == (wino ? SG_CONV_WINOGRAD : SG_CONV_IM2COL);
        ok &= t1.c[i].sec[SG_CONV_IM2COL] == 2 && (!wino || t1.c[i].sec[SG_CONV_WINOGRAD] == 1);
        ok &= !dnnl || t1.c[i].sec[SG_CONV_DNNL] == 3;
    }
    CHECK(ok, "the fastest of the injected timings chosen per shape, times recorded");
    CHECK(access(cache, F_OK) == 0, "cache written (its folder made)");

    /* round trip: same choices and times, nothing measured */
    sg_conv_auto_table t2 = t0;
    f.calls = 0;
    calls0 = sg_conv_auto_timer_calls();
    m = sg_conv_auto_choose(be, &t2, &key, cache, fake_timer, &f);
    CHECK(m == 0 && f.calls == 0 && sg_conv_auto_timer_calls() == calls0,
          "cached: nothing measured (%d shapes, %d calls)", m, f.calls);
    CHECK(same_choices(&t1, &t2), "cached choices are the measured ones");
    ok = 1;
    for (int i = 0; i < t2.n; i++)
        for (int a = 0; a < SG_CONV_ALGO_COUNT; a++) ok &= t1.c[i].sec[a] == t2.c[i].sec[a];
    CHECK(ok, "cached times are the measured ones");

    /* another thread count is another key: measured, and both kept */
    sg_conv_auto_key k3 = key;
    k3.threads = 3;
    sg_conv_auto_table t3 = t0;
    f.calls = 0;
    CHECK(sg_conv_auto_choose(be, &t3, &k3, cache, fake_timer, &f) == t3.n,
          "another thread count is measured");
    t3 = t0;
    CHECK(sg_conv_auto_choose(be, &t3, &key, cache, fake_timer, &f) == 0,
          "the first thread count's rows are still there");

    /* another machine, another build: never trusted */
    fake g = {{-1, 1, 2, 3, -1}, 0}; /* im2col fastest now */
    sg_conv_auto_key km = key, kb = key;
    snprintf(km.machine_id, sizeof km.machine_id, "fedcba9876543210");
    snprintf(kb.build, sizeof kb.build, "def5678 Release -O3");
    sg_conv_auto_table tm = t0, tb = t0;
    CHECK(sg_conv_auto_choose(be, &tm, &km, cache, fake_timer, &g) == tm.n,
          "rows of another machine are ignored: every shape measured");
    ok = 1;
    for (int i = 0; i < tm.n; i++) ok &= tm.c[i].s.algo == SG_CONV_IM2COL;
    CHECK(ok, "the other machine's own measurement chosen");
    CHECK(sg_conv_auto_choose(be, &tb, &kb, cache, fake_timer, &g) == tb.n,
          "rows of another build are ignored: every shape measured");
    /* that write dropped this machine's rows of the first build (the new build never trusts
     * them) and kept the other machine's */
    sg_conv_auto_table tm2 = t0;
    CHECK(sg_conv_auto_choose(be, &tm2, &km, cache, fake_timer, &g) == 0,
          "the other machine's rows survive this machine's writes");
    sg_conv_auto_table back = t0;
    CHECK(sg_conv_auto_choose(be, &back, &key, cache, fake_timer, &f) == back.n &&
              same_choices(&back, &t1),
          "this machine's rows of another build were dropped by that build's write: measured "
          "again, the same choices");

    /* a hand-edited cache: this key's rows claiming another machine are not used */
    char edited[700], cmd[2000];
    snprintf(edited, sizeof edited, "%s/edited.csv", root);
    snprintf(cmd, sizeof cmd, "sed 's/0123456789abcdef/00000000000000ff/' '%s' > '%s'", cache,
             edited);
    CHECK(system(cmd) == 0, "edited cache made");
    sg_conv_auto_table te = t0;
    CHECK(sg_conv_auto_choose(be, &te, &key, edited, fake_timer, &f) == te.n,
          "rows whose machine_id differs are measured again");

    /* caches that cannot be read or written: warnings, the shapes measured */
    sg_conv_auto_table tu = t0;
    CHECK(sg_conv_auto_choose(be, &tu, &key, root, fake_timer, &f) == tu.n &&
              same_choices(&tu, &t1),
          "a folder as the cache: measured");
    char blocked[700], under[800];
    snprintf(blocked, sizeof blocked, "%s/blocker", root);
    FILE *bf = fopen(blocked, "w");
    if (bf) fclose(bf);
    snprintf(under, sizeof under, "%s/x/conv-algo.csv", blocked);
    tu = t0;
    CHECK(sg_conv_auto_choose(be, &tu, &key, under, fake_timer, &f) == tu.n &&
              same_choices(&tu, &t1),
          "a cache that cannot be written: measured");
    char foreign[700];
    snprintf(foreign, sizeof foreign, "%s/foreign.csv", root);
    FILE *ff = fopen(foreign, "w");
    if (ff) fputs("a,b\n1,2\n", ff), fclose(ff);
    tu = t0;
    CHECK(sg_conv_auto_choose(be, &tu, &key, foreign, fake_timer, &f) == tu.n,
          "a file of other columns: measured");
    char buf[64] = "";
    ff = fopen(foreign, "r");
    if (ff) {
        if (!fgets(buf, sizeof buf, ff)) buf[0] = 0;
        fclose(ff);
    }
    CHECK(!strcmp(buf, "a,b\n"), "a file of other columns is left as it was: %s", buf);
    tu = t0;
    CHECK(sg_conv_auto_choose(be, &tu, &key, "", fake_timer, &f) == tu.n, "no cache: measured");

    /* a tie everywhere: im2col */
    fake tie = {{-1, 1, 1, 1, -1}, 0};
    sg_conv_auto_table tt = t0;
    sg_conv_auto_choose(be, &tt, &key, NULL, fake_timer, &tie);
    ok = 1;
    for (int i = 0; i < tt.n; i++) ok &= tt.c[i].s.algo == SG_CONV_IM2COL;
    CHECK(ok, "ties choose im2col everywhere");

    /* the run record */
    char rec[700];
    snprintf(rec, sizeof rec, "%s/run/conv-algo.csv", root);
    CHECK(sg_conv_auto_write_run(rec, &t1, &key, &err) == 0, "record written: %s", err.msg);
    sg_conv_auto_table rt;
    CHECK(sg_conv_auto_read_run(rec, &rt, &err) == 0, "record read: %s", err.msg);
    CHECK(same_choices(&rt, &t1), "record round trip");
    ok = rt.n == t1.n;
    for (int i = 0; ok && i < rt.n; i++)
        ok &= rt.c[i].layers == t1.c[i].layers && rt.c[i].sec[SG_CONV_IM2COL] == 2;
    CHECK(ok, "record keeps layer counts and times");
    CHECK(sg_conv_auto_read_run(foreign, &rt, &err) != 0 && strstr(err.msg, "foreign.csv"),
          "a record of other columns is an error naming it: %s", err.msg);

    /* a record written before the cudnn column existed (the same rows without sec_cudnn) reads
     * back as the same choices, cudnn not timed */
    char old[700];
    snprintf(old, sizeof old, "%s/old.csv", root);
    snprintf(cmd, sizeof cmd,
             "sed -e '1s/,sec_cudnn$//' -e '2,$s/,[^,]*$//' '%s' > '%s'", rec, old);
    CHECK(system(cmd) == 0, "old record made");
    sg_conv_auto_table ro;
    CHECK(sg_conv_auto_read_run(old, &ro, &err) == 0, "old record read: %s", err.msg);
    ok = same_choices(&ro, &t1);
    for (int i = 0; ok && i < ro.n; i++)
        ok &= ro.c[i].sec[SG_CONV_CUDNN] < 0 && ro.c[i].sec[SG_CONV_IM2COL] == 2;
    CHECK(ok, "an old record keeps its choices and times, cudnn untimed");
    sg_conv_auto_table tc = t0;
    f.calls = 0;
    CHECK(sg_conv_auto_choose(be, &tc, &key, old, fake_timer, &f) == 0 && f.calls == 0 &&
              same_choices(&tc, &t1),
          "an old cache is used as it is");

    /* the real timer returns a time (never compared) */
    sg_conv_shape s = sg_conv_shape_make(2, 4, 8, 8, 4, 3, 3, 1, 1);
    s.algo = SG_CONV_IM2COL;
    CHECK(sg_conv_auto_time(NULL, be, &s) >= 0, "the real timer runs");

    /* the default cache path */
    char dc[4096];
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    sg_conv_auto_default_cache(dc, sizeof dc);
    CHECK(!strcmp(dc, "/xdg/stopgrad/conv-algo.csv"), "XDG_CACHE_HOME: %s", dc);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    sg_conv_auto_default_cache(dc, sizeof dc);
    CHECK(!strcmp(dc, "/home/u/.cache/stopgrad/conv-algo.csv"), "HOME: %s", dc);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
