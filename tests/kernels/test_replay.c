/* tests/kernels/test_replay.c: the replaying backend (kernels/trace/replay.h) over the CPU.
 * A recorded sequence of mixed kernels runs nothing while recording, keeps its own copies of the
 * host tables the caller overwrites right after each call, and two launches equal the same
 * sequence run twice on the CPU bit for bit; outside a recording calls run at once; the calls a
 * capture cannot hold abort (in a forked child). */
#define _POSIX_C_SOURCE 200809L

#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "kernels/trace/replay.h"
#include "test_fork.h"
#include "test_util.h"


/* ---- the recorded sequence ------------------------------------------------------------------ */

enum { GM = 5, GN = 7, GK = 6 };                    /* gemm */
enum { BN = 4, BC = 3, BHW = 5 };                   /* batch norm */
enum { SG0 = 10, SG1 = 13, LG0 = 12, LG1 = 5 };     /* sgd and lars groups */
enum { EN = 20, JH = 4, JW = 5, NC = 3, NHW = 20 }; /* ema, jitter, normalize */
enum { VN = 3, VCIN = 1, VH = 11, VW = 13, VC = 3, VS = 8, VK = 5 }; /* aug_views */

/* Every buffer the sequence touches, by id; the conv's and pool's sizes come from their shapes. */
enum {
    A_, B_, C_, CX, CW, CY, CWS, BX, GAM, BET, RM, RV, MEAN, INV, BY, SW0, SGR0, SM0, SW1, SGR1,
    SM1, LW0, LGR0, LM0, LW1, LGR1, LM1, EO, ET, JIMG, NIMG, PX, PY, PAM, CP, ZB, VSRC, VDST,
    VWORK, NBUF
};
static size_t nbytes[NBUF];
static sg_conv_shape conv_shape(void) { return sg_conv_shape_make(2, 3, 6, 6, 4, 3, 3, 1, 1); }
static sg_pool_shape pool_shape(void) { return sg_pool_shape_make(2, 3, 6, 6, 3, 2, 1); }

static void set_sizes(const sg_backend *cpu) {
    const sg_conv_shape cs = conv_shape();
    const sg_pool_shape ps = pool_shape();
    const size_t f = sizeof(float), ws = sg_conv2d_workspace_bytes(cpu, &cs);
    const size_t n[NBUF] = {
        [A_] = GM * GK, [B_] = GK * GN, [C_] = GM * GN, [CX] = (size_t)cs.N * cs.C * cs.H * cs.W,
        [CW] = (size_t)cs.K * cs.C * cs.R * cs.S, [CY] = (size_t)cs.N * cs.K * cs.P * cs.Q,
        [CWS] = ws / f + 1, [BX] = BN * BC * BHW, [GAM] = BC, [BET] = BC, [RM] = BC, [RV] = BC,
        [MEAN] = BC, [INV] = BC, [BY] = BN * BC * BHW, [SW0] = SG0, [SGR0] = SG0, [SM0] = SG0,
        [SW1] = SG1, [SGR1] = SG1, [SM1] = SG1, [LW0] = LG0, [LGR0] = LG0, [LM0] = LG0,
        [LW1] = LG1, [LGR1] = LG1, [LM1] = LG1, [EO] = EN, [ET] = EN, [JIMG] = 3 * JH * JW,
        [NIMG] = NC * NHW, [PX] = (size_t)ps.N * ps.C * ps.H * ps.W,
        [PY] = (size_t)ps.N * ps.C * ps.P * ps.Q, [PAM] = (size_t)ps.N * ps.C * ps.P * ps.Q,
        [CP] = GM * GN, [ZB] = 16, [VSRC] = (VN * VCIN * VH * VW + 3) / 4,
        [VDST] = VN * VC * VS * VS,
        [VWORK] = sg_aug_views_work_bytes(VN, VCIN, VH, VW, VC, VS, VK) / f + 1};
    /* PAM: int32, as wide as a float; VSRC: uint8 images, their bytes those of random floats */
    for (int i = 0; i < NBUF; i++) nbytes[i] = n[i] * f;
}

/* The buffers' first contents: random, never all zeros; running variances and images in range. */
static void *initial[NBUF];
static void make_initial(void) {
    for (int i = 0; i < NBUF; i++) {
        const size_t n = nbytes[i] / sizeof(float);
        initial[i] = tu_alloc(nbytes[i]);
        if (i == PAM) {
            for (size_t k = 0; k < n; k++) ((int32_t *)initial[i])[k] = (int32_t)(7 * k + 3);
            continue;
        }
        const int unit = i == RV || i == JIMG || i == NIMG;
        tu_fill(initial[i], n, 77, (uint32_t)i, unit ? 0.25f : -1.0f, 1.0f);
    }
}

/* Memory on be holding the initial contents. */
static void upload_all(const sg_backend *be, void *dev[NBUF]) {
    int got = 0;
    for (int i = 0; i < NBUF; i++) {
        dev[i] = be->mem_alloc(be, nbytes[i]);
        if (dev[i]) be->mem_upload(be, dev[i], initial[i], nbytes[i]);
        got += dev[i] != NULL;
    }
    CHECK(got == NBUF, "%s: %d of %d buffers allocated", be->name, got, NBUF);
}
static void free_all(const sg_backend *be, void *dev[NBUF]) {
    for (int i = 0; i < NBUF; i++) be->mem_free(be, dev[i]);
}

#define F(i) ((float *)d[i])

/* The sequence, with every host table changed and overwritten as soon as its call returns (what
 * a captured launch must not see). Returns the number of calls. */
static int sequence(const sg_backend *be, void *d[NBUF]) {
    int calls = 0;
    sg_gemm(be, 0, 1, GM, GN, GK, 0.75f, F(A_), GK, F(B_), GK, 0.5f, F(C_), GN);
    calls++;

    sg_conv_shape cs = conv_shape();
    sg_conv2d_fwd(be, &cs, F(CX), F(CW), F(CY), d[CWS]);
    memset(&cs, 0x5a, sizeof cs);
    calls++;

    sg_batchnorm_fwd_train(be, BN, BC, BHW, F(BX), F(GAM), F(BET), 1e-5f, 0.1f, F(RM), F(RV),
                           F(MEAN), F(INV), F(BY));
    calls++;

    sg_sgd_group *sg = tu_alloc(2 * sizeof *sg);
    sg[0] = (sg_sgd_group){F(SW0), F(SGR0), F(SM0), SG0, 0.1f, 1e-4f, NULL};
    sg[1] = (sg_sgd_group){F(SW1), F(SGR1), F(SM1), SG1, 0.05f, 0.0f, NULL};
    sg_sgd_step(be, 2, sg, 0.9f);
    sg[0].lr = sg[1].lr = 3.0f;
    memset(sg, 0xa5, 2 * sizeof *sg);
    free(sg);
    calls++;

    sg_lars_group *lg = tu_alloc(2 * sizeof *lg);
    lg[0] = (sg_lars_group){F(LW0), F(LGR0), F(LM0), LG0, 1e-3f, 1, NULL};
    lg[1] = (sg_lars_group){F(LW1), F(LGR1), F(LM1), LG1, 0.0f, 0, NULL};
    sg_lars_step(be, 2, lg, 0.2f, 0.9f, 0.001f);
    memset(lg, 0x3c, 2 * sizeof *lg);
    free(lg);
    calls++;

    sg_ema_update(be, EN, 0.99f, NULL, F(EO), F(ET));
    calls++;

    int order[4] = {2, 0, 3, 1};
    sg_aug_color_jitter(be, JH, JW, F(JIMG), 1.2f, 0.8f, 1.3f, 0.1f, order);
    order[0] = 3, order[1] = 2, order[2] = 1, order[3] = 0; /* another valid order */
    calls++;

    float mean[NC] = {0.4f, 0.5f, 0.45f}, std[NC] = {0.2f, 0.25f, 0.3f};
    sg_aug_normalize(be, NC, NHW, F(NIMG), mean, std);
    for (int c = 0; c < NC; c++) mean[c] = 0.9f, std[c] = 7.0f;
    calls++;

    /* views: a grey source made RGB, every stage on in one view or another, normalised. The
     * table outlives the call (static), so a replay that read it instead of its own copy would
     * run the overwriting views below and differ, rather than read freed memory. */
    static sg_aug_view views[VN];
    views[0] = (sg_aug_view){.y0 = 1, .x0 = 2, .h = 9, .w = 10, .flip = 1, .blur = 1,
                             .sigma = 1.1f, .solarize = 1};
    views[1] = (sg_aug_view){.y0 = 0, .x0 = 0, .h = 11, .w = 13, .jitter = 1, .brightness = 1.3f,
                             .contrast = 0.7f, .saturation = 1.2f, .hue = -0.08f,
                             .order = {1, 3, 0, 2}, .gray = 1};
    views[2] = (sg_aug_view){.y0 = 4, .x0 = 3, .h = 5, .w = 7, .flip = 1, .jitter = 1,
                             .brightness = 0.8f, .contrast = 1.1f, .saturation = 0.6f,
                             .hue = 0.05f, .order = {3, 2, 1, 0}, .blur = 1, .sigma = 0.4f};
    float vmean[VC] = {0.45f, 0.4f, 0.5f}, vstd[VC] = {0.22f, 0.27f, 0.25f};
    sg_aug_views(be, VN, VCIN, VH, VW, d[VSRC], VC, VS, views, VK, vmean, vstd, F(VDST),
                 d[VWORK]);
    for (int v = 0; v < VN; v++) /* other valid views: a replay reading these would differ */
        views[v] = (sg_aug_view){.y0 = 0, .x0 = 0, .h = 2, .w = 3, .solarize = 1};
    for (int c = 0; c < VC; c++) vmean[c] = 0.1f, vstd[c] = 5.0f;
    calls++;

    sg_pool_shape ps = pool_shape();
    sg_maxpool_fwd(be, &ps, F(PX), F(PY), (int32_t *)d[PAM]);
    memset(&ps, 0x77, sizeof ps);
    calls++;

    be->mem_copy(be, d[CP], d[C_], nbytes[C_]); /* after the gemm: order matters */
    calls++;
    be->mem_zero(be, d[ZB], nbytes[ZB] / 2);
    calls++;
    return calls;
}

/* Downloads every buffer and compares it with want[] (NULL: the initial contents); what names
 * the differing buffers on stderr (NULL: quiet). */
static int download_equals(const sg_backend *be, void *d[NBUF], void *want[NBUF],
                           const char *what) {
    int same = 1;
    for (int i = 0; i < NBUF; i++) {
        void *h = tu_alloc(nbytes[i]);
        be->mem_download(be, h, d[i], nbytes[i]);
        if (memcmp(h, want ? want[i] : initial[i], nbytes[i])) {
            if (what) fprintf(stderr, "  %s: buffer %d differs\n", what, i);
            same = 0;
        }
        free(h);
    }
    return same;
}

static void test_recorded_sequence(const sg_backend *cpu) {
    set_sizes(cpu);
    make_initial();

    /* the CPU, directly, twice */
    void *want[NBUF];
    upload_all(cpu, want);
    const int calls = sequence(cpu, want);
    sequence(cpu, want);
    CHECK(!download_equals(cpu, want, NULL, NULL), "two direct runs changed nothing");

    const sg_backend *rb;
    sg_replay *rp = sg_replay_new(cpu, &rb);
    void *d[NBUF];
    upload_all(rb, d);
    char why[128] = "";
    CHECK(rb->graph_begin(rb, why, sizeof why) == 0, "graph_begin: %s", why);
    const int recorded = sequence(rb, d);
    void *g = rb->graph_end(rb, why, sizeof why);
    CHECK(g != NULL, "graph_end: %s", why);
    CHECK(recorded == calls && recorded == 12, "%d calls recorded, %d run", recorded, calls);
    CHECK(sg_replay_graph_calls(rp) == recorded, "the graph holds %ld calls, %d recorded",
          sg_replay_graph_calls(rp), recorded);
    CHECK(sg_replay_launches(rp) == 0, "%ld launches before any", sg_replay_launches(rp));
    CHECK(download_equals(rb, d, NULL, "recorded"), "recording ran a call");

    rb->graph_launch(rb, g);
    rb->graph_launch(rb, g);
    CHECK(sg_replay_launches(rp) == 2, "%ld launches, want 2", sg_replay_launches(rp));
    CHECK(download_equals(rb, d, want, "launched"),
          "two launches differ from two direct runs on the cpu");

    rb->graph_free(rb, g);
    free_all(rb, d);
    free_all(cpu, want);
    sg_replay_free(rp);
    for (int i = 0; i < NBUF; i++) free(initial[i]);
}

/* Outside a recording a call runs at once: the gemm's result downloads as the CPU's. */
static void test_immediate(const sg_backend *cpu) {
    const sg_backend *rb;
    sg_replay *rp = sg_replay_new(cpu, &rb);
    enum { M = 9, N = 8, K = 11 };
    float a[M * K], b[K * N], c[M * N], want[M * N], got[M * N];
    tu_fill(a, M * K, 5, 1, -1.0f, 1.0f);
    tu_fill(b, K * N, 5, 2, -1.0f, 1.0f);
    tu_fill(c, M * N, 5, 3, -1.0f, 1.0f);
    memcpy(want, c, sizeof c);
    sg_gemm(cpu, 1, 0, M, N, K, 1.5f, a, M, b, N, -0.25f, want, N);

    float *da = rb->mem_alloc(rb, sizeof a), *db = rb->mem_alloc(rb, sizeof b),
          *dc = rb->mem_alloc(rb, sizeof c);
    rb->mem_upload(rb, da, a, sizeof a);
    rb->mem_upload(rb, db, b, sizeof b);
    rb->mem_upload(rb, dc, c, sizeof c);
    sg_gemm(rb, 1, 0, M, N, K, 1.5f, da, M, db, N, -0.25f, dc, N);
    rb->sync(rb);
    rb->mem_download(rb, got, dc, sizeof got);
    CHECK(!memcmp(got, want, sizeof got), "an immediate gemm differs from the cpu's");
    CHECK(sg_replay_launches(rp) == 0, "a direct call counted as a launch");

    char why[128] = "";
    CHECK(rb->graph_end(rb, why, sizeof why) == NULL && !strcmp(why, "not recording"),
          "graph_end without graph_begin: why \"%s\"", why);
    rb->mem_free(rb, da);
    rb->mem_free(rb, db);
    rb->mem_free(rb, dc);
    sg_replay_free(rp);
}

/* syevd with its status in backend memory waits for nothing: it records like a kernel, and its
 * launch computes what the CPU's solver computes, the status written where asked. */
static void test_syevd_recorded(const sg_backend *cpu) {
    const sg_backend *rb;
    sg_replay *rp = sg_replay_new(cpu, &rb);
    enum { D = 6 };
    float b[D * D], a[D * D], want_a[D * D], want_w[D], got_a[D * D], got_w[D];
    tu_fill(b, D * D, 8, 1, -1.0f, 1.0f);
    for (int i = 0; i < D; i++) /* A = B B^T: symmetric, distinct eigenvalues */
        for (int j = 0; j < D; j++) {
            float acc = 0;
            for (int k = 0; k < D; k++) acc += b[i * D + k] * b[j * D + k];
            a[i * D + j] = acc;
        }
    const size_t ws = sg_syevd_workspace_bytes(cpu, D);
    void *hw = tu_alloc(ws);
    memcpy(want_a, a, sizeof a);
    CHECK(sg_syevd(cpu, D, want_a, want_w, hw, NULL) == 0, "the cpu's syevd failed");
    float *da = rb->mem_alloc(rb, sizeof a), *dw = rb->mem_alloc(rb, sizeof got_w);
    void *dws = rb->mem_alloc(rb, ws);
    int *dinfo = rb->mem_alloc(rb, sizeof(int)), info = -7;
    rb->mem_upload(rb, da, a, sizeof a);
    rb->mem_upload(rb, dinfo, &info, sizeof info);
    char why[128] = "";
    CHECK(rb->graph_begin(rb, why, sizeof why) == 0, "graph_begin: %s", why);
    CHECK(sg_syevd(rb, D, da, dw, dws, dinfo) == 0, "a recorded syevd returns 0");
    void *g = rb->graph_end(rb, why, sizeof why);
    rb->mem_download(rb, got_a, da, sizeof got_a);
    CHECK(g && !memcmp(got_a, a, sizeof a), "recording ran the solver");
    rb->graph_launch(rb, g);
    rb->mem_download(rb, got_a, da, sizeof got_a);
    rb->mem_download(rb, got_w, dw, sizeof got_w);
    rb->mem_download(rb, &info, dinfo, sizeof info);
    CHECK(info == 0 && !memcmp(got_a, want_a, sizeof got_a) && !memcmp(got_w, want_w, sizeof got_w),
          "the launched syevd equals the cpu's (info %d)", info);
    rb->graph_free(rb, g);
    rb->mem_free(rb, da);
    rb->mem_free(rb, dw);
    rb->mem_free(rb, dws);
    rb->mem_free(rb, dinfo);
    free(hw);
    sg_replay_free(rp);
}

/* ---- what a recording must not do ------------------------------------------------------------ */

static const sg_backend *child_rb;
static float *child_buf;
static void *child_graph;

/* Each child starts a recording and makes one call a capture cannot hold. */
static void begin(void) {
    char why[64];
    if (child_rb->graph_begin(child_rb, why, sizeof why)) _exit(4);
}
static void download_while_recording(void) {
    float h[4];
    begin();
    child_rb->mem_download(child_rb, h, child_buf, sizeof h);
}
static void sync_while_recording(void) {
    begin();
    child_rb->sync(child_rb);
}
static void syevd_while_recording(void) {
    const size_t ws = sg_syevd_workspace_bytes(child_rb, 2);
    void *work = child_rb->mem_alloc(child_rb, ws ? ws : 1);
    begin();
    sg_syevd(child_rb, 2, child_buf, child_buf + 4, work, NULL);
}
static void alloc_while_recording(void) {
    begin();
    child_rb->mem_alloc(child_rb, 64);
}
static void launch_while_recording(void) {
    begin();
    child_rb->graph_launch(child_rb, child_graph);
}
/* the control: a recording that only queues work, and the pure size queries, do not abort */
static void record_only(void) {
    begin();
    sg_relu_fwd(child_rb, 8, child_buf, child_buf);
    const sg_conv_shape cs = conv_shape();
    if (!sg_conv2d_workspace_bytes(child_rb, &cs) && !sg_syevd_workspace_bytes(child_rb, 4))
        _exit(5);
    char why[64];
    void *g = child_rb->graph_end(child_rb, why, sizeof why);
    if (!g) _exit(6);
    child_rb->graph_free(child_rb, g);
}

static void test_protocol(const sg_backend *cpu) {
    sg_replay *rp = sg_replay_new(cpu, &child_rb);
    const sg_backend *rb = child_rb;
    child_buf = rb->mem_alloc(rb, 16 * sizeof(float));
    float init[16];
    tu_fill(init, 16, 11, 1, -1.0f, 1.0f);
    init[1] = init[2]; /* a symmetric 2x2 for syevd */
    rb->mem_upload(rb, child_buf, init, sizeof init);
    char why[128] = "";
    CHECK(rb->graph_begin(rb, why, sizeof why) == 0, "graph_begin: %s", why);
    child_graph = rb->graph_end(rb, why, sizeof why); /* an empty graph */
    CHECK(child_graph != NULL && sg_replay_graph_calls(rp) == 0, "empty graph: %s", why);

    CHECK(!tu_aborts(record_only), "recording calls aborted");
    CHECK(tu_aborts(download_while_recording), "mem_download while recording did not abort");
    CHECK(tu_aborts(sync_while_recording), "sync while recording did not abort");
    CHECK(tu_aborts(syevd_while_recording), "syevd while recording did not abort");
    CHECK(tu_aborts(alloc_while_recording), "mem_alloc while recording did not abort");
    CHECK(tu_aborts(launch_while_recording), "graph_launch while recording did not abort");

    /* beginning twice is refused, not fatal, and the recording goes on */
    CHECK(rb->graph_begin(rb, why, sizeof why) == 0, "graph_begin: %s", why);
    why[0] = 0;
    CHECK(rb->graph_begin(rb, why, sizeof why) == -1, "a second graph_begin was accepted");
    CHECK(!strcmp(why, "already recording"), "why \"%s\"", why);
    void *g = rb->graph_end(rb, why, sizeof why);
    CHECK(g != NULL, "graph_end after a refused graph_begin: %s", why);
    rb->graph_free(rb, g);

    rb->graph_launch(rb, child_graph); /* an empty graph launches and runs nothing */
    CHECK(sg_replay_launches(rp) == 1, "%ld launches", sg_replay_launches(rp));
    rb->graph_free(rb, child_graph);
    rb->mem_free(rb, child_buf);
    sg_replay_free(rp);
}

static void test_identity(const sg_backend *cpu) {
    const sg_backend *rb;
    sg_replay *rp = sg_replay_new(cpu, &rb);
    CHECK(rb->host_memory == 0, "host_memory %d over cpu", rb->host_memory);
    CHECK(!strcmp(rb->name, "replay(cpu)"), "name \"%s\"", rb->name);
    CHECK(rb->graph_begin && rb->graph_end && rb->graph_launch && rb->graph_free,
          "graph slots missing");
    CHECK(sg_backend_precision(rb) == SG_PREC_FP32, "precision %d",
          (int)sg_backend_precision(rb));
    CHECK(sg_backend_set_precision(rb, SG_PREC_TF32) == -1, "tf32 accepted over the cpu");
    sg_replay_free(rp);
}

int main(void) {
    const sg_backend *cpu = sg_backend_get("cpu");
    CHECK(cpu != NULL, "no cpu backend");
    test_identity(cpu);
    test_protocol(cpu);
    test_recorded_sequence(cpu);
    test_immediate(cpu);
    test_syevd_recorded(cpu);
    return test_finish();
}
