#!/bin/sh
# Hot-reload sidecar (lmconvert image): convert each downloaded model.tar.gz that is newer
# than its .lm. lmserve notices the new file (--reload-poll-ms), verifies it and runs its
# self-test before swapping it in; a failing file is rejected and the old model keeps
# serving. Checking here first keeps a bad file out of /models altogether.
# PID 1 of its container: SIGTERM is trapped and every command waited for in the background,
# so a pod deletion stops it at once (see sync-models.sh).
set -u
pid=
trap 'echo "reconvert-models: SIGTERM: stopping" >&2; [ -z "$pid" ] || kill "$pid" 2>/dev/null; exit 0' TERM INT
bg() { "$@" & pid=$!; wait "$pid"; rc=$?; pid=; return "$rc"; }
: "${WORK_DIR:=/work}"
: "${MODELS_DIR:=/models}"
export WORK_DIR
while :; do
  for tgz in "$WORK_DIR"/*.tar.gz; do
    [ -f "$tgz" ] || continue
    name=$(basename "$tgz" .tar.gz)
    if [ -f "$WORK_DIR/$name.done" ] && [ -z "$(find "$tgz" -newer "$WORK_DIR/$name.done")" ]; then
      continue
    fi
    if bg sh "$(dirname "$0")/convert-one.sh" "$name" "$tgz" "$WORK_DIR/$name.lm" >/dev/null; then
      # /work and /models are different volumes: copy to a name lmserve ignores (not
      # *.lm), then rename within /models, which is atomic.
      cp "$WORK_DIR/$name.lm" "$MODELS_DIR/.$name.lm.tmp" && mv "$MODELS_DIR/.$name.lm.tmp" "$MODELS_DIR/$name.lm"
      echo "reconvert-models: $name swapped in"
    else
      echo "reconvert-models: $name: conversion or self-test FAILED; keeping the old model" >&2
    fi
    rm -f "$WORK_DIR/$name.lm"
    touch "$WORK_DIR/$name.done"
  done
  [ "${RUN_ONCE:-0}" = 1 ] && exit 0  # tests run one pass
  bg sleep 5
done
