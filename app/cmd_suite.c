/* app/cmd_suite.c: `stopgrad suite`: run, report or submit to Slurm a suite of training runs
 * (suites/NAME.suite). */
#define _GNU_SOURCE /* readlink, realpath, getcwd, fdopen with -std=c11 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/commands.h"
#include "build_info.h"
#include "core/base/file.h"
#include "core/base/text.h"
#include "core/harness/suite.h"

static void suite_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad suite run SUITE [--out DIR] [--jobs N] [--backend NAME] [--quiet]\n"
            "                          [--only RUN[,RUN...]] [--seed S] [key=value ...]\n"
            "       stopgrad suite submit SUITE --slurm [--out DIR] [--dry-run] [--script PATH]\n"
            "                          [--only RUN[,RUN...]] [--seed S] [--backend NAME]\n"
            "                          [key=value ...] [-- sbatch options ...]\n"
            "       stopgrad suite report SUITE [--out DIR]\n"
            "       stopgrad suite list\n\n"
            "SUITE is a name in %s (NAME.suite) or a path to a .suite file.\n"
            "run: trains every (run, seed) of the suite not yet in DIR/results.csv (a killed run\n"
            "     resumes from its checkpoint), then prints the table and the suite's expectations;\n"
            "     key=value overrides apply to every run (e.g. trainer.threads=2). --jobs N runs N\n"
            "     at once, one thread each (results identical to 1-thread runs). --backend cuda\n"
            "     trains every run on the GPU (the same as trainer.backend=cuda); with --jobs N the\n"
            "     runs take the visible GPUs round-robin, one each (CUDA_VISIBLE_DEVICES of each\n"
            "     child, from the parent's CUDA_VISIBLE_DEVICES or `nvidia-smi -L`).\n"
            "     --only trains only the named runs, --seed only that seed (one of the suite's);\n"
            "     runners of the same DIR, local or on a cluster, share the work through each\n"
            "     (run, seed)'s claim lock and never record one twice. A restricted run still\n"
            "     prints the table of all of DIR/results.csv; its exit status follows the\n"
            "     expectations only once the results hold the whole suite (0 before).\n"
            "submit: writes a Slurm job-array script, one array task per (run, seed) not yet in\n"
            "     DIR/results.csv (restricted by --only/--seed), task i running\n"
            "     `stopgrad suite run SUITE --out DIR --only RUN --seed S [key=value ...]` with\n"
            "     this executable's and DIR's absolute paths; logs go to DIR/slurm/%%A_%%a.out.\n"
            "     Runs on trainer.backend=cuda make the array ask for one GPU per task.\n"
            "     --dry-run prints the script and submits nothing; otherwise it is written to\n"
            "     DIR/slurm/submit.sbatch (or --script PATH) and given to sbatch, with the\n"
            "     options after `--` (e.g. -- --partition=gpu --time=4:00:00). Nothing pending:\n"
            "     says so and submits nothing. Submitting again queues only what is missing.\n"
            "report: the table and expectations of DIR/results.csv, without training.\n"
            "DIR defaults to results/runs/SUITE. Exit status: 0 all expectations hold (or the\n"
            "suite is incomplete after a restricted run; submit: submitted, or nothing to do),\n"
            "1 one failed, 2 bad usage or input (an unknown run or seed, sbatch failing).\n",
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

/* path made absolute against the current folder (not resolved: it may not exist yet) */
static int absolute(const char *path, char *out, size_t cap) {
    if (path[0] == '/') return snprintf(out, cap, "%s", path) < (int)cap ? 0 : -1;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    while (path[0] == '.' && path[1] == '/') path += 2;
    int n = snprintf(out, cap, "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= cap) return -1;
    size_t len = strlen(out); /* "DIR/." and "DIR/" are DIR */
    while (len > 1 && out[len - 1] == '/') out[--len] = 0;
    if (len > 2 && !strcmp(out + len - 2, "/.")) out[len - 2] = 0;
    return 0;
}

/* Runs sbatch [opts...] script, echoing what it prints; the job id into job[cap] (empty when
 * its output has none). Returns its exit status, or -1 when it could not be started. */
static int run_sbatch(const char *sbatch, char **opts, int nopts, const char *script, char *job,
                      size_t cap) {
    char **argv = calloc((size_t)nopts + 3, sizeof *argv);
    if (!argv) return -1;
    argv[0] = (char *)sbatch;
    for (int i = 0; i < nopts; i++) argv[1 + i] = opts[i];
    argv[1 + nopts] = (char *)script;
    int fd[2];
    if (pipe(fd)) {
        free(argv);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        execv(sbatch, argv);
        fprintf(stderr, "stopgrad suite: cannot run %s: %s\n", sbatch, strerror(errno));
        _exit(127);
    }
    free(argv);
    close(fd[1]);
    job[0] = 0;
    FILE *f = pid > 0 ? fdopen(fd[0], "r") : NULL;
    if (!f) {
        close(fd[0]);
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        fputs(line, stdout);
        /* "Submitted batch job 123" (or, with --parsable, "123" or "123;cluster") */
        char *p = sg_trim(line), *last = strrchr(p, ' ');
        p = last ? last + 1 : p;
        size_t digits = strspn(p, "0123456789");
        if (digits && (p[digits] == 0 || p[digits] == ';') && digits < cap)
            snprintf(job, cap, "%.*s", (int)digits, p);
    }
    fclose(f);
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int submit_slurm(const sg_suite *s, const char *out, const sg_suite_filter *f,
                        const char *extra, const char *script_opt, int dry_run, char **sbatch_opts,
                        int nsbatch) {
    char exe[PATH_MAX], suite_path[PATH_MAX], dir[PATH_MAX], cwd[PATH_MAX], results[PATH_MAX + 16],
        script[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "stopgrad suite submit: cannot read /proc/self/exe: %s\n", strerror(errno));
        return 2;
    }
    exe[n] = 0;
    if (!realpath(s->path, suite_path) || absolute(out, dir, sizeof dir) ||
        !getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "stopgrad suite submit: cannot make %s or %s an absolute path: %s\n",
                s->path, out, strerror(errno));
        return 2;
    }
    snprintf(results, sizeof results, "%s/results.csv", dir);
    if (script_opt) {
        if (absolute(script_opt, script, sizeof script)) {
            fprintf(stderr, "stopgrad suite submit: --script %s: path too long\n", script_opt);
            return 2;
        }
    } else {
        snprintf(script, sizeof script, "%s/slurm/submit.sbatch", dir);
    }
    sg_err err;
    int runs[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS], nrec = 0;
    long seeds[SG_SUITE_MAX_RUNS * SG_SUITE_MAX_SEEDS];
    int npending = sg_suite_pending(s, f, results, runs, seeds, &nrec, &err);
    if (npending < 0) {
        fprintf(stderr, "stopgrad suite submit: %s\n", err.msg);
        return 2;
    }
    if (npending == 0) {
        printf("suite %s: nothing pending (%d of %d (run, seed) in %s%s): nothing submitted\n",
               s->name, nrec, s->nruns * s->nseeds, results,
               f->only || f->one_seed ? "; every selected one recorded" : "");
        return 0;
    }
    sg_suite_slurm_opts so = {exe, suite_path, dir, extra[0] ? extra : NULL, cwd};
    sg_sbuf text = {0};
    if (sg_suite_slurm_script(s, &so, runs, seeds, npending, &text, &err)) {
        sg_sbuf_free(&text);
        fprintf(stderr, "stopgrad suite submit: %s\n", err.msg);
        return 2;
    }
    if (dry_run) {
        fputs(text.s, stdout);
        fprintf(stderr, "stopgrad suite submit: dry run, %d array task(s); nothing written or "
                        "submitted (would run: sbatch", npending);
        for (int i = 0; i < nsbatch; i++) fprintf(stderr, " %s", sbatch_opts[i]);
        fprintf(stderr, " %s)\n", script);
        sg_sbuf_free(&text);
        return 0;
    }
    char logs[PATH_MAX + 16];
    snprintf(logs, sizeof logs, "%s/slurm", dir);
    int rc = sg_mkdirs(logs, &err); /* the tasks' --output folder must exist when they start */
    if (!rc) rc = sg_write_file_atomic(script, text.s, text.len, &err);
    sg_sbuf_free(&text);
    if (rc) {
        fprintf(stderr, "stopgrad suite submit: %s\n", err.msg);
        return 2;
    }
    char sbatch[PATH_MAX];
    if (!sg_find_program("sbatch", sbatch, sizeof sbatch)) {
        fprintf(stderr, "stopgrad suite submit: sbatch not found on PATH (Slurm's client); the "
                        "script is %s\n", script);
        return 2;
    }
    char job[64];
    int st = run_sbatch(sbatch, sbatch_opts, nsbatch, script, job, sizeof job);
    if (st != 0) {
        if (st < 0)
            fprintf(stderr, "stopgrad suite submit: could not run %s; the script is %s\n", sbatch,
                    script);
        else
            fprintf(stderr, "stopgrad suite submit: %s exited with status %d (its message is "
                            "above); the script is %s\n", sbatch, st, script);
        return 2;
    }
    printf("suite %s: %d (run, seed) submitted as Slurm job %s, array 0-%d; logs %s/%s_*.out, "
           "results %s\n",
           s->name, npending, job[0] ? job : "(id not printed)", npending - 1, logs,
           job[0] ? job : "JOB", results);
    return 0;
}

int sg_cmd_suite(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        suite_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "list")) return list_suites();
    int run = !strcmp(verb, "run"), submit = !strcmp(verb, "submit");
    if (!run && !submit && strcmp(verb, "report") != 0) {
        fprintf(stderr, "stopgrad suite: unknown action '%s' (expected run, submit, report or "
                        "list)\n", verb);
        return 2;
    }
    if (argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        suite_help(stdout);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "stopgrad suite %s: which suite? (stopgrad suite list)\n", verb);
        return 2;
    }
    const char *name = argv[2], *out = NULL, *script = NULL;
    char extra[4096] = "", outbuf[1200];
    sg_suite_opts o = {NULL, NULL, 0, 1};
    sg_suite_filter f = {NULL, 0, 0};
    int slurm = 0, dry_run = 0, nsbatch = 0;
    char **sbatch_opts = NULL;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--out") && has) {
            out = argv[++i];
        } else if (!strcmp(a, "--jobs") && has && run) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "stopgrad suite: --jobs expects an integer in [1, 256], got '%s'\n",
                        argv[i]);
                return 2;
            }
            o.jobs = (int)v;
        } else if (!strcmp(a, "--backend") && has && (run || submit)) {
            if (add_extra(extra, sizeof extra, "trainer.backend=", argv[++i])) return 2;
        } else if (!strcmp(a, "--only") && has && (run || submit)) {
            f.only = argv[++i];
        } else if (!strcmp(a, "--seed") && has && (run || submit)) {
            char *end;
            errno = 0;
            f.seed = strtol(argv[++i], &end, 10);
            if (!argv[i][0] || *end || f.seed < 0 || errno == ERANGE) {
                fprintf(stderr, "stopgrad suite: --seed expects a non-negative integer, got "
                                "'%s'\n", argv[i]);
                return 2;
            }
            f.one_seed = 1;
        } else if (!strcmp(a, "--quiet") && run) {
            o.quiet = 1;
        } else if (!strcmp(a, "--slurm") && submit) {
            slurm = 1;
        } else if (!strcmp(a, "--dry-run") && submit) {
            dry_run = 1;
        } else if (!strcmp(a, "--script") && has && submit) {
            script = argv[++i];
        } else if (!strcmp(a, "--") && submit) {
            sbatch_opts = argv + i + 1;
            nsbatch = argc - i - 1;
            break;
        } else if (!strcmp(a, "--help")) {
            suite_help(stdout);
            return 0;
        } else if ((run || submit) && a[0] != '-' && strchr(a, '=')) {
            if (add_extra(extra, sizeof extra, "", a)) return 2;
        } else {
            fprintf(stderr, "stopgrad suite %s: unknown option '%s' (see --help)\n", verb, a);
            return 2;
        }
    }
    if (submit && !slurm) {
        fprintf(stderr, "stopgrad suite submit: which scheduler? --slurm (the one supported)\n");
        return 2;
    }
    sg_suite s;
    sg_err err;
    if (sg_suite_load(&s, name, SG_SUITES_DIR, &err)) {
        fprintf(stderr, "stopgrad suite: %s\n", err.msg);
        return 2;
    }
    if (sg_suite_filter_check(&s, &f, &err)) {
        fprintf(stderr, "stopgrad suite: %s\n", err.msg);
        return 2;
    }
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "results/runs/%s", s.name); /* s.name: < 64 characters */
        out = outbuf;
    }
    if (submit) return submit_slurm(&s, out, &f, extra, script, dry_run, sbatch_opts, nsbatch);
    o.out_dir = out;
    o.extra = extra[0] ? extra : NULL;
    int rc;
    if (run) {
        rc = sg_suite_run_part(&s, &o, &f, &err);
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
