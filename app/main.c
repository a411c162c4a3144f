/* app/main.c: the stopgrad executable, a dispatcher over subcommands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "build_info.h"
#include "core/base/config.h"
#include "core/dist/dist.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", sg_cmd_train, "train BYOL / SimSiam / DirectPred; run folder, CSVs, checkpoints"},
    {"suite", sg_cmd_suite, "run or report a suite of training runs (suites/*.suite)"},
    {"check", sg_cmd_check, "compare results with the published numbers, row by row"},
    {"data", sg_cmd_data, "write synthetic data in a dataset's exact format; inspect a dataset"},
    {"machine", sg_cmd_machine, "describe this machine (hwloc, OpenBLAS, build); CSV and XML"},
    {"selfcheck", sg_cmd_selfcheck,
     "validate every kernel of a backend against its reference; optional timing"},
    {"bench", sg_cmd_bench,
     "the kernel suite: every kernel of a real step, validated, timed (Google Benchmark)"},
    {"compare", sg_cmd_compare, "regression check between two kernel-suite CSVs (Mann-Whitney)"},
    {"report", sg_cmd_report,
     "kernel-suite CSVs of several machines side by side: markdown, PNG, roofline"},
    {"history", sg_cmd_history,
     "results over commits and machines (SQLite): add, show, regress, html"},
    {"theory", sg_cmd_theory, "simulate the paper's linear-network theory and check its claims"},
};
static const int ncommands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
    fprintf(f,
            "stopgrad %s (%s): benchmark and reproducibility harness for BYOL, SimSiam and "
            "DirectPred\n\n"
            "usage: stopgrad COMMAND [options]      (stopgrad COMMAND --help for details)\n\n"
            "commands:\n",
            SG_VERSION, SG_GIT_COMMIT);
    for (int i = 0; i < ncommands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n", "version", "print the version and build");
}

/* Under mpirun / srun every rank runs the command; the commands that know about ranks are
 * train (data parallel) and bench (it times the all-reduce). A rank whose command fails ends the
 * job, so no other rank is left waiting in a collective. */
static int run_command(const command *c, int argc, char **argv) {
    sg_err err;
    if (sg_dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "stopgrad: %s\n", err.msg);
        return 2;
    }
    const sg_dist_world *w = sg_dist_get();
    if (w->size > 1 && strcmp(c->name, "train") != 0 && strcmp(c->name, "bench") != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "'stopgrad %s' runs on one process; under mpirun or srun "
                                  "only 'train' and 'bench' run as several ranks", c->name);
        sg_dist_abort(2, msg);
    }
    int rc = c->run(argc - 1, argv + 1);
    if (rc != 0 && w->size > 1) sg_dist_abort(rc, "failed (see its message above): ending the job");
    sg_dist_finalize();
    return rc;
}

int main(int argc, char **argv) {
    /* Past a file-size limit (ulimit -f), write(2) then fails with EFBIG and the writer removes
     * its temporary file and names the path; the default SIGXFSZ would kill the process first
     * and leave the temporary file behind. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "version") || !strcmp(name, "--version")) {
        printf("stopgrad %s commit %s, %s build, %s, flags: %s; CUDA toolkit found at configure "
               "time: %s; MPI: %s; NCCL: %s\n",
               SG_VERSION, SG_GIT_COMMIT, SG_BUILD_TYPE, SG_C_COMPILER, SG_BUILD_FLAGS,
               SG_CUDA_TOOLKIT, sg_dist_compiled() ? "yes" : "no", SG_NCCL_BUILT ? "yes" : "no");
        return 0;
    }
    for (int i = 0; i < ncommands; i++)
        if (!strcmp(name, commands[i].name)) return run_command(&commands[i], argc, argv);

    const char *best = NULL;
    int best_d = 1 << 30;
    for (int i = 0; i < ncommands; i++) {
        int d = sg_edit_distance(name, commands[i].name);
        if (d < best_d) best_d = d, best = commands[i].name;
    }
    fprintf(stderr, "stopgrad: unknown command '%s'", name);
    if (best && best_d <= 3) fprintf(stderr, "; did you mean '%s'?", best);
    fprintf(stderr, "\n\n");
    usage(stderr);
    return 2;
}
