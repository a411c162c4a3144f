/* kernels/cpu/backend_cpu.c: the CPU backend value and its thread control (the registry that
 * hands it out is kernels/backend.c). */
#include <omp.h>
#include <stddef.h>
#include <string.h>

#include <cblas.h>

#include "core/base/arena.h"
#include "core/base/err.h"
#include "core/base/log.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_internal.h"
#include "kernels/ops.h"


static sg_backend cpu_backend;
static int cpu_ready = 0;
static int cpu_threads = 0;

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

/* Every op at every shape, but a convolution only with an algorithm that runs here, a gemm,
 * linear or conv op with oneDNN's sgemm (gemm=1) only where the build has oneDNN, and in fp32
 * (prec=0) only: the CPU has no tf32 or bf16 products (no precision slot). */
static int cpu_supports(const sg_backend *be, int op, const int *val) {
    (void)be;
    const int kg = val ? sg_op_param_index((sg_op)op, "gemm") : -1;
    if (kg >= 0 && !sg_cpu_gemm_impl_available((sg_gemm_impl)val[kg], NULL)) return 0;
    const int kp = val ? sg_op_param_index((sg_op)op, "prec") : -1;
    if (kp >= 0 && val[kp] != SG_PREC_FP32) return 0; /* fp32 only */
    if (!val || (op != SG_OP_conv2d_fwd && op != SG_OP_conv2d_bwd_data &&
                 op != SG_OP_conv2d_bwd_filter))
        return 1;
    const int algo = val[sg_op_param_index((sg_op)op, "algo")];
    if (algo == SG_CONV_DEFAULT || algo == SG_CONV_IM2COL) return 1;
    /* the geometry may be one the checker still has to refuse: never abort on it here */
    int v[9];
    static const char *const names[9] = {"N", "C", "H", "W", "K", "R", "S", "stride", "pad"};
    for (int k = 0; k < 9; k++) v[k] = val[sg_op_param_index((sg_op)op, names[k])];
    if (v[7] < 1 || v[8] < 0 || v[2] + 2 * v[8] < v[5] || v[3] + 2 * v[8] < v[6]) return 1;
    sg_conv_shape s = sg_conv_shape_make(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    s.algo = algo;
    return sg_cpu_conv_supports(&s);
}

const sg_backend *sg_cpu_backend(void) {
    /* First use happens on the main thread before any parallel work. */
    if (!cpu_ready) {
        memset(&cpu_backend, 0, sizeof cpu_backend);
        cpu_backend.name = "cpu";
        cpu_backend.state = NULL;
        cpu_backend.supports = cpu_supports;
        sg_cpu_fill_dense(&cpu_backend);
        sg_cpu_fill_nn(&cpu_backend);
        sg_cpu_fill_optim(&cpu_backend);
        sg_cpu_fill_aug(&cpu_backend);
        cpu_fill_memory(&cpu_backend);
        const char *empty = sg_backend_empty_slot(&cpu_backend);
        SG_CHECK(empty == NULL, "cpu backend: the slot %s is empty", empty ? empty : "");
        if (cpu_threads == 0) sg_cpu_set_threads(0);
        cpu_ready = 1;
    }
    return &cpu_backend;
}

int sg_cpu_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    cpu_threads = n;
    return n;
}

int sg_cpu_get_threads(void) { return cpu_threads ? cpu_threads : omp_get_max_threads(); }
