#!/bin/sh
# accuracy_shapes.sh — issue 7: the two other image tasks of the lesson, end to end, on
# our own generated data (`fastc get shapes`):
#   - multi-label: which shapes an image holds (configs/multilabel.ini).  The lesson
#     fine-tunes an ImageNet-pretrained resnet on PASCAL; with no ImageNet weights here,
#     resnet18 is first pretrained on our own single-label set (configs/shapes_pretrain.ini:
#     `fastc get shapes_single`, one shape per image, its class the label, torchvision's
#     avgpool + fc head), and its saved body is fine-tuned (`pretrained =`, `fine_tune`).
#     accuracy_multi on the validation set against the all-negative baseline (every label
#     predicted absent) and a model that would find only the biggest shape of each
#     image, plus the threshold sweep of `interpret --thresholds`;
#   - points: resnet18 regressing the centre of the biggest shape (configs/points.ini),
#     the mean distance in pixels of the images against predicting the mean point.
# Bars: accuracy_multi at least ML_BAR (0.90 by default; measured 0.9585 and 0.9596 with seeds 42 and 2, see
# README) and above biggest-shape-only; points: at most half the mean-point baseline's
# error.  accuracy_multi is read at the configured threshold (0.5, fixed before
# training), not at the sweep's best, which is chosen on the same validation images and
# printed for information only.  Knobs: SEED (learner seed of every run, 42), THREADS
# (default all cores), PRE_N (pretraining images, 10000).
# Writes the figures to runs/accuracy_shapes.txt.
set -eu
cd "$(dirname "$0")/.."
F=./fastc
OUT=runs/accuracy_shapes.txt
SEED=${SEED:-42}
PRE_N=${PRE_N:-10000}
ML_BAR=${ML_BAR:-0.90}
T="--set learner.seed=$SEED"
[ -n "${THREADS:-}" ] && T="$T --threads $THREADS"
mkdir -p runs
: > "$OUT"
say() { echo "$*"; echo "$*" >> "$OUT"; }
train() {   # train CONFIG LOG: fails with the log's tail
    $F train "$1" $T --quiet > "$2" 2>&1 || { tail -3 "$2" >&2; echo "accuracy_shapes.sh: training $1 failed" >&2; exit 1; }
}
say "seed $SEED"

$F get shapes data/shapes

$F get shapes_single data/shapes_single --n "$PRE_N"
say "== pretraining (configs/shapes_pretrain.ini, $PRE_N single-shape images)"
start=$(date +%s)
rm -rf runs/shapes_pretrain
train configs/shapes_pretrain.ini runs/accuracy_shapes_pretrain_train.txt
say "pretrained in $(( $(date +%s) - start )) s; last epoch:"
say "$(tail -1 runs/shapes_pretrain/metrics.csv)"

say "== multi-label (configs/multilabel.ini: fine_tune from runs/shapes_pretrain/model.safetensors)"
start=$(date +%s)
rm -rf runs/multilabel
train configs/multilabel.ini runs/accuracy_shapes_multilabel_train.txt
say "trained in $(( $(date +%s) - start )) s; last epoch:"
say "$(tail -1 runs/multilabel/metrics.csv)"
$F interpret configs/multilabel.ini --thresholds --top-losses 9 > runs/accuracy_shapes_multilabel.txt
line=$(grep '^accuracy_multi at threshold' runs/accuracy_shapes_multilabel.txt)
say "$line"
say "$(grep '^best threshold' runs/accuracy_shapes_multilabel.txt)"
acc=$(echo "$line" | sed 's/.*: \([0-9.]*\) (all-negative.*/\1/')
base=$(echo "$line" | sed 's/.*all-negative baseline: \([0-9.]*\)).*/\1/')
# only the biggest shape, right every time: an image with k kinds of shape misses k - 1 of
# the C label cells (C = the labels seen in the table)
big=$(awk -F, 'NR > 1 { n = split($3, l, " "); for (i = 1; i <= n; i++) seen[l[i]] = 1 }
               NR > 1 && $4 == "True" { m++; miss += n - 1 }
               END { for (k in seen) c++; printf "%.6f", 1 - miss / (m * c) }' data/shapes/labels.csv)
say "reference, only the biggest shape of each image found: $big"
ok_ml=$(awk -v a="$acc" -v b="$ML_BAR" -v g="$big" 'BEGIN { print (a >= b && a > g) ? 1 : 0 }')
say "multi-label: accuracy_multi $acc vs all-negative $base, biggest-shape-only $big, bar $ML_BAR -> $( [ "$ok_ml" = 1 ] && echo PASS || echo FAIL )"

say "== points (configs/points.ini)"
start=$(date +%s)
rm -rf runs/points
train configs/points.ini runs/accuracy_shapes_points_train.txt
say "trained in $(( $(date +%s) - start )) s; last epoch:"
say "$(tail -1 runs/points/metrics.csv)"
$F interpret configs/points.ini --top-losses 9 > runs/accuracy_shapes_points.txt
err_line=$(grep '^mean point error' runs/accuracy_shapes_points.txt)
base_line=$(grep '^baseline, the mean target point' runs/accuracy_shapes_points.txt)
say "$err_line"
say "$base_line"
e=$(echo "$err_line" | sed 's/^mean point error: \([0-9.]*\) .*/\1/')
b=$(echo "$base_line" | sed 's/^baseline, the mean target point for every image: \([0-9.]*\) .*/\1/')
ok_pt=$(awk -v e="$e" -v b="$b" 'BEGIN { print (e <= b / 2) ? 1 : 0 }')
say "points: mean error $e px vs mean-point baseline $b px -> $( [ "$ok_pt" = 1 ] && echo PASS || echo FAIL )"

[ "$ok_ml" = 1 ] && [ "$ok_pt" = 1 ]
