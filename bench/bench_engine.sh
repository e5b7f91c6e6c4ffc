#!/bin/sh
# bench_engine.sh — training-step speed and peak memory of the fastc engine
# against PyTorch, in the same run, alternating, for resnet18/34/50/101/152 at 64x64 and
# 128x128, batch 64 (forward + cross-entropy + backward + Adam step), in fp32
# and in bf16 (fastc `precision = bf16`; PyTorch torch.autocast('cpu', bfloat16)).
#
#   sh bench/bench_engine.sh [STEPS]             (make bench runs it under flock)
#   ARCHS="resnet18" SIZES="128" sh bench/bench_engine.sh   (fewer rows: shorter lock holds)
#   WAITS="default" ...                         (only the user's OMP_WAIT_POLICY)
#   QUIET=2 ...                                 (first wait up to 3 min for the 1-minute
#                                                load average to fall below 2)
#   ROUNDS=3 ...                                (each row R times, the four sides alternating
#                                                in every round; default 1)
#   HEAP=kept ...                               (every side with glibc's malloc keeping freed
#                                                memory: see below; default: as a user has it)
#
# Each side runs with 2 threads, each configuration in a fresh process (so peak
# RSS is that configuration's), STEPS timed steps (default 8) after one warm-up
# step, in this order: fastc fp32, fastc bf16, PyTorch fp32, PyTorch bf16 — once
# with OMP_WAIT_POLICY as a user has it (unset: each runtime's default, which
# spins) and once with PASSIVE.  PyTorch runs channels_last.  OPENBLAS_CORETYPE
# and OPENBLAS_L2_SIZE are unset for both sides (this machine's environment
# pins OpenBLAS to its Haswell kernels; a bench compares the engines, not that).
#
# HEAP=kept: glibc's malloc serves every block from its heap and never returns
# freed memory (GLIBC_TUNABLES mmap_max=0, trim_threshold 4 GB).  By default a
# block above 32 MB is mmap'd and unmapped again when freed: PyTorch, which
# allocates each step's activations anew, then takes page faults and zeroes
# fresh pages every step (at resnet50 128 px its steps spread 2.5-4.1 CPU-s),
# while fastc allocates its buffers once.  PyTorch's CPU tuning guides advise a
# caching allocator (jemalloc, tcmalloc) for that; this is the same effect
# without another package, applied to both sides.
#
# Per configuration: img/s from the median step's wall time (and the fastest's),
# CPU seconds per step (median and minimum), peak RSS; with ROUNDS > 1, the median
# over rounds of each round's median (img/s, CPU-s), the best and minimum over all
# rounds, the largest peak RSS; ratios from wall time and from CPU
# time (on a loaded machine wall time favours whoever spins less, CPU time
# whoever spins more); fastc's GFLOPS per CPU-second (3x the forward FLOPs per
# image over the median CPU time) against one core's peak: 227 fp32, 463 bf16.
set -eu
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
STEPS=${1:-8}
case "${HEAP:-user}" in
    user) heap="malloc as a user has it" ;;
    kept) export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4000000000
          heap="malloc keeping freed memory (GLIBC_TUNABLES=$GLIBC_TUNABLES)" ;;
    *) echo "bench_engine.sh: HEAP=$HEAP: expected user or kept" >&2; exit 2 ;;
esac
PY=/usr/bin/python3
make -s bench-engine >/dev/null
BIN=build/release/bench_engine
if [ -n "${QUIET:-}" ]; then
    i=0
    while [ $i -lt 36 ] && awk -v q="$QUIET" '{ exit !($1 >= q) }' /proc/loadavg; do sleep 5; i=$((i + 1)); done
fi
# summarize "LINE;LINE;...": one line in the programs' format from R rounds' lines
# (fields 4 img/s median, 5 best, 6 peak MB, 7 CPU-s median, 8 min): the median of
# the medians, the best of the bests, the largest peak, the least minimum.
summarize() {
    echo "$1" | tr ';' '\n' | awk 'NF {
        n++; for (i = 1; i <= NF; i++) f[n, i] = $i; nf = NF }
    function med(k,   i, j, t, v) {
        for (i = 1; i <= n; i++) v[i] = f[i, k]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
    function best(k, hi,   i, b) {
        b = f[1, k]; for (i = 2; i <= n; i++) if (hi ? f[i, k] > b : f[i, k] < b) b = f[i, k]; return b }
    END {
        line = f[1, 1] " " f[1, 2] " " f[1, 3] " " med(4) " " best(5, 1) " " best(6, 1) " " med(7) " " best(8, 0)
        for (i = 9; i <= nf; i++) line = line " " med(i)
        print line }'
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC'); $STEPS steps after a warm-up; $heap"
printf '%-8s %4s %-7s | %-32s | %-32s | %-32s | %-32s | %-13s | %-13s | %-13s | %-23s | %s\n' \
    arch size wait "fastc fp32 img/s (best) cpu-s (min)" "fastc bf16 img/s (best) cpu-s (min)" \
    "torch fp32 img/s (best) cpu-s (min)" "torch bf16 img/s (best) cpu-s (min)" "f16/t16 wall cpu" \
    "f16/f32 wall cpu" "f32/t32 wall cpu" "peak MB f32 f16 t32 t16" \
    "GF/cpu-s f32 f16 (peak 227, 463)"
for arch in ${ARCHS:-resnet18 resnet34 resnet50 resnet101 resnet152}; do
    for size in ${SIZES:-64 128}; do
        for wait in ${WAITS:-default PASSIVE}; do
            if [ "$wait" = PASSIVE ]; then export OMP_WAIT_POLICY=PASSIVE; else unset OMP_WAIT_POLICY; fi
            f1=; f2=; t1=; t2=; r=0
            while [ $r -lt "${ROUNDS:-1}" ]; do
                f1="$f1$($BIN "$arch" "$size" 64 "$STEPS" 2 3 fp32);"
                f2="$f2$($BIN "$arch" "$size" 64 "$STEPS" 2 3 bf16);"
                t1="$t1$($PY bench/engine_torch.py "$arch" "$size" 64 "$STEPS" channels_last 2 3 fp32);"
                t2="$t2$($PY bench/engine_torch.py "$arch" "$size" 64 "$STEPS" channels_last 2 3 bf16);"
                r=$((r + 1))
            done
            f1=$(summarize "$f1"); f2=$(summarize "$f2"); t1=$(summarize "$t1"); t2=$(summarize "$t2")
            echo "$f1|$f2|$t1|$t2" | awk -F'|' -v a="$arch" -v s="$size" -v w="$wait" '{
                split($1, f1, " "); split($2, f2, " "); split($3, t1, " "); split($4, t2, " ");
                printf "%-8s %4s %-7s | %6.1f (%6.1f) %6.3f (%6.3f) s | %6.1f (%6.1f) %6.3f (%6.3f) s | %6.1f (%6.1f) %6.3f (%6.3f) s | %6.1f (%6.1f) %6.3f (%6.3f) s | %5.2fx %5.2fx | %5.2fx %5.2fx | %5.2fx %5.2fx | %5.0f %5.0f %5.0f %5.0f | %5.0f %5.0f\n",
                    a, s, w, f1[4], f1[5], f1[7], f1[8], f2[4], f2[5], f2[7], f2[8], t1[4], t1[5], t1[7], t1[8],
                    t2[4], t2[5], t2[7], t2[8],
                    f2[4] / t2[4], t2[7] / f2[7], f2[4] / f1[4], f1[7] / f2[7], f1[4] / t1[4], t1[7] / f1[7],
                    f1[6], f2[6], t1[6], t2[6], f1[9], f2[9] }'
        done
    done
done
