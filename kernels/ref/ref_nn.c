/* kernels/ref/ref_nn.c: naive double-precision references (see ref.h). */
#include "kernels/ref/ref.h"
