#!/usr/bin/env bash
# ci/bench-regression.sh: what a user's CI runs to catch performance regressions.
#
#   bash ci/bench-regression.sh [--backend cpu|cuda] [--suite NAME] [--out DIR] [--update-baseline]
#
# 1. `stopgrad bench SUITE` (default kernels-ci, a few minutes on 2 cores): every kernel of the
#    CPU-scale configurations, validated then timed, plus the whole steps, into DIR/bench.csv
#    (and Google Benchmark's DIR/bench.json).
# 2. The baseline for this machine: results/baselines/MACHINEID-SUITE-BACKEND.csv (the machine id
#    is the hardware hash `stopgrad machine` prints, so a baseline is only ever compared with the
#    same hardware). With one, `stopgrad compare BASELINE DIR/bench.csv` fails the job when a
#    kernel or step is slower by more than THRESHOLD (default 0.10) at p < 0.01 (Mann-Whitney
#    over the repetitions). The suite runs with --interleave, so load from elsewhere spreads
#    over many benchmarks; on a shared VM set THRESHOLD=0.3 (measured on the development VM:
#    a rerun of the same build then passes, while one thread instead of two fails 18 kernels).
#    Without one, the job says so and passes: commit DIR/bench.csv as the baseline
#    (--update-baseline copies it into place) from a run you trust.
# 3. `stopgrad report` of the baseline and the new run: DIR/report.md, DIR/report.png and the
#    roofline DIR/roofline.png.
# 4. The history (HISTORY, default results/history.sqlite; the workflow keeps it between runs as
#    an artifact): `stopgrad history add DIR/bench.csv`, then `stopgrad history regress`, which
#    names the commit where a slowdown began over the whole series, and the static site
#    `stopgrad history html --out DIR/history`.
# Exit status: 1 when the comparison or the history found a regression (or a kernel is missing),
# else 0.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=cpu
SUITE=kernels-ci
OUT=ci-bench-out
UPDATE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --backend) BACKEND=$2; shift 2 ;;
        --suite) SUITE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --update-baseline) UPDATE=1; shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-regression.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
SG=${SG:-./build/stopgrad}
[ -x "$SG" ] || { echo "bench-regression.sh: $SG not found: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$OUT"
rm -f "$OUT/bench.csv" "$OUT/bench.json"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
"$SG" bench "$SUITE" --backend "$BACKEND" --interleave --quiet --out "$OUT/bench.csv" \
    --json "$OUT/bench.json"
ID=$("$SG" machine --backend "$BACKEND" | awk '/^machine_id:/ {print $2}')
BASE=results/baselines/$ID-$SUITE-$BACKEND.csv
if [ "$UPDATE" = 1 ]; then
    mkdir -p results/baselines
    cp "$OUT/bench.csv" "$BASE"
    echo "baseline written: $BASE (commit it)"
    exit 0
fi
HISTORY=${HISTORY:-results/history.sqlite}
rc=0
"$SG" history add "$OUT/bench.csv" --db "$HISTORY" || rc=$?
if [ "$rc" = 0 ]; then
    "$SG" history regress --db "$HISTORY" --threshold "${THRESHOLD:-0.10}" \
        --csv "$OUT/history-regress.csv" || rc=$?
    "$SG" history html --db "$HISTORY" --out "$OUT/history" --threshold "${THRESHOLD:-0.10}" \
        || echo "(history html: see above)"
fi
if [ ! -f "$BASE" ]; then
    echo "no baseline for machine $ID ($BASE): nothing to compare; rerun with --update-baseline"
    echo "on a trusted build and commit the file to enable the two-run comparison"
    exit $rc
fi
"$SG" compare "$BASE" "$OUT/bench.csv" --threshold "${THRESHOLD:-0.10}" --csv "$OUT/compare.csv" || rc=$?
"$SG" report "$BASE" "$OUT/bench.csv" --out "$OUT/report" --force || echo "(report: see above)"
exit $rc
