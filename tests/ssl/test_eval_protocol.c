/* eval.protocol end to end (what `stopgrad train ... eval.protocol=byol` runs): on synthetic data
 * the results row and the epochs.csv row name the protocol, its settings and the lr it chose; a
 * rerun of the augmented BYOL evaluation gives the same numbers; the reference protocol's row
 * says "reference"; eval.protocol at its default leaves the setting hash as it was; a protocol
 * setting that cannot run is refused before any training. */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "test_util.h"

static char root[512];

static void configure(sg_config *c, const char *name, const char *extra) {
    char runs[700], results[700], nm[64];
    sg_err err;
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results.csv", root);
    snprintf(nm, sizeof nm, "run.name=%s", name);
    const char *args[] = {"data.dataset=synthetic",
                          "data.synthetic_n=400",
                          "data.synthetic_size=16",
                          "data.synthetic_classes=4",
                          "model.width=0.0625",
                          "trainer.batch=16",
                          "trainer.epochs=0",
                          "trainer.threads=2",
                          "data.workers=0",
                          "eval.probe_epochs=6",
                          "eval.knn_k=5",
                          runs,
                          results,
                          nm};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", extra);
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        SG_CHECK(sg_train_config_set_arg(c, t, &err) == 0, "%s", err.msg);
}

static int run(const char *name, const char *extra, sg_train_summary *s, sg_err *err) {
    sg_config *c = sg_train_config_new();
    configure(c, name, extra);
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    int rc = sg_train_run(c, &o, s, err);
    sg_config_free(c);
    return rc;
}

static uint64_t hash_of(const char *extra) {
    sg_config *c = sg_train_config_new();
    configure(c, "h", extra);
    uint64_t h = sg_train_config_hash(c);
    sg_config_free(c);
    return h;
}

/* The probe_protocol cell of the results row of run `name`, and of its last epochs.csv row. */
static void protocol_cells(const char *name, char *res, char *ep, size_t len) {
    char path[800];
    sg_err err;
    sg_csv_table t;
    res[0] = ep[0] = 0;
    snprintf(path, sizeof path, "%s/results.csv", root);
    CHECK(sg_csv_read(path, &t, &err) == 0, "%s", err.msg);
    int ci = sg_csv_col(&t, "run_id"), cp = sg_csv_col(&t, "probe_protocol");
    for (size_t i = 0; i < t.nrows; i++)
        if (!strcmp(sg_csv_cell(&t, i, ci), name)) snprintf(res, len, "%s", sg_csv_cell(&t, i, cp));
    sg_csv_table_free(&t);
    snprintf(path, sizeof path, "%s/runs/%s/epochs.csv", root, name);
    CHECK(sg_csv_read(path, &t, &err) == 0 && t.nrows >= 1, "%s", err.msg);
    cp = sg_csv_col(&t, "probe_protocol");
    CHECK(cp >= 0, "epochs.csv has a probe_protocol column");
    if (cp >= 0 && t.nrows >= 1) snprintf(ep, len, "%s", sg_csv_cell(&t, t.nrows - 1, cp));
    sg_csv_table_free(&t);
}

/* The knn_protocol cell of the results row of run `name`. */
static void knn_cell(const char *name, char *out, size_t len) {
    char path[800];
    sg_err err;
    sg_csv_table t;
    out[0] = 0;
    snprintf(path, sizeof path, "%s/results.csv", root);
    CHECK(sg_csv_read(path, &t, &err) == 0, "%s", err.msg);
    int ci = sg_csv_col(&t, "run_id"), ck = sg_csv_col(&t, "knn_protocol");
    CHECK(ck >= 0, "results.csv has a knn_protocol column");
    for (size_t i = 0; i < t.nrows && ck >= 0; i++)
        if (!strcmp(sg_csv_cell(&t, i, ci), name)) snprintf(out, len, "%s", sg_csv_cell(&t, i, ck));
    sg_csv_table_free(&t);
}

int main(void) {
    snprintf(root, sizeof root, "%s/eval_protocol_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary ref, byol, byol2, sim;
    CHECK(run("ref", "", &ref, &err) == 0, "reference: %s", err.msg);
    CHECK(run("byol", "eval.protocol=byol trainer.epochs=1", &byol, &err) == 0, "byol: %s",
          err.msg);
    CHECK(run("byol2", "eval.protocol=byol trainer.epochs=1", &byol2, &err) == 0, "byol2: %s",
          err.msg);
    CHECK(run("simsiam", "eval.protocol=simsiam", &sim, &err) == 0, "simsiam: %s", err.msg);
    printf("probe: reference %.2f, byol %.2f (epoch %d of %d; rerun %.2f), simsiam %.2f\n",
           ref.ev.probe, byol.ev.probe, byol.ev.probe_epoch + 1, byol.ev.probe_epochs_run,
           byol2.ev.probe, sim.ev.probe);

    char res[512], ep[512];
    protocol_cells("byol", res, ep, sizeof res);
    printf("byol row: %s\n", res);
    CHECK(!strncmp(res, "byol: sgd nesterov", 18) && strstr(res, "epochs<=6") &&
              strstr(res, "lr=") && strstr(res, "chosen of 0.4,0.3,0.2,0.1,0.05") &&
              strstr(res, "train=rrc+flip/epoch") && strstr(res, "select=holdout(0.1)"),
          "the results row names BYOL's protocol, its settings and its choice: %s", res);
    CHECK(!strcmp(res, ep), "epochs.csv's last row says the same: %s", ep);
    CHECK(!strcmp(res, byol.ev.probe_protocol), "and so does the summary");
    CHECK(byol.ev.probe_epochs_run <= 6 && byol.ev.probe_epoch < byol.ev.probe_epochs_run,
          "eval.probe_epochs=6 replaces BYOL's 80");
    CHECK(byol.ev.probe == byol2.ev.probe && byol.ev.probe_final == byol2.ev.probe_final &&
              byol.ev.probe_epoch == byol2.ev.probe_epoch && !strcmp(res, byol2.ev.probe_protocol),
          "a rerun draws the same augmented views and chooses the same: %.4f vs %.4f",
          byol.ev.probe, byol2.ev.probe);

    protocol_cells("simsiam", res, ep, sizeof res);
    printf("simsiam row: %s\n", res);
    CHECK(!strncmp(res, "simsiam: larc(trust=0.001", 25) && strstr(res, "cosine/epoch") &&
              strstr(res, "select=last-epoch") && !strcmp(res, ep),
          "the simsiam row: %s", res);
    CHECK(sim.ev.probe_epochs_run == 6 && sim.ev.probe == sim.ev.probe_final,
          "simsiam without a holdout: every epoch, the last reported");

    protocol_cells("ref", res, ep, sizeof res);
    printf("reference row: %s\n", res);
    CHECK(!strncmp(res, "reference: adam lr=0.0003", 25) && strstr(res, "epochs<=6") &&
              !strcmp(res, ep),
          "the reference row: %s", res);
    /* the labelled images: data.synthetic_n=400 training images (the reference probe holds
     * none out, BYOL's a tenth) and a quarter as many test images */
    int fit = -1, held = -1, test = -1;
    const char *im = strstr(res, " images=");
    CHECK(im && sscanf(im, " images=%d fit/%d held out/%d test", &fit, &held, &test) == 3 &&
              fit == 400 && held == 0 && test == 100,
          "the reference row counts its images (400 fit, 0 held out, 100 test): %s", res);
    protocol_cells("byol", res, ep, sizeof res);
    im = strstr(res, " images=");
    CHECK(im && sscanf(im, " images=%d fit/%d held out/%d test", &fit, &held, &test) == 3 &&
              fit == 360 && held == 40 && test == 100,
          "the byol row counts its images (360 fit, 40 held out, 100 test): %s", res);
    knn_cell("ref", res, sizeof res);
    CHECK(!strcmp(res, "knn k=5 T=0.1 images=400 train/100 test"),
          "the kNN protocol names its settings and images: %s", res);

    /* the setting hash: eval.protocol at its default counts for nothing */
    CHECK(hash_of("") == hash_of("eval.protocol=reference"), "reference keeps the hash");
    CHECK(hash_of("") != hash_of("eval.protocol=byol") &&
              hash_of("eval.protocol=byol") != hash_of("eval.protocol=simsiam"),
          "the other protocols have their own");

    /* refused before training: a base lr of 0 */
    sg_train_summary bad;
    CHECK(run("bad", "eval.protocol=simsiam eval.probe_lr=0 trainer.epochs=5", &bad, &err) != 0 &&
              strstr(err.msg, "eval.protocol=simsiam") && strstr(err.msg, "base lr"),
          "a base lr of 0 refused: %s", err.msg);
    char path[800];
    snprintf(path, sizeof path, "%s/runs/bad/steps.csv", root);
    CHECK(access(path, F_OK) != 0, "before any step");

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
