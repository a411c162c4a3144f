#!/usr/bin/env bash
# tests/faults.sh STOPGRAD DIR: the fault tests, each a property that must hold whatever the
# moment of the fault (the moments are random and printed, so a failure can be replayed):
#   kill_resume  SIGKILL at random moments of `stopgrad train` (its checkpoint and results
#                writes included), resumed until it finishes: its steps.csv, epochs.csv (less
#                the wall-clock columns) and checkpoint.bin are byte for byte the uninterrupted
#                run's, its result is recorded once, no temporary file is left;
#   suite_kill   `stopgrad suite run` killed at random moments and run again: every row once;
#   full_disk    a file-size limit (ulimit -f) that a run's writes exceed: the run fails naming
#                the file, the files written before are intact, no temporary file is left.
# Usage from ctest (tests/cli.cmake): one test per part, `bash tests/faults.sh SG DIR PART`.
set -uo pipefail
SG=$1 DIR=$2 PART=$3
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

# the tiny setting of tests/ssl/test_train_resume.c, with a checkpoint every 3 steps
SETTING=(data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16 data.synthetic_classes=4
         model.width=0.0625 model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16
         trainer.batch=8 trainer.epochs=20 trainer.threads=2 data.workers=1 eval.probe_epochs=3
         eval.knn_k=5 trainer.checkpoint_every=3 predictor.kind=directpred run.dir=runs)

# the CSV without its wall-clock columns (seconds, img_per_s, data_wait_*)
untimed() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = !($i == "seconds" || $i == "img_per_s" || $i ~ /^data_wait/) }
           { o = ""; for (i = 1; i <= NF; i++) if (keep[i]) o = o $i ","; print o }' "$1"
}

no_temporaries() {
  local left
  left=$(find "$1" -name '*.tmp.*' | head -3)
  [ -z "$left" ] || fail "temporary files left: $left"
}

case "$PART" in
kill_resume)
  "$SG" train "${SETTING[@]}" run.name=ref run.results=ref.csv --quiet > ref.log 2>&1 ||
    fail "the uninterrupted run: $(tail -2 ref.log)"
  for trial in 1 2 3 4 5 6; do
    name=k$trial
    args=("${SETTING[@]}" run.name=$name run.results=k.csv --quiet)
    resume=()
    for kill in 1 2 3; do
      delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.02 + (r % 110) / 100 }')
      "$SG" train "${args[@]}" "${resume[@]}" > "$name.log" 2>&1 &
      pid=$!
      sleep "$delay"
      kill -9 $pid 2>/dev/null && echo "trial $trial: killed after $delay s"
      wait $pid 2>/dev/null
      [ -e "runs/$name/steps.csv" ] && resume=(--resume)
    done
    "$SG" train "${args[@]}" "${resume[@]}" > "$name.log" 2>&1 ||
      grep -q "already has a result for run $name" "$name.log" ||
      fail "trial $trial: the final resume: $(tail -2 $name.log)"
    for f in steps.csv epochs.csv; do
      cmp -s <(untimed runs/ref/$f) <(untimed runs/$name/$f) || fail "trial $trial: $f differs"
    done
    cmp -s runs/ref/checkpoint.bin runs/$name/checkpoint.bin || fail "trial $trial: checkpoint differs"
    no_temporaries runs/$name
  done
  [ "$(tail -n +2 k.csv | cut -d, -f1 | sort | uniq -d)" = "" ] || fail "a run recorded twice"
  [ "$(tail -n +2 k.csv | wc -l)" = 6 ] || fail "$(tail -n +2 k.csv | wc -l) result rows, expected 6"
  echo "kill_resume: 6 trials, each bit-identical to the uninterrupted run, each recorded once"
  ;;
suite_kill)
  cat > tiny.suite <<EOF
base = ${SETTING[*]}
run a = method.name=byol
run b = method.name=simsiam
run c = predictor.kind=mlp
seeds = 1 2
EOF
  sed -i 's/run.dir=runs//' tiny.suite
  for kill in 1 2 3; do
    delay=$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 300) / 100 }')
    # its own process group, so that one kill takes the parallel children too
    setsid "$SG" suite run ./tiny.suite --out out --jobs 2 --quiet > suite.log 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 -- -$pid 2>/dev/null
    wait $pid 2>/dev/null
    echo "suite killed after $delay s"
  done
  "$SG" suite run ./tiny.suite --out out --jobs 2 --quiet > suite.log 2>&1
  [ $? -le 1 ] || fail "the suite's last run: $(tail -3 suite.log)"
  [ "$(tail -n +2 out/results.csv | cut -d, -f1 | sort | uniq -d)" = "" ] || fail "a run recorded twice"
  n=$(tail -n +2 out/results.csv | wc -l)
  [ "$n" = 6 ] || fail "$n result rows, expected 6"
  no_temporaries out
  echo "suite_kill: killed 3 times, rerun: 6 rows, each once"
  ;;
full_disk)
  "$SG" train "${SETTING[@]}" run.name=before run.results=r.csv --quiet > before.log 2>&1 ||
    fail "the first run: $(tail -2 before.log)"
  cp r.csv r.before
  # 160 KiB: the run's CSVs fit (a few KiB), its checkpoint (about 550 KiB) does not
  (ulimit -f 160; "$SG" train "${SETTING[@]}" run.name=after run.results=r.csv --quiet) > after.log 2>&1
  st=$?
  [ $st -ne 0 ] || fail "a run over the file-size limit succeeded"
  grep -q "File too large" after.log || fail "the failure does not say why: $(tail -2 after.log)"
  grep -q "checkpoint.bin" after.log || fail "the failure does not name the file: $(tail -2 after.log)"
  cmp -s r.csv r.before || fail "the earlier results file changed"
  [ ! -e runs/after/checkpoint.bin ] || fail "a partial checkpoint is in place"
  no_temporaries .
  echo "full_disk: the run failed naming the file (exit $st), earlier files intact, no temporary files"
  ;;
*) fail "unknown part $PART" ;;
esac
echo "1 passed, 0 failed"
