/* kernels/cuda/cuda_backend.h: what C code sees of the CUDA backend (built when nvcc is found).
 * Callers use sg_backend_get("cuda"); this header is for kernels/cpu/backend_cpu.c's registry and
 * for `stopgrad machine`, which describes the device. */
#pragma once
#include <stddef.h>

#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The backend on device 0 (or $SG_CUDA_DEVICE), created on first use; NULL when no device can
 * be used, with the reason in sg_cuda_unavailable(). Not thread-safe on first use. */
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

#ifdef __cplusplus
}
#endif
