/* tests/fuzz/fuzz_checkpoint.c: the model's checkpoint reader (sg_ssl_load, core/ssl/checkpoint.c)
 * into the model of a tiny setting (checkpoint_model.h), built once. Input: a checkpoint file.
 * Whatever it accepts must give counters a run can resume from. */
#include "fuzz.h"

#include "checkpoint_model.h"
#include "core/ssl/ssl.h"
#include "core/ssl/train_config.h"
#include "kernels/backend.h"

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
    /* the run length of checkpoint_model.h's seed files */
    const sg_ckpt_run expect = {hash, 0, 0.0, FZ_CKPT_TOTAL_STEPS};
    sg_ckpt_run ck;
    sg_err err;
    if (sg_ssl_load(&model, path, &expect, &ck, &err) == 0) {
        FZ_ASSERT(model.step >= 1 && model.step <= FZ_CKPT_TOTAL_STEPS && ck.epochs_done >= 0 &&
                      ck.epochs_done <= model.step && (model.F_ready == 0 || model.F_ready == 1),
                  "step %ld, epochs %lld, F ready %d", model.step, (long long)ck.epochs_done,
                  model.F_ready);
    }
    return 0;
}
