/* app/commands.h: the subcommands of the stopgrad executable. Each takes argv with argv[0] being
 * the subcommand's name, prints its own --help, and returns the process exit status
 * (0 success, 1 failure of the work itself, 2 usage or input error). */
#pragma once

int sg_cmd_train(int argc, char **argv);
int sg_cmd_suite(int argc, char **argv);
int sg_cmd_check(int argc, char **argv);
int sg_cmd_data(int argc, char **argv);
int sg_cmd_machine(int argc, char **argv);
int sg_cmd_selfcheck(int argc, char **argv);
int sg_cmd_theory(int argc, char **argv);
int sg_cmd_bench(int argc, char **argv);
int sg_cmd_compare(int argc, char **argv);
int sg_cmd_report(int argc, char **argv);
int sg_cmd_history(int argc, char **argv);
