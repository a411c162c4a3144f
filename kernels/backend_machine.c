/* kernels/backend_machine.c: see backend_machine.h. */
#include "kernels/backend_machine.h"

#include "core/dist/dist.h"
#include "kernels/backend.h"

int sg_machine_probe_backend(sg_machine *m, const sg_backend *be, int threads, sg_err *err) {
    if (sg_machine_probe(m, threads, err)) return -1;
    char desc[320], key[160];
    sg_backend_device(be, desc, sizeof desc, key, sizeof key);
    if (desc[0]) sg_machine_set_accelerator(m, desc, key);
    const sg_dist_world *w = sg_dist_get();
    sg_machine_set_ranks(m, w->size, w->local_size, w->library, "");
    return 0;
}
