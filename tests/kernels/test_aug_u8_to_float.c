/* aug_u8_to_float: dst = src / 255, against the double reference and on every byte value. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL && be->aug_u8_to_float != NULL, "cpu backend lacks aug_u8_to_float");

    /* Every byte value: exact endpoints, the float rounding of v/255 elsewhere. */
    uint8_t all[256];
    for (int v = 0; v < 256; v++) all[v] = (uint8_t)v;
    float got[256];
    double want[256];
    sg_aug_u8_to_float(be, 256, all, got);
    ref_aug_u8_to_float(256, all, want);
    CHECK(got[0] == 0.0f && got[255] == 1.0f, "endpoints %g %g", (double)got[0], (double)got[255]);
    CHECK(got[51] == 0.2f, "51/255 = %.9g, want 0.2f", (double)got[51]);
    int monotone = 1;
    for (int v = 1; v < 256; v++) monotone &= got[v] > got[v - 1];
    CHECK(monotone, "not strictly increasing");
    /* correctly rounded: within half an ulp (2^-24 relative) of the exact quotient */
    CHECK(tu_close_fd("all bytes", got, want, 256, 1e-12, 6e-8), "bytes differ from v/255");

    /* Random pixel buffers of odd lengths (vector body + tail), with a guard past the end. */
    sg_rng r;
    sg_rng_init(&r, 11, 0, 0, 0);
    for (int trial = 0; trial < 6; trial++) {
        size_t n = (size_t)tu_randint(&r, 1, 3 * 64 * 64 + 7);
        float *noise = tu_alloc(n * sizeof(float));
        uint8_t *src = tu_alloc(n);
        float *dst = tu_alloc((n + 1) * sizeof(float));
        double *ref = tu_alloc(n * sizeof(double));
        tu_fill(noise, n, 100 + trial, 1, 0.0f, 256.0f);
        for (size_t i = 0; i < n; i++) src[i] = (uint8_t)noise[i];
        dst[n] = -7.0f;
        sg_aug_u8_to_float(be, n, src, dst);
        ref_aug_u8_to_float(n, src, ref);
        CHECK(tu_close_fd("random bytes", dst, ref, n, 1e-12, 6e-8), "trial %d n=%zu", trial, n);
        CHECK(dst[n] == -7.0f, "wrote past the end (n=%zu)", n);
        free(noise);
        free(src);
        free(dst);
        free(ref);
    }
    return test_finish();
}
