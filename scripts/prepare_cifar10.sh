#!/usr/bin/env bash
# scripts/prepare_cifar10.sh: verify and unpack the CIFAR-10 binary archive into the folder
# stopgrad's reader opens (data.dataset=cifar10 data.dir=TARGET/cifar-10-batches-bin), then check
# it with `stopgrad data info cifar10`.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/prepare_cifar10.sh [--skip-md5] [--force] [--stopgrad PATH] ARCHIVE TARGET_DIR

  ARCHIVE     cifar-10-binary.tar.gz, the "CIFAR-10 binary version (suitable for C programs)"
              from https://www.cs.toronto.edu/~kriz/cifar.html (about 163 MB)
  TARGET_DIR  where to unpack; the result is TARGET_DIR/cifar-10-batches-bin/ with
              data_batch_1.bin ... data_batch_5.bin and test_batch.bin

  --skip-md5        do not check the archive's MD5 (for a re-packed archive; the layout and
                    the reader are still checked)
  --force           replace an existing TARGET_DIR/cifar-10-batches-bin
  --stopgrad PATH   the stopgrad binary used for the final check (default: $STOPGRAD, else
                    build/stopgrad, build-nocuda/stopgrad, build-cuda/stopgrad, else PATH)

Then: stopgrad suite run cifar10-t8 data.dir=TARGET_DIR/cifar-10-batches-bin ...
(cifar10-t8 defaults to data.dir=data/cifar-10-batches-bin, i.e. TARGET_DIR=data from the
repository root).
EOF
}

EXPECTED_MD5=c32a1d4ab5d03f1284b67883e8d87530
PAGE=https://www.cs.toronto.edu/~kriz/cifar.html
RECORD_BYTES=3073 # 1 label byte + 3 x 32 x 32
FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)

NAME=prepare_cifar10
source "$(dirname "$0")/prepare_common.sh"
prep_parse 2 "$@"
archive=${args[0]} target=${args[1]}

[ -f "$archive" ] || die "archive $archive not found (download cifar-10-binary.tar.gz from $PAGE)"

if [ $skip_md5 -eq 0 ]; then
    prep_md5 "$archive" "$EXPECTED_MD5" cifar-10-binary.tar.gz \
        "(The Python or MATLAB archive has other files.) Download \"CIFAR-10 binary version (suitable for C programs)\", cifar-10-binary.tar.gz, again from $PAGE."
fi

out="$target/cifar-10-batches-bin"
prep_stage "$target" "$out"

echo "prepare_cifar10: unpacking into $target"
tar -xzf "$archive" -C "$stage"
found=$(find "$stage" -name data_batch_1.bin -type f | head -n 1)
[ -n "$found" ] || die "no data_batch_1.bin in $archive: not the CIFAR-10 binary archive (the Python version has data_batch_1 without .bin; download the binary version)"
src=$(dirname "$found")
for f in "${FILES[@]}"; do
    [ -f "$src/$f" ] || die "$archive has no $f next to data_batch_1.bin (expected: ${FILES[*]})"
done
mv "$src" "$out"

# the test split: the training reader below opens the five training batches only
test_bytes=$(stat -c %s "$out/test_batch.bin")
[ $((test_bytes % RECORD_BYTES)) -eq 0 ] || die "$out/test_batch.bin is $test_bytes bytes, not a multiple of the $RECORD_BYTES-byte record"
n_test=$((test_bytes / RECORD_BYTES))

echo "prepare_cifar10: checking with $stopgrad data info cifar10 $out"
info=$("$stopgrad" data info cifar10 "$out") || die "stopgrad cannot read $out (message above)"
echo "$info"
n=$(echo "$info" | sed -n 's/^cifar10: \([0-9]*\) images.*/\1/p')
if [ $skip_md5 -eq 0 ] && { [ "$n" != 50000 ] || [ "$n_test" -ne 10000 ]; }; then
    die "expected 50000 training and 10000 test images from the official archive, found $n and $n_test"
fi
echo "prepare_cifar10: done: $n training images, $n_test test images in $out"
echo "prepare_cifar10: use data.dir=$out (cifar10-t8 defaults to data/cifar-10-batches-bin)"
