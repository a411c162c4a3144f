/* core/data/io.c: file helpers of the dataset readers and writers. */
#define _DEFAULT_SOURCE /* fileno, fsync, getpid, mkdir, sysconf(_SC_PHYS_PAGES) with -std=c11 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/data/internal.h"

int sgd_path_join(char *out, size_t cap, const char *dir, const char *name, sg_err *err) {
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] != '/';
    int len = snprintf(out, cap, "%s%s%s", dir, slash ? "/" : "", name);
    if (len < 0 || (size_t)len >= cap)
        return sg_errf(err, "path too long: %s/%s (more than %zu characters)", dir, name, cap - 1);
    return 0;
}

int sgd_file_size(const char *path, int64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return -1;
    }
    *size = (int64_t)st.st_size;
    return 0;
}

int sgd_not_found(sg_err *err, const char *what, const char *path, const char *how_to_get) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
        /* Say when the whole folder is missing: the usual mistake is a wrong data_dir. */
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
    if (e == EISDIR) return sg_errf(err, "%s: %s is a folder, expected a file", what, path);
    return sg_errf(err, "%s: cannot read %s: %s", what, path, strerror(e));
}

void *sgd_big_alloc(size_t bytes, const char *what, sg_err *err) {
    /* Linux overcommits: malloc of more than the machine has may succeed and the process be
     * killed later while reading. Refuse up front what cannot fit in physical memory. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = (pages > 0 && page > 0) ? (double)pages * (double)page : 0;
    if (phys > 0 && (double)bytes > phys) {
        sg_errf(err, "out of memory: %s needs %.2f GB but this machine has %.2f GB of RAM", what,
                (double)bytes / 1e9, phys / 1e9);
        return NULL;
    }
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

int sgd_mkdirs(const char *dir, sg_err *err) {
    char p[SG_DATASET_PATH_MAX];
    int len = snprintf(p, sizeof p, "%s", dir);
    if (len < 0 || (size_t)len >= sizeof p) return sg_errf(err, "path too long: %s", dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char keep = *s;
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return sg_errf(err, "cannot create folder %s: %s", p, strerror(errno));
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
                return sg_errf(err, "cannot create folder %s: a file of that name exists", p);
            *s = keep;
            if (keep == '\0') break;
        }
    }
    return 0;
}

int sgd_mkdirs_for(const char *path, sg_err *err) {
    char dir[SG_DATASET_PATH_MAX];
    int len = snprintf(dir, sizeof dir, "%s", path);
    if (len < 0 || (size_t)len >= sizeof dir) return sg_errf(err, "path too long: %s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    return sgd_mkdirs(dir, err);
}

int sgd_tmp_name(char *tmp, size_t cap, const char *path, sg_err *err) {
    static atomic_uint counter;
    int len = snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(),
                       atomic_fetch_add(&counter, 1u));
    if (len < 0 || (size_t)len >= cap) return sg_errf(err, "path too long: %s", path);
    return 0;
}

int sgd_out_open(sgd_out *o, const char *path, sg_err *err) {
    o->f = NULL;
    int len = snprintf(o->path, sizeof o->path, "%s", path);
    if (len < 0 || (size_t)len >= sizeof o->path) return sg_errf(err, "path too long: %s", path);
    if (sgd_tmp_name(o->tmp, sizeof o->tmp, path, err)) return -1;
    o->f = fopen(o->tmp, "wb");
    if (!o->f) return sg_errf(err, "cannot create %s: %s", o->tmp, strerror(errno));
    return 0;
}

int sgd_out_write(sgd_out *o, const void *data, size_t bytes, sg_err *err) {
    if (bytes && fwrite(data, 1, bytes, o->f) != bytes)
        return sg_errf(err, "cannot write %s: %s", o->tmp, strerror(errno));
    return 0;
}

int sgd_rename(const char *tmp, const char *path, sg_err *err) {
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sg_errf(err, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}

int sgd_out_commit(sgd_out *o, sg_err *err) {
    FILE *f = o->f;
    o->f = NULL;
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(o->tmp);
        return sg_errf(err, "cannot write %s: %s", o->tmp, strerror(e));
    }
    return sgd_rename(o->tmp, o->path, err);
}

void sgd_out_abort(sgd_out *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    unlink(o->tmp);
}
