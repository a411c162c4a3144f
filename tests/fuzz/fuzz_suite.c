/* tests/fuzz/fuzz_suite.c: the .suite reader (core/ssl/suite.c). Input: a suite file. Whatever
 * it accepts must be within its limits: at least one run, names of letters, digits, '_' and
 * '-', every expectation naming runs the suite has. */
#include "fuzz.h"


#include "core/base/text.h"
#include "core/harness/suite.h"

static sg_suite suite;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("fuzz.suite", data, size, path, sizeof path);
    sg_err err;
    if (sg_suite_load(&suite, path, fz_dir(), &err) == 0) {
        FZ_ASSERT(suite.nruns >= 1 && suite.nruns <= SG_SUITE_MAX_RUNS, "%d runs", suite.nruns);
        FZ_ASSERT(suite.nseeds >= 1 && suite.nseeds <= SG_SUITE_MAX_SEEDS, "%d seeds",
                  suite.nseeds);
        FZ_ASSERT(!strcmp(suite.name, "fuzz"), "name '%s'", suite.name);
        for (int i = 0; i < suite.nruns; i++) {
            FZ_ASSERT(sg_is_name(suite.runs[i].name), "run name '%s'", suite.runs[i].name);
            for (int j = 0; j < i; j++)
                FZ_ASSERT(strcmp(suite.runs[i].name, suite.runs[j].name), "run %s twice",
                          suite.runs[i].name);
        }
        for (int i = 0; i < suite.nexpect; i++)
            FZ_ASSERT(suite.expect[i].op == '<' || suite.expect[i].op == '>', "op");
    }
    return 0;
}
