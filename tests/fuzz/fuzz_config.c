/* tests/fuzz/fuzz_config.c: the config file reader and key=value overrides (core/base/config.c,
 * the training schema and its Hydra keys, core/ssl/train_config.c).
 * Input: a config file, then optionally "\n====\n" and one key=value override per line.
 * Whatever it accepts must give a training setting or an error naming why (sg_train_settings),
 * and round-trip: the resolved config written out (sg_config_write) and read back gives the
 * same values and the same setting hashes. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "fuzz.h"

#include "core/base/config.h"
#include "core/ssl/ssl.h"
#include "core/ssl/train_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

static char *written(const sg_config *c, size_t *len) {
    char *text = NULL;
    FILE *m = open_memstream(&text, len);
    if (!m) abort();
    sg_config_write(c, m);
    if (fclose(m) != 0) abort();
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t cut, rest;
    fz_split(data, size, "\n====\n", &cut, &rest);
    char path[512];
    fz_write("run.cfg", data, cut, path, sizeof path);
    sg_config *c = sg_train_config_new();
    sg_err err;
    int rc = sg_config_load_file(c, path, &err);
    /* overrides, one per line (a NUL ends one: a command-line argument cannot hold it) */
    for (size_t at = rest; rc == 0 && at < size;) {
        size_t end = at;
        while (end < size && data[end] != '\n') end++;
        char *arg = strndup((const char *)data + at, end - at);
        if (!arg) abort();
        rc = sg_train_config_set_arg(c, arg, &err);
        free(arg);
        at = end + 1;
    }
    if (rc == 0) {
        /* the cross-key checks of a training setting: an error or a setting, never an abort */
        sg_ssl_settings set;
        (void)sg_train_settings(c, 3, 32, 32, 10, &set, &err);
        size_t len1, len2;
        char *t1 = written(c, &len1);
        fz_write("resolved.cfg", t1, len1, path, sizeof path);
        sg_config *c2 = sg_train_config_new();
        FZ_ASSERT(sg_config_load_file(c2, path, &err) == 0,
                  "the written config does not read back: %s", err.msg);
        char *t2 = written(c2, &len2);
        /* the origins of set values are comments naming where they came from: the values
         * themselves and the hash must agree */
        FZ_ASSERT(sg_train_config_hash(c) == sg_train_config_hash(c2) &&
                      sg_config_hash(c) == sg_config_hash(c2),
                  "the hash changed in a round trip");
        int n;
        const sg_cfg_spec *s = sg_train_schema(&n);
        for (int i = 0; i < n; i++)
            FZ_ASSERT(!strcmp(sg_config_text(c, s[i].key), sg_config_text(c2, s[i].key)),
                      "%s: '%s' read back as '%s'", s[i].key, sg_config_text(c, s[i].key),
                      sg_config_text(c2, s[i].key));
        free(t1);
        free(t2);
        sg_config_free(c2);
    }
    sg_config_free(c);
    return 0;
}
