#!/bin/sh
# bench_collab.sh — collab training speed, fastc against PyTorch in the same run.
#
# One epoch over 80,000 ratings (a generated MovieLens-100k-shaped file: 943 users,
# 1,682 items, 100,000 ratings, 20% held out) of DotProductBias(50, y_range=(0, 5.5)),
# MSE, fastai's Adam (wd 0.1), at bs 64 and bs 1024.  fastc runs through the learner's
# fit loop (bench/bench_collab.c); PyTorch runs the same model/optimizer in a lean loop
# (bench/collab_torch.py, 2 threads).  The two alternate, ROUNDS times each; the best epoch
# of each side is kept and the ratio printed.  Run it under the bench lock:
#     flock /tmp/fastc-bench.lock sh bench/bench_collab.sh      (make bench does this)
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROUNDS=${ROUNDS:-3}
BUILD=${BUILD:-build/release}
make -s "$BUILD/bench/bench_collab" >/dev/null
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
$PY bench/collab_torch.py make-data "$data/ratings.csv"
for bs in 64 1024; do
    ep=$([ "$bs" = 64 ] && echo 2 || echo 4)
    best_c=; best_t=
    for r in $(seq "$ROUNDS"); do
        c=$("$BUILD/bench/bench_collab" "$data/ratings.csv" "$bs" "$ep" 2 | awk '{print $4}')
        t=$($PY bench/collab_torch.py time "$data/ratings.csv" "$bs" "$ep" | awk '{print $2}')
        echo "  round $r bs $bs: fastc train epoch ${c}s, pytorch ${t}s"
        best_c=$(echo "${best_c:-$c} $c" | awk '{print ($2 < $1) ? $2 : $1}')
        best_t=$(echo "${best_t:-$t} $t" | awk '{print ($2 < $1) ? $2 : $1}')
    done
    echo "$best_c $best_t" | awk -v bs="$bs" '{printf "collab DotProductBias(50) epoch of 80,000 ratings, bs %d: fastc %.4f s, PyTorch %.4f s, fastc is %.1fx faster\n", bs, $1, $2, $2 / $1}'
done
