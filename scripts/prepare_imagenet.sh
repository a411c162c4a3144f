#!/usr/bin/env bash
# scripts/prepare_imagenet.sh: verify the ILSVRC2012 archives and unpack them into the folders
# stopgrad's ImageNet reader opens (data.dataset=imagenet data.dir=TARGET/imagenet, holding
# train/<wnid>/*.JPEG and val/<wnid>/*.JPEG), sorting the flat validation set into class folders
# with the devkit's ground truth and meta.mat; then check both splits with `stopgrad data info`.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/prepare_imagenet.sh [--skip-md5] [--force] [--stopgrad PATH]
                                   TRAIN_TAR VAL_TAR DEVKIT_TGZ TARGET_DIR

  TRAIN_TAR   ILSVRC2012_img_train.tar (138 GB: one tar of JPEGs per class, 1000 of them)
  VAL_TAR     ILSVRC2012_img_val.tar (6.3 GB: 50,000 JPEGs in one flat folder)
  DEVKIT_TGZ  ILSVRC2012_devkit_t12.tar.gz (2.5 MB: data/meta.mat and
              data/ILSVRC2012_validation_ground_truth.txt)
              all three from https://image-net.org/download.php (ILSVRC 2012, after registering)
  TARGET_DIR  where to unpack; the result is TARGET_DIR/imagenet/train/<wnid>/*.JPEG and
              TARGET_DIR/imagenet/val/<wnid>/*.JPEG (about 145 GB; the archives are not needed
              afterwards)

  --skip-md5        do not check the archives' MD5 (for re-packed archives; the layout, the
                    class sets and the reader are still checked)
  --force           replace an existing TARGET_DIR/imagenet
  --stopgrad PATH   the stopgrad binary used for the final check (default: $STOPGRAD, else
                    build/stopgrad, build-nocuda/stopgrad, build-cuda/stopgrad, else PATH)

Needs python3 with scipy (scipy.io.loadmat reads the devkit's meta.mat; Debian: python3-scipy,
which scripts/setup.sh installs). Checking the MD5 reads all 145 GB once; unpacking the training
set takes a while too (it streams each class's tar straight into its folder, so no second copy
of the archive is made).

Then: stopgrad suite run imagenet-t9 data.dir=TARGET_DIR/imagenet ...
(the ImageNet suites default to data.dir=data/imagenet, i.e. TARGET_DIR=data from the
repository root).
EOF
}

PAGE=https://image-net.org/download.php
MD5_TRAIN=1d675b47d978889d74fa0da5fadfb00e
MD5_VAL=29b22e2961454d5413ddabcf34fc5622
MD5_DEVKIT=fa75699e90414af021442c21a62c3abf

NAME=prepare_imagenet
source "$(dirname "$0")/prepare_common.sh"
prep_parse 4 "$@"
train_tar=${args[0]} val_tar=${args[1]} devkit=${args[2]} target=${args[3]}

for f in "$train_tar" "$val_tar" "$devkit"; do
    [ -f "$f" ] || die "archive $f not found (download the ILSVRC2012 training and validation images and the development kit (Task 1 & 2) from $PAGE)"
done
# everything that can fail fast does (prep_parse found stopgrad), before hours of checksums
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3 || true)
[ -n "$py" ] || die "python3 is needed to read the devkit's meta.mat (Debian: apt-get install python3 python3-scipy)"
if ! "$py" -c 'import scipy.io' 2>/dev/null; then
    cat >&2 <<EOF
prepare_imagenet: $py cannot import scipy.io, which reads the devkit's meta.mat (a MATLAB file:
the mapping from the ILSVRC2012 class ids of the validation ground truth to WordNet ids, the
folder names). Install it (Debian: apt-get install python3-scipy; scripts/setup.sh does) and
rerun. Without it the validation images cannot be sorted into class folders, and the reader
needs one folder per class (the folders' sorted order gives the labels, shared with train/).
EOF
    exit 1
fi

if [ $skip_md5 -eq 0 ]; then
    prep_md5 "$devkit" "$MD5_DEVKIT" ILSVRC2012_devkit_t12.tar.gz "Download it again from $PAGE (ILSVRC 2012)."
    prep_md5 "$val_tar" "$MD5_VAL" ILSVRC2012_img_val.tar "Download it again from $PAGE (ILSVRC 2012)."
    prep_md5 "$train_tar" "$MD5_TRAIN" ILSVRC2012_img_train.tar "Download it again from $PAGE (ILSVRC 2012)."
fi

out="$target/imagenet"
prep_stage "$target" "$out"
mkdir -p "$out/train" "$out/val"

# 1. the devkit: meta.mat and the validation ground truth -> one "file wnid" line per image
echo "prepare_imagenet: reading the devkit"
tar -xzf "$devkit" -C "$stage"
meta=$(find "$stage" -name meta.mat -type f | head -n 1)
truth=$(find "$stage" -name ILSVRC2012_validation_ground_truth.txt -type f | head -n 1)
[ -n "$meta" ] || die "$devkit has no data/meta.mat (expected the ILSVRC2012 devkit, ILSVRC2012_devkit_t12.tar.gz)"
[ -n "$truth" ] || die "$devkit has no data/ILSVRC2012_validation_ground_truth.txt"
"$py" - "$meta" "$truth" "$stage/val_map.txt" <<'EOF'
import sys
import scipy.io
meta_path, truth_path, out_path = sys.argv[1:4]
syn = scipy.io.loadmat(meta_path, squeeze_me=True, struct_as_record=True)["synsets"]
# the 1000 classes are the leaf synsets (num_children == 0); their ILSVRC2012_ID is what the
# ground-truth file lists, one line per validation image in file-number order
wnid_of = {int(i): str(w) for i, w, k in zip(syn["ILSVRC2012_ID"], syn["WNID"], syn["num_children"])
           if int(k) == 0}
ids = [int(line) for line in open(truth_path) if line.strip()]
missing = sorted(set(ids) - set(wnid_of))
if missing:
    sys.exit(f"prepare_imagenet: ground-truth ids {missing[:5]} are not leaf synsets of meta.mat")
with open(out_path, "w") as f:
    for n, i in enumerate(ids, 1):
        f.write(f"ILSVRC2012_val_{n:08d}.JPEG {wnid_of[i]}\n")
print(f"prepare_imagenet: {len(ids)} validation labels over {len(set(ids))} classes "
      f"({len(wnid_of)} leaf synsets in meta.mat)")
EOF

# 2. the validation set (before the long training set: its failures are cheaper): unpack flat,
#    then move each image into val/<wnid>/
echo "prepare_imagenet: unpacking the validation set and sorting it into class folders"
mkdir -p "$stage/val_flat"
tar -xf "$val_tar" -C "$stage/val_flat"
"$py" - "$stage/val_flat" "$stage/val_map.txt" "$out/val" <<'EOF'
import os, sys
flat, map_path, val = sys.argv[1:4]
files = {}
for d, _, names in os.walk(flat):
    for n in names:
        files[n] = os.path.join(d, n)
moved = 0
missing = []
for line in open(map_path):
    name, wnid = line.split()
    src = files.pop(name, None)
    if src is None:
        missing.append(name)
        continue
    os.makedirs(os.path.join(val, wnid), exist_ok=True)
    os.rename(src, os.path.join(val, wnid, name))
    moved += 1
if missing:
    sys.exit(f"prepare_imagenet: {len(missing)} validation images of the ground truth are not in the "
             f"archive, e.g. {missing[0]}")
if files:
    sys.exit(f"prepare_imagenet: {len(files)} files of the validation archive have no ground-truth "
             f"line, e.g. {sorted(files)[0]}")
print(f"prepare_imagenet: {moved} validation images sorted into class folders")
EOF

# 3. the training set: each member of the outer tar is <wnid>.tar, streamed into train/<wnid>/
echo "prepare_imagenet: unpacking the training set into $out/train (long: 1.28M files)"
export SG_TRAIN_OUT="$out/train"
# shellcheck disable=SC2016  # expanded by the shell tar starts per member, not here
tar -xf "$train_tar" --to-command='
    case "$TAR_FILENAME" in
        *.tar) d="$SG_TRAIN_OUT/$(basename "$TAR_FILENAME" .tar)"
               mkdir -p "$d" && tar -xf - -C "$d" ;;
        *) cat >/dev/null
           echo "prepare_imagenet: $TAR_FILENAME is not a per-class tar, skipped" >&2 ;;
    esac'
n_train_classes=$(find "$out/train" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$n_train_classes" -gt 0 ] || die "$train_tar held no per-class tars (expected n01440764.tar ... as in ILSVRC2012_img_train.tar)"

# 4. labels are the sorted class folders' order: train/ and val/ must hold the same classes
classes() { find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort; }
if ! diff <(classes "$out/train") <(classes "$out/val") >/dev/null; then
    die "train/ and val/ hold different class folders ($(classes "$out/train" | wc -l) vs $(classes "$out/val" | wc -l)); the labels would not match"
fi

# 5. both splits through stopgrad's reader (it opens DIR/train; val/ is shown to it as a train/)
echo "prepare_imagenet: checking with $stopgrad data info imagenet"
info=$("$stopgrad" data info imagenet "$out") || die "stopgrad cannot read $out/train (message above)"
echo "$info"
mkdir -p "$stage/valcheck"
ln -s "$(cd "$out/val" && pwd)" "$stage/valcheck/train"
vinfo=$("$stopgrad" data info imagenet "$stage/valcheck") || die "stopgrad cannot read $out/val (message above)"
echo "${vinfo/$stage\/valcheck\/train/$out/val}"
n=$(echo "$info" | sed -n 's/^imagenet: \([0-9]*\) images.*/\1/p')
nc=$(echo "$info" | sed -n 's/.* \([0-9]*\) classes.*/\1/p')
nv=$(echo "$vinfo" | sed -n 's/^imagenet: \([0-9]*\) images.*/\1/p')
if [ $skip_md5 -eq 0 ] && { [ "$n" != 1281167 ] || [ "$nv" != 50000 ] || [ "$nc" != 1000 ]; }; then
    die "expected 1281167 training and 50000 validation images in 1000 classes from the official archives, found $n, $nv, $nc"
fi
echo "prepare_imagenet: done: $n training and $nv validation images, $nc classes, in $out"
echo "prepare_imagenet: use data.dir=$out (the ImageNet suites default to data/imagenet)"
