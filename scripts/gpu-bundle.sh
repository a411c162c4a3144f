#!/usr/bin/env bash
# scripts/gpu-bundle.sh BUILD_DIR OUT.tar.gz: packs what scripts/gpu-check.sh --prebuilt needs
# (stopgrad and the backend test programs from a CUDA build, with every shared library they use
# except the C library and the CUDA toolkit's own) for a GPU machine that cannot build stopgrad
# itself (no Debian packages there). The GPU machine must have the same CUDA major version.
set -euo pipefail
BUILD=${1:?usage: gpu-bundle.sh BUILD_DIR OUT.tar.gz}
OUTF=${2:?usage: gpu-bundle.sh BUILD_DIR OUT.tar.gz}
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bundle/lib"
PROGS="stopgrad test_backend_parity test_pytorch_fixtures test_backend_determinism test_step_graph
       test_aug_views"
for p in $PROGS; do
    cp "$BUILD/$p" "$STAGE/bundle/"
    strip "$STAGE/bundle/$p"
done
for p in $PROGS; do
    ldd "$BUILD/$p" | awk '/=>/ {print $3}'
done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libcu*|libnv*) ;;
        libstdc++.so*|libgcc_s.so*|libz.so*) ;; # everywhere, and newer there
        *) cp -L "$lib" "$STAGE/bundle/lib/" ;;
    esac
done
tar -C "$STAGE" -czf "$OUTF" bundle
ls -la "$OUTF"
