/* core/base/machine.h: a description of the machine, written with every result.
 *
 * Hardware from hwloc (CPU model from the Package object, trimmed; packages, cores, PUs, NUMA
 * nodes, cache sizes, memory), the OS, the build (compiler, flags, git commit), OpenBLAS's own
 * config string and threading, and the thread count in use. machine_id is a stable 16-hex-digit
 * hash of the hardware part only (model, counts, caches, memory), so runs on the same hardware
 * compare across builds and OS updates. */
#pragma once
#include <stdio.h>

#include "core/base/csv.h"
#include "core/base/err.h"

typedef struct {
    char machine_id[17];
    char cpu_model[128];
    int packages, cores, pus, numa_nodes;
    long long l1d_bytes, l2_bytes, l3_bytes; /* per cache instance; 0 when unknown */
    long long memory_bytes;
    char os[160];           /* e.g. "Linux 6.1.0-18-amd64 x86_64 (Debian GNU/Linux 12)" */
    char compiler[64];
    char build_flags[256];
    char build_type[32];
    char git_commit[48];
    char openblas_config[256];  /* openblas_get_config() */
    char openblas_parallel[16]; /* "sequential", "pthreads", "openmp" */
    int threads;
    char accelerator[320];     /* the device of the run's backend ("" on the CPU backend) */
    char accelerator_key[160]; /* its hardware part, mixed into machine_id */
    /* the data-parallel job (core/dist): 1, 1, "" and "" for a single process */
    int ranks, ranks_per_node;
    char mpi[160];             /* the MPI library's version */
    char nccl[32];             /* NCCL's version, when the CUDA backend all-reduces with it */
} sg_machine;

/* Probes the machine; threads is the count this run uses (recorded, not applied). */
int sg_machine_probe(sg_machine *m, int threads, sg_err *err);
/* Records the accelerator a run uses (kernels' sg_backend_device) and folds its hardware part
 * (`key`) into machine_id, so a GPU's results compare only with the same GPU's. */
void sg_machine_set_accelerator(sg_machine *m, const char *description, const char *key);
/* Records the job the run belongs to: world size, ranks on this node, the MPI library and (on
 * the CUDA backend) NCCL's version ("" when none). Not part of machine_id: the hardware. */
void sg_machine_set_ranks(sg_machine *m, int ranks, int ranks_per_node, const char *mpi,
                          const char *nccl);
/* Human-readable, one "name: value" per line. */
void sg_machine_print(const sg_machine *m, FILE *f);

/* The machine columns that every result row carries (prefixed "machine_" where ambiguous). */
int sg_machine_ncols(void);
const char *const *sg_machine_header(void);
void sg_machine_row(const sg_machine *m, sg_csv_row *row); /* appends sg_machine_ncols fields */

int sg_machine_write_csv(const sg_machine *m, const char *path, sg_err *err);
/* hwloc's own XML export of the topology, written atomically. */
int sg_machine_write_xml(const char *path, sg_err *err);

/* A CSV header of cols[0..n) followed by the machine columns, built on first use into the
 * caller's static storage hdr[cap] (cap >= n + sg_machine_ncols()); returns hdr. The writers of
 * rows that carry the machine description (results, the kernel suite) share it. */
const char *const *sg_machine_join_header(const char *const *cols, int n, const char **hdr,
                                          int cap);
