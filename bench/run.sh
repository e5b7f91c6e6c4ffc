#!/bin/sh
# run.sh — `make bench`: every bench/bench_*.sh in turn (one at a time: they time things),
# each comparing fastc with PyTorch/PIL in the same run and printing the ratio.
set -eu
cd "$(dirname "$0")/.."
status=0
for b in bench/bench_*.sh; do
    [ -e "$b" ] || continue
    echo "== $b"
    flock /tmp/fastc-bench.lock sh "$b" || status=1
done
exit $status
