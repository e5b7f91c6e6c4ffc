#!/bin/sh
# bench_predict.sh — start-up of `fastc predict`: one 224-pixel JPEG through resnet18,
# wall time end to end (process start, model load, decode, forward, print), against
# `python3 -c 'import torch, torchvision'` alone, timed by hyperfine in the same run.
# The budget (issue 6 item 3) is 0.3 s.  The model is a resnet18 trained for one batch
# on 12 generated images (predicting needs only the file: weights, vocab, preprocessing).
# Time it alone: `make bench` (bench/run.sh holds /tmp/fastc-bench.lock), or
#     flock /tmp/fastc-bench.lock sh bench/bench_predict.sh
set -eu
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
RUNS=${RUNS:-20}
make -s fastc >/dev/null
FASTC=$(pwd)/build/release/fastc
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
$PY bench/predict_data.py "$d"
cat > "$d/p.ini" <<INI
[data]
path       = images
blocks     = ImageBlock, CategoryBlock
get_items  = get_image_files
get_y      = RegexLabeller(pat=r'^(.+)_\d+\.jpg$')
splitter   = RandomSplitter(valid_pct=0.25, seed=42)
item_tfms  = Resize(224)
batch_tfms = Normalize.from_stats(imagenet_stats)
bs         = 4
[model]
arch       = resnet18
[train]
schedule   = fit_one_cycle(1, 1e-3)
[output]
dir        = run
INI
(cd "$d" && "$FASTC" train p.ini --quiet --max-batches 1 >/dev/null)
(cd "$d" && "$FASTC" predict --model run/model.safetensors one.jpg)
cd "$d"
hyperfine -N -w 3 -r "$RUNS" --export-json f.json "$FASTC predict --model run/model.safetensors one.jpg" >/dev/null
hyperfine -w 1 -r 5 --export-json t.json "$PY -c 'import torch, torchvision'" >/dev/null
$PY - <<PYEOF
import json
f = json.load(open("f.json"))["results"][0]
t = json.load(open("t.json"))["results"][0]
print(f"fastc predict, one 224-px JPEG, resnet18: {f['mean']:.3f} s +- {f['stddev']:.3f} (min {f['min']:.3f}) "
      f"wall end to end; python3 -c 'import torch, torchvision': {t['mean']:.3f} s +- {t['stddev']:.3f} "
      f"(min {t['min']:.3f}); fastc is {t['mean'] / f['mean']:.1f}x faster than the import alone; "
      f"budget 0.3 s: {'met' if f['mean'] < 0.3 else 'NOT met'}")
PYEOF
