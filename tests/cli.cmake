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

# stopgrad train: bad input names the key, the value and what is allowed
sg_cli_test(train_unknown_key "unknown config key 'trainer.bach'.*did you mean 'trainer.batch'" train trainer.bach=3)
sg_cli_test(train_bad_type "optim.lr.*'fast' is not a number; expected a finite float in \\[0, 100\\]"
            train optim.lr=fast)
sg_cli_test(train_out_of_range "trainer.batch.*1 is out of range; expected an integer in \\[2, 65536\\]"
            train trainer.batch=1)
sg_cli_test(train_missing_dataset "/nonexistent-stl10/train_X.bin" train data.dataset=stl10 data.dir=/nonexistent-stl10 --quiet)
sg_cli_test(train_missing_dir "data.dir is required for data.dataset=cifar10" train data.dataset=cifar10 --quiet)
sg_cli_test(train_hydra_keys
            "predictor.kind = directpred.*predictor.rho = 0.5.*predictor.eps = 0.2.*predictor.freq = 3.*predictor.eigmap = code"
            train trainer.predictor_reg=corr trainer.predictor_freq=3 trainer.dyn_lambda=0.5
            trainer.dyn_eps=0.2 trainer.balance_type=boost_scale --print-config)
sg_cli_test(train_hydra_unsupported "trainer.balance_type=clamp is not supported.*boost_scale"
            train trainer.balance_type=clamp)
sg_cli_test(train_help "usage: stopgrad train.*predictor.kind" train --help)

# stopgrad theory check: every claim of the paper's linear-network theory holds
sg_cli_test(theory_check "16 of 16 checks passed" theory check --out ${CMAKE_BINARY_DIR}/test-tmp/theory-cli)

# stopgrad data: generated files in the exact formats are read back by the training readers
set(SG_FAKE ${CMAKE_BINARY_DIR}/test-tmp/fake)
add_test(NAME cli.data_fake_stl10 COMMAND stopgrad data fake stl10 ${SG_FAKE}/stl10 --n 20)
add_test(NAME cli.data_info_stl10 COMMAND stopgrad data info stl10 ${SG_FAKE}/stl10)
set_tests_properties(cli.data_info_stl10 PROPERTIES DEPENDS cli.data_fake_stl10
                     PASS_REGULAR_EXPRESSION "stl10: 40 images, 3 channels, 96x96, 10 classes")
sg_cli_test(data_info_missing "STL-10.*not found.*/nonexistent-stl/train_X.bin"
            data info stl10 /nonexistent-stl)

# stopgrad compare / report: kernel-suite CSVs of `stopgrad bench` (a committed H200 run is the
# real-data input: against itself it must pass, and its report must be written)
set(SG_MEASURED_BENCH ${CMAKE_SOURCE_DIR}/results/measured/h200-2026-11-29/bench-kernels-gpu-check-run1.csv)
sg_cli_test(compare_help "usage: stopgrad compare BASE.csv NEW.csv.*--threshold.*--alpha.*exit status"
            compare --help)
sg_cli_test(compare_missing_file "stopgrad compare: /nonexistent/base.csv: cannot open"
            compare /nonexistent/base.csv /nonexistent/new.csv)
sg_cli_test(compare_bad_alpha "--alpha expects a number in \\(0, 1\\), got '2'" compare a.csv b.csv --alpha 2)
sg_cli_test(compare_one_file "expected two CSV files, BASE.csv and NEW.csv; got 1" compare a.csv)
sg_cli_test(compare_same_file "0 regression\\(s\\), 0 missing, 0 failed in NEW.*: PASS"
            compare ${SG_MEASURED_BENCH} ${SG_MEASURED_BENCH})
sg_cli_test(report_help "usage: stopgrad report A.csv.*--metric.*--force" report --help)
sg_cli_test(report_missing_file "stopgrad report: /nonexistent/a.csv: cannot open"
            report /nonexistent/a.csv --out ${CMAKE_BINARY_DIR}/test-tmp/report-cli-missing)
sg_cli_test(report_bad_metric "--metric expects gflops, median_s or frac_sgemm, got 'flops'"
            report x.csv --metric flops)
sg_cli_test(report_measured "wrote .*/report-cli/report.md \\([0-9]+ rows x 1 inputs\\)"
            report ${SG_MEASURED_BENCH} --out ${CMAKE_BINARY_DIR}/test-tmp/report-cli --force)

# stopgrad check: results against results/reference/published.csv (the real reference file and
# suites must load: --list-unmapped reads both; a kernel-suite CSV is not a results CSV)
sg_cli_test(check_help "usage: stopgrad check RESULTS.csv.*probe_best.*best test accuracy.*--list-unmapped.*exit status"
            check --help)
sg_cli_test(check_no_input "expected one or more results CSVs, or --list-unmapped" check)
sg_cli_test(check_unknown_option "stopgrad check: unknown option '--foce'" check a.csv --foce)
sg_cli_test(check_missing_file "stopgrad check: /nonexistent/results.csv: cannot open"
            check /nonexistent/results.csv --out ${CMAKE_BINARY_DIR}/test-tmp/check-cli-missing)
sg_cli_test(check_not_results "bench-kernels-gpu-check-run1.csv: no column 'tag' \\(expected a results CSV"
            check ${SG_MEASURED_BENCH} --out ${CMAKE_BINARY_DIR}/test-tmp/check-cli-bench)
sg_cli_test(check_list_unmapped "[0-9]+ of [0-9]+ reference rows are unmapped" check --list-unmapped)

# stopgrad bench: the kernel suite's usage errors name what was wrong; --list traces a suite
sg_cli_test(bench_help "usage: stopgrad bench \\[SUITE\\].*--interleave.*--list" bench --help)
sg_cli_test(bench_missing_suite "bench suite 'nosuch' not found: cannot open .*/suites/nosuch.bench"
            bench nosuch)
sg_cli_test(bench_bad_reps "--repetitions expects 2..64, got '1'" bench --repetitions 1)
sg_cli_test(bench_list "fmnist_directpred +syevd +D=128" bench kernels-ci --list)
# a backend that cannot be used says why (not built here, or no CUDA device on a CUDA build);
# with a GPU the backend is taken and the run stops at the next missing input, the data folder
sg_cli_test(train_backend_cuda "trainer.backend=cuda: (not built|no CUDA device)|data.dir is required"
            train --backend cuda --quiet)
# stopgrad suite run --backend: an unknown backend is a config error naming the key and the choices
sg_cli_test(suite_backend_invalid "trainer.backend.*'gpu' is not a valid choice; expected one of: cpu, cuda"
            suite run quick --backend gpu --out ${CMAKE_BINARY_DIR}/test-tmp/suite-backend-cli)

# stopgrad history: the committed measurements into a fresh database, shown, tested, as a site
set(SG_HIST_DB ${CMAKE_BINARY_DIR}/test-tmp/history-cli.sqlite)
add_test(NAME cli.history_reset COMMAND ${CMAKE_COMMAND} -E rm -f ${SG_HIST_DB} ${SG_HIST_DB}-wal ${SG_HIST_DB}-shm)
add_test(NAME cli.history_add COMMAND stopgrad history add ${SG_MEASURED_BENCH}
         ${CMAKE_SOURCE_DIR}/results/measured/cpu-2026-11-29/bench-kernels-cpu-stl10.csv --db ${SG_HIST_DB})
set_tests_properties(cli.history_add PROPERTIES DEPENDS cli.history_reset
                     PASS_REGULAR_EXPRESSION "kernel-suite CSV: 1 run\\(s\\) added, 0 already present, 316 value\\(s\\) added")
add_test(NAME cli.history_add_again COMMAND stopgrad history add ${SG_MEASURED_BENCH} --db ${SG_HIST_DB})
set_tests_properties(cli.history_add_again PROPERTIES DEPENDS cli.history_add
                     PASS_REGULAR_EXPRESSION "already in .*: nothing added")
add_test(NAME cli.history_show COMMAND stopgrad history show --db ${SG_HIST_DB})
set_tests_properties(cli.history_show PROPERTIES DEPENDS cli.history_add_again
                     PASS_REGULAR_EXPRESSION "6c899cfafdba70aa.*NVIDIA H200.*kernels-gpu-check.*48a4486d67a4.*2 machine\\(s\\), 2 suite\\(s\\) or source\\(s\\), 2 commit\\(s\\)")
add_test(NAME cli.history_regress COMMAND stopgrad history regress --db ${SG_HIST_DB})
set_tests_properties(cli.history_regress PROPERTIES DEPENDS cli.history_show
                     PASS_REGULAR_EXPRESSION "0 regression\\(s\\) open at the newest commit.*PASS")
add_test(NAME cli.history_html COMMAND stopgrad history html --db ${SG_HIST_DB}
         --out ${CMAKE_BINARY_DIR}/test-tmp/history-cli-site)
set_tests_properties(cli.history_html PROPERTIES DEPENDS cli.history_regress
                     PASS_REGULAR_EXPRESSION "wrote .*history-cli-site/index.html \\([0-9]+ benchmark page\\(s\\), [0-9]+ chart\\(s\\), 2 roofline\\(s\\)\\)")
sg_cli_test(history_help "usage: stopgrad history add FILE.csv.*regress.*html --out DIR.*exit status" history --help)
sg_cli_test(history_unknown_sub "unknown subcommand 'regres'; expected add, show, regress or html" history regres)
sg_cli_test(history_no_db "/nonexistent/h.sqlite: no history database there" history show --db /nonexistent/h.sqlite)
sg_cli_test(history_unknown_kind "selfcheck-cuda.csv: unknown kind of CSV"
            history add ${CMAKE_SOURCE_DIR}/results/measured/h200-2026-11-29/selfcheck-cuda.csv
            --db ${CMAKE_BINARY_DIR}/test-tmp/history-cli-bad.sqlite)
sg_cli_test(history_option_of_other "--since is not an option of add" history add x.csv --since abc)
sg_cli_test(history_bad_alpha "--alpha expects a number in \\(0, 1\\), got '0'" history regress --alpha 0)
sg_cli_test(history_html_no_out "--out DIR is required" history html)
