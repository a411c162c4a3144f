/* tests/theory/test_matrix_flow.c: the matrix flow is the (stop-)gradient flow of the loss
 * J = 1/2 E||W_p W x1 - W_a x2||^2: finite differences of the closed-form loss against the
 * right-hand side for every variant, the variants' structure (symmetric, identity, DirectPred,
 * EMA), the perturbation switch, and the parameter validation messages. */
#include <math.h>
#include <string.h>

#include "core/base/err.h"
#include "core/theory/flow.h"
#include "core/theory/linalg.h"
#include "test_util.h"

enum { N1 = 5, N2 = 4, W = N1 * N2, Q = N2 * N2, DIM = 2 * W + Q };

static double X[N1 * N1], Xp[N1 * N1];

static sg_th_flow_params base(sg_th_target target, int stop_grad, sg_th_pred pred) {
    sg_th_flow_params p = {.n1 = N1,
                           .n2 = N2,
                           .X = X,
                           .Xp = Xp,
                           .alpha_p = 0.7,
                           .eta = 0.03,
                           .beta = 0.45,
                           .target = target,
                           .stop_grad = stop_grad,
                           .pred = pred};
    return p;
}

typedef struct {
    sg_th_flow *f;
    double *y; /* the state the loss is evaluated around; x overwrites a slice of it */
    int offset;
} fd_ctx;

static double loss_at(const double *x, void *vctx) {
    fd_ctx *c = vctx;
    double y[DIM];
    memcpy(y, c->y, sizeof y);
    memcpy(y + c->offset, x, sizeof(double) * (c->offset == W ? Q : W));
    return sg_th_flow_loss(c->f, y);
}

/* Checks dy[offset..] == -scale * dJ/dy[offset..] - eta y[offset..] by central differences. */
static int grad_matches(sg_th_flow *f, double *y, const double *dy, int offset, int n, double scale,
                        const char *what) {
    double g[W > Q ? W : Q], x[W > Q ? W : Q];
    for (int i = 0; i < n; i++) g[i] = -(dy[offset + i] + f->p.eta * y[offset + i]) / scale;
    memcpy(x, y + offset, sizeof(double) * (size_t)n);
    fd_ctx c = {f, y, offset};
    return tu_gradcheck(what, loss_at, &c, x, (size_t)n, g, 1e-6, 1e-8, 1e-6);
}

int main(void) {
    sg_th_random_spd(N1, 0.3, 3, 1, X);
    sg_th_random_spd(N1, 0.2, 3, 2, Xp);
    for (int i = 0; i < N1 * N1; i++) Xp[i] *= 0.3;
    sg_err err;

    /* BYOL (EMA, free predictor): dW = -dJ/dW - eta W with W_a held; dW_p = -alpha_p dJ/dW_p -
     * eta W_p; dW_a = beta (W - W_a). */
    {
        sg_th_flow_params p = base(SG_TH_TARGET_EMA, 1, SG_TH_PRED_LEARNED);
        sg_th_flow f;
        CHECK(sg_th_flow_init(&f, &p, &err) == 0, "%s", err.msg);
        CHECK(f.dim == DIM, "dim %d", f.dim);
        double y[DIM], dy[DIM];
        sg_th_flow_init_state(&f, y, 0.5, 0.5, 0, 1);
        sg_th_random_normal(y + W + Q, W, 0.5, 1, 9); /* W_a != W */
        sg_th_flow_rhs(&f, 0, y, dy);
        CHECK(grad_matches(&f, y, dy, 0, W, 1.0, "byol dW"), "byol: dW is the stop-grad gradient");
        CHECK(grad_matches(&f, y, dy, W, Q, p.alpha_p, "byol dWp"), "byol: dW_p is the gradient");
        double ema[W], want[W];
        for (int i = 0; i < W; i++)
            want[i] = p.beta * (y[i] - y[W + Q + i]), ema[i] = dy[W + Q + i];
        CHECK(tu_close_dd("ema", ema, want, W, 1e-15, 1e-14), "dW_a = beta (W - W_a)");
        /* The perturbation switch: each value changes exactly its term. */
        sg_th_flow fw, fe, fn;
        p.perturb = SG_TH_PERTURB_WD_SIGN;
        CHECK(sg_th_flow_init(&fw, &p, &err) == 0, "%s", err.msg);
        p.perturb = SG_TH_PERTURB_EMA_SIGN;
        CHECK(sg_th_flow_init(&fe, &p, &err) == 0, "%s", err.msg);
        p.perturb = SG_TH_PERTURB_NOISE_DROP;
        CHECK(sg_th_flow_init(&fn, &p, &err) == 0, "%s", err.msg);
        double dw[DIM], de[DIM], dn[DIM], dz[DIM];
        sg_th_flow_rhs(&fw, 0, y, dw);
        sg_th_flow_rhs(&fe, 0, y, de);
        sg_th_flow_rhs(&fn, 0, y, dn);
        double worst_w = 0, worst_e = 0;
        for (int i = 0; i < W + Q; i++)
            worst_w = fmax(worst_w, fabs(dw[i] - dy[i] - 2 * p.eta * y[i]));
        for (int i = 0; i < W; i++) worst_e = fmax(worst_e, fabs(de[W + Q + i] + dy[W + Q + i]));
        CHECK(worst_w < 1e-15, "wd_sign adds 2 eta y: %.3e", worst_w);
        CHECK(worst_e < 1e-15, "ema_sign flips dW_a: %.3e", worst_e);
        CHECK(memcmp(de, dy, sizeof(double) * (W + Q)) == 0, "ema_sign leaves W, W_p alone");
        /* noise_drop == the nominal flow with X' = 0. */
        double Z[N1 * N1] = {0};
        sg_th_flow_params pz = base(SG_TH_TARGET_EMA, 1, SG_TH_PRED_LEARNED);
        pz.Xp = Z;
        sg_th_flow fz;
        CHECK(sg_th_flow_init(&fz, &pz, &err) == 0, "%s", err.msg);
        sg_th_flow_rhs(&fz, 0, y, dz);
        CHECK(tu_close_dd("noise_drop", dn, dz, DIM, 1e-15, 1e-14), "noise_drop = X' = 0");
        double worst_n = 0;
        for (int i = 0; i < W; i++) worst_n = fmax(worst_n, fabs(dn[i] - dy[i]));
        CHECK(worst_n > 1e-3, "noise_drop must change dW (%.3e)", worst_n);
        sg_th_flow_free(&fw);
        sg_th_flow_free(&fe);
        sg_th_flow_free(&fn);
        sg_th_flow_free(&fz);
        sg_th_flow_free(&f);
    }
    /* No stop-gradient: plain gradient descent on J(W, W_p, W) (the target moves with W). */
    {
        sg_th_flow_params p = base(SG_TH_TARGET_ONLINE, 0, SG_TH_PRED_LEARNED);
        sg_th_flow f;
        CHECK(sg_th_flow_init(&f, &p, &err) == 0, "%s", err.msg);
        double y[DIM], dy[DIM];
        sg_th_flow_init_state(&f, y, 0.5, 0.5, 0, 2);
        sg_th_flow_rhs(&f, 0, y, dy);
        CHECK(grad_matches(&f, y, dy, 0, W, 1.0, "nosg dW"), "no stop-grad: full gradient");
        CHECK(memcmp(dy, dy + W + Q, sizeof(double) * W) == 0, "online target copy follows W");
        /* With the stop-gradient the W part differs (the target gradient is cut). */
        p.stop_grad = 1;
        sg_th_flow g;
        CHECK(sg_th_flow_init(&g, &p, &err) == 0, "%s", err.msg);
        double dg[DIM];
        sg_th_flow_rhs(&g, 0, y, dg);
        double diff = 0;
        for (int i = 0; i < W; i++) diff = fmax(diff, fabs(dg[i] - dy[i]));
        CHECK(diff > 1e-3, "stop-grad must change dW (%.3e)", diff);
        CHECK(memcmp(dg + W, dy + W, sizeof(double) * Q) == 0, "dW_p is the same either way");
        sg_th_flow_free(&f);
        sg_th_flow_free(&g);
    }
    /* Symmetric predictor: dW_p is the symmetric part of the free predictor's. */
    {
        sg_th_flow_params p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_SYMMETRIC);
        sg_th_flow f, g;
        CHECK(sg_th_flow_init(&f, &p, &err) == 0, "%s", err.msg);
        p.pred = SG_TH_PRED_LEARNED;
        CHECK(sg_th_flow_init(&g, &p, &err) == 0, "%s", err.msg);
        double y[DIM], dy[DIM], dg[DIM];
        sg_th_flow_init_state(&f, y, 0.5, 0.5, 0, 3);
        int sym = 1;
        for (int i = 0; i < N2; i++)
            for (int j = 0; j < N2; j++) sym &= y[W + i * N2 + j] == y[W + j * N2 + i];
        CHECK(sym, "symmetric start");
        sg_th_flow_rhs(&f, 0, y, dy);
        sg_th_flow_rhs(&g, 0, y, dg);
        double worst = 0;
        for (int i = 0; i < N2; i++)
            for (int j = 0; j < N2; j++) {
                double want = 0.5 * (dg[W + i * N2 + j] + dg[W + j * N2 + i]);
                worst = fmax(worst, fabs(dy[W + i * N2 + j] - want));
            }
        CHECK(worst < 1e-15, "symmetrised predictor gradient: %.3e", worst);
        sg_th_flow_free(&f);
        sg_th_flow_free(&g);
    }
    /* No predictor: W_p = I and stays; dW = -W X' - eta W for SimSiam. */
    {
        sg_th_flow_params p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_IDENTITY);
        sg_th_flow f;
        CHECK(sg_th_flow_init(&f, &p, &err) == 0, "%s", err.msg);
        double y[DIM], dy[DIM], want[W];
        sg_th_flow_init_state(&f, y, 0.5, 0.5, 0, 4);
        int eye = 1;
        for (int i = 0; i < N2; i++)
            for (int j = 0; j < N2; j++) eye &= y[W + i * N2 + j] == (i == j);
        CHECK(eye, "W_p = I");
        sg_th_flow_rhs(&f, 0, y, dy);
        sg_th_mm(want, y, Xp, N2, N1, N1);
        for (int i = 0; i < W; i++) want[i] = -want[i] - p.eta * y[i];
        CHECK(tu_close_dd("no predictor dW", dy, want, W, 1e-15, 1e-13), "dW = -W X' - eta W");
        double zero = 0;
        for (int i = 0; i < Q; i++) zero = fmax(zero, fabs(dy[W + i]));
        CHECK(zero == 0, "W_p does not move");
        sg_th_flow_free(&f);
    }
    /* DirectPred: W_p^2 = F_in = W (X+X') W^T (eps = 0); with eps the eigenvalues are
     * sqrt(s_j) + eps s_max; W_p's state does not move. */
    for (int with_eps = 0; with_eps < 2; with_eps++) {
        sg_th_flow_params p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_DIRECTPRED);
        p.dp_eps = with_eps ? 0.1 : 0.0;
        sg_th_flow f;
        CHECK(sg_th_flow_init(&f, &p, &err) == 0, "%s", err.msg);
        double y[DIM], dy[DIM], Wp[Q], A[W], F[Q], s[N2], V[Q], wk[Q], pe[N2], XX[N1 * N1];
        sg_th_flow_init_state(&f, y, 0.5, 0.5, 0, 5);
        sg_th_flow_predictor(&f, y, Wp);
        for (int i = 0; i < N1 * N1; i++) XX[i] = X[i] + Xp[i];
        sg_th_mm(A, y, XX, N2, N1, N1);
        sg_th_mm_nt(F, A, y, N2, N1, N2);
        sg_th_sym_eig(N2, F, s, V, wk);
        sg_th_sym_eig(N2, Wp, pe, V, wk);
        for (int j = 0; j < N2; j++) {
            double want = sqrt(s[j]) + p.dp_eps * s[N2 - 1];
            CHECK(fabs(pe[j] - want) < 1e-12, "eps=%g: p_%d = %.15f want %.15f", p.dp_eps, j, pe[j],
                  want);
        }
        if (!with_eps) {
            double W2[Q];
            sg_th_mm(W2, Wp, Wp, N2, N2, N2);
            CHECK(tu_close_dd("W_p^2 = F_in", W2, F, Q, 1e-13, 1e-12), "DirectPred square");
        }
        sg_th_flow_rhs(&f, 0, y, dy);
        double zero = 0;
        for (int i = 0; i < Q; i++) zero = fmax(zero, fabs(dy[W + i]));
        CHECK(zero == 0, "DirectPred: stored W_p does not move");
        /* The W part is the stop-grad gradient with the DirectPred W_p held. */
        sg_th_flow_params pl = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED);
        sg_th_flow g;
        CHECK(sg_th_flow_init(&g, &pl, &err) == 0, "%s", err.msg);
        double z[DIM], dz[DIM];
        memcpy(z, y, sizeof z);
        memcpy(z + W, Wp, sizeof Wp);
        sg_th_flow_rhs(&g, 0, z, dz);
        CHECK(tu_close_dd("DirectPred dW", dy, dz, W, 1e-15, 1e-13), "dW with W_p held");
        sg_th_flow_free(&g);
        sg_th_flow_free(&f);
    }
    /* tau_eff and F. */
    {
        sg_th_flow_params p = base(SG_TH_TARGET_EMA, 1, SG_TH_PRED_LEARNED);
        sg_th_flow f;
        CHECK(sg_th_flow_init(&f, &p, &err) == 0, "%s", err.msg);
        double y[DIM];
        sg_th_flow_init_state(&f, y, 0.5, 0.5, 1, 6);
        CHECK(sg_th_flow_tau(&f, y) == 0.0, "W_a(0) = 0 gives tau 0");
        for (int i = 0; i < W; i++) y[W + Q + i] = 0.5 * y[i];
        CHECK(fabs(sg_th_flow_tau(&f, y) - 0.5) < 1e-15, "tau of W_a = W/2");
        sg_th_flow_free(&f);
    }
    /* Validation messages name the offending field. */
    {
        sg_th_flow f;
        sg_th_flow_params p = base(SG_TH_TARGET_EMA, 0, SG_TH_PRED_LEARNED);
        CHECK(sg_th_flow_init(&f, &p, &err) == -1 && strstr(err.msg, "stop_grad"), "%s", err.msg);
        p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED);
        p.alpha_p = 0;
        CHECK(sg_th_flow_init(&f, &p, &err) == -1 && strstr(err.msg, "alpha_p"), "%s", err.msg);
        p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED);
        p.eta = -1;
        CHECK(sg_th_flow_init(&f, &p, &err) == -1 && strstr(err.msg, "eta"), "%s", err.msg);
        double B[N1 * N1];
        memcpy(B, X, sizeof B);
        B[1] += 0.5;
        p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED);
        p.X = B;
        CHECK(sg_th_flow_init(&f, &p, &err) == -1 && strstr(err.msg, "X is not symmetric"), "%s",
              err.msg);
        p = base(SG_TH_TARGET_ONLINE, 1, SG_TH_PRED_LEARNED);
        p.n2 = 0;
        CHECK(sg_th_flow_init(&f, &p, &err) == -1 && strstr(err.msg, "n2 = 0"), "%s", err.msg);
    }
    return test_finish();
}
