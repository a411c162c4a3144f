/* kernels/cpu/backend_cpu.c: the CPU backend value and its thread control. */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "core/base/err.h"
#include "kernels/cpu/cpu_internal.h"

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
        check_complete(&cpu_backend);
        if (cpu_threads == 0) sg_cpu_set_threads(0);
        cpu_ready = 1;
    }
    return &cpu_backend;
}

const sg_backend *sg_backend_get(const char *name) {
    if (name && strcmp(name, "cpu") == 0) return cpu_get();
    return NULL;
}

int sg_cpu_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    cpu_threads = n;
    return n;
}

int sg_cpu_get_threads(void) { return cpu_threads ? cpu_threads : omp_get_max_threads(); }
