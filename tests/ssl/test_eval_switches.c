/* The evaluation switches on an untrained network (trainer.epochs=0, the baselines of the quick
 * suite): eval.features=pixels probes the evaluation views themselves (a different, and on these
 * learnable synthetic classes far better, number than the random trunk's), eval.bn_stats=data
 * re-estimates BN's statistics before evaluating (a different number again), the held-out probe
 * reports its chosen epoch, and a run that took no step records no loss nor speed (nan, never
 * 0). */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "test_util.h"

static char root[512];

static int run(const char *name, const char *extra, sg_train_summary *s, sg_err *err) {
    sg_config *c = sg_train_config_new();
    char runs[700], results[700], nm[64];
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results.csv", root);
    snprintf(nm, sizeof nm, "run.name=%s", name);
    const char *args[] = {"data.dataset=synthetic", "data.synthetic_n=400", "data.synthetic_size=16",
                          "data.synthetic_classes=4", "model.width=0.0625", "trainer.batch=16",
                          "trainer.epochs=0", "trainer.threads=2", "data.workers=0",
                          "eval.probe_epochs=12", "eval.knn_k=5", runs, results, nm};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], err) == 0, "%s", err->msg);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", extra);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        SG_CHECK(sg_train_config_set_arg(c, t, err) == 0, "%s", err->msg);
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    int rc = sg_train_run(c, &o, s, err);
    sg_config_free(c);
    return rc;
}

int main(void) {
    snprintf(root, sizeof root, "%s/eval_switches_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary trunk, pixels, bn, held;
    CHECK(run("trunk", "", &trunk, &err) == 0, "trunk: %s", err.msg);
    CHECK(run("pixels", "eval.features=pixels", &pixels, &err) == 0, "pixels: %s", err.msg);
    CHECK(run("bn", "eval.bn_stats=data", &bn, &err) == 0, "bn: %s", err.msg);
    CHECK(run("held", "eval.probe_holdout=0.2 eval.probe_patience=2", &held, &err) == 0,
          "held: %s", err.msg);
    printf("probe: trunk %.2f, pixels %.2f, bn from data %.2f, held-out choice %.2f (epoch %d of "
           "%d)\n", trunk.ev.probe, pixels.ev.probe, bn.ev.probe, held.ev.probe,
           held.ev.probe_epoch + 1, held.ev.probe_epochs_run);
    CHECK(pixels.ev.probe != trunk.ev.probe && pixels.ev.knn != trunk.ev.knn,
          "the pixels are probed, not the trunk");
    CHECK(bn.ev.probe != trunk.ev.probe || bn.ev.knn != trunk.ev.knn,
          "re-estimated BN statistics change what the untrained trunk gives");
    CHECK(trunk.ev.probe == trunk.ev.probe_final && trunk.ev.probe_epochs_run == 12,
          "without a holdout: every epoch, the last one reported");
    CHECK(held.ev.probe_epoch < held.ev.probe_epochs_run && held.ev.probe_epochs_run <= 12 &&
              held.ev.probe <= held.ev.probe_best + 1e-9,
          "the held-out choice: epoch %d of %d", held.ev.probe_epoch, held.ev.probe_epochs_run);
    CHECK(isnan(trunk.final_loss) && isnan(trunk.img_per_s),
          "no step, no loss nor speed: %g, %g", trunk.final_loss, trunk.img_per_s);
    char results[700];
    snprintf(results, sizeof results, "%s/results.csv", root);
    sg_csv_table t;
    CHECK(sg_csv_read(results, &t, &err) == 0 && t.nrows == 4, "four rows: %s", err.msg);
    int cl = sg_csv_col(&t, "final_loss"), cp = sg_csv_col(&t, "probe"),
        c5 = sg_csv_col(&t, "probe_top5"), cset = sg_csv_col(&t, "setting");
    CHECK(cl >= 0 && !strcmp(sg_csv_cell(&t, 0, cl), "nan"), "final_loss recorded as nan");
    CHECK(cp >= 0 && c5 >= 0 && atof(sg_csv_cell(&t, 1, c5)) >= atof(sg_csv_cell(&t, 1, cp)),
          "top-5 >= top-1 in the row");
    CHECK(cset >= 0 && strstr(sg_csv_cell(&t, 1, cset), "eval.features=pixels"),
          "the baseline's row says what it is: %s", cset >= 0 ? sg_csv_cell(&t, 1, cset) : "?");
    sg_csv_table_free(&t);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
