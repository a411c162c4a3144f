/* app/cmd_theory.c: `stopgrad theory`, the linear-network theory suite. The command lives in
 * core/theory/cli.c so that tests/theory can drive it without the executable. */
#include "app/commands.h"
#include "core/theory/cli.h"

int sg_cmd_theory(int argc, char **argv) { return sg_th_cli(argc, argv); }
