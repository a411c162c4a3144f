/* core/theory/cli.h: the `stopgrad theory` command (check, figures), kept in the library so the
 * tests can drive it; app/cmd_theory.c only forwards to it. */
#pragma once

/* argv[0] is "theory". Returns 0 (success; for `check`: every check passed), 1 (a check
 * failed, or the figures could not be written), 2 (usage error: unknown subcommand or option,
 * missing value). */
int sg_th_cli(int argc, char **argv);
