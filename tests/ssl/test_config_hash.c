/* tests/ssl/test_config_hash.c: the setting hash names run folders and guards checkpoints, so it
 * must not move when the schema grows. A key added later counts only away from its default
 * (train_config.c: later_keys); the hash of the default setting and of a setting of the
 * published suites are pinned here: a change to either means every existing run folder and
 * checkpoint would be orphaned, which must be a decision, not an accident (list the new key in
 * later_keys instead). */
#include "core/ssl/train_config.h"
#include "test_util.h"

static uint64_t hash_of(const char *const *args, int n) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    for (int i = 0; i < n; i++) SG_CHECK(sg_train_config_set_arg(c, args[i], &err) == 0, "%s", err.msg);
    uint64_t h = sg_train_config_hash(c);
    sg_config_free(c);
    return h;
}
#define HASH(...) hash_of((const char *const[]){__VA_ARGS__}, \
                          (int)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))

int main(void) {
    /* pinned on 2026-12-07: the values the hash had before trainer.ranks and model.sync_bn
     * existed (FNV-1a over the earlier schema's keys, checked by hand) */
    const uint64_t want_default = 0x5d82fac93247a4d7ull, want_stl10 = 0xc5881a07d429a5eeull;
    uint64_t h0 = HASH("trainer.seed=1");
    uint64_t hs = HASH("data.dataset=stl10", "predictor.kind=directpred", "predictor.rho=0.3",
                       "trainer.epochs=100", "optim.lr=0.03");
    CHECK(h0 == want_default, "hash of the default setting %016llx, pinned %016llx",
          (unsigned long long)h0, (unsigned long long)want_default);
    CHECK(hs == want_stl10, "hash of an STL-10 DirectPred setting %016llx, pinned %016llx",
          (unsigned long long)hs, (unsigned long long)want_stl10);

    /* where a run is stored, its name and its threads are not the setting */
    CHECK(HASH("run.name=x", "run.dir=/tmp/y", "trainer.threads=7", "data.workers=3") == h0,
          "paths, names, threads and workers change the hash");
    /* one rank, as launched or said, is the one-process computation; sync BN over one rank is
     * plain BN */
    CHECK(HASH("trainer.ranks=1") == h0 && HASH("trainer.ranks=0", "model.sync_bn=true") == h0,
          "one rank changes the hash");
    const uint64_t h2 = HASH("trainer.ranks=2"), h2s = HASH("trainer.ranks=2", "model.sync_bn=true");
    CHECK(h2 != h0 && h2s != h2 && h2s != h0, "two ranks, and sync BN over them, are settings of "
                                              "their own: %016llx %016llx %016llx",
          (unsigned long long)h0, (unsigned long long)h2, (unsigned long long)h2s);
    /* a key of the original schema still counts at any value */
    CHECK(HASH("optim.lr=0.031") != h0, "optim.lr does not change the hash");
    return test_finish();
}
