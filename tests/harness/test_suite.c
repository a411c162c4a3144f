/* Suites: the file format and its errors, a run in parallel child processes giving the same
 * results as the same runs one after the other, resuming (recorded runs are skipped), and the
 * expectations' verdicts, two runners at once sharing the work, and what the report never counts. */
#define _DEFAULT_SOURCE /* mkdir, getpid with -std=c11 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/csv.h"
#include "core/base/log.h"
#include "core/harness/suite.h"
#include "test_util.h"

static char root[512];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    SG_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

/* final_loss and probe of each run id, as "id=loss/probe;" in row order sorted by id */
static char *summary(const char *dir) {
    char path[700];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    sg_csv_table t;
    sg_err err;
    if (sg_csv_read(path, &t, &err)) return NULL;
    int ci = sg_csv_col(&t, "run_id"), cl = sg_csv_col(&t, "final_loss"),
        cp = sg_csv_col(&t, "probe_best");
    char *out = calloc(1, 4096);
    for (int pass = 0; pass < 2; pass++) /* ids end in -a-s1 / -b-s1: print a then b */
        for (size_t r = 0; r < t.nrows; r++) {
            const char *id = sg_csv_cell(&t, r, ci);
            if ((strstr(id, "-a-") != NULL) != (pass == 0)) continue;
            size_t at = strlen(out);
            snprintf(out + at, 4096 - at, "%s=%s/%s;", id, sg_csv_cell(&t, r, cl),
                     sg_csv_cell(&t, r, cp));
        }
    sg_csv_table_free(&t);
    return out;
}

int main(void) {
    snprintf(root, sizeof root, "%s/suite_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    char path[700], bad[700], out1[700], out2[700];
    snprintf(path, sizeof path, "%s/tiny.suite", root);
    write_file(path,
               "# a tiny suite\n"
               "base = data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16\n"
               "base = data.synthetic_classes=4 model.width=0.0625 model.proj_hidden=16\n"
               "base = model.proj_out=8 model.pred_hidden=16 trainer.batch=8 trainer.epochs=1\n"
               "base = eval.probe_epochs=2 eval.knn_k=5 data.workers=0\n"
               "run a = method.name=byol\n"
               "run b = method.name=simsiam method.stop_gradient=false\n"
               "seeds = 1\n"
               "expect loss_bounded: a,b final_loss > -4.5\n"
               "expect impossible: a probe_best > 101\n");
    sg_suite s;
    sg_err err;
    CHECK(sg_suite_load(&s, path, "/nonexistent", &err) == 0, "load: %s", err.msg);
    CHECK(s.nruns == 2 && s.nseeds == 1 && s.nexpect == 2 && !strcmp(s.name, "tiny"),
          "parsed %d runs %d seeds %d expectations, name %s", s.nruns, s.nseeds, s.nexpect, s.name);

    /* errors name the file and line */
    snprintf(bad, sizeof bad, "%s/bad.suite", root);
    write_file(bad, "run a = method.name=byol\nexpect x: a probe_best >= 3\n");
    CHECK(sg_suite_load(&s, bad, ".", &err) != 0 && strstr(err.msg, "bad.suite:2"),
          "bad operator named with its line: %s", err.msg);
    write_file(bad, "run a = method.name=byol\nexpect x: zz probe_best > 3\n");
    CHECK(sg_suite_load(&s, bad, ".", &err) != 0 && strstr(err.msg, "run 'zz'"),
          "unknown run named: %s", err.msg);
    write_file(bad, "run a = x\nwhatever = 1\n");
    CHECK(sg_suite_load(&s, bad, ".", &err) != 0 && strstr(err.msg, "bad.suite:2: unknown statement"),
          "unknown statement named: %s", err.msg);
    CHECK(sg_suite_load(&s, "nosuch", root, &err) != 0 && strstr(err.msg, "nosuch.suite"),
          "missing suite names its path: %s", err.msg);
    /* the measured duration the runner prints at its start */
    write_file(bad, "run a = method.name=byol\nduration = 3 minutes with --jobs 2\n");
    CHECK(sg_suite_load(&s, bad, ".", &err) == 0 && !strcmp(s.duration, "3 minutes with --jobs 2"),
          "duration: [%s] %s", s.duration, err.msg);
    write_file(bad, "run a = method.name=byol\nduration =\n");
    CHECK(sg_suite_load(&s, bad, ".", &err) != 0 && strstr(err.msg, "bad.suite:2: expected 'duration"),
          "an empty duration is refused: %s", err.msg);
    write_file(bad, "run a = method.name=byol\ndurations = 3\n");
    CHECK(sg_suite_load(&s, bad, ".", &err) != 0 && strstr(err.msg, "bad.suite:2: unknown statement"),
          "durations is not duration: %s", err.msg);

    /* parallel children vs one after the other: same numbers (both one thread per run) */
    SG_CHECK(sg_suite_load(&s, path, "/nonexistent", &err) == 0, "%s", err.msg);
    snprintf(out1, sizeof out1, "%s/serial", root);
    snprintf(out2, sizeof out2, "%s/parallel", root);
    sg_suite_opts o1 = {out1, "trainer.threads=1", 1, 1}, o2 = {out2, NULL, 1, 2};
    int rc1 = sg_suite_run_all(&s, &o1, &err);
    CHECK(rc1 == 1, "serial run: the impossible expectation fails (rc %d: %s)", rc1, err.msg);
    int rc2 = sg_suite_run_all(&s, &o2, &err);
    CHECK(rc2 == 1, "parallel run: same verdict (rc %d: %s)", rc2, err.msg);
    char *a = summary(out1), *b = summary(out2);
    CHECK(a && b && strlen(a) > 20 && !strcmp(a, b), "same results:\n  %s\n  %s", a ? a : "-",
          b ? b : "-");
    free(a);
    free(b);

    /* resuming: everything recorded, nothing trained again, the same report */
    double t0 = sg_now();
    int rc3 = sg_suite_run_all(&s, &o2, &err);
    CHECK(rc3 == 1 && sg_now() - t0 < 5.0, "a finished suite only reports (rc %d)", rc3);
    char csv[800];
    snprintf(csv, sizeof csv, "%s/results.csv", out2);
    sg_csv_table t;
    CHECK(sg_csv_read(csv, &t, &err) == 0 && t.nrows == 2, "two rows, none duplicated");
    sg_csv_table_free(&t);

    /* Two runners of the same suite into the same folder at once: they share the work, each
     * (run, seed) is trained once and recorded once, every steps.csv has its 8 steps once. */
    {
        char out3[800];
        snprintf(out3, sizeof out3, "%s/concurrent", root);
        sg_suite_opts o3 = {out3, "trainer.threads=1", 1, 1};
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            sg_err e;
            int rc = sg_suite_run_all(&s, &o3, &e);
            fflush(NULL);
            _exit(rc < 0 ? 3 : 0);
        }
        int rc = sg_suite_run_all(&s, &o3, &err);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(rc >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "both runners end without error (rc %d, child status %d)", rc, status);
        char csv3[900];
        snprintf(csv3, sizeof csv3, "%s/results.csv", out3);
        sg_csv_table t3;
        CHECK(sg_csv_read(csv3, &t3, &err) == 0 && t3.nrows == 2,
              "two result rows, none twice (%zu)", t3.nrows);
        if (t3.nrows == 2) {
            int ci = sg_csv_col(&t3, "run_id");
            CHECK(strcmp(sg_csv_cell(&t3, 0, ci), sg_csv_cell(&t3, 1, ci)) != 0, "two runs");
            for (int k = 0; k < 2; k++) {
                char steps[1200];
                snprintf(steps, sizeof steps, "%s/runs/%s/steps.csv", out3,
                         sg_csv_cell(&t3, (size_t)k, ci));
                sg_csv_table st;
                CHECK(sg_csv_read(steps, &st, &err) == 0 && st.nrows == 8,
                      "%s: 8 steps, trained once (%zu)", steps, st.nrows);
                sg_csv_table_free(&st);
            }
        }
        sg_csv_table_free(&t3);
    }

    /* The report never counts what was not measured: an emptied or non-numeric metric cell is
     * MISSING (the run fails its expectation), a (run, seed) recorded twice is an error. */
    {
        sg_csv_table r;
        SG_CHECK(sg_csv_read(csv, &r, &err) == 0, "%s", err.msg);
        int cl = sg_csv_col(&r, "final_loss");
        char doctored[800];
        snprintf(doctored, sizeof doctored, "%s/doctored.csv", root);
        for (int variant = 0; variant < 3; variant++) {
            sg_csv_row rows[3];
            size_t nrows = variant == 2 ? 3 : 2;
            for (size_t i = 0; i < nrows; i++) {
                size_t src = i < 2 ? i : 0; /* variant 2: row 0 again */
                sg_csv_row_init(&rows[i]);
                for (int c = 0; c < r.ncols; c++) {
                    const char *cell = sg_csv_cell(&r, src, c);
                    if (c == cl && i == 0 && variant == 0) cell = "";
                    if (c == cl && i == 0 && variant == 1) cell = "n/a";
                    sg_csv_row_str(&rows[i], cell);
                }
            }
            remove(doctored);
            SG_CHECK(sg_csv_write_atomic(doctored, r.ncols, (const char *const *)r.header, rows,
                                         nrows, &err) == 0, "%s", err.msg);
            for (size_t i = 0; i < nrows; i++) sg_csv_row_free(&rows[i]);
            fflush(stdout);
            int rc = sg_suite_report(&s, doctored, &err);
            if (variant < 2)
                CHECK(rc == 1, "a %s final_loss: the expectation does not pass (rc %d)",
                      variant ? "non-numeric" : "missing", rc);
            else
                CHECK(rc == -1 && strstr(err.msg, "more than once"),
                      "a duplicated row is an error: %s", err.msg);
        }
        sg_csv_table_free(&r);
    }

    /* Margins and per-seed claims: a trained run against the untrained run of the same seed.
     * t beats u by 5 points at seed 1 and 10 at seed 2 (means 75 against 67.5). */
    {
        char mpath[760], mcsv[760];
        snprintf(mpath, sizeof mpath, "%s/marg.suite", root);
        snprintf(mcsv, sizeof mcsv, "%s/marg.csv", root);
        write_file(mcsv, "run_id,probe\nmarg-t-s1,80\nmarg-t-s2,70\nmarg-u-s1,75\nmarg-u-s2,60\n");
        static const struct {
            const char *claim;
            int rc;
        } cases[] = {
            {"t probe > u + 3 per seed", 0},  /* 5 and 10 > 3 */
            {"t probe > u + 6 per seed", 1},  /* seed 1 gains only 5 */
            {"t probe > u + 6", 0},           /* the means (75 > 73.5) hide seed 1 */
            {"t probe > u + 8", 1},           /* 75 > 75.5 fails */
            {"t probe < 100 - 24.5", 0},      /* the mean 75 is below the bar 75.5 */
            {"u probe < t - 7 per seed", 1},  /* seed 1: 75 < 73 fails */
            {"u probe < t - 4 per seed", 0},  /* 75 < 76 and 60 < 66 */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char text[400];
            snprintf(text, sizeof text, "run t = method.name=byol\nrun u = trainer.epochs=0\n"
                                        "seeds = 1 2\nexpect c: %s\n", cases[i].claim);
            write_file(mpath, text);
            SG_CHECK(sg_suite_load(&s, mpath, ".", &err) == 0, "%s: %s", cases[i].claim, err.msg);
            fflush(stdout);
            int rc = sg_suite_report(&s, mcsv, &err);
            CHECK(rc == cases[i].rc, "'%s': rc %d, expected %d", cases[i].claim, rc,
                  cases[i].rc);
        }
        /* a seed that was not run is NOT RUN, never a pass */
        write_file(mcsv, "run_id,probe\nmarg-t-s1,80\nmarg-u-s1,75\nmarg-u-s2,60\n");
        write_file(mpath, "run t = method.name=byol\nrun u = trainer.epochs=0\nseeds = 1 2\n"
                          "expect c: t probe > u + 1 per seed\n");
        SG_CHECK(sg_suite_load(&s, mpath, ".", &err) == 0, "%s", err.msg);
        fflush(stdout);
        CHECK(sg_suite_report(&s, mcsv, &err) == 1, "a missing seed fails a per-seed claim");
        static const char *const bad_claims[] = {
            "t probe > u + x", "t probe > u + -3", "t probe > u +", "t probe > u per",
            "t probe > u per seeds", "t probe > u + 3 per seed extra", "t probe > 70 per seed",
        };
        for (size_t i = 0; i < sizeof bad_claims / sizeof bad_claims[0]; i++) {
            char text[400];
            snprintf(text, sizeof text, "run t = method.name=byol\nrun u = trainer.epochs=0\n"
                                        "expect c: %s\n", bad_claims[i]);
            write_file(mpath, text);
            CHECK(sg_suite_load(&s, mpath, ".", &err) != 0 &&
                      (strstr(err.msg, "marg.suite:3") || strstr(err.msg, "per seed")),
                  "'%s' is refused with its line: %s", bad_claims[i], err.msg);
        }
    }

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "cleanup");
    return test_finish();
}
