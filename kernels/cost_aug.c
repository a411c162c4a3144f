/* kernels/cost_aug.c: FLOP and byte counts (see kernels.h). */
#include "kernels/kernels.h"
