#!/bin/sh
# scale_items.sh N... — what listing, labelling and splitting an ImageNet-shaped
# folder costs as it grows: for each N, a folder of N small PNGs under /tmp
# (1000 classes, train/<class>/ and valid/<class>/, 80/20), then
# build/release/bench/scale_items over it (time and memory of each phase), then
# the folder goes.  The files are hard links to 1000 distinct 16x16 PNGs (one per
# class): the directory entries, names and inodes to walk are those of N files
# without N data blocks on a shared disk.  Default N: 10000 100000 1000000.
#
#     nice sh bench/scale_items.sh [N...]     (the measurements take /tmp/fastc-bench.lock)
# KEEP=1 keeps the folders (and uses one kept from before).
set -eu
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 10000 100000 1000000
make -s build/release/bench/scale_items >/dev/null
for n in "$@"; do
    dir=/tmp/fastc-scale-$n
    if [ -d "$dir/data" ] && [ -n "${KEEP:-}" ]; then
        echo "# N=$n: the folder of a KEEP=1 run"
    else
    rm -rf "$dir"
    t0=$(date +%s.%N)
    /usr/bin/python3 - "$dir" "$n" <<'PY'
import os, struct, sys, zlib
root, n = sys.argv[1], int(sys.argv[2])
def png(seed):
    raw = b''.join(b'\0' + bytes(((x * 7 + y * 13 + seed * 31) & 255 for x in range(16 * 3))) for y in range(16))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 16, 16, 8, 2, 0, 0, 0)) + \
        chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
src = os.path.join(root, 'src')
os.makedirs(src)
for c in range(1000):
    with open(os.path.join(src, 'c%04d.png' % c), 'wb') as f: f.write(png(c))
for i in range(n):
    c = i % 1000
    split = 'valid' if (i // 1000) % 5 == 4 else 'train'
    d = os.path.join(root, 'data', split, 'n%08d' % (c * 7919 % 100000000))
    if i < 1000 or (i // 1000) % 5 == 4 and i < 5000: os.makedirs(d, exist_ok=True)
    os.link(os.path.join(src, 'c%04d.png' % c), os.path.join(d, 'img_%07d.png' % i))
PY
    t1=$(date +%s.%N)
    echo "# N=$n: folder made in $(awk "BEGIN{printf \"%.0f\", $t1 - $t0}") s"
    fi
    flock /tmp/fastc-bench.lock sh -c "uptime; build/release/bench/scale_items '$dir/data' pieces 64; \
        build/release/bench/scale_items '$dir/data' datablock 64"
    [ -n "${KEEP:-}" ] || rm -rf "$dir"
done
