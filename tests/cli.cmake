# tests/cli.cmake: the executable's own behaviour: help, unknown commands and options, and the
# machine description. PASS_REGULAR_EXPRESSION checks the message names what was wrong;
# these run the real binary, so they also catch a dispatcher that lost a command.
function(sg_cli_test name regex)
  add_test(NAME cli.${name} COMMAND stopgrad ${ARGN})
  set_tests_properties(cli.${name} PROPERTIES PASS_REGULAR_EXPRESSION "${regex}")
endfunction()

sg_cli_test(help "usage: stopgrad COMMAND.*machine.*selfcheck" --help)
sg_cli_test(unknown_command "unknown command 'machnie'; did you mean 'machine'\\?" machnie)
sg_cli_test(machine "machine_id: [0-9a-f]+.*cpu_model: .*openblas_parallel: openmp" machine)
sg_cli_test(machine_help "usage: stopgrad machine" machine --help)
sg_cli_test(machine_bad_threads "--threads expects an integer in \\[1, 4096\\], got 'zero'"
            machine --threads zero)
sg_cli_test(machine_unknown_option "unknown option '--cvs'" machine --cvs x.csv)
sg_cli_test(version "stopgrad [0-9.]+ commit" version)
