/* tests/bench/test_gbench.c: the C shim over Google Benchmark (bench/gbench.h).
 * Three benchmarks registered from C: a real reduction reporting bytes, a manual-time one with a
 * known 1 ms iteration and a rate counter, and one that fails validation. Checked: the rows the
 * sink receives (per repetition and the mean/median/stddev/cv aggregates, cv as a fraction),
 * the JSON file of --benchmark_out, that a run without --benchmark_out neither exits nor reuses
 * the earlier flags, and that bad flags come back as errors instead of exit(). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/gbench.h"
#include "test_util.h"

#define SUM_N 4096
#define MANUAL_SECONDS 1e-3
#define FRAMES_PER_ITER 10.0

static float g_data[SUM_N];
static volatile float g_sink_value;

/* Sums range(0) floats: real work so that cpu time and bytes/s are real. */
static void bm_sum(sg_gb_state *st, void *user) {
    const float *x = (const float *)user;
    int64_t n = sg_gb_range(st, 0);
    int64_t iters = 0;
    while (sg_gb_keep_running(st)) {
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += x[i];
        g_sink_value = s;
        iters++;
    }
    sg_gb_set_bytes_processed(st, iters * n * (int64_t)sizeof(float));
}

/* Reports a fixed 1 ms per iteration, as a device-timer benchmark would. */
static void bm_manual(sg_gb_state *st, void *user) {
    (void)user;
    int64_t iters = 0;
    while (sg_gb_keep_running(st)) {
        sg_gb_set_iteration_time(st, MANUAL_SECONDS);
        iters++;
    }
    sg_gb_counter(st, "frames", FRAMES_PER_ITER * (double)iters, 1);
}

static void bm_fail(sg_gb_state *st, void *user) {
    (void)user;
    sg_gb_skip_with_error(st, "output failed validation");
    while (sg_gb_keep_running(st)) {
    }
}

typedef struct {
    int sum_iter_rows, sum_bytes_ok, sum_cv_rows, sum_cv_ok;
    int manual_iter_rows, manual_time_ok, manual_counter_ok;
    int manual_mean, manual_median, manual_stddev, manual_cv, manual_cv_ok, manual_mean_ok;
    int fail_rows, fail_msg_ok, fail_aggregates;
    int rows, max_rep_index;
} seen;

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void sink(const sg_gb_result *r, void *user) {
    seen *s = (seen *)user;
    s->rows++;
    int agg = strcmp(r->run_type, "aggregate") == 0;
    if (!agg && r->repetition_index > s->max_rep_index) s->max_rep_index = r->repetition_index;
    if (starts_with(r->name, "gb_sum/4096")) {
        if (!agg) {
            s->sum_iter_rows++;
            if (r->bytes_per_second > 0 && r->real_time_ns > 0 && r->iterations > 0)
                s->sum_bytes_ok++;
        } else if (strcmp(r->aggregate, "cv") == 0) {
            s->sum_cv_rows++;
            /* a fraction, not nanoseconds: the time fields are NaN */
            if (r->is_cv && r->cv_real >= 0 && r->cv_real < 1 && r->cv_cpu >= 0 &&
                isnan(r->real_time_ns) && isnan(r->cpu_time_ns))
                s->sum_cv_ok++;
        }
    } else if (starts_with(r->name, "gb_manual")) {
        if (!agg) {
            s->manual_iter_rows++;
            if (fabs(r->real_time_ns - 1e6) <= 1e4 && !r->is_cv && isnan(r->cv_real))
                s->manual_time_ok++;
            double want = FRAMES_PER_ITER / MANUAL_SECONDS; /* frames per (manual) second */
            if (r->ncounters == 1 && strcmp(r->counter_names[0], "frames") == 0 &&
                fabs(r->counter_values[0] - want) <= 0.01 * want)
                s->manual_counter_ok++;
        } else if (strcmp(r->aggregate, "mean") == 0) {
            s->manual_mean++;
            if (fabs(r->real_time_ns - 1e6) <= 1e4 && r->repetition_index == -1)
                s->manual_mean_ok++;
        } else if (strcmp(r->aggregate, "median") == 0) {
            s->manual_median++;
        } else if (strcmp(r->aggregate, "stddev") == 0) {
            s->manual_stddev++;
        } else if (strcmp(r->aggregate, "cv") == 0) {
            s->manual_cv++;
            /* identical 1 ms repetitions: no variation */
            if (r->is_cv && fabs(r->cv_real) < 1e-6 && isnan(r->real_time_ns)) s->manual_cv_ok++;
        }
    } else if (starts_with(r->name, "gb_fail")) {
        if (agg) {
            s->fail_aggregates++;
        } else if (r->error) {
            s->fail_rows++;
            if (strcmp(r->error_message, "output failed validation") == 0) s->fail_msg_ok++;
        }
    }
}

static long file_size_with(const char *path, const char *needle, int *found) {
    *found = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    *found = strstr(buf, needle) != NULL;
    return (long)n;
}

int main(void) {
    tu_fill(g_data, SUM_N, 42, 1, -1.0f, 1.0f);

    sg_gb_spec sum = {.name = "gb_sum", .fn = bm_sum, .user = g_data, .args = {SUM_N}, .nargs = 1};
    sg_gb_spec manual = {.name = "gb_manual", .fn = bm_manual, .manual_time = 1};
    sg_gb_spec fail = {.name = "gb_fail", .fn = bm_fail};
    CHECK(sg_gb_register(&sum) == 0, "first id");
    CHECK(sg_gb_register(&manual) == 1, "second id");
    CHECK(sg_gb_register(&fail) == 2, "third id");

    char json[512], out_flag[600];
    snprintf(json, sizeof json, "%s/gb_%d.json", tu_tmpdir(), (int)getpid());
    snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", json);
    char *argv1[] = {"test", "--benchmark_repetitions=3", "--benchmark_min_time=0.01", out_flag,
                     "--benchmark_out_format=json", NULL};
    seen s1 = {0};
    sg_err err = {{0}};
    int n = sg_gb_run(5, argv1, sink, &s1, 1, &err);
    CHECK(n == 3, "ran %d benchmarks: %s", n, err.msg);
    CHECK(s1.sum_iter_rows == 3 && s1.sum_bytes_ok == 3, "sum rows %d, with bytes/s %d",
          s1.sum_iter_rows, s1.sum_bytes_ok);
    CHECK(s1.sum_cv_rows == 1 && s1.sum_cv_ok == 1, "sum cv rows %d ok %d", s1.sum_cv_rows,
          s1.sum_cv_ok);
    CHECK(s1.manual_iter_rows == 3 && s1.manual_time_ok == 3,
          "manual rows %d, at 1e6 ns %d", s1.manual_iter_rows, s1.manual_time_ok);
    CHECK(s1.manual_counter_ok == 3, "rate counter right in %d rows", s1.manual_counter_ok);
    CHECK(s1.manual_mean == 1 && s1.manual_mean_ok == 1, "mean rows %d ok %d", s1.manual_mean,
          s1.manual_mean_ok);
    CHECK(s1.manual_median == 1 && s1.manual_stddev == 1, "median %d stddev %d",
          s1.manual_median, s1.manual_stddev);
    CHECK(s1.manual_cv == 1 && s1.manual_cv_ok == 1, "cv rows %d ok %d", s1.manual_cv,
          s1.manual_cv_ok);
    CHECK(s1.fail_rows >= 1 && s1.fail_msg_ok == s1.fail_rows, "error rows %d, message ok %d",
          s1.fail_rows, s1.fail_msg_ok);
    CHECK(s1.fail_aggregates == 0, "aggregates of a failed benchmark: %d", s1.fail_aggregates);
    CHECK(s1.max_rep_index == 2, "highest repetition index %d", s1.max_rep_index);
    int found = 0;
    long size = file_size_with(json, "\"benchmarks\"", &found);
    CHECK(size > 0 && found, "%s: size %ld, has \"benchmarks\": %d", json, size, found);
    file_size_with(json, "gb_manual/manual_time_cv", &found);
    CHECK(found, "%s lacks the cv row", json);

    /* Without --benchmark_out (the library would exit(1) if handed a file reporter now), and
     * none of the first run's flags carry over: one repetition, no file written. */
    remove(json);
    char *argv2[] = {"test", "--benchmark_filter=gb_manual", NULL};
    seen s2 = {0};
    n = sg_gb_run(2, argv2, sink, &s2, 1, &err);
    CHECK(n == 1, "second run: %d benchmarks: %s", n, err.msg);
    CHECK(s2.rows == 1 && s2.manual_iter_rows == 1 && s2.manual_time_ok == 1,
          "second run rows %d, manual %d ok %d", s2.rows, s2.manual_iter_rows, s2.manual_time_ok);
    CHECK(access(json, F_OK) != 0, "%s was written again without --benchmark_out", json);

    /* Bad flags: an error naming the flag, not an exit. */
    char *bad_rep[] = {"test", "--benchmark_repetitions=three", NULL};
    n = sg_gb_run(2, bad_rep, sink, &s2, 1, &err);
    CHECK(n == -1 && strstr(err.msg, "--benchmark_repetitions=three"), "%d: %s", n, err.msg);
    char *bad_fmt[] = {"test", "--benchmark_out_format=xml", NULL};
    n = sg_gb_run(2, bad_fmt, sink, &s2, 1, &err);
    CHECK(n == -1 && strstr(err.msg, "xml"), "%d: %s", n, err.msg);
    char *bad_out[] = {"test", "--benchmark_out=/nonexistent-dir/x.json", NULL};
    n = sg_gb_run(2, bad_out, sink, &s2, 1, &err);
    CHECK(n == -1 && strstr(err.msg, "/nonexistent-dir/x.json"), "%d: %s", n, err.msg);
    CHECK(s2.rows == 1, "a refused run still ran benchmarks (%d rows)", s2.rows);
    return test_finish();
}
