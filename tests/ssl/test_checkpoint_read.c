/* tests/ssl/test_checkpoint_read.c: the checkpoint reader (sg_train_checkpoint_read) takes only a
 * checkpoint of the model's exact size with counters a run can resume from: the file a one-step
 * run wrote is read back to its step; one byte less or one more, a negative step, an epoch
 * count beyond the step, an F-ready flag other than 0 or 1, another setting's hash, and a FIFO
 * in its place are each refused, naming the file. */
#define _DEFAULT_SOURCE /* mkfifo, getpid with -std=c11 */
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ssl/train.h"
#include "core/ssl/train_config.h"
#include "data/files.h"
#include "test_util.h"

static char root[512];

static const char *const SETTING[] = {
    "data.dataset=synthetic",    "data.synthetic_n=16", "data.synthetic_size=8",
    "data.synthetic_classes=2",  "data.workers=0",      "model.width=0.01",
    "model.proj_hidden=4",       "model.proj_out=2",    "model.pred_hidden=4",
    "trainer.batch=4",           "trainer.max_steps=1", "trainer.threads=1",
    "predictor.kind=directpred", "eval.probe=false",    "eval.knn=false"};

static sg_config *config(void) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    for (size_t i = 0; i < sizeof SETTING / sizeof SETTING[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, SETTING[i], &err) == 0, "%s", err.msg);
    return c;
}

/* The header of checkpoint version 1 as train.c writes it: magic, version, hash, step, epochs
 * done, loss sum, five sizes, F ready. Offsets of the fields the test edits; a new format
 * version fails the version check below until they are updated. */
enum { OFF_VERSION = 4, OFF_STEP = 16, OFF_EPOCHS = 24, OFF_F_READY = 80 };

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    SG_CHECK(f != NULL, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    SG_CHECK(b && fread(b, 1, *n, f) == *n, "cannot read %s", path);
    fclose(f);
    return b;
}

static int read_ck(const char *path, sg_ssl *m, uint64_t hash, sg_train_checkpoint *ck,
                   sg_err *err) {
    return sg_train_checkpoint_read(path, m, hash, ck, err);
}

int main(void) {
    snprintf(root, sizeof root, "%s/checkpoint_read_%d", tu_tmpdir(), (int)getpid());
    rm_rf(root);
    mkdir(root, 0777);
    sg_config *c = config();
    char kv[700];
    sg_err err = {{0}};
    snprintf(kv, sizeof kv, "run.dir=%s", root);
    SG_CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    snprintf(kv, sizeof kv, "run.results=%s/results.csv", root);
    SG_CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(c, "run.name=ck", &err) == 0, "%s", err.msg);
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    sg_train_summary sum;
    SG_CHECK(sg_train_run(c, &o, &sum, &err) == 0, "the one-step run: %s", err.msg);
    const uint64_t hash = sg_train_config_hash(c);

    sg_ssl_settings set;
    sg_ssl m;
    SG_CHECK(sg_train_settings(c, 3, 8, 8, 4, &set, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_ssl_build(&m, &set, sg_backend_get("cpu"), &err) == 0, "%s", err.msg);
    char ck_path[700], bad[700];
    snprintf(ck_path, sizeof ck_path, "%s/ck/checkpoint.bin", root);
    snprintf(bad, sizeof bad, "%s/bad.bin", root);
    sg_train_checkpoint ck;
    CHECK(read_ck(ck_path, &m, hash, &ck, &err) == 0 && ck.step == 1 && m.step == 1 &&
              ck.epochs_done == 0,
          "the run's own checkpoint: %s (step %lld)", err.msg, (long long)ck.step);

    size_t n;
    uint8_t *b = slurp(ck_path, &n);
    write_bytes(bad, b, n - 1);
    CHECK(read_ck(bad, &m, hash, &ck, &err) == -1 && strstr(err.msg, "truncated") &&
              strstr(err.msg, bad),
          "one byte short: %s", err.msg);
    b[n] = 0x5a;
    write_bytes(bad, b, n + 1);
    CHECK(read_ck(bad, &m, hash, &ck, &err) == -1 && strstr(err.msg, "does not match"),
          "one byte more: %s", err.msg);

    uint32_t version;
    memcpy(&version, b + OFF_VERSION, 4);
    CHECK(version == 1, "checkpoint version %u: this test edits version 1's header", version);
    static const struct {
        size_t off;
        int64_t value;
        int bytes;
        const char *what;
    } EDITS[] = {{OFF_STEP, -3, 8, "a negative step"},
                 {OFF_EPOCHS, 5, 8, "5 epochs done at step 1"},
                 {OFF_F_READY, 7, 4, "F ready 7"}};
    for (size_t e = 0; e < sizeof EDITS / sizeof EDITS[0]; e++) {
        uint8_t *x = malloc(n);
        memcpy(x, b, n);
        if (EDITS[e].bytes == 8) {
            int64_t v = EDITS[e].value;
            memcpy(x + EDITS[e].off, &v, 8);
        } else {
            int32_t v = (int32_t)EDITS[e].value;
            memcpy(x + EDITS[e].off, &v, 4);
        }
        write_bytes(bad, x, n);
        CHECK(read_ck(bad, &m, hash, &ck, &err) == -1 && strstr(err.msg, "impossible counters"),
              "%s: %s", EDITS[e].what, err.msg);
        free(x);
    }
    CHECK(read_ck(ck_path, &m, hash ^ 1, &ck, &err) == -1 && strstr(err.msg, "different config"),
          "another setting's hash: %s", err.msg);
    unlink(bad);
    SG_CHECK(mkfifo(bad, 0666) == 0, "mkfifo %s", bad);
    CHECK(read_ck(bad, &m, hash, &ck, &err) == -1 && strstr(err.msg, "is a FIFO"), "a FIFO: %s",
          err.msg);

    free(b);
    sg_ssl_free(&m);
    sg_config_free(c);
    rm_rf(root);
    return test_finish();
}
