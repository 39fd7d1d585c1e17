#!/bin/sh
# Runs each engine fuzz target for a bounded time on its committed seed corpus.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS]   (default 60 per target)
set -eu
build=${1:?build dir}
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
for t in record recovery compression; do
  work=$(mktemp -d)
  cp "$here/corpus/$t"/* "$work"/ 2>/dev/null || true
  "$build/${t}_fuzz" -max_total_time="$secs" -max_len=65536 -timeout=10 "$work" "$here/corpus/$t"
  rm -rf "$work"
done
