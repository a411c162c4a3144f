/* tests/theory/test_theory_cli.c: `stopgrad theory` as a user meets it: help texts, errors
 * that name the unknown subcommand / option / check, --only and --csv, --list, and the
 * figures command's option handling (the rendering itself: test_theory_figures.c). */
#include "cli_capture.h" /* first: it sets _POSIX_C_SOURCE */
#include "core/base/csv.h"
#include "core/theory/claims.h"

int main(void) {
    int rc;
    rc = run_cli((const char *[]){"theory", NULL});
    CHECK(rc == 2 && strstr(cap_err, "usage: stopgrad theory"), "no subcommand: rc %d", rc);
    rc = run_cli((const char *[]){"theory", "--help", NULL});
    CHECK(rc == 0 && strstr(cap_out, "check") && strstr(cap_out, "figures"), "--help: %d", rc);
    rc = run_cli((const char *[]){"theory", "chek", NULL});
    CHECK(rc == 2 && strstr(cap_err, "unknown subcommand 'chek'; did you mean 'check'?"),
          "typo: %s", cap_err);
    rc = run_cli((const char *[]){"theory", "check", "--help", NULL});
    CHECK(rc == 0 && strstr(cap_out, "usage: stopgrad theory check") && strstr(cap_out, "--csv"),
          "check --help");
    rc = run_cli((const char *[]){"theory", "figures", "--help", NULL});
    CHECK(rc == 0 && strstr(cap_out, "usage: stopgrad theory figures") &&
              strstr(cap_out, "--gnuplot"),
          "figures --help");
    /* Unknown options and missing values are usage errors that name the option. */
    rc = run_cli((const char *[]){"theory", "check", "--cvs", "x.csv", NULL});
    CHECK(rc == 2 && strstr(cap_err, "unknown option '--cvs'; did you mean '--csv'?"), "%s",
          cap_err);
    rc = run_cli((const char *[]){"theory", "figures", "--outdir=x", NULL});
    CHECK(rc == 2 && strstr(cap_err, "unknown option '--outdir=x'"), "%s", cap_err);
    rc = run_cli((const char *[]){"theory", "check", "--out", NULL});
    CHECK(rc == 2 && strstr(cap_err, "option '--out' needs a value"), "%s", cap_err);
    rc = run_cli((const char *[]){"theory", "check", "stray", NULL});
    CHECK(rc == 2 && strstr(cap_err, "unexpected argument 'stray'"), "%s", cap_err);
    rc = run_cli((const char *[]){"theory", "check", "--only", "invariant,bogus", NULL});
    CHECK(rc == 2 && strstr(cap_err, "unknown check 'bogus'"), "%s", cap_err);
    /* --list names every check. */
    rc = run_cli((const char *[]){"theory", "check", "--list", NULL});
    CHECK(rc == 0, "--list rc %d", rc);
    for (int i = 0; i < sg_th_claim_count(); i++)
        CHECK(strstr(cap_out, sg_th_claim_at(i)->name) != NULL, "--list lacks %s",
              sg_th_claim_at(i)->name);
    /* --only with --csv and --out=: the table, the CSV with exactly those rows. */
    char csv[4300], dir[4096], arg[4200];
    snprintf(csv, sizeof csv, "%s/theory_cli_checks.csv", tu_tmpdir());
    snprintf(dir, sizeof dir, "%s/theory_cli_out", tu_tmpdir());
    rc = run_cli((const char *[]){"theory", "check", "--only", "invariant,fixed_points", "--csv",
                                  csv, NULL});
    CHECK(rc == 0, "check --only: rc %d, %s", rc, cap_err);
    CHECK(strstr(cap_out, "invariant") && strstr(cap_out, "PASS") &&
              strstr(cap_out, "2 of 2 checks passed"),
          "table: %s", cap_out);
    sg_csv_table t;
    sg_err err;
    CHECK(sg_csv_read(csv, &t, &err) == 0, "%s", err.msg);
    if (t.nrows) {
        CHECK(t.nrows == 2 && strcmp(sg_csv_cell(&t, 0, 0), "invariant") == 0 &&
                  strcmp(sg_csv_cell(&t, 1, 0), "fixed_points") == 0,
              "CSV rows");
        sg_csv_table_free(&t);
    }
    remove(csv);
    snprintf(arg, sizeof arg, "--out=%s/nested", dir);
    rc = run_cli((const char *[]){"theory", "check", "--only", "fixed_point_stability", arg, NULL});
    snprintf(csv, sizeof csv, "%s/nested/checks.csv", dir);
    CHECK(rc == 0 && access(csv, R_OK) == 0, "--out creates DIR/checks.csv: rc %d %s", rc, cap_err);
    remove(csv);
    /* figures: a gnuplot that cannot be run is a clear error. */
    rc = run_cli((const char *[]){"theory", "figures", "--out", dir, "--gnuplot",
                                  "/nonexistent/gnuplot", NULL});
    CHECK(rc == 1 && strstr(cap_err, "cannot run '/nonexistent/gnuplot'") &&
              strstr(cap_err, "--no-render"),
          "missing gnuplot: rc %d: %s", rc, cap_err);
    /* The output directory must be creatable. */
    snprintf(arg, sizeof arg, "%s/file_not_dir", tu_tmpdir());
    FILE *f = fopen(arg, "w");
    if (f) fclose(f);
    char sub[4300];
    snprintf(sub, sizeof sub, "%s/x", arg);
    rc = run_cli((const char *[]){"theory", "figures", "--no-render", "--out", sub, NULL});
    CHECK(rc == 1 && strstr(cap_err, "file_not_dir"), "bad --out: rc %d: %s", rc, cap_err);
    remove(arg);
    return test_finish();
}
