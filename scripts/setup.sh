#!/usr/bin/env bash
# scripts/setup.sh: install every Debian package stopgrad needs (idempotent), then configure and
# build a Release build in build/.
#   bash scripts/setup.sh              packages + Release build
#   bash scripts/setup.sh --deps-only  packages only (what .ci/run uses before its own builds)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake make gcc g++ pkg-config git
  libopenblas-dev libopenblas-openmp-dev liblapacke-dev   # BLAS/LAPACK; the OpenMP build is linked
  libhwloc-dev hwloc-nox                                  # machine description (+ lstopo)
  libcsv-dev                                              # CSV reading/writing
  libdnnl-dev                                             # oneDNN: alternative conv kernels (optional)
  libbenchmark-dev libbenchmark-tools python3-scipy       # Google Benchmark + its compare.py
  zlib1g-dev libjpeg-dev                                  # gzip'd idx files, ImageNet JPEGs
  dataset-fashion-mnist                                   # the CPU-scale dataset
  gnuplot-nox                                             # figures
  libsqlite3-dev                                          # the results history (stopgrad history)
  libopenmpi-dev openmpi-bin                              # data-parallel training (mpirun)
  clang libclang-rt-dev libomp-dev                        # libFuzzer targets (scripts/fuzz.sh)
  slurm-wlm munge                                         # suite submit --slurm's test cluster (tests/slurm.sh)
)
# Only the browser test of the history site needs it, and it is large: installed when apt can,
# and that test says it was skipped when it is not.
OPTIONAL=(chromium)

missing=()
for p in "${PACKAGES[@]}"; do
  # "install ok installed" only for a fully installed package
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "setup.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  UPDATED=1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
fi

for p in "${OPTIONAL[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    SUDO=""
    [ "$(id -u)" != 0 ] && command -v sudo >/dev/null && SUDO=sudo
    echo "setup.sh: installing the optional $p"
    if ! { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; } ||
       ! { [ -n "${UPDATED:-}" ] || $SUDO apt-get update -qq; } ||
       ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null; then
      echo "setup.sh: could not install $p: the tests that need it will say they were skipped"
    fi
  fi
done

if [ "${1:-}" = "--deps-only" ]; then exit 0; fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)"
echo "setup.sh: built build/stopgrad"
