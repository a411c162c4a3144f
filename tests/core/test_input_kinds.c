/* tests/core/test_input_kinds.c: every reader refuses an input that is not a regular file by
 * its kind, with words that say what it is, and never blocks on it: a folder, a FIFO (which
 * used to block `data info`, the CSV reader, the suite and bench loaders and the JPEG decoder
 * forever), a character device (/dev/zero: the config loader used to grow without bound), a
 * symlink loop, an unreadable file (checked as an unprivileged user when run as root) and a
 * missing file. An alarm turns any hang into a failure. */
#define _DEFAULT_SOURCE /* mkfifo, symlink, setuid, mkdir with -std=c11 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/kbench.h"
#include "core/base/config.h"
#include "core/base/csv.h"
#include "core/base/file.h"
#include "core/data/dataset.h"
#include "core/harness/suite.h"
#include "core/ssl/train_config.h"
#include "data/files.h"
#include "test_util.h"

static char root[1024];

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

static void path_of(char *out, size_t cap, const char *rel) {
    snprintf(out, cap, "%s/%s", root, rel);
}

/* An input of each kind, at root/<kind>, and what its message must say. */
typedef struct {
    const char *name;
    const char *words;
} kind_case;

static const kind_case KINDS[] = {
    {"folder", "is a folder, expected a regular file"},
    {"fifo", "is a FIFO, expected a regular file"},
    {"loop", "too many levels of symbolic links"},
    {"missing", "does not exist"},
};
#define NKINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

static void make_kinds(void) {
    char p[1200], q[1200];
    path_of(p, sizeof p, "folder");
    mkdir(p, 0777);
    path_of(p, sizeof p, "fifo");
    SG_CHECK(mkfifo(p, 0666) == 0, "mkfifo %s", p);
    path_of(p, sizeof p, "loop");
    path_of(q, sizeof q, "loop2");
    SG_CHECK(symlink("loop2", p) == 0 && symlink("loop", q) == 0, "symlink loop in %s", root);
}

/* Each reader on each kind of input. */
static void test_readers(void) {
    for (int k = 0; k < NKINDS; k++) {
        char p[1200];
        path_of(p, sizeof p, KINDS[k].name);
        const char *w = KINDS[k].words;
        sg_err err = {{0}};

        sg_config *c = sg_train_config_new();
        CHECK(sg_config_load_file(c, p, &err) == -1 && has(&err, p) && has(&err, w),
              "config file %s: %s", KINDS[k].name, err.msg);
        sg_config_free(c);

        sg_csv_table t;
        CHECK(sg_csv_read(p, &t, &err) == -1 && has(&err, p) && has(&err, w), "CSV %s: %s",
              KINDS[k].name, err.msg);

        sg_suite *s = malloc(sizeof *s);
        CHECK(sg_suite_load(s, p, "/nonexistent", &err) == -1 && has(&err, w), "suite %s: %s",
              KINDS[k].name, err.msg);
        free(s);

        sg_kb_suite *b = malloc(sizeof *b);
        CHECK(sg_kb_load(b, p, "/nonexistent", &err) == -1 && has(&err, w), "bench %s: %s",
              KINDS[k].name, err.msg);
        free(b);

        char lab[1200];
        path_of(lab, sizeof lab, "labels-idx1-ubyte");
        sg_dataset d;
        CHECK(sg_dataset_open_idx(&d, p, lab, &err) == -1 && has(&err, p) && has(&err, w),
              "idx %s: %s", KINDS[k].name, err.msg);
    }
}

/* A dataset folder whose file is of each kind: STL-10, CIFAR-10 and an ImageNet JPEG. */
static void test_dataset_files(void) {
    for (int k = 0; k < NKINDS; k++) {
        char dir[1200], target[1200], link[1300];
        snprintf(dir, sizeof dir, "%s/ds-%s", root, KINDS[k].name);
        mkdir(dir, 0777);
        path_of(target, sizeof target, KINDS[k].name);
        /* the dataset's file names are links to the input of this kind */
        const char *names[] = {"train_X.bin", "test_batch.bin"};
        for (int i = 0; i < 2; i++) {
            snprintf(link, sizeof link, "%s/%s", dir, names[i]);
            SG_CHECK(symlink(target, link) == 0, "symlink %s", link);
        }
        sg_dataset d;
        sg_err err = {{0}};
        int rc = sg_dataset_open_stl10(&d, dir, "train", &err);
        CHECK(rc == -1 && has(&err, "train_X.bin") && has(&err, KINDS[k].words), "STL-10 %s: %s",
              KINDS[k].name, err.msg);
        rc = sg_dataset_open_cifar10(&d, dir, 0, &err);
        CHECK(rc == -1 && has(&err, "test_batch.bin") && has(&err, KINDS[k].words),
              "CIFAR-10 %s: %s", KINDS[k].name, err.msg);
    }
    /* ImageNet: a class folder holding one real JPEG and one "JPEG" of each kind */
    char cls[1200], p[1300], target[1200];
    snprintf(cls, sizeof cls, "%s/imagenet/n01", root);
    snprintf(p, sizeof p, "%s/imagenet", root);
    mkdir(p, 0777);
    mkdir(cls, 0777);
    uint8_t px[3 * 8 * 8];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(37 * i + 11);
    sg_err err = {{0}};
    snprintf(p, sizeof p, "%s/a.JPEG", cls);
    SG_CHECK(sg_write_jpeg(p, 3, 8, 8, px, 90, &err) == 0, "%s", err.msg);
    for (int k = 0; k < NKINDS; k++) {
        if (!strcmp(KINDS[k].name, "missing")) continue; /* a listed file exists */
        snprintf(p, sizeof p, "%s/%s.JPEG", cls, KINDS[k].name);
        path_of(target, sizeof target, KINDS[k].name);
        SG_CHECK(symlink(target, p) == 0, "symlink %s", p);
    }
    snprintf(p, sizeof p, "%s/imagenet", root);
    sg_dataset d;
    SG_CHECK(sg_dataset_open_imagenet(&d, p, &err) == 0, "%s", err.msg);
    int refused = 0;
    for (int i = 0; i < d.n; i++) {
        uint8_t buf[3 * 8 * 8];
        int C, H, W;
        int rc = sg_dataset_image(&d, i, buf, sizeof buf, &C, &H, &W, &err);
        if (strstr(d.files[i], "a.JPEG")) {
            CHECK(rc == 0 && C == 3 && H == 8 && W == 8, "the real JPEG: %s", err.msg);
            continue;
        }
        int matched = 0;
        for (int k = 0; k < NKINDS; k++)
            if (strstr(d.files[i], KINDS[k].name))
                matched = rc == -1 && has(&err, KINDS[k].words) && has(&err, d.files[i]);
        CHECK(matched, "JPEG %s: rc %d, %s", d.files[i], rc, err.msg);
        refused += matched;
    }
    CHECK(refused == NKINDS - 1, "%d of %d odd JPEGs refused", refused, NKINDS - 1);
    sg_dataset_close(&d);
}

/* /dev/zero as a config file, suite, CSV: refused as a device before a byte is read. */
static void test_device(void) {
    sg_err err = {{0}};
    sg_config *c = sg_train_config_new();
    CHECK(sg_config_load_file(c, "/dev/zero", &err) == -1 &&
              has(&err, "/dev/zero is a character device, expected a regular file"),
          "/dev/zero config: %s", err.msg);
    sg_config_free(c);
    sg_csv_table t;
    CHECK(sg_csv_read("/dev/zero", &t, &err) == -1 && has(&err, "character device"),
          "/dev/zero CSV: %s", err.msg);
}

/* An unreadable file: "permission denied". Root reads anything, so as root the check runs in a
 * child that drops to an unprivileged user first. */
static void test_unreadable(void) {
    char p[1200];
    path_of(p, sizeof p, "secret.csv");
    write_bytes(p, "a,b\n1,2\n", 8);
    SG_CHECK(chmod(p, 0) == 0 && chmod(root, 0755) == 0, "chmod %s", p);
    fflush(NULL);
    pid_t pid = fork();
    SG_CHECK(pid >= 0, "fork");
    if (pid == 0) {
        if (geteuid() == 0 && setuid(65534) != 0) _exit(3);
        sg_err err = {{0}};
        sg_csv_table t;
        int ok = sg_csv_read(p, &t, &err) == -1 && has(&err, "permission denied");
        sg_config *c = sg_train_config_new();
        ok = ok && sg_config_load_file(c, p, &err) == -1 && has(&err, p) &&
             has(&err, "permission denied");
        sg_config_free(c);
        if (!ok) fprintf(stderr, "unreadable: %s\n", err.msg);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unreadable file: child status %d",
          status);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: a reader blocked on an input (alarm after 60 s)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(2);
    _exit(1);
}

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(60);
    snprintf(root, sizeof root, "%s/test_input_kinds_%d", tu_tmpdir(), (int)getpid());
    rm_rf(root);
    SG_CHECK(mkdir(root, 0777) == 0, "mkdir %s", root);
    make_kinds();
    test_readers();
    test_dataset_files();
    test_device();
    test_unreadable();
    chmod(root, 0777);
    rm_rf(root);
    return test_finish();
}
