/* tests/test_fork.h: a programming error's abort (SG_CHECK) as a test outcome, in a forked
 * child so the test goes on. The including test defines _POSIX_C_SOURCE 200809L (or
 * _DEFAULT_SOURCE) before its first include, for fork and waitpid under -std=c11. */
#pragma once
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a child and reports whether it died by abort(). */
static inline int tu_aborts(void (*fn)(void)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child's SG_CHECK message is expected; keep the test log clean. */
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        fn();
        _exit(0);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}
