/* conv.algo=auto end to end on a tiny synthetic problem: the run records its choices in its
 * folder (conv-algo.csv) and its results row (conv_algos); a run killed after 5 steps, whose
 * cache file is then deleted, resumes with its recorded choices and reproduces the
 * uninterrupted run bit for bit; a resume whose record is gone is refused; conv.algo=auto has
 * its own setting hash and the cache path is not part of it. Timings are never asserted. */
#define _DEFAULT_SOURCE /* getpid, mkdir with -std=c11 */
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "csv_text.h"
#include "test_util.h"

static char root[512];

static sg_config *make_config(const char *name) {
    sg_config *c = sg_train_config_new();
    char runs[600], results[600], cache[600], kv[128];
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results.csv", root);
    snprintf(cache, sizeof cache, "conv.algo_cache=%s/cache/conv-algo.csv", root);
    snprintf(kv, sizeof kv, "run.name=%s", name);
    const char *args[] = {"data.dataset=synthetic", "data.synthetic_n=64", "data.synthetic_size=16",
                          "data.synthetic_classes=4", "model.width=0.0625", "model.proj_hidden=16",
                          "model.proj_out=8", "model.pred_hidden=16", "trainer.batch=8",
                          "trainer.epochs=2", "trainer.threads=2", "eval.probe_epochs=3",
                          "eval.knn_k=5", "trainer.checkpoint_every=3", "data.workers=0",
                          "conv.algo=auto", runs, results, cache, kv};
    sg_err err;
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    return c;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc(1, (size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* A run's file without its wall-clock columns (CSV) or every byte (anything else). */
static char *run_file(const char *run, const char *file, size_t *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/runs/%s/%s", root, run, file);
    if (!strstr(file, ".csv")) return slurp(path, n);
    return tu_csv_text(path, NULL, n);
}

static int run_train(sg_config *c, int resume, long stop_after, sg_train_summary *s, sg_err *err) {
    sg_train_opts o = {resume, SG_TRAIN_PROGRESS_NONE, stop_after};
    return sg_train_run(c, &o, s, err);
}

int main(void) {
    snprintf(root, sizeof root, "%s/conv_auto_train_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary s;
    char cache[700], path[800];
    snprintf(cache, sizeof cache, "%s/cache/conv-algo.csv", root);

    sg_config *a = make_config("a");
    CHECK(run_train(a, 0, 0, &s, &err) == 0, "uninterrupted auto run: %s", err.msg);
    CHECK(s.finished && s.steps == 16, "16 steps (%ld)", s.steps);
    CHECK(access(cache, F_OK) == 0, "the cache was written");
    snprintf(path, sizeof path, "%s/runs/a/conv-algo.csv", root);
    sg_csv_table t;
    CHECK(sg_csv_read(path, &t, &err) == 0 && t.nrows >= 5, "the run records its choices: %s",
          err.msg);
    int layers = 0, lc = sg_csv_col(&t, "layers"), ac = sg_csv_col(&t, "algo");
    for (size_t r = 0; lc >= 0 && r < t.nrows; r++) layers += atoi(sg_csv_cell(&t, r, lc));
    CHECK(layers == 20, "the record covers the trunk's 20 conv layers (%d)", layers);
    for (size_t r = 0; ac >= 0 && r < t.nrows; r++) {
        const char *al = sg_csv_cell(&t, r, ac);
        CHECK(!strcmp(al, "im2col") || !strcmp(al, "winograd") || !strcmp(al, "dnnl"),
              "a choice is an algorithm: %s", al);
    }
    sg_csv_table_free(&t);

    /* killed after 5 steps; the cache deleted; resumed */
    sg_config *b = make_config("b");
    CHECK(run_train(b, 0, 5, &s, &err) == 0 && !s.finished, "killed run: %s", err.msg);
    CHECK(unlink(cache) == 0, "cache deleted");
    CHECK(run_train(b, 1, 0, &s, &err) == 0 && s.finished && s.steps == 16, "resumed run: %s",
          err.msg);
    const char *files[] = {"steps.csv", "epochs.csv", "conv-algo.csv", "checkpoint.bin"};
    for (int f = 0; f < 4; f++) {
        size_t na = 0, nb = 0;
        char *fa = run_file("a", files[f], &na), *fb = run_file("b", files[f], &nb);
        CHECK(fa && fb && na > 50 && na == nb && !memcmp(fa, fb, na),
              "%s: the resumed run is identical to the uninterrupted one (%zu vs %zu bytes)",
              files[f], na, nb);
        free(fa), free(fb);
    }
    CHECK(access(cache, F_OK) != 0, "a resume with a record neither measures nor writes a cache");

    /* the results rows carry the per-layer summary, the same for both */
    char results[700];
    snprintf(results, sizeof results, "%s/results.csv", root);
    CHECK(sg_csv_read(results, &t, &err) == 0 && t.nrows == 2, "two result rows: %s", err.msg);
    int cc = sg_csv_col(&t, "conv_algos");
    CHECK(cc >= 0 && t.nrows == 2 && strchr(sg_csv_cell(&t, 0, cc), ':') &&
              !strcmp(sg_csv_cell(&t, 0, cc), sg_csv_cell(&t, 1, cc)),
          "conv_algos: '%s'", cc >= 0 && t.nrows ? sg_csv_cell(&t, 0, cc) : "?");
    if (cc >= 0 && t.nrows) {
        int sum = 0;
        for (const char *p = strchr(sg_csv_cell(&t, 0, cc), ':'); p; p = strchr(p + 1, ':'))
            sum += atoi(p + 1);
        CHECK(sum == 20, "conv_algos counts the 20 conv layers (%d)", sum);
    }
    /* and conv.deterministic, at its default */
    int cd = sg_csv_col(&t, "conv_deterministic");
    CHECK(cd == cc + 1 && t.nrows == 2 && !strcmp(sg_csv_cell(&t, 0, cd), "true") &&
              !strcmp(sg_csv_cell(&t, 1, cd), "true"),
          "conv_deterministic: column %d, '%s'", cd,
          cd >= 0 && t.nrows ? sg_csv_cell(&t, 0, cd) : "?");
    sg_csv_table_free(&t);

    /* a resume whose record is gone is refused: it could not compute what the run did */
    sg_config *c = make_config("c");
    CHECK(run_train(c, 0, 5, &s, &err) == 0, "second killed run: %s", err.msg);
    snprintf(path, sizeof path, "%s/runs/c/conv-algo.csv", root);
    CHECK(unlink(path) == 0, "record deleted");
    CHECK(run_train(c, 1, 0, &s, &err) != 0 && strstr(err.msg, "conv-algo.csv"),
          "a resume without the record is refused: %s", err.msg);

    /* the setting hash: auto is its own setting; the cache path is not part of it */
    sg_config *d = make_config("d");
    uint64_t h_auto = sg_train_config_hash(d);
    SG_CHECK(sg_train_config_set_arg(d, "conv.algo_cache=/elsewhere.csv", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(d) == h_auto, "conv.algo_cache is not hashed");
    /* conv.deterministic counts only away from its default (runs before it existed keep their
     * hash); cudnn is a conv.algo of its own */
    SG_CHECK(sg_train_config_set_arg(d, "conv.deterministic=true", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(d) == h_auto, "conv.deterministic=true changes the hash");
    SG_CHECK(sg_train_config_set_arg(d, "conv.deterministic=false", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(d) != h_auto, "conv.deterministic=false is its own setting");
    SG_CHECK(sg_train_config_set_arg(d, "conv.deterministic=true", &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(d, "conv.algo=cudnn", &err) == 0, "%s", err.msg);
    const uint64_t h_cudnn = sg_train_config_hash(d);
    CHECK(h_cudnn != h_auto, "conv.algo=cudnn is its own setting");
    SG_CHECK(sg_train_config_set_arg(d, "conv.algo=default", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(d) != h_auto && sg_train_config_hash(d) != h_cudnn,
          "conv.algo=auto is its own setting");

    sg_config_free(a), sg_config_free(b), sg_config_free(c), sg_config_free(d);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
