/* core/base/err.h: how stopgrad reports bad input.
 * Functions that can fail on user input (files, config, data) take an sg_err* and return 0 on
 * success or -1 with a message that names the file/key, what was found and what was expected.
 * Programming errors (a kernel called with an impossible shape) abort via SG_CHECK instead. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char msg[1024];
} sg_err;

/* Formats into err->msg (err may be NULL) and returns -1, so `return sg_errf(err, ...)` works. */
int sg_errf(sg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Aborts with file:line and the message when cond is false: for invariants, not user input. */
#define SG_CHECK(cond, ...)                                                                     \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "stopgrad: internal check failed at %s:%d: %s: ", __FILE__,        \
                    __LINE__, #cond);                                                           \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            abort();                                                                            \
        }                                                                                       \
    } while (0)
