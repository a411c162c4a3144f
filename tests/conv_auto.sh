#!/usr/bin/env bash
# tests/conv_auto.sh STOPGRAD DIR: conv.algo=auto through the command line (tests/cli.cmake). A
# run stopped after 5 steps records its choices in its folder and fills the cache; with the
# cache deleted, the resume uses the record (measures nothing, writes no cache) and finishes; the
# results row carries conv_algos. Bit-identity of the resume: tests/ssl/test_conv_auto_train.c.
set -euo pipefail
bin=$1
dir=$2
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
fail() { echo "FAIL: $*"; exit 1; }
S=(data.dataset=synthetic data.synthetic_n=64 data.synthetic_size=16 data.synthetic_classes=4
   model.width=0.0625 model.proj_hidden=16 model.proj_out=8 model.pred_hidden=16
   trainer.batch=8 trainer.epochs=2 trainer.threads=2 data.workers=1 eval.probe_epochs=3
   eval.knn_k=5 trainer.checkpoint_every=3 run.dir=runs run.name=auto run.results=results.csv
   conv.algo=auto conv.algo_cache=cache/conv-algo.csv)
"$bin" train "${S[@]}" --quiet --stop-after 5 > first.log 2>&1 || fail "first part: $(tail -3 first.log)"
[ -s runs/auto/conv-algo.csv ] || fail "no runs/auto/conv-algo.csv"
[ -s cache/conv-algo.csv ] || fail "no cache written"
rm cache/conv-algo.csv
"$bin" train "${S[@]}" --quiet --resume > resume.log 2>&1 || fail "resume: $(tail -3 resume.log)"
grep -q 'choices recorded in runs/auto/conv-algo.csv' resume.log || fail "the record was not used"
[ ! -e cache/conv-algo.csv ] || fail "the resume measured again"
col=$(head -1 results.csv | tr ',' '\n' | grep -n '^conv_algos$' | cut -d: -f1)
[ -n "$col" ] || fail "results.csv has no conv_algos column"
grep -Eq '(^|,)"?(im2col|winograd|dnnl):[0-9]+' results.csv || fail "no conv_algos cell: $(cat results.csv)"
echo "conv_auto ok"
