/* core/theory/sgd.h: discrete stochastic gradient descent on the linear model, with sampled
 * data and sampled augmentation noise, so the gradient flow's predictions (flow.h) can be set
 * against a noisy, finite-batch optimisation.
 *
 * Each step draws a batch of B inputs xbar ~ N(0, X) and two views x1 = xbar + e1,
 * x2 = xbar + e2 with e ~ N(0, X') (square roots of X, X' by Jacobi, so PSD is enough), and
 * descends the per-pair loss 1/2 ||W_p W x1 - W_a x2||^2 averaged over the batch:
 *     W_p <- W_p - lr (alpha_p mean(r (W x1)^T) + eta W_p),  r = W_p W x1 - W_a x2
 *     W   <- W   - lr (mean(W_p^T r x1^T) + eta W)           (+ mean(-r x2^T) without stop-grad)
 *     W_a <- W_a + lr beta (W - W_a)                          (EMA, m = 1 - lr beta; or W_a = W)
 * so that the expected update is exactly lr times the flow's right-hand side: step k sits at
 * flow time t = k lr. Symmetric predictor: W_p <- (W_p + W_p^T)/2 after the step. DirectPred:
 * F_hat <- rho F_hat + (1 - rho) mean(f f^T) over the 2B online outputs f = W x1, W x2 (the
 * first batch initialises F_hat); after the step, every dp_freq steps from step 0, W_p is set
 * to U diag(sqrt(s_j) + eps s_max) U^T from F_hat (between settings W_p gets SGD steps, as in
 * the reference code). The state vector has the flow's layout. The random stream of step k is
 * (seed; k), so a run reproduces exactly.
 */
#pragma once
#include <stdint.h>

#include "core/base/err.h"
#include "core/theory/flow.h"

/* The optimiser's own settings. */
typedef struct {
    double lr;     /* alpha > 0 */
    int batch;     /* B >= 1 */
    uint64_t seed; /* the stream of the samples */
    double dp_rho; /* DirectPred F_hat moving-average rate, in [0, 1) */
    int dp_freq;   /* DirectPred: set W_p every dp_freq >= 1 steps */
} sg_th_sgd_opts;

typedef struct {
    sg_th_flow_params model; /* the linear model and variant, as for the flow */
    sg_th_sgd_opts opt;
} sg_th_sgd_params;

typedef struct {
    sg_th_sgd_params p;
    sg_th_flow flow;          /* sizes, X / X' copies and scratch */
    double *Sx, *Sxp;         /* symmetric square roots of X and X' [n1 x n1] */
    double *z, *xb, *x1, *x2; /* [n1] */
    double *h1, *h2, *r, *v;  /* [n2] */
    double *gW, *gWp;         /* gradient accumulators */
    double *Fhat, *Fb;        /* [n2 x n2] */
    int fhat_ready;
    long step;
} sg_th_sgd;

int sg_th_sgd_init(sg_th_sgd *s, const sg_th_sgd_params *p, sg_err *err);
void sg_th_sgd_free(sg_th_sgd *s);
/* One step on y (the flow's state layout). */
void sg_th_sgd_step(sg_th_sgd *s, double *y);
