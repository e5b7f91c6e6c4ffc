#!/bin/sh
# run.sh TEST... — run each Check suite program; print a summary; fail if any failed.
# Check's per-test timeout is raised: some suites train small models for real.
set -u
: "${CK_DEFAULT_TIMEOUT:=600}"
export CK_DEFAULT_TIMEOUT
: "${OPENBLAS_CORETYPE:=}"
failed=""
for t in "$@"; do
    start=$(date +%s.%N)
    if ! "$t"; then failed="$failed $(basename "$t")"; fi
    printf '  (%s: %.1f s)\n' "$(basename "$t")" "$(awk "BEGIN{print $(date +%s.%N) - $start}")"
done
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all $# suites passed"
