/* kernels/backend_machine.h: the machine description of a run on a given backend. */
#pragma once
#include "core/base/machine.h"
#include "kernels/kernels.h"

/* sg_machine_probe plus the backend's device (sg_backend_device): the accelerator column and a
 * machine_id that tells GPUs apart; and the data-parallel job this process is a rank of. */
int sg_machine_probe_backend(sg_machine *m, const sg_backend *be, int threads, sg_err *err);
