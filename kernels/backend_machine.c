/* kernels/backend_machine.c: see backend_machine.h. */
#include "kernels/backend_machine.h"

#include <stdio.h>
#include <string.h>

#include "core/dist/dist.h"
#include "kernels/backend.h"
#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

int sg_machine_probe_backend(sg_machine *m, const sg_backend *be, int threads, sg_err *err) {
    if (sg_machine_probe(m, threads, err)) return -1;
    char desc[320], key[160];
    sg_backend_device(be, desc, sizeof desc, key, sizeof key);
    const sg_dist_world *w = sg_dist_get();
    const char *nccl = "";
#ifdef SG_HAVE_CUDA
    if (desc[0] && !strcmp(be->name, "cuda")) {
        sg_cuda_info in;
        /* which GPU of the node this process took (one per rank, or $SG_CUDA_DEVICE); the key,
         * and so the machine id, stays the hardware's alone */
        if (sg_cuda_describe(&in) && (w->size > 1 || in.device != 0)) {
            size_t at = strlen(desc);
            if (w->size > 1)
                snprintf(desc + at, sizeof desc - at, ", device %d (local rank %d of %d)",
                         in.device, w->local_rank, w->local_size);
            else
                snprintf(desc + at, sizeof desc - at, ", device %d", in.device);
        }
        /* the ranks' sums run over NCCL on this backend (sg_ssl_build makes the communicator;
         * "" where it declined, the ranks sharing a GPU, and the sums went through MPI) */
        if (w->size > 1 && sg_cuda_nccl_status() >= 0) nccl = sg_cuda_nccl_version();
    }
#endif
    if (desc[0]) sg_machine_set_accelerator(m, desc, key);
    sg_machine_set_ranks(m, w->size, w->local_size, w->library, nccl);
    return 0;
}
