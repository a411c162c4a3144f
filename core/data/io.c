/* core/data/io.c: file helpers of the dataset readers and writers. */
#define _DEFAULT_SOURCE /* fileno, fsync, getpid, mkdir, sysconf(_SC_PHYS_PAGES) with -std=c11 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/base/file.h"
#include "core/data/internal.h"

int sgd_path_join(char *out, size_t cap, const char *dir, const char *name, sg_err *err) {
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] != '/';
    return sg_path_printf(out, cap, err, "%s%s%s", dir, slash ? "/" : "", name);
}

int sgd_not_found(sg_err *err, const char *what, const char *path,
                               const char *how_to_get) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
        /* Say when the whole folder is missing: the usual mistake is a wrong data.dir. */
        char dir[SG_DATASET_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        struct stat st;
        if (slash && slash != dir) {
            *slash = '\0';
            if (stat(dir, &st) != 0)
                return sg_errf(err, "%s not found: %s does not exist (nor does the folder %s); %s",
                               what, path, dir, how_to_get);
        }
        return sg_errf(err, "%s not found: %s does not exist; %s", what, path, how_to_get);
    }
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return sg_errf(err, "%s: %s", what, why);
}

int sgd_open(const char *path, const char *what, const char *how_to_get, int64_t *size,
             sg_err *err) {
    int fd = sg_open_regular(path, size, err);
    if (fd < 0) sgd_not_found(err, what, path, how_to_get);
    return fd;
}

FILE *sgd_fopen(const char *path, const char *what, const char *how_to_get, int64_t *size,
                sg_err *err) {
    FILE *f = sg_fopen_regular(path, size, err);
    if (!f) sgd_not_found(err, what, path, how_to_get);
    return f;
}

int sgd_check_folder(const char *dir, const char *what, const char *how_to_get, sg_err *err) {
    if (sg_check_folder(dir, err) == 0) return 0;
    return sgd_not_found(err, what, dir, how_to_get);
}

int sgd_fits_memory(size_t bytes, const char *what, sg_err *err) {
    /* Linux overcommits: malloc of more than the machine has may succeed and the process be
     * killed later while reading. Refuse up front what cannot fit in physical memory. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = (pages > 0 && page > 0) ? (double)pages * (double)page : 0;
    if (phys > 0 && (double)bytes > phys)
        return sg_errf(err, "out of memory: %s needs %.2f GB but this machine has %.2f GB of RAM",
                       what, (double)bytes / 1e9, phys / 1e9);
    return 0;
}

void *sgd_big_alloc(size_t bytes, const char *what, sg_err *err) {
    if (sgd_fits_memory(bytes, what, err)) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        sg_errf(err, "out of memory: %s needs %.2f GB (%zu bytes) and the allocation failed", what,
                (double)bytes / 1e9, bytes);
    return p;
}

int sgd_read_exact(FILE *f, void *buf, size_t bytes, const char *path, sg_err *err) {
    const size_t chunk = (size_t)1 << 26;
    size_t done = 0;
    while (done < bytes) {
        size_t want = bytes - done < chunk ? bytes - done : chunk;
        size_t got = fread((char *)buf + done, 1, want, f);
        done += got;
        if (got < want) {
            if (ferror(f))
                return sg_errf(err, "cannot read %s: %s (after %zu of %zu bytes)", path,
                               strerror(errno), done, bytes);
            return sg_errf(err, "%s ended after %zu bytes where %zu were expected (the file "
                           "changed while being read?)", path, done, bytes);
        }
    }
    return 0;
}
