/* tests/fuzz/fuzz_check.c: `stopgrad check` on a results CSV (core/ssl/check.c): the CSV reader
 * as check uses it, against the real reference file and suites of this source tree. Input: a
 * results CSV. Whatever it accepts must give every reference row one verdict. */
#include "fuzz.h"

#include "core/harness/published.h"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR: the source tree, for its suites and reference file"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fz_write("results.csv", data, size, path, sizeof path);
    const char *results[1] = {path};
    sg_published_inputs in = {results, 1, SG_SOURCE_DIR "/suites",
                          SG_SOURCE_DIR "/results/reference/published.csv"};
    sg_published c;
    sg_err err;
    if (sg_published_compute(&in, &c, &err) == 0) {
        int total = 0;
        for (int v = 0; v < SG_PUB_NVERDICTS; v++) total += c.count[v];
        FZ_ASSERT(c.nrows > 0 && total == c.nrows, "%d verdicts for %d rows", total, c.nrows);
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            sg_published_print(&c, null);
            sg_published_print_summary(&c, null);
            fclose(null);
        }
    }
    sg_published_free(&c);
    return 0;
}
