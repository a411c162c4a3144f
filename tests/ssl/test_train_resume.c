/* The training run end to end on a tiny synthetic problem: a run killed after 5 steps and
 * resumed reproduces the uninterrupted run bit for bit (steps.csv and epochs.csv without the
 * wall-clock columns, and every weight in the final checkpoint); the worker count changes
 * nothing; a second run into the same folder or results is refused; a NaN loss stops the run
 * naming the step. */
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "csv_text.h"
#include "test_util.h"

static char root[512];

static sg_config *make_config(const char *name, const char *workers, const char *extra) {
    sg_config *c = sg_train_config_new();
    char runs[600], results[600];
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results.csv", root);
    const char *args[] = {"data.dataset=synthetic", "data.synthetic_n=64", "data.synthetic_size=16",
                          "data.synthetic_classes=4", "model.width=0.0625", "model.proj_hidden=16",
                          "model.proj_out=8", "model.pred_hidden=16", "trainer.batch=8",
                          "trainer.epochs=2", "trainer.threads=2", "eval.probe_epochs=3",
                          "eval.knn_k=5", "trainer.checkpoint_every=3", "predictor.kind=directpred",
                          runs, results};
    sg_err err;
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    char kv[128];
    snprintf(kv, sizeof kv, "run.name=%s", name);
    SG_CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    snprintf(kv, sizeof kv, "data.workers=%s", workers);
    SG_CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    if (extra) SG_CHECK(sg_train_config_set_arg(c, extra, &err) == 0, "%s", err.msg);
    return c;
}

/* The CSV of a run without its wall-clock columns, as one string. */
static char *csv_without_time(const char *run, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/runs/%s/%s", root, run, file);
    return tu_csv_text(path, NULL, NULL);
}

/* The final checkpoint, every byte: its header holds the setting hash, which leaves out run.name,
 * so two runs of the same setting write the same file. */
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

int main(void) {
    snprintf(root, sizeof root, "%s/train_resume_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary s;
    int rc;

    sg_config *a = make_config("a", "2", NULL);
    CHECK(run_train(a, 0, 0, &s, &err) == 0, "uninterrupted run: %s", err.msg);
    CHECK(s.finished && s.steps == 16, "16 steps (%ld)", s.steps);
    CHECK(!isnan(s.ev.probe_final) && !isnan(s.ev.knn), "evaluated: probe %g knn %g", s.ev.probe_final,
          s.ev.knn);

    sg_config *b = make_config("b", "2", NULL);
    CHECK(run_train(b, 0, 5, &s, &err) == 0, "killed run: %s", err.msg);
    CHECK(!s.finished && s.steps == 5, "stopped after 5 steps (%ld)", s.steps);
    CHECK(run_train(b, 0, 0, &s, &err) != 0 && strstr(err.msg, "--resume"),
          "a second start without --resume is refused: %s", err.msg);
    /* a kill during a checkpoint write leaves a partial temporary file: the resume removes it */
    char partial[800];
    snprintf(partial, sizeof partial, "%s/runs/b/checkpoint.bin.tmp.99999", root);
    FILE *pf = fopen(partial, "w");
    CHECK(pf != NULL, "partial checkpoint file made");
    if (pf) fputs("cut short", pf), fclose(pf);
    CHECK(run_train(b, 1, 0, &s, &err) == 0, "resumed run: %s", err.msg);
    CHECK(s.finished && s.steps == 16, "resumed to 16 steps (%ld)", s.steps);
    CHECK(access(partial, F_OK) != 0, "the partial checkpoint file is gone after the resume");

    sg_config *c = make_config("c", "0", NULL);
    CHECK(run_train(c, 0, 0, &s, &err) == 0, "inline-data run: %s", err.msg);

    const char *files[] = {"steps.csv", "epochs.csv"};
    for (int f = 0; f < 2; f++) {
        char *ta = csv_without_time("a", files[f]), *tb = csv_without_time("b", files[f]),
             *tc = csv_without_time("c", files[f]);
        CHECK(ta && tb && tc && strlen(ta) > 100, "%s read", files[f]);
        CHECK(ta && tb && !strcmp(ta, tb), "%s: resumed run identical to the uninterrupted one",
              files[f]);
        CHECK(ta && tc && !strcmp(ta, tc), "%s: no workers identical to 2 workers", files[f]);
        free(ta), free(tb), free(tc);
    }
    size_t na = 0, nb = 0;
    unsigned char *ca = ckpt_bytes("a", &na), *cb = ckpt_bytes("b", &nb);
    CHECK(ca && cb && na == nb && na > 1000 && !memcmp(ca, cb, na),
          "final checkpoints identical, header, weights, momentum, BN statistics and F (%zu vs %zu bytes)", na, nb);
    free(ca), free(cb);

    /* the same run again: folder and results already hold it */
    CHECK(run_train(a, 0, 0, &s, &err) != 0 && strstr(err.msg, "already has a result for run a"),
          "a finished run is not written twice: %s", err.msg);
    char results[700];
    snprintf(results, sizeof results, "%s/results.csv", root);
    sg_csv_table t;
    CHECK(sg_csv_read(results, &t, &err) == 0 && t.nrows == 3,
          "three result rows (%zu): %s", t.nrows, err.msg);
    sg_csv_table_free(&t);

    /* A finished run whose result append failed (a file where the results folder should be)
     * writes no row; resumed with a usable run.results (not part of the setting), it records
     * the numbers it measured, the same as the uninterrupted run's, and never made-up ones. */
    char blocker[700], kv[800];
    snprintf(blocker, sizeof blocker, "%s/blocker", root);
    FILE *bf = fopen(blocker, "w");
    CHECK(bf != NULL, "blocker file made");
    if (bf) fclose(bf);
    sg_config *e = make_config("e", "0", NULL);
    snprintf(kv, sizeof kv, "run.results=%s/results.csv", blocker);
    SG_CHECK(sg_train_config_set_arg(e, kv, &err) == 0, "%s", err.msg);
    rc = run_train(e, 0, 0, &s, &err);
    CHECK(rc != 0 && strstr(err.msg, "blocker"), "the failed append is reported: %s", err.msg);
    snprintf(kv, sizeof kv, "run.results=%s/results.csv", root);
    SG_CHECK(sg_train_config_set_arg(e, kv, &err) == 0, "%s", err.msg);
    rc = run_train(e, 1, 0, &s, &err);
    CHECK(rc == 0 && s.finished && s.steps == 16, "the finished run's row is recovered: %s",
          rc ? err.msg : "");
    CHECK(sg_csv_read(results, &t, &err) == 0 && t.nrows == 4, "four result rows (%zu)", t.nrows);
    if (t.nrows == 4) {
        const char *same[] = {"final_loss", "collapse_std", "eff_rank_F", "probe_final",
                              "probe_best", "probe_best_epoch", "knn_acc", "steps"};
        for (int k = 0; k < 8; k++) {
            int col = sg_csv_col(&t, same[k]);
            CHECK(col >= 0 && !strcmp(sg_csv_cell(&t, 0, col), sg_csv_cell(&t, 3, col)),
                  "recovered %s %s equals the uninterrupted run's %s", same[k],
                  col >= 0 ? sg_csv_cell(&t, 3, col) : "?", col >= 0 ? sg_csv_cell(&t, 0, col) : "?");
        }
        int wall = sg_csv_col(&t, "wall_s");
        CHECK(wall >= 0 && !strcmp(sg_csv_cell(&t, 3, wall), "nan"),
              "the unmeasured wall time is nan, not 0: %s", wall >= 0 ? sg_csv_cell(&t, 3, wall) : "?");
    }
    sg_csv_table_free(&t);

    /* a results file of another schema is refused before any training */
    char foreign[700];
    snprintf(foreign, sizeof foreign, "%s/foreign.csv", root);
    FILE *ff = fopen(foreign, "w");
    if (ff) fputs("run_id,accuracy\nx,1\n", ff), fclose(ff);
    sg_config *g = make_config("g", "0", NULL);
    snprintf(kv, sizeof kv, "run.results=%s", foreign);
    SG_CHECK(sg_train_config_set_arg(g, kv, &err) == 0, "%s", err.msg);
    char gdir[800];
    snprintf(gdir, sizeof gdir, "%s/runs/g/steps.csv", root);
    rc = run_train(g, 0, 0, &s, &err);
    CHECK(rc != 0 && strstr(err.msg, "not a results file") && access(gdir, F_OK) != 0,
          "a foreign results file stops the run before it trains: %s", err.msg);

    /* a results file written before the graph column existed is still this stopgrad's: it
     * grows on, its rows taking graph=false (what they computed: every step eager) */
    char older[700];
    snprintf(older, sizeof older, "%s/older.csv", root);
    {
        const int n = sg_train_results_ncols();
        const char *const *hdr = sg_train_results_header();
        FILE *of = fopen(older, "w");
        SG_CHECK(of != NULL, "cannot write %s", older);
        for (int k = 0, first = 1; k < n; k++)
            if (strcmp(hdr[k], "graph")) fprintf(of, "%s%s", first ? "" : ",", hdr[k]), first = 0;
        fputc('\n', of);
        for (int k = 0; k < n - 1; k++) fprintf(of, "%sold%d", k ? "," : "", k);
        fputc('\n', of);
        fclose(of);
    }
    sg_config *o = make_config("older", "0", NULL);
    snprintf(kv, sizeof kv, "run.results=%s", older);
    SG_CHECK(sg_train_config_set_arg(o, kv, &err) == 0, "%s", err.msg);
    rc = run_train(o, 0, 0, &s, &err);
    CHECK(rc == 0 && s.finished, "an older results file takes the new row: %s", rc ? err.msg : "");
    CHECK(sg_csv_read(older, &t, &err) == 0 && t.nrows == 2, "two rows (%zu)", t.nrows);
    if (t.nrows == 2) {
        const int gc = sg_csv_col(&t, "graph"), rc0 = sg_csv_col(&t, "run_id");
        CHECK(gc >= 0 && !strcmp(sg_csv_cell(&t, 0, gc), "false") &&
                  !strcmp(sg_csv_cell(&t, 1, gc), "false") && rc0 == 0 &&
                  !strcmp(sg_csv_cell(&t, 0, 0), "old0"),
              "the old row keeps its cells and takes graph=false");
    }
    sg_csv_table_free(&t);
    sg_config_free(o);

    /* a diverging run stops with the step named */
    sg_config *d = make_config("nan", "0", "optim.lr=100");
    SG_CHECK(sg_train_config_set_arg(d, "method.normalize=false", &err) == 0, "%s", err.msg);
    rc = run_train(d, 0, 0, &s, &err);
    CHECK(rc != 0 && (strstr(err.msg, "NaN") || strstr(err.msg, "infinite")) && strstr(err.msg, "step"),
          "NaN stops the run: %s", rc ? err.msg : "(it finished)");

    sg_config_free(a), sg_config_free(b), sg_config_free(c), sg_config_free(d);
    sg_config_free(e), sg_config_free(g);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
