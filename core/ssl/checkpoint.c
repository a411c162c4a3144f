/* core/ssl/checkpoint.c: the model's state on disk (sg_ssl_save / sg_ssl_load, see ssl.h).
 *
 * File format, version 2, little endian:
 *   header   "SGCKPT\0\0", u32 version, u32 nbufs,
 *            u64 config hash, i64 step, i64 epochs done, f64 loss sum of the epoch so far,
 *            i64 total steps of the run, i32 F_ready, i32 0,
 *            char backend[16], char precision[8],
 *            nbufs x {char name[16], i64 floats}
 *   body     the buffers' floats, in the header's order
 *   trailer  u64 checksum: FNV-1a over 8-byte words of header and body
 * The buffer list is model_buffers() below, for writing and reading alike. A file is checked
 * whole (size, magic, version, setting, every buffer's name and size, step range, checksum)
 * before the model is touched, so a bad file leaves the model as it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/log.h"
#include "core/ssl/ssl.h"

#define CKPT_MAGIC "SGCKPT\0\0"
#define CKPT_VERSION 2u
#define CKPT_MAXBUF 8
#define CKPT_CHUNK ((size_t)1 << 20) /* floats per read or write */

typedef struct {
    const char *name;
    float *p;
    size_t n;
} ckpt_buf;

/* Every piece of model state a resume needs, in file order. */
static int model_buffers(const sg_ssl *m, ckpt_buf *b) {
    const size_t DD = (size_t)m->D * m->D;
    int k = 0;
    b[k++] = (ckpt_buf){"online.w", m->online.w, m->online.total};
    b[k++] = (ckpt_buf){"online.buf", m->online.buf, m->online.nbuf};
    b[k++] = (ckpt_buf){"momentum", m->mom, m->online.total};
    b[k++] = (ckpt_buf){"target.w", m->target.w, m->target.total};
    b[k++] = (ckpt_buf){"target.buf", m->target.buf, m->target.nbuf};
    b[k++] = (ckpt_buf){"F", m->F, DD};
    b[k++] = (ckpt_buf){"M2", m->M2, DD};
    b[k++] = (ckpt_buf){"mu", m->mu, (size_t)m->D};
    return k;
}

/* ---- a checksum over 8-byte words ------------------------------------------------------------ */

typedef struct {
    uint64_t h;
    unsigned char tail[8];
    size_t ntail;
} ckpt_sum;

static void sum_init(ckpt_sum *s) {
    s->h = 0xcbf29ce484222325ull;
    s->ntail = 0;
}

static void sum_word(ckpt_sum *s, uint64_t w) {
    s->h ^= w;
    s->h *= 0x100000001b3ull;
}

static void sum_bytes(ckpt_sum *s, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n && s->ntail) {
        s->tail[s->ntail++] = *p++, n--;
        if (s->ntail == 8) {
            uint64_t w;
            memcpy(&w, s->tail, 8);
            sum_word(s, w);
            s->ntail = 0;
        }
    }
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        sum_word(s, w);
    }
    memcpy(s->tail, p, n);
    s->ntail = n;
}

static uint64_t sum_final(ckpt_sum *s) {
    if (s->ntail) {
        uint64_t w = 0;
        memcpy(&w, s->tail, s->ntail);
        sum_word(s, w ^ ((uint64_t)s->ntail << 56));
    }
    return s->h;
}

/* ---- the header -------------------------------------------------------------------------------- */

typedef struct {
    uint32_t version, nbufs;
    uint64_t config_hash;
    int64_t step, epochs_done;
    double epoch_loss_sum;
    int64_t total_steps;
    int32_t F_ready;
    char backend[16], precision[8];
    char names[CKPT_MAXBUF][16];
    int64_t counts[CKPT_MAXBUF];
} ckpt_header;

enum { FIXED_BYTES = 8 + 4 + 4 + 8 + 8 + 8 + 8 + 8 + 4 + 4 + 16 + 8, BUF_BYTES = 16 + 8 };

/* the header as bytes (returns its length) */
static size_t header_pack(const ckpt_header *h, unsigned char *out) {
    unsigned char *p = out;
#define PUT(v) (memcpy(p, &(v), sizeof(v)), p += sizeof(v))
    memcpy(p, CKPT_MAGIC, 8), p += 8;
    PUT(h->version);
    PUT(h->nbufs);
    PUT(h->config_hash);
    PUT(h->step);
    PUT(h->epochs_done);
    PUT(h->epoch_loss_sum);
    PUT(h->total_steps);
    PUT(h->F_ready);
    int32_t zero = 0;
    PUT(zero);
    memcpy(p, h->backend, 16), p += 16;
    memcpy(p, h->precision, 8), p += 8;
    for (uint32_t i = 0; i < h->nbufs; i++) {
        memcpy(p, h->names[i], 16), p += 16;
        PUT(h->counts[i]);
    }
#undef PUT
    return (size_t)(p - out);
}

/* bytes -> header; 0 when the fixed part is malformed (magic) */
static int header_unpack(const unsigned char *in, size_t len, ckpt_header *h) {
    if (len < FIXED_BYTES || memcmp(in, CKPT_MAGIC, 8) != 0) return 0;
    const unsigned char *p = in + 8;
#define GET(v) (memcpy(&(v), p, sizeof(v)), p += sizeof(v))
    GET(h->version);
    GET(h->nbufs);
    GET(h->config_hash);
    GET(h->step);
    GET(h->epochs_done);
    GET(h->epoch_loss_sum);
    GET(h->total_steps);
    GET(h->F_ready);
    int32_t zero;
    GET(zero);
    memcpy(h->backend, p, 16), p += 16;
    memcpy(h->precision, p, 8), p += 8;
    h->backend[15] = h->precision[7] = 0;
    if (h->nbufs > CKPT_MAXBUF || len < FIXED_BYTES + (size_t)h->nbufs * BUF_BYTES) return 1;
    for (uint32_t i = 0; i < h->nbufs; i++) {
        memcpy(h->names[i], p, 16), p += 16;
        h->names[i][15] = 0;
        GET(h->counts[i]);
    }
#undef GET
    return 1;
}

static void header_of(const sg_ssl *m, const sg_ckpt_run *run, ckpt_header *h) {
    memset(h, 0, sizeof *h);
    h->version = CKPT_VERSION;
    ckpt_buf b[CKPT_MAXBUF];
    h->nbufs = (uint32_t)model_buffers(m, b);
    h->config_hash = run->config_hash;
    h->step = m->step;
    h->epochs_done = run->epochs_done;
    h->epoch_loss_sum = run->epoch_loss_sum;
    h->total_steps = run->total_steps;
    h->F_ready = m->F_ready;
    snprintf(h->backend, sizeof h->backend, "%s", m->be->name);
    snprintf(h->precision, sizeof h->precision, "fp32");
    for (uint32_t i = 0; i < h->nbufs; i++) {
        snprintf(h->names[i], sizeof h->names[i], "%s", b[i].name);
        h->counts[i] = (int64_t)b[i].n;
    }
}

/* ---- save ------------------------------------------------------------------------------------ */

int sg_ssl_save(const sg_ssl *m, const char *path, const sg_ckpt_run *run, sg_err *err) {
    /* the accumulated gradient and statistics of a step cut short are not part of the format */
    if (m->micro != 0)
        return sg_errf(err, "checkpoint %s: the model is %d micro-batch(es) into step %ld; "
                            "checkpoints are taken at step boundaries only", path, m->micro,
                       m->step);
    ckpt_header h;
    header_of(m, run, &h);
    unsigned char head[FIXED_BYTES + CKPT_MAXBUF * BUF_BYTES];
    size_t hl = header_pack(&h, head);
    float *host = malloc(CKPT_CHUNK * sizeof(float));
    if (!host) return sg_errf(err, "out of memory writing checkpoint %s", path);
    sg_atomic_file f;
    if (sg_atomic_open(&f, path, -1, err)) {
        free(host);
        return -1;
    }
    ckpt_sum sum;
    sum_init(&sum);
    sum_bytes(&sum, head, hl);
    int rc = sg_atomic_write(&f, head, hl, err);
    ckpt_buf b[CKPT_MAXBUF];
    int nb = model_buffers(m, b);
    for (int i = 0; i < nb && !rc; i++)
        for (size_t at = 0; at < b[i].n && !rc; at += CKPT_CHUNK) {
            size_t n = b[i].n - at < CKPT_CHUNK ? b[i].n - at : CKPT_CHUNK;
            sg_ssl_get(m, host, b[i].p + at, n);
            sum_bytes(&sum, host, n * sizeof(float));
            rc = sg_atomic_write(&f, host, n * sizeof(float), err);
        }
    free(host);
    uint64_t c = sum_final(&sum);
    if (!rc) rc = sg_atomic_write(&f, &c, sizeof c, err);
    if (!rc) rc = sg_atomic_commit(&f, err);
    else sg_atomic_abort(&f);
    return rc ? -1 : 0;
}

/* ---- load ------------------------------------------------------------------------------------ */

/* Reads exactly n bytes; 0 on a short read. */
static int read_exact(FILE *f, void *p, size_t n) { return n == 0 || fread(p, 1, n, f) == n; }

int sg_ssl_load(sg_ssl *m, const char *path, const sg_ckpt_run *expect, sg_ckpt_run *got,
                sg_err *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return sg_errf(err, "checkpoint %s: %s", path,
                       errno == ENOENT ? "does not exist" : strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sg_errf(err, "checkpoint %s is not a regular file (a %s)", path,
                       S_ISDIR(st.st_mode) ? "folder" : "special file");
    FILE *f = fopen(path, "rb");
    if (!f) return sg_errf(err, "checkpoint %s cannot be read: %s", path, strerror(errno));
    ckpt_header want, h;
    header_of(m, expect, &want);
    unsigned char head[FIXED_BYTES + CKPT_MAXBUF * BUF_BYTES];
    const size_t hl = FIXED_BYTES + (size_t)want.nbufs * BUF_BYTES;
    size_t got_head = fread(head, 1, hl, f);
    int rc = 0;
#define FAIL(...) (rc = sg_errf(err, __VA_ARGS__), fclose(f), rc)
    if (!header_unpack(head, got_head, &h))
        return FAIL("%s is not a stopgrad checkpoint (%zu bytes, no SGCKPT header)", path,
                    (size_t)st.st_size);
    if (h.version != CKPT_VERSION)
        return FAIL("checkpoint %s has format version %u; this build reads version %u", path,
                    h.version, CKPT_VERSION);
    if (h.config_hash != expect->config_hash) {
        if (got) got->config_hash = h.config_hash;
        rc = sg_errf(err, "checkpoint %s was written by another setting (hash %016llx, this "
                          "run's %016llx)", path, (unsigned long long)h.config_hash,
                     (unsigned long long)expect->config_hash);
        fclose(f);
        return SG_CKPT_OTHER_SETTING;
    }
    if (got_head < hl || h.nbufs != want.nbufs)
        return FAIL("checkpoint %s: header of %u buffers, this model has %u", path, h.nbufs,
                    want.nbufs);
    size_t body = 0;
    for (uint32_t i = 0; i < h.nbufs; i++) {
        if (strcmp(h.names[i], want.names[i]) != 0 || h.counts[i] != want.counts[i])
            return FAIL("checkpoint %s: buffer %u is %s of %lld floats, this model's is %s of "
                        "%lld",
                        path, i, h.names[i], (long long)h.counts[i], want.names[i],
                        (long long)want.counts[i]);
        body += (size_t)want.counts[i] * sizeof(float);
    }
    if ((size_t)st.st_size != hl + body + 8)
        return FAIL("checkpoint %s is %lld bytes, expected %zu (truncated or extended)", path,
                    (long long)st.st_size, hl + body + 8);
    if (h.step < 1 || h.step > expect->total_steps || h.epochs_done < 0 ||
        h.epochs_done > h.step || h.total_steps != expect->total_steps)
        return FAIL("checkpoint %s: step %lld, epochs %lld of a %lld-step run; this run has %lld "
                    "steps (a step must lie in [1, %lld])",
                    path, (long long)h.step, (long long)h.epochs_done, (long long)h.total_steps,
                    (long long)expect->total_steps, (long long)expect->total_steps);
    if (strcmp(h.precision, "fp32") != 0)
        return FAIL("checkpoint %s holds precision %s; this build trains in fp32", path,
                    h.precision);
    /* first pass: the checksum, before the model is touched */
    float *host = malloc(CKPT_CHUNK * sizeof(float));
    if (!host) return FAIL("out of memory reading checkpoint %s", path);
    ckpt_sum sum;
    sum_init(&sum);
    sum_bytes(&sum, head, hl);
    int ok = 1;
    for (size_t left = body; left && ok;) {
        size_t n = left < CKPT_CHUNK * sizeof(float) ? left : CKPT_CHUNK * sizeof(float);
        ok = read_exact(f, host, n);
        sum_bytes(&sum, host, n);
        left -= n;
    }
    uint64_t stored = 0;
    ok = ok && read_exact(f, &stored, sizeof stored);
    if (!ok || stored != sum_final(&sum)) {
        free(host);
        return FAIL("checkpoint %s is corrupted: its checksum does not match its contents", path);
    }
    /* second pass: the buffers into the model */
    ckpt_buf b[CKPT_MAXBUF];
    int nb = model_buffers(m, b);
    ok = fseek(f, (long)hl, SEEK_SET) == 0;
    for (int i = 0; i < nb && ok; i++)
        for (size_t at = 0; at < b[i].n && ok; at += CKPT_CHUNK) {
            size_t n = b[i].n - at < CKPT_CHUNK ? b[i].n - at : CKPT_CHUNK;
            ok = read_exact(f, host, n * sizeof(float));
            if (ok) sg_ssl_put(m, b[i].p + at, host, n);
        }
    free(host);
    if (!ok) return FAIL("checkpoint %s changed while it was read", path);
    fclose(f);
#undef FAIL
    if (strcmp(h.backend, m->be->name) != 0)
        sg_warn("checkpoint %s was written on the %s backend; resuming on %s", path, h.backend,
                m->be->name);
    m->step = h.step;
    m->F_ready = h.F_ready;
    m->micro = 0; /* a checkpoint is a step boundary: no micro-batch of the next step is in */
    if (got) {
        got->config_hash = h.config_hash;
        got->epochs_done = h.epochs_done;
        got->epoch_loss_sum = h.epoch_loss_sum;
        got->total_steps = h.total_steps;
    }
    return 0;
}
