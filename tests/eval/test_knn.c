/* tests/eval/test_knn.c: weighted kNN (core/eval/knn.c).
 *
 * - Against a naive double reference (cosines, full sort by (similarity desc, index asc),
 *   weights exp(sim/T), argmax with ties to the lower class) on random features, several k.
 * - Separable Gaussian clusters: ~100%.
 * - k larger than ntrain clamps to ntrain (same predictions as k = ntrain).
 * - Ties: two neighbours of equal similarity and weight in classes 1 and 0 -> class 0, whatever
 *   the train order.
 * - Blocking: block_rows 1, 7 and all rows give identical predictions; so do 1 and 2 threads.
 * - Bad input: k, T, block_rows, labels out of range.
 */
#include "core/eval/eval.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "test_util.h"

typedef struct {
    double sim;
    int idx;
} nb;

static int nb_cmp(const void *a, const void *b) {
    const nb *x = (const nb *)a, *y = (const nb *)b;
    if (x->sim != y->sim) return x->sim > y->sim ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* The naive reference, in double. */
static void knn_ref(int ntrain, int ntest, int D, int C, const float *tr, const int32_t *ytr,
                    const float *te, int k, double T, int32_t *pred) {
    nb *all = tu_alloc((size_t)ntrain * sizeof(nb));
    double *votes = tu_alloc((size_t)C * sizeof(double));
    if (k > ntrain) k = ntrain;
    for (int q = 0; q < ntest; q++) {
        const float *a = te + (size_t)q * D;
        double na = 0;
        for (int j = 0; j < D; j++) na += (double)a[j] * a[j];
        for (int i = 0; i < ntrain; i++) {
            const float *b = tr + (size_t)i * D;
            double dot = 0, nb2 = 0;
            for (int j = 0; j < D; j++) dot += (double)a[j] * b[j], nb2 += (double)b[j] * b[j];
            all[i].sim = dot / (sqrt(na) * sqrt(nb2));
            all[i].idx = i;
        }
        qsort(all, (size_t)ntrain, sizeof(nb), nb_cmp);
        for (int c = 0; c < C; c++) votes[c] = 0;
        for (int i = 0; i < k; i++) votes[ytr[all[i].idx]] += exp(all[i].sim / T);
        int best = 0;
        for (int c = 1; c < C; c++)
            if (votes[c] > votes[best]) best = c;
        pred[q] = best;
    }
    free(all);
    free(votes);
}

static void test_reference(const sg_backend *be) {
    enum { NTR = 300, NTE = 60, D = 16, C = 4 };
    static float tr[NTR * D], te[NTE * D];
    static int32_t ytr[NTR], yte[NTE], got[NTE], want[NTE];
    tu_fill(tr, NTR * D, 1, 1, -1.0f, 1.0f);
    tu_fill(te, NTE * D, 1, 2, -1.0f, 1.0f);
    sg_rng r;
    sg_rng_init(&r, 1, 3, 0, 0);
    for (int i = 0; i < NTR; i++) ytr[i] = (int32_t)sg_rng_below(&r, C);
    for (int i = 0; i < NTE; i++) yte[i] = (int32_t)sg_rng_below(&r, C);
    const int ks[] = {1, 5, 20, 200};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        sg_knn_config cfg = sg_knn_config_default();
        cfg.k = ks[t];
        double acc = -1;
        sg_err err = {{0}};
        int rc = sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, got, &acc, NULL, &err);
        CHECK(rc == 0, "knn: %s", err.msg);
        knn_ref(NTR, NTE, D, C, tr, ytr, te, ks[t], (double)cfg.T, want);
        int same = 0, correct = 0;
        for (int q = 0; q < NTE; q++) same += got[q] == want[q], correct += want[q] == yte[q];
        CHECK(same == NTE, "k %d: %d of %d predictions match the reference", ks[t], same, NTE);
        CHECK(acc == 100.0 * correct / NTE, "k %d: accuracy %g, reference %g", ks[t], acc,
              100.0 * correct / NTE);
    }
}

static void test_clusters(const sg_backend *be) {
    enum { NTR = 1000, NTE = 400, D = 32, C = 10 };
    static float means[C * D], tr[NTR * D], te[NTE * D];
    static int32_t ytr[NTR], yte[NTE], p1[NTE], p7[NTE], pall[NTE];
    sg_rng r;
    sg_rng_init(&r, 9, 1, 0, 0);
    sg_rng_fill_normal(&r, means, C * D, 0.0f, 1.0f);
    for (int i = 0; i < NTR + NTE; i++) {
        float *x = i < NTR ? tr + (size_t)i * D : te + (size_t)(i - NTR) * D;
        int c = i % C;
        for (int j = 0; j < D; j++) x[j] = means[c * D + j] + 0.5f * (float)sg_rng_normal(&r);
        if (i < NTR) ytr[i] = c;
        else yte[i - NTR] = c;
    }
    sg_knn_config cfg = sg_knn_config_default(); /* k 200 > the 100 samples of a class */
    sg_err err = {{0}};
    double acc = 0, acc1 = 0, acc7 = 0;
    cfg.block_rows = NTE;
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, pall, &acc, NULL, &err) == 0, "%s",
          err.msg);
    printf("clusters: %.2f%%\n", acc);
    CHECK(acc > 99.0, "clusters: %.2f%%", acc);
    /* blocked vs unblocked */
    cfg.block_rows = 1;
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, p1, &acc1, NULL, &err) == 0, "%s",
          err.msg);
    cfg.block_rows = 7; /* 400 = 57 * 7 + 1: a partial last block */
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, p7, &acc7, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(memcmp(p1, pall, sizeof pall) == 0 && memcmp(p7, pall, sizeof pall) == 0,
          "blocked predictions differ");
    CHECK(acc1 == acc && acc7 == acc, "accuracies %g %g %g", acc, acc1, acc7);

    /* thread count: rows are independent */
    int keep = sg_cpu_get_threads();
    sg_cpu_set_threads(1);
    int32_t pt[NTE];
    double acct = 0;
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, pt, &acct, NULL, &err) == 0, "%s",
          err.msg);
    sg_cpu_set_threads(2);
    int32_t pt2[NTE];
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, pt2, &acct, NULL, &err) == 0, "%s",
          err.msg);
    sg_cpu_set_threads(keep);
    CHECK(memcmp(pt, pall, sizeof pall) == 0 && memcmp(pt2, pall, sizeof pall) == 0,
          "1 / 2 threads change the predictions");

    /* pred may be NULL */
    double accn = -1;
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, NULL, &accn, NULL, &err) == 0 &&
              accn == acc,
          "pred NULL: %g vs %g (%s)", accn, acc, err.msg);
}

static void test_k_clamp(const sg_backend *be) {
    enum { NTR = 50, NTE = 30, D = 8, C = 3 };
    float tr[NTR * D], te[NTE * D];
    int32_t ytr[NTR], yte[NTE], pbig[NTE], pn[NTE], want[NTE];
    tu_fill(tr, NTR * D, 4, 1, -1.0f, 1.0f);
    tu_fill(te, NTE * D, 4, 2, -1.0f, 1.0f);
    for (int i = 0; i < NTR; i++) ytr[i] = (i * 7) % C;
    for (int i = 0; i < NTE; i++) yte[i] = i % C;
    sg_knn_config cfg = sg_knn_config_default();
    sg_err err = {{0}};
    double a1 = -1, a2 = -1;
    cfg.k = 100000;
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, pbig, &a1, NULL, &err) == 0, "%s",
          err.msg);
    cfg.k = NTR;
    CHECK(sg_knn_eval(be, &cfg, NTR, NTE, D, C, tr, ytr, te, yte, pn, &a2, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(memcmp(pbig, pn, sizeof pn) == 0 && a1 == a2, "k > ntrain differs from k = ntrain");
    knn_ref(NTR, NTE, D, C, tr, ytr, te, NTR, (double)cfg.T, want);
    CHECK(memcmp(pn, want, sizeof pn) == 0, "k = ntrain differs from the reference");
}

static void test_ties(const sg_backend *be) {
    /* train: e0 in class 1, e1 in class 0, e2 far away in class 2; test (1,1,0): equal cosines
     * 1/sqrt(2) to e0 and e1, equal weights -> class 0, the lower one. Then the labels of e0 and
     * e1 swapped: still class 0. */
    const int D = 3, C = 3;
    float tr[3 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    float te[3] = {1, 1, 0};
    int32_t ytr[3] = {1, 0, 2}, yte[1] = {0}, pred[1] = {-1};
    sg_knn_config cfg = sg_knn_config_default();
    cfg.k = 2;
    double acc = -1;
    sg_err err = {{0}};
    CHECK(sg_knn_eval(be, &cfg, 3, 1, D, C, tr, ytr, te, yte, pred, &acc, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(pred[0] == 0 && acc == 100.0, "tie: predicted %d (acc %g), want 0", pred[0], acc);
    ytr[0] = 0, ytr[1] = 1;
    CHECK(sg_knn_eval(be, &cfg, 3, 1, D, C, tr, ytr, te, yte, pred, &acc, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(pred[0] == 0, "tie, swapped labels: predicted %d, want 0", pred[0]);
    /* the tie at the k-th neighbour (k = 1: e0 and e1 equally similar) goes to the lower train
     * index: e0, class 0 now; with the labels back, e0 is class 1 */
    cfg.k = 1;
    CHECK(sg_knn_eval(be, &cfg, 3, 1, D, C, tr, ytr, te, yte, pred, &acc, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(pred[0] == 0, "k=1 tie: predicted %d, want 0 (train row 0)", pred[0]);
    ytr[0] = 1, ytr[1] = 0;
    CHECK(sg_knn_eval(be, &cfg, 3, 1, D, C, tr, ytr, te, yte, pred, &acc, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(pred[0] == 1, "k=1 tie: predicted %d, want 1 (train row 0)", pred[0]);
    /* A zero test row: all cosines 0 (norm clamped), every weight equal: class 0 wins the tie
     * among the k = 3 neighbours of classes 1, 0, 2. */
    float zero[3] = {0, 0, 0};
    cfg.k = 3;
    CHECK(sg_knn_eval(be, &cfg, 3, 1, D, C, tr, ytr, zero, yte, pred, &acc, NULL, &err) == 0, "%s",
          err.msg);
    CHECK(pred[0] == 0, "zero row: predicted %d", pred[0]);
}

static void test_errors(const sg_backend *be) {
    float tr[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8}, te[2 * 2] = {1, 0, 0, 1};
    int32_t ytr[4] = {0, 1, 0, 1}, yte[2] = {0, 1};
    double acc;
    sg_err err;
    sg_knn_config cfg = sg_knn_config_default();
    cfg.k = 0;
    CHECK(sg_knn_eval(be, &cfg, 4, 2, 2, 2, tr, ytr, te, yte, NULL, &acc, NULL, &err) == -1 &&
              strstr(err.msg, "k = 0"),
          "k 0: %s", err.msg);
    cfg = sg_knn_config_default();
    cfg.T = 0.0f;
    CHECK(sg_knn_config_validate(&cfg, &err) == -1 && strstr(err.msg, "T = 0"), "T: %s", err.msg);
    cfg = sg_knn_config_default();
    cfg.block_rows = 0;
    CHECK(sg_knn_config_validate(&cfg, &err) == -1 && strstr(err.msg, "block_rows"), "%s",
          err.msg);
    cfg = sg_knn_config_default();
    ytr[2] = -1;
    CHECK(sg_knn_eval(be, &cfg, 4, 2, 2, 2, tr, ytr, te, yte, NULL, &acc, NULL, &err) == -1 &&
              strstr(err.msg, "train label -1 of sample 2"),
          "label: %s", err.msg);
    ytr[2] = 0;
    te[3] = INFINITY;
    CHECK(sg_knn_eval(be, &cfg, 4, 2, 2, 2, tr, ytr, te, yte, NULL, &acc, NULL, &err) == -1 &&
              strstr(err.msg, "test feature 1 of sample 1"),
          "inf: %s", err.msg);
    char buf[64];
    sg_knn_config_describe(&cfg, buf, sizeof buf);
    CHECK(strcmp(buf, "knn k=200 T=0.1") == 0, "describe: %s", buf);
}

/* The label's rank by argmax's tie rule, and top-5 kNN accuracy against the same votes. */
static void test_top5(const sg_backend *be) {
    const double sc[6] = {0.5, 2.0, 0.5, 3.0, -1.0, 0.5};
    CHECK(sg_label_rank(sc, 6, 3) == 0 && sg_label_rank(sc, 6, 1) == 1, "ranks of the top two");
    CHECK(sg_label_rank(sc, 6, 0) == 2 && sg_label_rank(sc, 6, 2) == 3 &&
              sg_label_rank(sc, 6, 5) == 4 && sg_label_rank(sc, 6, 4) == 5,
          "equal scores rank by index, the lowest score last");
    enum { N = 300, M = 200, DD = 8, CC = 10 };
    static float tr[N * DD], te[M * DD];
    static int32_t ytr[N], yte[M];
    tu_fill(tr, (size_t)N * DD, 61, 0, -1, 1);
    tu_fill(te, (size_t)M * DD, 61, 1, -1, 1);
    for (int i = 0; i < N; i++) ytr[i] = i % CC;
    for (int i = 0; i < M; i++) yte[i] = (i * 7) % CC;
    sg_knn_config cfg = sg_knn_config_default();
    cfg.k = 20;
    double a1, a5;
    sg_err err;
    CHECK(sg_knn_eval(be, &cfg, N, M, DD, CC, tr, ytr, te, yte, NULL, &a1, &a5, &err) == 0, "%s",
          err.msg);
    /* labels unrelated to the features: chance is 10% top-1, 50% top-5 (200 rows: se 3.5) */
    CHECK(a5 >= a1 && a5 > 35.0 && a5 < 65.0, "random labels: top-1 %.1f%%, top-5 %.1f%%", a1, a5);
}

int main(void) {
    const sg_backend *be = sg_backend_get("cpu");
    CHECK(be != NULL, "no cpu backend");
    if (!be) return test_finish();
    test_reference(be);
    test_clusters(be);
    test_k_clamp(be);
    test_ties(be);
    test_errors(be);
    test_top5(be);
    return test_finish();
}
