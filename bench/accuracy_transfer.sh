#!/bin/sh
# accuracy_transfer.sh — issue 5: transfer learning shown on our own data (no
# ImageNet weights on this machine).
#   1. pretrain resnet18 from scratch on Fashion-MNIST classes 0-4 (T-shirt_top,
#      Trouser, Pullover, Dress, Coat: all 30,000 training images), save it;
#   2. fine_tune on classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle_boot) with only
#      100 training images per class, starting from that file (`pretrained =`);
#   3. the same 500 images, the same number of epochs and batches, from scratch
#      (fit_one_cycle over the same epoch count: a frozen body would not be fair).
# Both are measured on the official test images of classes 5-9 (5,000 images).
# The pretrained start must beat scratch, else the script fails.
# Writes the figures to runs/accuracy_transfer.txt.  Knobs: PRE_EPOCHS (2),
# FT_EPOCHS (fine_tune epochs, 9), FREEZE_EPOCHS (1), THREADS (all cores).
# base_lr is 1e-2 with lr_mult 10, not fastai's 2e-3: that default is for
# ImageNet features and left this body at 1e-5..1e-4, where the pretrained
# start lost (10.1% vs 6.9%).  Measured 2026-11-27 with this schedule, seeds
# 42/1/2: pretrained 6.22/7.40/6.58% vs scratch 6.88/7.56/7.24% (small but
# consistent: garment features carry over weakly to shoes and bags).  This script
# end to end, same day (seed 42, engine of 39c8aee): pretrained 6.50% vs scratch 6.88%.
set -eu
cd "$(dirname "$0")/.."
F=./fastc
PRE_EPOCHS=${PRE_EPOCHS:-2}
FT_EPOCHS=${FT_EPOCHS:-9}
FREEZE_EPOCHS=${FREEZE_EPOCHS:-1}
W=runs/transfer
OUT=runs/accuracy_transfer.txt
mkdir -p "$W"
: > "$OUT"
say() { echo "$*"; echo "$*" >> "$OUT"; }

$F get fashion_mnist data/fashion_mnist > /dev/null
SRC=$(pwd)/data/fashion_mnist

# data trees of symlinks: A = classes 0-4 (all), B = classes 5-9 (100 train images each)
rm -rf "$W/a" "$W/b"
for c in T-shirt_top Trouser Pullover Dress Coat; do
    mkdir -p "$W/a/train/$c" "$W/a/valid/$c"
    ln -s "$SRC/train/$c"/*.png "$W/a/train/$c/"
    ln -s "$SRC/valid/$c"/*.png "$W/a/valid/$c/"
done
for c in Sandal Shirt Sneaker Bag Ankle_boot; do
    mkdir -p "$W/b/train/$c" "$W/b/valid/$c"
    ls "$SRC/train/$c" | sort -n | head -100 | while read -r f; do ln -s "$SRC/train/$c/$f" "$W/b/train/$c/"; done
    ln -s "$SRC/valid/$c"/*.png "$W/b/valid/$c/"
done

cfg() {   # cfg NAME DATA SCHEDULE [PRETRAINED]
    {
        echo "[data]"
        echo "path = $2"
        echo "blocks = ImageBlock(cls=PILImageBW), CategoryBlock"
        echo "get_items = get_image_files"
        echo "get_y = parent_label"
        echo "splitter = GrandparentSplitter()"
        echo "batch_tfms = Normalize.from_stats(mnist_stats)"
        echo "bs = ${5:-128}"
        echo "[model]"
        echo "arch = resnet18"
        echo "n_in = 1"
        [ -n "${4:-}" ] && echo "pretrained = $4"
        echo "[learner]"
        echo "metrics = error_rate"
        echo "[train]"
        echo "schedule = $3"
        echo "[output]"
        echo "dir = $1"
    } > "$W/$1.ini"
}

T=""
[ -n "${THREADS:-}" ] && T="--threads $THREADS"
run() {   # run NAME: train $W/NAME.ini, its table in $W/NAME.log
    $F train "$W/$1.ini" $T --quiet > "$W/$1.log" 2>&1 ||
        { tail -3 "$W/$1.log" >&2; echo "accuracy_transfer.sh: training $W/$1.ini failed" >&2; exit 1; }
}
cfg pre a "fit_one_cycle($PRE_EPOCHS, 1e-2)" "" 256
cfg finetune b "fine_tune($FT_EPOCHS, base_lr=1e-2, freeze_epochs=$FREEZE_EPOCHS, lr_mult=10)" "pre/model.safetensors" 32
cfg scratch b "fit_one_cycle($((FT_EPOCHS + FREEZE_EPOCHS)), 1e-2)" "" 32

start=$(date +%s)
run pre
say "pretrain on classes 0-4 (30,000 images, $PRE_EPOCHS epochs): $(( $(date +%s) - start )) s; last epoch:"
say "  $(tail -1 "$W/pre/metrics.csv")"
start=$(date +%s)
run finetune
say "fine_tune($FT_EPOCHS, freeze_epochs=$FREEZE_EPOCHS) on classes 5-9, 100 images each, from the pretrained body: $(( $(date +%s) - start )) s"
say "  $(tail -1 "$W/finetune/metrics.csv")"
start=$(date +%s)
run scratch
say "fit_one_cycle($((FT_EPOCHS + FREEZE_EPOCHS))) on the same 500 images from scratch: $(( $(date +%s) - start )) s"
say "  $(tail -1 "$W/scratch/metrics.csv")"
ft=$(tail -1 "$W/finetune/metrics.csv" | cut -d, -f4)
sc=$(tail -1 "$W/scratch/metrics.csv" | cut -d, -f4)
ok=$(awk -v a="$ft" -v b="$sc" 'BEGIN { print (a < b) ? 1 : 0 }')
say ""
say "error_rate on the 5,000 test images of classes 5-9, $((FT_EPOCHS + FREEZE_EPOCHS)) epochs on 500 training images:"
say "$(awk -v a="$ft" -v b="$sc" 'BEGIN {
    printf "  pretrained on classes 0-4, fine_tune: %6.2f%%\n", 100 * a
    printf "  from scratch, fit_one_cycle:          %6.2f%%\n", 100 * b
    printf "  pretrained - scratch:                 %+6.2f points", 100 * (a - b) }')"
say "$( [ "$ok" = 1 ] && echo "PASS: the pretrained start is better" || echo "FAIL: the pretrained start is not better than scratch" )"
[ "$ok" = 1 ]
