/* core/base/file.c: mkdir -p and the write-to-temporary-then-rename file writer. */
#define _DEFAULT_SOURCE /* fsync, getpid, mkdir with -std=c11 */
#include "core/base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    SG_CHECK(d != NULL, "out of memory (%zu bytes)", n);
    memcpy(d, s, n);
    return d;
}

/* One level: mkdir, and if something was there already, it must be a folder. */
static int mkdir_one(const char *dir, sg_err *err) {
    if (mkdir(dir, 0777) == 0) return 0;
    int e = errno;
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return 0;
        return sg_errf(err, "cannot create the folder %s: a file of that name is in the way", dir);
    }
    return sg_errf(err, "cannot create the folder %s: %s", dir, strerror(e == EEXIST ? errno : e));
}

int sg_mkdirs(const char *dir, sg_err *err) {
    if (!dir || !*dir) return sg_errf(err, "cannot create a folder with an empty name");
    char *tmp = xstrdup(dir);
    int rc = 0;
    for (char *p = tmp + 1; *p && !rc; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = 0;
        rc = mkdir_one(tmp, err);
        *p = '/';
    }
    if (!rc) rc = mkdir_one(tmp, err);
    free(tmp);
    return rc;
}

int sg_mkdirs_for(const char *path, sg_err *err) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char *dir = xstrdup(path);
    dir[slash - path] = 0;
    int rc = sg_mkdirs(dir, err);
    free(dir);
    return rc;
}

/* Makes a rename durable: the folder's entry itself must reach the disk. */
static void fsync_parent_dir(const char *path) {
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash) {
        slash[slash == dir ? 1 : 0] = 0; /* "/x" -> "/", "a/b/x" -> "a/b" */
        d = dir;
    }
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        /* some filesystems refuse fsync on a folder; the data file itself is already synced */
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static void atomic_free(sg_atomic_file *f) {
    free(f->path);
    free(f->tmp);
    f->path = f->tmp = NULL;
    f->fd = -1;
}

int sg_atomic_open(sg_atomic_file *f, const char *path, int mode, sg_err *err) {
    static atomic_uint counter;
    f->fd = -1;
    f->path = f->tmp = NULL;
    if (!path || !*path) return sg_errf(err, "cannot write a file with an empty name");
    if (sg_mkdirs_for(path, err)) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return sg_errf(err, "cannot write %s: %s", path, why);
    }
    size_t tlen = strlen(path) + 64;
    f->tmp = malloc(tlen);
    SG_CHECK(f->tmp != NULL, "out of memory");
    for (int attempt = 0; attempt < 100 && f->fd < 0; attempt++) {
        snprintf(f->tmp, tlen, "%s.tmp.%ld.%u", path, (long)getpid(),
                 atomic_fetch_add(&counter, 1u));
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (f->fd < 0 && errno != EEXIST) break;
    }
    if (f->fd < 0) {
        int e = errno;
        atomic_free(f);
        return sg_errf(err, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    f->path = xstrdup(path);
    if (mode >= 0 && fchmod(f->fd, (mode_t)mode) != 0) {
        int e = errno;
        sg_atomic_abort(f);
        return sg_errf(err, "%s: chmod of its temporary file failed: %s", path, strerror(e));
    }
    return 0;
}

int sg_atomic_write(sg_atomic_file *f, const void *data, size_t bytes, sg_err *err) {
    const char *p = data;
    while (bytes > 0) {
        ssize_t w = write(f->fd, p, bytes);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            char *path = xstrdup(f->path);
            sg_atomic_abort(f);
            sg_errf(err, "%s: write failed: %s", path, strerror(e));
            free(path);
            return -1;
        }
        p += w;
        bytes -= (size_t)w;
    }
    return 0;
}

int sg_atomic_release_fd(sg_atomic_file *f) {
    int fd = f->fd;
    f->fd = -1;
    return fd;
}

int sg_atomic_commit(sg_atomic_file *f, sg_err *err) {
    const char *failed = NULL;
    int e = 0;
    int fd = f->fd;
    if (fd < 0) fd = open(f->tmp, O_RDONLY | O_CLOEXEC); /* the caller wrote it by name */
    if (fd < 0) failed = "reopen";
    if (!failed && fsync(fd) != 0) failed = "fsync";
    if (failed) e = errno;
    if (fd >= 0 && close(fd) != 0 && !failed) {
        failed = "close";
        e = errno;
    }
    f->fd = -1;
    if (!failed && rename(f->tmp, f->path) != 0) {
        failed = "rename";
        e = errno;
    }
    if (failed) {
        unlink(f->tmp);
        sg_errf(err, "%s: %s failed: %s", f->path, failed, strerror(e));
        atomic_free(f);
        return -1;
    }
    fsync_parent_dir(f->path);
    atomic_free(f);
    return 0;
}

void sg_atomic_abort(sg_atomic_file *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    atomic_free(f);
}

int sg_write_file_atomic(const char *path, const void *data, size_t bytes, sg_err *err) {
    sg_atomic_file f;
    if (sg_atomic_open(&f, path, -1, err) || sg_atomic_write(&f, data, bytes, err)) return -1;
    return sg_atomic_commit(&f, err);
}

int sg_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}
