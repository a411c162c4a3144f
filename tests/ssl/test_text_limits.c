/* tests/ssl/test_text_limits.c: no limit is silent. Every line, name, setting list, path and
 * CSV cell that the fixed buffers of the suite, bench and config readers, the training run and
 * compare hold either fits exactly or is an error that names the limit. Before, a .suite base
 * longer than 4095 characters was cut (a suite asking for 12 steps and 1 epoch ran with the
 * defaults), a longer line was read as two statements, and two run names longer than 159
 * characters were cut to one. */
#define _DEFAULT_SOURCE /* mkdir, getpid with -std=c11 */
#include <sys/stat.h>
#include <unistd.h>

#include "bench/compare.h"
#include "bench/kbench.h"
#include "core/base/config.h"
#include "core/harness/suite.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "test_util.h"

static char root[512];

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    SG_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

/* n characters of harmless padding: "#x...". */
static char *pad(size_t n, char fill) {
    char *s = malloc(n + 1);
    SG_CHECK(s != NULL, "out of memory");
    memset(s, fill, n);
    s[n] = 0;
    return s;
}

/* A base setting list of exactly n characters: "k=v k=v ... data.limit=0000...0". */
static char *settings(size_t n, const char *tail) {
    const char *head = "data.limit=";
    size_t h = strlen(head), t = strlen(tail);
    SG_CHECK(n > h + t + 2, "settings of %zu characters", n);
    char *s = malloc(n + 1);
    SG_CHECK(s != NULL, "out of memory");
    memcpy(s, head, h);
    memset(s + h, '0', n - h - t - 1);
    s[n - t - 1] = ' ';
    memcpy(s + n - t, tail, t + 1);
    return s;
}

static void test_suite(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/limits.suite", root);
    sg_suite *s = malloc(sizeof *s);
    sg_err err = {{0}};
    char *text = malloc(20000);

    /* base: the finding's suite, 12 steps and 1 epoch after 4,100 characters of settings */
    char *base = settings(4100, "trainer.max_steps=12 trainer.epochs=1");
    snprintf(text, 20000, "base = %s\nrun a = method.name=byol\n", base);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, "limits.suite:1") &&
              has(&err, "4095"),
          "a base of 4100 characters: %s", err.msg);
    free(base);
    /* exactly 4095 characters, over two base lines, fit and are kept whole */
    char *b1 = settings(2000, "trainer.epochs=1"),
         *b2 = settings(4095 - 2001, "trainer.max_steps=12");
    snprintf(text, 20000, "base = %s\nbase = %s\nrun a = method.name=byol\n", b1, b2);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == 0, "4095 characters of base: %s", err.msg);
    CHECK(strlen(s->base) == 4095 && strstr(s->base, "trainer.max_steps=12") &&
              strstr(s->base, "trainer.epochs=1"),
          "the base is whole (%zu characters)", strlen(s->base));
    snprintf(text, 20000, "base = %s\nbase = %s0\nrun a = method.name=byol\n", b1, b2);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":2:") && has(&err, "4095"),
          "4096 characters of base: %s", err.msg);
    free(b1);
    free(b2);

    /* a run's settings: 2047 fit, 2048 do not */
    char *ov = settings(2047, "trainer.epochs=1");
    snprintf(text, 20000, "run a = %s\n", ov);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == 0 && strlen(s->runs[0].overrides) == 2047,
          "2047 characters of run settings: %s", err.msg);
    free(ov);
    ov = settings(2048, "trainer.epochs=1");
    snprintf(text, 20000, "run a = %s\n", ov);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":1:") && has(&err, "2047"),
          "2048 characters of run settings: %s", err.msg);
    free(ov);

    /* run names: two of 70 characters that differ only at the end used to be cut to one */
    char *n1 = pad(70, 'r'), *n2 = pad(70, 'r');
    n2[69] = 's';
    snprintf(text, 20000, "run %s = method.name=byol\nrun %s = method.name=simsiam\n", n1, n2);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":1:") && has(&err, "63"),
          "a run name of 70 characters: %s", err.msg);
    free(n1);
    free(n2);

    /* a line longer than 4095 characters is an error, not two statements */
    char *comment = pad(5000, 'c');
    snprintf(text, 20000, "run a = method.name=byol # %s\n", comment);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, "limits.suite:1") &&
              has(&err, "longer than 4095"),
          "a line of 5000 characters: %s", err.msg);
    free(comment);

    /* expect fields: a RUNS list of 600 characters, a label of 80, text after the target */
    char *runs = pad(600, 'a');
    for (size_t i = 1; i < 600; i += 2) runs[i] = ',';
    snprintf(text, 20000, "run a = method.name=byol\nexpect x: %s probe_best > 10\n", runs);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":2:") && has(&err, "511"),
          "600 characters of RUNS: %s", err.msg);
    free(runs);
    char *label = pad(80, 'l');
    snprintf(text, 20000, "run a = method.name=byol\nexpect %s: a probe_best > 10\n", label);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":2:") && has(&err, "63"),
          "a label of 80 characters: %s", err.msg);
    free(label);
    write_text(path, "run a = method.name=byol\nexpect x: a probe_best > 10 20\n");
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":2:"), "text after the target: %s",
          err.msg);

    /* answers: more reference ids than 511 characters hold */
    char *ids = pad(600, 'i');
    for (size_t i = 10; i < 600; i += 11) ids[i] = ' ';
    snprintf(text, 20000, "run a = method.name=byol\nanswers a = %s\n", ids);
    write_text(path, text);
    CHECK(sg_suite_load(s, path, "/x", &err) == -1 && has(&err, ":2:") && has(&err, "511"),
          "600 characters of answers: %s", err.msg);
    free(ids);

    /* an out folder whose results path does not fit */
    write_text(path, "run a = method.name=byol\n");
    CHECK(sg_suite_load(s, path, "/x", &err) == 0, "%s", err.msg);
    char *out = pad(4300, 'o');
    out[0] = '/';
    sg_suite_opts o = {out, NULL, 1, 1};
    CHECK(sg_suite_run_all(s, &o, &err) == -1 && has(&err, "path too long"),
          "an --out of 4300 characters: %s", err.msg);
    free(out);
    free(text);
    free(s);
}

static void test_bench(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/limits.bench", root);
    sg_kb_suite *s = malloc(sizeof *s);
    sg_err err = {{0}};
    char *text = malloc(20000);
    char *base = settings(2100, "trainer.batch=4");
    snprintf(text, 20000, "base = %s\nconfig a = trainer.epochs=1\n", base);
    write_text(path, text);
    CHECK(sg_kb_load(s, path, "/x", &err) == -1 && has(&err, "limits.bench:1") && has(&err, "2047"),
          "a bench base of 2100 characters: %s", err.msg);
    free(base);
    char *ov = settings(2047, "trainer.batch=4");
    snprintf(text, 20000, "config a = %s\n", ov);
    write_text(path, text);
    CHECK(sg_kb_load(s, path, "/x", &err) == 0 && strlen(s->configs[0].overrides) == 2047,
          "2047 characters of config settings: %s", err.msg);
    free(ov);
    ov = settings(2048, "trainer.batch=4");
    snprintf(text, 20000, "config a = %s\n", ov);
    write_text(path, text);
    CHECK(sg_kb_load(s, path, "/x", &err) == -1 && has(&err, "2047"),
          "2048 characters of config settings: %s", err.msg);
    free(ov);
    char *comment = pad(5000, 'c');
    snprintf(text, 20000, "config a = trainer.batch=4 # %s\n", comment);
    write_text(path, text);
    CHECK(sg_kb_load(s, path, "/x", &err) == -1 && has(&err, "longer than 4095"),
          "a bench line of 5000 characters: %s", err.msg);
    free(comment);
    char *name = pad(70, 'n');
    snprintf(text, 20000, "config %s = trainer.batch=4\n", name);
    write_text(path, text);
    CHECK(sg_kb_load(s, path, "/x", &err) == -1 && has(&err, "63"),
          "a config name of 70 characters: %s", err.msg);
    free(name);
    /* the suite file name itself */
    char *fname = pad(80, 'f');
    char long_path[900];
    snprintf(long_path, sizeof long_path, "%s/%s.bench", root, fname);
    write_text(long_path, "config a = trainer.batch=4\n");
    CHECK(sg_kb_load(s, long_path, "/x", &err) == -1 && has(&err, "longer than 63"),
          "a bench file name of 80 characters: %s", err.msg);
    free(fname);
    free(text);
    free(s);
}

static void test_config(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/limits.cfg", root);
    sg_err err = {{0}};
    /* a comment line of exactly SG_CONFIG_MAX_LINE characters is read, one more is an error */
    size_t n = SG_CONFIG_MAX_LINE;
    char *line = pad(n + 1, 'x');
    line[0] = '#';
    char *text = malloc(n + 64);
    line[n] = 0;
    snprintf(text, n + 64, "trainer.epochs = 3\n%s\n", line);
    write_text(path, text);
    sg_config *c = sg_train_config_new();
    CHECK(sg_config_load_file(c, path, &err) == 0 && sg_config_int(c, "trainer.epochs") == 3,
          "a line of %zu characters: %s", n, err.msg);
    line[n] = 'x';
    snprintf(text, n + 64, "trainer.epochs = 3\n%s\n", line);
    write_text(path, text);
    char want[64];
    snprintf(want, sizeof want, "longer than %d characters", SG_CONFIG_MAX_LINE);
    CHECK(sg_config_load_file(c, path, &err) == -1 && has(&err, "limits.cfg:2") && has(&err, want),
          "a line of %zu characters: %s", n + 1, err.msg);
    sg_config_free(c);
    free(line);
    free(text);
}

/* run.name longer than the run id holds: an error, not a cut name shared by two runs. */
static void test_run_name(void) {
    char *name = pad(160, 'n');
    char kv[300], dir[700];
    snprintf(kv, sizeof kv, "run.name=%s", name);
    snprintf(dir, sizeof dir, "run.dir=%s/runs", root);
    const char *args[] = {"data.dataset=synthetic",
                          "data.synthetic_n=32",
                          "data.synthetic_size=8",
                          "model.width=0.0625",
                          "model.proj_hidden=8",
                          "model.proj_out=4",
                          "model.pred_hidden=8",
                          "trainer.batch=8",
                          "trainer.epochs=1",
                          "data.workers=0",
                          kv,
                          dir};
    sg_config *c = sg_train_config_new();
    sg_err err = {{0}};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    sg_train_summary sum;
    int rc = sg_train_run(c, &o, &sum, &err);
    CHECK(rc == SG_TRAIN_BAD_INPUT && has(&err, "run.name") && has(&err, "159"),
          "a run.name of 160 characters: rc %d, %s", rc, err.msg);
    sg_config_free(c);
    free(name);
}

/* compare copies cells into fixed fields of its table: a longer cell is an error naming it. */
static void test_compare_cells(void) {
    char base[700];
    snprintf(base, sizeof base, "%s/base.csv", root);
    char *shape = pad(300, 's');
    char *text = malloc(2000);
    snprintf(text, 2000,
             "kind,config,kernel,shape,status,message,median_s,rep_times_s,machine_id,cpu_model,"
             "accelerator\nkernel,a,gemm,%s,ok,,0.5,0.5;0.6,m1,cpu,\n",
             shape);
    write_text(base, text);
    sg_compare_opts o;
    sg_compare_defaults(&o);
    sg_compare_summary s;
    sg_err err = {{0}};
    CHECK(sg_compare_files(base, base, &o, &s, &err) == -1 && has(&err, "line 2") &&
              has(&err, "shape") && has(&err, "255"),
          "a shape of 300 characters: %s", err.msg);
    free(shape);
    free(text);
}

int main(void) {
    snprintf(root, sizeof root, "%s/text_limits_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    test_suite();
    test_bench();
    test_config();
    test_run_name();
    test_compare_cells();
    return test_finish();
}
