/* tests/theory/test_theory_figures.c: `stopgrad theory figures` writes every figure: its CSV
 * data, its gnuplot script and (when gnuplot is installed, as Debian's gnuplot-nox) a PNG, and
 * the figures.csv index. Without gnuplot the PNG part cannot be checked here and the test
 * runs --no-render instead, saying so. */
#include "cli_capture.h" /* first: it sets _POSIX_C_SOURCE */

#include <sys/stat.h>

#include "core/base/csv.h"
#include "core/theory/figures.h"

static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(void) {
    int render = tu_have_program("gnuplot");
    if (!render) printf("note: gnuplot not on PATH: checking --no-render output only\n");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/theory_figures", tu_tmpdir());
    int rc =
        run_cli(render ? (const char *[]){"theory", "figures", "--out", dir, NULL}
                       : (const char *[]){"theory", "figures", "--no-render", "--out", dir, NULL});
    CHECK(rc == 0, "figures: rc %d: %s", rc, cap_err);
    char idx[4300];
    snprintf(idx, sizeof idx, "%s/figures.csv", dir);
    sg_csv_table t;
    sg_err err;
    CHECK(sg_csv_read(idx, &t, &err) == 0, "%s", err.msg);
    CHECK(t.nrows == (size_t)sg_th_figure_count(), "index rows %zu", t.nrows);
    int cf = sg_csv_col(&t, "figure"), cd = sg_csv_col(&t, "data"),
        cp = sg_csv_col(&t, "parameters");
    CHECK(cf >= 0 && cd >= 0 && cp >= 0, "index columns");
    for (size_t r = 0; r < t.nrows && cf >= 0 && cd >= 0 && cp >= 0; r++) {
        const char *name = sg_csv_cell(&t, r, cf);
        CHECK(strcmp(name, sg_th_figure_name((int)r)) == 0, "row %zu: %s", r, name);
        CHECK(strlen(sg_csv_cell(&t, r, cp)) > 20, "%s: parameters missing", name);
        char p[4500];
        snprintf(p, sizeof p, "%s/%s.gp", dir, name);
        CHECK(file_size(p) > 200, "%s: script", p);
        /* Every data file named in the index exists and has rows beyond its header. */
        char data[1024];
        snprintf(data, sizeof data, "%s", sg_csv_cell(&t, r, cd));
        for (char *save = NULL, *d = strtok_r(data, " ", &save); d;
             d = strtok_r(NULL, " ", &save)) {
            snprintf(p, sizeof p, "%s/%s", dir, d);
            sg_csv_table dt;
            CHECK(sg_csv_read(p, &dt, &err) == 0, "%s", err.msg);
            CHECK(dt.nrows >= 3, "%s: %zu rows", p, dt.nrows);
            if (dt.nrows) sg_csv_table_free(&dt);
        }
        if (render) {
            snprintf(p, sizeof p, "%s/%s.png", dir, name);
            unsigned char magic[8] = {0};
            FILE *f = fopen(p, "rb");
            size_t n = f ? fread(magic, 1, 8, f) : 0;
            if (f) fclose(f);
            CHECK(n == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", p);
            CHECK(file_size(p) > 10000, "%s: only %ld bytes", p, file_size(p));
            CHECK(strstr(cap_out, name) != NULL, "stdout does not list %s", name);
        }
    }
    if (t.nrows) sg_csv_table_free(&t);
    return test_finish();
}
