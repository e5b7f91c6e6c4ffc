#!/usr/bin/python3
"""data_pil.py — the PIL (+ numpy) side of bench/bench_data.sh.

    data_pil.py make DIR N           write N deterministic 224x224 JPEGs into DIR
    data_pil.py run DIR PROCS EPOCHS [--draft] [--size 128]

`run` does per image what fastai's pipeline does for
Resize(128) + aug_transforms() + Normalize.from_stats(imagenet_stats):
Image.open (+ draft('RGB', (size, size)) with --draft), convert('RGB'), the
largest square crop at a random place resized with BILINEAR to size, then one
PERSPECTIVE resample fusing flip, rotation (U(-10,10) deg, p=.75), zoom
(U(1,1.1), p=.75) and warp (U(-.2,.2), p=.75), then float32 /255, brightness and
contrast in logit space (p=.75 each), and (x-mean)/std, collated into batches of
64.  PROCS > 1 uses a multiprocessing pool (like torch's DataLoader workers).
Prints one line: "pil[-draft] procs=N images=M seconds=S images_per_s=R".
"""
import math
import os
import random
import resource
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def make(dirname, n):
    os.makedirs(dirname, exist_ok=True)
    rng = np.random.RandomState(1234)
    yy, xx = np.mgrid[0:224, 0:224].astype(np.float32)
    for i in range(n):
        fx, fy, ph = rng.uniform(0.02, 0.12, 3)
        base = np.stack([127 + 100 * np.sin(xx * fx + ph), 127 + 100 * np.cos(yy * fy + 2 * ph),
                         127 + 100 * np.sin((xx + yy) * (fx + fy) / 2)], -1)
        base += rng.normal(0, 12, base.shape)
        im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x0, y0 = rng.randint(0, 180, 2)
            s = rng.randint(20, 60)
            d.ellipse([x0, y0, x0 + s, y0 + s], fill=tuple(int(v) for v in rng.randint(0, 255, 3)))
        im.save(os.path.join(dirname, "img%05d.jpg" % i), quality=90)


def homography(w, h, size, rnd):
    """The output-pixel -> input-pixel perspective coefficients of one draw."""
    m = np.eye(3)
    if rnd.random() < 0.5:
        m = m @ np.diag([-1.0, 1.0, 1.0])
    if rnd.random() < 0.75:
        t = math.radians(rnd.uniform(-10, 10))
        m = m @ np.array([[math.cos(t), math.sin(t), 0], [-math.sin(t), math.cos(t), 0], [0, 0, 1]])
    if rnd.random() < 0.75:
        s = 1 / rnd.uniform(1, 1.1)
        cx, cy = rnd.random(), rnd.random()
        m = m @ np.array([[s, 0, (1 - s) * (2 * cx - 1)], [0, s, (1 - s) * (2 * cy - 1)], [0, 0, 1]])
    wx = rnd.uniform(-0.2, 0.2) if rnd.random() < 0.75 else 0.0
    wy = rnd.uniform(-0.2, 0.2) if rnd.random() < 0.75 else 0.0
    warp = np.array([[1 + wx * 0.1, wy * 0.1, 0], [wx * 0.1, 1 + wy * 0.1, 0], [wx * 0.05, wy * 0.05, 1]])
    to_norm = np.array([[2 / size, 0, -1], [0, 2 / size, -1], [0, 0, 1]])
    from_norm = np.array([[w / 2, 0, w / 2], [0, h / 2, h / 2], [0, 0, 1]])
    p = from_norm @ warp @ m @ to_norm
    p = p / p[2, 2]
    return tuple(p.reshape(-1)[:8])


def item(path, size, draft, rnd):
    im = Image.open(path)
    if draft:
        im.draft("RGB", (size, size))
    im = im.convert("RGB")
    w, h = im.size
    c = min(w, h)
    x0, y0 = int(rnd.random() * (w - c)), int(rnd.random() * (h - c))
    im = im.crop((x0, y0, x0 + c, y0 + c)).resize((size, size), Image.BILINEAR)
    im = im.transform((size, size), Image.PERSPECTIVE, homography(size, size, size, rnd), Image.BILINEAR)
    x = np.asarray(im, np.float32) * np.float32(1 / 255)
    if rnd.random() < 0.75 or rnd.random() < 0.75:
        b = rnd.uniform(0.4, 0.6)
        c = math.exp(rnd.uniform(math.log(0.8), -math.log(0.8)))
        x = np.clip(x, 1e-7, 1 - 1e-7)
        x = 1 / (1 + np.exp(-(np.log(x / (1 - x)) + math.log(b / (1 - b))) * c))
    return (x - MEAN) / STD


def work(args):
    paths, size, draft, seed = args
    rnd = random.Random(seed)
    batch = np.stack([item(p, size, draft, rnd) for p in paths]).astype(np.float32)
    return float(batch[0, 0, 0, 0])


def run(dirname, procs, epochs, draft, size):
    paths = sorted(os.path.join(dirname, f) for f in os.listdir(dirname) if f.endswith(".jpg"))
    bs = 64
    jobs = []
    for e in range(epochs):
        order = list(paths)
        random.Random(e).shuffle(order)
        for b in range(len(order) // bs):
            jobs.append((order[b * bs:(b + 1) * bs], size, draft, e * 100003 + b))
    images = sum(len(j[0]) for j in jobs)
    if procs > 1:
        import multiprocessing as mp
        pool = mp.get_context("fork").Pool(procs)
        pool.map(work, jobs[:procs])  # warm the workers
        t0 = time.perf_counter()
        pool.map(work, jobs, chunksize=1)
        dt = time.perf_counter() - t0
        pool.close()
        pool.join()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)   # the workers, warm-up included
        dc = ru.ru_utime + ru.ru_stime
        images_cpu = images + sum(len(j[0]) for j in jobs[:procs])
    else:
        work(jobs[0])
        t0, c0 = time.perf_counter(), time.process_time()
        for j in jobs:
            work(j)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        images_cpu = images
    print("pil%s procs=%d images=%d seconds=%.3f images_per_s=%.1f images_per_cpu_s=%.1f"
          % ("-draft" if draft else "", procs, images, dt, images / dt, images_cpu / dc))


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) >= 5 and sys.argv[1] == "run":
        size = int(sys.argv[sys.argv.index("--size") + 1]) if "--size" in sys.argv else 128
        run(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), "--draft" in sys.argv, size)
        return
    print(__doc__, file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
