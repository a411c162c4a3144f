/* tests/bench/test_report.c: `stopgrad report` (bench/report.h) on two synthetic kernel-suite
 * CSVs with the real header (sg_kb_header): a CPU machine and a GPU machine. Checked: the
 * markdown has both machine columns with their labels, one row per step, ceiling and kernel
 * (the union of both files), known values formatted, "-" where a file did not measure a
 * kernel and the status where it failed; the other metrics; an existing report is refused
 * without force; a missing gnuplot writes the markdown and says what the PNG needs; input errors
 * name the file, line and column. The PNG itself (its signature) is checked when gnuplot is
 * installed, as scripts/setup.sh does; otherwise the test says that part was not checked. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid, access, strtok_r */
#include <sys/stat.h>
#include <unistd.h>

#include "bench/kbench.h"
#include "bench/report.h"
#include "core/base/csv.h"
#include "core/base/machine.h"
#include "test_util.h"

static char tmp[1024];

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp, name);
}

/* A row: "column=value" strings, NULL-terminated; unnamed columns are empty, machine columns
 * "fixed" unless named. */
typedef struct {
    const char *kv[16];
} syn_row;

static const char *lookup(const syn_row *r, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < 16 && r->kv[i]; i++)
        if (!strncmp(r->kv[i], name, n) && r->kv[i][n] == '=') return r->kv[i] + n + 1;
    return NULL;
}

static void write_suite(const char *path, const char *const *machine, const syn_row *rows, int n) {
    int nc = sg_kb_ncols(), nm = sg_machine_ncols();
    const char *const *h = sg_kb_header();
    sg_csv_row *out = tu_alloc((size_t)n * sizeof *out);
    for (int i = 0; i < n; i++) {
        sg_csv_row_init(&out[i]);
        for (int c = 0; c < nc; c++) {
            const char *v = lookup(&rows[i], h[c]);
            if (!v)
                for (int k = 0; machine[k]; k += 2)
                    if (!strcmp(machine[k], h[c])) v = machine[k + 1];
            if (!v) v = !strcmp(h[c], "status") ? "ok" : c >= nc - nm ? "fixed" : "";
            sg_csv_row_str(&out[i], v);
        }
    }
    sg_err err;
    if (sg_csv_write_atomic(path, nc, h, out, (size_t)n, &err)) {
        fprintf(stderr, "cannot write %s: %s\n", path, err.msg);
        exit(2);
    }
    for (int i = 0; i < n; i++) sg_csv_row_free(&out[i]);
    free(out);
}

static const char *const MACHINE_CPU[] = {"backend",     "cpu",
                                          "machine_id",  "54f67cf3ee32866a",
                                          "cpu_model",   "AMD EPYC(TM) 7B13",
                                          "accelerator", "",
                                          "threads",     "2",
                                          NULL};
static const char *const MACHINE_GPU[] = {
    "backend",     "cuda",
    "machine_id",  "6c899cfafdba70aa",
    "cpu_model",   "Intel(R) Xeon(R) Processor",
    "accelerator", "NVIDIA H200, cc 9.0, 132 SMs, 139.8 GiB, driver 13.0",
    "threads",     "16",
    NULL};

#define CONV "N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1"
#define BN "N=64,C=8,HW=400,affine=1,running=1"
#define LIN "N=64,In=64,Out=512,bias=1"

static const syn_row CPU_ROWS[] = {
    {{"kind=ceiling", "kernel=sgemm", "shape=M=1024,N=1024,K=1024,ldpad=0", "median_s=0.0108",
      "gflops=199.18787", "rep_times_s=0.0108;0.0109", NULL}},
    {{"kind=ceiling", "kernel=copy", "shape=mib=128", "median_s=0.0123", "gbs=21.887178",
      "rep_times_s=0.0123;0.0124", NULL}},
    {{"kind=kernel", "config=fmnist", "kernel=conv2d_fwd", "shape=" CONV, "median_s=0.00122",
      "gflops=24.095546", "frac_sgemm=0.121", "share_of_step=0.14", "flops=29396582",
      "bytes=500000", NULL}},
    {{"kind=kernel", "config=fmnist", "kernel=batchnorm_fwd_train", "shape=" BN,
      "median_s=8.63e-05", "gflops=18.980244", "frac_sgemm=0.0953", "share_of_step=0.012", NULL}},
    {{"kind=kernel", "config=fmnist", "kernel=relu_fwd", "shape=n=204800,inplace=1",
      "median_s=5.11e-05", "gflops=4.0049425", "share_of_step=0.0073", "flops=204800",
      "bytes=1638400", NULL}},
    {{"kind=augment", "config=fmnist", "kernel=aug_hflip", "shape=C=3,H=20,W=20,inplace=1",
      "median_s=2e-07", NULL}},
    {{"kind=eigen_update", "config=fmnist", "kernel=directpred_eigen_update", "shape=D=128",
      "median_s=3.3e-05", NULL}},
    {{"kind=step", "config=fmnist", "kernel=step", "shape=batch=64", "median_s=0.1", "gflops=30.27",
      "share_of_step=1", NULL}},
    {{"kind=step_overhead", "config=fmnist", "kernel=outside_kernels", "shape=batch=64",
      "median_s=0.0079", NULL}},
};
static const syn_row GPU_ROWS[] = {
    {{"kind=ceiling", "kernel=sgemm", "shape=M=4096,N=4096,K=4096,ldpad=0", "median_s=0.00275",
      "gflops=49993.682", NULL}},
    {{"kind=ceiling", "kernel=copy", "shape=mib=1024", "median_s=0.000512", "gbs=4193.9", NULL}},
    {{"kind=kernel", "config=fmnist", "kernel=conv2d_fwd", "shape=" CONV, "median_s=3.4e-05",
      "gflops=866.6", "frac_sgemm=0.0173", "share_of_step=0.04", "flops=29396582",
      "bytes=500000", NULL}},
    {{"kind=kernel", "config=fmnist", "kernel=batchnorm_fwd_train", "shape=" BN, "status=error",
      "message=shape parameter out of range", NULL}},
    {{"kind=kernel", "config=fmnist", "kernel=linear_fwd", "shape=" LIN, "median_s=2.3e-05",
      "gflops=90.494357", "share_of_step=0.004", NULL}},
    {{"kind=step", "config=fmnist", "kernel=step", "shape=batch=64", "median_s=0.0063797823",
      "share_of_step=1", NULL}},
    {{"kind=step", "config=stl10", "kernel=step", "shape=batch=128", "median_s=0.048017952",
      "share_of_step=1", NULL}},
};

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = tu_alloc(1 << 20);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = 0;
    fclose(f);
    return s;
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, len)) n++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return n;
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/report_%d", tu_tmpdir(), (int)getpid());
    if (mkdir(tmp, 0777) != 0) {
        fprintf(stderr, "cannot create %s\n", tmp);
        return 2;
    }
    char pa[1100], pb[1100], dir[1100];
    path_of(pa, sizeof pa, "cpu.csv");
    path_of(pb, sizeof pb, "gpu.csv");
    path_of(dir, sizeof dir, "out/nested");
    write_suite(pa, MACHINE_CPU, CPU_ROWS, (int)(sizeof CPU_ROWS / sizeof CPU_ROWS[0]));
    write_suite(pb, MACHINE_GPU, GPU_ROWS, (int)(sizeof GPU_ROWS / sizeof GPU_ROWS[0]));
    const char *inputs[] = {pa, pb};
    int gnuplot = tu_have_program("gnuplot");
    sg_report_opts o = {.inputs = inputs, .ninputs = 2, .out_dir = dir, .metric = SG_REPORT_GFLOPS};
    /* without gnuplot, name one that is not there so the error path is the one taken */
    if (!gnuplot) o.gnuplot = "/nonexistent/gnuplot";
    sg_report_summary s;
    sg_err err;
    int rc = sg_report_write(&o, &s, &err);
    CHECK(rc == (gnuplot ? 0 : 1), "report: rc %d: %s", rc, rc ? err.msg : "");
    if (rc >= 0) {
        CHECK(s.ncolumns == 2 && s.nsteps == 2 && s.nceilings == 2 && s.nkernels == 4 &&
                  s.nrows == 8,
              "rows: %d columns, %d steps, %d ceilings, %d kernels, %d rows", s.ncolumns, s.nsteps,
              s.nceilings, s.nkernels, s.nrows);
        char *md = slurp(s.md_path);
        CHECK(md != NULL, "%s not written", s.md_path);
        if (md) {
            CHECK(strstr(md, "| kind | config | kernel | shape | unit | cpu AMD EPYC 7B13 "
                             "(54f67c) | cuda NVIDIA H200 (6c899c) |"),
                  "table header with both machine labels:\n%s", md);
            CHECK(count_lines_starting(md, "| step |") == 2 &&
                      count_lines_starting(md, "| ceiling |") == 2 &&
                      count_lines_starting(md, "| kernel |") == 4,
                  "markdown rows: %d steps, %d ceilings, %d kernels",
                  count_lines_starting(md, "| step |"), count_lines_starting(md, "| ceiling |"),
                  count_lines_starting(md, "| kernel |"));
            /* steps first, then ceilings, then kernels */
            const char *st = strstr(md, "\n| step |"), *ce = strstr(md, "\n| ceiling |"),
                       *ke = strstr(md, "\n| kernel |");
            CHECK(st && ce && ke && st < ce && ce < ke, "row order: steps, ceilings, kernels");
            /* img/s = 64 / 0.1 and 64 / 0.0063797823; GFLOP/s formatted; "-" and "error" */
            CHECK(strstr(md, "| step | fmnist | step | batch=64 | img/s | 640.0 | 10031.7 |"),
                  "step row:\n%s", md);
            CHECK(strstr(md, "| step | stl10 | step | batch=128 | img/s | - | 2665.7 |"),
                  "step only on the GPU:\n%s", md);
            CHECK(strstr(md, "| kernel | fmnist | conv2d_fwd | " CONV " | GFLOP/s | 24.10 | "
                             "866.6 |"),
                  "conv2d_fwd row:\n%s", md);
            /* roofline: intensity 58.79 FLOP/byte; CPU roof min(199.19, 58.79 x 21.89) = 199.19,
             * 24.10 / 199.19 = 0.121; GPU roof min(49993.7, 58.79 x 4193.9 = 246576) = 49993.7,
             * 866.6 / 49993.7 = 0.0173. relu: 0.125 FLOP/byte under the CPU's copy slope:
             * roof 0.125 x 21.887 = 2.736, 4.005 / 2.736 = 1.46 (in cache, above the memory
             * roof); not measured on the GPU. */
            CHECK(strstr(md, "| 866.6 | 58.79 | 0.121 | 0.0173 |"), "conv2d_fwd roofline:\n%s", md);
            CHECK(strstr(md, "| 4.00 | - | 0.125 | 1.46 | - |"), "relu_fwd roofline:\n%s", md);
            CHECK(strstr(md, "cpu AMD EPYC 7B13 (54f67c): of roofline |") &&
                      strstr(md, "| cpu AMD EPYC 7B13 (54f67c) | 199.2 | 21.89 | 9.10 | 2 |") &&
                      strstr(md, "| cuda NVIDIA H200 (6c899c) | 49993.7 | 4193.9 | 11.92 | 1 |"),
                  "roofline columns and ceilings:\n%s", md);
            CHECK(strstr(md, "| kernel | fmnist | batchnorm_fwd_train | " BN " | GFLOP/s | "
                             "18.98 | error |"),
                  "a kernel that failed on the GPU:\n%s", md);
            CHECK(strstr(md, "| kernel | fmnist | linear_fwd | " LIN " | GFLOP/s | - | 90.49 |"),
                  "a kernel only on the GPU:\n%s", md);
            CHECK(strstr(md, "| ceiling | - | sgemm | M=1024,N=1024,K=1024,ldpad=0 / "
                             "M=4096,N=4096,K=4096,ldpad=0 | GFLOP/s | 199.2 | 49993.7 |"),
                  "sgemm ceiling:\n%s", md);
            CHECK(strstr(md, "| ceiling | - | copy | mib=128 / mib=1024 | GB/s | 21.89 | 4193.9 |"),
                  "copy ceiling:\n%s", md);
            CHECK(!strstr(md, "aug_hflip") && !strstr(md, "outside_kernels"),
                  "augment and step_overhead rows are not in the report");
            free(md);
        }
        char *dat = slurp(s.dat_path);
        CHECK(dat && strstr(dat, "\n0 640 10031.6") && count_lines_starting(dat, "0 ") == 2,
              "report.dat:\n%s", dat ? dat : "(none)");
        free(dat);
        char *gp = slurp(s.gp_path);
        CHECK(gp && strstr(gp, "boxxyerror") && strstr(gp, "pngcairo") &&
                  strstr(gp, "cuda NVIDIA H200 (6c899c)"),
              "report.gp:\n%s", gp ? gp : "(none)");
        free(gp);
        CHECK(s.chart_steps == 2 && s.chart_kernels == 4, "chart: %d steps, %d kernels",
              s.chart_steps, s.chart_kernels);
        CHECK(s.roofline_charts == 2 && s.roofline_points == 3, "roofline: %d charts, %d points",
              s.roofline_charts, s.roofline_points);
        char *rgp = slurp(s.roofline_gp_path);
        CHECK(rgp && strstr(rgp, "set logscale xy") && strstr(rgp, "sgemm 199.2 GFLOP/s") &&
                  strstr(rgp, "58.7931") && strstr(rgp, "multiplot layout 1,2"),
              "roofline.gp:\n%s", rgp ? rgp : "(none)");
        free(rgp);
        if (gnuplot) {
            CHECK(s.png && tu_is_png(s.png_path), "%s is not a PNG", s.png_path);
            CHECK(s.roofline_png && tu_is_png(s.roofline_png_path), "%s is not a PNG",
                  s.roofline_png_path);
        } else {
            printf("note: gnuplot is not on PATH: report.png was not checked (scripts/setup.sh "
                   "installs gnuplot-nox)\n");
            CHECK(!s.png && strstr(err.msg, "needs gnuplot") && strstr(err.msg, "gnuplot-nox"),
                  "no gnuplot: %s", err.msg);
        }
    }

    /* an existing report is not overwritten without force */
    sg_report_summary s2;
    rc = sg_report_write(&o, &s2, &err);
    CHECK(rc == -1 && strstr(err.msg, "already exists") && strstr(err.msg, "--force"),
          "existing report: rc %d: %s", rc, err.msg);
    /* with force, the median metric (ms), and a gnuplot that is not there: markdown only */
    o.force = 1;
    o.metric = SG_REPORT_MEDIAN_S;
    o.gnuplot = "/nonexistent/gnuplot";
    rc = sg_report_write(&o, &s2, &err);
    CHECK(rc == 1 && strstr(err.msg, "needs gnuplot") && strstr(err.msg, "/nonexistent/gnuplot") &&
              strstr(err.msg, "scripts/setup.sh") && strstr(err.msg, "report.md"),
          "missing gnuplot: rc %d: %s", rc, err.msg);
    if (rc >= 0) {
        char *md = slurp(s2.md_path);
        CHECK(md && strstr(md, "| kernel | fmnist | conv2d_fwd | " CONV " | ms | 1.22 | 0.034 |"),
              "median metric:\n%s", md ? md : "(none)");
        free(md);
        CHECK(!s2.png && access(s2.png_path, F_OK) != 0,
              "an old report.png must not stay beside a new report.md");
    }
    o.metric = SG_REPORT_FRAC_SGEMM;
    rc = sg_report_write(&o, &s2, &err);
    if (rc >= 0) {
        char *md = slurp(s2.md_path);
        CHECK(md && strstr(md, "| kernel | fmnist | conv2d_fwd | " CONV " | x sgemm | 0.121 | "
                               "0.0173 |"),
              "frac_sgemm metric:\n%s", md ? md : "(none)");
        free(md);
    }
    CHECK(sg_report_metric_parse("gflops", &o.metric) == 0 && o.metric == SG_REPORT_GFLOPS &&
              sg_report_metric_parse("flops", &o.metric) == -1,
          "metric names");

    /* input errors: the file, and the line and column where there is one */
    char bad[1100];
    path_of(bad, sizeof bad, "bad.csv");
    const char *one[] = {bad};
    sg_report_opts ob = {.inputs = one, .ninputs = 1, .out_dir = dir, .force = 1};
    ob.inputs = (const char *[]){"/nonexistent/a.csv"};
    rc = sg_report_write(&ob, NULL, &err);
    CHECK(rc == -1 && strstr(err.msg, "/nonexistent/a.csv"), "missing file: rc %d: %s", rc,
          err.msg);
    ob.inputs = one;
    const char *hdr[] = {"backend", "kind", "config", "kernel", "shape", "status", "median_s"};
    sg_csv_row r;
    sg_csv_row_init(&r);
    for (int i = 0; i < 7; i++) sg_csv_row_str(&r, "x");
    if (sg_csv_write_atomic(bad, 7, hdr, &r, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    sg_csv_row_free(&r);
    rc = sg_report_write(&ob, NULL, &err);
    CHECK(rc == -1 && strstr(err.msg, bad) && strstr(err.msg, "'suite'"),
          "missing column: rc %d: %s", rc, err.msg);
    const syn_row nobatch[] = {
        {{"kind=kernel", "config=c", "kernel=k", "shape=n=1", "gflops=1", NULL}},
        {{"kind=step", "config=c", "kernel=step", "shape=n=64", "median_s=0.1", NULL}}};
    write_suite(bad, MACHINE_CPU, nobatch, 2);
    rc = sg_report_write(&ob, NULL, &err);
    CHECK(rc == -1 && strstr(err.msg, bad) && strstr(err.msg, "line 3") &&
              strstr(err.msg, "column shape") && strstr(err.msg, "batch=N"),
          "step without batch: rc %d: %s", rc, err.msg);
    const syn_row badnum[] = {
        {{"kind=kernel", "config=c", "kernel=k", "shape=n=1", "gflops=fast", NULL}}};
    write_suite(bad, MACHINE_CPU, badnum, 1);
    rc = sg_report_write(&ob, NULL, &err);
    CHECK(rc == -1 && strstr(err.msg, "line 2, column gflops") && strstr(err.msg, "'fast'"),
          "bad number: rc %d: %s", rc, err.msg);
    return test_finish();
}
