/* kernels/cuda/cuda_backend.h: what C code sees of the CUDA backend (built when nvcc is found).
 * Callers use sg_backend_get("cuda"); this header is for kernels/cpu/backend_cpu.c's registry,
 * for `stopgrad machine`, which describes the device, and for core/ssl's sums over the ranks of
 * a data-parallel run (NCCL, below). */
#pragma once
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif
/* inside the block (its C headers are included above): sg_errf keeps C linkage in a .cu file */
#include "core/base/err.h"

/* The backend, created on first use; NULL when no device can be used, with the reason in
 * sg_cuda_unavailable(). Not thread-safe on first use. Its device: $SG_CUDA_DEVICE when set;
 * else, when the world has several ranks (core/dist, so after sg_dist_init), one GPU per rank:
 * local_rank % (the devices this process sees), so N ranks on a node with N GPUs take one each
 * (and a rank that sees only its own GPU, under CUDA_VISIBLE_DEVICES, takes that one); else 0.
 * This file's cudaSetDevice is the only one: every later call runs on that device. */
const sg_backend *sg_cuda_backend_get(void);
const char *sg_cuda_unavailable(void);

/* The device, for machine descriptions: 0 when no device (then the strings are empty). */
typedef struct {
    int ok;
    int device, sm_count, cc_major, cc_minor;
    size_t mem_bytes;
    char name[256];
    int driver_version, runtime_version; /* e.g. 13000 */
    int cublas_version, cusolver_version;
} sg_cuda_info;
int sg_cuda_describe(sg_cuda_info *out);

/* ---- NCCL: the ranks' sums and gathers on device memory (kernels/cuda/nccl.cu) -------------
 * One communicator over the world of core/dist (one GPU per rank, see sg_cuda_backend_get),
 * its collectives on the backend's stream, so they are ordered with the kernels around them and
 * the caller waits for nothing. Only the thread that called sg_dist_init calls these. In a build
 * without NCCL (SG_HAVE_NCCL) they exist too: init and the collectives return an error, the
 * version is "", so callers need no #ifdef beyond SG_HAVE_CUDA. */

/* Makes the communicator, once (later calls return 0 at once): rank 0 takes an id
 * (ncclGetUniqueId), sg_dist_bcast_bytes hands it to every rank, each joins with
 * ncclCommInitRank(size, id, rank). A collective over the world: every rank calls it, with the
 * CUDA backend `be`. Returns 0 when the communicator is ready; 1 when NCCL cannot serve these
 * ranks and the caller should sum through host memory instead: two ranks share a GPU (NCCL
 * refuses that; every rank returns 1, err says which ranks and GPU); -1 on an error naming the
 * rank and NCCL's reason (ncclGetErrorString, and its last error message). */
int sg_cuda_nccl_init(const sg_backend *be, sg_err *err);
/* 1 once sg_cuda_nccl_init returned 0 (the communicator is ready); 0 before it was called;
 * -1 when it declined (ranks share a GPU) or failed. */
int sg_cuda_nccl_status(void);
/* x[n] (device memory) <- its sum over the ranks, in place (ncclAllReduce, float, sum), enqueued
 * on be's stream. Every rank gets the same bits: whatever NCCL's algorithm (ring: each slice
 * reduced by one rank then passed around; tree: reduced up the tree then broadcast down;
 * NVLS/CollNet: reduced in the switch or network then multicast), each element is reduced once
 * and the result broadcast, never reduced again per rank. The order of the additions is NCCL's,
 * not core/dist's rank order, so N=2 and N=1 differ in the last bits as with MPI, and a rerun
 * repeats them when NCCL picks the same algorithm (same GPUs, same NCCL, same NCCL_* settings).
 * Should ranks ever drift apart, core/ssl/train.c's ranks_agree (the weights' hash compared at
 * every epoch's end) stops the run naming them. Errors name the rank and NCCL's reason. */
int sg_cuda_nccl_sum(const sg_backend *be, float *x, size_t n, sg_err *err);
/* all[size * n] (device memory) <- every rank's x[n], in rank order (ncclAllGather) on be's
 * stream. x may be all + rank * n (in place). */
int sg_cuda_nccl_allgather(const sg_backend *be, const float *x, size_t n, float *all,
                           sg_err *err);
/* The NCCL library's version, "2.x.y" (ncclGetVersion); "" in a build without NCCL. */
const char *sg_cuda_nccl_version(void);

/* ---- cuDNN convolutions: conv.algo=cudnn (kernels/cuda/conv_cudnn.cu) -----------------------
 * Each conv shape gets, on first use, its descriptors and one cuDNN algorithm per pass, chosen
 * by cuDNN's own measurement (cudnnFind*Algorithm, timed with CUDA events): the fastest that
 * completes, fits the workspace budget and, while sg_cuda_cudnn_deterministic() is 1 (the
 * default, conv.deterministic), is deterministic. A preset (a cache row, a run's record) takes
 * the place of the measurement. Kept for the process; not thread-safe, like the backend. In a
 * build without cuDNN these exist too: available says why not, the others return an error. */
enum { SG_CUDNN_FWD = 0, SG_CUDNN_BWD_DATA = 1, SG_CUDNN_BWD_FILTER = 2, SG_CUDNN_PASSES = 3 };

/* How an algorithm sums, for its error bound (kernels/opcheck/opcheck_dense.c). */
typedef enum {
    SG_CUDNN_SUM_DIRECT = 0,   /* products summed as they are (implicit / explicit GEMM) */
    SG_CUDNN_SUM_WINOGRAD = 1, /* in Winograd's transformed domain */
    SG_CUDNN_SUM_FFT = 2       /* in the Fourier domain */
} sg_cudnn_sum;

typedef struct {
    int algo[SG_CUDNN_PASSES];         /* cuDNN's algorithm enum value of each pass */
    size_t workspace[SG_CUDNN_PASSES]; /* bytes each needs */
    float ms[SG_CUDNN_PASSES];         /* cuDNN's measured milliseconds; < 0 when preset */
    int deterministic;                 /* the setting the choice was made under */
} sg_cudnn_choice;

/* 1 when this build has cuDNN and it works on the backend's device; else 0 and *why (may be
 * NULL) says why. */
int sg_cuda_cudnn_available(const char **why);
/* cudnnGetVersion() (e.g. 91900), 0 in a build without cuDNN. */
long sg_cuda_cudnn_version(void);
/* conv.deterministic: whether shapes planned from now on choose among deterministic algorithms
 * only (1, the default) or among all (0). Plans are kept per (shape, setting). */
void sg_cuda_cudnn_set_deterministic(int on);
int sg_cuda_cudnn_deterministic(void);
/* The choice at shape s (its algo ignored) under the current setting, measured now when the
 * shape has neither a plan nor a preset. -1 with the reason when cuDNN is not available. */
int sg_cuda_cudnn_choice(const sg_conv_shape *s, sg_cudnn_choice *out, sg_err *err);
/* Presets the algorithms of shape s under the current setting (replacing any earlier choice:
 * call it before a model sizes its workspace at s). -1 with the pass, the algorithm and cuDNN's
 * reason when one cannot run here (not supported at s, or not deterministic while that is
 * asked for). */
int sg_cuda_cudnn_preset(const sg_conv_shape *s, const int algo[SG_CUDNN_PASSES], sg_err *err);
/* cudnnFind calls made in this process (tests: a preset shape measures nothing). */
long sg_cuda_cudnn_measured(void);

/* cuDNN 9's algorithms, without a device: per pass the enum's count; an algorithm's name
 * ("IMPLICIT_PRECOMP_GEMM", NULL out of range); the algorithm named so (-1 if none); how it
 * sums; whether cuDNN documents it as deterministic. */
int sg_cuda_cudnn_algo_count(int pass);
const char *sg_cuda_cudnn_algo_name(int pass, int algo);
int sg_cuda_cudnn_algo_find(int pass, const char *name);
sg_cudnn_sum sg_cuda_cudnn_algo_sum(int pass, int algo);
int sg_cuda_cudnn_algo_deterministic(int pass, int algo);

#ifdef __cplusplus
}
#endif
