#!/bin/sh
# Convert $WORK_DIR/<name>.tar.gz into $MODELS_DIR/<name>.lm and check its self-test, so a
# model that fails it stops the pod here (Init:Error) instead of reaching lmserve.
set -eu
: "${LMSERVE_MODELS:?LMSERVE_MODELS is empty}"
: "${WORK_DIR:=/work}"
: "${MODELS_DIR:=/models}"
export WORK_DIR
for entry in $LMSERVE_MODELS; do
  name=${entry%%=*}
  if ! sh "$(dirname "$0")/convert-one.sh" "$name" "$WORK_DIR/$name.tar.gz" "$MODELS_DIR/$name.lm"; then
    echo "convert-models: $name: FAILED (${entry#*=})" >&2
    exit 4
  fi
  rm -f "$WORK_DIR/$name.tar.gz"
  echo "convert-models: $name ready: $MODELS_DIR/$name.lm"
done
