/* tests/fuzz/fuzz_compare.c: `stopgrad compare` on kernel-suite CSVs (bench/compare.c): the
 * CSV reader as compare uses it, its cells parsed as numbers and repetition lists, rows matched
 * and tested. Input: BASE, then optionally "\n====\n" and NEW (without it, NEW is BASE). Every
 * comparison that runs writes its --csv, which must read back with one row per benchmark. */
#include "fuzz.h"

#include "bench/compare.h"
#include "core/base/csv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t cut, rest;
    fz_split(data, size, "\n====\n", &cut, &rest);
    char base[512], next[512], out[512];
    fz_write("base.csv", data, cut, base, sizeof base);
    if (cut < size)
        fz_write("new.csv", data + rest, size - rest, next, sizeof next);
    else
        fz_write("new.csv", data, size, next, sizeof next);
    fz_path(out, sizeof out, "cmp.csv");
    unlink(out);
    sg_compare_opts o;
    sg_compare_defaults(&o);
    o.csv_out = out;
    o.kinds = "ceiling,kernel,augment,eigen_update,step,step_overhead";
    sg_compare_summary s;
    sg_err err;
    int rc = sg_compare_files(base, next, &o, &s, &err);
    FZ_ASSERT(rc >= -2 && rc <= 1, "rc %d", rc);
    if (rc >= 0) {
        FZ_ASSERT(s.failures ==
                      s.count[SG_CMP_REGRESSION] + s.count[SG_CMP_MISSING] + s.count[SG_CMP_FAILED],
                  "failures");
        FZ_ASSERT((rc == 1) == (s.failures > 0), "rc %d with %d failures", rc, s.failures);
        if (cut == size)
            FZ_ASSERT(s.count[SG_CMP_REGRESSION] == 0, "a file regresses against itself");
        sg_csv_table t;
        FZ_ASSERT(sg_csv_read(out, &t, &err) == 0, "--csv does not read back: %s", err.msg);
        FZ_ASSERT(t.nrows == (size_t)s.nrows, "--csv has %zu rows, the table %d", t.nrows, s.nrows);
        sg_csv_table_free(&t);
        sg_compare_summary_free(&s);
    }
    return 0;
}
