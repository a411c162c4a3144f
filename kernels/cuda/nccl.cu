/* kernels/cuda/nccl.cu: the ranks' sums and gathers on device memory, over NCCL (see
 * cuda_backend.h). The communicator spans core/dist's world; MPI only carries NCCL's unique id
 * from rank 0 to the others (and each rank's GPU, to refuse two ranks on one GPU). Built without
 * SG_HAVE_NCCL, the same functions say that NCCL is missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_internal.h"

#include "core/dist/dist.h"

#ifdef SG_HAVE_NCCL
#include <nccl.h>

/* The process's one communicator. nccl_state: 0 not made yet, 1 ready (comm is NULL for a
 * one-rank world, where nothing needs NCCL), 2 declined (ranks share a GPU: nccl_msg says
 * which), -1 failed (nccl_msg holds the error; NCCL's init cannot be retried by one rank alone). */
static ncclComm_t nccl_comm;
static int nccl_state;
static char nccl_msg[sizeof(((sg_err *)0)->msg)];

/* "rank R of N: WHAT failed: NCCL's reason[: its last message][HINT]" */
static int nccl_failed(sg_err *err, ncclResult_t r, const char *what, const char *hint) {
    const sg_dist_world *w = sg_dist_get();
    const char *last = "";
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
    last = ncclGetLastError(nccl_comm); /* the comm argument is unused: NULL is allowed */
    if (!last) last = "";
#endif
    return sg_errf(err, "rank %d of %d: %s failed: %s%s%s%s", w->rank, w->size, what,
                   ncclGetErrorString(r), last[0] ? ": " : "", last, hint ? hint : "");
}

/* The GPU's UUID as nvidia-smi writes it: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx. */
static void uuid_text(const unsigned char *u, char *out, size_t len) {
    size_t at = (size_t)snprintf(out, len, "GPU-");
    for (int i = 0; i < 16 && at + 3 < len; i++) {
        int dash = i == 4 || i == 6 || i == 8 || i == 10;
        at += (size_t)snprintf(out + at, len - at, "%s%02x", dash ? "-" : "", u[i]);
    }
}

/* 1 (with the message in nccl_msg) when two ranks run on the same GPU, which NCCL refuses; the
 * same answer on every rank, from the same gathered UUIDs. -1 when the gather failed. */
static int ranks_share_a_gpu(const sg_backend *be, sg_err *err) {
    const sg_dist_world *w = sg_dist_get();
    cudaDeviceProp prop;
    SG_CU(cudaGetDeviceProperties(&prop, sg_cu_state(be)->device));
    unsigned char *all = (unsigned char *)malloc(16 * (size_t)w->size);
    if (!all) return sg_errf(err, "rank %d of %d: out of memory", w->rank, w->size);
    if (sg_dist_allgather_bytes(prop.uuid.bytes, 16, all, err)) {
        free(all);
        return -1;
    }
    int shared = 0;
    for (int a = 0; a < w->size && !shared; a++)
        for (int b = a + 1; b < w->size && !shared; b++) {
            if (memcmp(all + 16 * (size_t)a, all + 16 * (size_t)b, 16)) continue;
            char u[64];
            uuid_text(all + 16 * (size_t)a, u, sizeof u);
            snprintf(nccl_msg, sizeof nccl_msg,
                     "ranks %d and %d share the GPU %s (NCCL needs one GPU per rank: at most as "
                     "many ranks per node as GPUs); their sums go through host memory",
                     a, b, u);
            shared = 1;
        }
    free(all);
    return shared;
}

extern "C" int sg_cuda_nccl_init(const sg_backend *be, sg_err *err) {
    if (nccl_state == 1) return 0;
    if (nccl_state == 2) return sg_errf(err, "%s", nccl_msg), 1;
    if (nccl_state == -1) return sg_errf(err, "%s", nccl_msg);
    const sg_dist_world *w = sg_dist_get();
    if (!be || strcmp(be->name, "cuda") != 0)
        return sg_errf(err, "rank %d of %d: NCCL needs the CUDA backend, not %s", w->rank, w->size,
                       be ? be->name : "none");
    if (w->size == 1) { /* nothing to sum with: the collectives are local */
        nccl_state = 1;
        return 0;
    }
    int rc = ranks_share_a_gpu(be, err);
    if (rc < 0) return -1;
    if (rc > 0) {
        nccl_state = 2;
        return sg_errf(err, "%s", nccl_msg), 1;
    }

    /* rank 0 makes the id and says whether it could: the others must not join a bad id */
    struct {
        int ok;
        ncclUniqueId id;
    } msg;
    memset(&msg, 0, sizeof msg);
    ncclResult_t r = ncclSuccess;
    if (w->rank == 0) {
        r = ncclGetUniqueId(&msg.id);
        msg.ok = r == ncclSuccess;
    }
    if (sg_dist_bcast_bytes(&msg, sizeof msg, 0, err)) return -1;
    if (!msg.ok) {
        if (w->rank == 0)
            rc = nccl_failed(err, r, "ncclGetUniqueId", NULL);
        else
            rc = sg_errf(err, "rank %d of %d: rank 0 could not make NCCL's unique id", w->rank,
                         w->size);
        snprintf(nccl_msg, sizeof nccl_msg, "%s", err ? err->msg : "NCCL init failed");
        nccl_state = -1;
        return rc;
    }
    /* joins on the current device, the backend's (set when it was created) */
    r = ncclCommInitRank(&nccl_comm, w->size, msg.id, w->rank);
    if (r != ncclSuccess) {
        nccl_comm = NULL;
        char hint[160];
        int count = 0;
        (void)cudaGetDeviceCount(&count);
        snprintf(hint, sizeof hint,
                 " (this rank: local rank %d of %d on this node, CUDA device %d "
                 "of the %d it sees)",
                 w->local_rank, w->local_size, sg_cu_state(be)->device, count);
        rc = nccl_failed(err, r, "ncclCommInitRank", hint);
        snprintf(nccl_msg, sizeof nccl_msg, "%s", err ? err->msg : "NCCL init failed");
        nccl_state = -1;
        return rc;
    }
    nccl_state = 1;
    return 0;
}

extern "C" int sg_cuda_nccl_status(void) { return nccl_state == 1 ? 1 : nccl_state == 0 ? 0 : -1; }

/* After a collective was enqueued: an error NCCL's own threads met so far (a peer lost, a
 * network failure) ends the step instead of leaving it to hang in the next one. */
static int enqueued(ncclResult_t r, const char *what, sg_err *err) {
    if (r != ncclSuccess) return nccl_failed(err, r, what, NULL);
    ncclResult_t async = ncclSuccess;
    r = ncclCommGetAsyncError(nccl_comm, &async);
    if (r != ncclSuccess) return nccl_failed(err, r, "ncclCommGetAsyncError", NULL);
    if (async != ncclSuccess) return nccl_failed(err, async, what, NULL);
    return 0;
}

static int not_ready(const char *what, sg_err *err) {
    const sg_dist_world *w = sg_dist_get();
    return sg_errf(err, "rank %d of %d: %s before sg_cuda_nccl_init made the communicator%s%s",
                   w->rank, w->size, what, nccl_msg[0] ? ": " : "", nccl_msg);
}

extern "C" int sg_cuda_nccl_sum(const sg_backend *be, float *x, size_t n, sg_err *err) {
    if (nccl_state != 1) return not_ready("an NCCL sum", err);
    if (n == 0 || !nccl_comm) return 0; /* one rank: the sum is x */
    /* ring, tree, NVLS or CollNet alike: each element is reduced once and the result broadcast,
     * so every rank holds the same bits (see cuda_backend.h; train.c's ranks_agree checks) */
    return enqueued(ncclAllReduce(x, x, n, ncclFloat, ncclSum, nccl_comm, sg_cu_stream(be)),
                    "ncclAllReduce", err);
}

extern "C" int sg_cuda_nccl_allgather(const sg_backend *be, const float *x, size_t n, float *all,
                                      sg_err *err) {
    if (nccl_state != 1) return not_ready("an NCCL all-gather", err);
    if (n == 0) return 0;
    if (!nccl_comm) { /* one rank */
        if (all != x)
            SG_CU(cudaMemcpyAsync(all, x, n * sizeof(float), cudaMemcpyDeviceToDevice,
                                  sg_cu_stream(be)));
        return 0;
    }
    return enqueued(ncclAllGather(x, all, n, ncclFloat, nccl_comm, sg_cu_stream(be)),
                    "ncclAllGather", err);
}

extern "C" const char *sg_cuda_nccl_version(void) {
    static char v[32];
    if (!v[0]) {
        int code = 0;
        if (ncclGetVersion(&code) != ncclSuccess || code <= 0) return "";
        /* NCCL_VERSION(X, Y, Z): X*1000 + Y*100 + Z up to 2.8, X*10000 + Y*100 + Z from 2.9 */
        int major = code >= 10000 ? code / 10000 : code / 1000;
        int minor = code >= 10000 ? code / 100 % 100 : code / 100 % 10;
        snprintf(v, sizeof v, "%d.%d.%d", major, minor, code % 100);
    }
    return v;
}

#else /* built without NCCL */

static int no_nccl(sg_err *err) {
    const sg_dist_world *w = sg_dist_get();
    return sg_errf(err,
                   "rank %d of %d: this stopgrad was built without NCCL (nccl.h and libnccl "
                   "were not found when it was configured)",
                   w->rank, w->size);
}

extern "C" int sg_cuda_nccl_init(const sg_backend *be, sg_err *err) {
    (void)be;
    return no_nccl(err);
}
extern "C" int sg_cuda_nccl_status(void) { return -1; }
extern "C" int sg_cuda_nccl_sum(const sg_backend *be, float *x, size_t n, sg_err *err) {
    (void)be, (void)x, (void)n;
    return no_nccl(err);
}
extern "C" int sg_cuda_nccl_allgather(const sg_backend *be, const float *x, size_t n, float *all,
                                      sg_err *err) {
    (void)be, (void)x, (void)n, (void)all;
    return no_nccl(err);
}
extern "C" const char *sg_cuda_nccl_version(void) { return ""; }

#endif
