#!/bin/sh
# run.sh — the bundled example end to end, as `make run` shows it: convert the SageMaker-style
# examples/model.tar.gz to BUILD_DIR/example.lm with lmconvert, describe it with lminfo, then
# score examples/rows.csv with lmscore, printing one prediction per row and, on stderr, the
# parity line against examples/expected.csv (XGBoost's own predictions). Exits non-zero if any
# step fails or any prediction is outside the tolerance (lmscore --check exits 3).
#
#   sh examples/run.sh BUILD_DIR        tools from BUILD_DIR/bin, or from $LM_BIN if set
set -e

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: sh examples/run.sh BUILD_DIR" >&2
  exit 2
fi
build=$1
bin=${LM_BIN:-$build/bin}
here=$(dirname "$0")
model=$build/example.lm

for f in "$here/model.tar.gz" "$here/rows.csv" "$here/expected.csv"; do
  if [ ! -f "$f" ]; then
    echo "run.sh: $f: missing" >&2
    exit 1
  fi
done
for t in lmconvert lminfo lmscore; do
  if [ ! -x "$bin/$t" ]; then
    echo "run.sh: $bin/$t: not built (run make first)" >&2
    exit 1
  fi
done
mkdir -p "$build"

echo "\$ lmconvert $here/model.tar.gz -o $model"
"$bin/lmconvert" "$here/model.tar.gz" -o "$model"
echo
echo "\$ lminfo $model"
"$bin/lminfo" "$model"
echo
echo "\$ lmscore $model $here/rows.csv --check $here/expected.csv"
"$bin/lmscore" "$model" "$here/rows.csv" --check "$here/expected.csv"
