/* The kernel suite end to end on a tiny configuration: a suite file is traced, every kernel is
 * validated and timed through Google Benchmark, and the CSV has the ceilings, every traced
 * kernel with its repetitions, the eigen-update and the step with its breakdown; the JSON is
 * written (and read by Google's compare.py when python3-scipy is installed); a second run onto
 * the same files is refused; suite-file errors name the file and line. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>
#include <unistd.h>

#include "bench/kbench.h"
#include "core/base/csv.h"
#include "core/nn/conv_auto.h"
#include "kernels/backend.h"
#include "test_util.h"

static const char *tmpdir(void) {
    const char *t = getenv("SG_TEST_TMP");
    return t ? t : "/tmp";
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    SG_CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

int main(void) {
    sg_cpu_set_threads(2);
    char dir[1024], suite[1100], csv[1100], json[1100];
    snprintf(dir, sizeof dir, "%s/kbench-%d", tmpdir(), (int)getpid());
    mkdir(dir, 0777);
    snprintf(suite, sizeof suite, "%s/tiny.bench", dir);
    snprintf(csv, sizeof csv, "%s/tiny.csv", dir);
    snprintf(json, sizeof json, "%s/tiny.json", dir);
    write_file(suite, "# a tiny DirectPred model\n"
                      "base = method.name=byol\n"
                      "config dp = data.dataset=synthetic data.synthetic_size=8 model.width=0.0625 "
                      "model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16 trainer.batch=4 "
                      "predictor.kind=directpred\n"
                      "sgemm = 64\ncopy_mib = 16\n");
    sg_kb_suite s;
    sg_err err;
    CHECK(sg_kb_load(&s, suite, "/nonexistent", &err) == 0, "load: %s", err.msg);
    sg_kb_opts o = {.be = sg_backend_get("cpu"), .threads = 2, .repetitions = 2,
                    .min_time = 0.001, .csv_path = csv, .json_path = json, .quiet = 1};
    int rc = sg_kb_run(&s, &o, &err);
    CHECK(rc == 0, "bench ran: %s", rc ? err.msg : "");

    sg_csv_table t;
    if (rc == 0 && sg_csv_read(csv, &t, &err) == 0) {
        int kind = sg_csv_col(&t, "kind"), kern = sg_csv_col(&t, "kernel"),
            med = sg_csv_col(&t, "median_s"), st = sg_csv_col(&t, "status"),
            reps = sg_csv_col(&t, "rep_times_s"), share = sg_csv_col(&t, "share_of_step");
        CHECK(t.ncols == sg_kb_ncols() && kind >= 0 && med >= 0 && reps >= 0, "header");
        int ceilings = 0, kernels = 0, timed = 0, steps = 0, eig = 0, conv = 0, syevd = 0;
        double share_sum = 0;
        for (size_t r = 0; r < t.nrows; r++) {
            const char *k = sg_csv_cell(&t, r, kind), *name = sg_csv_cell(&t, r, kern);
            ceilings += !strcmp(k, "ceiling");
            eig += !strcmp(k, "eigen_update");
            if (!strcmp(k, "step")) {
                steps++;
                CHECK(atof(sg_csv_cell(&t, r, med)) > 0, "the step is timed");
            }
            if (!strcmp(k, "kernel")) {
                kernels++;
                conv += !strcmp(name, "conv2d_bwd_filter");
                syevd += !strcmp(name, "syevd");
                share_sum += atof(sg_csv_cell(&t, r, share));
                int ok = !strcmp(sg_csv_cell(&t, r, st), "ok") && atof(sg_csv_cell(&t, r, med)) > 0;
                timed += ok;
                if (ok) CHECK(strchr(sg_csv_cell(&t, r, reps), ';') != NULL,
                              "%s has its two repetitions", name);
            }
        }
        const int dnnl = sg_cpu_gemm_impl_available(SG_GEMM_DNNL, NULL);
        CHECK(ceilings == 2 + dnnl, "sgemm%s and copy ceilings (%d)",
              dnnl ? ", oneDNN's sgemm" : "", ceilings);
        CHECK(kernels > 20 && timed == kernels, "every traced kernel validated and timed (%d of %d)",
              timed, kernels);
        CHECK(conv > 0 && syevd > 0, "the trace holds the backward conv and DirectPred's syevd");
        CHECK(steps == 1 && eig == 1, "one step row and its eigen-update (%d, %d)", steps, eig);
        CHECK(share_sum > 0.05, "kernels account for a share of the step (%.3f)", share_sum);
        sg_csv_table_free(&t);
    } else {
        CHECK(0, "CSV readable: %s", err.msg);
    }
    struct stat sb;
    CHECK(stat(json, &sb) == 0 && sb.st_size > 100, "Google Benchmark's JSON is written");

    /* Google's compare.py reads it (Debian libbenchmark-tools; it needs python3-scipy) */
    if (access("/usr/share/benchmark/compare.py", R_OK) == 0 &&
        system("/usr/bin/python3 -c 'import scipy' 2>/dev/null") == 0) {
        char cmd[3600];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 /usr/share/benchmark/compare.py benchmarks %s %s > %s/cmp.txt 2>&1",
                 json, json, dir);
        CHECK(system(cmd) == 0, "compare.py reads the JSON (%s/cmp.txt)", dir);
    } else {
        printf("compare.py not checked: it needs libbenchmark-tools and python3-scipy\n");
    }

    /* never overwritten */
    rc = sg_kb_run(&s, &o, &err);
    CHECK(rc == -1 && strstr(err.msg, "already exists") && strstr(err.msg, csv),
          "a second run onto the same file is refused: %s", err.msg);

    /* suite-file errors name the file and line */
    write_file(suite, "base = trainer.batch=4\nconfig bad name = x=1\n");
    CHECK(sg_kb_load(&s, suite, "/x", &err) == -1 && strstr(err.msg, "tiny.bench:2"),
          "bad config name: %s", err.msg);
    write_file(suite, "sgemm = 8\nconfig a = trainer.batch=4\n");
    CHECK(sg_kb_load(&s, suite, "/x", &err) == -1 && strstr(err.msg, ":1: sgemm"),
          "out-of-range sgemm: %s", err.msg);
    write_file(suite, "config a = trainer.bach=4\n");
    CHECK(sg_kb_load(&s, suite, "/x", &err) == 0, "loads (keys are checked when traced)");
    o.csv_path = NULL;
    o.list = 1;
    CHECK(sg_kb_run(&s, &o, &err) == -1 && strstr(err.msg, "trainer.bach") &&
              strstr(err.msg, "config a"),
          "an unknown key names the config and the key: %s", err.msg);

    /* conv.algo=auto: the suite times the step a run with auto takes, each conv shape's
     * algorithm measured once and cached (here in the test's own cache folder), then read back */
    char cache_home[1100], cache[1200], csv2[1100];
    snprintf(cache_home, sizeof cache_home, "%s/cache", dir);
    snprintf(cache, sizeof cache, "%s/stopgrad/conv-algo.csv", cache_home);
    snprintf(csv2, sizeof csv2, "%s/auto.csv", dir);
    setenv("XDG_CACHE_HOME", cache_home, 1);
    write_file(suite, "config au = data.dataset=synthetic data.synthetic_size=8 model.width=0.0625 "
                      "model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16 trainer.batch=4 "
                      "conv.algo=auto\nsgemm = 64\ncopy_mib = 16\n");
    CHECK(sg_kb_load(&s, suite, "/nonexistent", &err) == 0, "load: %s", err.msg);
    long calls0 = sg_conv_auto_timer_calls();
    o.csv_path = csv2;
    o.json_path = NULL;
    rc = sg_kb_run(&s, &o, &err);
    CHECK(rc == 0, "the auto config ran: %s", rc ? err.msg : "");
    long calls1 = sg_conv_auto_timer_calls();
    struct stat cs;
    CHECK(calls1 > calls0 && stat(cache, &cs) == 0 && cs.st_size > 0,
          "auto measured its shapes (%ld timings) and cached them in %s", calls1 - calls0, cache);
    remove(csv2);
    rc = sg_kb_run(&s, &o, &err);
    CHECK(rc == 0 && sg_conv_auto_timer_calls() == calls1,
          "a second run takes the cached choices (%ld more timings): %s",
          sg_conv_auto_timer_calls() - calls1, rc ? err.msg : "");
    return test_finish();
}
