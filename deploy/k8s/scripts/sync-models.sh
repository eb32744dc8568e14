#!/bin/sh
# Hot-reload sidecar (aws-cli image): every $REFRESH_SECONDS, download each model whose S3
# ETag changed to $WORK_DIR/<name>.tar.gz (renamed into place when complete).
# It runs as PID 1 of its container, which the kernel protects from signals it does not handle:
# without the trap a pod deletion waited the whole grace period and ended in SIGKILL. Every
# command runs in the background and is waited for, so SIGTERM interrupts the wait at once
# (a foreground command would delay the trap until it ended).
set -u
pid=
trap 'echo "sync-models: SIGTERM: stopping" >&2; [ -z "$pid" ] || kill "$pid" 2>/dev/null; exit 0' TERM INT
bg() { "$@" & pid=$!; wait "$pid"; rc=$?; pid=; return "$rc"; }
: "${LMSERVE_MODELS:?LMSERVE_MODELS is empty}"
: "${WORK_DIR:=/work}"
: "${REFRESH_SECONDS:=60}"
while :; do
  for entry in $LMSERVE_MODELS; do
    name=${entry%%=*}
    uri=${entry#*=}
    path=${uri#s3://}
    bucket=${path%%/*}
    key=${path#*/}
    etag=$(aws s3api head-object --bucket "$bucket" --key "$key" --query ETag --output text) || {
      echo "sync-models: $name: head-object failed for $uri" >&2; continue; }
    [ "$etag" = "$(cat "$WORK_DIR/$name.etag" 2>/dev/null)" ] && continue
    if bg aws s3 cp --only-show-errors "$uri" "$WORK_DIR/$name.tar.gz.part"; then
      mv "$WORK_DIR/$name.tar.gz.part" "$WORK_DIR/$name.tar.gz"
      printf '%s\n' "$etag" > "$WORK_DIR/$name.etag"
      echo "sync-models: $name: new object $etag"
    fi
  done
  [ "${RUN_ONCE:-0}" = 1 ] && exit 0  # tests run one pass
  bg sleep "$REFRESH_SECONDS"
done
