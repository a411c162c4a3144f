/* core/theory/ode.h: integrators for the theory's ordinary differential equations.
 *
 * Two methods on the same right-hand-side signature:
 *  - classic fixed-step Runge-Kutta 4 (global error O(h^4));
 *  - Dormand-Prince 5(4) (Hairer, Norsett & Wanner, "Solving ODEs I", II.5) with per-step
 *    error control: a step is accepted when the RMS of err_i / (atol + rtol*max|y_i|) is <= 1,
 *    the 5th-order solution is propagated (local extrapolation), first-same-as-last reuse.
 * An sg_th_solver value picks one; sg_th_advance integrates y from t0 to t1 with it, so the
 * simulators and checks can switch method without caring which one runs.
 */
#pragma once

/* dy/dt = f(t, y); ctx carries the parameters. y and dydt have the dimension of the ODE. */
typedef void (*sg_th_rhs)(void *ctx, double t, const double *y, double *dydt);

/* Scratch for either integrator: 9 vectors of the ODE's dimension. */
typedef struct {
    int n;
    double *mem;
} sg_th_ode_ws;

int sg_th_ode_ws_init(sg_th_ode_ws *ws, int n); /* 0, or -1 when out of memory */
void sg_th_ode_ws_free(sg_th_ode_ws *ws);

typedef struct {
    long steps;    /* accepted steps */
    long rejected; /* rejected steps (adaptive only) */
    long nfev;     /* right-hand-side evaluations */
} sg_th_ode_stats;

typedef enum { SG_TH_RK4 = 0, SG_TH_DOPRI5 = 1 } sg_th_method;

typedef struct {
    sg_th_method method;
    double h;          /* RK4: the step (the last step of an interval is shortened to hit t1) */
    double rtol, atol; /* DOPRI5: tolerances */
    double h_max;      /* DOPRI5: largest step (<= 0: no limit) */
    long max_steps;    /* both: give up (return -1) after this many steps in one call */
    double y_max;      /* both: a state component beyond +-y_max counts as divergence (return
                        * -1), so a blowing-up system fails fast instead of shrinking its step
                        * towards underflow; <= 0: no limit */
} sg_th_solver;

/* A DOPRI5 solver with the given tolerances, a budget of 200000 steps per call and
 * y_max = 1e10 (the theory's states are O(1)..O(100); beyond 1e10 a run has diverged). */
sg_th_solver sg_th_solver_dopri(double rtol, double atol);
sg_th_solver sg_th_solver_rk4(double h); /* same y_max; budget 1e8 steps */

/* One classic RK4 step of size h from (t, y); y is updated in place. */
void sg_th_rk4_step(sg_th_ode_ws *ws, sg_th_rhs f, void *ctx, double t, double h, double *y);

/* Integrates y from t0 to t1 (t1 >= t0). *h_state carries the adaptive step between calls
 * (set it to 0 before the first call: an initial step is then estimated). Returns 0, or -1 when
 * the step budget ran out, the step size underflowed, or y became non-finite or left
 * [-y_max, y_max] (y then holds the last accepted state). stats may be NULL; counts are added to
 * it. */
int sg_th_advance(const sg_th_solver *s, sg_th_ode_ws *ws, sg_th_rhs f, void *ctx, double t0,
                  double t1, double *y, double *h_state, sg_th_ode_stats *stats);
