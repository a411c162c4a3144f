/* tests/fuzz/fuzz_bench.c: the .bench reader (bench/kbench.c). Input: a bench suite file.
 * Whatever it accepts must have at least one config, each named by letters, digits, '_' and
 * '-', and ceilings within their documented range. */
#include "fuzz.h"

#include "bench/kbench.h"
#include "core/base/text.h"

static sg_kb_suite suite;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("fuzz.bench", data, size, path, sizeof path);
    sg_err err;
    if (sg_kb_load(&suite, path, fz_dir(), &err) == 0) {
        FZ_ASSERT(suite.nconfigs >= 1 && suite.nconfigs <= SG_KB_MAX_CONFIGS, "%d configs",
                  suite.nconfigs);
        FZ_ASSERT(suite.sgemm_n >= 16 && suite.sgemm_n <= 65536 && suite.copy_mib >= 16 &&
                      suite.copy_mib <= 65536,
                  "ceilings %d, %d", suite.sgemm_n, suite.copy_mib);
        for (int i = 0; i < suite.nconfigs; i++)
            FZ_ASSERT(sg_is_name(suite.configs[i].name), "config name '%s'",
                      suite.configs[i].name);
    }
    return 0;
}
