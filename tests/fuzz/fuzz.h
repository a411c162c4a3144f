/* tests/fuzz/fuzz.h: what the fuzz targets share.
 *
 * A target is tests/fuzz/fuzz_NAME.c defining LLVMFuzzerTestOneInput (and, when it needs setup,
 * LLVMFuzzerInitialize). With -DSG_FUZZ=ON (clang) it links libFuzzer and is run by
 * scripts/fuzz.sh; in every build it also links tests/fuzz/replay.c, a main that feeds it each
 * file of its corpus, tests/fuzz/corpus/NAME/ (the ctest fuzz.NAME), so the seeds and every
 * crash found run in the ordinary and sanitizer test builds too.
 *
 * The readers read files, so an input is written to files in a private folder first (tmpfs
 * when there is one) and the reader is called on them, as the program would be. A property that
 * must hold on any input the reader accepts (a round trip, a count) is checked with FZ_ASSERT,
 * which aborts: libFuzzer keeps the input as a crash. */
#pragma once
#define _DEFAULT_SOURCE /* mkdtemp, unlink with -std=c11 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/log.h"
#include "kernels/kernels.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ASSERT(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz property failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The private folder of this process, made on first use and removed at exit. */
static char fz_root[256];

static inline void fz_cleanup(void) {
    if (!fz_root[0]) return;
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fz_root);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fz_root);
}

static inline const char *fz_dir(void) {
    if (!fz_root[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_root, sizeof fz_root, "%s/sg-fuzz-XXXXXX", base);
        if (!mkdtemp(fz_root)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    }
    return fz_root;
}

/* fz_dir()/name into path[cap]. */
static inline void fz_path(char *path, size_t cap, const char *name) {
    if (snprintf(path, cap, "%s/%s", fz_dir(), name) >= (int)cap) abort();
}

/* Writes n bytes to fz_dir()/name (path returned in path[cap] when path is not NULL). */
static inline void fz_write(const char *name, const void *data, size_t n, char *path, size_t cap) {
    char p[512];
    fz_path(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        perror("fuzz: cannot write its input");
        abort();
    }
    if (path) snprintf(path, cap, "%s", p);
}

/* Quiet, one thread: a reader's warnings would flood the fuzzer's output, and OpenMP teams
 * started per input only cost time. */
static inline void fz_quiet(void) {
    sg_log_set_level(SG_LOG_ERROR);
    sg_cpu_set_threads(1);
    fz_dir();
}

/* Splits data at the first occurrence of the byte string sep: [0, *cut) and the rest after the
 * separator at *rest. Without one, all of it is the first part and the rest is empty. */
static inline void fz_split(const uint8_t *data, size_t size, const char *sep, size_t *cut,
                            size_t *rest) {
    size_t k = strlen(sep);
    for (size_t i = 0; i + k <= size; i++)
        if (!memcmp(data + i, sep, k)) {
            *cut = i;
            *rest = i + k;
            return;
        }
    *cut = size;
    *rest = size;
}
