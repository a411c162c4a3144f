/* gemm.impl and trainer.precision end to end on a tiny synthetic problem: a run on oneDNN's sgemm records it in its
 * results row (gemm_impl), two such runs are bit-identical (same seed, config and threads), its
 * losses stay close to the OpenBLAS run's (the same computation summed in another order) while
 * not being the same numbers; gemm.impl=dnnl is a setting of its own (hashed only away from its
 * default, so earlier runs keep their names), and the CUDA backend refuses it by name. Without
 * oneDNN in the build the key is refused with the reason, and the rest is skipped. The
 * precision's settings (which need no device) are checked here too; its runs are CUDA's. */
#define _DEFAULT_SOURCE /* getpid, mkdir with -std=c11 */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "kernels/kernels.h"
#include "test_util.h"

static char root[512];

static sg_config *make_config(const char *name, const char *gemm) {
    sg_config *c = sg_train_config_new();
    char runs[600], results[600], kv[128], gk[64];
    snprintf(runs, sizeof runs, "run.dir=%s/runs", root);
    snprintf(results, sizeof results, "run.results=%s/results.csv", root);
    snprintf(kv, sizeof kv, "run.name=%s", name);
    snprintf(gk, sizeof gk, "gemm.impl=%s", gemm);
    const char *args[] = {"data.dataset=synthetic", "data.synthetic_n=64", "data.synthetic_size=16",
                          "data.synthetic_classes=4", "model.width=0.0625", "model.proj_hidden=16",
                          "model.proj_out=8", "model.pred_hidden=16", "trainer.batch=8",
                          "trainer.epochs=2", "trainer.threads=2", "eval.probe_epochs=3",
                          "eval.knn_k=5", "data.workers=0", "predictor.kind=directpred",
                          "conv.algo=winograd", runs, results, kv, gk};
    sg_err err;
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    return c;
}

/* The loss column of a run's steps.csv, into loss[] (at most n); the count read. */
static int read_losses(const char *run, double *loss, int n) {
    char path[800];
    snprintf(path, sizeof path, "%s/runs/%s/steps.csv", root, run);
    sg_csv_table t;
    sg_err err;
    if (sg_csv_read(path, &t, &err)) return 0;
    int lc = sg_csv_col(&t, "loss"), k = 0;
    for (size_t r = 0; lc >= 0 && r < t.nrows && k < n; r++)
        loss[k++] = strtod(sg_csv_cell(&t, r, lc), NULL);
    sg_csv_table_free(&t);
    return k;
}

int main(void) {
    snprintf(root, sizeof root, "%s/numerics_train_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    sg_err err;
    sg_train_summary s;
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};

    /* the hash: openblas is the default (every earlier run's), dnnl a setting of its own */
    sg_config *h = make_config("h", "openblas");
    const uint64_t h_blas = sg_train_config_hash(h);
    SG_CHECK(sg_train_config_set_arg(h, "gemm.impl=dnnl", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(h) != h_blas, "gemm.impl=dnnl is its own setting");
    SG_CHECK(sg_train_config_set_arg(h, "gemm.impl=openblas", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(h) == h_blas, "gemm.impl=openblas, the default, is not hashed");
    CHECK(sg_train_config_set_arg(h, "gemm.impl=mkl", &err) != 0 && strstr(err.msg, "gemm.impl"),
          "an unknown sgemm is refused naming the key: %s", err.msg);
    sg_config_free(h);

    /* the CUDA backend runs cuBLAS: gemm.impl=dnnl there is refused by name */
    sg_config *cu = make_config("cu", "dnnl");
    SG_CHECK(sg_train_config_set_arg(cu, "trainer.backend=cuda", &err) == 0, "%s", err.msg);
    sg_ssl_settings set;
    CHECK(sg_train_settings(cu, 3, 16, 16, 8, &set, &err) != 0 &&
              strstr(err.msg, "gemm.impl=dnnl") && strstr(err.msg, "trainer.backend=cuda"),
          "gemm.impl=dnnl on CUDA: %s", err.msg);
    sg_config_free(cu);

    /* trainer.precision: tf32 and bf16 are the CUDA backend's; bf16 convolutions are cuBLAS's
     * (cuDNN's would need bf16 tensors); hashed only away from fp32 */
    sg_config *pr = make_config("pr", "openblas");
    const uint64_t h_fp32 = sg_train_config_hash(pr);
    SG_CHECK(sg_train_config_set_arg(pr, "trainer.precision=tf32", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(pr) != h_fp32, "trainer.precision=tf32 is its own setting");
    CHECK(sg_train_settings(pr, 3, 16, 16, 8, &set, &err) != 0 &&
              strstr(err.msg, "trainer.precision=tf32") && strstr(err.msg, "trainer.backend=cpu"),
          "tf32 on the CPU backend is refused by name: %s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "trainer.backend=cuda", &err) == 0, "%s", err.msg);
    CHECK(sg_train_settings(pr, 3, 16, 16, 8, &set, &err) == 0 && set.precision == SG_PREC_TF32,
          "tf32 on CUDA: %s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "trainer.precision=bf16", &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "conv.algo=cudnn", &err) == 0, "%s", err.msg);
    CHECK(sg_train_settings(pr, 3, 16, 16, 8, &set, &err) != 0 && strstr(err.msg, "bf16") &&
              strstr(err.msg, "conv.algo=cudnn"),
          "bf16 with cuDNN convolutions is refused by name: %s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "conv.algo=im2col", &err) == 0, "%s", err.msg);
    CHECK(sg_train_settings(pr, 3, 16, 16, 8, &set, &err) == 0 && set.precision == SG_PREC_BF16,
          "bf16 with im2col on CUDA: %s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "trainer.precision=fp32", &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "trainer.backend=cpu", &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(pr, "conv.algo=winograd", &err) == 0, "%s", err.msg);
    CHECK(sg_train_config_hash(pr) == h_fp32, "trainer.precision=fp32, the default, is not hashed");
    sg_config_free(pr);

    const char *why = NULL;
    if (!sg_cpu_gemm_impl_available(SG_GEMM_DNNL, &why)) {
        sg_config *n = make_config("n", "dnnl");
        CHECK(sg_train_run(n, &o, &s, &err) != 0 && strstr(err.msg, "gemm.impl=dnnl") &&
                  strstr(err.msg, why),
              "gemm.impl=dnnl without oneDNN names the key and the reason: %s", err.msg);
        sg_config_free(n);
        int failed = test_finish();
        if (failed) return failed;
        TEST_SKIP("oneDNN: %s", why);
    }

    sg_config *a = make_config("a", "dnnl"), *b = make_config("b", "dnnl");
    sg_config *c = make_config("c", "openblas");
    CHECK(sg_train_run(a, &o, &s, &err) == 0 && s.finished, "dnnl run a: %s", err.msg);
    CHECK(sg_cpu_get_gemm_impl() == SG_GEMM_DNNL, "the run set the process's sgemm");
    CHECK(sg_train_run(b, &o, &s, &err) == 0 && s.finished, "dnnl run b: %s", err.msg);
    CHECK(sg_train_run(c, &o, &s, &err) == 0 && s.finished, "openblas run c: %s", err.msg);
    CHECK(sg_cpu_get_gemm_impl() == SG_GEMM_OPENBLAS, "each run sets its own sgemm");

    enum { MAXS = 64 };
    double la[MAXS], lb[MAXS], lc[MAXS];
    const int na = read_losses("a", la, MAXS), nb = read_losses("b", lb, MAXS),
              nc = read_losses("c", lc, MAXS);
    CHECK(na == 16 && nb == na && nc == na, "16 steps each (%d %d %d)", na, nb, nc);
    int same_ab = na == nb, same_ac = na == nc;
    double worst = 0;
    for (int i = 0; i < na && i < nb && i < nc; i++) {
        same_ab &= la[i] == lb[i];
        same_ac &= la[i] == lc[i];
        worst = fmax(worst, fabs(la[i] - lc[i]) / fmax(fabs(lc[i]), 1e-3));
    }
    CHECK(same_ab, "two gemm.impl=dnnl runs give the same losses bit for bit");
    CHECK(!same_ac, "gemm.impl=dnnl computes with another sgemm (its losses are not OpenBLAS's)");
    /* 16 steps of a tiny network: rounding differences grow through the steps but stay far
     * below the loss itself (a wrong product would move it by O(1)) */
    CHECK(worst < 0.05, "dnnl and openblas losses agree within 5%% (worst %.3g)", worst);

    char results[700];
    snprintf(results, sizeof results, "%s/results.csv", root);
    sg_csv_table t;
    CHECK(sg_csv_read(results, &t, &err) == 0 && t.nrows == 3, "three result rows: %s", err.msg);
    int pc = sg_csv_col(&t, "precision");
    CHECK(pc >= 0 && t.nrows == 3 && !strcmp(sg_csv_cell(&t, 0, pc), "fp32") &&
              !strcmp(sg_csv_cell(&t, 2, pc), "fp32"),
          "precision column: %s", pc >= 0 && t.nrows ? sg_csv_cell(&t, 0, pc) : "missing");
    int gc = sg_csv_col(&t, "gemm_impl");
    CHECK(gc >= 0 && t.nrows == 3 && !strcmp(sg_csv_cell(&t, 0, gc), "dnnl") &&
              !strcmp(sg_csv_cell(&t, 1, gc), "dnnl") &&
              !strcmp(sg_csv_cell(&t, 2, gc), "openblas"),
          "gemm_impl column: %s", gc >= 0 && t.nrows ? sg_csv_cell(&t, 0, gc) : "missing");
    sg_csv_table_free(&t);

    sg_config_free(a), sg_config_free(b), sg_config_free(c);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
