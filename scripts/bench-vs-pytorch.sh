#!/usr/bin/env bash
# scripts/bench-vs-pytorch.sh: the BYOL training step in stopgrad and in PyTorch on this
# machine, the two alternated ROUNDS times (so load from elsewhere falls on both), and the ratio
# of their median step times (above 1: stopgrad is faster).
#
#   bash scripts/bench-vs-pytorch.sh [CONFIG] [--threads N] [--rounds R] [--build DIR]
#                                    [--breakdown]
#
#   CONFIG, one of suites/kernels-cpu.bench's configurations:
#   stl10            ResNet-18 with the 7x7/2 stem at 96x96, batch 64 (conv.algo default)
#   stl10_winograd   the same with conv.algo=winograd
#   stl10_dnnl       the same with conv.algo=dnnl (oneDNN)
#   stl10_auto       the same with conv.algo=auto (each layer's fastest of im2col, winograd, dnnl)
#   fmnist           the quick suite's model: ResNet-18 at 1/8 width, CIFAR stem, 20x20, batch 64
#   fmnist_winograd  the same with conv.algo=winograd
#   fmnist_dnnl      the same with conv.algo=dnnl
#   fmnist_auto      the same with conv.algo=auto (each layer's fastest, as the quick suite runs)
#   stl10_gemm_dnnl, stl10_auto_gemm_dnnl, fmnist_auto_gemm_dnnl
#                    as without the suffix, every sgemm oneDNN's (gemm.impl=dnnl)
# Heads as stopgrad's defaults (projector 512-512-128, predictor 128-512-128) on both sides;
# data loading excluded on both sides. --breakdown then times every kernel of stopgrad's step
# once (stopgrad bench) and prints the kernels with the largest share of it.
# Needs Debian's python3-torch (/usr/bin/python3); set OMP_WAIT_POLICY=passive on a shared box.
set -euo pipefail
cd "$(dirname "$0")/.."

config=stl10 threads=2 rounds=5 build=build breakdown=0
while [ $# -gt 0 ]; do
  case "$1" in
    stl10*|fmnist*) config=$1 ;;
    --threads) threads=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --build) build=$2; shift ;;
    --breakdown) breakdown=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench-vs-pytorch.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
grep -q "^config $config = " suites/kernels-cpu.bench ||
  { echo "bench-vs-pytorch.sh: no configuration '$config' in suites/kernels-cpu.bench (see --help)" >&2; exit 2; }
[ -x "$build/stopgrad" ] || { echo "bench-vs-pytorch.sh: no $build/stopgrad (bash scripts/setup.sh)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "bench-vs-pytorch.sh: PyTorch missing (apt-get install python3-torch)" >&2; exit 2; }

case "$config" in
  stl10*) peer=(--size 96 --batch 64) ;;
  fmnist*) peer=(--size 20 --batch 64 --width 0.125 --cifar-stem) ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sg_ms=() pt_ms=()
for i in $(seq 1 "$rounds"); do
  "$build/stopgrad" bench kernels-cpu --configs "$config" --steps-only --threads "$threads" \
    --repetitions 3 --quiet --out "$tmp/sg-$i.csv" > "$tmp/sg-$i.log" 2>&1 ||
    { cat "$tmp/sg-$i.log" >&2; exit 1; }
  # the step row: kind "step"; median_s is column 13 of the kernel-suite CSV
  s=$(awk -F, -v c="$config" 'NR > 1 && $5 == "step" && $6 == c { printf "%.2f", $13 * 1000 }' "$tmp/sg-$i.csv")
  p=$(/usr/bin/python3 scripts/peer_pytorch_step.py "${peer[@]}" --threads "$threads" --steps 5 \
        2>&1 | sed -n 's/.*median \([0-9.]*\) ms\/step.*/\1/p')
  [ -n "$s" ] && [ -n "$p" ] || { echo "bench-vs-pytorch.sh: round $i gave no time" >&2; exit 1; }
  sg_ms+=("$s") pt_ms+=("$p")
  echo "round $i: stopgrad $s ms/step, pytorch $p ms/step"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ms=$(median "${sg_ms[@]}") mp=$(median "${pt_ms[@]}")
awk -v s="$ms" -v p="$mp" -v c="$config" -v t="$threads" -v r="$rounds" 'BEGIN {
  printf "%s, %d thread(s), %d rounds: stopgrad %.1f ms/step (%.1f img/s), pytorch %.1f ms/step (%.1f img/s): stopgrad %.2fx pytorch\n",
         c, t, r, s, 64000 / s, p, 64000 / p, p / s }'

if [ "$breakdown" = 1 ]; then
  "$build/stopgrad" bench kernels-cpu --configs "$config" --threads "$threads" --quiet \
    --out "$tmp/breakdown.csv" > "$tmp/breakdown.log" 2>&1 || { cat "$tmp/breakdown.log" >&2; exit 1; }
  echo "largest shares of stopgrad's step (share, kernel, shape, GFLOP/s, fraction of the sgemm ceiling):"
  # by column name: a shape holds commas, so the CSV's quoting has to be read
  /usr/bin/python3 - "$tmp/breakdown.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["kind"] == "kernel" and r["share_of_step"]]
rows.sort(key=lambda r: -float(r["share_of_step"]))
for r in rows[:15]:
    frac = f"{float(r['frac_sgemm']):.2f}" if r["frac_sgemm"] else "-"
    print(f"{100 * float(r['share_of_step']):6.1f}%  {r['kernel']:<18} {r['shape']:<72} "
          f"{float(r['gflops'] or 0):8.1f} {frac:>5}")
PY
fi
