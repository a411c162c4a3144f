/* app/cmd_report.c: `stopgrad report`: kernel-suite CSVs of several machines or backends side by
 * side, as a markdown table and a bar chart (bench/report.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "bench/report.h"

#define REPORT_MAX_INPUTS 64

static void report_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad report A.csv [B.csv ...] [--out DIR] [--metric M] [--force]\n"
            "                       [--gnuplot PATH]\n\n"
            "Puts kernel-suite CSVs of `stopgrad bench` (several machines, or backends) side by\n"
            "side: one column per file, labelled \"<backend> <accelerator or CPU model>\n"
            "(<machine_id, first 6>)\". Rows: the training steps in images/s (batch / median\n"
            "step time), the ceilings (sgemm GFLOP/s, copy GB/s), then every kernel\n"
            "(config, kernel, shape) in the chosen metric. \"-\" marks what a file did not\n"
            "measure.\n\n"
            "Writes DIR/report.md (markdown), DIR/report.dat and DIR/report.gp (the chart's data\n"
            "and gnuplot script) and DIR/report.png: grouped horizontal bars of the steps and of\n"
            "the %d kernels with the largest share of the step time, rendered by gnuplot\n"
            "(Debian's gnuplot-nox, installed by scripts/setup.sh).\n\n"
            "options:\n"
            "  --out DIR       output folder (default results/report), created when missing\n"
            "  --metric M      the kernels' metric: gflops (default), median_s (shown in ms) or\n"
            "                  frac_sgemm (fraction of the machine's sgemm ceiling)\n"
            "  --force         overwrite an existing DIR/report.md and DIR/report.png\n"
            "  --gnuplot PATH  the gnuplot executable (default: gnuplot on PATH)\n\n"
            "exit status: 0 report.md and report.png written; 1 report.png could not be made\n"
            "(no gnuplot, or it failed: report.md is written); 2 usage, input or output error\n"
            "(unreadable CSV, missing column, an existing report without --force, an --out\n"
            "that cannot be written).\n",
            SG_REPORT_CHART_KERNELS);
}

int sg_cmd_report(int argc, char **argv) {
    const char *inputs[REPORT_MAX_INPUTS];
    sg_report_opts o = {.inputs = inputs, .out_dir = "results/report", .metric = SG_REPORT_GFLOPS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            report_help(stdout);
            return 0;
        } else if (!strcmp(a, "--force")) {
            o.force = 1;
        } else if (!strcmp(a, "--out") || !strcmp(a, "--metric") || !strcmp(a, "--gnuplot")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stopgrad report: %s needs a value (see --help)\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--out")) {
                o.out_dir = v;
            } else if (!strcmp(a, "--gnuplot")) {
                o.gnuplot = v;
            } else if (sg_report_metric_parse(v, &o.metric)) {
                fprintf(stderr,
                        "stopgrad report: --metric expects gflops, median_s or "
                        "frac_sgemm, got '%s'\n",
                        v);
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stopgrad report: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (o.ninputs == REPORT_MAX_INPUTS) {
            fprintf(stderr, "stopgrad report: at most %d input files, got more ('%s')\n",
                    REPORT_MAX_INPUTS, a);
            return 2;
        } else {
            inputs[o.ninputs++] = a;
        }
    }
    if (o.ninputs < 1) {
        fprintf(stderr, "stopgrad report: expected one or more kernel-suite CSVs (see --help)\n");
        return 2;
    }
    o.log = stdout;
    sg_report_summary s;
    sg_err err;
    int rc = sg_report_write(&o, &s, &err);
    if (rc != 0) fprintf(stderr, "stopgrad report: %s\n", err.msg);
    /* an unwritable --out is an input/output error like an unreadable CSV (as in check) */
    return rc == 0 ? 0 : rc < 0 ? 2 : 1;
}
