/* core/dist/dist.h: the ranks of a data-parallel job (MPI), and the few collectives training
 * needs.
 *
 * `mpirun -np N stopgrad train ...` (or `srun -n N` under Slurm) starts N copies; each is a rank.
 * sg_dist_init, called once by main, initialises MPI only when a launcher started this process
 * (its environment says so: Open MPI's mpirun, PMI/PMIx, srun); otherwise, and in a build without
 * MPI, the world is one rank and every collective below is a no-op, so a single-process run never
 * touches MPI.
 *
 * Sums are deterministic: every element is added in rank order, ((v_0 + v_1) + v_2) + ...,
 * computed once by the rank that owns that slice and sent to all (an all-to-all, a local sum, an
 * all-gather: the traffic of a ring all-reduce). So every rank holds the same bits, and a rerun
 * with the same N gives the same bits, whatever algorithm the MPI library (or a cluster's tuning
 * of it) would pick for MPI_Allreduce.
 *
 * Only the thread that called sg_dist_init calls these (MPI_THREAD_FUNNELED). Memory is host
 * memory; device buffers are staged by the caller. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

#ifdef __cplusplus /* kernels/cuda (one GPU per rank, NCCL's id) includes it too */
extern "C" {
#define SG_DIST_NORETURN [[noreturn]]
#else
#define SG_DIST_NORETURN _Noreturn
#endif

typedef struct {
    int rank, size;             /* this process in the world, and the world's size */
    int local_rank, local_size; /* the same on this node (ranks sharing the host) */
    int launched;               /* 1: started by a launcher, MPI initialised */
    char library[160];          /* the MPI library's version line; "" when not launched */
} sg_dist_world;

/* Starts MPI when launched by mpirun/srun. Errors: launched with N > 1 ranks but built without
 * MPI, or MPI_Init failing. */
int sg_dist_init(int *argc, char ***argv, sg_err *err);
/* Waits for the other ranks (sleeping, not spinning), then MPI_Finalize. */
void sg_dist_finalize(void);
const sg_dist_world *sg_dist_get(void);
/* 1 when this build can run several ranks (it was linked with MPI). */
int sg_dist_compiled(void);

/* v[n] <- the sum over the ranks of every rank's v, in rank order (see above). */
int sg_dist_sum_f32(float *v, size_t n, sg_err *err);
int sg_dist_sum_f64(double *v, size_t n, sg_err *err);
/* all[size * n] <- every rank's mine[n], in rank order. */
int sg_dist_allgather_f32(const float *mine, size_t n, float *all, sg_err *err);
/* buf[n bytes] <- root's buf[n bytes] on every rank (MPI_Bcast). Every rank calls it with the
 * same n and root; a no-op for one rank and in a build without MPI. Used to hand out what one
 * rank made and the others need verbatim (NCCL's unique id). */
int sg_dist_bcast_bytes(void *buf, size_t n, int root, sg_err *err);
/* all[size * n bytes] <- every rank's mine[n bytes], in rank order (a copy for one rank). */
int sg_dist_allgather_bytes(const void *mine, size_t n, void *all, sg_err *err);
/* Waits until every rank has called it, sleeping between polls so that a rank waiting for
 * another's evaluation leaves the cores to it. */
int sg_dist_barrier(sg_err *err);
/* 0 when every rank passed the same v; otherwise an error naming `what` and the ranks that
 * disagree with rank 0 (their copies of the model have drifted apart). */
int sg_dist_check_same_u64(uint64_t v, const char *what, sg_err *err);

/* Ends the whole job (every rank) after printing "stopgrad: rank R of N (host): message" on
 * stderr: the way a rank that fails takes the others down instead of leaving them waiting in a
 * collective. Exits with `code` when the world is one rank. */
SG_DIST_NORETURN void sg_dist_abort(int code, const char *message);

#ifdef __cplusplus
}
#endif
