/* core/eval/knn.c: weighted kNN on l2-normalised features (InstDisc, Wu et al. 2018; the
 * monitor of the SimSiam/BYOL CIFAR demos).
 *
 * For a block of test rows: sims[rows, ntrain] = test_block train^T (be->gemm on the raw
 * features), then each entry times the two inverse norms = the cosine similarity. Scaling after
 * the product instead of normalising copies keeps memory at one [block_rows, ntrain] block
 * (8000 x 105000 STL-10 features would need 215 MB for a normalised train copy alone).
 * Each test row then keeps its k best similarities in a min-heap (root = the worst kept) and
 * votes. Rows are independent: OpenMP over the rows of a block, each with its own heap, so the
 * predictions depend only on the similarities, not on the thread count or the blocking.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/arena.h"
#include "core/eval/eval.h"
#include "kernels/backend.h"

sg_knn_config sg_knn_config_default(void) {
    sg_knn_config c;
    c.k = 200;
    c.T = 0.1f;
    c.block_rows = 64;
    return c;
}

int sg_knn_config_validate(const sg_knn_config *c, sg_err *err) {
    if (c->k < 1) return sg_errf(err, "knn: k = %d, expected >= 1", c->k);
    if (!(c->T > 0.0f && isfinite(c->T)))
        return sg_errf(err, "knn: T = %g, expected a finite temperature > 0", (double)c->T);
    if (c->block_rows < 1)
        return sg_errf(err, "knn: block_rows = %d, expected >= 1", c->block_rows);
    return 0;
}

int sg_knn_config_describe(const sg_knn_config *c, char *buf, size_t len) {
    return snprintf(buf, len, "knn k=%d T=%g", c->k, (double)c->T);
}

typedef struct {
    float sim;
    int32_t idx;
} neighbour;

/* a ranks before b: higher similarity, then the lower train index. */
static int better(neighbour a, neighbour b) {
    return a.sim > b.sim || (a.sim == b.sim && a.idx < b.idx);
}

/* Min-heap on `better`: heap[0] is the worst neighbour kept. */
static void sift_down(neighbour *heap, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && better(heap[worst], heap[l])) worst = l;
        if (r < n && better(heap[worst], heap[r])) worst = r;
        if (worst == i) return;
        neighbour t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

static void sift_up(neighbour *heap, int i) {
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!better(heap[parent], heap[i])) return;
        neighbour t = heap[i];
        heap[i] = heap[parent];
        heap[parent] = t;
        i = parent;
    }
}

/* 1 / max(||x_i||, 1e-12) for the rows of x[n, D], in double. */
static void inverse_norms(int n, int D, const float *x, float *inv) {
#pragma omp parallel for schedule(static) if ((size_t)n * D > 65536)
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * D;
        double s = 0.0;
        for (int j = 0; j < D; j++) s += (double)r[j] * r[j];
        double nrm = sqrt(s);
        inv[i] = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
    }
}

static int check_inputs(int n, int D, int nclasses, const float *feat, const int32_t *labels,
                        const char *which, sg_err *err) {
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= nclasses)
            return sg_errf(err, "knn: %s label %d of sample %d outside [0, %d)", which,
                           (int)labels[i], i, nclasses);
        const float *x = feat + (size_t)i * D;
        for (int j = 0; j < D; j++)
            if (!isfinite(x[j]))
                return sg_errf(err, "knn: %s feature %d of sample %d is %g, expected finite",
                               which, j, i, (double)x[j]);
    }
    return 0;
}

typedef struct {
    float *sims;         /* [rows_max, ntrain] one block of similarities */
    neighbour *heaps;    /* [rows_max, k] */
    double *votes;       /* [rows_max, nclasses] */
    float *inv_train;    /* [ntrain] */
    float *inv_test;     /* [ntest] */
} knn_buffers;

static void knn_carve(sg_arena *a, knn_buffers *p, int ntrain, int ntest, int nclasses, int k,
                      int rows_max) {
    p->sims = SG_ARENA_NEW(a, float, (size_t)rows_max * ntrain);
    p->heaps = SG_ARENA_NEW(a, neighbour, (size_t)rows_max * k);
    p->votes = SG_ARENA_NEW(a, double, (size_t)rows_max * nclasses);
    p->inv_train = SG_ARENA_NEW(a, float, ntrain);
    p->inv_test = SG_ARENA_NEW(a, float, ntest);
}

int sg_label_rank(const double *scores, int C, int label) {
    int rank = 0;
    for (int c = 0; c < C; c++)
        rank += scores[c] > scores[label] || (scores[c] == scores[label] && c < label);
    return rank;
}

int sg_knn_eval(const sg_backend *be, const sg_knn_config *cfg, int ntrain, int ntest, int D,
                int nclasses, const float *train_feat, const int32_t *train_labels,
                const float *test_feat, const int32_t *test_labels, int32_t *pred,
                double *accuracy, double *accuracy_top5, sg_err *err) {
    if (sg_knn_config_validate(cfg, err)) return -1;
    if (ntrain < 1 || ntest < 1 || D < 1 || nclasses < 2)
        return sg_errf(err,
                       "knn: ntrain %d, ntest %d, D %d, nclasses %d: expected ntrain, ntest, D "
                       ">= 1 and nclasses >= 2",
                       ntrain, ntest, D, nclasses);
    if (check_inputs(ntrain, D, nclasses, train_feat, train_labels, "train", err)) return -1;
    if (check_inputs(ntest, D, nclasses, test_feat, test_labels, "test", err)) return -1;

    const int k = cfg->k < ntrain ? cfg->k : ntrain;
    const int rows_max = cfg->block_rows < ntest ? cfg->block_rows : ntest;
    const double inv_T = 1.0 / (double)cfg->T;

    /* One allocation, sized by a measuring pass over the same carve. */
    knn_buffers buf;
    sg_arena arena;
    sg_arena_init_measure(&arena);
    knn_carve(&arena, &buf, ntrain, ntest, nclasses, k, rows_max);
    if (sg_arena_init(&arena, arena.used, err)) return -1;
    knn_carve(&arena, &buf, ntrain, ntest, nclasses, k, rows_max);
    float *sims = buf.sims, *inv_train = buf.inv_train, *inv_test = buf.inv_test;
    neighbour *heaps = buf.heaps;
    double *votes = buf.votes;

    inverse_norms(ntrain, D, train_feat, inv_train);
    inverse_norms(ntest, D, test_feat, inv_test);

    long correct = 0, correct5 = 0;
    for (int r0 = 0; r0 < ntest; r0 += rows_max) {
        const int rows = ntest - r0 < rows_max ? ntest - r0 : rows_max;
        /* sims[rows, ntrain] = test[r0 : r0+rows, D] train[ntrain, D]^T */
        sg_gemm(be, 0, 1, rows, ntrain, D, 1.0f, test_feat + (size_t)r0 * D, D, train_feat, D,
                 0.0f, sims, ntrain);
        /* a parallel region costs more than a small block's selection: threads only above 64k
         * similarities */
#pragma omp parallel for schedule(static) reduction(+ : correct, correct5) \
    if (rows > 1 && (size_t)rows * ntrain >= 65536)
        for (int r = 0; r < rows; r++) {
            const float *s = sims + (size_t)r * ntrain;
            const float inv_q = inv_test[r0 + r];
            neighbour *heap = heaps + (size_t)r * k;
            int n = 0;
            for (int j = 0; j < ntrain; j++) {
                neighbour c = {s[j] * inv_q * inv_train[j], j};
                if (n < k) {
                    heap[n] = c;
                    sift_up(heap, n++);
                } else if (better(c, heap[0])) {
                    heap[0] = c;
                    sift_down(heap, k, 0);
                }
            }
            double *v = votes + (size_t)r * nclasses;
            for (int c = 0; c < nclasses; c++) v[c] = 0.0;
            for (int i = 0; i < k; i++)
                v[train_labels[heap[i].idx]] += exp((double)heap[i].sim * inv_T);
            int best = 0;
            for (int c = 1; c < nclasses; c++)
                if (v[c] > v[best]) best = c;
            if (pred) pred[r0 + r] = best;
            correct += best == test_labels[r0 + r];
            correct5 += sg_label_rank(v, nclasses, test_labels[r0 + r]) < 5;
        }
    }
    *accuracy = 100.0 * (double)correct / (double)ntest;
    if (accuracy_top5) *accuracy_top5 = 100.0 * (double)correct5 / (double)ntest;
    sg_arena_free(&arena);
    return 0;
}
