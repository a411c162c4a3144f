/* tests/fuzz/fuzz_report.c: `stopgrad report` on kernel-suite CSVs (bench/report.c): the CSV
 * reader as report uses it, labels, steps, ceilings and kernels collected, the markdown, the
 * chart's data and script written (gnuplot itself is not run: the named program does not
 * exist, so the PNG step reports that and returns 1). Input: up to three CSVs separated by
 * "\n====\n". Whatever it accepts must write report.md. */
#include "fuzz.h"

#include "bench/report.h"
#include "core/base/file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char paths[3][512], out[512];
    const char *inputs[3];
    int n = 0;
    for (size_t at = 0; n < 3;) {
        size_t cut, rest;
        fz_split(data + at, size - at, "\n====\n", &cut, &rest);
        char name[32];
        snprintf(name, sizeof name, "in%d.csv", n);
        fz_write(name, data + at, cut, paths[n], sizeof paths[n]);
        inputs[n] = paths[n];
        n++;
        if (cut == size - at) break;
        at += rest;
    }
    fz_path(out, sizeof out, "report");
    sg_report_opts o = {.inputs = inputs,
                        .ninputs = n,
                        .out_dir = out,
                        .force = 1,
                        .gnuplot = "/nonexistent/gnuplot",
                        .metric = (sg_report_metric)(size % 3)};
    sg_report_summary s;
    sg_err err;
    int rc = sg_report_write(&o, &s, &err);
    FZ_ASSERT(rc == -1 || rc == 1, "rc %d: %s", rc, err.msg);
    if (rc == 1) {
        FZ_ASSERT(sg_file_exists(s.md_path), "%s not written", s.md_path);
        FZ_ASSERT(s.nrows == s.nsteps + s.nceilings + s.nkernels && s.ncolumns == n, "counts");
        unlink(s.md_path);
    }
    return 0;
}
