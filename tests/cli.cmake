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
# the published settings' switches: the predictor's fixed lr, the relative shift map, accumulation
sg_cli_test(train_help_switches
            "predictor.fixed_lr.*shift_rel: sqrt\\(max\\(s/s_max-c,1e-4\\)\\).*trainer.accumulate.*each micro-batch's own"
            train --help)
sg_cli_test(train_accumulate_split
            "trainer.batch=6 does not split into trainer.accumulate=4 equal micro-batches"
            train data.dataset=synthetic trainer.batch=6 trainer.accumulate=4 run.dir=${CMAKE_BINARY_DIR}/test-tmp/cli-accum --quiet)
sg_cli_test(train_help_protocol
            "eval.protocol \\(one of: reference, byol, simsiam; default reference\\)" train --help)

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
sg_cli_test(bench_missing_suite "bench suite 'nosuch' not found: .*/suites/nosuch.bench does not exist"
            bench nosuch)
sg_cli_test(bench_bad_reps "--repetitions expects 2..64, got '1'" bench --repetitions 1)
sg_cli_test(bench_list "fmnist_directpred +syevd +D=128" bench kernels-ci --list)
# --configs naming a config more often than the suite has configs wrote past the selection
sg_cli_test(bench_configs_twice "--configs: config 'fmnist' is named twice"
            bench kernels-ci --list --configs fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist,fmnist)
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
# Exit statuses (0 success, 1 the work failed, 2 bad usage or input) and what is said, for
# commands that need a prepared folder: sg_cli_status(NAME STATUS REGEX SCRIPT) runs SCRIPT with
# sh in a fresh folder test-tmp/cli-NAME, $SG being the stopgrad binary; the output must match
# REGEX and, on the last line, the status of SCRIPT's last command. A TIMEOUT turns a command
# that blocks into a failure.
function(sg_cli_status name status regex script)
  set(dir ${CMAKE_BINARY_DIR}/test-tmp/cli-${name})
  add_test(NAME cli.${name}
           COMMAND sh -c "rm -rf '${dir}' && mkdir -p '${dir}' && cd '${dir}' && SG='$<TARGET_FILE:stopgrad>' && { ${script} ; } ; echo \"exit status $?\"")
  set_tests_properties(cli.${name} PROPERTIES TIMEOUT 120
                       PASS_REGULAR_EXPRESSION "${regex}.*exit status ${status}\n$")
endfunction()

# inputs that are not regular files: said what they are, exit 2, and a FIFO does not block
sg_cli_status(data_info_fifo 2 "STL-10: s/train_X.bin is a FIFO, expected a regular file"
              "mkdir s && mkfifo s/train_X.bin && \"$SG\" data info stl10 s")
sg_cli_status(data_info_folder 2 "STL-10: s/train_X.bin is a folder, expected a regular file"
              "mkdir -p s/train_X.bin && \"$SG\" data info stl10 s")
sg_cli_status(data_info_symlink_loop 2 "s/train_X.bin: too many levels of symbolic links"
              "mkdir s && ln -s a s/b && ln -s b s/a && ln -s a s/train_X.bin && \"$SG\" data info stl10 s")
sg_cli_status(data_info_fmnist_fifo 2 "train-images-idx3-ubyte.gz is a FIFO, expected a regular file"
              "\"$SG\" data fake fashion_mnist f --n 10 >/dev/null && rm f/train-images-idx3-ubyte.gz && mkfifo f/train-images-idx3-ubyte.gz && \"$SG\" data info fashion_mnist f")
sg_cli_status(train_config_dev_zero 2 "/dev/zero is a character device, expected a regular file"
              "\"$SG\" train /dev/zero --print-config")
sg_cli_status(train_config_fifo 2 "c.cfg is a FIFO, expected a regular file"
              "mkfifo c.cfg && \"$SG\" train c.cfg --print-config")
# dataset errors are bad input: exit 2 (they were 1, the status of a failed run)
sg_cli_status(data_info_missing_status 2 "STL-10 not found: .*/nonexistent-stl/train_X.bin"
              "\"$SG\" data info stl10 /nonexistent-stl")
sg_cli_status(train_missing_dataset_status 2 "STL-10 not found: /nonexistent-stl10/train_X.bin"
              "\"$SG\" train data.dataset=stl10 data.dir=/nonexistent-stl10 --quiet")
sg_cli_status(train_truncated_dataset 2 "CIFAR-10: c/test_batch.bin is 3000 bytes, not a positive multiple"
              "\"$SG\" data fake cifar10 c --n 10 >/dev/null && head -c 3000 c/test_batch.bin > t && mv t c/test_batch.bin && \"$SG\" train data.dataset=cifar10 data.dir=c --quiet")
sg_cli_status(data_fake_bad_format 2 "unknown format 'stl11'" "\"$SG\" data fake stl11 x")
# compare --csv never overwrites an input, and an output that cannot be written is status 2;
# report and check agree on an --out that cannot be written (2)
sg_cli_status(compare_csv_is_input 2 "--csv b.csv is the input b.csv: the comparison would overwrite"
              "cp '${SG_MEASURED_BENCH}' b.csv && cp b.csv n.csv && \"$SG\" compare b.csv n.csv --csv b.csv")
sg_cli_status(compare_csv_is_input_link 2 "is the input n.csv"
              "cp '${SG_MEASURED_BENCH}' b.csv && cp b.csv n.csv && ln -s n.csv o.csv && \"$SG\" compare b.csv n.csv --csv o.csv")
sg_cli_status(compare_csv_unwritable 2 "cannot create the folder file: a file of that name is in the way"
              "touch file && \"$SG\" compare '${SG_MEASURED_BENCH}' '${SG_MEASURED_BENCH}' --csv file/out.csv")
sg_cli_status(report_out_unwritable 2 "cannot create the folder file: a file of that name is in the way"
              "touch file && \"$SG\" report '${SG_MEASURED_BENCH}' --out file/rep")
sg_cli_status(check_out_unwritable 2 "cannot create the folder file: a file of that name is in the way"
              "touch file && \"$SG\" check '${CMAKE_SOURCE_DIR}/results/measured/fmnist-ablations-reduced-2026-11-29/results.csv' --out file/chk")

# Fault tests (tests/faults.sh): SIGKILL at random moments of `train` and of `suite run`, then a
# resume or rerun (bit-identical, every row once, no temporary file), and a file-size limit a
# run's checkpoint exceeds (the run fails naming the file, earlier files intact).
foreach(part kill_resume suite_kill full_disk)
  add_test(NAME faults.${part}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/faults.sh $<TARGET_FILE:stopgrad>
                   ${CMAKE_BINARY_DIR}/test-tmp/faults-${part} ${part})
  set_tests_properties(faults.${part} PROPERTIES TIMEOUT 600 ENVIRONMENT "OMP_WAIT_POLICY=passive"
                       PASS_REGULAR_EXPRESSION "1 passed, 0 failed")
endforeach()

# Suites beyond one machine (tests/slurm.sh): the job-array script of `suite submit --slurm
# --dry-run` and `suite run --only/--seed` (dry_run), a GPU per child of `suite run --jobs N
# --backend cuda` (gpus), and a 2-task array on a one-node cluster the test starts itself
# (array; 77: skipped, saying why, where the daemons cannot run).
foreach(part dry_run gpus array)
  add_test(NAME slurm.${part}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/slurm.sh $<TARGET_FILE:stopgrad>
                   ${CMAKE_BINARY_DIR}/test-tmp/slurm-${part} ${part})
  set_tests_properties(slurm.${part} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77
                       ENVIRONMENT "OMP_WAIT_POLICY=passive"
                       PASS_REGULAR_EXPRESSION "1 passed, 0 failed")
endforeach()

# Data-parallel training under mpirun -np 2 (tests/dist.sh): N=2 with sync BN against N=1, a
# bit-identical rerun, a failing rank, a killed rank and its resume, a suite with a 2-rank run;
# the agreement and the rerun on the CUDA backend over NCCL, one GPU per rank (nccl). Skipped
# (77) without MPI; nccl also without CUDA + NCCL in the build or without 2 GPUs.
foreach(part agree rerun rank_fails kill_resume suite nccl)
  add_test(NAME dist.${part}
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/dist.sh $<TARGET_FILE:stopgrad>
                   ${CMAKE_BINARY_DIR}/test-tmp/dist-${part} ${part})
  set_tests_properties(dist.${part} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
                       ENVIRONMENT "OMP_WAIT_POLICY=passive")
endforeach()

# conv.algo=auto through the command line: record, cache, resume without the cache (conv_auto.sh).
add_test(NAME cli.train_conv_auto
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/conv_auto.sh $<TARGET_FILE:stopgrad>
                 ${CMAKE_BINARY_DIR}/test-tmp/cli-conv-auto)
set_tests_properties(cli.train_conv_auto PROPERTIES PASS_REGULAR_EXPRESSION "conv_auto ok"
                     TIMEOUT 300)
