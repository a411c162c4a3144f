/* kernels/ref/ref_aug.c: naive double-precision references (see ref.h). */
#include "kernels/ref/ref.h"
