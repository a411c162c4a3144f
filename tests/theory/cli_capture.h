/* tests/theory/cli_capture.h: run `stopgrad theory ...` in-process (sg_th_cli) with stdout and
 * stderr captured into strings, for the theory command's tests. */
#pragma once
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/theory/cli.h"
#include "test_util.h"

static char cap_out[1 << 16], cap_err[1 << 16];

static void cap_read(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    remove(path);
}

/* Runs sg_th_cli on the NULL-terminated argument list; returns its exit status. */
static int run_cli(const char *const *args) {
    char *argv[32];
    int argc = 0;
    while (args[argc] && argc < 31) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    char po[4096], pe[4096];
    snprintf(po, sizeof po, "%s/theory_cli_%d.out", tu_tmpdir(), (int)getpid());
    snprintf(pe, sizeof pe, "%s/theory_cli_%d.err", tu_tmpdir(), (int)getpid());
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644),
        fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (so < 0 || se < 0 || fo < 0 || fe < 0) {
        fprintf(stderr, "capture: cannot open %s / %s\n", po, pe);
        exit(2);
    }
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = sg_th_cli(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    close(fo);
    close(fe);
    cap_read(po, cap_out, sizeof cap_out);
    cap_read(pe, cap_err, sizeof cap_err);
    return rc;
}
