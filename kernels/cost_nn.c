/* kernels/cost_nn.c: FLOP and byte counts (see kernels.h). */
#include "kernels/kernels.h"
