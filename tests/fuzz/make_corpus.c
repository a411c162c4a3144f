/* tests/fuzz/make_corpus.c: writes the seed corpora of the fuzz targets, small valid inputs made
 * by the project's own writers (dataset writers, the JPEG and config writers) or cut from files
 * stopgrad wrote (suites, kernel-suite and results CSVs of results/measured/), packed in each
 * target's input format (see the targets). Deterministic: the same seeds every time.
 *     fuzz_make_corpus OUT        writes OUT/<target>/seed-*  (scripts/fuzz.sh --seeds)
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream, mkdtemp */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint_model.h"
#include "core/base/config.h"
#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/base/rng.h"
#include "core/data/dataset.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR: the source tree, for its suites and measured CSVs"
#endif

static const char *out_root, *tmp;

typedef struct {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *s, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        SG_CHECK(b->p != NULL, "out of memory");
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_str(bytes *b, const char *s) { put(b, s, strlen(s)); }

static void put_file(bytes *b, const char *path) {
    FILE *f = fopen(path, "rb");
    SG_CHECK(f != NULL, "cannot read %s", path);
    char buf[65536];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) put(b, buf, n);
    fclose(f);
}

/* The first rows + 1 lines of a text file (a CSV's header and its first rows). */
static void put_lines(bytes *b, const char *path, int rows) {
    FILE *f = fopen(path, "rb");
    SG_CHECK(f != NULL, "cannot read %s", path);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i <= rows && getline(&line, &cap, f) > 0; i++) put_str(b, line);
    free(line);
    fclose(f);
}

static void seed(const char *target, const char *name, const bytes *b) {
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", out_root, target);
    sg_err err;
    SG_CHECK(sg_mkdirs(dir, &err) == 0, "%s", err.msg);
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    SG_CHECK(sg_write_file_atomic(path, b->p, b->n, &err) == 0, "%s", err.msg);
    printf("%s (%zu bytes)\n", path, b->n);
}

static void random_u8(uint8_t *p, size_t n, uint32_t tag) {
    sg_rng r;
    sg_rng_init(&r, 0x5eed, tag, 0, 0);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)sg_rng_u32(&r);
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp, name);
}

static void stl10(void) {
    static uint8_t px[2 * 27648];
    random_u8(px, sizeof px, 1);
    const int32_t labels[2] = {3, 9};
    sg_err err;
    char dir[600], p[700];
    tmp_path(dir, sizeof dir, "stl10");
    SG_CHECK(sg_write_stl10(dir, "train", 1, px, labels, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_write_stl10(dir, "unlabeled", 2, px, NULL, &err) == 0, "%s", err.msg);
    static const struct {
        const char *name;
        uint8_t mode;
        const char *x, *y;
    } S[] = {{"train", 0, "train_X.bin", "train_y.bin"},
             {"unlabeled", 2, "unlabeled_X.bin", NULL},
             {"train-unlabeled", 3, "train_X.bin", "train_y.bin"}};
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        bytes b = {0}, y = {0};
        if (S[i].y) {
            snprintf(p, sizeof p, "%s/%s", dir, S[i].y);
            put_file(&y, p);
        }
        uint8_t head[3] = {S[i].mode, (uint8_t)y.n, (uint8_t)(y.n >> 8)};
        put(&b, head, 3);
        if (y.n) put(&b, y.p, y.n);
        snprintf(p, sizeof p, "%s/%s", dir, S[i].x);
        put_file(&b, p);
        seed("stl10", S[i].name, &b);
        free(b.p);
        free(y.p);
    }
}

static void cifar(void) {
    static uint8_t px[5 * 3072];
    random_u8(px, sizeof px, 2);
    const int32_t l10[5] = {0, 9, 4, 1, 7}, coarse[2] = {19, 3}, fine[2] = {99, 42};
    sg_err err;
    char d10[600], d100[600], p[700];
    tmp_path(d10, sizeof d10, "cifar10");
    tmp_path(d100, sizeof d100, "cifar100");
    SG_CHECK(sg_write_cifar10(d10, 0, 2, px, l10, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_write_cifar10(d10, 1, 5, px, l10, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_write_cifar100(d100, 0, 2, px, coarse, fine, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_write_cifar100(d100, 1, 2, px, coarse, fine, &err) == 0, "%s", err.msg);
    bytes b = {0};
    put(&b, "\0", 1);
    snprintf(p, sizeof p, "%s/test_batch.bin", d10);
    put_file(&b, p);
    seed("cifar", "cifar10-test", &b);
    b.n = 0;
    put(&b, "\1", 1);
    for (int k = 1; k <= 5; k++) { /* one record per file: the harness cuts at fifths */
        snprintf(p, sizeof p, "%s/data_batch_%d.bin", d10, k);
        put_file(&b, p);
    }
    seed("cifar", "cifar10-train", &b);
    b.n = 0;
    put(&b, "\2", 1);
    snprintf(p, sizeof p, "%s/test.bin", d100);
    put_file(&b, p);
    seed("cifar", "cifar100-test-fine", &b);
    b.n = 0;
    put(&b, "\3", 1);
    snprintf(p, sizeof p, "%s/train.bin", d100);
    put_file(&b, p);
    seed("cifar", "cifar100-train-coarse", &b);
    free(b.p);
}

static void idx(void) {
    static uint8_t px[3 * 5 * 4];
    random_u8(px, sizeof px, 3);
    const int32_t labels[3] = {2, 0, 7};
    for (int gz = 0; gz < 2; gz++) {
        char im[600], lb[600];
        tmp_path(im, sizeof im, gz ? "i.gz" : "i");
        tmp_path(lb, sizeof lb, gz ? "l.gz" : "l");
        sg_err err;
        SG_CHECK(sg_write_idx(im, lb, 3, 5, 4, px, labels, gz, &err) == 0, "%s", err.msg);
        bytes i = {0}, b = {0};
        put_file(&i, im);
        uint8_t head[4] = {(uint8_t)i.n, (uint8_t)(i.n >> 8), (uint8_t)(i.n >> 16),
                           (uint8_t)(i.n >> 24)};
        put(&b, head, 4);
        put(&b, i.p, i.n);
        put_file(&b, lb);
        seed("idx", gz ? "gzip" : "plain", &b);
        free(i.p);
        free(b.p);
    }
}

static void jpeg(void) {
    /* sizes and channels chosen so that the file sizes differ in parity: the harness decodes
     * odd-sized inputs with the default scaling, even-sized ones at full size */
    static const struct {
        const char *name;
        int C, H, W, q;
    } J[] = {{"rgb-16x12", 3, 12, 16, 90},
             {"grey-8x8", 1, 8, 8, 75},
             {"rgb-40x30", 3, 30, 40, 50},
             {"grey-1x33", 1, 1, 33, 95}};
    for (size_t i = 0; i < sizeof J / sizeof J[0]; i++) {
        size_t n = (size_t)J[i].C * J[i].H * J[i].W;
        uint8_t *px = malloc(n);
        random_u8(px, n, 10 + (uint32_t)i);
        char p[600];
        tmp_path(p, sizeof p, "x.jpg");
        sg_err err;
        SG_CHECK(sg_write_jpeg(p, J[i].C, J[i].H, J[i].W, px, J[i].q, &err) == 0, "%s", err.msg);
        bytes b = {0};
        put_file(&b, p);
        seed("jpeg", J[i].name, &b);
        free(b.p);
        free(px);
    }
}

static void config(void) {
    sg_config *c = sg_train_config_new();
    sg_err err;
    const char *set[] = {"predictor.kind=directpred", "trainer.batch=64", "run.tag=a # b",
                         "data.dir= spaced "};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        SG_CHECK(sg_train_config_set_arg(c, set[i], &err) == 0, "%s", err.msg);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    SG_CHECK(m != NULL, "memstream");
    sg_config_write(c, m);
    fclose(m);
    bytes b = {0};
    put(&b, text, len);
    seed("config", "written", &b);
    b.n = 0;
    put_str(&b, "# a hand-written file with sections\n[trainer]\nepochs = 3\nseed = 7\n"
                "[predictor]\nkind = linear   # inline comment\n");
    put_str(&b, "\n====\ntrainer.dyn_lambda=0.5\ntrainer.predictor_reg=corr\noptim.lr=0.05\n");
    seed("config", "sections-and-overrides", &b);
    free(b.p);
    free(text);
    sg_config_free(c);
}

static void copy_seed(const char *target, const char *name, const char *rel, int rows) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", SG_SOURCE_DIR, rel);
    bytes b = {0};
    if (rows > 0)
        put_lines(&b, p, rows);
    else
        put_file(&b, p);
    seed(target, name, &b);
    free(b.p);
}

static void csvs(void) {
    copy_seed("suite", "quick", "suites/quick.suite", 0);
    copy_seed("suite", "fmnist-ablations-reduced", "suites/fmnist-ablations-reduced.suite", 0);
    copy_seed("bench", "kernels-ci", "suites/kernels-ci.bench", 0);
    copy_seed("bench", "kernels-gpu-check", "suites/kernels-gpu-check.bench", 0);
    const char *bench = "results/measured/cpu-2026-11-29/bench-kernels-ci-2threads-A.csv";
    const char *bench2 = "results/measured/cpu-2026-11-29/bench-kernels-ci-2threads-B.csv";
    const char *results = "results/measured/fmnist-ablations-reduced-2026-11-29/results.csv";
    copy_seed("csv", "bench-head", bench, 6);
    copy_seed("csv", "results-head", results, 3);
    /* quoting of every kind, through the writer */
    const char *hdr[3] = {"plain", "quoted field", "multi"};
    sg_csv_row rows[2];
    const char *cells[2][3] = {{"a", " lead and trail ", "x,y"}, {"say \"hi\"", "", "line\nbreak"}};
    for (int r = 0; r < 2; r++) {
        sg_csv_row_init(&rows[r]);
        for (int k = 0; k < 3; k++) sg_csv_row_str(&rows[r], cells[r][k]);
    }
    char p[600];
    tmp_path(p, sizeof p, "q.csv");
    sg_err err;
    SG_CHECK(sg_csv_write_atomic(p, 3, hdr, rows, 2, &err) == 0, "%s", err.msg);
    for (int r = 0; r < 2; r++) sg_csv_row_free(&rows[r]);
    bytes b = {0};
    put_file(&b, p);
    seed("csv", "quoting", &b);
    /* compare: two runs of one suite (BASE ==== NEW), and one alone */
    char pa[1200], pb[1200];
    snprintf(pa, sizeof pa, "%s/%s", SG_SOURCE_DIR, bench);
    snprintf(pb, sizeof pb, "%s/%s", SG_SOURCE_DIR, bench2);
    b.n = 0;
    put_lines(&b, pa, 12);
    put_str(&b, "\n====\n");
    put_lines(&b, pb, 12);
    seed("compare", "rerun", &b);
    b.n = 0;
    put_lines(&b, pa, 20);
    seed("compare", "alone", &b);
    b.n = 0;
    put_lines(&b, pa, 20);
    seed("report", "cpu", &b);
    put_str(&b, "\n====\n");
    put_lines(&b, pb, 20);
    seed("report", "two-inputs", &b);
    free(b.p);
    copy_seed("check", "results-head", results, 4);
}

/* One step of the checkpoint target's tiny setting: its checkpoint.bin. */
static void checkpoint(void) {
    sg_config *c = fz_ckpt_config();
    SG_CHECK(c != NULL, "the checkpoint setting");
    char kv[700];
    sg_err err;
    snprintf(kv, sizeof kv, "run.dir=%s/runs", tmp);
    SG_CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    snprintf(kv, sizeof kv, "run.results=%s/results.csv", tmp);
    SG_CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    SG_CHECK(sg_train_config_set_arg(c, "run.name=ck", &err) == 0, "%s", err.msg);
    sg_train_opts o = {0, SG_TRAIN_PROGRESS_NONE, 0};
    sg_train_summary sum;
    SG_CHECK(sg_train_run(c, &o, &sum, &err) == 0, "%s", err.msg);
    sg_config_free(c);
    char p[700];
    snprintf(p, sizeof p, "%s/runs/ck/checkpoint.bin", tmp);
    bytes b = {0};
    put_file(&b, p);
    seed("checkpoint", "one-step", &b);
    free(b.p);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_corpus OUT (writes OUT/<target>/seed-*)\n");
        return 2;
    }
    out_root = argv[1];
    static char tdir[] = "/tmp/sg-corpus-XXXXXX";
    tmp = mkdtemp(tdir);
    SG_CHECK(tmp != NULL, "mkdtemp");
    stl10();
    cifar();
    idx();
    jpeg();
    config();
    csvs();
    checkpoint();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : 1;
}
