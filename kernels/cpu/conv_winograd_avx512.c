/* kernels/cpu/conv_winograd_avx512.c: the AVX-512 build of the Winograd vector kernels
 * (conv_winograd_kern.h) with 16 lanes. CMakeLists.txt compiles this file alone with -mavx512f;
 * conv_winograd.c calls it only where the CPU reports AVX-512F at run time. */
#define WINO_VL 16
#define WINO_TABLE sg_wino_kernels_avx512
#include "kernels/cpu/conv_winograd_kern.h"
