/* trainer.accumulate in a whole training run (tests/ssl/test_train_resume.c's tiny synthetic
 * problem, with DirectPred): K = 2 trains one optimiser step per batch (steps.csv: one row per
 * step, 16 steps), a run killed after 5 steps and resumed reproduces the uninterrupted one bit
 * for bit (steps.csv and epochs.csv without the wall-clock columns, the final checkpoint byte
 * for byte), a batch that does not split into K micro-batches of at least 2 is refused naming
 * both keys, and the setting hash counts the new keys only away from their defaults. Also the
 * cross-key checks of the other two switches of that issue: predictor.eigmap=shift_rel (like
 * shift) only with DirectPred, predictor.fixed_lr only with a trained predictor. */
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "csv_text.h"
#include "test_util.h"

static char root[512];

static sg_config *make_config(const char *name, const char *const *extra, int nextra) {
    sg_config *c = sg_train_config_new();
    char runs[600], results[600], kv[128];
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results.csv", root);
    snprintf(kv, sizeof kv, "run.name=%s", name);
    const char *args[] = {"data.dataset=synthetic",
                          "data.synthetic_n=64",
                          "data.synthetic_size=16",
                          "data.synthetic_classes=4",
                          "model.width=0.0625",
                          "model.proj_hidden=16",
                          "model.proj_out=8",
                          "model.pred_hidden=16",
                          "trainer.batch=8",
                          "trainer.epochs=2",
                          "trainer.threads=2",
                          "eval.probe_epochs=3",
                          "eval.knn_k=5",
                          "trainer.checkpoint_every=3",
                          "predictor.kind=directpred",
                          "data.workers=2",
                          "trainer.accumulate=2",
                          runs,
                          results,
                          kv};
    sg_err err;
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    for (int i = 0; i < nextra; i++)
        SG_CHECK(sg_train_config_set_arg(c, extra[i], &err) == 0, "%s", err.msg);
    return c;
}

/* The CSV of a run without its wall-clock columns, as one string; *rows its row count. */
static char *csv_without_time(const char *run, const char *file, size_t *rows) {
    char path[1024];
    snprintf(path, sizeof path, "%s/runs/%s/%s", root, run, file);
    return tu_csv_text(path, rows, NULL);
}

static unsigned char *ckpt_bytes(const char *run, size_t *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/runs/%s/checkpoint.bin", root, run);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *n = (size_t)len;
    unsigned char *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static int run_train(sg_config *c, int resume, long stop_after, sg_train_summary *s, sg_err *err) {
    sg_train_opts o = {resume, SG_TRAIN_PROGRESS_NONE, stop_after};
    return sg_train_run(c, &o, s, err);
}

static uint64_t hash_with(const char *const *extra, int n) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    for (int i = 0; i < n; i++)
        SG_CHECK(sg_train_config_set_arg(c, extra[i], &err) == 0, "%s", err.msg);
    uint64_t h = sg_train_config_hash(c);
    sg_config_free(c);
    return h;
}

int main(void) {
    snprintf(root, sizeof root, "%s/train_accumulate_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary s;

    /* the setting hash: the keys at their defaults leave it as it was */
    const char *none[] = {"trainer.seed=1"};
    const char *k1[] = {"trainer.accumulate=1", "predictor.fixed_lr=false"};
    const char *k2[] = {"trainer.accumulate=2"};
    const char *fixed[] = {"predictor.fixed_lr=true"};
    const uint64_t h0 = hash_with(none, 1);
    CHECK(hash_with(k1, 2) == h0,
          "trainer.accumulate=1 and predictor.fixed_lr=false keep the hash");
    CHECK(hash_with(k2, 1) != h0 && hash_with(fixed, 1) != h0 &&
              hash_with(k2, 1) != hash_with(fixed, 1),
          "trainer.accumulate=2 and predictor.fixed_lr=true are settings of their own");

    /* uninterrupted, killed after 5 steps and resumed */
    sg_config *a = make_config("a", NULL, 0);
    CHECK(run_train(a, 0, 0, &s, &err) == 0, "uninterrupted K = 2 run: %s", err.msg);
    CHECK(s.finished && s.steps == 16 && isfinite(s.final_loss),
          "16 optimiser steps of 8 images (2 micro-batches of 4): %ld, loss %g", s.steps,
          s.final_loss);
    sg_config *b = make_config("b", NULL, 0);
    CHECK(run_train(b, 0, 5, &s, &err) == 0 && !s.finished && s.steps == 5,
          "killed after 5 steps (%ld): %s", s.steps, err.msg);
    CHECK(run_train(b, 1, 0, &s, &err) == 0 && s.finished && s.steps == 16,
          "resumed to 16 steps (%ld): %s", s.steps, err.msg);
    const char *files[] = {"steps.csv", "epochs.csv"};
    const size_t want_rows[] = {16, 2};
    for (int f = 0; f < 2; f++) {
        size_t ra = 0, rb = 0;
        char *ta = csv_without_time("a", files[f], &ra), *tb = csv_without_time("b", files[f], &rb);
        CHECK(ta && tb && ra == want_rows[f] && rb == want_rows[f],
              "%s: %zu and %zu rows, one per %s", files[f], ra, rb, f ? "epoch" : "optimiser step");
        CHECK(ta && tb && !strcmp(ta, tb), "%s: the resumed K = 2 run equals the uninterrupted one",
              files[f]);
        free(ta), free(tb);
    }
    size_t na = 0, nb = 0;
    unsigned char *ca = ckpt_bytes("a", &na), *cb = ckpt_bytes("b", &nb);
    CHECK(ca && cb && na == nb && na > 1000 && !memcmp(ca, cb, na),
          "final checkpoints identical (%zu vs %zu bytes)", na, nb);
    free(ca), free(cb);

    /* K = 1 is another setting (its own BN batches): the same steps, other numbers */
    const char *one[] = {"trainer.accumulate=1"};
    sg_config *c1 = make_config("k1", one, 1);
    CHECK(run_train(c1, 0, 0, &s, &err) == 0 && s.steps == 16, "K = 1 run: %s", err.msg);
    size_t r1 = 0, r2 = 0;
    char *t1 = csv_without_time("k1", "steps.csv", &r1),
         *t2 = csv_without_time("a", "steps.csv", &r2);
    CHECK(t1 && t2 && r1 == r2 && strcmp(t1, t2) != 0,
          "K = 1 and K = 2 take the same 16 steps with their own batch norm");
    free(t1), free(t2);

    /* batches that do not split: both keys named, before any training */
    const char *bad3[] = {"trainer.accumulate=3"};
    sg_config *d = make_config("bad3", bad3, 1);
    int rc = run_train(d, 0, 0, &s, &err);
    CHECK(rc != 0 && strstr(err.msg, "trainer.batch=8") && strstr(err.msg, "trainer.accumulate=3"),
          "8 images in 3 micro-batches is refused: %s", rc ? err.msg : "(it ran)");
    const char *bad8[] = {"trainer.accumulate=8"};
    sg_config *e = make_config("bad8", bad8, 1);
    rc = run_train(e, 0, 0, &s, &err);
    CHECK(rc != 0 && strstr(err.msg, "trainer.accumulate=8") && strstr(err.msg, "at least 2"),
          "micro-batches of 1 image are refused (batch norm): %s", rc ? err.msg : "(it ran)");
    sg_ssl_settings set;
    CHECK(sg_train_settings(d, 3, 16, 16, 8, &set, &err) != 0 &&
              strstr(err.msg, "trainer.batch=8") && strstr(err.msg, "trainer.accumulate=3"),
          "sg_train_settings names both keys too: %s", err.msg);
    CHECK(sg_train_settings(a, 3, 16, 16, 8, &set, &err) == 0 && set.batch == 4 &&
              set.accumulate == 2,
          "the model's batch is one micro-batch (%d of %d)", set.batch, set.accumulate);

    /* shift_rel and fixed_lr: the settings they fill, and the combinations refused */
    const char *rel[] = {"predictor.eigmap=shift_rel", "predictor.shift_c=0.2",
                         "predictor.fixed_lr=true"};
    sg_config *g = make_config("rel", rel, 3);
    CHECK(sg_train_settings(g, 3, 16, 16, 8, &set, &err) == 0 &&
              set.eigmap == SG_EIGMAP_SHIFT_REL && set.shift_c == 0.2 && set.pred_fixed_lr == 1,
          "directpred with shift_rel and a fixed predictor lr: %s", err.msg);
    const char *mlp_rel[] = {"predictor.kind=mlp"};
    SG_CHECK(sg_train_config_set_arg(g, mlp_rel[0], &err) == 0, "%s", err.msg);
    CHECK(sg_train_settings(g, 3, 16, 16, 8, &set, &err) != 0 &&
              strstr(err.msg, "predictor.eigmap=shift_rel") && strstr(err.msg, "directpred"),
          "shift_rel without DirectPred is refused: %s", err.msg);
    SG_CHECK(sg_train_config_set_arg(g, "predictor.eigmap=code", &err) == 0, "%s", err.msg);
    CHECK(sg_train_settings(g, 3, 16, 16, 8, &set, &err) == 0 && set.pred_fixed_lr == 1,
          "the MLP predictor with a fixed lr: %s", err.msg);
    SG_CHECK(sg_train_config_set_arg(g, "predictor.kind=identity", &err) == 0, "%s", err.msg);
    CHECK(sg_train_settings(g, 3, 16, 16, 8, &set, &err) != 0 &&
              strstr(err.msg, "predictor.fixed_lr=true") && strstr(err.msg, "identity"),
          "a fixed lr for a predictor without trained weights is refused: %s", err.msg);

    sg_config_free(a), sg_config_free(b), sg_config_free(c1), sg_config_free(d), sg_config_free(e);
    sg_config_free(g);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
