/* The model's checkpoint (sg_ssl_save / sg_ssl_load): a saved model loads back bit for bit into
 * a fresh one, and every damaged or foreign file is refused with its fault named, before the
 * model is touched: truncated, extended, a flipped body byte, zeroed weights, a step of -1 or 0
 * or beyond the run, a run of another length, another setting, another model size, an old
 * format version, not a checkpoint at all, a folder, a FIFO, a symlink loop, a missing file. */
#define _DEFAULT_SOURCE /* symlink with -std=c11 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ssl/ssl.h"
#include "kernels/backend.h"
#include "test_util.h"
#include "tiny_ssl.h"

static char root[512];

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    SG_CHECK(f && fwrite(b, 1, n, f) == n, "writing %s", path);
    fclose(f);
}

/* All of the model's state as host floats (weights, buffers, momentum, target, F). */
static float *state(const sg_ssl *m, size_t *n) {
    size_t a = m->online.total, b = m->online.nbuf, t = m->target.total, DD = (size_t)m->D * m->D;
    *n = 2 * a + b + t + DD;
    float *s = tu_alloc(*n * sizeof(float)), *p = s;
    sg_ssl_get(m, p, m->online.w, a), p += a;
    sg_ssl_get(m, p, m->online.buf, b), p += b;
    sg_ssl_get(m, p, m->mom, a), p += a;
    sg_ssl_get(m, p, m->target.w, t), p += t;
    sg_ssl_get(m, p, m->F, DD);
    return s;
}

static void build(sg_ssl *m, sg_ssl_settings s) {
    sg_err err;
    SG_CHECK(sg_ssl_build(m, &s, sg_backend_get("cpu"), &err) == 0, "%s", err.msg);
}

/* Loading `path` into a fresh model fails with a message holding `want`, and leaves the model
 * as built. */
static void refused(const sg_ssl_settings *s, const sg_ckpt_run *expect, const char *path,
                    const char *want, const char *what) {
    sg_ssl m;
    build(&m, *s);
    size_t n0, n1;
    float *before = state(&m, &n0);
    sg_err err = {{0}};
    int rc = sg_ssl_load(&m, path, expect, NULL, &err);
    CHECK(rc != 0 && strstr(err.msg, want) != NULL, "%s: refused naming '%s' (rc %d): %s", what,
          want, rc, err.msg);
    CHECK(strstr(err.msg, path) != NULL, "%s: the message names the file", what);
    float *after = state(&m, &n1);
    CHECK(n0 == n1 && !memcmp(before, after, n0 * sizeof(float)) && m.step == 0,
          "%s: the model is untouched", what);
    free(before);
    free(after);
    sg_ssl_free(&m);
}

/* The saved file with its header's step (offset 24) replaced. */
static void with_step(const unsigned char *b, size_t n, int64_t step, const char *path) {
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    memcpy(c + 24, &step, sizeof step);
    spit(path, c, n);
    free(c);
}

int main(void) {
    snprintf(root, sizeof root, "%s/checkpoint_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    char path[700], bad[800];
    snprintf(path, sizeof path, "%s/model.ckpt", root);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", root);

    /* a DirectPred model after 3 steps: F, momentum, target and step all non-trivial */
    sg_ssl_settings s = tiny_ssl(0.0625, 16, 8, 8);
    s.pred = SG_PRED_DIRECTPRED;
    sg_ssl m;
    build(&m, s);
    const size_t nx = (size_t)8 * 3 * 16 * 16;
    float *x = tu_alloc(nx * sizeof(float));
    for (int k = 0; k < 3; k++) {
        for (int v = 0; v < 2; v++) {
            tu_fill(x, nx, 11 + (uint64_t)k, (uint32_t)v, -1, 1);
            sg_ssl_put(&m, m.x[v], x, nx);
        }
        sg_ssl_step(&m);
    }
    const sg_ckpt_run run = {0x1234abcdULL, 1, 2.5, 100};
    sg_err err;
    CHECK(sg_ssl_save(&m, path, &run, &err) == 0, "saved: %s", err.msg);
    size_t nsaved, nloaded;
    float *saved = state(&m, &nsaved);

    /* the round trip */
    sg_ssl r;
    build(&r, s);
    sg_ckpt_run got;
    CHECK(sg_ssl_load(&r, path, &run, &got, &err) == 0, "loaded: %s", err.msg);
    float *loaded = state(&r, &nloaded);
    CHECK(nsaved == nloaded && !memcmp(saved, loaded, nsaved * sizeof(float)),
          "every buffer back bit for bit");
    CHECK(r.step == 3 && r.F_ready == m.F_ready && got.epochs_done == 1 &&
              got.epoch_loss_sum == 2.5 && got.config_hash == run.config_hash,
          "step %ld, counters back", r.step);
    free(loaded);
    sg_ssl_free(&r);

    size_t n = 0;
    unsigned char *b = slurp(path, &n);
    CHECK(b && n > 1000, "file read (%zu bytes)", n);

    spit(bad, b, n - 100);
    refused(&s, &run, bad, "truncated", "cut short");
    unsigned char *longer = malloc(n + 4);
    memcpy(longer, b, n);
    memset(longer + n, 7, 4);
    spit(bad, longer, n + 4);
    refused(&s, &run, bad, "truncated or extended", "bytes appended");
    free(longer);

    b[n / 2] ^= 0x10;
    spit(bad, b, n);
    refused(&s, &run, bad, "corrupted", "a flipped bit in the body");
    b[n / 2] ^= 0x10;

    unsigned char *zeroed = malloc(n);
    memcpy(zeroed, b, n);
    memset(zeroed + 400, 0, n - 400 - 8); /* the weights and everything after the header */
    spit(bad, zeroed, n);
    refused(&s, &run, bad, "corrupted", "zeroed weights");
    free(zeroed);

    with_step(b, n, -1, bad);
    refused(&s, &run, bad, "step -1", "step -1");
    with_step(b, n, 0, bad);
    refused(&s, &run, bad, "step 0", "step 0");
    with_step(b, n, 101, bad);
    refused(&s, &run, bad, "step 101", "a step beyond the run");

    sg_ckpt_run other = run;
    other.config_hash ^= 1;
    {
        sg_ssl t;
        build(&t, s);
        sg_ckpt_run g;
        int rc = sg_ssl_load(&t, path, &other, &g, &err);
        CHECK(rc == SG_CKPT_OTHER_SETTING && g.config_hash == run.config_hash &&
                  strstr(err.msg, "another setting"),
              "another setting is told apart (rc %d): %s", rc, err.msg);
        sg_ssl_free(&t);
    }
    /* the same setting over another dataset size (data.dir is not in the hash) */
    sg_ckpt_run shorter = run;
    shorter.total_steps = 50;
    refused(&s, &shorter, path, "of a 100-step run", "a run of another length");

    sg_ssl_settings wider = s;
    wider.proj_out = 16;
    refused(&wider, &run, path, "buffer", "another model size");

    unsigned char *v1 = malloc(n);
    memcpy(v1, b, n);
    uint32_t one = 1;
    memcpy(v1 + 8, &one, 4);
    spit(bad, v1, n);
    refused(&s, &run, bad, "format version 1", "an old format version");
    free(v1);

    const unsigned char junk[64] = "not a checkpoint, just some bytes of text in a file....";
    spit(bad, junk, sizeof junk);
    refused(&s, &run, bad, "not a stopgrad checkpoint", "not a checkpoint");

    refused(&s, &run, root, "not a regular file", "a folder");
    char fifo[800];
    snprintf(fifo, sizeof fifo, "%s/fifo.ckpt", root);
    CHECK(mkfifo(fifo, 0600) == 0, "FIFO made");
    refused(&s, &run, fifo, "not a regular file", "a FIFO (never blocks)");
    unlink(fifo);
    char loop[800];
    snprintf(loop, sizeof loop, "%s/loop.ckpt", root);
    CHECK(symlink(loop, loop) == 0, "symlink loop made");
    refused(&s, &run, loop, "symbolic links", "a symlink loop");
    char missing[800];
    snprintf(missing, sizeof missing, "%s/missing.ckpt", root);
    refused(&s, &run, missing, "does not exist", "a missing file");

    free(b);
    free(saved);
    free(x);
    sg_ssl_free(&m);
    unlink(loop);
    unlink(bad);
    unlink(path);
    rmdir(root);
    return test_finish();
}
