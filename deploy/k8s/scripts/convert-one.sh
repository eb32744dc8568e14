#!/bin/sh
# convert-one.sh NAME ARCHIVE OUT.lm: convert one model.tar.gz and check its self-test.
# If the archive carries selftest/rows.csv (and selftest/expected.csv: the trainer's own
# predictions for those rows), written by the training script next to the model in
# /opt/ml/model, they are embedded with lmconvert --selftest and checked here by
# lminfo --selftest (exit 4 on failure); lmserve checks them again before serving.
# LMCONVERT_FLAGS (optional) is passed to lmconvert, e.g. "--member model.txt".
set -eu
name=$1 archive=$2 out=$3
st_dir="${WORK_DIR:-/work}/$name.selftest"
rm -rf "$st_dir"
set --
if tar -tzf "$archive" | grep -Eqx '(\./)?selftest/rows\.csv'; then
  mkdir -p "$st_dir"
  tar -xzf "$archive" -C "$st_dir" --wildcards '*selftest/*.csv'
  st=$(find "$st_dir" -path '*selftest/rows.csv' | head -n 1)
  exp=$(find "$st_dir" -path '*selftest/expected.csv' | head -n 1)
  set -- --selftest "$st${exp:+,$exp}"
else
  echo "convert-one: $name: no selftest/rows.csv in $archive: nothing to self-test" >&2
fi
# lmconvert writes OUT only when the conversion succeeds (temporary name, then rename).
# shellcheck disable=SC2086
lmconvert "$archive" -o "$out" -q ${LMCONVERT_FLAGS:-} "$@"
rm -rf "$st_dir"
if ! lminfo "$out" --selftest; then
  echo "convert-one: $name: embedded self-test FAILED ($archive)" >&2
  rm -f "$out"
  exit 4
fi
