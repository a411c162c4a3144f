/* Step graphs (trainer.graph): the model records its step (forward, backward, optimiser, EMA)
 * once and launches it every step after, the per-step rates read from backend memory. On the
 * replaying backend (kernels/trace/replay.h), which gives the CPU kernels CUDA's capture
 * semantics: while recording nothing runs, and anything that waits on the backend ends the
 * process. For each method and predictor the graph's run
 * equals the eager run bit for bit (losses, weights, momentum, target, F), captured after one
 * eager step and launched every step after. A launch that computes something else is caught
 * at the capture with what differed, and the model goes on eagerly with the eager state. The
 * settings a graph cannot take are refused by name, by the model and by the config.
 * The backend named by argv[1] (cpu, staged, cuda) runs the eager steps; the graphs are the
 * replaying backend's over it, and on cuda also CUDA's own (the CUDA Graph path itself). */
#include <math.h>

#include "core/ssl/train_config.h"
#include "kernels/trace/replay.h"
#include "test_backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

#define STEPS 7
#define READBACK 3

typedef struct {
    double loss[STEPS];
    float *w, *tw, *mom, *F;
    size_t nw, ntw, D2;
    int graph_captured, graph_step;
    char error[512];
} outcome;

static void outcome_free(outcome *o) {
    free(o->w);
    free(o->tw);
    free(o->mom);
    free(o->F);
}

/* STEPS steps on be (graph or eager per s), the views drawn per step from fixed seeds;
 * built(m), when given, sees the model before its first step. */
static void run(const sg_backend *be, const sg_ssl_settings *s, outcome *o,
                void (*built)(sg_ssl *m)) {
    sg_ssl m;
    sg_err err;
    memset(o, 0, sizeof *o);
    SG_CHECK(sg_ssl_build(&m, s, be, &err) == 0, "build on %s: %s", be->name, err.msg);
    if (built) built(&m);
    const size_t nx = (size_t)m.B * 3 * 16 * 16;
    float *x = tu_alloc(nx * sizeof(float));
    int logged = 0;
    for (int k = 0; k < STEPS; k++) {
        for (int v = 0; v < 2; v++) {
            tu_fill(x, nx, 57, (uint32_t)(2 * k + v), 0, 1);
            sg_ssl_put(&m, m.x[v], x, nx);
        }
        sg_ssl_step(&m);
        if (sg_ssl_log_full(&m) || k == STEPS - 1)
            logged += sg_ssl_losses(&m, o->loss + logged, STEPS - logged);
    }
    CHECK(logged == STEPS, "%s: %d losses read", be->name, logged);
    o->nw = m.online.total;
    o->w = tu_alloc(o->nw * sizeof(float));
    o->mom = tu_alloc(o->nw * sizeof(float));
    sg_ssl_get(&m, o->w, m.online.w, o->nw);
    sg_ssl_get(&m, o->mom, m.mom, o->nw);
    if (m.has_target) {
        o->ntw = m.target.total;
        o->tw = tu_alloc(o->ntw * sizeof(float));
        sg_ssl_get(&m, o->tw, m.target.w, o->ntw);
    }
    o->D2 = (size_t)m.D * m.D;
    o->F = tu_alloc(o->D2 * sizeof(float));
    sg_ssl_get(&m, o->F, m.F, o->D2);
    o->graph_captured = m.graph != NULL;
    o->graph_step = (int)m.graph_step;
    snprintf(o->error, sizeof o->error, "%s", m.graph_error);
    free(x);
    sg_ssl_free(&m);
}

static int same_run(const outcome *a, const outcome *b) {
    return !memcmp(a->loss, b->loss, sizeof a->loss) && a->nw == b->nw &&
           !memcmp(a->w, b->w, a->nw * sizeof(float)) &&
           !memcmp(a->mom, b->mom, a->nw * sizeof(float)) && a->ntw == b->ntw &&
           (!a->ntw || !memcmp(a->tw, b->tw, a->ntw * sizeof(float))) &&
           !memcmp(a->F, b->F, a->D2 * sizeof(float));
}

typedef struct {
    const char *name;
    void (*set)(sg_ssl_settings *s);
} variant;

static void v_byol(sg_ssl_settings *s) { (void)s; }
static void v_directpred(sg_ssl_settings *s) { s->pred = SG_PRED_DIRECTPRED; }
static void v_directcopy(sg_ssl_settings *s) {
    s->pred = SG_PRED_DIRECTCOPY;
    s->directcopy_normalize = 1;
}
static void v_optimal(sg_ssl_settings *s) {
    s->pred = SG_PRED_OPTIMAL;
    s->optimal_reg = 0.1;
}
static void v_linear_sym(sg_ssl_settings *s) {
    s->pred = SG_PRED_LINEAR;
    s->pred_symmetric = 1;
}
static void v_simsiam(sg_ssl_settings *s) {
    s->method = SG_METHOD_SIMSIAM;
    s->ema = 0;
}
static void v_nosg(sg_ssl_settings *s) { s->stop_gradient = 0; }
static void v_lars_cosine(sg_ssl_settings *s) {
    s->optimizer = SG_OPT_LARS;
    s->lars_eta = 0.001;
    s->lr_cosine = 1;
    s->ema_cosine = 1;
    s->warmup_steps = 3;
    s->total_steps = STEPS;
}
static void v_asym(sg_ssl_settings *s) { s->symmetric_loss = 0; }
/* BYOL's schedules with SGD: the rates a graph reads from backend memory change every step */
static void v_sgd_cosine(sg_ssl_settings *s) {
    s->lr_cosine = 1;
    s->ema_cosine = 1;
    s->warmup_steps = 2;
    s->total_steps = STEPS;
}

/* The graph's run of every variant against the eager one on be; be's own graphs too where it
 * has them (CUDA). */
static void graph_equals_eager(const sg_backend *be) {
    static const variant vs[] = {{"byol-mlp", v_byol},          {"directpred", v_directpred},
                                 {"directcopy", v_directcopy},  {"optimal", v_optimal},
                                 {"linear-sym", v_linear_sym},  {"simsiam", v_simsiam},
                                 {"byol-nosg", v_nosg},         {"lars-cosine", v_lars_cosine},
                                 {"asymmetric", v_asym},        {"sgd-cosine", v_sgd_cosine}};
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 8);
        s.loss_readback = READBACK;
        vs[i].set(&s);
        outcome eager, graph;
        run(be, &s, &eager, NULL);
        const sg_backend *rb;
        sg_replay *r = sg_replay_new(be, &rb);
        s.graph = 1;
        if (be->graph_begin) {
            outcome own;
            run(be, &s, &own, NULL);
            CHECK(own.graph_captured && own.graph_step == 1 && !own.error[0],
                  "%s on %s: captured %d at step %d (%s)", vs[i].name, be->name,
                  own.graph_captured, own.graph_step, own.error);
            CHECK(same_run(&eager, &own), "%s: %s's graphs run the eager run bit for bit",
                  vs[i].name, be->name);
            outcome_free(&own);
        }
        run(rb, &s, &graph, NULL);
        CHECK(graph.graph_captured && graph.graph_step == 1 && !graph.error[0],
              "%s: captured %d at step %d (%s)", vs[i].name, graph.graph_captured,
              graph.graph_step, graph.error);
        /* the capture's check launches it once, then steps 2 .. STEPS-1 */
        CHECK(sg_replay_launches(r) == STEPS - 1, "%s: %ld launches", vs[i].name,
              sg_replay_launches(r));
        CHECK(sg_replay_graph_calls(r) > 50, "%s: the graph holds %ld calls", vs[i].name,
              sg_replay_graph_calls(r));
        CHECK(same_run(&eager, &graph), "%s: the graph's run is the eager run bit for bit",
              vs[i].name);
        int finite = 1;
        for (int k = 0; k < STEPS; k++) finite &= isfinite(graph.loss[k]) != 0;
        CHECK(finite && graph.loss[0] != graph.loss[STEPS - 1], "%s: losses move", vs[i].name);
        outcome_free(&eager);
        outcome_free(&graph);
        sg_replay_free(r);
    }
}

/* A backend whose graphs compute something else than its eager calls: the replaying backend
 * with one gradient changed after each launch. */
static const sg_backend *bent_inner;
static float *bent_at;
static void bent_launch(const sg_backend *be, void *g) {
    bent_inner->graph_launch(be, g);
    float v;
    be->mem_download(be, &v, bent_at, sizeof v);
    v += 1.0f;
    be->mem_upload(be, bent_at, &v, sizeof v);
}

/* the gradient the bent launch changes */
static void aim_at_gradient(sg_ssl *m) { bent_at = m->online.g + 5; }

static void mismatch_is_caught(const sg_backend *be) {
    const sg_backend *rb;
    sg_replay *r = sg_replay_new(be, &rb);
    sg_backend bent = *rb; /* the same state: its slots are the replaying backend's */
    bent.graph_launch = bent_launch;
    bent_inner = rb;
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 8);
    s.loss_readback = READBACK;
    outcome eager, graph;
    run(be, &s, &eager, NULL);
    s.graph = 1;
    run(&bent, &s, &graph, aim_at_gradient);
    CHECK(!graph.graph_captured &&
              strstr(graph.error, "differs from the eager step in the gradients (element 5 of"),
          "the difference is named: %s", graph.error);
    /* after the failed check the model went on eagerly from the eager pass's state */
    CHECK(same_run(&eager, &graph), "the run goes on as the eager run");
    CHECK(sg_replay_launches(r) == 1, "launched once, at the check: %ld", sg_replay_launches(r));
    outcome_free(&eager);
    outcome_free(&graph);
    sg_replay_free(r);
}

static void build_refuses(const sg_backend *be, sg_ssl_settings s, const char *want) {
    sg_ssl m;
    sg_err err;
    s.graph = 1;
    const int rc = sg_ssl_build(&m, &s, be, &err);
    CHECK(rc == -1 && strstr(err.msg, "trainer.graph=true") && strstr(err.msg, want),
          "refused naming %s: %s", want, rc ? err.msg : "built");
    if (rc == 0) sg_ssl_free(&m);
}

static void refusals(const sg_backend *be) {
    const sg_backend *rb;
    sg_replay *r = sg_replay_new(be, &rb);
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 8);
    s.loss_readback = READBACK;
    build_refuses(sg_backend_get("cpu"), s, "records no graphs");
    sg_ssl_settings t = s;
    t.loss_readback = 1;
    build_refuses(rb, t, "trainer.loss_readback > 1");
    t = s;
    t.accumulate = 2;
    build_refuses(rb, t, "trainer.accumulate=1");
    t = s;
    t.pred = SG_PRED_DIRECTPRED;
    t.zero_mean = 1;
    build_refuses(rb, t, "predictor.zero_mean");
    sg_replay_free(r);

    /* the config refuses what the model cannot see: the backend by name, cuDNN's determinism */
    static const struct {
        const char *args[4];
        const char *want;
    } cfgs[] = {
        {{"trainer.graph=true", NULL}, "trainer.backend=cpu"},
        {{"trainer.graph=true", "trainer.backend=cuda", "conv.deterministic=false", NULL},
         "conv.deterministic=false"},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        sg_config *c = sg_train_config_new();
        sg_err err;
        for (int a = 0; cfgs[i].args[a]; a++)
            SG_CHECK(sg_train_config_set_arg(c, cfgs[i].args[a], &err) == 0, "%s", err.msg);
        sg_ssl_settings set;
        const int rc = sg_train_settings(c, 3, 16, 16, 10, &set, &err);
        CHECK(rc == -1 && strstr(err.msg, "trainer.graph=true") && strstr(err.msg, cfgs[i].want),
              "config %zu refused naming %s: %s", i, cfgs[i].want, rc ? err.msg : "accepted");
        sg_config_free(c);
    }
    sg_config *c = sg_train_config_new();
    sg_err err;
    SG_CHECK(sg_train_config_set_arg(c, "trainer.backend=cuda", &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(c, "trainer.graph=true", &err) == 0, "%s", err.msg);
    sg_ssl_settings set;
    CHECK(sg_train_settings(c, 3, 16, 16, 10, &set, &err) == 0 && set.graph == 1 &&
              set.loss_readback > 1,
          "CUDA with its defaults takes it: %s", err.msg);
    CHECK(!sg_train_config_key_hashed("trainer.graph"), "trainer.graph changes no value");
    sg_config_free(c);
}

int main(int argc, char **argv) {
    const sg_backend *be = tb_backend(argc, argv);
    graph_equals_eager(be);
    mismatch_is_caught(be);
    refusals(be);
    return test_finish();
}
