/* Deferred losses (trainer.loss_readback = L > 1): the steps read nothing back, and the losses
 * read L steps at a time are the immediate path's bit for bit, as are the weights, on the CPU
 * and on the staged backend (device memory protocol); with gradient accumulation too. A step
 * fed NaN views is reported at the same step as the immediate path reports it. Then a training
 * run with trainer.loss_readback=5 (checkpoints every 3 steps) writes the same steps.csv,
 * epochs.csv and results as one reading every step, and so does one whose views are made
 * through the backend's augmentation ops (data.augment_on=backend; refused with accumulation). */
#define _DEFAULT_SOURCE /* getpid, mkdir with -std=c11 */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "csv_text.h"
#include "test_backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

#define STEPS 11
#define NAN_STEP 7 /* 0-based: the step whose views are NaN */

/* The predictor of run's model: the MLP, or DirectPred (whose eigensolver's status a deferred
 * step leaves on the backend, read with the losses). */
static sg_pred_kind run_pred = SG_PRED_MLP;

/* STEPS steps of the tiny model on be with loss_readback L (1: immediate) and accumulate K;
 * losses into loss[] (NaN views at step nan_step when >= 0: the run stops after that step's
 * loss is known, as a training run would), the weights after into *w. Returns the steps run. */
static int run(const sg_backend *be, int L, int K, int nan_step, double *loss, float **w,
               size_t *nw) {
    sg_ssl m;
    sg_err err;
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 8);
    s.loss_readback = L;
    s.accumulate = K;
    s.pred = run_pred;
    SG_CHECK(sg_ssl_build(&m, &s, be, &err) == 0, "build on %s: %s", be->name, err.msg);
    CHECK(m.deferred == (L > 1), "%s, L %d: deferred %d", be->name, L, m.deferred);
    size_t nx = (size_t)m.B * 3 * 16 * 16;
    float *x = tu_alloc(nx * sizeof(float));
    int n = 0, logged = 0, stop = 0;
    for (int k = 0; k < STEPS && !stop; k++) {
        double l = 0;
        for (int j = 0; j < K; j++) {
            for (int v = 0; v < 2; v++) {
                tu_fill(x, nx, 31, (uint32_t)(2 * (k * K + j) + v), 0, 1);
                if (k == nan_step) x[5] = NAN;
                sg_ssl_put(&m, m.x[v], x, nx);
            }
            l = sg_ssl_step(&m);
        }
        if (!m.deferred) {
            loss[n++] = isfinite(l) ? m.last_loss : l;
            stop = !isfinite(l);
        } else if (sg_ssl_log_full(&m) || k == STEPS - 1 || k == nan_step) {
            /* a run reads at least when the log is full; here also where the NaN was fed, so
             * the test knows where to stop (a run would stop at its next read) */
            int got = sg_ssl_losses(&m, loss + logged, STEPS - logged);
            for (int i = logged; i < logged + got; i++) stop |= !isfinite(loss[i]);
            logged += got;
            n = logged;
        }
    }
    CHECK(sg_ssl_losses(&m, loss + n, STEPS - n) == 0, "nothing left in the log");
    *nw = m.online.total;
    *w = tu_alloc(*nw * sizeof(float));
    sg_ssl_get(&m, *w, m.online.w, *nw);
    free(x);
    sg_ssl_free(&m);
    return n;
}

static void model_level(const sg_backend *be) {
    for (int K = 1; K <= 2; K++) {
        double li[STEPS], ld[STEPS];
        float *wi, *wd;
        size_t ni, nd;
        const int a = run(be, 1, K, -1, li, &wi, &ni), b = run(be, 4, K, -1, ld, &wd, &nd);
        CHECK(a == STEPS && b == STEPS, "%s K %d: %d and %d steps", be->name, K, a, b);
        CHECK(!memcmp(li, ld, sizeof li), "%s K %d: deferred losses equal the immediate ones",
              be->name, K);
        CHECK(ni == nd && !memcmp(wi, wd, ni * sizeof(float)),
              "%s K %d: the same weights after %d steps", be->name, K, STEPS);
        free(wi), free(wd);
    }
    /* a NaN: the immediate path reports it at its step and stops; the deferred one finds it in
     * the log at the same step, every loss before it the same. With DirectPred the deferred
     * steps after the NaN decompose a NaN F: its status is read with the losses, and a failure
     * behind a non-finite loss is that loss's, not an abort. */
    for (int k = 0; k < 2; k++) {
        run_pred = k ? SG_PRED_DIRECTPRED : SG_PRED_MLP;
        double li[STEPS], ld[STEPS];
        float *wi, *wd;
        size_t ni, nd;
        const int a = run(be, 1, 1, NAN_STEP, li, &wi, &ni),
                  b = run(be, 4, 1, NAN_STEP, ld, &wd, &nd);
        int first_i = -1, first_d = -1;
        for (int i = 0; i < a && first_i < 0; i++)
            if (!isfinite(li[i])) first_i = i;
        for (int i = 0; i < b && first_d < 0; i++)
            if (!isfinite(ld[i])) first_d = i;
        CHECK(first_i == NAN_STEP && first_d == NAN_STEP,
              "%s, %s: the non-finite loss is found at step %d (immediate %d, deferred %d)",
              be->name, k ? "DirectPred" : "MLP", NAN_STEP, first_i, first_d);
        CHECK(!memcmp(li, ld, NAN_STEP * sizeof(double)), "%s, %s: the losses before it agree",
              be->name, k ? "DirectPred" : "MLP");
        free(wi), free(wd);
    }
    run_pred = SG_PRED_MLP;
}

static char root[512];

static sg_config *make_config(const char *name, int readback, const char *augment_on) {
    sg_config *c = sg_train_config_new();
    char runs[600], results[600], kv[128], rb[64];
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results-%s.csv", root, name);
    snprintf(kv, sizeof kv, "run.name=%s", name);
    snprintf(rb, sizeof rb, "trainer.loss_readback=%d", readback);
    char ao[64];
    snprintf(ao, sizeof ao, "data.augment_on=%s", augment_on);
    const char *args[] = {"data.dataset=synthetic", "data.synthetic_n=64", "data.synthetic_size=16",
                          "data.synthetic_classes=4", "model.width=0.0625", "model.proj_hidden=16",
                          "model.proj_out=8", "model.pred_hidden=16", "trainer.batch=8",
                          "trainer.epochs=2", "trainer.threads=1", "eval.probe_epochs=2",
                          "eval.knn_k=5", "trainer.checkpoint_every=3", "data.workers=0",
                          "predictor.kind=directpred", runs, results, kv, rb, ao};
    sg_err err;
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    return c;
}


static void train_level(void) {
    snprintf(root, sizeof root, "%s/loss_readback_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary s1, s5;
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    sg_config *a = make_config("every", 1, "workers"), *b = make_config("five", 5, "workers");
    /* the views made through the backend's augmentation ops (data.augment_on=backend), which
     * on the CPU's kernels are the workers' bit for bit */
    sg_config *c = make_config("augbe", 5, "backend");
    sg_train_summary sb;
    CHECK(sg_train_run(a, &o, &s1, &err) == 0 && s1.finished, "readback 1: %s", err.msg);
    CHECK(sg_train_run(b, &o, &s5, &err) == 0 && s5.finished, "readback 5: %s", err.msg);
    CHECK(sg_train_run(c, &o, &sb, &err) == 0 && sb.finished && sb.final_loss == s1.final_loss,
          "augmentation on the backend: %s (final loss %.9g)", err.msg, sb.final_loss);
    CHECK(s1.steps == 16 && s5.steps == 16 && s1.final_loss == s5.final_loss,
          "16 steps each, the same final loss (%.9g, %.9g)", s1.final_loss, s5.final_loss);
    const char *files[] = {"steps.csv", "epochs.csv"}, *others[] = {"five", "augbe"};
    for (int f = 0; f < 2; f++)
        for (int o2 = 0; o2 < 2; o2++) {
            char pa[800], pb[800];
            snprintf(pa, sizeof pa, "%s/runs/every/%s", root, files[f]);
            snprintf(pb, sizeof pb, "%s/runs/%s/%s", root, others[o2], files[f]);
            char *ta = tu_csv_text(pa, NULL, NULL), *tb = tu_csv_text(pb, NULL, NULL);
            CHECK(ta && tb && strlen(ta) > 20 && !strcmp(ta, tb), "%s of %s: the same rows",
                  files[f], others[o2]);
            free(ta), free(tb);
        }
    sg_config *d = make_config("augacc", 1, "backend");
    SG_CHECK(sg_train_config_set_arg(d, "trainer.accumulate=2", &err) == 0, "%s", err.msg);
    sg_train_summary sd;
    CHECK(sg_train_run(d, &o, &sd, &err) != 0 && strstr(err.msg, "data.augment_on=backend"),
          "augmentation on the backend with accumulation is refused by name: %s", err.msg);
    sg_config_free(a), sg_config_free(b), sg_config_free(c), sg_config_free(d);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(int argc, char **argv) {
    sg_cpu_set_threads(2);
    /* argv[1] (tests/test_backend.h): the backend besides the CPU (default staged) */
    const sg_backend *be = argc > 1 ? tb_backend(argc, argv) : tb_staged();
    model_level(sg_backend_get("cpu"));
    if (strcmp(be->name, "cpu")) model_level(be);
    train_level();
    return test_finish();
}
