/* kernels/cpu/backend_cpu.c: the CPU backend value and its thread control. */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "core/base/arena.h"
#include "core/base/err.h"
#include "core/base/log.h"
#include "kernels/cpu/cpu_internal.h"

#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

static sg_backend cpu_backend;
static int cpu_ready = 0;
static int cpu_threads = 0;

/* Every kernel slot must be filled: a NULL kernel would only show up as a crash deep in a run.
 * The slots after `state` are all function pointers (kernels.h keeps it that way). */
static void check_complete(const sg_backend *be) {
    typedef void (*any_fn)(void);
    const char *p = (const char *)be + offsetof(sg_backend, gemm);
    const char *end = (const char *)be + sizeof *be;
    for (; p + sizeof(any_fn) <= end; p += sizeof(any_fn)) {
        any_fn fn;
        memcpy(&fn, p, sizeof fn);
        SG_CHECK(fn != NULL, "cpu backend: the kernel slot at byte %zu of sg_backend is empty",
                 (size_t)(p - (const char *)be));
    }
}

/* ---- memory: host memory, kernels are synchronous ------------------------------------ */

static void *cpu_mem_alloc(const sg_backend *be, size_t bytes) {
    (void)be;
    return sg_aligned_alloc(bytes ? bytes : 1); /* zero-filled */
}
static void cpu_mem_free(const sg_backend *be, void *p) {
    (void)be;
    sg_aligned_free(p);
}
static void cpu_copy(const sg_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes && dst != src) memmove(dst, src, bytes);
}
static void cpu_zero(const sg_backend *be, void *dst, size_t bytes) {
    (void)be;
    if (bytes) memset(dst, 0, bytes);
}
static void cpu_sync(const sg_backend *be) { (void)be; }
static double cpu_timer_t0;
static void cpu_timer_start(const sg_backend *be) {
    (void)be;
    cpu_timer_t0 = sg_now();
}
static double cpu_timer_stop(const sg_backend *be) {
    (void)be;
    return sg_now() - cpu_timer_t0;
}

static void cpu_fill_memory(sg_backend *be) {
    be->host_memory = 1;
    be->mem_alloc = cpu_mem_alloc;
    be->mem_free = cpu_mem_free;
    be->host_alloc = cpu_mem_alloc;
    be->host_free = cpu_mem_free;
    be->mem_upload = cpu_copy;
    be->mem_download = cpu_copy;
    be->mem_copy = cpu_copy;
    be->mem_zero = cpu_zero;
    be->sync = cpu_sync;
    be->timer_start = cpu_timer_start;
    be->timer_stop = cpu_timer_stop;
}

static const sg_backend *cpu_get(void) {
    /* First use happens on the main thread before any parallel work. */
    if (!cpu_ready) {
        memset(&cpu_backend, 0, sizeof cpu_backend);
        cpu_backend.name = "cpu";
        cpu_backend.state = NULL;
        sg_cpu_fill_dense(&cpu_backend);
        sg_cpu_fill_nn(&cpu_backend);
        sg_cpu_fill_optim(&cpu_backend);
        sg_cpu_fill_aug(&cpu_backend);
        cpu_fill_memory(&cpu_backend);
        check_complete(&cpu_backend);
        if (cpu_threads == 0) sg_cpu_set_threads(0);
        cpu_ready = 1;
    }
    return &cpu_backend;
}

const sg_backend *sg_backend_get(const char *name) {
    if (name && strcmp(name, "cpu") == 0) return cpu_get();
#ifdef SG_HAVE_CUDA
    if (name && strcmp(name, "cuda") == 0) return sg_cuda_backend_get();
#endif
    return NULL;
}

const char *sg_backend_unavailable(const char *name) {
    if (!name) return "no backend named";
    if (strcmp(name, "cpu") == 0) return "available";
    if (strcmp(name, "cuda") == 0) {
#ifdef SG_HAVE_CUDA
        return sg_cuda_backend_get() ? "available" : sg_cuda_unavailable();
#else
        return "not built: no CUDA toolkit was found when this binary was configured";
#endif
    }
    return "unknown backend (expected cpu or cuda)";
}

void sg_backend_device(const sg_backend *be, char *desc, size_t desc_len, char *key,
                       size_t key_len) {
    if (desc_len) desc[0] = 0;
    if (key_len) key[0] = 0;
#ifdef SG_HAVE_CUDA
    sg_cuda_info in;
    if (be && !strcmp(be->name, "cuda") && sg_cuda_describe(&in)) {
        double gib = (double)in.mem_bytes / (1024.0 * 1024.0 * 1024.0);
        snprintf(desc, desc_len,
                 "%s, cc %d.%d, %d SMs, %.1f GiB, driver %d.%d, runtime %d.%d, cuBLAS %d, "
                 "cuSOLVER %d",
                 in.name, in.cc_major, in.cc_minor, in.sm_count, gib, in.driver_version / 1000,
                 (in.driver_version % 1000) / 10, in.runtime_version / 1000,
                 (in.runtime_version % 1000) / 10, in.cublas_version, in.cusolver_version);
        snprintf(key, key_len, "%s|%d.%d|%d|%.0f", in.name, in.cc_major, in.cc_minor,
                 in.sm_count, gib);
    }
#else
    (void)be;
#endif
}

const char *sg_backend_compiled(void) {
#ifdef SG_HAVE_CUDA
    return "cpu cuda";
#else
    return "cpu";
#endif
}

int sg_cpu_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    cpu_threads = n;
    return n;
}

int sg_cpu_get_threads(void) { return cpu_threads ? cpu_threads : omp_get_max_threads(); }
