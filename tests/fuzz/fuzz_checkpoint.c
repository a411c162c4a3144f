/* tests/fuzz/fuzz_checkpoint.c: the training checkpoint reader (sg_train_checkpoint_read,
 * core/ssl/train.c) into the model of a tiny setting (checkpoint_model.h), built once. Input: a
 * checkpoint file. Whatever it accepts must give counters a run can resume from. */
#include "fuzz.h"

#include "checkpoint_model.h"
#include "core/ssl/train.h"

static sg_ssl model;
static uint64_t hash;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    sg_config *c = fz_ckpt_config();
    sg_ssl_settings set;
    sg_err err;
    if (!c || sg_train_settings(c, 3, 8, 8, 4, &set, &err) ||
        sg_ssl_build(&model, &set, sg_backend_get("cpu"), &err)) {
        fprintf(stderr, "fuzz_checkpoint: the model: %s\n", c ? err.msg : "setting refused");
        abort();
    }
    hash = sg_train_config_hash(c);
    sg_config_free(c);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("checkpoint.bin", data, size, path, sizeof path);
    sg_train_checkpoint ck;
    sg_err err;
    if (sg_train_checkpoint_read(path, &model, hash, &ck, &err) == 0) {
        FZ_ASSERT(ck.step >= 0 && ck.epochs_done >= 0 && ck.epochs_done <= ck.step &&
                      model.step == ck.step && (model.F_ready == 0 || model.F_ready == 1),
                  "step %lld, epochs %lld, F ready %d", (long long)ck.step,
                  (long long)ck.epochs_done, model.F_ready);
    }
    return 0;
}
