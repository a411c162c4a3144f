/* tests/core/test_machine.c: the machine probe, its stable id, its CSV row and the XML export. */
#define _DEFAULT_SOURCE /* getpid, mkdir with -std=c11 */
#include <ctype.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/machine.h"
#include "test_util.h"

static int is_hex16(const char *s) {
    if (strlen(s) != 16) return 0;
    for (int i = 0; i < 16; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

static int trimmed(const char *s) {
    size_t n = strlen(s);
    return n > 0 && !isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1]);
}

/* Every column of a written machine row reads back as the struct's value. */
static void check_csv(const sg_machine *m, const char *path) {
    sg_err err = {{0}};
    int rc = sg_machine_write_csv(m, path, &err);
    CHECK(rc == 0, "write_csv: %s", err.msg);
    sg_csv_table t;
    rc = sg_csv_read(path, &t, &err);
    CHECK(rc == 0, "read back: %s", err.msg);
    if (rc != 0) return;
    CHECK(t.ncols == sg_machine_ncols() && t.nrows == 1, "shape %d x %zu", t.ncols, t.nrows);
    const char *const *h = sg_machine_header();
    for (int c = 0; c < t.ncols && c < sg_machine_ncols(); c++)
        CHECK(strcmp(t.header[c], h[c]) == 0, "header %d: [%s] vs [%s]", c, t.header[c], h[c]);
    struct {
        const char *col;
        char want[400];
    } exp[23];
    int n = 0;
#define STR(name)                                                                            \
    (exp[n].col = #name, snprintf(exp[n].want, sizeof exp[n].want, "%s", m->name), n++)
#define NUM(name)                                                                            \
    (exp[n].col = #name,                                                                     \
     snprintf(exp[n].want, sizeof exp[n].want, "%lld", (long long)m->name), n++)
    STR(machine_id);
    STR(cpu_model);
    NUM(packages);
    NUM(cores);
    NUM(pus);
    NUM(numa_nodes);
    NUM(l1d_bytes);
    NUM(l2_bytes);
    NUM(l3_bytes);
    NUM(memory_bytes);
    STR(os);
    STR(compiler);
    STR(build_flags);
    STR(build_type);
    STR(git_commit);
    STR(openblas_config);
    STR(openblas_parallel);
    NUM(threads);
    STR(accelerator);
    NUM(ranks);
    NUM(ranks_per_node);
    STR(mpi);
    STR(nccl);
#undef STR
#undef NUM
    CHECK(n == sg_machine_ncols(), "this test knows %d columns, the header has %d", n,
          sg_machine_ncols());
    for (int i = 0; i < n && t.nrows == 1; i++) {
        int c = sg_csv_col(&t, exp[i].col);
        CHECK(c >= 0, "column %s missing", exp[i].col);
        if (c >= 0)
            CHECK(strcmp(sg_csv_cell(&t, 0, c), exp[i].want) == 0, "%s: [%s] vs [%s]", exp[i].col,
                  sg_csv_cell(&t, 0, c), exp[i].want);
    }
    sg_csv_table_free(&t);
}

int main(void) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/test_machine_%ld", tu_tmpdir(), (long)getpid());
    if (mkdir(dir, 0777) != 0) {
        fprintf(stderr, "cannot create %s\n", dir);
        return 2;
    }

    sg_machine m, m2, m3;
    sg_err err = {{0}};
    int rc = sg_machine_probe(&m, 3, &err);
    CHECK(rc == 0, "probe: %s", err.msg);
    if (rc != 0) return test_finish();
    sg_machine_print(&m, stdout);

    CHECK(m.packages >= 1, "packages %d", m.packages);
    CHECK(m.cores >= m.packages, "cores %d < packages %d", m.cores, m.packages);
    CHECK(m.pus >= m.cores, "pus %d < cores %d", m.pus, m.cores);
    CHECK(m.numa_nodes >= 1, "numa nodes %d", m.numa_nodes);
    CHECK(m.memory_bytes > 0, "memory %lld", m.memory_bytes);
    CHECK(m.l1d_bytes >= 0 && m.l2_bytes >= 0 && m.l3_bytes >= 0, "caches %lld %lld %lld",
          m.l1d_bytes, m.l2_bytes, m.l3_bytes);
    CHECK(trimmed(m.cpu_model), "cpu_model [%s]", m.cpu_model);
    CHECK(trimmed(m.os), "os [%s]", m.os);
    CHECK(trimmed(m.compiler), "compiler [%s]", m.compiler);
    CHECK(trimmed(m.git_commit), "git_commit [%s]", m.git_commit);
    CHECK(trimmed(m.openblas_config), "openblas_config [%s]", m.openblas_config);
    CHECK(strcmp(m.openblas_parallel, "sequential") == 0 ||
              strcmp(m.openblas_parallel, "pthreads") == 0 ||
              strcmp(m.openblas_parallel, "openmp") == 0,
          "openblas_parallel [%s]", m.openblas_parallel);
    CHECK(m.threads == 3, "threads %d", m.threads);
    CHECK(is_hex16(m.machine_id), "machine_id [%s]", m.machine_id);

    /* the id depends on the hardware only: a second probe and another thread count agree */
    rc = sg_machine_probe(&m2, 3, &err);
    CHECK(rc == 0 && strcmp(m.machine_id, m2.machine_id) == 0, "second probe id %s vs %s",
          m2.machine_id, m.machine_id);
    rc = sg_machine_probe(&m3, 17, &err);
    CHECK(rc == 0 && m3.threads == 17 && strcmp(m.machine_id, m3.machine_id) == 0,
          "id with 17 threads %s vs %s", m3.machine_id, m.machine_id);
    CHECK(strcmp(m.cpu_model, m2.cpu_model) == 0 && m.pus == m2.pus, "probes disagree");

    /* header width == row width */
    sg_csv_row row;
    sg_csv_row_init(&row);
    sg_csv_row_str(&row, "leading field");
    sg_machine_row(&m, &row);
    CHECK(row.nfields == 1 + sg_machine_ncols(), "row %d fields, header %d", row.nfields,
          sg_machine_ncols());
    sg_csv_row_free(&row);
    const char *const *h = sg_machine_header();
    CHECK(sg_machine_ncols() == 23 && strcmp(h[0], "machine_id") == 0 &&
              strcmp(h[17], "threads") == 0 && strcmp(h[18], "accelerator") == 0,
          "header: %d columns", sg_machine_ncols());

    /* the job's ranks are recorded, and are not part of the hardware's id */
    sg_machine j = m;
    sg_machine_set_ranks(&j, 8, 4, "Open MPI v4.1.4", "2.21.5");
    CHECK(j.ranks == 8 && j.ranks_per_node == 4 && !strcmp(j.mpi, "Open MPI v4.1.4") &&
              !strcmp(j.nccl, "2.21.5") && !strcmp(j.machine_id, m.machine_id),
          "ranks %d/%d mpi [%s] nccl [%s] id %s", j.ranks, j.ranks_per_node, j.mpi, j.nccl,
          j.machine_id);
    CHECK(m.ranks == 1 && m.ranks_per_node == 1 && !m.mpi[0], "a probe is one rank: %d/%d [%s]",
          m.ranks, m.ranks_per_node, m.mpi);

    /* an accelerator joins the machine id: a GPU's results compare only with the same GPU's */
    sg_machine g = m;
    sg_machine_set_accelerator(&g, "NVIDIA Test GPU, cc 9.0", "NVIDIA Test GPU|9.0|132|140");
    CHECK(strcmp(g.machine_id, m.machine_id) != 0 && strcmp(g.accelerator, "NVIDIA Test GPU, cc 9.0") == 0,
          "accelerator changes the id (%s vs %s)", g.machine_id, m.machine_id);
    sg_machine h2 = m;
    sg_machine_set_accelerator(&h2, "", "");
    CHECK(strcmp(h2.machine_id, m.machine_id) == 0, "no accelerator keeps the CPU id");

    snprintf(path, sizeof path, "%s/machine.csv", dir);
    check_csv(&m, path);
    unlink(path);

    snprintf(path, sizeof path, "%s/topology.xml", dir);
    rc = sg_machine_write_xml(path, &err);
    CHECK(rc == 0, "write_xml: %s", err.msg);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (f) {
        char head[6] = {0};
        size_t n = fread(head, 1, 5, f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fclose(f);
        CHECK(n == 5 && strcmp(head, "<?xml") == 0, "xml starts with [%s]", head);
        CHECK(size > 100, "xml is %ld bytes", size);
    }
    unlink(path);

    /* missing folders are created */
    snprintf(path, sizeof path, "%s/new/sub/topology.xml", dir);
    CHECK(sg_machine_write_xml(path, &err) == 0 && access(path, R_OK) == 0,
          "xml into a new folder: %s", err.msg);
    unlink(path);
    snprintf(path, sizeof path, "%s/new/sub/machine.csv", dir);
    CHECK(sg_machine_write_csv(&m, path, &err) == 0 && access(path, R_OK) == 0,
          "csv into a new folder: %s", err.msg);
    unlink(path);
    snprintf(path, sizeof path, "%s/new/sub", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/new", dir);
    rmdir(path);

    /* an unwritable destination (a file where a folder should be) is reported with its path */
    char blocker[1100];
    snprintf(blocker, sizeof blocker, "%s/a_file", dir);
    FILE *bf = fopen(blocker, "w");
    CHECK(bf != NULL, "made %s", blocker);
    if (bf) fclose(bf);
    snprintf(path, sizeof path, "%s/a_file/topology.xml", dir);
    memset(&err, 0, sizeof err);
    rc = sg_machine_write_xml(path, &err);
    CHECK(rc == -1 && strstr(err.msg, path) != NULL, "xml error: %s", err.msg);
    snprintf(path, sizeof path, "%s/a_file/machine.csv", dir);
    memset(&err, 0, sizeof err);
    rc = sg_machine_write_csv(&m, path, &err);
    CHECK(rc == -1 && strstr(err.msg, path) != NULL, "csv error: %s", err.msg);
    unlink(blocker);

    rmdir(dir);
    return test_finish();
}
