/* core/theory/setup.c: the simulation set-ups of the theory suite (see setup.h). */
#include "core/theory/setup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/theory/linalg.h"

#define SESSION_STEP_BUDGET 20000L /* 10x the most a nominal run of the suite needs */

void sg_th_session_init(sg_th_session *g, int n, sg_th_solver sv, sg_th_rhs rhs, void *ctx) {
    memset(g, 0, sizeof *g);
    SG_CHECK(sg_th_ode_ws_init(&g->ws, n) == 0, "out of memory (ODE of dimension %d)", n);
    g->sv = sv;
    g->rhs = rhs;
    g->ctx = ctx;
}

int sg_th_session_to(sg_th_session *g, double *y, double t1) {
    if (g->failed) return -1;
    g->sv.max_steps = SESSION_STEP_BUDGET - (g->st.steps + g->st.rejected);
    if (g->sv.max_steps <= 0 ||
        sg_th_advance(&g->sv, &g->ws, g->rhs, g->ctx, g->t, t1, y, &g->h, &g->st))
        g->failed = 1;
    g->t = t1;
    return g->failed ? -1 : 0;
}

void sg_th_session_free(sg_th_session *g) { sg_th_ode_ws_free(&g->ws); }

const sg_th_setup sg_th_setup_sgd_vs_flow = {.model = {.n1 = 8,
                                                       .n2 = 4,
                                                       .noise = 0.1,
                                                       .alpha_p = 1.0,
                                                       .eta = 0.05,
                                                       .beta = 0.4,
                                                       .target = SG_TH_TARGET_EMA},
                                             .start = {.w_std = 0.4, .wp_std = 0.4, .seed = 103},
                                             .sgd = {.lr = 0.02, .batch = 32, .seed = 101}};

static void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz);
    SG_CHECK(p != NULL, "out of memory (%zu x %zu bytes)", n, sz);
    return p;
}

/* X [n1 x n1] and then X' [n1 x n1] of the model's data, in one buffer (the caller frees it). */
static double *alloc_data(const sg_th_model *m) {
    int n1 = m->n1;
    double *X = xcalloc((size_t)2 * n1 * n1, sizeof(double)), *Xp = X + n1 * n1;
    if (m->data == SG_TH_DATA_RANDOM_SPD) {
        sg_th_random_spd(n1, 0.2, m->data_seed, 1, X);
        sg_th_random_spd(n1, 0.5, m->data_seed, 2, Xp);
        for (int i = 0; i < n1 * n1; i++) Xp[i] *= m->noise;
    } else {
        for (int i = 0; i < n1; i++) {
            X[i * n1 + i] = 1.0;
            Xp[i * n1 + i] = m->noise;
        }
    }
    return X;
}

/* The flow's parameters of model m on the data alloc_data made. */
static sg_th_flow_params flow_params(const sg_th_model *m, const double *data, sg_th_perturb pt) {
    return (sg_th_flow_params){.n1 = m->n1,
                               .n2 = m->n2,
                               .X = data,
                               .Xp = data + m->n1 * m->n1,
                               .alpha_p = m->alpha_p,
                               .eta = m->eta,
                               .beta = m->beta,
                               .target = m->target,
                               .stop_grad = !m->no_stop_grad,
                               .pred = m->pred,
                               .dp_eps = m->dp_eps,
                               .perturb = pt};
}

void sg_th_setup_flow(const sg_th_model *m, sg_th_perturb pt, sg_th_flow *f) {
    double *data = alloc_data(m);
    sg_th_flow_params fp = flow_params(m, data, pt);
    sg_err err;
    SG_CHECK(sg_th_flow_init(f, &fp, &err) == 0, "%s", err.msg);
    free(data);
}

void sg_th_setup_sgd(const sg_th_setup *su, sg_th_perturb pt, sg_th_sgd *s) {
    double *data = alloc_data(&su->model);
    sg_th_sgd_params sp = {.model = flow_params(&su->model, data, pt), .opt = su->sgd};
    sg_err err;
    SG_CHECK(sg_th_sgd_init(s, &sp, &err) == 0, "%s", err.msg);
    free(data);
}

/* W = U diag(sqrt(s_j)) V_r^T, W_p = U diag(p_j) U^T, W_a = W (setup.h, sg_th_start). */
static void aligned_state(sg_th_flow *f, double *y, const double *s, const double *p,
                          uint64_t seed) {
    int n1 = f->p.n1, n2 = f->p.n2;
    double *U = xcalloc((size_t)n2 * n2 + (size_t)n1 * n1 + n2, sizeof(double));
    double *V = U + n2 * n2, *root = V + n1 * n1;
    sg_th_random_orthogonal(n2, seed, 1, U);
    sg_th_random_orthogonal(n1, seed, 2, V);
    for (int j = 0; j < n2; j++) root[j] = sqrt(s[j]);
    sg_th_mm_diag_nt(y, U, n2, root, V, n1, n2, n1, n2);
    sg_th_mm_diag_nt(sg_th_flow_Wp(f, y), U, n2, p, U, n2, n2, n2, n2);
    memcpy(sg_th_flow_Wa(f, y), y, sizeof(double) * (size_t)n2 * n1);
    free(U);
}

void sg_th_setup_state(const sg_th_start *st, sg_th_flow *f, double *y) {
    if (st->aligned)
        aligned_state(f, y, st->s0, st->p0, st->seed);
    else
        sg_th_flow_init_state(f, y, st->w_std, st->wp_std, st->wa_zero, st->seed);
}

void sg_th_sim_init(sg_th_sim *s, const sg_th_setup *su, sg_th_perturb pt, sg_th_solver sv) {
    sg_th_setup_flow(&su->model, pt, &s->flow);
    s->y = xcalloc((size_t)s->flow.dim, sizeof(double));
    sg_th_setup_state(&su->start, &s->flow, s->y);
    sg_th_session_init(&s->run, s->flow.dim, sv, sg_th_flow_rhs, &s->flow);
}

int sg_th_sim_to(sg_th_sim *s, double t1) { return sg_th_session_to(&s->run, s->y, t1); }

void sg_th_sim_free(sg_th_sim *s) {
    sg_th_session_free(&s->run);
    free(s->y);
    sg_th_flow_free(&s->flow);
}
