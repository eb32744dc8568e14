#!/bin/sh
# run.sh — the bundled example end to end, as `make run` shows it: convert the SageMaker-style
# examples/model.tar.gz to BUILD_DIR/example.lm with lmconvert, describe it with lminfo, then
# score examples/rows.csv with lmscore, printing one prediction per row and, on stderr, the
# parity line against examples/expected.csv (XGBoost's own predictions). Exits non-zero if any
# step fails or any prediction is outside the tolerance (lmscore --check exits 3). Then it
# serves the model with lmserve on a free loopback port, sends KServe V2 requests (JSON and
# binary tensors; server/run_client.py), prints the responses and a parity line, and stops the
# server with SIGTERM (it must exit 0).
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

# lmserve: serve the converted model on a free loopback port, send sample KServe V2 requests
# (JSON and binary tensors) with server/run_client.py, print the responses and a parity line,
# then stop the server with SIGTERM (graceful drain) and check it exits 0.
root=$here/..
if [ ! -x "$bin/lmserve" ]; then
  echo "run.sh: $bin/lmserve: not built (run make first)" >&2
  exit 1
fi
models=$build/run-models
log=$build/lmserve-run.log
rm -rf "$models" && mkdir -p "$models"
cp "$model" "$models/example.lm"
# Create the log before starting lmserve: its redirection happens in the background child, and
# under load the loop below could otherwise read the file before it exists (sed exits 2).
: >"$log"
echo
echo "\$ lmserve --models $models --listen 127.0.0.1:0 --drain-seconds 0 &"
"$bin/lmserve" --models "$models" --listen 127.0.0.1:0 --drain-seconds 0 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
port=
i=0
while [ $i -lt 100 ] && [ -z "$port" ]; do
  port=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$log")
  if [ -z "$port" ]; then
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; echo "run.sh: lmserve exited" >&2; exit 1; }
    sleep 0.1
    i=$((i + 1))
  fi
done
[ -n "$port" ] || { cat "$log" >&2; echo "run.sh: lmserve did not start" >&2; exit 1; }
sed -n 's/.*"msg":"\(listening\)".*/lmserve: \1 on 127.0.0.1:'"$port"'/p' "$log"
echo
python3 "$root/server/run_client.py" "$port" example "$here/rows.csv" "$here/expected.csv"
kill -TERM $pid
wait $pid
status=$?
trap - EXIT
echo "lmserve stopped (SIGTERM, exit status $status); its log: $log"
exit $status
