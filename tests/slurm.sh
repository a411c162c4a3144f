#!/usr/bin/env bash
# tests/slurm.sh STOPGRAD DIR PART: `stopgrad suite submit --slurm` and `suite run --only/--seed`
# on a tiny suite (2 runs x 2 seeds of a few steps on synthetic data, about 0.2 s each):
#   dry_run  the job-array script of `submit --dry-run`: one task per (run, seed) not yet in
#            the results, one fewer after a run is recorded (by `suite run --only RUN --seed S`,
#            then by running the script's own task 0 as Slurm would, SLURM_ARRAY_TASK_ID=0);
#            an unknown run or seed is an error naming it (exit 2); nothing pending submits
#            nothing. Needs no Slurm.
#   gpus     `suite run --jobs 2 --backend cuda` with CUDA_VISIBLE_DEVICES=3,5: the two children
#            get 3 and 5, one each; CPU runs get no CUDA_VISIBLE_DEVICES of their own.
#   array    a one-node Slurm cluster of its own (munged, slurmctld, slurmd on localhost, every
#            file in a temporary folder, ports of its own): two pairs recorded by a local
#            runner, the other two submitted as a 2-task array, run to completion: every row
#            of the results once, the tasks' exit codes 0, their logs printed; then a second
#            submit finds nothing pending. Skipped (exit 77, with the reason) where the
#            daemons cannot run: not root, Slurm or munge not installed, a daemon that does
#            not start or a node that never becomes idle (a container's restrictions).
# Usage from ctest (tests/cli.cmake): `bash tests/slurm.sh SG DIR PART`.
set -uo pipefail
SG=$(realpath "$1") DIR=$2 PART=$3
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR" || exit 1
DIR=$(pwd -P)
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

cat > tiny.suite <<'EOF'
base = data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16 data.synthetic_classes=4
base = model.width=0.0625 model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16
base = trainer.batch=8 trainer.epochs=1 trainer.threads=1 data.workers=0 eval.probe_epochs=2
base = eval.knn_k=5
run a = method.name=byol
run b = method.name=simsiam
seeds = 1 2
expect finite_loss: a,b final_loss > -100
EOF
OUT=$DIR/out

# the array tasks of a dry run's script, "RUN/SEED" one a line
tasks() { sed -n 's/^  [0-9]*) run=\([^ ]*\) seed=\([0-9]*\) ;;$/\1\/\2/p' "$1"; }
rows() { tail -n +2 "$OUT/results.csv" | cut -d, -f1 | sort; }

case "$PART" in
dry_run)
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" --dry-run trainer.threads=1 -- -p debug \
    > s4.sbatch 2> s4.err || fail "dry run: $(cat s4.err)"
  cat s4.sbatch
  [ "$(tasks s4.sbatch | tr '\n' ' ')" = "a/1 b/1 a/2 b/2 " ] || fail "tasks: $(tasks s4.sbatch)"
  grep -qx '#SBATCH --array=0-3' s4.sbatch || fail "no --array=0-3"
  grep -qx "#SBATCH --output=$OUT/slurm/%A_%a.out" s4.sbatch || fail "no --output in $OUT/slurm"
  grep -qx '#SBATCH --job-name=sg-tiny' s4.sbatch || fail "no --job-name"
  grep -qF "exec '$SG' suite run '$DIR/tiny.suite' --out '$OUT' --only \"\$run\" --seed \"\$seed\" 'trainer.threads=1'" \
    s4.sbatch || fail "the task's command line"
  grep -qF -- "-p debug $OUT/slurm/submit.sbatch" s4.err || fail "the sbatch options: $(cat s4.err)"
  grep -q gres s4.sbatch && fail "a GPU asked for CPU runs"
  bash -n s4.sbatch || fail "the script is not valid bash"
  [ ! -e "$OUT/slurm" ] || fail "the dry run wrote $OUT/slurm"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" --dry-run --backend cuda 2>/dev/null |
    grep -qx '#SBATCH --gres=gpu:1' || fail "CUDA runs without a GPU per task"

  # one pair recorded by a restricted local run: one task fewer, that one
  "$SG" suite run ./tiny.suite --out "$OUT" --only a --seed 1 --quiet > run.log 2>&1 ||
    fail "suite run --only a --seed 1 (exit $?): $(tail -3 run.log)"
  grep -q "1 of 4 (run, seed) recorded" run.log || fail "the restricted run's report: $(tail -3 run.log)"
  grep -q '^| b | 0 |' run.log || fail "no table of the results: $(cat run.log)"
  [ "$(rows | tr '\n' ' ')" = "tiny-a-s1 " ] || fail "rows after --only a --seed 1: $(rows)"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" --dry-run > s3.sbatch 2>/dev/null || fail "dry run 2"
  [ "$(tasks s3.sbatch | tr '\n' ' ')" = "b/1 a/2 b/2 " ] || fail "tasks after one run: $(tasks s3.sbatch)"
  grep -qx '#SBATCH --array=0-2' s3.sbatch || fail "no --array=0-2"

  # the script's task 0 run as Slurm would run it: b/1 recorded, then two tasks left
  SLURM_ARRAY_TASK_ID=0 bash s3.sbatch > task0.log 2>&1 || fail "task 0 (exit $?): $(tail -3 task0.log)"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" --dry-run > s2.sbatch 2>/dev/null || fail "dry run 3"
  [ "$(tasks s2.sbatch | tr '\n' ' ')" = "a/2 b/2 " ] || fail "tasks after task 0: $(tasks s2.sbatch)"
  SLURM_ARRAY_TASK_ID=7 bash s2.sbatch > task7.log 2>&1
  [ $? = 2 ] && grep -q "array task '7' is not one of 0-1" task7.log || fail "task 7: $(cat task7.log)"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" --dry-run --only b > sb.sbatch 2>/dev/null || fail "--only b"
  [ "$(tasks sb.sbatch | tr '\n' ' ')" = "b/2 " ] || fail "tasks of --only b: $(tasks sb.sbatch)"

  # unknown runs and seeds: exit 2 naming them; nothing pending: nothing submitted, exit 0
  for cmd in "run ./tiny.suite --out $OUT --only bogus" "submit ./tiny.suite --slurm --out $OUT --only a,bogus --dry-run"; do
    "$SG" suite $cmd > bad.log 2>&1
    st=$?
    [ $st = 2 ] || fail "suite $cmd: exit $st, expected 2"
    grep -q "no run named 'bogus' (its runs: a, b)" bad.log || fail "suite $cmd: $(cat bad.log)"
  done
  "$SG" suite run ./tiny.suite --out "$OUT" --only a --seed 9 > bad.log 2>&1
  [ $? = 2 ] && grep -q "seed 9 is not one of suite tiny's seeds (1 2)" bad.log || fail "--seed 9: $(cat bad.log)"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" --only a --seed 1 > none.log 2>&1 ||
    fail "nothing pending (exit $?): $(cat none.log)"
  grep -q "nothing pending" none.log || fail "nothing pending: $(cat none.log)"
  [ ! -e "$OUT/slurm" ] || fail "a script written with nothing pending"
  [ "$(rows | tr '\n' ' ')" = "tiny-a-s1 tiny-b-s1 " ] || fail "rows: $(rows)"
  echo "dry_run: 4, 3, 2 array tasks as pairs were recorded; unknown run and seed refused"
  ;;

gpus)
  # `suite run --jobs 2 --backend cuda`: each child its own entry of CUDA_VISIBLE_DEVICES (the
  # runs themselves may fail here, without such GPUs: only the assignment is checked)
  CUDA_VISIBLE_DEVICES=3,5 "$SG" suite run ./tiny.suite --out "$OUT" --jobs 2 --backend cuda \
    --quiet > cuda.log 2>&1
  cat cuda.log
  first=$(grep -o 'CUDA_VISIBLE_DEVICES=[0-9]*$' cuda.log | head -2 | sort | tr '\n' ' ')
  [ "$first" = "CUDA_VISIBLE_DEVICES=3 CUDA_VISIBLE_DEVICES=5 " ] ||
    fail "the first two children's GPUs: '$first', expected 3 and 5"
  CUDA_VISIBLE_DEVICES=3,5 "$SG" suite run ./tiny.suite --out "$OUT/cpu" --jobs 2 --quiet \
    > cpu.log 2>&1 || fail "CPU runs (exit $?): $(tail -3 cpu.log)"
  grep -q CUDA_VISIBLE_DEVICES cpu.log && fail "a GPU given to a CPU run: $(cat cpu.log)"
  echo "gpus: two CUDA children on GPUs 3 and 5 of CUDA_VISIBLE_DEVICES=3,5; CPU runs untouched"
  ;;

array)
  [ "$(id -u)" = 0 ] || skip "not root: this test's one-node cluster runs slurmctld and slurmd as SlurmUser=root"
  missing=()
  for p in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
    command -v $p > /dev/null || missing+=($p)
  done
  [ ${#missing[@]} = 0 ] ||
    skip "not installed: ${missing[*]} (Debian: slurm-wlm munge; scripts/setup.sh installs them)"

  # the daemons' files: here, or in a short folder of /tmp when this path would make their unix
  # sockets' names longer than the 107 characters a socket name may have
  S=$DIR/c
  [ ${#S} -le 60 ] || S=$(mktemp -d /tmp/sg-slurm.XXXXXX)
  mkdir -p "$S"/{munge,state,spool,log} && chmod 755 "$S/munge" || fail "cannot create $S"
  PIDS=() NAMES=()
  cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
      for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$p" 2>/dev/null
    done
    [ "$S" = "$DIR/c" ] || rm -rf "$S"
  }
  trap cleanup EXIT
  logs() {
    for f in "$S"/log/*; do echo "---- $f (last 15 lines)"; tail -15 "$f"; done
  }
  # a client of a Slurm this test did not start must not be used, nor a job's environment
  for v in $(env | sed -n 's/^\(SLURM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done

  # munge with a key and a socket of its own
  dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 2> /dev/null && chmod 600 "$S/munge/munge.key"
  munged --foreground --socket="$S/munge/sock" --key-file="$S/munge/munge.key" \
    --pid-file="$S/munge/pid" --seed-file="$S/munge/seed" --log-file="$S/log/munged.log" \
    > "$S/log/munged.out" 2>&1 &
  PIDS+=($!) NAMES+=(munged)
  for _ in $(seq 50); do [ -S "$S/munge/sock" ] && break; sleep 0.1; done
  [ -S "$S/munge/sock" ] || { logs; skip "munged did not start: $(tail -1 "$S/log/munged.out")"; }

  # two free ports
  free_port() {
    local p
    for _ in $(seq 50); do
      p=$((20000 + RANDOM % 30000))
      (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || { echo $p; return; }
    done
    echo 0
  }
  CTLD_PORT=$(free_port) SLURMD_PORT=$(free_port)
  [ "$CTLD_PORT" != "$SLURMD_PORT" ] || SLURMD_PORT=$((CTLD_PORT + 1))
  mem=$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
  cat > "$S/slurm.conf" <<EOF
ClusterName=sgtest
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/sock
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=pmix
ReturnToService=2
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$S/slurm.conf
  slurmctld -D -f "$SLURM_CONF" > "$S/log/slurmctld.out" 2>&1 &
  PIDS+=($!) NAMES+=(slurmctld)
  slurmd -D -N localhost -f "$SLURM_CONF" > "$S/log/slurmd.out" 2>&1 &
  PIDS+=($!) NAMES+=(slurmd)
  state=
  for _ in $(seq 60); do
    state=$(sinfo -h -n localhost -o %T 2> /dev/null)
    [ "$state" = idle ] && break
    for p in "${PIDS[@]}"; do kill -0 "$p" 2> /dev/null || break 2; done
    sleep 0.5
  done
  if [ "$state" != idle ]; then
    logs
    dead=
    for i in "${!PIDS[@]}"; do
      kill -0 "${PIDS[$i]}" 2> /dev/null || dead="$dead ${NAMES[$i]} ($(tail -1 "$S/log/${NAMES[$i]}.out"))"
    done
    why=" after 30 s"
    [ -z "$dead" ] || why=", exited:$dead"
    skip "the one-node cluster did not come up: node state '${state:-none}'$why (the daemons' logs are above)"
  fi
  echo "cluster up: slurmctld :$CTLD_PORT, slurmd :$SLURMD_PORT, node localhost idle ($S)"

  # seed 2 by a local runner, seed 1 by the cluster
  "$SG" suite run ./tiny.suite --out "$OUT" --seed 2 --jobs 2 --quiet > local.log 2>&1 ||
    fail "the local runner (exit $?): $(tail -3 local.log)"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" > submit.log 2>&1 || { logs; fail "submit (exit $?): $(cat submit.log)"; }
  cat submit.log
  JOB=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' submit.log)
  [ -n "$JOB" ] || fail "no job id in: $(cat submit.log)"
  grep -qx '#SBATCH --array=0-1' "$OUT/slurm/submit.sbatch" || fail "not a 2-task array: $(grep array "$OUT/slurm/submit.sbatch")"
  for _ in $(seq 80); do
    [ -z "$(squeue -h -j "$JOB" -o %i 2> /dev/null)" ] && break
    sleep 0.5
  done
  [ -z "$(squeue -h -j "$JOB" -o %i 2> /dev/null)" ] || { squeue; logs; fail "job $JOB not done after 40 s"; }
  for f in "$OUT/slurm/${JOB}"_*.out; do echo "==== $f"; cat "$f"; done
  info=$(scontrol show job "$JOB")
  [ "$(grep -o 'ExitCode=[0-9:]*' <<< "$info" | sort -u)" = "ExitCode=0:0" ] &&
    [ "$(grep -c 'JobState=COMPLETED' <<< "$info")" = 2 ] ||
    { logs; fail "job $JOB: $(grep -E 'JobState|ExitCode' <<< "$info")"; }
  echo "==== $OUT/results.csv (run_id, finished_utc, config_hash)"
  cut -d, -f1-3 "$OUT/results.csv"
  [ "$(rows | tr '\n' ' ')" = "tiny-a-s1 tiny-a-s2 tiny-b-s1 tiny-b-s2 " ] || fail "rows: $(rows)"
  "$SG" suite submit ./tiny.suite --slurm --out "$OUT" > again.log 2>&1 || fail "second submit (exit $?): $(cat again.log)"
  grep -q "nothing pending (4 of 4" again.log || fail "second submit: $(cat again.log)"
  echo "array: a 2-task Slurm array beside a local runner: 4 rows, each once"

  # a data-parallel run (trainer.ranks=2) as an array task: its task asks for 2 tasks and the
  # runner starts the ranks with srun inside the allocation (Open MPI over PMIx); its ranks run
  # without leak detection in sanitizer builds, as in tests/dist.sh (Open MPI's own allocations)
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  cat > dp.suite <<'EOS'
base = data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16 data.synthetic_classes=4
base = model.width=0.0625 model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16
base = trainer.batch=8 trainer.epochs=1 trainer.threads=1 data.workers=0 eval.probe_epochs=2
base = eval.knn_k=5
run two = trainer.ranks=2 model.sync_bn=true
seeds = 1
EOS
  "$SG" suite submit ./dp.suite --slurm --out "$OUT/dp" > dsubmit.log 2>&1 || { logs; fail "submit dp (exit $?): $(cat dsubmit.log)"; }
  DJOB=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' dsubmit.log)
  [ -n "$DJOB" ] || fail "no job id in: $(cat dsubmit.log)"
  for _ in $(seq 120); do
    [ -z "$(squeue -h -j "$DJOB" -o %i 2> /dev/null)" ] && break
    sleep 0.5
  done
  for f in "$OUT/dp/slurm/${DJOB}"_*.out; do echo "==== $f"; cat "$f"; done
  # ranks is the 4th column from the end (ranks, ranks_per_node, mpi, nccl: no commas), while
  # cells before it may hold quoted commas
  [ "$(head -1 "$OUT/dp/results.csv" 2> /dev/null | awk -F, '{ print $(NF-3) }')" = ranks ] || fail "no ranks column 4th from the end"
  got=$(tail -n +2 "$OUT/dp/results.csv" 2> /dev/null | awk -F, '{ print $1 ":" $(NF-3) }')
  [ "$got" = "dp-two-s1:2" ] || { logs; fail "the 2-rank array task's row (run:ranks): '$got'"; }
  echo "array: a trainer.ranks=2 run as an array task of 2 Slurm tasks (srun, PMIx): recorded once, ranks 2"
  ;;
*) fail "unknown part $PART" ;;
esac
echo "1 passed, 0 failed"
