#!/bin/sh
# bench_collab.sh — collab training speed, fastc against PyTorch in the same run.
#
# One epoch over 80,000 ratings (a generated MovieLens-100k-shaped file: 943 users,
# 1,682 items, 100,000 ratings, 20% held out) of DotProductBias(50, y_range=(0, 5.5)),
# MSE, fastai's Adam (betas (0.9, 0.99), eps 1e-5, decoupled wd 0.1, dense: every
# row moves every step), at bs 64 and bs 1024.  fastc runs through the learner's fit
# loop (bench/bench_collab.c, --threads 2: the optimizer's threads policy sweeps a
# model this small on one thread); PyTorch runs the same model/optimizer in a lean
# loop (bench/collab_torch.py) with 1 and with 2 threads.  All three alternate,
# ROUNDS times each; each round's ratio is taken against that round's faster
# PyTorch and the ratio quoted is the median of the rounds (the best epochs are
# printed too, but a best-of ratio flatters whoever had the luckiest round).
# Run it under the bench lock:
#     flock /tmp/fastc-bench.lock sh bench/bench_collab.sh      (make bench does this)
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
ROUNDS=${ROUNDS:-5}
BUILD=${BUILD:-build/release}
make -s "$BUILD/bench/bench_collab" >/dev/null
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
$PY bench/collab_torch.py make-data "$data/ratings.csv"
min() { echo "${1:-$2} $2" | awk '{print ($2 < $1) ? $2 : $1}'; }
for bs in 64 1024; do
    ep=$([ "$bs" = 64 ] && echo 2 || echo 4)
    best_c=; best_t1=; best_t2=; ratios=
    for r in $(seq "$ROUNDS"); do
        c=$("$BUILD/bench/bench_collab" "$data/ratings.csv" "$bs" "$ep" 2 | awk '{print $4}')
        t1=$($PY bench/collab_torch.py time "$data/ratings.csv" "$bs" "$ep" 1 | awk '{print $2}')
        t2=$($PY bench/collab_torch.py time "$data/ratings.csv" "$bs" "$ep" 2 | awk '{print $2}')
        echo "  round $r bs $bs: fastc train epoch ${c}s, pytorch ${t1}s (1 thread) ${t2}s (2 threads)"
        best_c=$(min "$best_c" "$c"); best_t1=$(min "$best_t1" "$t1"); best_t2=$(min "$best_t2" "$t2")
        ratios="$ratios $(echo "$c $t1 $t2" | awk '{t = ($2 < $3) ? $2 : $3; print t / $1}')"
    done
    med=$(echo "$ratios" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
    echo "$best_c $best_t1 $best_t2 $med" | awk -v bs="$bs" -v n="$ROUNDS" '{
        printf "collab DotProductBias(50) epoch of 80,000 ratings, bs %d: best epochs fastc %.4f s, PyTorch %.4f s (1 thread) %.4f s (2 threads); fastc is %.1fx faster than the faster PyTorch (median of %d rounds)\n", bs, $1, $2, $3, $4, n}'
done
