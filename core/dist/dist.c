/* core/dist/dist.c: ranks and deterministic collectives over MPI (see dist.h). */
#define _GNU_SOURCE /* gethostname, nanosleep with -std=c11 */
#include "core/dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef SG_HAVE_MPI
#include <mpi.h>
#endif

static sg_dist_world world = {0, 1, 0, 1, 0, ""};

const sg_dist_world *sg_dist_get(void) { return &world; }

/* The world size a launcher announced in the environment; 0 when none did. Open MPI's mpirun,
 * PMIx (Open MPI 4+, srun --mpi=pmix), PMI-1/2 (MPICH's hydra, srun --mpi=pmi2) and plain srun. */
static int launcher_size(void) {
    /* SLURM_STEP_NUM_TASKS, not SLURM_NTASKS: srun sets it for its tasks, while a batch
     * script of a several-task allocation is one process that launches nothing itself */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE",
                                       "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) {
            int n = atoi(v);
            if (n > 0) return n;
        }
    }
    /* PMIx announces a rank but not always a size */
    return getenv("PMIX_RANK") ? 1 : 0;
}

#ifdef SG_HAVE_MPI
int sg_dist_compiled(void) { return 1; }

static int mpi_failed(sg_err *err, int code, const char *what) {
    char s[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(code, s, &len);
    return sg_errf(err, "rank %d of %d: %s failed: %s", world.rank, world.size, what, s);
}

int sg_dist_init(int *argc, char ***argv, sg_err *err) {
    int n = launcher_size();
    /* srun without an MPI plugin for one task, or no launcher: one rank, MPI untouched */
    if (n == 0 || (n == 1 && !getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK"))) return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return sg_errf(err, "MPI_Init_thread failed (launched as one of %d ranks)", n);
    /* errors come back as codes, so each failure is reported with the rank and what failed */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    if (world.size != n)
        return sg_errf(err, "the launcher announced %d ranks but MPI sees %d: this MPI library "
                            "cannot talk to the launcher (under srun, try --mpi=pmix)", n,
                       world.size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL,
                            &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &world.local_rank);
        MPI_Comm_size(node, &world.local_size);
        MPI_Comm_free(&node);
    }
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    /* the first line ("Open MPI v4.1.4, package: ...") up to the first comma */
    size_t cut = strcspn(lib, ",\n");
    snprintf(world.library, sizeof world.library, "%.*s", (int)cut, lib);
    world.launched = 1;
    return 0;
}

void sg_dist_finalize(void) {
    if (!world.launched) return;
    sg_err e;
    (void)sg_dist_barrier(&e);
    MPI_Finalize();
    world.launched = 0;
}

/* Scratch for the all-to-all: grown as needed, kept for the process (one step's gradients). */
static void *scratch;
static size_t scratch_bytes;

static void *scratch_for(size_t bytes) {
    if (bytes <= scratch_bytes) return scratch;
    void *p = realloc(scratch, bytes);
    if (!p) return NULL;
    scratch = p;
    scratch_bytes = bytes;
    return p;
}

/* Slice r of n elements: [n*r/size, n*(r+1)/size). */
static size_t slice_lo(size_t n, int r) { return n * (size_t)r / (size_t)world.size; }

#define DEFINE_SUM(NAME, T, MPI_T)                                                                \
    int NAME(T *v, size_t n, sg_err *err) {                                                       \
        const int N = world.size;                                                                 \
        if (N == 1 || n == 0) return 0;                                                           \
        if (n / (size_t)N > (size_t)1 << 30)                                                      \
            return sg_errf(err, "rank %d: %zu values are too many for one sum", world.rank, n);   \
        int *cnt = malloc(4 * (size_t)N * sizeof(int));                                           \
        if (!cnt) return sg_errf(err, "rank %d: out of memory for a sum", world.rank);            \
        int *dsp = cnt + N, *rcnt = cnt + 2 * N, *rdsp = cnt + 3 * N;                             \
        const size_t mlo = slice_lo(n, world.rank), mine = slice_lo(n, world.rank + 1) - mlo;     \
        for (int r = 0; r < N; r++) {                                                             \
            cnt[r] = (int)(slice_lo(n, r + 1) - slice_lo(n, r));                                  \
            dsp[r] = (int)slice_lo(n, r);                                                         \
            rcnt[r] = (int)mine;                                                                  \
            rdsp[r] = (int)(mine * (size_t)r);                                                    \
        }                                                                                         \
        T *in = scratch_for(mine * (size_t)N * sizeof(T) + sizeof(T));                            \
        int rc = 0;                                                                               \
        if (!in) {                                                                                \
            rc = sg_errf(err, "rank %d: out of memory for a sum of %zu values", world.rank, n);   \
        } else {                                                                                  \
            /* rank r's copy of my slice lands at in[r * mine] */                                 \
            int code = MPI_Alltoallv(v, cnt, dsp, MPI_T, in, rcnt, rdsp, MPI_T, MPI_COMM_WORLD);  \
            if (code != MPI_SUCCESS) rc = mpi_failed(err, code, "the all-to-all of a sum");       \
        }                                                                                         \
        if (rc == 0) {                                                                            \
            for (size_t i = 0; i < mine; i++) {                                                   \
                T acc = in[i];                                                                    \
                for (int r = 1; r < N; r++) acc += in[(size_t)r * mine + i];                      \
                v[mlo + i] = acc;                                                                 \
            }                                                                                     \
            int code = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, cnt, dsp, MPI_T,     \
                                      MPI_COMM_WORLD);                                            \
            if (code != MPI_SUCCESS) rc = mpi_failed(err, code, "the all-gather of a sum");       \
        }                                                                                         \
        free(cnt);                                                                                \
        return rc;                                                                                \
    }

DEFINE_SUM(sg_dist_sum_f32, float, MPI_FLOAT)
DEFINE_SUM(sg_dist_sum_f64, double, MPI_DOUBLE)

int sg_dist_allgather_f32(const float *mine, size_t n, float *all, sg_err *err) {
    if (world.size == 1) {
        if (all != mine) memcpy(all, mine, n * sizeof(float));
        return 0;
    }
    if (n > (size_t)1 << 30) return sg_errf(err, "rank %d: all-gather of %zu values", world.rank, n);
    int code = MPI_Allgather(mine, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, MPI_COMM_WORLD);
    return code == MPI_SUCCESS ? 0 : mpi_failed(err, code, "an all-gather");
}

int sg_dist_bcast_bytes(void *buf, size_t n, int root, sg_err *err) {
    if (world.size == 1 || n == 0) return 0;
    if (root < 0 || root >= world.size)
        return sg_errf(err, "rank %d: broadcast from rank %d of %d", world.rank, root, world.size);
    if (n > (size_t)1 << 30) return sg_errf(err, "rank %d: broadcast of %zu bytes", world.rank, n);
    int code = MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
    return code == MPI_SUCCESS ? 0 : mpi_failed(err, code, "a broadcast");
}

int sg_dist_allgather_bytes(const void *mine, size_t n, void *all, sg_err *err) {
    if (world.size == 1) {
        if (all != mine && n) memcpy(all, mine, n);
        return 0;
    }
    if (n > (size_t)1 << 30) return sg_errf(err, "rank %d: all-gather of %zu bytes", world.rank, n);
    int code = MPI_Allgather(mine, (int)n, MPI_BYTE, all, (int)n, MPI_BYTE, MPI_COMM_WORLD);
    return code == MPI_SUCCESS ? 0 : mpi_failed(err, code, "an all-gather");
}

int sg_dist_barrier(sg_err *err) {
    if (world.size == 1) return 0;
    MPI_Request req;
    int code = MPI_Ibarrier(MPI_COMM_WORLD, &req), done = 0;
    if (code != MPI_SUCCESS) return mpi_failed(err, code, "a barrier");
    const struct timespec nap = {0, 2000000}; /* 2 ms: nothing a waiting rank does is urgent */
    while (!done) {
        code = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (code != MPI_SUCCESS) return mpi_failed(err, code, "a barrier");
        if (!done) nanosleep(&nap, NULL);
    }
    return 0;
}

int sg_dist_check_same_u64(uint64_t v, const char *what, sg_err *err) {
    if (world.size == 1) return 0;
    unsigned long long mine = v, *all = malloc((size_t)world.size * sizeof *all);
    if (!all) return sg_errf(err, "rank %d: out of memory", world.rank);
    int code = MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all, 1, MPI_UNSIGNED_LONG_LONG,
                             MPI_COMM_WORLD);
    int rc = code == MPI_SUCCESS ? 0 : mpi_failed(err, code, "an all-gather");
    char ranks[200] = "";
    size_t at = 0;
    int bad = 0;
    for (int r = 1; rc == 0 && r < world.size; r++) {
        if (all[r] == all[0]) continue;
        if (bad++ < 8 && at < sizeof ranks) {
            int w = snprintf(ranks + at, sizeof ranks - at, "%s%d", at ? ", " : "", r);
            if (w > 0) at += (size_t)w;
        }
    }
    if (rc == 0 && bad)
        rc = sg_errf(err, "%s differs between the ranks: rank 0 has %016llx, %d rank(s) differ "
                          "(%s%s)", what, all[0], bad, ranks, bad > 8 ? ", ..." : "");
    free(all);
    return rc;
}

_Noreturn void sg_dist_abort(int code, const char *message) {
    char host[128] = "?";
    gethostname(host, sizeof host - 1);
    if (world.size > 1)
        fprintf(stderr, "stopgrad: rank %d of %d (%s): %s\n", world.rank, world.size, host, message);
    else
        fprintf(stderr, "stopgrad: %s\n", message);
    fflush(stderr);
    if (world.launched) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code);
}

#else /* one rank: a build without MPI */

int sg_dist_compiled(void) { return 0; }

int sg_dist_init(int *argc, char ***argv, sg_err *err) {
    (void)argc, (void)argv;
    int n = launcher_size();
    if (n > 1)
        return sg_errf(err, "launched as one of %d ranks, but this stopgrad was built without MPI "
                            "(install libopenmpi-dev, e.g. with scripts/setup.sh, and rebuild)", n);
    return 0;
}
void sg_dist_finalize(void) {}
int sg_dist_sum_f32(float *v, size_t n, sg_err *err) { return (void)v, (void)n, (void)err, 0; }
int sg_dist_sum_f64(double *v, size_t n, sg_err *err) { return (void)v, (void)n, (void)err, 0; }
int sg_dist_allgather_f32(const float *mine, size_t n, float *all, sg_err *err) {
    (void)err;
    if (all != mine) memcpy(all, mine, n * sizeof(float));
    return 0;
}
int sg_dist_bcast_bytes(void *buf, size_t n, int root, sg_err *err) {
    return (void)buf, (void)n, (void)root, (void)err, 0;
}
int sg_dist_allgather_bytes(const void *mine, size_t n, void *all, sg_err *err) {
    (void)err;
    if (all != mine && n) memcpy(all, mine, n);
    return 0;
}
int sg_dist_barrier(sg_err *err) { return (void)err, 0; }
int sg_dist_check_same_u64(uint64_t v, const char *what, sg_err *err) {
    return (void)v, (void)what, (void)err, 0;
}
_Noreturn void sg_dist_abort(int code, const char *message) {
    fprintf(stderr, "stopgrad: %s\n", message);
    exit(code);
}
#endif
