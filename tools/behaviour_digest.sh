#!/bin/sh
# behaviour_digest.sh FASTC DIR — run one fastc binary through small versions
# of every task (single-label, multi-label, points, regex labels with a
# torchvision head, pretrained fine-tuning, collab dot-product and EmbeddingNN)
# and every command (validate, summary, show_batch, lr_find, train, interpret,
# predict) in DIR, and print a SHA-256 of each output: model and checkpoint
# files, metrics.csv without its time column, config.ini, predictions,
# interpretation tables, pictures, and the text each command prints.
#
# Two builds behave the same when their digests are the same:
#     tools/behaviour_digest.sh build/old/fastc /tmp/a > a.txt
#     tools/behaviour_digest.sh ./fastc /tmp/b > b.txt && diff a.txt b.txt
# A few minutes on one thread; the data is generated (fastc get shapes, and a
# ratings table written by awk).
set -eu
[ $# -eq 2 ] || { echo "usage: $0 FASTC DIR" >&2; exit 2; }
FASTC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DIR=$2
rm -rf "$DIR"
mkdir -p "$DIR"
cd "$DIR"
T="--threads 1"

"$FASTC" get shapes shapes --n 160 $T --quiet
awk 'BEGIN { s = 7; for (i = 0; i < 600; i++) { s = (s * 1103515245 + 12345) % 2147483648; u = 1 + int(s / 65536) % 30;
             s = (s * 1103515245 + 12345) % 2147483648; m = 1 + int(s / 65536) % 40; r = 1 + (u * 7 + m * 3) % 5;
             printf "%d\t%d\t%d\t%d\n", u, m, r, 880000000 + i } }' > ratings.tsv

cat > single.ini <<'EOF'
[data]
path       = shapes
csv        = labels.csv
blocks     = ImageBlock, CategoryBlock
get_x      = ColReader('fname')
get_y      = ColReader('label')
splitter   = ColSplitter('is_valid')
item_tfms  = Resize(40, method='pad', pad_mode='zeros')
batch_tfms = aug_transforms(size=32, min_scale=0.75, max_rotate=5), Normalize.from_stats(imagenet_stats)
bs         = 16
[model]
arch       = resnet18
[learner]
metrics    = error_rate, accuracy
cbs        = SaveModelCallback(monitor='error_rate'), EarlyStoppingCallback(monitor='valid_loss', patience=3)
loss_func  = LabelSmoothingCrossEntropy(eps=0.1)
opt_func   = SGD(mom=0.8)
lr         = 1e-2
[train]
schedule   = fit(1), fit_one_cycle(1, lr_max=slice(1e-3, 1e-2), pct_start=0.3)
[lr_find]
num_it     = 12
EOF

cat > multi.ini <<'EOF'
[data]
path       = shapes
csv        = labels.csv
blocks     = ImageBlock, MultiCategoryBlock
get_x      = ColReader('fname')
get_y      = ColReader('labels', label_delim=' ')
splitter   = RandomSplitter(valid_pct=0.25)
item_tfms  = RandomResizedCrop(32, min_scale=0.35)
batch_tfms = aug_transforms(mult=2.0, do_flip=False), Normalize()
bs         = 16
val_bs     = 24
[model]
arch       = resnet18
ps         = 0.25
[learner]
metrics    = accuracy_multi(thresh=0.3)
wd         = 0.05
moms       = (0.9, 0.8, 0.9)
seed       = 7
[train]
schedule   = fit_one_cycle(2, 3e-3, div=10.0, moms=(0.95, 0.8, 0.95))
EOF

cat > points.ini <<'EOF'
[data]
path       = shapes
blocks     = ImageBlock, PointBlock
get_items  = get_image_files
get_y      = PointsFromCSV('centers.csv')
splitter   = RandomSplitter(valid_pct=0.25, seed=3)
item_tfms  = Resize(32, method='squish')
batch_tfms = aug_transforms(max_rotate=10.0, max_warp=0.1), Normalize.from_stats(imagenet_stats)
bs         = 16
[model]
arch       = resnet18
y_range    = (-1, 1)
[learner]
metrics    = mse, rmse, mae
loss_func  = L1LossFlat
[train]
schedule   = fit_one_cycle(1, 2e-2, wd=0.0), fit(1, 1e-4)
EOF

cat > regex.ini <<'EOF'
[data]
path       = shapes
blocks     = ImageBlock(cls=PILImageBW), CategoryBlock(sort=False)
get_items  = get_image_files(folders=images)
get_y      = RegexLabeller(pat='(\d)\.(jpg|png)$')
splitter   = RandomSplitter()
item_tfms  = Resize(32, method='crop'), RandomResizedCrop(24, min_scale=0.5, ratio=(0.8, 1.25))
batch_tfms = Normalize.from_stats(mnist_stats)
bs         = 16
[model]
arch       = resnet18
n_in       = 1
head       = 'torchvision'
[learner]
opt_func   = Adam(mom=0.85, eps=1e-6)
wd_bn_bias = True
train_bn   = False
[train]
schedule   = fit_one_cycle(1, 5e-3)
EOF

cat > body.ini <<'EOF'
[data]
path       = shapes
csv        = labels.csv
blocks     = ImageBlock, CategoryBlock
get_x      = ColReader('fname')
get_y      = ColReader('label')
splitter   = ColSplitter('is_valid')
item_tfms  = Resize(32)
bs         = 16
[model]
arch       = resnet18
head       = 'torchvision'
[train]
schedule   = fit(1, 1e-3)
EOF

cat > pretrained.ini <<'EOF'
[data]
path       = shapes
csv        = labels.csv
blocks     = ImageBlock, MultiCategoryBlock(vocab=[triangle, square, cross, circle])
get_x      = ColReader('fname')
get_y      = ColReader('labels', label_delim=' ')
splitter   = ColSplitter('is_valid')
item_tfms  = Resize(32)
bs         = 16
[model]
arch       = resnet18
pretrained = runs/body/model.safetensors
[learner]
metrics    = accuracy_multi
loss_func  = BCEWithLogitsLossFlat(thresh=0.4)
[train]
schedule   = fine_tune(1, base_lr=2e-3, freeze_epochs=1)
EOF

cat > collab.ini <<'EOF'
[data]
csv        = ratings.tsv
csv_sep    = '\t'
csv_names  = user, item, rating, timestamp
blocks     = CollabBlock(user='user', item='item', rating='rating')
splitter   = RandomSplitter(valid_pct=0.2, seed=42)
bs         = 32
[model]
arch       = DotProductBias(n_factors=8, y_range=(0, 5.5))
[learner]
metrics    = mse, rmse
[train]
schedule   = fit_one_cycle(3, 5e-3, wd=0.1)
EOF

cat > collab_nn.ini <<'EOF'
[data]
csv        = ratings.tsv
csv_sep    = '\t'
csv_names  = user, item, rating, timestamp
blocks     = CollabBlock
splitter   = RandomSplitter(valid_pct=0.2)
bs         = 32
val_bs     = 50
[model]
arch       = EmbeddingNN(layers=[16, 8], y_range=(0, 5.5))
[learner]
metrics    = mae
opt_func   = Adam(wd=0.0)
[train]
schedule   = fit(2, 1e-3)
EOF

digest() {   # NAME FILE...: one line per file (command output made independent of DIR and time)
    name=$1
    shift
    for f in "$@"; do
        case "$f" in
        out_*.txt) [ -f "$f" ] && sed -i -e "s#$PWD#DIR#g" -e 's/[0-9][0-9]:[0-9][0-9] *$/TIME/' "$f" ;;
        esac
        if [ -f "$f" ]; then echo "$(sha256sum < "$f" | cut -c1-16)  $name $f"; else echo "missing  $name $f"; fi
    done
}

notime() {   # metrics.csv without its last column (the time)
    sed 's/,[^,]*$//' "$1" > "$1.notime"
    echo "$1.notime"
}

for c in single multi points regex body pretrained collab collab_nn; do
    "$FASTC" validate $c.ini $T > out_validate_$c.txt 2>&1 || echo "exit $?" >> out_validate_$c.txt
    "$FASTC" validate $c.ini $T --json > out_validate_json_$c.txt 2>&1 || echo "exit $?" >> out_validate_json_$c.txt
    "$FASTC" summary $c.ini $T > out_summary_$c.txt 2>&1 || echo "exit $?" >> out_summary_$c.txt
    digest text out_validate_$c.txt out_validate_json_$c.txt out_summary_$c.txt
done
for c in single points regex; do
    "$FASTC" show_batch $c.ini $T --quiet --out show_$c.png > /dev/null 2>&1 || echo "show_batch $c: exit $?"
    digest picture show_$c.png
done
"$FASTC" lr_find single.ini $T --quiet > out_lr_find.txt 2>&1 || echo "exit $?" >> out_lr_find.txt
digest lr_find out_lr_find.txt runs/single/lr_find.csv runs/single/lr_find.png
rm -rf runs/single

for c in single multi points regex body pretrained collab collab_nn; do
    "$FASTC" train $c.ini $T --quiet > out_train_$c.txt 2>&1 || echo "exit $?" >> out_train_$c.txt
    [ -f runs/$c/config.ini ] && sed -i "s#$PWD#DIR#g" runs/$c/config.ini
    [ -f runs/$c/metrics.csv ] && notime runs/$c/metrics.csv > /dev/null
    digest "train $c" out_train_$c.txt runs/$c/model.safetensors runs/$c/config.ini runs/$c/metrics.csv.notime
    if [ -f runs/$c/best.safetensors ]; then digest "train $c" runs/$c/best.safetensors; fi
done

ls shapes/images | head -6 | sed 's#^#shapes/images/#' > inputs.txt
for c in single multi points regex; do
    "$FASTC" predict $c.ini - $T < inputs.txt > out_predict_$c.txt 2>&1 || echo "exit $?" >> out_predict_$c.txt
    "$FASTC" predict --model runs/$c/model.safetensors - $T --all < inputs.txt > out_predict_model_$c.txt 2>&1 ||
        echo "exit $?" >> out_predict_model_$c.txt
    digest predict out_predict_$c.txt out_predict_model_$c.txt
done
"$FASTC" predict collab.ini 3,5 7,11 12,40 $T > out_predict_collab.txt 2>&1 || echo "exit $?" >> out_predict_collab.txt
digest predict out_predict_collab.txt

"$FASTC" interpret single.ini --most-confused --confusion --top-losses 4 $T > out_interpret_single.txt 2>&1 ||
    echo "exit $?" >> out_interpret_single.txt
digest interpret out_interpret_single.txt runs/single/confusion.csv runs/single/most_confused.csv \
    runs/single/confusion.png runs/single/top_losses.png
"$FASTC" interpret multi.ini --thresholds $T > out_interpret_multi.txt 2>&1 || echo "exit $?" >> out_interpret_multi.txt
digest interpret out_interpret_multi.txt runs/multi/thresholds.csv
"$FASTC" interpret points.ini --top-losses 3 $T > out_interpret_points.txt 2>&1 || echo "exit $?" >> out_interpret_points.txt
digest interpret out_interpret_points.txt runs/points/results.png runs/points/top_losses.png
"$FASTC" interpret collab.ini $T > out_interpret_collab.txt 2>&1 || echo "exit $?" >> out_interpret_collab.txt
digest interpret out_interpret_collab.txt runs/collab/item_bias.csv
