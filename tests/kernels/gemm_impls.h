/* tests/kernels/gemm_impls.h: runs a kernel test's cases once per CPU sgemm this build has
 * (gemm.impl: OpenBLAS's, and oneDNN's dnnl_sgemm where oneDNN was found), naming each on stdout
 * so a failure reads with the sgemm it ran on:
 *     FOR_EACH_GEMM_IMPL { for (threads ...) check_case(...); }
 * then restores OpenBLAS's, the default. */
#pragma once
#include <stdio.h>

#include "kernels/kernels.h"

static inline int gemm_impl_enter(int g) {
    if (g >= SG_GEMM_IMPL_COUNT) {
        (void)sg_cpu_set_gemm_impl(SG_GEMM_OPENBLAS);
        return 0;
    }
    if (sg_cpu_set_gemm_impl((sg_gemm_impl)g) != 0) {
        printf("gemm.impl=%s: not in this build, its cases skipped\n", sg_gemm_impl_names[g]);
        return -1;
    }
    printf("gemm.impl=%s\n", sg_gemm_impl_names[g]);
    fflush(stdout);
    return 1;
}

#define FOR_EACH_GEMM_IMPL                                                                         \
    for (int gemm_impl_ = 0, in_ = 0; (in_ = gemm_impl_enter(gemm_impl_)) != 0; gemm_impl_++)      \
        if (in_ > 0)
