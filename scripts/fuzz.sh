#!/usr/bin/env bash
# scripts/fuzz.sh: builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, in build-fuzz/)
# and runs them.
#   bash scripts/fuzz.sh                     every target, 60 s each
#   bash scripts/fuzz.sh TARGET [SECONDS]    one target (default 60 s); TARGET "all": every one
#   bash scripts/fuzz.sh --ci [SECONDS]      every target SECONDS each (default 8): what CI runs;
#                                            skipped, saying why, when clang lacks libFuzzer
#   bash scripts/fuzz.sh --seeds             rewrites the seeds tests/fuzz/corpus/*/seed-*
#   bash scripts/fuzz.sh --list              the targets
# A target reads its committed corpus tests/fuzz/corpus/TARGET/ (seeds, and the input of every
# crash found so far) and grows a working corpus in build-fuzz/corpus/TARGET/. A crash (or a
# failed property, a leak, a timeout, running out of memory) is saved as
# build-fuzz/crashes/TARGET/crash-* and the script exits 1: fix it, and add the input to
# tests/fuzz/corpus/TARGET/ so that the ctest fuzz.TARGET replays it in every build from then on.
# Each run prints: target, seconds, executions, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(stl10 cifar idx jpeg config suite bench csv compare report check checkpoint)
BUILD=build-fuzz
jobs=$(nproc)
[ "$jobs" -gt 2 ] || jobs=2

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

mode=run
seconds=60
selected=("${TARGETS[@]}")
case "${1:-}" in
  --help|-h) usage ;;
  --list) printf '%s\n' "${TARGETS[@]}"; exit 0 ;;
  --seeds) mode=seeds ;;
  --ci) mode=ci; seconds=${2:-8} ;;
  ""|all) seconds=${2:-60} ;;
  *)
    found=0
    for t in "${TARGETS[@]}"; do [ "$t" = "$1" ] && found=1; done
    if [ $found = 0 ]; then
      echo "fuzz.sh: unknown target '$1' (expected one of: ${TARGETS[*]}, all)" >&2
      exit 2
    fi
    selected=("$1")
    seconds=${2:-60} ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: SECONDS must be a whole number >= 1, got '$seconds'" >&2
  exit 2
fi

# libFuzzer ships with clang's runtime (Debian: clang and libclang-rt-dev, scripts/setup.sh).
why_not=""
if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  why_not="clang is not installed (scripts/setup.sh installs it)"
else
  probe=$(mktemp -d)
  printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
  if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
    why_not="clang cannot link libFuzzer ($(head -n1 "$probe/err")); Debian's libclang-rt-dev provides it"
  fi
  rm -rf "$probe"
fi
if [ -n "$why_not" ]; then
  if [ "$mode" = ci ]; then
    echo "fuzz.sh: SKIPPED: $why_not"
    exit 0
  fi
  echo "fuzz.sh: $why_not" >&2
  exit 1
fi

echo "== building the fuzz targets in $BUILD/ (clang, libFuzzer, ASan + UBSan; log: $BUILD/build.log) =="
mkdir -p "$BUILD"
build() {
  if ! { cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
           -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSG_FUZZ=ON -DSG_CUDA=OFF &&
         cmake --build "$BUILD" -j "$jobs" --target "$@"; } >"$BUILD/build.log" 2>&1; then
    tail -n 30 "$BUILD/build.log" >&2
    echo "fuzz.sh: the build failed (whole log: $BUILD/build.log)" >&2
    exit 1
  fi
}
if [ "$mode" = seeds ]; then
  build fuzz_make_corpus
  "$BUILD/fuzz_make_corpus" tests/fuzz/corpus
  exit 0
fi
build "${selected[@]/#/fuzz_}"

# One thread and passive waiting: the targets train nothing, and inputs run one at a time.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
printf '%-11s %8s %12s %8s\n' target seconds executions crashes
for t in "${selected[@]}"; do
  work="$BUILD/corpus/$t" crashes="$BUILD/crashes/$t" log="$BUILD/logs/$t.log"
  mkdir -p "$work" "$crashes" "$(dirname "$log")"
  before=$(find "$crashes" -type f | wc -l)
  rc=0
  # -timeout: one input taking 20 s is a hang; -rss_limit_mb: the bounds the readers promise
  "$BUILD/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" \
      >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  after=$(find "$crashes" -type f | wc -l)
  printf '%-11s %8s %12s %8s\n' "$t" "$seconds" "${runs:-?}" "$((after - before))"
  if [ "$rc" != 0 ] || [ "$after" -gt "$before" ]; then
    failed+=("$t")
    grep -E "^==[0-9]+==ERROR|^SUMMARY|fuzz property failed|runtime error|Test unit written" "$log" | head -n 5 | sed 's/^/    /'
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${failed[*]} crashed: inputs in $BUILD/crashes/, logs in $BUILD/logs/" >&2
  exit 1
fi
