/* core/data/loader.c: the double-buffered augmentation pipeline (see loader.h). */
#define _GNU_SOURCE /* pthreads with -std=c11 */
#include "core/data/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "kernels/backend.h"

typedef struct {
    long step;            /* the step these buffers hold or are being filled with; -1 none */
    float *x[2];          /* [B, C, S, S] */
    uint8_t *raw;         /* augmentation on a device: [B, rC, rH, rW] the batch's images */
    int *index;           /* and their dataset indices (the augmentation keys) */
    int next_item;        /* next (sample, view) item to claim = items claimed so far */
    int limit;            /* items that may be claimed: 2B, or fewer when abandoned */
    int done_items;       /* items finished */
    int failed;
    sg_err err;
} slot;

typedef struct {
    sg_loader *L;
    sg_image_buf buf;
} worker;

struct sg_loader {
    const sg_dataset *d;
    sg_aug_recipe rec[2];
    const sg_backend *be;
    const sg_backend *dev; /* augmentation on this device backend (sg_loader_augment_on), or NULL */
    int rC, rH, rW;        /* its images' size */
    uint8_t *draw;         /* [B, rC, rH, rW] on dev */
    void *vwork;           /* aug_views' scratch on dev */
    sg_aug_view *views;    /* [B] one view's draws of the batch */
    int B, C, S, n, nworkers;
    int Bg, first;     /* the global batch, and where this shard (B of them) starts in it */
    uint64_t seed;
    long spe;          /* steps per epoch */
    int *perm;         /* permutation of the current epoch */
    long perm_epoch;
    slot slots[2];     /* one being consumed, one being prepared */
    int prep;          /* index of the slot workers fill; -1 when idle */
    int stop;
    pthread_t *threads;
    worker *workers;
    worker inline_worker; /* for workers == 0 and for a synchronous fallback */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
};

static void make_perm(sg_loader *L, long epoch, int *perm) {
    for (int i = 0; i < L->n; i++) perm[i] = i;
    sg_rng r;
    sg_rng_init(&r, L->seed, (uint32_t)epoch, 0xffffffffu, 0x7065726du /* "perm" */);
    for (int i = L->n - 1; i > 0; i--) {
        int j = (int)sg_rng_below(&r, (uint32_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* The permutation for `epoch` (recomputed when the epoch changes; guarded by the mutex for the
 * worker path, as the perm buffer is shared). */
static void ensure_perm(sg_loader *L, long epoch) {
    if (L->perm_epoch != epoch) {
        make_perm(L, epoch, L->perm);
        L->perm_epoch = epoch;
    }
}

void sg_loader_indices(const sg_loader *L, long step, int *idx) {
    long epoch = step / L->spe, b = step % L->spe;
    int *perm = malloc((size_t)L->n * sizeof *perm);
    SG_CHECK(perm != NULL, "out of memory");
    make_perm((sg_loader *)L, epoch, perm);
    for (int i = 0; i < L->B; i++) idx[i] = perm[b * L->Bg + L->first + i];
    free(perm);
}

/* ---- one image and its scratch, grown to fit ------------------------------------------------ */

static void scratch_free(sg_aug_scratch *s) {
    free(s->a);
    free(s->b);
    free(s->c);
    memset(s, 0, sizeof *s);
}

/* Room for a C x H x W image and its scratch; 0, or -1 (out of memory, b left empty). */
static int image_buf_fit(sg_image_buf *b, int nscratch, int C, int H, int W, int S) {
    size_t need = (size_t)C * H * W;
    if (need > b->img_cap) {
        free(b->img);
        b->img = malloc(need);
        b->img_cap = b->img ? need : 0;
        if (!b->img) return -1;
    }
    size_t fl = sg_aug_scratch_floats(C, H, W, S);
    if (fl > b->scratch.cap || (nscratch == 3 && !b->scratch.b)) {
        if (fl < b->scratch.cap) fl = b->scratch.cap;
        scratch_free(&b->scratch);
        b->scratch.a = malloc(fl * sizeof(float));
        if (nscratch == 3) {
            b->scratch.b = malloc(fl * sizeof(float));
            b->scratch.c = malloc(fl * sizeof(float));
        }
        if (!b->scratch.a || (nscratch == 3 && (!b->scratch.b || !b->scratch.c))) {
            scratch_free(&b->scratch);
            return -1;
        }
        b->scratch.cap = fl;
    }
    return 0;
}

int sg_image_buf_fetch(sg_image_buf *b, const sg_dataset *d, int i, int nscratch, int out_size,
                       int *C, int *H, int *W, sg_err *err) {
    SG_CHECK(nscratch == 1 || nscratch == 3, "nscratch %d", nscratch);
    for (;;) {
        int c = 0, h = 0, w = 0;
        int rc = sg_dataset_image(d, i, b->img, b->img_cap, &c, &h, &w, err);
        /* a failure that still reported a shape larger than the buffer: grow, and retry */
        if (rc != 0 && (c <= 0 || h <= 0 || w <= 0 || (size_t)c * h * w <= b->img_cap)) return -1;
        if (image_buf_fit(b, nscratch, c, h, w, out_size))
            return sg_errf(err, "out of memory for image %d of %s (%dx%dx%d)", i, d->path, c, h,
                           w);
        if (rc == 0) {
            *C = c, *H = h, *W = w;
            return 0;
        }
    }
}

void sg_image_buf_free(sg_image_buf *b) {
    free(b->img);
    scratch_free(&b->scratch);
    memset(b, 0, sizeof *b);
}

/* ---- workers ------------------------------------------------------------------------------------ */

static void worker_init(worker *w, sg_loader *L) {
    w->L = L;
    memset(&w->buf, 0, sizeof w->buf);
}

static void worker_free(worker *w) { sg_image_buf_free(&w->buf); }

/* Augments item `item` (sample item/2, view item%2) of slot s, whose image is `index`; with
 * augmentation on a device, only stores the image of sample item/2 (view 0's item). */
static int do_item(worker *w, slot *s, int item, int index, long epoch, sg_err *err) {
    sg_loader *L = w->L;
    int C, H, W;
    const int b = item / 2, v = item % 2;
    if (L->dev && v == 1) return 0;
    if (sg_image_buf_fetch(&w->buf, L->d, index, 3, L->S, &C, &H, &W, err)) return -1;
    if (L->dev) {
        if (C != L->rC || H != L->rH || W != L->rW)
            return sg_errf(err, "%s: image %d is %dx%dx%d, not %dx%dx%d like image 0: "
                                "data.augment_on=backend needs images of one size",
                           L->d->path, index, C, H, W, L->rC, L->rH, L->rW);
        const size_t chw = (size_t)C * H * W;
        memcpy(s->raw + (size_t)b * chw, w->buf.img, chw);
        s->index[b] = index;
        return 0;
    }
    float *dst = s->x[v] + (size_t)b * L->C * L->S * L->S;
    sg_augment(L->be, &L->rec[v], w->buf.img, C, H, W, L->seed, (uint32_t)epoch,
               (uint32_t)index, (uint32_t)v, dst, &w->buf.scratch);
    return 0;
}

/* Fills slot s for its step on the calling thread (workers == 0, or a step nobody prepared). */
static int fill_inline(sg_loader *L, slot *s, sg_err *err) {
    long epoch = s->step / L->spe, b = s->step % L->spe;
    ensure_perm(L, epoch);
    for (int item = 0; item < 2 * L->B; item++)
        if (do_item(&L->inline_worker, s, item, L->perm[b * L->Bg + L->first + item / 2], epoch,
                    err))
            return -1;
    return 0;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    sg_loader *L = w->L;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && (L->prep < 0 || L->slots[L->prep].next_item >= L->slots[L->prep].limit))
            pthread_cond_wait(&L->work_cv, &L->mu);
        if (L->stop) break;
        slot *s = &L->slots[L->prep];
        int item = s->next_item++;
        long epoch = s->step / L->spe, b = s->step % L->spe;
        ensure_perm(L, epoch);
        int index = L->perm[b * L->Bg + L->first + item / 2];
        pthread_mutex_unlock(&L->mu);
        sg_err e;
        int rc = do_item(w, s, item, index, epoch, &e);
        pthread_mutex_lock(&L->mu);
        if (rc && !s->failed) {
            s->failed = 1;
            s->err = e;
        }
        s->done_items++;
        pthread_cond_broadcast(&L->done_cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

int sg_loader_open(sg_loader **out, const sg_dataset *d, const sg_aug_recipe rec[2], int batch,
                   int workers, uint64_t seed, int limit, const sg_backend *be, sg_err *err) {
    return sg_loader_open_shard(out, d, rec, batch, 0, batch, workers, seed, limit, be, err);
}

int sg_loader_open_shard(sg_loader **out, const sg_dataset *d, const sg_aug_recipe rec[2],
                         int global_batch, int first, int count, int workers, uint64_t seed,
                         int limit, const sg_backend *be, sg_err *err) {
    *out = NULL;
    SG_CHECK(first >= 0 && count >= 1 && first + count <= global_batch,
             "shard [%d, %d) of a batch of %d", first, first + count, global_batch);
    const int batch = count;
    int n = (limit > 0 && limit < d->n) ? limit : d->n;
    if (n < global_batch)
        return sg_errf(err, "dataset %s has %d images, fewer than one batch of %d", d->path, n,
                       global_batch);
    sg_loader *L = calloc(1, sizeof *L);
    if (!L) return sg_errf(err, "out of memory");
    L->d = d;
    L->rec[0] = rec[0];
    L->rec[1] = rec[1];
    L->be = be;
    L->B = batch;
    L->Bg = global_batch;
    L->first = first;
    L->C = rec[0].out_channels > 0 ? rec[0].out_channels : d->C;
    L->S = rec[0].out_size;
    L->n = n;
    L->nworkers = workers;
    L->seed = seed;
    L->spe = n / global_batch;
    L->perm = malloc((size_t)n * sizeof *L->perm);
    L->perm_epoch = -1;
    L->prep = -1;
    worker_init(&L->inline_worker, L);
    int ok = L->perm != NULL;
    for (int i = 0; i < 2 && ok; i++) {
        L->slots[i].step = -1;
        for (int v = 0; v < 2; v++) {
            L->slots[i].x[v] = malloc((size_t)batch * L->C * L->S * L->S * sizeof(float));
            ok &= L->slots[i].x[v] != NULL;
        }
    }
    if (!ok) {
        sg_loader_close(L);
        return sg_errf(err, "out of memory for the data pipeline (batch %d, %dx%dx%d)", batch,
                       L->C, L->S, L->S);
    }
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->work_cv, NULL);
    pthread_cond_init(&L->done_cv, NULL);
    if (workers > 0) {
        L->threads = calloc((size_t)workers, sizeof *L->threads);
        L->workers = calloc((size_t)workers, sizeof *L->workers);
        if (!L->threads || !L->workers) {
            L->nworkers = 0;
            sg_loader_close(L);
            return sg_errf(err, "out of memory for %d data workers", workers);
        }
        for (int i = 0; i < workers; i++) {
            worker_init(&L->workers[i], L);
            if (pthread_create(&L->threads[i], NULL, worker_main, &L->workers[i]) != 0) {
                L->nworkers = i;
                sg_loader_close(L);
                return sg_errf(err, "could not start data worker %d of %d", i + 1, workers);
            }
        }
    }
    *out = L;
    return 0;
}

long sg_loader_steps_per_epoch(const sg_loader *L) { return L->spe; }

int sg_loader_augment_on(sg_loader *L, const sg_backend *dev, sg_err *err) {
    SG_CHECK(L->dev == NULL && L->prep < 0, "sg_loader_augment_on after the first get");
    int C, H, W;
    if (sg_image_buf_fetch(&L->inline_worker.buf, L->d, 0, 3, L->S, &C, &H, &W, err)) return -1;
    const size_t chw = (size_t)C * H * W;
    const int ksize = L->rec[0].blur_ksize > L->rec[1].blur_ksize ? L->rec[0].blur_ksize
                                                                  : L->rec[1].blur_ksize;
    const size_t work = sg_aug_views_work_bytes(L->B, C, H, W, L->C, L->S, ksize);
    L->dev = dev; /* from here sg_loader_close frees what was made */
    int ok = 1;
    for (int i = 0; i < 2 && ok; i++) {
        /* the backend's staging memory (page-locked on CUDA): the batch goes up at full speed */
        L->slots[i].raw = dev->host_alloc(dev, (size_t)L->B * chw);
        L->slots[i].index = malloc((size_t)L->B * sizeof(int));
        ok = L->slots[i].raw && L->slots[i].index;
    }
    L->draw = ok ? dev->mem_alloc(dev, (size_t)L->B * chw) : NULL;
    L->vwork = L->draw ? dev->mem_alloc(dev, work) : NULL;
    L->views = malloc((size_t)L->B * sizeof *L->views);
    if (!L->vwork || !L->views)
        return sg_errf(err, "out of memory for augmentation on %s (batch %d of %dx%dx%d)",
                       dev->name, L->B, C, H, W);
    L->rC = C, L->rH = H, L->rW = W;
    return 0;
}

/* Slot s's images (uploaded) augmented on the device into x0, x1 (dev's memory): each view of
 * the whole batch in one aug_views call, with the draws the workers would make. */
static void augment_on_device(sg_loader *L, const slot *s, float *x0, float *x1) {
    const size_t chw = (size_t)L->rC * L->rH * L->rW;
    L->dev->mem_upload(L->dev, L->draw, s->raw, (size_t)L->B * chw);
    const long epoch = s->step / L->spe;
    for (int v = 0; v < 2; v++) {
        const sg_aug_recipe *r = &L->rec[v];
        for (int b = 0; b < L->B; b++)
            sg_aug_draw_view(r, L->C, L->rH, L->rW, L->seed, (uint32_t)epoch,
                             (uint32_t)s->index[b], (uint32_t)v, &L->views[b]);
        sg_aug_views(L->dev, L->B, L->rC, L->rH, L->rW, L->draw, L->C, L->S, L->views,
                     r->blur_ksize > 0 ? r->blur_ksize : 1, r->normalize ? r->mean : NULL,
                     r->normalize ? r->std : NULL, v ? x1 : x0, L->vwork);
    }
}

static void start_prep(sg_loader *L, int si, long step) {
    slot *s = &L->slots[si];
    s->step = step;
    s->next_item = 0;
    s->limit = 2 * L->B;
    s->done_items = 0;
    s->failed = 0;
    L->prep = si;
    pthread_cond_broadcast(&L->work_cv);
}

int sg_loader_get(sg_loader *L, long step, float *x0, float *x1, double *waited, sg_err *err) {
    const size_t bytes = (size_t)L->B * L->C * L->S * L->S * sizeof(float);
    double t0 = sg_now();
    slot *s = NULL;
    int rc = 0;
    if (L->nworkers == 0) {
        s = &L->slots[0];
        s->step = step;
        rc = fill_inline(L, s, err);
    } else {
        pthread_mutex_lock(&L->mu);
        if (L->prep >= 0 && L->slots[L->prep].step == step) {
            s = &L->slots[L->prep];
            while (s->done_items < 2 * L->B) pthread_cond_wait(&L->done_cv, &L->mu);
            L->prep = -1;
            if (s->failed) {
                *err = s->err;
                rc = -1;
            }
        } else {
            /* not prepared (first step, a resume, a jump): wait for the workers to go idle,
             * then fill this one synchronously */
            if (L->prep >= 0) {
                slot *p = &L->slots[L->prep];
                p->limit = p->next_item; /* no more claims; let the claimed items finish */
                while (p->done_items < p->next_item) pthread_cond_wait(&L->done_cv, &L->mu);
                L->prep = -1;
            }
            s = &L->slots[0];
            s->step = step;
            pthread_mutex_unlock(&L->mu);
            rc = fill_inline(L, s, err);
            pthread_mutex_lock(&L->mu);
        }
        if (rc == 0 && !L->dev) {
            memcpy(x0, s->x[0], bytes);
            memcpy(x1, s->x[1], bytes);
        }
        start_prep(L, s == &L->slots[0] ? 1 : 0, step + 1);
        pthread_mutex_unlock(&L->mu);
        /* s is not the slot the workers fill now: it stays as it is until the next get */
        if (rc == 0 && L->dev) augment_on_device(L, s, x0, x1);
        if (waited) *waited = sg_now() - t0;
        return rc;
    }
    if (rc == 0 && L->dev) {
        augment_on_device(L, s, x0, x1);
    } else if (rc == 0) {
        memcpy(x0, s->x[0], bytes);
        memcpy(x1, s->x[1], bytes);
    }
    if (waited) *waited = sg_now() - t0;
    return rc;
}

void sg_loader_close(sg_loader *L) {
    if (!L) return;
    if (L->threads) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->work_cv);
        pthread_mutex_unlock(&L->mu);
        for (int i = 0; i < L->nworkers; i++) pthread_join(L->threads[i], NULL);
        for (int i = 0; i < L->nworkers; i++) worker_free(&L->workers[i]);
        pthread_mutex_destroy(&L->mu);
        pthread_cond_destroy(&L->work_cv);
        pthread_cond_destroy(&L->done_cv);
    }
    free(L->threads);
    free(L->workers);
    worker_free(&L->inline_worker);
    for (int i = 0; i < 2; i++) {
        for (int v = 0; v < 2; v++) free(L->slots[i].x[v]);
        if (L->slots[i].raw) L->dev->host_free(L->dev, L->slots[i].raw);
        free(L->slots[i].index);
    }
    if (L->dev) {
        if (L->draw) L->dev->mem_free(L->dev, L->draw);
        if (L->vwork) L->dev->mem_free(L->dev, L->vwork);
    }
    free(L->views);
    free(L->perm);
    free(L);
}
