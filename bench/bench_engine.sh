#!/bin/sh
# bench_engine.sh — training-step speed and peak memory of the fastc engine
# against PyTorch, in the same run, alternating, for resnet18/34/50/101/152 at 64x64 and
# 128x128, batch 64 (forward + cross-entropy + backward + Adam step).
#
#   sh bench/bench_engine.sh [STEPS]        (make bench runs it under flock)
#   ARCHS="resnet18" sh bench/bench_engine.sh   (some archs only: shorter lock holds)
#
# PyTorch: 2 threads, OMP_WAIT_POLICY=PASSIVE, best of channels_last and
# contiguous.  fastc: 2 threads, same environment.  Each number is img/s over
# STEPS timed steps after one warm-up step, each configuration in a fresh
# process (so peak RSS is that configuration's).
set -eu
cd "$(dirname "$0")/.."
STEPS=${1:-4}
PY=/usr/bin/python3
export OMP_WAIT_POLICY=PASSIVE
make -s bench-engine >/dev/null
BIN=build/release/bench_engine
printf '%-9s %5s %10s %10s %7s %10s %10s\n' arch size fastc_img/s torch_img/s ratio fastc_MB torch_MB
for arch in ${ARCHS:-resnet18 resnet34 resnet50 resnet101 resnet152}; do
    for size in 64 128; do
        t1=$($PY bench/engine_torch.py $arch $size 64 $STEPS channels_last 2)
        f1=$($BIN $arch $size 64 $STEPS 2)
        t2=$($PY bench/engine_torch.py $arch $size 64 $STEPS contiguous 2)
        f2=$($BIN $arch $size 64 $STEPS 2)
        echo "$t1|$t2|$f1|$f2" | awk -F'|' -v a=$arch -v s=$size '{
            split($1, t1, " "); split($2, t2, " "); split($3, f1, " "); split($4, f2, " ");
            t = t1[4] > t2[4] ? t1[4] : t2[4]; tm = t1[4] > t2[4] ? t1[6] : t2[6];
            f = f1[4] > f2[4] ? f1[4] : f2[4]; fm = f1[6] > f2[6] ? f1[6] : f2[6];
            printf "%-9s %5s %10.2f %10.2f %6.2fx %10.0f %10.0f\n", a, s, f, t, f / t, fm, tm }'
    done
done
