/* core/base/file.c: mkdir -p, the write-to-temporary-then-rename file writer, opening inputs
 * that are regular files, and paths into fixed buffers (file.h). */
#define _DEFAULT_SOURCE /* fsync, getpid, mkdir with -std=c11 */
#include "core/base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

/* ---- inputs ------------------------------------------------------------------------------------ */

const char *sg_file_kind(unsigned mode) {
    mode_t m = (mode_t)mode;
    if (S_ISREG(m)) return "a regular file";
    if (S_ISDIR(m)) return "a folder";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

/* Why path could not be opened or stat'ed, from errno e. */
static int input_errno(sg_err *err, const char *path, int e) {
    switch (e) {
    case ENOENT: return sg_errf(err, "%s does not exist", path);
    case ENOTDIR:
        return sg_errf(err, "%s does not exist (a part of its path is a file, not a folder)", path);
    case EACCES:
    case EPERM: return sg_errf(err, "%s: permission denied", path);
    case ELOOP: return sg_errf(err, "%s: too many levels of symbolic links (a symlink loop?)", path);
    default: return sg_errf(err, "%s: cannot open: %s", path, strerror(e));
    }
}

/* Something is at path, of the wrong kind; errno is set to neither ENOENT nor ENOTDIR, which
 * callers read as "missing". */
static int input_kind(sg_err *err, const char *path, mode_t mode, const char *expected) {
    sg_errf(err, "%s is %s, expected %s", path, sg_file_kind((unsigned)mode), expected);
    errno = S_ISDIR(mode) ? EISDIR : EINVAL;
    return -1;
}

int sg_check_folder(const char *path, sg_err *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        input_errno(err, path, e);
        errno = e;
        return -1;
    }
    return S_ISDIR(st.st_mode) ? 0 : input_kind(err, path, st.st_mode, "a folder");
}

int sg_open_regular(const char *path, int64_t *size, sg_err *err) {
    struct stat st;
    /* The type first: open(2) itself blocks on a FIFO without a writer. */
    if (stat(path, &st) != 0) {
        int e = errno;
        input_errno(err, path, e);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) return input_kind(err, path, st.st_mode, "a regular file");
    /* O_NONBLOCK: if a FIFO replaced the file since the stat, the open still returns at once
     * and the fstat below refuses it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        input_errno(err, path, e);
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        if (S_ISREG(st.st_mode)) {
            input_errno(err, path, e);
            errno = e;
            return -1;
        }
        return input_kind(err, path, st.st_mode, "a regular file");
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (size) *size = (int64_t)st.st_size;
    return fd;
}

FILE *sg_fopen_regular(const char *path, int64_t *size, sg_err *err) {
    int fd = sg_open_regular(path, size, err);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        sg_errf(err, "%s: cannot open: %s", path, strerror(e));
        errno = e;
    }
    return f;
}

/* ---- paths into fixed buffers ------------------------------------------------------------------ */

int sg_path_printf(char *out, size_t cap, sg_err *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < cap) return 0;
    if (cap == 0) return sg_errf(err, "path too long (%d characters, no room at all)", n);
    /* out holds the start of the path: show some of it, never a name that looks complete */
    return sg_errf(err, "path too long: %.200s... (%d characters, more than the %zu this "
                        "buffer holds)", out, n, cap - 1);
}

FILE *sg_open_named_file(const char *kind, const char *name_or_path, const char *dir,
                         const char *ext, char *path, size_t path_cap, char *name,
                         size_t name_cap, sg_err *err) {
    const size_t el = strlen(ext), nl = strlen(name_or_path);
    const int is_path = strchr(name_or_path, '/') || (nl >= el && !strcmp(name_or_path + nl - el, ext));
    if (is_path ? sg_path_printf(path, path_cap, err, "%s", name_or_path)
                : sg_path_printf(path, path_cap, err, "%s/%s%s", dir, name_or_path, ext))
        return NULL;
    FILE *f = sg_fopen_regular(path, NULL, err);
    if (!f) {
        int missing = errno == ENOENT || errno == ENOTDIR; /* else: what is there instead */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        sg_errf(err, "%s '%s'%s: %.900s", kind, name_or_path, missing ? " not found" : "", why);
        return NULL;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl >= el && !strcmp(base + bl - el, ext)) bl -= el;
    if (bl >= name_cap) {
        fclose(f);
        sg_errf(err, "%s file name %s is longer than %zu characters", kind, base, name_cap - 1);
        return NULL;
    }
    memcpy(name, base, bl);
    name[bl] = 0;
    return f;
}
