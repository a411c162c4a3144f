/* app/cmd_compare.c: `stopgrad compare`: regression check between two kernel-suite CSVs
 * (bench/compare.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "bench/compare.h"

static void compare_help(FILE *f) {
    fprintf(
        f,
        "usage: stopgrad compare BASE.csv NEW.csv [--threshold F] [--alpha A] [--kinds LIST]\n"
        "                        [--csv OUT]\n\n"
        "Compares two kernel-suite CSVs written by `stopgrad bench`: every benchmark of BASE\n"
        "is matched in NEW by (kind, config, kernel, shape). ratio = NEW median / BASE median;\n"
        "p = one-sided Mann-Whitney U test over the repetition times (rep_times_s) that NEW\n"
        "is slower (exact distribution for small samples without ties, else the normal\n"
        "approximation with tie and continuity corrections). A benchmark is a REGRESSION when\n"
        "ratio > 1 + F and p < A. eigen_update rows have no repetitions (a sum of kernel\n"
        "medians): they are compared by their medians only, without a test, and never count\n"
        "as a regression. A benchmark of BASE missing from NEW is MISSING, one that NEW did\n"
        "not measure (status mismatch, error, not_run) is FAILED: both fail the check; one\n"
        "only in NEW is reported as NEW. BASE rows whose status is not ok are skipped.\n"
        "Different machine_id values in the two files: a warning (a hardware comparison,\n"
        "not a regression check), and the comparison goes on.\n\n"
        "The table is printed worst first, then a summary line.\n\n"
        "options:\n"
        "  --threshold F  relative slowdown that matters, in [0, 100] (default 0.10 = 10%%)\n"
        "  --alpha A      significance level, in (0, 1) (default 0.01)\n"
        "  --kinds LIST   comma-separated kinds to compare among ceiling, kernel, augment,\n"
        "                 eigen_update, step, step_overhead (default %s)\n"
        "  --csv OUT      also write the table as CSV (atomically)\n\n"
        "exit status: 0 no regression, 1 regression(s), missing or failed benchmarks,\n"
        "2 usage, input or output error (unreadable CSV, missing column, a --csv that is one\n"
        "of the inputs or cannot be written).\n",
        SG_COMPARE_DEFAULT_KINDS);
}

static int parse_double(const char *opt, const char *v, double lo, double hi, int open_lo,
                        int open_hi, double *out) {
    char *end;
    double d = strtod(v, &end);
    int ok = end != v && !*end && isfinite(d) && (open_lo ? d > lo : d >= lo) &&
             (open_hi ? d < hi : d <= hi);
    if (!ok) {
        fprintf(stderr, "stopgrad compare: %s expects a number in %c%g, %g%c, got '%s'\n", opt,
                open_lo ? '(' : '[', lo, hi, open_hi ? ')' : ']', v);
        return -1;
    }
    *out = d;
    return 0;
}

int sg_cmd_compare(int argc, char **argv) {
    sg_compare_opts o;
    sg_compare_defaults(&o);
    const char *files[2] = {NULL, NULL};
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            compare_help(stdout);
            return 0;
        } else if (!strcmp(a, "--threshold") || !strcmp(a, "--alpha") || !strcmp(a, "--kinds") ||
                   !strcmp(a, "--csv")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "stopgrad compare: %s needs a value (see --help)\n", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--threshold")) {
                if (parse_double(a, v, 0, 100, 0, 0, &o.threshold)) return 2;
            } else if (!strcmp(a, "--alpha")) {
                if (parse_double(a, v, 0, 1, 1, 1, &o.alpha)) return 2;
            } else if (!strcmp(a, "--kinds")) {
                o.kinds = v;
            } else {
                o.csv_out = v;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stopgrad compare: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (nfiles < 2) {
            files[nfiles++] = a;
        } else {
            fprintf(stderr,
                    "stopgrad compare: expected two CSV files (BASE and NEW), got a third "
                    "'%s'\n",
                    a);
            return 2;
        }
    }
    if (nfiles < 2) {
        fprintf(stderr,
                "stopgrad compare: expected two CSV files, BASE.csv and NEW.csv; got %d "
                "(see --help)\n",
                nfiles);
        return 2;
    }
    o.out = stdout;
    sg_compare_summary s;
    sg_err err;
    int rc = sg_compare_files(files[0], files[1], &o, &s, &err);
    if (rc == -1) {
        fprintf(stderr, "stopgrad compare: %s\n", err.msg);
        return 2;
    }
    if (rc == -2) { /* the table was printed, but --csv could not be written: an output error */
        fprintf(stderr, "stopgrad compare: %s\n", err.msg);
        sg_compare_summary_free(&s);
        return 2;
    }
    if (o.csv_out) printf("wrote %s\n", o.csv_out);
    sg_compare_summary_free(&s);
    return rc;
}
