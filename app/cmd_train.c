/* app/cmd_train.c: `stopgrad train`: one training run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "core/dist/dist.h"
#include "core/ssl/train.h"
#include "core/ssl/train_config.h"

static void train_help(FILE *f, const sg_config *c) {
    fprintf(f,
            "usage: stopgrad train [CONFIG_FILE] [key=value ...] [options]\n\n"
            "Trains BYOL / SimSiam / DirectPred as configured and writes the run folder\n"
            "run.dir/run.name (config.cfg, machine.csv, steps.csv, epochs.csv, checkpoint.bin),\n"
            "then appends a summary row to run.results. Later settings win: defaults, then the\n"
            "config file, then key=value overrides in order.\n\n"
            "options:\n"
            "  --backend NAME    cpu or cuda (the same as trainer.backend=NAME)\n"
            "  --resume          continue the run folder's run from its checkpoint (bit-identical\n"
            "                    to an uninterrupted run)\n"
            "  --stop-after N    stop after N steps of this invocation, keeping the checkpoint\n"
            "                    (as if killed there; for resume tests and time-boxed jobs)\n"
            "  --print-config    print the resolved config and exit\n"
            "  --quiet           no progress (a bar on a terminal, a line every 30 s elsewhere)\n"
            "  --help            this text\n\n"
            "The paper's reference code's Hydra keys are accepted and translated:\n");
    int n;
    const sg_hydra_rule *rules = sg_hydra_rules(&n);
    for (int i = 0; i < n; i++)
        fprintf(f, "  %s=%s -> %s=%s\n", rules[i].ref_key, rules[i].ref_value ? rules[i].ref_value : "V",
                rules[i].key, rules[i].value ? rules[i].value : "V");
    fprintf(f, "\nkeys:\n");
    sg_config_print_help(c, f);
}

static int parse_long(const char *s, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1) return -1;
    *out = v;
    return 0;
}

int sg_cmd_train(int argc, char **argv) {
    sg_config *c = sg_train_config_new();
    sg_train_opts opts = {0, SG_TRAIN_PROGRESS_AUTO, 0};
    int print_config = 0, rc = 0;
    sg_err err;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            train_help(stdout, c);
            sg_config_free(c);
            return 0;
        } else if (!strcmp(a, "--backend")) {
            char kv[160];
            if (i + 1 >= argc) {
                fprintf(stderr, "stopgrad train: --backend expects cpu or cuda\n");
                rc = 2;
            } else {
                snprintf(kv, sizeof kv, "trainer.backend=%s", argv[++i]);
                if (sg_train_config_set_arg(c, kv, &err)) {
                    fprintf(stderr, "stopgrad train: --backend: %s\n", err.msg);
                    rc = 2;
                }
            }
        } else if (!strcmp(a, "--resume")) {
            opts.resume = 1;
        } else if (!strcmp(a, "--quiet")) {
            opts.progress = SG_TRAIN_PROGRESS_NONE;
        } else if (!strcmp(a, "--print-config")) {
            print_config = 1;
        } else if (!strcmp(a, "--stop-after")) {
            if (i + 1 >= argc || parse_long(argv[i + 1], &opts.stop_after)) {
                fprintf(stderr, "stopgrad train: --stop-after expects a step count >= 1\n");
                rc = 2;
            }
            i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "stopgrad train: unknown option '%s' (see --help)\n", a);
            rc = 2;
        } else if (strchr(a, '=')) {
            if (sg_train_config_set_arg(c, a, &err)) {
                fprintf(stderr, "stopgrad train: %s\n", err.msg);
                rc = 2;
            }
        } else if (i == 1) {
            if (sg_config_load_file(c, a, &err)) {
                fprintf(stderr, "stopgrad train: %s\n", err.msg);
                rc = 2;
            }
        } else {
            fprintf(stderr,
                    "stopgrad train: '%s': expected key=value (a config file may only come "
                    "first)\n", a);
            rc = 2;
        }
    }
    /* trainer.ranks=0 means "as launched": record the launch, so the run folder's config.cfg,
     * the setting hash and a resume all know how many ranks the run has */
    const sg_dist_world *w = sg_dist_get();
    if (rc == 0 && w->size > 1 && sg_config_int(c, "trainer.ranks") == 0) {
        char kv[64];
        snprintf(kv, sizeof kv, "trainer.ranks=%d", w->size);
        if (sg_train_config_set_arg(c, kv, &err)) {
            fprintf(stderr, "stopgrad train: %s\n", err.msg);
            rc = 2;
        }
    }
    if (rc == 0 && print_config) {
        if (w->rank == 0) sg_config_write(c, stdout);
    } else if (rc == 0) {
        sg_train_summary s;
        int trc = sg_train_run(c, &opts, &s, &err);
        if (trc != 0) {
            if (w->size > 1)
                fprintf(stderr, "stopgrad train: rank %d of %d: %s\n", w->rank, w->size, err.msg);
            else
                fprintf(stderr, "stopgrad train: %s\n", err.msg);
            rc = trc == SG_TRAIN_BAD_INPUT ? 2 : 1;
        } else if (w->rank != 0) {
            /* rank 0 reports the run */
        } else if (s.finished) {
            char probe[160] = "probe off", knn[48] = "kNN off";
            if (!isnan(s.ev.probe))
                snprintf(probe, sizeof probe,
                         "probe %.2f%% (epoch %d of %d; the reference code's best test epoch: "
                         "%.2f%% at %d)",
                         s.ev.probe, s.ev.probe_epoch + 1, s.ev.probe_epochs_run, s.ev.probe_best,
                         s.ev.probe_best_epoch + 1);
            if (!isnan(s.ev.knn)) snprintf(knn, sizeof knn, "kNN %.2f%%", s.ev.knn);
            printf("run %s: %ld steps, loss %.4f, collapse %.4f, eff. rank %.1f, %s, %s, "
                   "%.1f img/s, data wait %.1f%%, %.0f s\nfolder %s\n",
                   s.run_id, s.steps, s.final_loss, s.collapse_std, s.eff_rank, probe, knn,
                   s.img_per_s, 100 * s.data_wait_frac, s.wall_s, s.run_dir);
        } else {
            printf("run %s stopped after %ld steps as asked; continue with --resume\n", s.run_id,
                   s.steps);
        }
    }
    sg_config_free(c);
    return rc;
}
