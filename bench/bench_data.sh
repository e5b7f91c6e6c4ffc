#!/bin/sh
# bench_data.sh — images/s of the image pipeline (JPEG decode + Resize(128) +
# aug_transforms() + Normalize) of 224-px JPEGs: fastc's loader against PIL +
# numpy (with and without PIL's draft() mode), one thread and all threads,
# alternating, two rounds, best of each, with the ratios; also per CPU-second, which
# other work on the machine disturbs less than wall time.
#
# Time it alone: `make bench` (bench/run.sh holds /tmp/fastc-bench.lock), or
#     flock /tmp/fastc-bench.lock sh bench/bench_data.sh
# BENCH_DATA_N images (default 512) are generated deterministically on first use.
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
N=${BENCH_DATA_N:-512}
EPOCHS=${BENCH_DATA_EPOCHS:-3}
DIR=build/bench-data/jpeg224-$N
make -s build/release/bench/bench_data >/dev/null
if [ ! -f "$DIR/img$(printf %05d $((N - 1))).jpg" ]; then
    echo "making $N 224x224 JPEGs in $DIR"
    $PY bench/data_pil.py make "$DIR" "$N"
fi
ALL=$(nproc)
OUT=$(mktemp)
for round in 1 2; do
    for t in 1 "$ALL"; do
        build/release/bench/bench_data "$DIR" "$t" "$EPOCHS" | tee -a "$OUT"
        $PY bench/data_pil.py run "$DIR" "$t" "$EPOCHS" | tee -a "$OUT"
        $PY bench/data_pil.py run "$DIR" "$t" "$EPOCHS" --draft | tee -a "$OUT"
    done
done
awk -v all="$ALL" '
{
    split($2, a, "="); t = a[2]
    for (i = 1; i <= NF; i++) {
        if ($i ~ /^images_per_s=/) { split($i, b, "="); r = b[2] }
        if ($i ~ /^images_per_cpu_s=/) { split($i, b, "="); c = b[2] }
    }
    k = $1 " " t
    if (!(k in best) || r > best[k]) best[k] = r
    if (!(k in cpu) || c > cpu[k]) cpu[k] = c
}
END {
    for (ti = 0; ti < 2; ti++) {
        t = ti ? all : 1
        f = best["fastc " t]; p = best["pil " t]; d = best["pil-draft " t]
        printf "data pipeline, %d thread(s): fastc %.0f images/s, PIL %.0f, PIL+draft %.0f; fastc/PIL = %.2fx, fastc/PIL+draft = %.2fx\n", t, f, p, d, f / p, f / d
        f = cpu["fastc " t]; p = cpu["pil " t]; d = cpu["pil-draft " t]
        printf "  per CPU-second (all threads): fastc %.0f images, PIL %.0f, PIL+draft %.0f; fastc/PIL = %.2fx, fastc/PIL+draft = %.2fx\n", f, p, d, f / p, f / d
    }
}' "$OUT"
rm -f "$OUT"
