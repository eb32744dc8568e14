#!/bin/sh
# Download every model.tar.gz named in LMSERVE_MODELS to $WORK_DIR/<name>.tar.gz.
set -eu
: "${LMSERVE_MODELS:?LMSERVE_MODELS is empty}"
: "${WORK_DIR:=/work}"
for entry in $LMSERVE_MODELS; do
  name=${entry%%=*}
  uri=${entry#*=}
  case $name in
    ''|*[!A-Za-z0-9_.-]*) echo "fetch-models: bad model name in '$entry'" >&2; exit 2 ;;
  esac
  case $uri in
    s3://*) ;;
    *) echo "fetch-models: $name: not an s3:// URI: $uri" >&2; exit 2 ;;
  esac
  echo "fetch-models: $name <- $uri"
  aws s3 cp --only-show-errors "$uri" "$WORK_DIR/$name.tar.gz.part"
  mv "$WORK_DIR/$name.tar.gz.part" "$WORK_DIR/$name.tar.gz"
done
