#!/bin/sh
# dist_bench.sh — data-parallel training on this machine and on paper.
#
# 1. Side by side, resnet18 at 128 px, global batch 64: one process with 2 threads
#    against 2 ranks of 1 thread (mpirun, shared memory), build/release/bench/dist_step:
#    images/s, the step's parts, the wait for the gradient allreduce, and how much of it
#    the overlap with the backward hides (buckets started from the backward's hooks
#    against all of them started after it).
# 2. Expected scaling to N machines of this kind (N = 2, 8, 32) at 10 and 100 Gb/s, each
#    machine one rank of 2 threads with 64 images a step (global bs 64·N), from the measured
#    step time T (one process), backward window W (from the first bucket's start to the end of
#    the backward), gradient bytes G and the last bucket's bytes G_last:
#        ring allreduce   A(N) = 2(N-1)/N · G / BW  +  2(N-1) · alpha · buckets
#        exposed          E(N) = max(2(N-1)/N · G_last / BW, A(N) - W)     (overlapped)
#                         E0(N) = A(N)                                      (no overlap)
#        step             T + E(N);   images/s = 64 N / (T + E(N));   efficiency T / (T + E(N))
#    alpha (per message latency): 30 us at 10 Gb/s (TCP), 5 us at 100 Gb/s.
#
#     flock /tmp/fastc-bench.lock sh bench/dist_bench.sh [STEPS]
set -eu
cd "$(dirname "$0")/.."
STEPS=${1:-4}
make -s build/release/bench/dist_step >/dev/null
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OMP_WAIT_POLICY=PASSIVE   # as fastc sets it for itself (core/ctx.h)
OUT=$(mktemp)
echo "# $(date -u +%H:%M) UTC $(uptime | sed 's/.*load/load/')"
build/release/bench/dist_step resnet18 128 64 "$STEPS" 2 | tee -a "$OUT"
mpirun --oversubscribe --allow-run-as-root -x OMP_WAIT_POLICY -np 2 \
    build/release/bench/dist_step resnet18 128 64 "$STEPS" 1 | tee -a "$OUT"
echo "# $(date -u +%H:%M) UTC $(uptime | sed 's/.*load/load/')"
awk '
function val(line, key,   i, n, f) { n = split(line, f, " "); for (i = 1; i <= n; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2); return "" }
/ranks=1 / { T = val($0, "step_s") }
/mode=overlap ranks=2/ { W = val($0, "window_s"); G = val($0, "grad_mb") * 1e6; GL = val($0, "last_mb") * 1e6; NB = val($0, "buckets")
                         S2 = val($0, "step_s"); WO = val($0, "wait_s"); MO = val($0, "start_s") + val($0, "progress_s") + WO }
/mode=after ranks=2/ { SA = val($0, "step_s"); WA = val($0, "wait_s"); MA = val($0, "start_s") + val($0, "progress_s") + WA }
END {
    printf "\n2 ranks: waiting for the allreduce %.1f%% of the step overlapped, %.1f%% started after the backward; " \
           "in MPI calls (start, progress, wait) %.1f%% and %.1f%%; wait hidden %.0f%%, step %.3f s against %.3f s\n",
           100 * WO / S2, 100 * WA / SA, 100 * MO / S2, 100 * MA / SA, 100 * (1 - WO / WA), S2, SA
    printf "\ninputs: T = %.3f s (1 process, 2 threads, 64 images), W = %.3f s, G = %.2f MB, G_last = %.2f MB, %d buckets\n", T, W, G / 1e6, GL / 1e6, NB
    printf "| machines | link | allreduce A(N) | exposed E(N) | img/s | efficiency | without overlap |\n|---|---|---|---|---|---|---|\n"
    split("2 8 32", Ns, " "); split("10 100", Bs, " ")
    for (b = 1; b <= 2; b++) for (i = 1; i <= 3; i++) {
        N = Ns[i]; BW = Bs[b] * 1e9 / 8; alpha = Bs[b] == 10 ? 30e-6 : 5e-6
        A = 2 * (N - 1) / N * G / BW + 2 * (N - 1) * alpha * NB
        L = 2 * (N - 1) / N * GL / BW; E = A - W > L ? A - W : L
        printf "| %d | %d Gb/s | %.1f ms | %.1f ms | %.1f | %.1f%% | %.1f%% |\n", N, Bs[b], A * 1e3, E * 1e3, 64 * N / (T + E), 100 * T / (T + E), 100 * T / (T + A)
    }
}' "$OUT"
rm -f "$OUT"
