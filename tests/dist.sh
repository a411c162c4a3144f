#!/usr/bin/env bash
# tests/dist.sh STOPGRAD DIR PART: data-parallel training under `mpirun -np 2` on this machine
# (loopback, oversubscribed; as root with --allow-run-as-root):
#   agree       N=2 with model.sync_bn=true against N=1 at the same global batch: the losses of
#               the first steps agree within the tolerance derived below, and N=2 without sync BN
#               (per-rank statistics) does not (so the comparison can tell them apart);
#   rerun       N=2 twice: steps.csv, epochs.csv (less the wall-clock columns) and checkpoint.bin
#               are byte for byte the same;
#   rank_fails  rank 1 alone cannot read its data: the job ends (no hang) with a message naming
#               rank 1 and the missing file;
#   kill_resume rank 1 killed (SIGKILL) mid-run: mpirun ends the job naming the rank; resumed
#               under N=2 it finishes bit-identical to the uninterrupted N=2 run, recorded once;
#   suite       a suite whose run has trainer.ranks=2: `suite run` starts it with mpirun, its
#               row (ranks 2) is recorded once next to the one-process run's, a second
#               `suite run` trains nothing, and `suite submit --slurm` asks for 2 tasks.
#   nccl        the CUDA backend, one GPU per rank, its sums over NCCL: N=2 (sync BN) against N=1
#               on CUDA with agree's tolerance (and per-rank BN told apart), machine.csv naming
#               the NCCL version and each rank's device, and a bit-identical rerun at N=2. Skips
#               (77) unless the build has CUDA with NCCL ("NCCL: yes" in `stopgrad version`) and
#               `nvidia-smi -L` lists at least 2 GPUs (of CUDA_VISIBLE_DEVICES, when set).
# Skips (exit 77) when mpirun is missing or the build has no MPI.
set -uo pipefail
SG=$1 DIR=$2 PART=$3
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

command -v mpirun >/dev/null || { echo "SKIP: mpirun not found (scripts/setup.sh installs openmpi-bin)"; exit 77; }
"$SG" version | grep -q "MPI: yes" || { echo "SKIP: this stopgrad was built without MPI"; exit 77; }
# Sanitizer builds: Open MPI and its dlopen'd components keep allocations until exit, which
# LeakSanitizer reports from frames it cannot name (so no suppression can single them out). The
# ranks run without leak detection; every other ASan and UBSan check stays on, and the same code
# paths run leak-checked in the one-process tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPIRUN=(mpirun --oversubscribe -np 2)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
# each rank one compute thread: two ranks share this machine's cores
SETTING=(data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16 data.synthetic_classes=4
         model.width=0.0625 model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16
         trainer.batch=8 trainer.threads=1 data.workers=1 eval.probe_epochs=3 eval.knn_k=5
         predictor.kind=directpred run.dir=runs)

untimed() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = !($i == "seconds" || $i == "img_per_s" || $i ~ /^data_wait/) }
           { o = ""; for (i = 1; i <= NF; i++) if (keep[i]) o = o $i ","; print o }' "$1"
}
same_run() { # two run folders hold the same computation
  cmp -s <(untimed "runs/$1/steps.csv") <(untimed "runs/$2/steps.csv") || fail "steps.csv of $1 and $2 differ"
  cmp -s <(untimed "runs/$1/epochs.csv") <(untimed "runs/$2/epochs.csv") || fail "epochs.csv of $1 and $2 differ"
  cmp -s "runs/$1/checkpoint.bin" "runs/$2/checkpoint.bin" || fail "checkpoint.bin of $1 and $2 differ"
}

case "$PART" in
agree)
  # Tolerance on the loss of the first steps. N=1 and N=2 (sync BN) compute the same sums in
  # other orders: batch-norm statistics (two halves added in double, then rounded to float: at
  # most a few ulps apart), the gradients (two half-batch products added in float), the loss and
  # F (double / gathered rows). Each of the L ~ 24 normalisations of the tiny ResNet and its
  # heads then differs by at most ~4 ulps (2^-21 relative); with a gain of at most 2 per layer
  # (ReLU, residual add) the network's output moves by at most L * 2 * 2^-21 ~ 2.3e-5 relative,
  # and the loss (two cosine terms, |loss| <= 4) by at most 4 * 2.3e-5 ~ 1e-4. After more steps
  # training amplifies any difference (the eigendecomposition of F above all), so steps 0-2.
  TOL=1e-4
  "$SG" train "${SETTING[@]}" trainer.max_steps=3 run.name=n1 run.results=r.csv --quiet > n1.log 2>&1 ||
    fail "N=1 run: $(tail -3 n1.log)"
  "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" trainer.max_steps=3 model.sync_bn=true run.name=n2sync \
    run.results=r.csv --quiet > n2sync.log 2>&1 || fail "N=2 sync BN run: $(tail -3 n2sync.log)"
  "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" trainer.max_steps=3 run.name=n2rank run.results=r.csv \
    --quiet > n2rank.log 2>&1 || fail "N=2 per-rank BN run: $(tail -3 n2rank.log)"
  grep -q "trainer.ranks = 2" runs/n2sync/config.cfg || fail "config.cfg does not record trainer.ranks = 2"
  # max |loss difference| over steps 0-2, against N=1
  diffmax() { paste -d, <(cut -d, -f3 runs/n1/steps.csv) <(cut -d, -f3 "runs/$1/steps.csv") |
              awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'; }
  ds=$(diffmax n2sync) dr=$(diffmax n2rank)
  echo "losses of steps 0-2, N=1 | N=2 sync BN | N=2 per-rank BN:"
  paste -d' ' <(cut -d, -f3 runs/n1/steps.csv) <(cut -d, -f3 runs/n2sync/steps.csv) <(cut -d, -f3 runs/n2rank/steps.csv)
  echo "max |difference| against N=1: sync BN $ds, per-rank BN $dr (tolerance $TOL)"
  awk -v d="$ds" -v t=$TOL 'BEGIN { exit !(d <= t) }' || fail "N=2 with sync BN differs from N=1 by $ds > $TOL"
  awk -v d="$dr" -v t=$TOL 'BEGIN { exit !(d > t) }' || fail "N=2 per-rank BN agrees with N=1 ($dr): the comparison cannot tell"
  ;;
rerun)
  for n in a b; do
    "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" trainer.epochs=3 model.sync_bn=true run.name=$n \
      run.results=$n.csv --quiet > $n.log 2>&1 || fail "run $n: $(tail -3 $n.log)"
  done
  same_run a b
  echo "rerun: two N=2 runs (sync BN, 24 steps) are bit-identical: steps.csv, epochs.csv, checkpoint.bin"
  ;;
rank_fails)
  "$SG" data fake cifar10 cifar --n 40 > /dev/null || fail "could not write the CIFAR-10 files"
  # data.dir is not part of the setting: rank 1 alone points at a folder that does not exist
  start=$(date +%s)
  timeout 120 "${MPIRUN[@]}" sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then d=missing; else d=cifar; fi
    exec "$0" train data.dataset=cifar10 data.dir=$d model.width=0.0625 model.proj_hidden=16 \
      model.proj_out=8 model.pred_hidden=16 trainer.batch=8 trainer.epochs=1 trainer.threads=1 \
      run.dir=runs run.results=r.csv --quiet' "$SG" > fails.log 2>&1
  st=$?
  [ $st = 124 ] && fail "the job hung (killed by the 120 s timeout): $(tail -5 fails.log)"
  [ $st != 0 ] || fail "the job succeeded"
  grep -q "rank 1 of 2" fails.log || fail "no message names rank 1: $(tail -5 fails.log)"
  grep -q "missing/" fails.log || fail "the message does not name the missing file: $(tail -5 fails.log)"
  echo "rank_fails: exit $st after $(( $(date +%s) - start )) s:"
  grep "rank 1 of 2" fails.log | head -2
  ;;
kill_resume)
  LONG=(trainer.epochs=40 trainer.checkpoint_every=4 eval.every=0 model.sync_bn=true)
  "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" "${LONG[@]}" run.name=ref run.results=ref.csv --quiet \
    > ref.log 2>&1 || fail "uninterrupted run: $(tail -3 ref.log)"
  timeout 300 "${MPIRUN[@]}" sh -c 'echo $$ > pid.$OMPI_COMM_WORLD_RANK; exec "$@"' sh "$SG" train \
    "${SETTING[@]}" "${LONG[@]}" run.name=k run.results=k.csv --quiet > killed.log 2>&1 &
  job=$!
  for _ in $(seq 600); do # until a few checkpoints were written
    [ -f runs/k/steps.csv ] && [ "$(wc -l < runs/k/steps.csv)" -gt 60 ] && break
    sleep 0.1
  done
  [ -f pid.1 ] || fail "rank 1 never started: $(tail -3 killed.log)"
  kill -9 "$(cat pid.1)"
  wait $job
  st=$?
  [ $st = 124 ] && fail "the job hung after rank 1 was killed"
  [ $st != 0 ] || fail "the job finished although rank 1 was killed (too late?)"
  grep -qi "rank 1" killed.log || fail "the job's end does not name rank 1: $(tail -5 killed.log)"
  echo "killed rank 1 at step $(( $(wc -l < runs/k/steps.csv) - 1 )): job exit $st"
  grep -i "rank 1" killed.log | head -2
  "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" "${LONG[@]}" run.name=k run.results=k.csv --quiet \
    --resume > resumed.log 2>&1 || fail "resume under N=2: $(tail -3 resumed.log)"
  same_run ref k
  [ "$(grep -c '^k,' k.csv)" = 1 ] || fail "the resumed run is not recorded exactly once in k.csv"
  echo "kill_resume: resumed under N=2, bit-identical to the uninterrupted run, recorded once"
  ;;
suite)
  cat > dp.suite <<'EOS'
base = data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16 data.synthetic_classes=4
base = model.width=0.0625 model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16
base = trainer.batch=8 trainer.epochs=1 trainer.threads=1 data.workers=0 eval.probe_epochs=2
base = eval.knn_k=5
run one = trainer.ranks=0
run two = trainer.ranks=2 model.sync_bn=true
seeds = 1
expect finite_loss: one,two final_loss > -100
EOS
  # the runner's mpirun inherits these: two ranks on a machine that may have fewer cores
  export OMPI_MCA_rmaps_base_oversubscribe=1
  [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  "$SG" suite run ./dp.suite --out out --quiet > suite.log 2>&1 || fail "suite run: $(tail -5 suite.log)"
  grep -q "mpirun -np 2 .* train .*dp-two-s1.cfg" suite.log || fail "the ranks=2 run was not started with mpirun: $(grep two suite.log | head -3)"
  # ranks is the 4th column from the end (ranks, ranks_per_node, mpi, nccl: no commas), while
  # cells before it may hold quoted commas
  [ "$(head -1 out/results.csv 2> /dev/null | awk -F, '{ print $(NF-3) }')" = ranks ] || fail "no ranks column 4th from the end"
  got=$(tail -n +2 out/results.csv | awk -F, '{ print $1 ":" $(NF-3) }' | sort | tr '\n' ' ')
  [ "$got" = "dp-one-s1:1 dp-two-s1:2 " ] || fail "results rows (run:ranks): $got"
  "$SG" suite run ./dp.suite --out out --quiet > again.log 2>&1 || fail "second suite run: $(tail -3 again.log)"
  [ "$(tail -n +2 out/results.csv | wc -l)" = 2 ] || fail "the second suite run recorded rows again"
  rm out/results.csv
  "$SG" suite submit ./dp.suite --slurm --out out --dry-run > dp.sbatch 2>/dev/null || fail "suite submit --dry-run"
  grep -q "^#SBATCH --ntasks=2$" dp.sbatch || fail "the job array does not ask for 2 tasks: $(grep SBATCH dp.sbatch)"
  echo "suite: the ranks=2 run went through mpirun and was recorded once (ranks 2), the array asks for --ntasks=2"
  ;;
nccl)
  "$SG" version | grep -q "NCCL: yes" ||
    { echo "SKIP: this stopgrad was built without NCCL (or without the CUDA backend)"; exit 77; }
  command -v nvidia-smi >/dev/null || { echo "SKIP: nvidia-smi not found: no NVIDIA driver here"; exit 77; }
  gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ')
  if [ -n "${CUDA_VISIBLE_DEVICES+x}" ]; then # the GPUs this process may use
    vis=$(tr ',' '\n' <<< "$CUDA_VISIBLE_DEVICES" | grep -c .)
    [ "$vis" -lt "$gpus" ] && gpus=$vis
  fi
  [ "$gpus" -ge 2 ] || { echo "SKIP: NCCL needs one GPU per rank, 2 GPUs: nvidia-smi -L lists $gpus"; exit 77; }
  # agree's comparison on the CUDA backend: its tolerance (derived there) holds for the same
  # reasons; the gradient sum of two ranks is a + b in any order, over NCCL as over MPI
  TOL=1e-4
  CUDA=(trainer.backend=cuda trainer.max_steps=3)
  "$SG" train "${SETTING[@]}" "${CUDA[@]}" run.name=n1 run.results=r.csv --quiet > n1.log 2>&1 ||
    fail "N=1 CUDA run: $(tail -3 n1.log)"
  "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" "${CUDA[@]}" model.sync_bn=true run.name=n2sync \
    run.results=r.csv --quiet > n2sync.log 2>&1 || fail "N=2 CUDA sync BN run: $(tail -3 n2sync.log)"
  "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" "${CUDA[@]}" run.name=n2rank run.results=r.csv \
    --quiet > n2rank.log 2>&1 || fail "N=2 CUDA per-rank BN run: $(tail -3 n2rank.log)"
  grep -q "trainer.ranks = 2" runs/n2sync/config.cfg || fail "config.cfg does not record trainer.ranks = 2"
  # the sums went over NCCL (machine.csv's last column, nccl), rank 0 on device 0
  ver=$(tail -1 runs/n2sync/machine.csv | awk -F, '{ print $NF }')
  [ -n "$ver" ] || fail "machine.csv of the N=2 run names no NCCL version (NCCL not used): $(grep -i nccl n2sync.log | head -2)"
  grep -q ", device 0 (local rank 0 of 2)" runs/n2sync/machine.csv ||
    fail "machine.csv does not say that rank 0 took device 0: $(tail -1 runs/n2sync/machine.csv)"
  diffmax() { paste -d, <(cut -d, -f3 runs/n1/steps.csv) <(cut -d, -f3 "runs/$1/steps.csv") |
              awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m }'; }
  ds=$(diffmax n2sync) dr=$(diffmax n2rank)
  echo "CUDA, NCCL $ver: losses of steps 0-2, N=1 | N=2 sync BN | N=2 per-rank BN:"
  paste -d' ' <(cut -d, -f3 runs/n1/steps.csv) <(cut -d, -f3 runs/n2sync/steps.csv) <(cut -d, -f3 runs/n2rank/steps.csv)
  echo "max |difference| against N=1: sync BN $ds, per-rank BN $dr (tolerance $TOL)"
  awk -v d="$ds" -v t=$TOL 'BEGIN { exit !(d <= t) }' || fail "N=2 CUDA with sync BN differs from N=1 by $ds > $TOL"
  awk -v d="$dr" -v t=$TOL 'BEGIN { exit !(d > t) }' || fail "N=2 CUDA per-rank BN agrees with N=1 ($dr): the comparison cannot tell"
  for n in a b; do
    "${MPIRUN[@]}" "$SG" train "${SETTING[@]}" trainer.backend=cuda trainer.epochs=3 model.sync_bn=true \
      run.name=$n run.results=$n.csv --quiet > $n.log 2>&1 || fail "CUDA run $n: $(tail -3 $n.log)"
  done
  same_run a b
  echo "nccl: two N=2 CUDA runs over NCCL (sync BN, 24 steps) are bit-identical: steps.csv, epochs.csv, checkpoint.bin"
  ;;
*) fail "unknown part $PART" ;;
esac
echo "1 passed, 0 failed"
