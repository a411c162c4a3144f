/* tests/ssl/test_eval_large_image.c: a valid 34000 x 34000 photo in an ImageNet validation
 * folder is evaluated like any other. It decodes at 1/8 scale to 4250 x 4250, more than the
 * fixed 4096 x 4096 buffer the evaluation used to have (the training loader grew its own), so
 * the run failed at its linear probe; the probe and kNN now fetch through the same growing
 * buffer as the loader. */
#define _DEFAULT_SOURCE /* getpid, mkdir with -std=c11 */
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "data/files.h"
#include "data/jpeg_craft.h"
#include "test_util.h"

static char root[1024];

/* root/<split>/<cls>/<name>.JPEG: 32 x 32 random RGB. */
static void small_jpeg(const char *split, const char *cls, const char *name, uint32_t tag) {
    char p[1400];
    uint8_t px[3 * 32 * 32];
    sg_rng r;
    sg_rng_init(&r, 7, tag, 0, 0);
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)sg_rng_u32(&r);
    snprintf(p, sizeof p, "%s/%s/%s/%s.JPEG", root, split, cls, name);
    sg_err err;
    SG_CHECK(sg_write_jpeg(p, 3, 32, 32, px, 90, &err) == 0, "%s", err.msg);
}

int main(void) {
    snprintf(root, sizeof root, "%s/eval_large_%d", tu_tmpdir(), (int)getpid());
    rm_rf(root);
    const char *classes[] = {"n01", "n02"};
    uint32_t tag = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 2; i++) {
            char name[16];
            snprintf(name, sizeof name, "t%d", i);
            small_jpeg("train", classes[c], name, tag++);
        }
    small_jpeg("val", "n01", "small", tag++);
    small_jpeg("val", "n02", "small", tag++);
    char big[1400];
    snprintf(big, sizeof big, "%s/val/n01/big.JPEG", root);
    SG_CHECK(jc_flat_grey(big, 34000, 34000) == 0, "a 34000 x 34000 JPEG at %s", big);

    char kv_dir[1200], kv_runs[1200], kv_results[1200];
    snprintf(kv_dir, sizeof kv_dir, "data.dir=%s", root);
    snprintf(kv_runs, sizeof kv_runs, "run.dir=%s/runs", root);
    snprintf(kv_results, sizeof kv_results, "run.results=%s/results.csv", root);
    const char *args[] = {"data.dataset=imagenet",
                          kv_dir,
                          "data.image_size=32",
                          "data.workers=0",
                          "model.width=0.0625",
                          "model.proj_hidden=8",
                          "model.proj_out=4",
                          "model.pred_hidden=8",
                          "trainer.batch=2",
                          "trainer.epochs=1",
                          "trainer.threads=1",
                          "eval.probe_epochs=1",
                          "eval.knn_k=1",
                          "run.name=large",
                          kv_runs,
                          kv_results};
    sg_config *c = sg_train_config_new();
    sg_err err = {{0}};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    sg_train_summary s;
    int rc = sg_train_run(c, &o, &s, &err);
    CHECK(rc == 0, "the run with a 34000 x 34000 validation image: %s", err.msg);
    CHECK(rc == 0 && s.finished && !isnan(s.ev.probe_final) && !isnan(s.ev.knn),
          "evaluated: probe %g, kNN %g", s.ev.probe_final, s.ev.knn);
    sg_config_free(c);
    rm_rf(root);
    return test_finish();
}
