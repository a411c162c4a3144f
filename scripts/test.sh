#!/usr/bin/env bash
# scripts/test.sh: every test, twice: a Release build with -Werror, then a Debug build under
# AddressSanitizer + UndefinedBehaviorSanitizer. Build folders: build-test/ and build-san/.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== Release build (-Werror) =="
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DSG_WERROR=ON >/dev/null
cmake --build build-test -j "$jobs"
(cd build-test && ctest --output-on-failure --timeout 600 -j "$jobs")
# ctest lists a skipped test without its reason: print each one's own line ("no CUDA device").
echo "== skipped tests and why =="
(cd build-test && ctest -R '^cuda\.' -V 2>&1 | grep -E '^[0-9]+: SKIPPED:' | sort -u) || true

echo "== ASan + UBSan build =="
cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DSG_WERROR=ON -DSG_SANITIZE=ON >/dev/null
cmake --build build-san -j "$jobs"
# halt_on_error: a sanitizer report fails the test instead of scrolling by.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
(cd build-san && ctest --output-on-failure --timeout 900 -j "$jobs")
