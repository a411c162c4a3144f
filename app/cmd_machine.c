/* app/cmd_machine.c: `stopgrad machine`: print (and optionally write) the machine description. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "core/base/machine.h"
#include "kernels/backend.h"
#include "kernels/backend_machine.h"
#include "kernels/kernels.h"

static void machine_help(FILE *f) {
    fprintf(f,
            "usage: stopgrad machine [--backend NAME] [--threads N] [--csv FILE] [--xml FILE]\n\n"
            "Prints the description every result row carries: CPU model, packages, cores, PUs,\n"
            "NUMA nodes, caches and memory (hwloc), OS, compiler and flags, git commit,\n"
            "OpenBLAS's config string and threading, the thread count, and the machine id (a\n"
            "hash of the hardware part only, stable across builds).\n\n"
            "  --backend NAME  also describe the backend's device (cuda: the GPU, driver, CUDA\n"
            "                runtime, cuBLAS and cuSOLVER versions; it joins the machine id)\n"
            "  --threads N   thread count to use and record (default: all cores)\n"
            "  --csv FILE    also write it as a one-row CSV (atomically)\n"
            "  --xml FILE    also write hwloc's topology as XML (atomically)\n");
}

/* Strict positive integer; returns -1 on anything else. */
static int parse_count(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > 4096) return -1;
    return (int)v;
}

int sg_cmd_machine(int argc, char **argv) {
    const char *csv = NULL, *xml = NULL, *backend = "cpu";
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            machine_help(stdout);
            return 0;
        } else if ((!strcmp(a, "--csv") || !strcmp(a, "--xml") || !strcmp(a, "--threads") ||
                    !strcmp(a, "--backend")) &&
                   i + 1 >= argc) {
            fprintf(stderr, "stopgrad machine: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "--csv")) {
            csv = argv[++i];
        } else if (!strcmp(a, "--backend")) {
            backend = argv[++i];
        } else if (!strcmp(a, "--xml")) {
            xml = argv[++i];
        } else if (!strcmp(a, "--threads")) {
            threads = parse_count(argv[++i]);
            if (threads < 0) {
                fprintf(stderr,
                        "stopgrad machine: --threads expects an integer in [1, 4096], got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "stopgrad machine: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    threads = sg_cpu_set_threads(threads);
    sg_machine m;
    sg_err err;
    const sg_backend *be = sg_backend_get(backend);
    if (!be) {
        fprintf(stderr, "stopgrad machine: --backend %s: %s (this binary has: %s)\n", backend,
                sg_backend_unavailable(backend), sg_backend_compiled());
        return 2;
    }
    if (sg_machine_probe_backend(&m, be, threads, &err) != 0) {
        fprintf(stderr, "stopgrad machine: %s\n", err.msg);
        return 1;
    }
    sg_machine_print(&m, stdout);
    if (csv && sg_machine_write_csv(&m, csv, &err) != 0) {
        fprintf(stderr, "stopgrad machine: %s\n", err.msg);
        return 1;
    }
    if (xml && sg_machine_write_xml(xml, &err) != 0) {
        fprintf(stderr, "stopgrad machine: %s\n", err.msg);
        return 1;
    }
    return 0;
}
