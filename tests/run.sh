#!/bin/sh
# run.sh TEST... — run each Check suite program; print a summary; fail if any failed.
# Check's per-test timeout is raised: some suites train small models for real.
#
# The suites run TEST_JOBS at a time (default: one per core).  Most of them
# spend their time in one thread (single-threaded kernels, fastc runs with
# --threads 1, mpirun's ranks waiting), so on two cores two at a time take
# about half the wall time of one after another.  Each suite's output is kept
# and printed whole, in the order given, with its time: the log reads as it
# did when they ran one by one.  TEST_JOBS=1 runs them one after another.
set -u
: "${CK_DEFAULT_TIMEOUT:=600}"
export CK_DEFAULT_TIMEOUT
: "${OPENBLAS_CORETYPE:=}"
: "${TEST_JOBS:=$(nproc 2>/dev/null || echo 1)}"
logs=$(mktemp -d "${TMPDIR:-/tmp}/fastc-run.XXXXXX") || exit 1
trap 'rm -rf "$logs"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The longest suites start first, so that none is left running alone at the
# end (one at a time, of all 52 suites' 638 s (sanitizer build) and 415 s
# (release): test_dist_train 120 s and 92 s, 40 s of each mpirun's stop
# timeouts; test_train 102 s and 94 s; test_resnet 47 s and 87 s).
FIRST="test_dist_train test_train test_resnet"

# one suite: its output in $logs/N.out; its status and seconds in $logs/N.done (written last)
for pass in first rest; do
    i=0
    for t in "$@"; do
        i=$((i + 1))
        case " $FIRST " in
        *" $(basename "$t") "*) [ $pass = first ] || continue ;;
        *) [ $pass = rest ] || continue ;;
        esac
        printf '%s %s\n' "$i" "$t"
    done
done | xargs -P "$TEST_JOBS" -L 1 sh -c '
    start=$(date +%s.%N)
    "$2" > "$0/$1.out" 2>&1
    rc=$?
    end=$(date +%s.%N)
    echo "$rc $(awk "BEGIN{print $end - $start}")" > "$0/$1.tmp" && mv "$0/$1.tmp" "$0/$1.done"' "$logs" &
runner=$!

failed=""
i=0
for t in "$@"; do
    i=$((i + 1))
    while [ ! -e "$logs/$i.done" ]; do
        if ! kill -0 "$runner" 2>/dev/null && [ ! -e "$logs/$i.done" ]; then
            echo "run.sh: $(basename "$t") did not run"
            break
        fi
        sleep 0.2
    done
    cat "$logs/$i.out" 2>/dev/null
    rc=1 secs=0
    [ -e "$logs/$i.done" ] && read -r rc secs < "$logs/$i.done"
    if [ "$rc" != 0 ]; then failed="$failed $(basename "$t")"; fi
    printf '  (%s: %.1f s)\n' "$(basename "$t")" "$secs"
done
wait "$runner"
if [ -n "$failed" ]; then
    echo "FAILED:$failed"
    exit 1
fi
echo "all $# suites passed"
