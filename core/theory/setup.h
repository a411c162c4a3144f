/* core/theory/setup.h: the simulation set-ups of the claims (claims.c) and the figures
 * (figures.c), built and run in one place.
 *
 * An sg_th_setup describes one run of the linear model: sizes, data (X, X'), the variant
 * (predictor, target, stop-gradient), alpha_p, weight decay eta, EMA rate beta, the initial
 * state and its seed, and for discrete SGD the step size, batch and seed. sg_th_sim builds the
 * matrix flow (flow.h) and its initial state from a set-up and advances the state with an
 * integration session; sg_th_setup_sgd builds the SGD (sgd.h) on the same model. The session
 * (sg_th_session) integrates any sg_th_rhs, the per-mode system (modes.h) included.
 *
 * A field left out of an initializer is 0, the common case: isotropic data, a learned
 * predictor, an online target (SimSiam), the stop-gradient, a random start.
 */
#pragma once
#include <stdint.h>

#include "core/theory/flow.h"
#include "core/theory/ode.h"
#include "core/theory/perturb.h"
#include "core/theory/sgd.h"

/* ---- integration session --------------------------------------------------------------------- */

/* One integration of dy/dt = rhs(ctx, t, y) from t = 0: workspace, solver, the adaptive step
 * carried from call to call, the current time and the step counts. */
typedef struct {
    sg_th_rhs rhs;
    void *ctx;
    sg_th_ode_ws ws;
    sg_th_solver sv;
    double h, t;
    int failed;
    sg_th_ode_stats st;
} sg_th_session;

/* n: the ODE's dimension. ctx must outlive the session. */
void sg_th_session_init(sg_th_session *g, int n, sg_th_solver sv, sg_th_rhs rhs, void *ctx);
/* Advances y[n] from the session's time to t1 (its new time). Returns 0, or -1 when this or an
 * earlier call failed: blow-up, step underflow, or more than 20000 steps (accepted and rejected)
 * in the whole session. The suite's nominal runs need at most ~2000; a perturbed system that
 * blows up becomes stiff (rates grow with s) long before its state leaves the solver's y_max,
 * and would otherwise crawl. */
int sg_th_session_to(sg_th_session *g, double *y, double t1);
void sg_th_session_free(sg_th_session *g);

/* ---- set-ups of the linear model ------------------------------------------------------------ */

typedef enum {
    SG_TH_DATA_ISOTROPIC = 0, /* X = I, X' = noise I (the paper's setting, noise = sigma^2) */
    SG_TH_DATA_RANDOM_SPD,    /* X = B B^T/n1 + 0.2 I, X' = noise (C C^T/n1 + 0.5 I), B and C
                               * Gaussian from streams (data_seed; 1) and (data_seed; 2) */
} sg_th_data;

/* The linear model: W [n2 x n1], W_p [n2 x n2], W_a [n2 x n1]; X, X' [n1 x n1]. */
typedef struct {
    int n1, n2;
    sg_th_data data;
    double noise;       /* the scale of X' (sigma^2 for isotropic data) */
    uint64_t data_seed; /* SG_TH_DATA_RANDOM_SPD only */
    double alpha_p, eta, beta;
    sg_th_target target;
    sg_th_pred pred;
    double dp_eps;    /* DirectPred's eps (Eq. 18) */
    int no_stop_grad; /* 1: Theorem 2's flow, the gradient also through the (online) target */
} sg_th_model;

/* The initial state, from the streams of seed. Random (aligned = 0): W ~ N(0, w_std^2),
 * W_p ~ N(0, wp_std^2) (symmetrised, I or DirectPred's as the variant needs), W_a = W, or 0
 * with wa_zero and an EMA target (paper Fig. 7): sg_th_flow_init_state. Aligned: F = W W^T and
 * W_p share eigenvectors, W = U diag(sqrt(s0_j)) V_r^T, W_p = U diag(p0_j) U^T, W_a = W, with
 * U [n2 x n2] random orthogonal (seed; 1) and V_r the first n2 columns of a random orthogonal
 * [n1 x n1] (seed; 2). */
typedef struct {
    int aligned;
    double w_std, wp_std;
    int wa_zero;
    const double *s0, *p0; /* aligned: [n2] eigenvalues of F and of W_p */
    uint64_t seed;
} sg_th_start;

typedef struct {
    sg_th_model model;
    sg_th_start start;
    sg_th_sgd_opts sgd; /* sg_th_setup_sgd only: one step is lr time units */
} sg_th_setup;

/* BYOL (EMA target, beta = 0.4) with a free linear predictor, n1 = 8, n2 = 4, X = I,
 * X' = 0.1 I, eta = 0.05, W and W_p ~ N(0, 0.4^2): SGD with lr = 0.02, batch 32 against the
 * gradient flow, in the claim sgd_tracks_flow and the figure sgd_vs_flow. */
extern const sg_th_setup sg_th_setup_sgd_vs_flow;

/* The flow of the model under perturbation pt (X and X' built here, copied by the flow).
 * Aborts on an invalid model: set-ups are constants of the suite. */
void sg_th_setup_flow(const sg_th_model *m, sg_th_perturb pt, sg_th_flow *f);
/* The initial state in y[f->dim], for a flow f of the set-up's model. */
void sg_th_setup_state(const sg_th_start *st, sg_th_flow *f, double *y);
/* Discrete SGD on su's model under perturbation pt with su's SGD options; its state has the
 * flow's layout (start it with sg_th_setup_state on s->flow). */
void sg_th_setup_sgd(const sg_th_setup *su, sg_th_perturb pt, sg_th_sgd *s);

/* A matrix-flow run: the flow, its state and the session integrating it. */
typedef struct {
    sg_th_flow flow;
    double *y; /* [flow.dim], flow.h's layout: W, W_p, W_a */
    sg_th_session run;
} sg_th_sim;

/* Builds su's flow under pt, its initial state and an integration session with solver sv. */
void sg_th_sim_init(sg_th_sim *s, const sg_th_setup *su, sg_th_perturb pt, sg_th_solver sv);
/* Advances the state to time t1: sg_th_session_to. */
int sg_th_sim_to(sg_th_sim *s, double t1);
void sg_th_sim_free(sg_th_sim *s);
