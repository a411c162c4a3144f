#!/usr/bin/env bash
# scripts/gpu-check.sh: everything the CUDA backend must show on a machine with a GPU, in one go
# (within its budget, nine minutes by default, on one H100 or H200): build, the backend tests (kernel parity against the
# double-precision references, the PyTorch fixtures of the training step, determinism and
# agreement with the CPU backend), the kernel suite, a short STL-10-shaped training run on
# synthetic data in STL-10's exact file format, and the same step in PyTorch when it has CUDA.
# Every part has its own time limit; a failing part is recorded and the rest still runs.
#
#   scripts/gpu-check.sh [--out DIR] [--build-dir DIR] [--prebuilt DIR] [--quick] [--budget S]
#
#   --out DIR        where the logs, CSVs and summary.txt go (default gpu-check-out)
#   --build-dir DIR  CMake build folder (default build-gpu)
#   --prebuilt DIR   skip the build: DIR holds stopgrad and the test programs built elsewhere
#                    (scripts/gpu-bundle.sh makes one), with their shared libraries in DIR/lib
#   --quick          the kernel suite on STL-10 only, fewer repetitions
#   --budget S       the whole check's time in seconds, build included (default 540: nine
#                    minutes); each part's time box shrinks to what is left
#
# Exit status: 0 when every part passed, 1 otherwise. summary.txt says which.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=gpu-check-out
BUILD=build-gpu
PREBUILT=""
QUICK=0
BUDGET=540
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT=$2; shift 2 ;;
        --build-dir) BUILD=$2; shift 2 ;;
        --prebuilt) PREBUILT=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --budget) BUDGET=$2; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu-check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$BUDGET" in
    ''|*[!0-9]*) echo "gpu-check.sh: --budget takes whole seconds, got '$BUDGET'" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
FAILED=0
T0=$(date +%s)

note() { echo "$*" | tee -a "$SUMMARY"; }

# part NAME LIMIT_SECONDS COMMAND...: runs it with its output in $OUT/NAME.log, records the verdict.
# A part never runs past the whole check's budget (--budget): its limit shrinks to what is left,
# and with less than 10 s left it is recorded as not run, so the summary always lists every part.
part() {
    local name=$1 limit=$2; shift 2
    local left=$(( BUDGET - ($(date +%s) - T0) ))
    if [ "$left" -lt 10 ]; then
        note "$(printf '%-28s %-32s' "$name" "FAIL (not run: budget of ${BUDGET}s spent)")"
        FAILED=1
        return 124
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local t=$(date +%s) rc
    echo "== $name ($*)" > "$OUT/$name.log"
    timeout --kill-after=10 "$limit" "$@" >> "$OUT/$name.log" 2>&1
    rc=$?
    local dt=$(( $(date +%s) - t ))
    local verdict=PASS
    if [ $rc -eq 77 ]; then verdict="SKIP"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then verdict="FAIL (timed out after ${limit}s)"; FAILED=1
    elif [ $rc -ne 0 ]; then verdict="FAIL (exit $rc)"; FAILED=1
    fi
    note "$(printf '%-28s %-32s %5ss' "$name" "$verdict" "$dt")"
    tail -n 3 "$OUT/$name.log" | sed 's/^/    /' >> "$SUMMARY"
    return $rc
}

note "stopgrad gpu-check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo no-git)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader \
    2>/dev/null | sed 's/^/gpu: /' | tee -a "$SUMMARY"

if [ -n "$PREBUILT" ]; then
    BIN=$(cd "$PREBUILT" && pwd)
    export LD_LIBRARY_PATH="$BIN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    note "binaries: prebuilt in $BIN"
    # shared libraries the bundle left to this machine (the CUDA libraries of its toolkit)
    for lib in $(ldd "$BIN/stopgrad" | awk '/not found/ {print $1}'); do
        hit=$(find /usr/local /usr/lib /opt -name "$lib" 2>/dev/null | head -n 1)
        if [ -n "$hit" ]; then
            export LD_LIBRARY_PATH="$(dirname "$hit"):$LD_LIBRARY_PATH"
        else
            note "missing shared library $lib"
        fi
    done
else
    BIN=$ROOT/$BUILD
    part build 600 bash -c "cmake -S '$ROOT' -B '$BIN' -DCMAKE_BUILD_TYPE=Release -DSG_WERROR=ON \
        -DSG_CUDA=ON && cmake --build '$BIN' -j $(nproc)" || { note "build failed: stop"; exit 1; }
fi
SG=$BIN/stopgrad
export SG_SOURCE_DIR=$ROOT OMP_WAIT_POLICY=passive
part machine 60 "$SG" machine --backend cuda --csv "$OUT/machine.csv"

# the backend tests: the same programs ctest runs, on the cuda backend
part parity 120 "$BIN/test_backend_parity" cuda
part pytorch_fixtures 60 "$BIN/test_pytorch_fixtures" cuda
part determinism 60 "$BIN/test_backend_determinism" cuda
part step_graph 60 "$BIN/test_step_graph" cuda
part aug_views 60 "$BIN/test_aug_views" cuda
SUITE="$ROOT/suites/kernels-gpu-check.bench"
if [ $QUICK -eq 1 ]; then
    BENCH_CONFIGS="stl10"; REPS=3
else
    BENCH_CONFIGS="stl10 stl10_tf32 stl10_bf16 stl10_directpred cifar10 fmnist"; REPS=5
fi

# the headline numbers first, so that a check cut short by its budget still has them: the whole
# STL-10 step in each precision, eager and as a CUDA Graph, side by side in one run...
part bench_steps 120 "$SG" bench "$SUITE" --backend cuda --steps-only \
    --configs stl10,stl10_tf32,stl10_bf16,stl10_graph,stl10_bf16_graph,stl10_directpred,stl10_directpred_bf16,stl10_directpred_bf16_graph \
    --repetitions $REPS \
    --min-time 0.05 --quiet --out "$OUT/bench_steps.csv"
# ... and the same step in PyTorch on this GPU, when PyTorch has CUDA, in each precision
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    for prec in fp32 tf32 bf16; do
        part "pytorch_step_$prec" 60 env -u LD_LIBRARY_PATH python3 scripts/peer_pytorch_step.py --device cuda \
            --size 96 --batch 128 --steps 20 --warmup 5 --precision $prec
    done
else
    note "pytorch_step                 SKIP (no PyTorch with CUDA here)"
fi
# step time (median) of config $1 in the steps run, in ms, or nothing
step_ms() {
    awk -F, -v c="$1" 'NR > 1 && $5 == "step" && $6 == c && $13 != "" { printf "%.2f", $13 * 1000 }' \
        "$OUT/bench_steps.csv" 2>/dev/null
}
# stopgrad against PyTorch per precision (eager, and as a graph where the suite has one), and
# the graph against the eager step
for prec in fp32 tf32 bf16; do
    cfg=stl10; [ $prec != fp32 ] && cfg=stl10_$prec
    pt_ms=$(sed -n 's/.*median \([0-9.]*\) ms\/step.*/\1/p' "$OUT/pytorch_step_$prec.log" 2>/dev/null | tail -n 1)
    for c in $cfg ${cfg}_graph; do
        sg_ms=$(step_ms "$c")
        [ "$c" != "$cfg" ] && [ -z "$sg_ms" ] && ! grep -q "^config $c " "$SUITE" && continue
        if [ -n "$sg_ms" ] && [ -n "$pt_ms" ]; then
            note "$(awk -v p="$c" -v s="$sg_ms" -v t="$pt_ms" 'BEGIN { printf "ratio %s: stopgrad %.2f ms/step, pytorch %.2f ms/step: stopgrad %.2fx pytorch", p, s, t, t / s }')"
        else
            note "ratio $c: not measured (stopgrad '${sg_ms:-none}', pytorch '${pt_ms:-none}')"
        fi
    done
    eager=$(step_ms "$cfg") graph=$(step_ms "${cfg}_graph")
    [ -n "$eager" ] && [ -n "$graph" ] && note "$(awk -v p="$cfg" -v e="$eager" -v g="$graph" 'BEGIN { printf "graph %s: eager %.2f ms/step, graph %.2f ms/step: %.2fx", p, e, g, e / g }')"
done

# the 100-epoch STL-10 run projected from each measured step: 100 epochs of 820 steps (105,000
# images at batch 128), GPU time only (the training parts below show whether data keeps up)
for c in stl10 stl10_tf32 stl10_bf16 stl10_graph stl10_bf16_graph stl10_directpred \
         stl10_directpred_bf16 stl10_directpred_bf16_graph; do
    ms=$(step_ms "$c")
    [ -n "$ms" ] && note "$(awk -v c="$c" -v m="$ms" 'BEGIN { printf "projection %s: 100 epochs x 820 steps x %.2f ms = %.1f min", c, m, 82000 * m / 60000 }')"
done

part selfcheck 60 "$SG" selfcheck --backend cuda --csv "$OUT/selfcheck.csv"
part selfcheck_gflops 60 "$SG" selfcheck --backend cuda --gflops

# the kernel suite: one part per configuration, each with its own time box and CSV, so a
# configuration that runs out of time loses only itself (the kernel suite writes its CSV at the
# end); ResNet-50 ImageNet last, with fewer repetitions
for cfg in $BENCH_CONFIGS; do
    part "bench_$cfg" 90 "$SG" bench "$SUITE" --backend cuda --configs "$cfg" --repetitions $REPS \
        --min-time 0.02 --quiet --out "$OUT/bench_$cfg.csv"
done
[ $QUICK -eq 1 ] || part bench_imagenet 120 "$SG" bench "$SUITE" --backend cuda --configs imagenet \
    --repetitions 3 --min-time 0.01 --quiet --out "$OUT/bench_imagenet.csv"
cat "$OUT"/bench*.log | grep -E "^(step|     eigen|ceiling)" | sed 's/^/    /' >> "$SUMMARY"

# a short STL-10-shaped run: synthetic images in STL-10's files, the real loader and augmentation
DATA=$OUT/stl10-fake
part fake_data 60 "$SG" data fake stl10 "$DATA" --n 3000
WORKERS=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))
part train 150 "$SG" train --backend cuda --quiet data.dataset=stl10 data.dir="$DATA" \
    trainer.batch=128 trainer.epochs=1 trainer.max_steps=150 data.workers=$WORKERS \
    eval.probe=false eval.knn=false run.dir="$OUT/runs" run.name=stl10-gpu-check \
    run.results="$OUT/runs/results.csv"
# the same with the views made on the GPU (the workers only decode): compare img/s and data wait
part train_aug_on_gpu 90 "$SG" train --backend cuda --quiet data.dataset=stl10 data.dir="$DATA" \
    trainer.batch=128 trainer.epochs=1 trainer.max_steps=100 data.workers=$WORKERS \
    data.augment_on=backend eval.probe=false eval.knn=false run.dir="$OUT/runs" \
    run.name=stl10-gpu-check-aug-on-gpu run.results="$OUT/runs/results.csv"
# and with the step as a CUDA Graph too (against train_aug_on_gpu: the graph's share)
part train_graph 90 "$SG" train --backend cuda --quiet data.dataset=stl10 data.dir="$DATA" \
    trainer.batch=128 trainer.epochs=1 trainer.max_steps=100 data.workers=$WORKERS \
    data.augment_on=backend trainer.graph=true eval.probe=false eval.knn=false run.dir="$OUT/runs" \
    run.name=stl10-gpu-check-graph run.results="$OUT/runs/results.csv"
if [ -f "$OUT/runs/results.csv" ]; then
    python3 - "$OUT/runs/results.csv" <<'PY' | tee -a "$SUMMARY"
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(f"    train {r['run_id']}: {r['steps']} steps, final loss {float(r['final_loss']):.4f}, "
          f"{float(r['img_per_s']):.1f} img/s, data wait {100 * float(r['data_wait_frac']):.1f}%")
PY
fi

note "total $(( $(date +%s) - T0 ))s; $( [ $FAILED -eq 0 ] && echo 'every part passed' || echo 'SOME PARTS FAILED')"
exit $FAILED
