/* core/ssl/ssl.c: the model and one training step (see ssl.h for the algorithm). */
#include "core/ssl/ssl.h"

#include "core/base/log.h"
#include "core/dist/dist.h"
#include "kernels/backend.h"
#ifdef SG_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double kPi = 3.14159265358979323846;

const char *const sg_pred_kind_names[] = {"mlp",        "linear",     "identity", "random",
                                          "directpred", "directcopy", "optimal"};
_Static_assert(sizeof sg_pred_kind_names / sizeof sg_pred_kind_names[0] == SG_PRED_COUNT,
               "a name for every sg_pred_kind");
const char *const sg_eigmap_names[] = {"code", "paper", "shift", "shift_rel"};
_Static_assert(sizeof sg_eigmap_names / sizeof sg_eigmap_names[0] == SG_EIGMAP_COUNT,
               "a name for every sg_eigmap");

static int pred_is_linear(sg_pred_kind k) {
    return k == SG_PRED_LINEAR || k == SG_PRED_DIRECTPRED || k == SG_PRED_DIRECTCOPY ||
           k == SG_PRED_OPTIMAL;
}
static int pred_is_mlp(sg_pred_kind k) { return k == SG_PRED_MLP || k == SG_PRED_RANDOM; }
/* Predictors whose weights the optimizer updates (DirectPred & co. get SGD steps between
 * overwrites, as in the reference code). */
static int pred_is_trained(sg_pred_kind k) { return k != SG_PRED_IDENTITY && k != SG_PRED_RANDOM; }
static int pred_is_set_from_F(sg_pred_kind k) {
    return k == SG_PRED_DIRECTPRED || k == SG_PRED_DIRECTCOPY || k == SG_PRED_OPTIMAL;
}

static int ranks_of(const sg_ssl_settings *set) { return set->ranks > 1 ? set->ranks : 1; }
/* K, the micro-batches of one optimiser step */
static int accum_of(const sg_ssl_settings *set) {
    return set->accumulate > 1 ? set->accumulate : 1;
}
/* The loss directions: both views' predictions with the symmetric loss, else view 0's */
static int ndir_of(const sg_ssl_settings *set) { return set->symmetric_loss ? 2 : 1; }
/* The loss log's floats: [L steps, K micro-batches, ndir, B rows] */
static size_t log_floats(const sg_ssl *m) {
    return (size_t)m->set.loss_readback * (size_t)accum_of(&m->set) *
           (size_t)ndir_of(&m->set) * (size_t)m->B;
}

#ifdef SG_HAVE_CUDA
/* 1 when this model's sums and gathers over the ranks run over NCCL on device memory: several
 * ranks on the CUDA backend, whose communicator sg_ssl_build made. Otherwise a device backend
 * stages them through host memory (dist_host) and core/dist's MPI collectives. */
static int uses_nccl(const sg_ssl *m) {
    return ranks_of(&m->set) > 1 && !strcmp(m->be->name, "cuda") && sg_cuda_nccl_status() == 1;
}
#endif

/* Several ranks on the CUDA backend of a build with NCCL: make the communicator (a collective:
 * every rank gets here with the same settings). 0: ready; 1: not used (ranks share a GPU, said
 * once by rank 0), the caller stages through host memory; -1: an error, in err. */
static int nccl_setup(const sg_backend *be, sg_err *err) {
#ifdef SG_HAVE_CUDA
    if (strcmp(be->name, "cuda") != 0 || !sg_cuda_nccl_version()[0]) return 1;
    sg_err why;
    int rc = sg_cuda_nccl_init(be, &why);
    if (rc < 0) return sg_errf(err, "%s", why.msg);
    static int said;
    if (rc > 0 && !said++ && sg_dist_get()->rank == 0) sg_warn("NCCL not used: %s", why.msg);
    return rc;
#else
    (void)be, (void)err;
    return 1;
#endif
}

/* The projector's form (the target's mirrors it) and the MLP predictor's (always 2 layers). */
static sg_mlp_form proj_form(const sg_ssl_settings *set) {
    return (sg_mlp_form){set->proj_layers, 1, set->head_bn_affine, set->proj_out_bn};
}
static sg_mlp_form pred_form(const sg_ssl_settings *set) {
    return (sg_mlp_form){2, set->pred_mlp_bias, set->head_bn_affine, 0};
}

/* Everything the model owns, in one order, so the measuring pass and the real pass agree. */
static int build_all(sg_ssl *m, sg_params *on, sg_params *tg, sg_arena *a, sg_err *err) {
    const sg_ssl_settings *set = &m->set;
    const sg_backend *be = m->be;
    const int B = m->B, D = m->D;
    if (sg_resnet_build(&m->trunk, &set->trunk, B, on, SG_PG_TRUNK, be, err)) return -1;
    const int feat = m->trunk.feat_dim;
    const sg_mlp_form pf = proj_form(set), qf = pred_form(set);
    sg_mlp_build(&m->proj, on, SG_PG_PROJECTOR, "projector", B, feat, set->proj_hidden, D, &pf);
    if (pred_is_mlp(set->pred))
        sg_mlp_build(&m->pred_mlp, on, SG_PG_PREDICTOR, "predictor", B, D, set->pred_hidden, D,
                     &qf);
    else if (pred_is_linear(set->pred))
        sg_linear_build(&m->pred_lin, on, SG_PG_PREDICTOR, "predictor", B, D, D,
                        set->pred == SG_PRED_LINEAR && set->pred_bias);
    if (m->has_target) {
        if (sg_resnet_build(&m->ttrunk, &set->trunk, B, tg, SG_PG_TRUNK, be, err)) return -1;
        sg_mlp_build(&m->tproj, tg, SG_PG_PROJECTOR, "projector", B, feat, set->proj_hidden, D,
                     &pf);
    }

    const size_t img = (size_t)set->trunk.in_channels * set->trunk.H * set->trunk.W;
    for (int v = 0; v < 2; v++) {
        m->x[v] = SG_ARENA_NEW(a, float, (size_t)B * img);
        sg_resnet_acts_build(&m->on[v], &m->trunk, a);
        sg_mlp_acts_build(&m->on_proj[v], &m->proj, a);
        if (pred_is_mlp(set->pred)) sg_mlp_acts_build(&m->on_pred[v], &m->pred_mlp, a);
        m->pred_out[v] = SG_ARENA_NEW(a, float, (size_t)B * D);
        if (m->has_target) {
            sg_resnet_acts_build(&m->tg[v], &m->ttrunk, a);
            sg_mlp_acts_build(&m->tg_proj[v], &m->tproj, a);
        }
        m->dp[v] = SG_ARENA_NEW(a, float, (size_t)B * D);
        m->dt[v] = SG_ARENA_NEW(a, float, (size_t)B * D);
        m->dz[v] = SG_ARENA_NEW(a, float, (size_t)B * D);
    }
    sg_resnet_scratch_build(&m->scratch, &m->trunk, a);
    m->row_loss = SG_ARENA_NEW(a, float, (size_t)ndir_of(set) * B); /* [ndir, B] */
    m->dfeat = SG_ARENA_NEW(a, float, (size_t)B * feat);
    m->fcat = SG_ARENA_NEW(a, float, (size_t)2 * B * D);
    if (ranks_of(set) > 1) {
        m->fcat_all = SG_ARENA_NEW(a, float, (size_t)ranks_of(set) * 2 * B * D);
        if (set->pred == SG_PRED_OPTIMAL) {
            m->tswap = SG_ARENA_NEW(a, float, (size_t)2 * B * D);
            m->tswap_all = SG_ARENA_NEW(a, float, (size_t)ranks_of(set) * 2 * B * D);
        }
        if (set->sync_bn) {
            m->bn_sync.sums = sg_arena_alloc(a, 2 * (size_t)m->bn_sync.cap * sizeof(double));
            m->bn_sync.stat = SG_ARENA_NEW(a, float, 2 * (size_t)m->bn_sync.cap);
        }
    }
    m->F = SG_ARENA_NEW(a, float, (size_t)D * D);
    m->M2 = SG_ARENA_NEW(a, float, (size_t)D * D);
    m->mu = SG_ARENA_NEW(a, float, D);
    m->V = SG_ARENA_NEW(a, float, (size_t)D * D);
    m->s = SG_ARENA_NEW(a, float, D);
    m->p = SG_ARENA_NEW(a, float, D);
    m->work = SG_ARENA_NEW(a, float, (size_t)D * D);
    m->work2 = SG_ARENA_NEW(a, float, (size_t)D * D);
    m->syevd_ws = sg_arena_alloc(a, sg_syevd_workspace_bytes(be, D));
    if (accum_of(set) > 1) { /* the step's statistics over its micro-batches so far */
        m->Facc = SG_ARENA_NEW(a, float, (size_t)D * D);
        m->muacc = SG_ARENA_NEW(a, float, D);
        if (set->pred == SG_PRED_OPTIMAL) m->M2acc = SG_ARENA_NEW(a, float, (size_t)D * D);
    }
    return 0;
}

/* Called on host-memory parameters only (init_weights runs on the host; see sg_ssl_build). */
static void copy_prefix_to_target(sg_ssl *m) {
    memcpy(m->target.w, m->online.w, m->target.total * sizeof(float));
    memcpy(m->target.buf, m->online.buf, m->target.nbuf * sizeof(float));
}

void sg_ssl_get(const sg_ssl *m, float *host, const float *src, size_t n) {
    m->be->mem_download(m->be, host, src, n * sizeof(float));
}

void sg_ssl_put(sg_ssl *m, float *dst, const float *host, size_t n) {
    m->be->mem_upload(m->be, dst, host, n * sizeof(float));
}

/* Host scratch for the host-side parts of a step: the zero-mean variant's mean of f (its rows
 * and mu) and the loss rows (B floats, which fit in it). On the CPU backend get/put are plain
 * copies, so both backends run the same code. */
static size_t host_scratch_floats(const sg_ssl *m) {
    /* B: the rows F sees (every rank's, in data-parallel training) */
    size_t D = (size_t)m->D, B = (size_t)m->B * (size_t)ranks_of(&m->set);
    return 2 * B * D + D;
}

static void init_weights(sg_ssl *m) {
    sg_rng r;
    sg_rng_init(&r, m->set.seed, 0x696e6974u /* "init" */, 0, 0);
    sg_resnet_init(&m->trunk, &r);
    sg_mlp_init(&m->proj, &r);
    if (pred_is_mlp(m->set.pred)) sg_mlp_init(&m->pred_mlp, &r);
    if (pred_is_linear(m->set.pred)) sg_linear_init(&m->pred_lin, &r);
    if (!m->has_target) return;
    if (m->set.target_copy) {
        copy_prefix_to_target(m);
    } else {
        /* The reference code's target: its own random initialisation (copy commented out). */
        sg_rng t;
        sg_rng_init(&t, m->set.seed, 0x74617267u /* "targ" */, 0, 0);
        sg_resnet_init(&m->ttrunk, &t);
        sg_mlp_init(&m->tproj, &t);
    }
}

/* The optimiser's parameter groups, made once the model's memory is final: SGD's two groups
 * (trunk and projector; the predictor with its own learning-rate multiplier and decay), or
 * LARS's one group per tensor, biases and BN parameters excluded from adaptation and decay
 * (BYOL's recipe). Only the learning rate changes per step (sg_ssl_update sets it). */
static void build_optimizer_groups(sg_ssl *m) {
    const sg_ssl_settings *set = &m->set;
    size_t first, count;
    sg_params_group_range(&m->online, SG_PG_TRUNK, &first, &count);
    size_t tp_end = first + count;
    if (sg_params_group_range(&m->online, SG_PG_PROJECTOR, &first, &count)) tp_end = first + count;
    /* with a step graph the rates are read from m->rates (lr, predictor lr) when the kernels run */
    const float *lr_at = m->rates, *pred_lr_at = m->rates ? m->rates + 1 : NULL;
    m->n_sgd = 0;
    m->sgd[m->n_sgd++] = (sg_sgd_group){m->online.w, m->online.g, m->mom, tp_end, 0.0f,
                                        (float)set->wd, lr_at};
    if (pred_is_trained(set->pred) &&
        sg_params_group_range(&m->online, SG_PG_PREDICTOR, &first, &count))
        m->sgd[m->n_sgd++] = (sg_sgd_group){m->online.w + first, m->online.g + first,
                                            m->mom + first, count, 0.0f, (float)set->pred_wd,
                                            pred_lr_at};
    m->n_lars_tp = m->n_lars_pred = 0;
    for (int i = 0; i < m->online.count; i++) {
        const sg_param_entry *e = &m->online.entries[i];
        int is_pred = e->group == SG_PG_PREDICTOR;
        if (is_pred && !pred_is_trained(set->pred)) continue;
        sg_lars_group *lg = is_pred ? &m->lars_pred[m->n_lars_pred++] : &m->lars_tp[m->n_lars_tp++];
        *lg = (sg_lars_group){m->online.w + e->offset, m->online.g + e->offset, m->mom + e->offset,
                              e->count, (float)(is_pred ? set->pred_wd : set->wd),
                              e->kind == SG_PK_CONV_W || e->kind == SG_PK_LINEAR_W,
                              is_pred ? pred_lr_at : lr_at};
    }
}

/* A step graph's rates (set.graph): every step's learning rate, predictor learning rate and
 * EMA rate, as the floats sg_ssl_update would pass, in one backend table uploaded once;
 * stage_rates copies step k's into m->rates on the backend before the step, where the graph's
 * optimiser and EMA read them. Steps past the table (a model stepped beyond total_steps) have
 * theirs uploaded one by one. */
static void rates_at(const sg_ssl *m, long k, float out[3]) {
    out[0] = (float)sg_ssl_lr_at(&m->set, k);
    out[1] = (float)sg_ssl_pred_lr_at(&m->set, k);
    out[2] = m->has_target ? (float)sg_ssl_ema_at(&m->set, k) : 0.0f;
}

static int build_rates(sg_ssl *m, sg_err *err) {
    const sg_backend *be = m->be;
    m->rate_steps = m->set.total_steps > 0 ? m->set.total_steps : 0;
    const size_t n = 3 * (size_t)m->rate_steps;
    m->rates = be->mem_alloc(be, 3 * sizeof(float));
    m->rate_table = n ? be->mem_alloc(be, n * sizeof(float)) : NULL;
    float *h = n ? malloc(n * sizeof(float)) : NULL;
    if (!m->rates || (n && (!m->rate_table || !h))) {
        free(h);
        return sg_errf(err, "out of memory: the step graph's rates of %ld steps", m->rate_steps);
    }
    for (long k = 0; k < m->rate_steps; k++) rates_at(m, k, h + 3 * (size_t)k);
    if (n) be->mem_upload(be, m->rate_table, h, n * sizeof(float));
    free(h);
    return 0;
}

static void stage_rates(sg_ssl *m) {
    const sg_backend *be = m->be;
    if (m->step < m->rate_steps) {
        be->mem_copy(be, m->rates, m->rate_table + 3 * (size_t)m->step, 3 * sizeof(float));
    } else {
        float r[3];
        rates_at(m, m->step, r);
        be->mem_upload(be, m->rates, r, sizeof r);
    }
}

int sg_ssl_build(sg_ssl *m, const sg_ssl_settings *set, const sg_backend *be, sg_err *err) {
    memset(m, 0, sizeof *m);
    m->set = *set;
    m->be = be;
    m->B = set->batch;
    m->D = set->proj_out;
    if (set->batch < 2)
        return sg_errf(err, "trainer.batch: %d is too small (batch norm needs >= 2)", set->batch);
    if (set->proj_out < 1 || set->proj_hidden < 1 || set->pred_hidden < 1)
        return sg_errf(err, "model head sizes must be >= 1 (projector %d/%d, predictor %d)",
                       set->proj_hidden, set->proj_out, set->pred_hidden);
    if (set->freq < 1) return sg_errf(err, "predictor.freq: %d (expected >= 1)", set->freq);
    if (set->accumulate < 0 || set->accumulate > 4096)
        return sg_errf(err, "trainer.accumulate: %d (expected 1..4096)", set->accumulate);
    if (set->proj_layers < 2 || set->proj_layers > SG_MLP_MAX_LAYERS)
        return sg_errf(err, "model.proj_layers: %d (expected 2..%d)", set->proj_layers,
                       SG_MLP_MAX_LAYERS);
    if (set->graph) {
        const char *why = sg_ssl_graph_refusal(set, be);
        if (why) return sg_errf(err, "trainer.graph=true on backend %s: %s", be->name, why);
    }
    m->graph_warmup = set->graph ? 1 : 0;
    m->graph_step = -1;
    m->has_target = set->method == SG_METHOD_BYOL;
    if (set->sync_bn && ranks_of(set) > 1) {
        /* the widest batch-norm layer: the trunk's last stage, a head's hidden layer, or the
         * projector's output BN (model.proj_out_bn) */
        int cap = set->proj_hidden > set->pred_hidden ? set->proj_hidden : set->pred_hidden;
        if (set->proj_out_bn && set->proj_out > cap) cap = set->proj_out;
        /* the last stage: 512 * width channels, times 4 for ResNet-50's bottleneck (resnet.c
         * rounds each stage's width to the nearest integer) */
        const int trunk_c = ((int)lround(512.0 * set->trunk.width) + 1) *
                            (set->trunk.depth == 50 ? 4 : 1);
        if (trunk_c > cap) cap = trunk_c;
        m->bn_sync = (sg_bn_sync){ranks_of(set), 1, cap, NULL, NULL, NULL, NULL};
        m->bn_sync.hsums = malloc(2 * (size_t)cap * sizeof(double));
        m->bn_sync.hstat = malloc(6 * (size_t)cap * sizeof(float));
        if (!m->bn_sync.hsums || !m->bn_sync.hstat) {
            free(m->bn_sync.hsums);
            free(m->bn_sync.hstat);
            return sg_errf(err, "out of memory: sync batch-norm statistics");
        }
    }

    /* Sizes first: a measuring build (no memory), then everything in the backend's memory. */
    sg_params pm, tm;
    sg_arena am;
    sg_params_init_measure(&pm);
    sg_params_init_measure(&tm);
    sg_arena_init_measure(&am);
    int rc = build_all(m, &pm, &tm, &am, err);
    sg_params on_dev = {0}, tg_dev = {0};
    if (rc == 0) rc = sg_params_init_like(&on_dev, &pm, be, err);
    if (rc == 0 && m->has_target) rc = sg_params_init_like(&tg_dev, &tm, be, err);
    void *arena_mem = NULL;
    if (rc == 0) {
        arena_mem = be->mem_alloc(be, am.peak);
        if (!arena_mem)
            rc = sg_errf(err, "out of %s memory: activations need %.1f MiB", be->name,
                         (double)am.peak / (1024.0 * 1024.0));
    }
    m->mom = rc == 0 ? be->mem_alloc(be, pm.total * sizeof(float)) : NULL;
    if (rc == 0 && !m->mom)
        rc = sg_errf(err, "out of %s memory: optimizer state of %zu floats", be->name, pm.total);
    m->host = rc == 0 ? sg_aligned_alloc(host_scratch_floats(m) * sizeof(float)) : NULL;
    /* deferred losses: one rank (with several the loss is summed over the ranks on the host) */
    m->deferred = set->loss_readback > 1 && ranks_of(set) == 1;
    if (rc == 0 && m->deferred) {
        const size_t n = log_floats(m);
        m->log_steps = set->loss_readback;
        m->loss_log = be->mem_alloc(be, n * sizeof(float));
        m->loss_host = malloc(n * sizeof(float));
        if (!m->loss_log || !m->loss_host)
            rc = sg_errf(err, "out of memory: the loss log of %d steps (%zu floats)",
                         m->log_steps, n);
        if (rc == 0 && pred_is_set_from_F(set->pred)) { /* zero-filled: no failure yet */
            m->eig_info = be->mem_alloc(be, (size_t)m->log_steps * sizeof(int));
            m->eig_info_host = malloc((size_t)m->log_steps * sizeof(int));
            if (!m->eig_info || !m->eig_info_host)
                rc = sg_errf(err, "out of memory: the eigensolver's status of %d steps",
                             m->log_steps);
        }
    }
    m->lars_tp = calloc((size_t)(pm.count ? pm.count : 1), sizeof *m->lars_tp);
    m->lars_pred = calloc((size_t)(pm.count ? pm.count : 1), sizeof *m->lars_pred);
    if (rc == 0 && (!m->host || !m->lars_tp || !m->lars_pred))
        rc = sg_errf(err, "out of memory: host state of the model");

    /* Weights are initialised on the host (the RNG is host code): build against host copies of
     * the parameters, with a measuring arena (initialisation touches no activation), initialise,
     * upload, then build for real against the backend's memory. On the CPU backend the host copy
     * is the real thing and the upload a plain copy. */
    if (rc == 0) rc = sg_params_init_like(&m->online, &pm, NULL, err);
    if (rc == 0 && m->has_target) rc = sg_params_init_like(&m->target, &tm, NULL, err);
    sg_arena host_pass;
    sg_arena_init_measure(&host_pass);
    if (rc == 0) rc = build_all(m, &m->online, &m->target, &host_pass, err);
    free(pm.entries);
    free(tm.entries);
    if (rc == 0) {
        init_weights(m);
        be->mem_upload(be, on_dev.w, m->online.w, m->online.total * sizeof(float));
        be->mem_upload(be, on_dev.buf, m->online.buf, m->online.nbuf * sizeof(float));
        if (m->has_target) {
            be->mem_upload(be, tg_dev.w, m->target.w, m->target.total * sizeof(float));
            be->mem_upload(be, tg_dev.buf, m->target.buf, m->target.nbuf * sizeof(float));
        }
    }
    sg_params_free(&m->online);
    sg_params_free(&m->target);
    m->online = on_dev;
    m->target = tg_dev;
    if (arena_mem) sg_arena_init_over(&m->arena, arena_mem, am.peak);
    if (m->bn_sync.hsums) m->online.bn_sync = m->target.bn_sync = &m->bn_sync;
    if (rc == 0) rc = build_all(m, &m->online, &m->target, &m->arena, err);
    /* a device backend with several ranks: NCCL on the device when it can serve these ranks,
     * else host staging of the gradient sum and of the gathered predictor inputs */
    int staged = rc == 0 && ranks_of(set) > 1 && !be->host_memory;
    if (staged) {
        int nr = nccl_setup(be, err);
        if (nr < 0) rc = -1;
        staged = nr > 0;
    }
    if (staged) {
        size_t n = m->online.total, g = (size_t)(ranks_of(set) + 1) * 2 * m->B * m->D;
        m->dist_host_floats = n > g ? n : g;
        m->dist_host = malloc(m->dist_host_floats * sizeof(float));
        if (!m->dist_host) rc = sg_errf(err, "out of memory: host staging of the gradient sum");
    }
    if (rc == 0 && set->graph) rc = build_rates(m, err);
    if (rc != 0) {
        sg_ssl_free(m);
        return -1;
    }
    SG_CHECK(!m->has_target || m->target.total <= m->online.total, "target larger than online");
    build_optimizer_groups(m);
    return 0;
}

void sg_ssl_free(sg_ssl *m) {
    const sg_backend *be = m->be;
    if (be && m->graph) be->graph_free(be, m->graph); /* before the memory it reads */
    m->graph = NULL;
    if (be && m->rates) be->mem_free(be, m->rates);
    if (be && m->rate_table) be->mem_free(be, m->rate_table);
    m->rates = m->rate_table = NULL;
    sg_params_free(&m->online);
    sg_params_free(&m->target);
    if (be && m->arena.base) be->mem_free(be, m->arena.base);
    sg_arena_free(&m->arena);
    if (be && m->mom) be->mem_free(be, m->mom);
    sg_aligned_free(m->host);
    if (be && m->loss_log) be->mem_free(be, m->loss_log);
    free(m->loss_host);
    m->loss_log = m->loss_host = NULL;
    if (be && m->eig_info) be->mem_free(be, m->eig_info);
    free(m->eig_info_host);
    m->eig_info = m->eig_info_host = NULL;
    free(m->dist_host);
    free(m->bn_sync.hsums);
    free(m->bn_sync.hstat);
    m->dist_host = NULL;
    m->bn_sync.hsums = NULL;
    m->bn_sync.hstat = NULL;
    free(m->lars_tp);
    free(m->lars_pred);
    m->mom = m->host = NULL;
    m->lars_tp = m->lars_pred = NULL;
}

double sg_ssl_lr_at(const sg_ssl_settings *set, long k) {
    double lr = set->lr;
    if (set->warmup_steps > 0 && k < set->warmup_steps)
        return lr * (double)(k + 1) / (double)set->warmup_steps;
    if (set->lr_cosine && set->total_steps > set->warmup_steps) {
        double t = (double)(k - set->warmup_steps) / (double)(set->total_steps - set->warmup_steps);
        if (t > 1) t = 1;
        lr *= 0.5 * (1.0 + cos(kPi * t));
    }
    return lr;
}

double sg_ssl_ema_at(const sg_ssl_settings *set, long k) {
    if (!set->ema_cosine || set->total_steps <= 0) return set->ema;
    double t = (double)k / (double)set->total_steps;
    if (t > 1) t = 1;
    return 1.0 - (1.0 - set->ema) * (cos(kPi * t) + 1.0) / 2.0;
}

double sg_ssl_pred_lr_at(const sg_ssl_settings *set, long k) {
    return (set->pred_fixed_lr ? set->lr : sg_ssl_lr_at(set, k)) * set->pred_lr_mult;
}

/* The step runs the map as its backend's eig_map op; on host memory it is the CPU's. */
_Static_assert((int)SG_EIGMAP_CODE == (int)SG_EIG_MAP_CODE &&
                   (int)SG_EIGMAP_PAPER == (int)SG_EIG_MAP_PAPER &&
                   (int)SG_EIGMAP_SHIFT == (int)SG_EIG_MAP_SHIFT &&
                   (int)SG_EIGMAP_SHIFT_REL == (int)SG_EIG_MAP_SHIFT_REL,
               "sg_eigmap is eig_map's mode");
void sg_ssl_eigmap(const sg_ssl_settings *set, int D, const float *s, float *p) {
    sg_eig_map(sg_backend_get("cpu"), D, s, p, (int)set->eigmap, set->eps, set->shift_c);
}

/* A collective that fails inside a step leaves nothing consistent to return to: end the job
 * with the rank and the reason. */
static void dist_check(int rc, const sg_err *e) {
    if (rc) sg_dist_abort(1, e->msg);
}

/* buf[n] (backend memory) <- its sum over the ranks. */
static void sum_over_ranks(sg_ssl *m, float *buf, size_t n) {
    sg_err e;
    if (m->be->host_memory) {
        dist_check(sg_dist_sum_f32(buf, n, &e), &e);
        return;
    }
#ifdef SG_HAVE_CUDA
    if (uses_nccl(m)) { /* in place on the device, on the backend's stream */
        dist_check(sg_cuda_nccl_sum(m->be, buf, n, &e), &e);
        return;
    }
#endif
    SG_CHECK(n <= m->dist_host_floats, "sum of %zu floats, staging for %zu", n, m->dist_host_floats);
    sg_ssl_get(m, m->dist_host, buf, n);
    dist_check(sg_dist_sum_f32(m->dist_host, n, &e), &e);
    sg_ssl_put(m, buf, m->dist_host, n);
}

/* all[ranks * n] (backend memory) <- every rank's mine[n], in rank order. */
static void gather_over_ranks(sg_ssl *m, const float *mine, size_t n, float *all) {
    sg_err e;
    const size_t R = (size_t)ranks_of(&m->set);
    if (m->be->host_memory) {
        dist_check(sg_dist_allgather_f32(mine, n, all, &e), &e);
        return;
    }
#ifdef SG_HAVE_CUDA
    if (uses_nccl(m)) {
        dist_check(sg_cuda_nccl_allgather(m->be, mine, n, all, &e), &e);
        return;
    }
#endif
    SG_CHECK((R + 1) * n <= m->dist_host_floats, "gather of %zu floats", n);
    float *h = m->dist_host, *hall = m->dist_host + n;
    sg_ssl_get(m, h, mine, n);
    dist_check(sg_dist_allgather_f32(h, n, hall, &e), &e);
    sg_ssl_put(m, all, hall, R * n);
}

/* F, mu (and M2 for the optimal predictor) from this step's predictor inputs: this rank's, or
 * with several ranks every rank's (gathered in rank order), so F is the correlation over the
 * global batch and every rank computes the same W_p. With K micro-batches per step
 * (set.accumulate), micro-batch j's statistics join the step's running mean in Facc / M2acc /
 * muacc (weights j/(j+1) and 1/(j+1) for micro-batch j: every micro-batch has the same rows),
 * and the K-th moves the moving averages once, by that mean: the statistics of the K
 * micro-batches together. */
static void accumulate_correlations(sg_ssl *m, const float *t[2]) {
    const sg_backend *be = m->be;
    const int B = m->B, D = m->D, R = ranks_of(&m->set), K = accum_of(&m->set), mb = m->micro;
    /* K = 1: the moving averages directly; K > 1: the step's mean so far */
    const float rho = K > 1 ? (float)mb / (float)(mb + 1) : (float)m->set.rho;
    const int init = K > 1 ? mb == 0 : !m->F_ready;
    float *Fd = K > 1 ? m->Facc : m->F, *M2d = K > 1 ? m->M2acc : m->M2,
          *mud = K > 1 ? m->muacc : m->mu;
    const size_t nBD = (size_t)B * D;
    for (int v = 0; v < 2; v++)
        be->mem_copy(be, m->fcat + (size_t)v * nBD, m->on_proj[v].y, nBD * sizeof(float));
    const float *fall = m->fcat;
    const int rows = 2 * B * R; /* the rows of every rank */
    if (R > 1) {
        gather_over_ranks(m, m->fcat, 2 * nBD, m->fcat_all);
        fall = m->fcat_all;
    }
    sg_corr_update(be, rows, D, fall, rho, init, 0, Fd, NULL);
    if (m->set.zero_mean) { /* the moving mean of f, on the host (only this variant needs it) */
        float *f = m->host, *mu = m->host + (size_t)rows * D;
        sg_ssl_get(m, f, fall, (size_t)rows * D);
        sg_ssl_get(m, mu, mud, (size_t)D);
        for (int j = 0; j < D; j++) {
            double mean = 0;
            for (int b = 0; b < rows; b++) mean += f[(size_t)b * D + j];
            mean /= (double)rows;
            mu[j] = init ? (float)mean : rho * mu[j] + (1 - rho) * (float)mean;
        }
        sg_ssl_put(m, mud, mu, (size_t)D);
    }
    if (m->set.pred == SG_PRED_OPTIMAL && R > 1) {
        /* every rank's [t_1; t_0] against its [z_0; z_1]: one product over the global rows */
        be->mem_copy(be, m->tswap, t[1], nBD * sizeof(float));
        be->mem_copy(be, m->tswap + nBD, t[0], nBD * sizeof(float));
        gather_over_ranks(m, m->tswap, 2 * nBD, m->tswap_all);
        sg_gemm(be, 1, 0, D, D, rows, (init ? 1.0f : 1.0f - rho) / (float)rows, m->tswap_all, D,
                fall, D, init ? 0.0f : rho, M2d, D);
    } else if (m->set.pred == SG_PRED_OPTIMAL) {
        /* batch M2 = (1/2B) sum_v t_{other}^T z_v: the target paired with each prediction */
        float alpha = (init ? 1.0f : 1.0f - rho) / (float)(2 * B);
        for (int v = 0; v < 2; v++)
            sg_gemm(be, 1, 0, D, D, B, alpha, t[1 - v], D, m->on_proj[v].y, D,
                     v == 0 ? (init ? 0.0f : rho) : 1.0f, M2d, D);
    }
    if (K > 1) {
        if (mb < K - 1) return; /* the step's statistics are not complete yet */
        /* the moving averages take the step's mean once: F <- rho F + (1 - rho) Facc */
        const size_t DD = (size_t)D * D;
        const float r = (float)m->set.rho;
        if (!m->F_ready) {
            be->mem_copy(be, m->F, m->Facc, DD * sizeof(float));
            if (m->set.zero_mean) be->mem_copy(be, m->mu, m->muacc, (size_t)D * sizeof(float));
            if (m->M2acc) be->mem_copy(be, m->M2, m->M2acc, DD * sizeof(float));
        } else {
            sg_ema_update(be, DD, r, NULL, m->Facc, m->F);
            if (m->set.zero_mean) sg_ema_update(be, (size_t)D, r, NULL, m->muacc, m->mu);
            if (m->M2acc) sg_ema_update(be, DD, r, NULL, m->M2acc, m->M2);
        }
    }
    m->F_ready = 1;
}

/* W_p from F (and M2): DirectPred, DirectCopy or the Table-1 optimal predictor, all on the
 * backend. With deferred losses syevd's status stays there too, in eig_info's slot of this
 * step, read with the losses (sg_ssl_losses); else it is checked on the spot. */
static void eig_status(sg_ssl *m, int info) {
    SG_CHECK(info == 0, "syevd failed (info %d) on F at step %ld", info, m->step);
}

static void set_predictor_from_F(sg_ssl *m) {
    const sg_backend *be = m->be;
    const int D = m->D;
    const size_t DD = (size_t)D * D;
    float *W = m->pred_lin.W;
    int *info_at = m->eig_info ? m->eig_info + m->log_n : NULL;
    be->mem_copy(be, m->V, m->F, DD * sizeof(float));
    if (m->set.zero_mean) sg_rank1_sub(be, D, m->mu, m->V); /* F - mu mu^T */
    if (m->set.pred == SG_PRED_DIRECTCOPY) {
        if (m->set.directcopy_normalize) {
            be->mem_copy(be, m->work, m->V, DD * sizeof(float));
            eig_status(m, sg_syevd(be, D, m->work, m->s, m->syevd_ws, info_at));
        }
        sg_directcopy_fill(be, D, m->V, m->s, m->set.directcopy_normalize, m->set.eps, W);
        return;
    }
    eig_status(m, sg_syevd(be, D, m->V, m->s, m->syevd_ws, info_at));
    if (m->set.pred == SG_PRED_DIRECTPRED) {
        sg_eig_map(be, D, m->s, m->p, (int)m->set.eigmap, m->set.eps, m->set.shift_c);
        sg_eig_rebuild(be, D, m->V, m->p, W, m->work);
        return;
    }
    /* optimal: symmetrise M2, rotate into F's eigenbasis (rows of V: Q^T), divide entry (i,j)
     * by (s_i + s_j + reg)/2, rotate back: W = V^T [V M2s V^T ./ ((s_i+s_j+reg)/2)] V */
    float *M2s = m->work;
    /* M2s = (M2 + M2^T)/2 with every entry, the diagonal too, 0.5f*(M2[i,j] + M2[j,i]): the
     * tied form on two copies of M2 (work2 is free until V^T X below); M2 itself is kept */
    be->mem_copy(be, M2s, m->M2, DD * sizeof(float));
    be->mem_copy(be, m->work2, m->M2, DD * sizeof(float));
    sg_pred_symmetrize(be, D, D, M2s, m->work2);
    sg_gemm(be, 0, 0, D, D, D, 1.0f, m->V, D, M2s, D, 0.0f, W, D);    /* W = V M2s */
    sg_gemm(be, 0, 1, D, D, D, 1.0f, W, D, m->V, D, 0.0f, M2s, D);    /* M2s = V M2s V^T */
    sg_eig_pair_scale(be, D, M2s, m->s, m->set.optimal_reg);
    sg_gemm(be, 1, 0, D, D, D, 1.0f, m->V, D, M2s, D, 0.0f, m->work2, D); /* V^T X */
    sg_gemm(be, 0, 0, D, D, D, 1.0f, m->work2, D, m->V, D, 0.0f, W, D);   /* (V^T X) V */
}

static void symmetrize_predictor(sg_ssl *m) {
    if (pred_is_linear(m->set.pred)) {
        sg_pred_symmetrize(m->be, m->D, m->D, m->pred_lin.W, NULL);
    } else if (m->set.pred == SG_PRED_MLP) {
        /* the reference code's two-layer form: W0 [H,D] and W1 [D,H] become w and w^T (the
         * biases, where predictor.mlp_bias keeps them, are left as trained) */
        const sg_linear *l0 = &m->pred_mlp.lin[0], *l1 = &m->pred_mlp.lin[1];
        sg_pred_symmetrize(m->be, l0->Out, m->D, l0->W, l1->W);
    }
}

static void predictor_forward(sg_ssl *m, int v) {
    const float *z = m->on_proj[v].y;
    if (pred_is_mlp(m->set.pred)) {
        sg_mlp_forward(m->be, &m->pred_mlp, &m->on_pred[v], z, 1);
        m->be->mem_copy(m->be, m->pred_out[v], m->on_pred[v].y, (size_t)m->B * m->D * sizeof(float));
    } else if (pred_is_linear(m->set.pred)) {
        sg_linear_forward(m->be, &m->pred_lin, z, m->pred_out[v]);
    } else {
        m->be->mem_copy(m->be, m->pred_out[v], z, (size_t)m->B * m->D * sizeof(float));
    }
}

/* dz[v] (overwritten) = dL/dz through the predictor from dp[v]. */
static void predictor_backward(sg_ssl *m, int v) {
    const size_t n = (size_t)m->B * m->D;
    if (pred_is_mlp(m->set.pred))
        sg_mlp_backward(m->be, &m->pred_mlp, &m->on_pred[v], m->dp[v], m->dz[v]);
    else if (pred_is_linear(m->set.pred))
        sg_linear_backward(m->be, &m->pred_lin, m->on_proj[v].y, m->dp[v], m->dz[v]);
    else
        m->be->mem_copy(m->be, m->dz[v], m->dp[v], n * sizeof(float));
}

/* The loss rows of this micro-batch into the loss log (deferred losses): outside the step's
 * graph, since the log's offset moves every step. */
static void log_loss_rows(sg_ssl *m) {
    const int K = accum_of(&m->set), ndir = ndir_of(&m->set);
    SG_CHECK(m->log_n < m->log_steps, "the loss log is full (%d steps): sg_ssl_losses first",
             m->log_steps);
    const size_t rows = (size_t)ndir * (size_t)m->B,
                 at = ((size_t)m->log_n * (size_t)K + (size_t)m->micro) * rows;
    m->be->mem_copy(m->be, m->loss_log + at, m->row_loss, rows * sizeof(float));
}

/* sg_ssl_forward but the loss log's copy: what a step graph records. */
static double forward_passes(sg_ssl *m) {
    const sg_backend *be = m->be;
    const sg_ssl_settings *set = &m->set;
    const int B = m->B, D = m->D, K = accum_of(set);
    SG_CHECK(m->micro < K, "forward of micro-batch %d of a step of %d: update first", m->micro + 1,
             K);
    for (int v = 0; v < 2; v++) {
        sg_resnet_forward(be, &m->trunk, &m->on[v], &m->scratch, m->x[v], 1);
        sg_mlp_forward(be, &m->proj, &m->on_proj[v], m->on[v].feat, 1);
        predictor_forward(m, v);
    }
    for (int v = 0; v < 2; v++) {
        if (m->has_target) {
            sg_resnet_forward(be, &m->ttrunk, &m->tg[v], &m->scratch, m->x[v], 1);
            sg_mlp_forward(be, &m->tproj, &m->tg_proj[v], m->tg[v].feat, 1);
            m->t[v] = m->tg_proj[v].y;
        } else {
            m->t[v] = m->on_proj[v].y;
        }
    }
    /* loss: prediction of view v against the target of the other view, rows [ndir, B] */
    const int ndir = ndir_of(set), R = ranks_of(set);
    for (int v = 0; v < ndir; v++)
        sg_pair_loss_fwd(be, B, D, set->normalize_loss, m->pred_out[v], m->t[1 - v],
                         m->row_loss + (size_t)v * B);
    if (m->deferred) {
        /* the rows stay on the backend until sg_ssl_losses: nothing is read back */
        accumulate_correlations(m, m->t);
        return 0.0;
    }
    double sums[2] = {0, 0};
    float *rows = m->host;
    sg_ssl_get(m, rows, m->row_loss, (size_t)ndir * B);
    for (int v = 0; v < ndir; v++)
        for (int b = 0; b < B; b++) sums[v] += rows[(size_t)v * B + b];
    if (R > 1) { /* the mean over the global batch, the same on every rank */
        sg_err e;
        dist_check(sg_dist_sum_f64(sums, (size_t)ndir, &e), &e);
    }
    double loss = 0;
    for (int v = 0; v < ndir; v++)
        loss += sums[v] / ((double)B * R) - (set->normalize_loss ? 2.0 : 0.0);
    /* the step's loss: the mean of its K micro-batches' (each a mean over the same number of
     * rows), known after the K-th */
    m->loss_acc = m->micro == 0 ? loss : m->loss_acc + loss;
    if (m->micro == K - 1) m->last_loss = K > 1 ? m->loss_acc / K : loss;
    /* a diverged step observes nothing: the caller stops the run on the non-finite loss */
    if (isfinite(loss)) accumulate_correlations(m, m->t);
    return loss;
}

double sg_ssl_forward(sg_ssl *m) {
    SG_CHECK(!m->deferred || m->log_n < m->log_steps,
             "the loss log is full (%d steps): sg_ssl_losses first", m->log_steps);
    const double loss = forward_passes(m);
    if (m->deferred) log_loss_rows(m);
    return loss;
}

void sg_ssl_backward(sg_ssl *m) {
    const sg_backend *be = m->be;
    const sg_ssl_settings *set = &m->set;
    const int B = m->B, D = m->D;
    const size_t nBD = (size_t)B * D;
    const int sg_off = !set->stop_gradient, K = accum_of(set);

    /* K micro-batches add into online.g: zeroed by the step's first only */
    if (m->micro == 0) be->mem_zero(be, m->online.g, m->online.total * sizeof(float));
    if (m->has_target && sg_off) be->mem_zero(be, m->target.g, m->target.total * sizeof(float));
    const int ndir = set->symmetric_loss ? 2 : 1;
    int used_p[2] = {0, 0}, used_t[2] = {0, 0};
    for (int v = 0; v < ndir; v++) {
        const int o = 1 - v;
        /* the gradient of the global batch's mean: sg_ssl_reduce sums the ranks' parts, online.g
         * the K micro-batches' */
        sg_pair_loss_bwd(be, B, D, set->normalize_loss, m->pred_out[v], m->t[o],
                         1.0f / (float)(B * ranks_of(set) * K),
                         m->dp[v], sg_off ? m->dt[o] : NULL);
        used_p[v] = 1;
        used_t[o] = sg_off;
    }
    /* online branch of each view */
    for (int v = 0; v < 2; v++) {
        int any = 0;
        if (used_p[v]) {
            predictor_backward(m, v);
            any = 1;
        } else {
            be->mem_zero(be, m->dz[v], nBD * sizeof(float));
        }
        if (used_t[v] && !m->has_target) { /* SimSiam: t_v = z_v */
            sg_add_fwd(be, nBD, m->dz[v], m->dt[v], m->dz[v]);
            any = 1;
        }
        if (!any) continue;
        sg_mlp_backward(be, &m->proj, &m->on_proj[v], m->dz[v], m->dfeat);
        sg_resnet_backward(be, &m->trunk, &m->on[v], &m->scratch, m->dfeat);
    }
    /* BYOL without stop-gradient: through the target weights, applied to the online ones */
    if (m->has_target && sg_off) {
        for (int v = 0; v < 2; v++) {
            if (!used_t[v]) continue;
            sg_mlp_backward(be, &m->tproj, &m->tg_proj[v], m->dt[v], m->dfeat);
            sg_resnet_backward(be, &m->ttrunk, &m->tg[v], &m->scratch, m->dfeat);
        }
        sg_add_fwd(be, m->target.total, m->online.g, m->target.g, m->online.g);
    }
    if (K > 1) m->micro++;
}

void sg_ssl_reduce(sg_ssl *m) {
    /* every gradient of the step is in online.g (one contiguous buffer), and nothing has read
     * it yet: one sum of online.total floats */
    if (ranks_of(&m->set) > 1) sum_over_ranks(m, m->online.g, m->online.total);
}

/* The update's part a step graph records: the optimiser step, the predictor's symmetrisation
 * and the EMA, their rates read from m->rates with a graph (staged before the step). */
static void update_in_graph(sg_ssl *m) {
    const sg_backend *be = m->be;
    const sg_ssl_settings *set = &m->set;
    /* the predictor's own rate: lr * alpha_p, on the schedule or fixed (pred_fixed_lr) */
    const double lr = sg_ssl_lr_at(set, m->step), lr_pred = sg_ssl_pred_lr_at(set, m->step);
    if (set->optimizer == SG_OPT_SGD) {
        m->sgd[0].lr = (float)lr;
        if (m->n_sgd > 1) m->sgd[1].lr = (float)lr_pred;
        sg_sgd_step(be, m->n_sgd, m->sgd, (float)set->momentum);
    } else {
        sg_lars_step(be, m->n_lars_tp, m->lars_tp, (float)lr, (float)set->momentum,
                     (float)set->lars_eta);
        sg_lars_step(be, m->n_lars_pred, m->lars_pred, (float)lr_pred, (float)set->momentum,
                     (float)set->lars_eta);
    }
    if (set->pred_symmetric) symmetrize_predictor(m);
    /* The EMA before the predictor's overwrite, where the reference code has it after: the EMA
     * reads the trunk and projector and writes the target, the overwrite writes the predictor
     * only, so the order changes no bit, and the graph can end here. */
    if (m->has_target)
        sg_ema_update(be, m->target.total, (float)sg_ssl_ema_at(set, m->step),
                      m->rates ? m->rates + 2 : NULL, m->online.w, m->target.w);
}

/* The rest, outside a step graph: DirectPred's overwrite every freq steps (cuSOLVER's syevd is
 * not documented as capturable) and the step's count. */
static void update_after_graph(sg_ssl *m) {
    if (pred_is_set_from_F(m->set.pred) && m->step % m->set.freq == 0) set_predictor_from_F(m);
    if (m->deferred) m->log_n++; /* the step's losses are all in the log */
    m->step++;
}

void sg_ssl_update(sg_ssl *m) {
    const int K = accum_of(&m->set);
    SG_CHECK(K == 1 || m->micro == K, "update after %d of the step's %d micro-batches", m->micro,
             K);
    m->micro = 0;
    if (m->rates) stage_rates(m);
    update_in_graph(m);
    update_after_graph(m);
}

int sg_ssl_log_full(const sg_ssl *m) { return m->deferred && m->log_n >= m->log_steps; }

int sg_ssl_losses(sg_ssl *m, double *loss, int cap) {
    if (!m->deferred || m->log_n == 0) return 0;
    const sg_ssl_settings *set = &m->set;
    const int K = accum_of(set), ndir = ndir_of(set), B = m->B, n = m->log_n;
    SG_CHECK(cap >= n, "sg_ssl_losses: room for %d losses, %d logged", cap, n);
    sg_ssl_get(m, m->loss_host, m->loss_log, (size_t)n * K * ndir * B);
    for (int k = 0; k < n; k++) {
        /* exactly sg_ssl_forward's sums, in its order (one rank) */
        double acc = 0;
        for (int j = 0; j < K; j++) {
            double sums[2] = {0, 0}, l = 0;
            for (int v = 0; v < ndir; v++) {
                const float *rows = m->loss_host + (((size_t)k * K + j) * ndir + v) * (size_t)B;
                for (int b = 0; b < B; b++) sums[v] += rows[b];
            }
            for (int v = 0; v < ndir; v++)
                l += sums[v] / (double)B - (set->normalize_loss ? 2.0 : 0.0);
            acc = j == 0 ? l : acc + l;
        }
        loss[k] = K > 1 ? acc / K : acc;
    }
    if (m->eig_info) {
        /* the eigensolver's status of each step (0 where it did not run: zeroed after a read);
         * a failure after a diverged step is that step's NaN, which the caller reports */
        m->be->mem_download(m->be, m->eig_info_host, m->eig_info, (size_t)n * sizeof(int));
        m->be->mem_zero(m->be, m->eig_info, (size_t)n * sizeof(int));
        for (int k = 0; k < n && isfinite(loss[k]); k++)
            SG_CHECK(m->eig_info_host[k] == 0, "syevd failed (info %d) on F at step %ld",
                     m->eig_info_host[k], m->step - n + k);
    }
    m->last_loss = loss[n - 1];
    m->log_n = 0;
    return n;
}

/* ---- step graphs ----------------------------------------------------------------------------- */

const char *sg_ssl_graph_refusal(const sg_ssl_settings *set, const sg_backend *be) {
    if (!be->graph_begin)
        return "the backend runs each kernel as it is called and records no graphs (CUDA does)";
    if (set->loss_readback <= 1)
        return "needs trainer.loss_readback > 1: a step that reads its loss back waits on the "
               "backend in the middle of the graph";
    if (ranks_of(set) > 1)
        return "one rank only: the sums over the ranks run between the step's kernels";
    if (accum_of(set) > 1)
        return "needs trainer.accumulate=1: micro-batches differ in what they zero and where "
               "their losses go";
    if (set->zero_mean)
        return "predictor.zero_mean takes F's mean on the host in the middle of the step";
    return NULL;
}

/* What the graph's part of a step changes besides activations: compared between the eager pass
 * and the graph's first launch; `keep` is state from before the step (restored between the
 * two). */
typedef struct {
    const char *what;
    float *p;
    size_t n;
    int keep;
} graph_buf;

static int graph_bufs(sg_ssl *m, graph_buf *b) {
    const size_t DD = (size_t)m->D * m->D;
    int n = 0;
    b[n++] = (graph_buf){"the gradients", m->online.g, m->online.total, 0};
    b[n++] = (graph_buf){"the weights", m->online.w, m->online.total, 1};
    b[n++] = (graph_buf){"the momentum", m->mom, m->online.total, 1};
    if (m->has_target)
        b[n++] = (graph_buf){"the target weights", m->target.w, m->target.total, 1};
    b[n++] = (graph_buf){"the loss rows", m->row_loss, (size_t)ndir_of(&m->set) * m->B, 0};
    if (m->online.nbuf)
        b[n++] = (graph_buf){"the online BN running statistics", m->online.buf, m->online.nbuf, 1};
    if (m->has_target && m->target.nbuf)
        b[n++] = (graph_buf){"the target BN running statistics", m->target.buf, m->target.nbuf, 1};
    if (m->F) b[n++] = (graph_buf){"F", m->F, DD, 1};
    if (m->M2) b[n++] = (graph_buf){"M2", m->M2, DD, 1};
    return n;
}

/* What a step graph records: forward, backward and the update but DirectPred's overwrite. */
static void graph_passes(sg_ssl *m) {
    forward_passes(m);
    sg_ssl_backward(m);
    update_in_graph(m);
}

/* This step's graph part (graph_passes): eagerly, then recorded and launched from the same
 * state, compared bit for bit. Leaves the model as the eager step would and m->graph set, or (no
 * match, or the backend could not record) graph NULL, the eager pass's state and the reason. */
static void graph_capture(sg_ssl *m) {
    const sg_backend *be = m->be;
    graph_buf b[9];
    const int nb = graph_bufs(m, b);
    float *before[9] = {0}, *eager[9] = {0}, *got = NULL;
    size_t most = 0;
    for (int i = 0; i < nb; i++) {
        if (b[i].n > most) most = b[i].n;
        eager[i] = malloc(b[i].n * sizeof(float));
        before[i] = b[i].keep ? malloc(b[i].n * sizeof(float)) : NULL;
        SG_CHECK(eager[i] && (!b[i].keep || before[i]), "out of memory checking the step graph");
        if (b[i].keep) sg_ssl_get(m, before[i], b[i].p, b[i].n);
    }
    got = malloc(most * sizeof(float));
    SG_CHECK(got != NULL, "out of memory checking the step graph");
    graph_passes(m);
    for (int i = 0; i < nb; i++) sg_ssl_get(m, eager[i], b[i].p, b[i].n);
    for (int i = 0; i < nb; i++)
        if (b[i].keep) sg_ssl_put(m, b[i].p, before[i], b[i].n);
    char why[256] = "";
    void *g = NULL;
    if (be->graph_begin(be, why, sizeof why) == 0) {
        graph_passes(m); /* recorded, not run */
        g = be->graph_end(be, why, sizeof why);
    }
    if (!g) {
        snprintf(m->graph_error, sizeof m->graph_error, "the backend could not record the step: %s",
                 why);
    } else {
        be->graph_launch(be, g);
        for (int i = 0; i < nb && !m->graph_error[0]; i++) {
            sg_ssl_get(m, got, b[i].p, b[i].n);
            if (!memcmp(got, eager[i], b[i].n * sizeof(float))) continue;
            size_t j = 0;
            while (j < b[i].n && !memcmp(&got[j], &eager[i][j], sizeof(float))) j++;
            snprintf(m->graph_error, sizeof m->graph_error,
                     "the graph's step %ld differs from the eager step in %s (element %zu of %zu: "
                     "%.9g, eagerly %.9g)", m->step, b[i].what, j, b[i].n, (double)got[j],
                     (double)eager[i][j]);
        }
    }
    if (m->graph_error[0]) { /* go on from the eager pass's state */
        for (int i = 0; i < nb; i++) sg_ssl_put(m, b[i].p, eager[i], b[i].n);
        if (g) be->graph_free(be, g);
    } else {
        m->graph = g;
        m->graph_step = m->step;
    }
    for (int i = 0; i < nb; i++) {
        free(before[i]);
        free(eager[i]);
    }
    free(got);
}

/* sg_ssl_step with set.graph (sg_ssl_build checked what that needs: deferred losses, one rank,
 * one micro-batch). */
static double graph_step(sg_ssl *m) {
    SG_CHECK(m->log_n < m->log_steps, "the loss log is full (%d steps): sg_ssl_losses first",
             m->log_steps);
    stage_rates(m); /* the rates the graph's optimiser and EMA read */
    if (m->graph)
        m->be->graph_launch(m->be, m->graph);
    else if (!m->graph_error[0])
        graph_capture(m);
    else
        graph_passes(m);
    log_loss_rows(m);
    update_after_graph(m);
    return 0.0;
}

double sg_ssl_step(sg_ssl *m) {
    if (m->set.graph && m->graph_warmup == 0) return graph_step(m);
    if (m->set.graph) m->graph_warmup--;
    double loss = sg_ssl_forward(m);
    if (!isfinite(loss)) return loss; /* a diverged step changes nothing */
    sg_ssl_backward(m);
    const int K = accum_of(&m->set);
    if (K > 1 && m->micro < K) return loss; /* the step's micro-batches are not all in yet */
    sg_ssl_reduce(m);
    sg_ssl_update(m);
    return loss;
}

void sg_ssl_bn_calibrate(sg_ssl *m, const float *x) {
    sg_resnet_forward(m->be, &m->trunk, &m->on[0], &m->scratch, x, 1);
}

const float *sg_ssl_features(sg_ssl *m, const float *x) {
    sg_resnet_forward(m->be, &m->trunk, &m->on[0], &m->scratch, x, 0);
    return m->on[0].feat;
}

const float *sg_ssl_last_z(const sg_ssl *m, int v) { return m->on_proj[v].y; }

const float *sg_ssl_pred_weight(const sg_ssl *m) {
    return pred_is_linear(m->set.pred) ? m->pred_lin.W : NULL;
}
