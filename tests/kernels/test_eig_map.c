/* tests/kernels/test_eig_map.c: the CPU backend's eig_map, DirectPred's eigenvalue map, in its
 * four modes against ref_eig_map and bit for bit against the host loop core/ssl ran before the
 * map became an op (the training fixtures hold those bits), on known values (the 1e-4 floors,
 * smax = 0), determinism, and its cost. */
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

/* core/ssl's former sg_ssl_eigmap, verbatim but for the settings struct */
static void host_eigmap(int mode, double eps, double shift_c, int D, const float *s, float *p) {
    double smax = 0;
    for (int j = 0; j < D; j++)
        if (s[j] > smax) smax = s[j];
    for (int j = 0; j < D; j++) {
        double sj = s[j] > 0 ? s[j] : 0, v;
        switch (mode) {
        case SG_EIG_MAP_CODE:
            v = (smax > 0 ? sqrt(sj / smax) : 0) + eps;
            if (v < 1e-4) v = 1e-4;
            break;
        case SG_EIG_MAP_PAPER: v = sqrt(sj) + eps * smax; break;
        case SG_EIG_MAP_SHIFT_REL:
            v = (smax > 0 ? s[j] / smax : 0) - shift_c;
            v = sqrt(v > 1e-4 ? v : 1e-4);
            break;
        default: v = s[j] - shift_c > 0 ? sqrt(s[j] - shift_c) : 0; break;
        }
        p[j] = (float)v;
    }
}

static void check_random(const sg_backend *be) {
    const int Ds[] = {1, 3, 16, 65, 512};
    const double eps[] = {0.1, 0.0, -0.05}, shift[] = {0.0, 0.3, -0.1};
    for (size_t k = 0; k < sizeof Ds / sizeof Ds[0]; k++)
        for (int mode = 0; mode < SG_EIG_MAP_COUNT; mode++)
            for (int e = 0; e < 3; e++) {
                const int D = Ds[k];
                float *s = (float *)tu_alloc((size_t)D * sizeof(float));
                float *p = (float *)tu_alloc((size_t)D * sizeof(float));
                float *p2 = (float *)tu_alloc((size_t)D * sizeof(float));
                float *ph = (float *)tu_alloc((size_t)D * sizeof(float));
                double *sd = (double *)tu_alloc((size_t)D * sizeof(double));
                double *pd = (double *)tu_alloc((size_t)D * sizeof(double));
                /* eigenvalues of a PSD F: positive but for round-off negatives */
                tu_fill(s, (size_t)D, 800 + (uint64_t)D, 1, -0.2f, 2.0f);
                tu_fill(p, (size_t)D, 800 + (uint64_t)D, 2, -9.0f, 9.0f); /* overwritten */
                tu_f2d(s, sd, (size_t)D);
                ref_eig_map(D, sd, pd, mode, eps[e], shift[e]);
                sg_eig_map(be, D, s, p, mode, eps[e], shift[e]);
                char what[96];
                snprintf(what, sizeof what, "eig_map D %d mode %d eps %g c %g", D, mode, eps[e],
                         shift[e]);
                /* double arithmetic rounded to float once (atol only for exact zeros) */
                CHECK(tu_close_fd(what, p, pd, (size_t)D, 1e-30, 1.2e-7), "%s", what);
                host_eigmap(mode, eps[e], shift[e], D, s, ph);
                CHECK(memcmp(p, ph, (size_t)D * sizeof(float)) == 0, "%s: not the host loop's bits",
                      what);
                sg_eig_map(be, D, s, p2, mode, eps[e], shift[e]);
                CHECK(memcmp(p, p2, (size_t)D * sizeof(float)) == 0, "%s: two calls differ", what);
                free(s);
                free(p);
                free(p2);
                free(ph);
                free(sd);
                free(pd);
            }
}

/* Hand-computed values: smax = 4, so CODE gives sqrt(s/4) + eps floored at 1e-4. */
static void check_known(const sg_backend *be) {
    const float s[4] = {-1.0f, 0.0f, 1.0f, 4.0f};
    float p[4];
    sg_eig_map(be, 4, s, p, SG_EIG_MAP_CODE, 0.0, 0.0);
    CHECK(p[0] == 1e-4f && p[1] == 1e-4f && p[2] == 0.5f && p[3] == 1.0f, "code: %g %g %g %g", p[0],
          p[1], p[2], p[3]);
    sg_eig_map(be, 4, s, p, SG_EIG_MAP_PAPER, 0.25, 0.0); /* sqrt(max(s,0)) + eps * 4 */
    CHECK(p[0] == 1.0f && p[1] == 1.0f && p[2] == 2.0f && p[3] == 3.0f, "paper: %g %g %g %g", p[0],
          p[1], p[2], p[3]);
    sg_eig_map(be, 4, s, p, SG_EIG_MAP_SHIFT, 0.0, 0.75); /* sqrt(s - c) or 0 */
    CHECK(p[0] == 0.0f && p[1] == 0.0f && p[2] == 0.5f && p[3] == (float)sqrt(3.25),
          "shift: %g %g %g %g", p[0], p[1], p[2], p[3]);
    sg_eig_map(be, 4, s, p, SG_EIG_MAP_SHIFT_REL, 0.0, 0.25); /* sqrt(max(s/4 - c, 1e-4)) */
    const float floor = (float)sqrt(1e-4);
    CHECK(p[0] == floor && p[1] == floor && p[2] == floor && p[3] == (float)sqrt(0.75),
          "shift_rel: %g %g %g %g", p[0], p[1], p[2], p[3]);
    /* no positive eigenvalue: smax = 0, the ratios count as 0 */
    const float neg[2] = {-2.0f, -1.0f};
    sg_eig_map(be, 2, neg, p, SG_EIG_MAP_CODE, 0.5, 0.0);
    CHECK(p[0] == 0.5f && p[1] == 0.5f, "code, smax 0: %g %g", p[0], p[1]);
    sg_eig_map(be, 2, neg, p, SG_EIG_MAP_SHIFT_REL, 0.0, -0.25);
    CHECK(p[0] == 0.5f && p[1] == 0.5f, "shift_rel, smax 0: %g %g", p[0], p[1]);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be && be->eig_map, "cpu backend lacks eig_map");
    if (!be || !be->eig_map) return test_finish();
    for (int t = 1; t <= 2; t++) {
        sg_cpu_set_threads(t);
        check_random(be);
    }
    check_known(be);
    sg_cost c = sg_cost_eig_map(100);
    CHECK(c.flops == 500 && c.bytes == 800, "cost: %g flops, %g bytes", c.flops, c.bytes);
    return test_finish();
}
