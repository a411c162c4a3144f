#!/usr/bin/env bash
# scripts/prepare_stl10.sh: verify and unpack the STL-10 binary archive into the folder stopgrad's
# reader opens (data.dataset=stl10 data.dir=TARGET/stl10_binary), then check it with
# `stopgrad data info stl10`.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/prepare_stl10.sh [--skip-md5] [--force] [--stopgrad PATH] ARCHIVE TARGET_DIR

  ARCHIVE     stl10_binary.tar.gz, downloaded from https://cs.stanford.edu/~acoates/stl10/
              (the "binary" version, about 2.6 GB)
  TARGET_DIR  where to unpack; the result is TARGET_DIR/stl10_binary/ with train_X.bin,
              train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin (about 2.9 GB)

  --skip-md5        do not check the archive's MD5 (for a re-packed archive; the layout and
                    the reader are still checked)
  --force           replace an existing TARGET_DIR/stl10_binary
  --stopgrad PATH   the stopgrad binary used for the final check (default: $STOPGRAD, else
                    build/stopgrad, build-nocuda/stopgrad, build-cuda/stopgrad, else PATH)

Then: stopgrad suite run stl10-t6 data.dir=TARGET_DIR/stl10_binary ...
(the STL-10 suites default to data.dir=data/stl10_binary, i.e. TARGET_DIR=data from the
repository root).
EOF
}

EXPECTED_MD5=91f7769df0f17e558f3565bffb0c7dfb
PAGE=https://cs.stanford.edu/~acoates/stl10/
IMAGE_BYTES=27648 # 3 x 96 x 96
FILES=(train_X.bin train_y.bin test_X.bin test_y.bin unlabeled_X.bin)

NAME=prepare_stl10
source "$(dirname "$0")/prepare_common.sh"
prep_parse 2 "$@"
archive=${args[0]} target=${args[1]}

[ -f "$archive" ] || die "archive $archive not found (download stl10_binary.tar.gz from $PAGE)"

if [ $skip_md5 -eq 0 ]; then
    prep_md5 "$archive" "$EXPECTED_MD5" stl10_binary.tar.gz \
        "Download stl10_binary.tar.gz again from $PAGE (the binary version)."
fi

out="$target/stl10_binary"
prep_stage "$target" "$out"

echo "prepare_stl10: unpacking into $target (about 2.9 GB)"
tar -xzf "$archive" -C "$stage"
# the official archive holds stl10_binary/; a re-packed one may name its folder otherwise
found=$(find "$stage" -name train_X.bin -type f | head -n 1)
[ -n "$found" ] || die "no train_X.bin in $archive: not an STL-10 binary archive (expected stl10_binary/train_X.bin ...)"
src=$(dirname "$found")
for f in "${FILES[@]}"; do
    [ -f "$src/$f" ] || die "$archive has no $f next to train_X.bin (expected: ${FILES[*]})"
done
mv "$src" "$out"

# the test split: the training reader below opens train+unlabeled only
test_bytes=$(stat -c %s "$out/test_X.bin")
[ $((test_bytes % IMAGE_BYTES)) -eq 0 ] || die "$out/test_X.bin is $test_bytes bytes, not a multiple of $IMAGE_BYTES (one 3x96x96 image)"
n_test=$((test_bytes / IMAGE_BYTES))
[ "$(stat -c %s "$out/test_y.bin")" -eq "$n_test" ] || die "$out/test_y.bin does not hold one label per test image ($n_test)"

echo "prepare_stl10: checking with $stopgrad data info stl10 $out"
info=$("$stopgrad" data info stl10 "$out") || die "stopgrad cannot read $out (message above)"
echo "$info"
n=$(echo "$info" | sed -n 's/^stl10: \([0-9]*\) images.*/\1/p')
if [ $skip_md5 -eq 0 ] && { [ "$n" != 105000 ] || [ "$n_test" -ne 8000 ]; }; then
    die "expected 105000 train+unlabeled and 8000 test images from the official archive, found $n and $n_test"
fi
echo "prepare_stl10: done: $n train+unlabeled images, $n_test test images in $out"
echo "prepare_stl10: use data.dir=$out (the STL-10 suites default to data/stl10_binary)"
