#!/bin/sh
# accuracy.sh — `make accuracy`: every bench/accuracy_*.sh (long training runs that
# report accuracy against baselines).
set -eu
cd "$(dirname "$0")/.."
status=0
for b in bench/accuracy_*.sh; do
    [ -e "$b" ] || continue
    echo "== $b"
    sh "$b" || status=1
done
exit $status
