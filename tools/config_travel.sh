#!/bin/sh
# config_travel.sh [TREE] — how far a config value travels: the calls made
# while `fastc train` opens its pipeline (from main() to the first epoch:
# config, data, model, learner options, schedule), measured, not read off the
# source.  TREE (default: this repository) is built once more at -O0 with
# gcc's -finstrument-functions (core/ and nn/ left out: they read no config)
# and tools/trace_calls.c, which writes every function entered on the main
# thread with its call site and ends the process at learner_fit_schedule().
# The addresses are mapped to functions and folders (addr2line), and printed:
#
#   1. calls into src/config from each other folder (every cfg_num(),
#      cfg_get(), config_load() ... call; "other" is inih calling the
#      config reader's callbacks);
#   2. the opening's course: the folders the command (cmd/ and main.c) calls
#      into, in order, consecutive calls into one folder counted once — the
#      back and forth between cmd and the layers; and how many of those legs
#      go into config (or setup, the layer that reads it);
#   3. the functions of config/ called from outside config/ and setup/.
#
# For two images tasks (the single-label config of tools/behaviour_digest.sh
# and a points one) and a collab one, on generated data.  About a minute
# per tree on one core.  To compare two commits:
#     git worktree add /tmp/before COMMIT
#     tools/config_travel.sh /tmp/before > before.txt; tools/config_travel.sh > after.txt
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TREE=$(cd "${1:-$HERE/..}" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$TREE"

PKGS="openblas libpng libjpeg inih zlib"
CF="-std=c11 -D_GNU_SOURCE -O0 -g -march=native -fopenmp -Isrc -no-pie -finstrument-functions
    -finstrument-functions-exclude-file-list=src/core/,src/nn/ $(pkg-config --cflags $PKGS ompi-c 2>/dev/null)"
mkdir -p "$W/obj"
export CF W
find src -name '*.c' | sort | xargs -P 2 -n 1 sh -c 'cc $CF -c "$1" -o "$W/obj/$(echo "$1" | tr / _).o"' _
# shellcheck disable=SC2086
cc -O1 -no-pie -c "$HERE/trace_calls.c" -o "$W/trace_calls.o"
# shellcheck disable=SC2086
cc -no-pie -fopenmp "$W"/obj/*.o "$W/trace_calls.o" -o "$W/fastc" $(pkg-config --libs $PKGS) -lm -lpthread -ldl
STOP=$(nm "$W/fastc" | awk '$3 == "learner_fit_schedule" {print $1}')
[ -n "$STOP" ] || { echo "config_travel.sh: no learner_fit_schedule in $TREE" >&2; exit 1; }

cd "$W"
export FASTC_BLAS_REEXEC=1   # no OpenBLAS re-exec: one process to trace
./fastc get shapes shapes --n 40 --threads 1 --quiet
awk 'BEGIN { for (i = 0; i < 200; i++) printf "%d,%d,%d\n", 1 + i % 13, 1 + (i * 7) % 17, 1 + i % 5 }' > r.csv
cat > images.ini <<'EOF'
[data]
path       = shapes
csv        = labels.csv
blocks     = ImageBlock, CategoryBlock
get_x      = ColReader('fname')
get_y      = ColReader('label')
splitter   = ColSplitter('is_valid')
item_tfms  = Resize(40, method='pad', pad_mode='zeros')
batch_tfms = aug_transforms(size=32, min_scale=0.75, max_rotate=5), Normalize.from_stats(imagenet_stats)
bs         = 8
[model]
arch       = resnet18
[learner]
metrics    = error_rate, accuracy
cbs        = SaveModelCallback(monitor='error_rate'), EarlyStoppingCallback(monitor='valid_loss', patience=3)
loss_func  = LabelSmoothingCrossEntropy(eps=0.1)
opt_func   = SGD(mom=0.8)
[train]
schedule   = fit_one_cycle(1, lr_max=slice(1e-3, 1e-2), pct_start=0.3)
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
bs         = 8
[model]
arch       = resnet18
y_range    = (-1, 1)
[learner]
metrics    = mse, rmse
loss_func  = L1LossFlat
[train]
schedule   = fit_one_cycle(1, 2e-2)
EOF
cat > collab.ini <<'EOF'
[data]
csv        = r.csv
csv_names  = user, item, rating
blocks     = CollabBlock(user='user', item='item', rating='rating')
splitter   = RandomSplitter(valid_pct=0.2, seed=42)
bs         = 16
[model]
arch       = DotProductBias(n_factors=8, y_range=(0, 5.5))
[learner]
metrics    = mse, rmse
[train]
schedule   = fit_one_cycle(1, 5e-3, wd=0.1)
EOF

for c in images points collab; do
    TRACE_OUT=$c.trace TRACE_STOP=$STOP ./fastc train $c.ini --threads 1 --quiet > /dev/null 2> $c.err ||
        { echo "config_travel.sh: train $c.ini failed:" >&2; cat $c.err >&2; exit 1; }
done
# address -> "function folder" (folder: the src/ folder of its file, main for main.c)
cat ./*.trace | tr ' ' '\n' | sort -u > addrs
addr2line -f -e fastc < addrs | paste - - | paste addrs - |
    awk '{ f = $3; sub(/:.*/, "", f); d = "other";
           if (match(f, /src\/[a-z_]+\//)) d = substr(f, RSTART + 4, RLENGTH - 5);
           else if (f ~ /src\/main\.c$/) d = "main";
           print $1, $2, d }' > names

for c in images points collab; do
    echo "== $c.ini: config reached from other folders while train opens (calls into src/config, by caller)"
    awk 'NR == FNR { fn[$1] = $2; dir[$1] = $3; next }
         { to = dir[$1]; from = dir[$2]
           if (to == "config" && from != "config") { n[from]++; t++; if (from != "setup" && from != "other") out[fn[$1]]++ } }
         END { for (k in n) printf "  from %-7s %4d%s\n", k, n[k], k == "other" ? "  (inih calling the reader back)" : "" | "sort"
               close("sort")
               printf "  total %d\n", t
               m = 0; for (k in out) m++
               printf "  config functions called from outside config/ and setup/: %d\n", m
               for (k in out) printf "    %-28s %4d\n", k, out[k] | "sort -k2 -rn"; close("sort -k2 -rn") }' names $c.trace
    echo "== $c.ini: the opening's course (folders cmd/ and main.c call into, in order)"
    awk 'NR == FNR { dir[$1] = $3; next }
         { to = dir[$1]; from = dir[$2]
           if ((from == "cmd" || from == "main") && to != "cmd" && to != "main" && to != "other" && to != last) {
               path = path (n ? " " : "") to; n++; last = to; if (to == "config" || to == "setup") k++ } }
         END { print "  " path; printf "  legs: %d, into config/setup: %d\n", n, k }' names $c.trace | fold -s -w 110
done
