#!/usr/bin/env bash
# ci/main-job-smoke.sh: the README's first command, `bash scripts/setup.sh && ./build/stopgrad
# suite run quick --jobs 2`, on this checkout at smoke size (3 steps a run, a 1-epoch probe on
# 1000 images), so that a set-up error (a missing package, a folder a fresh clone lacks, a
# suite that no longer parses) fails CI instead of a new user's first ten minutes.
#
# On a clean clone results/runs/ does not exist, and the suite writes to its default folder
# results/runs/quick, as the README's command does. In a working tree that already holds the
# quick suite's real results, it writes to a fresh nested temporary folder instead.
# At 3 steps the suite's expectations (learning, collapse) cannot hold: exit 1 from the suite is
# expected; exit 2 (bad usage or input, a set-up error) or a crash fails, and so does a results
# file without one row per run.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "main-job smoke: scripts/setup.sh failed" >&2; exit 1; }

out=results/runs/quick
args=()
if [ -e "$out" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  out=$tmp/not/yet/made/quick
  args=(--out "$out")
fi
smoke=(trainer.max_steps=3 eval.probe_epochs=1 eval.train_limit=1000 eval.test_limit=1000)

echo "main-job smoke: ./build/stopgrad suite run quick --jobs 2 ${args[*]} ${smoke[*]}"
./build/stopgrad suite run quick --jobs 2 "${args[@]}" "${smoke[@]}"
rc=$?
if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
  echo "main-job smoke: FAILED: the suite exited with $rc (2: bad usage or input; other: a crash)" >&2
  exit 1
fi
# one row per (run, seed): the suite's runs times its seeds
runs=$(( $(grep -c '^run ' suites/quick.suite) * $(sed -n 's/^seeds *= *//p' suites/quick.suite | wc -w) ))
rows=$(($(wc -l < "$out/results.csv") - 1))
if [ "$rows" != "$runs" ]; then
  echo "main-job smoke: FAILED: $out/results.csv has $rows rows, the suite has $runs (run, seed) pairs" >&2
  exit 1
fi
echo "main-job smoke: passed (suite exit $rc at smoke size; $rows of $runs (run, seed) pairs recorded in $out)"
