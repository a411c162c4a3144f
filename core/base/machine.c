/* core/base/machine.c: the machine description over hwloc, uname, /etc/os-release, the build's
 * generated build_info.h and OpenBLAS's own report. */
#define _GNU_SOURCE /* cpu_set_t in OpenBLAS's cblas.h; getpid, fsync with -std=c11 */
#include "core/base/machine.h"

#include "core/base/file.h"
#include "core/base/text.h"
#include "core/base/hash.h"

#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "build_info.h"

/* Copies s into dst[cap] without leading/trailing whitespace, truncating if needed. */
static void copy_trimmed(char *dst, size_t cap, const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strnlen(s, cap - 1); /* truncated to fit */
    memcpy(dst, s, n);
    dst[n] = '\0';
    sg_trim(dst); /* the source's trailing spaces, or those truncation left at the new end */
}

static long long cache_size(hwloc_topology_t topo, hwloc_obj_type_t type) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, type, 0);
    return obj && obj->attr ? (long long)obj->attr->cache.size : 0;
}

static int count_of(hwloc_topology_t topo, hwloc_obj_type_t type) {
    int n = hwloc_get_nbobjs_by_type(topo, type);
    return n > 0 ? n : 0;
}

/* PRETTY_NAME from /etc/os-release (unquoted), or "" when there is none. */
static void os_pretty_name(char *dst, size_t cap) {
    dst[0] = '\0';
    FILE *f = fopen("/etc/os-release", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) != 0) continue;
        char *v = line + 12;
        v[strcspn(v, "\r\n")] = '\0';
        size_t n = strlen(v);
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        copy_trimmed(dst, cap, v);
        break;
    }
    fclose(f);
}

/* The hardware part only, memory in whole GiB: the same machine gets the same id whatever the
 * build, OS update, thread count or a few MiB of kernel reservation. */
static void compute_machine_id(sg_machine *m) {
    char key[512];
    long long mem_gib = (m->memory_bytes + (1ll << 29)) >> 30;
    snprintf(key, sizeof key, "%s|%d|%d|%d|%d|%lld|%lld|%lld|%lld", m->cpu_model, m->packages,
             m->cores, m->pus, m->numa_nodes, m->l1d_bytes, m->l2_bytes, m->l3_bytes, mem_gib);
    uint64_t h = sg_fnv1a64_str(SG_FNV1A64_INIT, key);
    /* a run on an accelerator is a different machine to compare against */
    if (m->accelerator_key[0]) h = sg_fnv1a64_str(h, m->accelerator_key);
    snprintf(m->machine_id, sizeof m->machine_id, "%016llx", (unsigned long long)h);
}

void sg_machine_set_ranks(sg_machine *m, int ranks, int ranks_per_node, const char *mpi,
                          const char *nccl) {
    m->ranks = ranks;
    m->ranks_per_node = ranks_per_node;
    snprintf(m->mpi, sizeof m->mpi, "%s", mpi ? mpi : "");
    snprintf(m->nccl, sizeof m->nccl, "%s", nccl ? nccl : "");
}

void sg_machine_set_accelerator(sg_machine *m, const char *description, const char *key) {
    snprintf(m->accelerator, sizeof m->accelerator, "%s", description ? description : "");
    snprintf(m->accelerator_key, sizeof m->accelerator_key, "%s", key ? key : "");
    compute_machine_id(m);
}

static int load_topology(hwloc_topology_t *topo, const char *what, sg_err *err) {
    if (hwloc_topology_init(topo) != 0)
        return sg_errf(err, "%s: hwloc_topology_init failed: %s", what, strerror(errno));
    if (hwloc_topology_load(*topo) != 0) {
        int e = errno;
        hwloc_topology_destroy(*topo);
        return sg_errf(err, "%s: hwloc_topology_load failed: %s", what, strerror(e));
    }
    return 0;
}

int sg_machine_probe(sg_machine *m, int threads, sg_err *err) {
    memset(m, 0, sizeof *m);
    hwloc_topology_t topo;
    if (load_topology(&topo, "machine probe", err) != 0) return -1;

    hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
    const char *model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
    if (!model) model = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "CPUModel");
    copy_trimmed(m->cpu_model, sizeof m->cpu_model, model ? model : "");
    if (!m->cpu_model[0]) copy_trimmed(m->cpu_model, sizeof m->cpu_model, "unknown");

    m->packages = count_of(topo, HWLOC_OBJ_PACKAGE);
    m->cores = count_of(topo, HWLOC_OBJ_CORE);
    m->pus = count_of(topo, HWLOC_OBJ_PU);
    m->numa_nodes = count_of(topo, HWLOC_OBJ_NUMANODE);
    m->l1d_bytes = cache_size(topo, HWLOC_OBJ_L1CACHE);
    m->l2_bytes = cache_size(topo, HWLOC_OBJ_L2CACHE);
    m->l3_bytes = cache_size(topo, HWLOC_OBJ_L3CACHE);
    /* The kernel's count of physical pages first: hwloc sums the NUMA nodes' meminfo, which on
     * VMs with hot-plugged memory reports a fraction (seen: 5.7 GB of 24 GB). */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    m->memory_bytes = (pages > 0 && page > 0)
                          ? (long long)pages * page
                          : (long long)hwloc_get_root_obj(topo)->total_memory;
    hwloc_topology_destroy(topo);

    struct utsname u;
    char os[sizeof u.sysname + sizeof u.release + sizeof u.machine + 3];
    if (uname(&u) == 0)
        snprintf(os, sizeof os, "%s %s %s", u.sysname, u.release, u.machine);
    else
        copy_trimmed(os, sizeof os, "unknown");
    char pretty[128];
    os_pretty_name(pretty, sizeof pretty);
    char full[sizeof os + sizeof pretty + 4];
    snprintf(full, sizeof full, pretty[0] ? "%s (%s)" : "%s", os, pretty);
    copy_trimmed(m->os, sizeof m->os, full);

    copy_trimmed(m->compiler, sizeof m->compiler, SG_C_COMPILER);
    copy_trimmed(m->build_flags, sizeof m->build_flags, SG_BUILD_FLAGS);
    copy_trimmed(m->build_type, sizeof m->build_type, SG_BUILD_TYPE);
    copy_trimmed(m->git_commit, sizeof m->git_commit, SG_GIT_COMMIT);

    const char *cfg = openblas_get_config();
    copy_trimmed(m->openblas_config, sizeof m->openblas_config, cfg ? cfg : "");
    int par = openblas_get_parallel();
    const char *pname = par == OPENBLAS_SEQUENTIAL ? "sequential"
                        : par == OPENBLAS_THREAD   ? "pthreads"
                        : par == OPENBLAS_OPENMP   ? "openmp"
                                                   : "unknown";
    copy_trimmed(m->openblas_parallel, sizeof m->openblas_parallel, pname);
    m->threads = threads;
    m->ranks = m->ranks_per_node = 1;

    compute_machine_id(m);
    return 0;
}

void sg_machine_print(const sg_machine *m, FILE *f) {
    fprintf(f, "machine_id: %s\n", m->machine_id);
    fprintf(f, "cpu_model: %s\n", m->cpu_model);
    fprintf(f, "packages: %d\n", m->packages);
    fprintf(f, "cores: %d\n", m->cores);
    fprintf(f, "pus: %d\n", m->pus);
    fprintf(f, "numa_nodes: %d\n", m->numa_nodes);
    fprintf(f, "l1d_bytes: %lld\n", m->l1d_bytes);
    fprintf(f, "l2_bytes: %lld\n", m->l2_bytes);
    fprintf(f, "l3_bytes: %lld\n", m->l3_bytes);
    fprintf(f, "memory_bytes: %lld\n", m->memory_bytes);
    fprintf(f, "os: %s\n", m->os);
    fprintf(f, "compiler: %s\n", m->compiler);
    fprintf(f, "build_flags: %s\n", m->build_flags);
    fprintf(f, "build_type: %s\n", m->build_type);
    fprintf(f, "git_commit: %s\n", m->git_commit);
    fprintf(f, "openblas_config: %s\n", m->openblas_config);
    fprintf(f, "openblas_parallel: %s\n", m->openblas_parallel);
    fprintf(f, "threads: %d\n", m->threads);
    fprintf(f, "accelerator: %s\n", m->accelerator[0] ? m->accelerator : "none");
    fprintf(f, "ranks: %d (%d on this node)\n", m->ranks, m->ranks_per_node);
    fprintf(f, "mpi: %s\n", m->mpi[0] ? m->mpi : "none");
    fprintf(f, "nccl: %s\n", m->nccl[0] ? m->nccl : "none");
}

static const char *const machine_header[] = {
    "machine_id",   "cpu_model",   "packages",   "cores",           "pus",
    "numa_nodes",   "l1d_bytes",   "l2_bytes",   "l3_bytes",        "memory_bytes",
    "os",           "compiler",    "build_flags", "build_type",     "git_commit",
    "openblas_config", "openblas_parallel", "threads", "accelerator", "ranks",
    "ranks_per_node", "mpi", "nccl",
};
#define MACHINE_NCOLS ((int)(sizeof machine_header / sizeof machine_header[0]))

int sg_machine_ncols(void) { return MACHINE_NCOLS; }
const char *const *sg_machine_header(void) { return machine_header; }

void sg_machine_row(const sg_machine *m, sg_csv_row *row) {
    int before = row->nfields;
    sg_csv_row_str(row, m->machine_id);
    sg_csv_row_str(row, m->cpu_model);
    sg_csv_row_int(row, m->packages);
    sg_csv_row_int(row, m->cores);
    sg_csv_row_int(row, m->pus);
    sg_csv_row_int(row, m->numa_nodes);
    sg_csv_row_int(row, m->l1d_bytes);
    sg_csv_row_int(row, m->l2_bytes);
    sg_csv_row_int(row, m->l3_bytes);
    sg_csv_row_int(row, m->memory_bytes);
    sg_csv_row_str(row, m->os);
    sg_csv_row_str(row, m->compiler);
    sg_csv_row_str(row, m->build_flags);
    sg_csv_row_str(row, m->build_type);
    sg_csv_row_str(row, m->git_commit);
    sg_csv_row_str(row, m->openblas_config);
    sg_csv_row_str(row, m->openblas_parallel);
    sg_csv_row_int(row, m->threads);
    sg_csv_row_str(row, m->accelerator);
    sg_csv_row_int(row, m->ranks);
    sg_csv_row_int(row, m->ranks_per_node);
    sg_csv_row_str(row, m->mpi);
    sg_csv_row_str(row, m->nccl);
    SG_CHECK(row->nfields - before == MACHINE_NCOLS,
             "sg_machine_row wrote %d fields, header has %d", row->nfields - before, MACHINE_NCOLS);
}

int sg_machine_write_csv(const sg_machine *m, const char *path, sg_err *err) {
    sg_csv_row row;
    sg_csv_row_init(&row);
    sg_machine_row(m, &row);
    int rc = sg_csv_write_atomic(path, MACHINE_NCOLS, machine_header, &row, 1, err);
    sg_csv_row_free(&row);
    return rc;
}

int sg_machine_write_xml(const char *path, sg_err *err) {
    hwloc_topology_t topo;
    if (load_topology(&topo, path, err) != 0) return -1;
    /* hwloc writes the file by name: the temporary file's name, renamed into place */
    sg_atomic_file f;
    int rc = sg_atomic_open(&f, path, -1, err);
    if (rc == 0) {
        close(sg_atomic_release_fd(&f));
        if (hwloc_topology_export_xml(topo, f.tmp, 0) != 0) {
            rc = sg_errf(err, "%s: hwloc XML export to %s failed: %s", path, f.tmp,
                         strerror(errno));
            sg_atomic_abort(&f);
        } else {
            rc = sg_atomic_commit(&f, err);
        }
    }
    hwloc_topology_destroy(topo);
    return rc;
}

const char *const *sg_machine_join_header(const char *const *cols, int n, const char **hdr,
                                          int cap) {
    if (hdr[0] == NULL) {
        int nm = sg_machine_ncols();
        SG_CHECK(n + nm <= cap, "a header of %d + %d columns in %d", n, nm, cap);
        for (int i = 0; i < n; i++) hdr[i] = cols[i];
        for (int i = 0; i < nm; i++) hdr[n + i] = sg_machine_header()[i];
    }
    return hdr;
}
