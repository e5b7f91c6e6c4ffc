#!/bin/sh
# run.sh TEST... — run each Check suite program; print a summary; fail if any failed.
# Check's per-test timeout is raised: some suites train small models for real.
set -u
: "${CK_DEFAULT_TIMEOUT:=600}"
export CK_DEFAULT_TIMEOUT
: "${OPENBLAS_CORETYPE:=}"
failed=""
for t in "$@"; do
    if ! "$t"; then failed="$failed $(basename "$t")"; fi
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all $# suites passed"
