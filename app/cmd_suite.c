/* app/cmd_suite.c: `stopgrad suite`: run or report a suite of training runs (suites/NAME.suite). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "build_info.h"
#include "core/base/file.h"
#include "core/harness/suite.h"

static void suite_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad suite run SUITE [--out DIR] [--jobs N] [--backend NAME] [--quiet]\n"
            "                          [key=value ...]\n"
            "       stopgrad suite report SUITE [--out DIR]\n"
            "       stopgrad suite list\n\n"
            "SUITE is a name in %s (NAME.suite) or a path to a .suite file.\n"
            "run: trains every (run, seed) of the suite not yet in DIR/results.csv (a killed run\n"
            "     resumes from its checkpoint), then prints the table and the suite's expectations;\n"
            "     key=value overrides apply to every run (e.g. trainer.threads=2). --jobs N runs N\n"
            "     at once, one thread each (results identical to 1-thread runs). --backend cuda\n"
            "     trains every run on the GPU (the same as trainer.backend=cuda).\n"
            "report: the table and expectations of DIR/results.csv, without training.\n"
            "DIR defaults to results/runs/SUITE. Exit status: 0 all expectations hold, 1 one\n"
            "failed, 2 bad usage or input.\n",
            SG_SUITES_DIR);
}

/* Appends " word" to extra[cap]; an error naming the limit when it does not fit. */
static int add_extra(char *extra, size_t cap, const char *prefix, const char *word) {
    size_t at = strlen(extra);
    int n = snprintf(extra + at, cap - at, "%s%s%s", at ? " " : "", prefix, word);
    if (n < 0 || (size_t)n >= cap - at) {
        extra[at] = 0;
        fprintf(stderr, "stopgrad suite: the key=value settings are longer than the %zu "
                        "characters they may have in all\n", cap - 1);
        return -1;
    }
    return 0;
}

static int list_suites(void) {
    DIR *d = opendir(SG_SUITES_DIR);
    if (!d) {
        fprintf(stderr, "stopgrad suite: cannot open %s\n", SG_SUITES_DIR);
        return 2;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n > 6 && !strcmp(e->d_name + n - 6, ".suite")) printf("%.*s\n", (int)(n - 6), e->d_name);
    }
    closedir(d);
    return 0;
}

int sg_cmd_suite(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        suite_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "list")) return list_suites();
    if (strcmp(verb, "run") != 0 && strcmp(verb, "report") != 0) {
        fprintf(stderr, "stopgrad suite: unknown action '%s' (expected run, report or list)\n", verb);
        return 2;
    }
    if (argc < 3) {
        fprintf(stderr, "stopgrad suite %s: which suite? (stopgrad suite list)\n", verb);
        return 2;
    }
    const char *name = argv[2], *out = NULL;
    char extra[4096] = "", outbuf[1200];
    sg_suite_opts o = {NULL, NULL, 0, 1};
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "stopgrad suite: --jobs expects an integer in [1, 256], got '%s'\n",
                        argv[i]);
                return 2;
            }
            o.jobs = (int)v;
        } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            if (add_extra(extra, sizeof extra, "trainer.backend=", argv[++i])) return 2;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.quiet = 1;
        } else if (!strcmp(argv[i], "--help")) {
            suite_help(stdout);
            return 0;
        } else if (argv[i][0] != '-' && strchr(argv[i], '=')) {
            if (add_extra(extra, sizeof extra, "", argv[i])) return 2;
        } else {
            fprintf(stderr, "stopgrad suite: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    sg_suite s;
    sg_err err;
    if (sg_suite_load(&s, name, SG_SUITES_DIR, &err)) {
        fprintf(stderr, "stopgrad suite: %s\n", err.msg);
        return 2;
    }
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "results/runs/%s", s.name); /* s.name: < 64 characters */
        out = outbuf;
    }
    o.out_dir = out;
    o.extra = extra[0] ? extra : NULL;
    int rc;
    if (!strcmp(verb, "run")) {
        rc = sg_suite_run_all(&s, &o, &err);
    } else {
        char path[4200];
        rc = sg_path_printf(path, sizeof path, &err, "%s/results.csv", out);
        if (rc == 0) rc = sg_suite_report(&s, path, &err);
    }
    if (rc < 0) {
        fprintf(stderr, "stopgrad suite: %s\n", err.msg);
        return 2;
    }
    return rc;
}
