#!/bin/sh
# accuracy_collab.sh — `make accuracy`, collab part: MovieLens latest-small (this machine's copy at
# /work/shared/data/ml-latest-small, GroupLens licence, never committed; override with
# ML_LATEST_SMALL=/path/to/ml-latest-small).  Validation MSE of the lesson's recipe,
# DotProductBias(50, y_range=(0, 5.5)) + fit_one_cycle(5, 5e-3, wd=0.1) and the book's
# EmbeddingNN(layers=[100, 50], y_range=(0, 5.5)) under the same fit, next to a global-mean and a
# bias-only baseline on the same RandomSplitter(0.2, seed=42) split (bench/accuracy_collab.c), then
# the same recipe through the command line: fastc train configs/collab_latest.ini.
set -eu
cd "$(dirname "$0")/.."
DATA=${ML_LATEST_SMALL:-/work/shared/data/ml-latest-small}
BUILD=${BUILD:-build/release}
if [ ! -f "$DATA/ratings.csv" ]; then
    echo "accuracy_collab: $DATA/ratings.csv not found (set ML_LATEST_SMALL); skipped"
    exit 0
fi
make -s "$BUILD/bench/accuracy_collab" fastc >/dev/null
"$BUILD/bench/accuracy_collab" "$DATA/ratings.csv" 5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "fastc train configs/collab_latest.ini --set data.path=$DATA:"
if ./fastc train configs/collab_latest.ini --set "data.path=$DATA" --set "output.dir=$out" --quiet; then
    ./fastc interpret configs/collab_latest.ini --set "data.path=$DATA" --set "output.dir=$out" | head -20
    ./fastc interpret configs/collab_latest.ini --set "data.path=$DATA" --set "output.dir=$out" \
        --similar "Star Wars: Episode IV - A New Hope (1977)"
    ./fastc predict --model "$out/model.safetensors" 1,1 1,260 610,318
else
    echo "  (fastc train failed; see above)"
fi
