#!/usr/bin/python3
"""make_resnet_parity.py — PyTorch reference values for fastc's resnets.

    /usr/bin/python3 tests/reference/make_resnet_parity.py   # rewrites fixtures/resnet*_{train,eval}.txt

Builds fastai's model nn.Sequential(body, head) (torchvision resnet18/34/50 body
cut before avgpool/fc, create_head(nf, 4) with ps = 0 so dropout is the identity)
in PyTorch, sets EVERY state_dict tensor (weights and BN buffers) from a shared
integer-hash formula that tests/test_resnet_parity.c recomputes in C, feeds a
batch of 8 inputs of 3x64x64 from the same formulas, and records — from a
float64 run — the logits, the cross-entropy loss (targets i % 4), for every
trainable tensor the L2 norm of its gradient and a few sampled elements, and
for every BN running buffer its L2 norm after the forward (train mode updates
them).  Each quantity carries its tolerance: the spec's (1e-4 forward, 1e-3
gradients) or, for a tensor where float32 PyTorch itself misses it (on any
element, on any of its convolution paths, VARIANTS), twice PyTorch's worst
error there.  fastai itself is not installed; the
structure and the names are fastai's (see FASTAI_REFERENCE.md §6).  The files
are small text (11-27 KB); `make test` only reads them.

Conditioning.  A ReLU network's gradient is discontinuous: a ReLU input (or a
max-pool pair) lying within float32 rounding of its kink sends one position's
gradient one way or the other.  Train-mode BatchNorm couples every position of
a channel, so one such flip in layer4 (8x2x2 positions per channel) moves every
gradient of the network by about 1/sqrt(positions at that layer) — measured:
one flipped ReLU of resnet34's layer4 moves the median tensor by 1.4% (L2) and
single elements by up to 220%.  Float32 PyTorch does flip: on most input seeds
its own three convolution paths are off from float64 by 10-500% on some
elements in train mode.  A larger batch or larger images do not help: the
positions near a kink grow with the number of positions while a flip's effect
shrinks only as its square root.  Measured on resnet34 train, float32 PyTorch's
worst element error against float64: batch 4 (BatchNorm over 4 images amplifies
rounding smoothly) — 1e-2 at best over 12 seeds; batch 8 — under 1e-3 on 1 seed
of 40 (36), under 2e-3 on 2 more; batch 16 — 0.37 at best over 8 seeds; 16
images of 128x128 — 0.77 on seed 0.  So the batch stays 8 images of 3x64x64, and the script tries input
seeds (the noise term of the input formula, SEEDS) until float32 PyTorch, on
every one of its convolution paths, meets the spec on every element of every
gradient tensor — a fixture no kink flip of float32 rounding reaches — or keeps
the seed where it misses on the fewest tensors.  It also prints how many
positions lie within NEAR_KINK times float32's error of a kink.  Found: resnet18
train seed 0, resnet34 train seed 36 (of 40; seed 0 came closest before it at
1.4e-3), every eval mode within two seeds.  resnet50 train has none: ~800
positions within 10x float32's error of a kink (resnet34: ~60), float32 PyTorch
off on 163-165 of 165 gradient tensors on each of seeds 0-5 (and at 32x32 images too), logits
by 2-3e-4; its fixture (seed 1) carries PyTorch's own errors as bars.

    OMP_NUM_THREADS=1 PARITY_ONLY=resnet34_train PARITY_SEEDS=36 \
        /usr/bin/python3 tests/reference/make_resnet_parity.py    # one fixture, one seed
"""
import os

import numpy as np

import torch
import torch.nn as nn
import torchvision

N, C, H, W, N_OUT = 8, 3, 64, 64, 4
SAMPLES = 4
# input seeds tried per model (PARITY_SEEDS="a-b" or "a,b,c" overrides, e.g. to
# resume a search or to re-measure a chosen seed)
SEEDS = {"eval": range(32), "train": range(40)}
if os.environ.get("PARITY_SEEDS"):
    spec = os.environ["PARITY_SEEDS"]
    lo, _, hi = spec.partition("-")
    SEEDS = dict.fromkeys(SEEDS, range(int(lo), int(hi) + 1) if hi else [int(x) for x in spec.split(",")])
# PyTorch's float32 convolution paths: (channels_last, mkldnn); each rounds differently
VARIANTS = [(False, True), (True, True), (False, False)]
NEAR_KINK = 10          # a kink this many times float32's error away could flip in another implementation


def hash_u(i, t):
    """Uniform in [0,1) from (element index i, tensor index t); uint32 math as in C."""
    h = (i * 2654435761 + (t + 1) * 2246822519) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 2246822519) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 3266489917) & 0xFFFFFFFF
    h ^= h >> 16
    return h / 4294967296.0


def hash_u_all(n, t):
    """hash_u(i, t) for i in 0..n-1, vectorised (numpy uint64 holding uint32 values)."""
    m = np.uint64(0xFFFFFFFF)
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(((t + 1) * 2246822519) & 0xFFFFFFFF)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(3266489917)) & m
    h ^= h >> np.uint64(16)
    return torch.from_numpy(h.astype(np.float64) / 4294967296.0)


def tensor_values(name, shape, t):
    """The formula for tensor number t (state_dict order) named name, PyTorch memory order."""
    n = 1
    for s in shape:
        n *= s
    u = hash_u_all(n, t)
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) == 4:                       # conv OIHW
        fan_in = shape[1] * shape[2] * shape[3]
        v = (2 * u - 1) * (3.0 / fan_in) ** 0.5
    elif len(shape) == 2:                     # linear [out, in]
        v = (2 * u - 1) * (3.0 / shape[1]) ** 0.5
    elif leaf == "weight":
        v = 1 + 0.2 * (2 * u - 1)
    elif leaf == "bias":
        v = 0.1 * (2 * u - 1)
    elif leaf == "running_mean":
        v = 0.1 * (2 * u - 1)
    elif leaf == "running_var":
        v = 1 + 0.5 * u
    else:                                     # num_batches_tracked
        v = torch.zeros(n, dtype=torch.float64)
    return v.float().reshape(shape)


class AdaptiveConcatPool2d(nn.Module):
    def forward(self, x):
        return torch.cat([nn.functional.adaptive_max_pool2d(x, 1), nn.functional.adaptive_avg_pool2d(x, 1)], 1)


def fastai_model(arch):
    tv = getattr(torchvision.models, arch)(weights=None)
    body = nn.Sequential(*list(tv.children())[:-2])
    nf = 2048 if arch == "resnet50" else 512
    head = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten(), nn.BatchNorm1d(2 * nf), nn.Dropout(0.0),
                         nn.Linear(2 * nf, 512, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(512),
                         nn.Dropout(0.0), nn.Linear(512, N_OUT, bias=False))
    return nn.Sequential(body, head)


def sample_indices(n):
    return sorted({(k * 7919 + 13) % n for k in range(SAMPLES)})


def inputs(seed):
    """Noise plus a low-frequency pattern that differs per image (iid noise alone
    gives near-identical deep features across the batch, which makes train-mode
    BatchNorm ill-conditioned).  The noise is hash tensor 100000 + seed."""
    u = hash_u_all(N * C * H * W, 100000 + seed).reshape(N, C, H, W)
    b = torch.arange(N, dtype=torch.float64).reshape(N, 1, 1, 1)
    c = torch.arange(C, dtype=torch.float64).reshape(1, C, 1, 1)
    y = torch.arange(H, dtype=torch.float64).reshape(1, 1, H, 1)
    x = torch.arange(W, dtype=torch.float64).reshape(1, 1, 1, W)
    return (0.5 * (2 * u - 1) + torch.cos(0.21 * (b + 1) * y + 0.37 * (c + 1) * x + b) * (1 + 0.5 * b)).float()


def run(arch, mode, dtype, seed, record=None, variant=(False, True)):
    """One forward/backward.  variant = (channels_last, mkldnn) picks PyTorch's
    convolution path (float32 only: each rounds differently).  record = a list:
    (module type, input) of every ReLU / max-pool call is appended to it."""
    model = fastai_model(arch)
    with torch.no_grad():
        for t, (name, ten) in enumerate(model.state_dict().items()):
            ten.copy_(tensor_values(name, list(ten.shape), t).to(ten.dtype))
    model = model.to(dtype)
    model.train(mode == "train")
    x = inputs(seed).to(dtype)
    if variant[0]:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if record is not None:
        def hook(mod, inp):
            record.append((type(mod).__name__, inp[0].detach().double().clone()))
        for mod in model.modules():
            if isinstance(mod, (nn.ReLU, nn.MaxPool2d, AdaptiveConcatPool2d)):
                mod.register_forward_pre_hook(hook)
    with torch.backends.mkldnn.flags(enabled=variant[1]):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, torch.arange(N) % N_OUT)
        loss.backward()
    grads = {n: p.grad.detach().flatten().double() for n, p in model.named_parameters()}
    bufs = {n: t.double() for n, t in model.state_dict().items()
            if n.endswith("running_mean") or n.endswith("running_var")}
    return logits.detach().double().flatten(), loss.item(), grads, bufs


def grad_err(g, ref, every=False):
    """The C test's metric: norm error, and each sampled element (every element
    with every=True) against max(|it|, rms)."""
    rn = ref.norm().item()
    e = abs(g.norm().item() - rn) / max(rn, 1e-300)
    rms = rn / ref.numel() ** 0.5
    if every:
        return max(e, ((g - ref).abs() / ref.abs().clamp(min=max(rms, 1e-300))).max().item())
    for i in sample_indices(ref.numel()):
        e = max(e, abs(g[i].item() - ref[i].item()) / max(abs(ref[i].item()), rms, 1e-300))
    return e


def kink_distance(x, kind):
    """Per position, how far the input is from where the gradient's routing
    changes: |x| for a ReLU; for a max-pool window whose max is positive (a
    zero max comes after a ReLU and passes no gradient), the gap between its
    two largest values."""
    if kind == "ReLU":
        return x.abs().flatten()
    if kind == "MaxPool2d":
        w = nn.functional.unfold(x, 3, padding=1, stride=2).reshape(x.shape[0], x.shape[1], 9, -1)
    else:
        w = x.reshape(x.shape[0], x.shape[1], -1, 1)
    if w.shape[2] < 2:                        # a 1x1 map: the max is the value itself
        return x.new_zeros(0)
    top = w.topk(2, dim=2).values
    return (top[:, :, 0] - top[:, :, 1])[top[:, :, 0] > 0]


def measure(arch, mode, seed):
    """float64 reference, every float32 PyTorch variant and the kink margins of
    one input seed.  Returns (whole, lerr, margin, near, float64 results,
    float32 results): per tensor the variants' worst error over every element
    (grad_err's metric), their worst logits error, the smallest kink distance in units of that layer's float32
    error (the variants' largest rms error on the layer's input) and how many
    positions lie within NEAR_KINK of those units."""
    rec64 = []
    r64 = run(arch, mode, torch.float64, seed, record=rec64)
    r32s, errs = [], None
    for v in VARIANTS:
        rec32 = []
        r32s.append(run(arch, mode, torch.float32, seed, record=rec32, variant=v))
        e = [(b - a).pow(2).mean().sqrt().item() for (_, a), (_, b) in zip(rec64, rec32)]
        errs = e if errs is None else [max(p, q) for p, q in zip(errs, e)]
        del rec32
    margin, near = float("inf"), 0
    for (kind, x), e in zip(rec64, errs):
        d = kink_distance(x, kind) / max(e, 1e-300)
        margin = min(margin, d.min().item()) if d.numel() else margin
        near += (d < NEAR_KINK).sum().item()
    whole = {name: max(grad_err(r[2][name], g, every=True) for r in r32s) for name, g in r64[2].items()}
    lerr = max(((r[0] - r64[0]).abs().max() / r64[0].abs().max()).item() for r in r32s)
    return whole, lerr, margin, near, r64, r32s


def pick_seed(arch, mode):
    """Of the SEEDS tried, the input seed on which float32 PyTorch (every
    variant) meets the spec on the most gradient tensors, over every element,
    then has the smallest worst error; stops at the first that meets it on all."""
    best = None
    for seed in SEEDS[mode]:
        whole, lerr, margin, near, r64, r32s = measure(arch, mode, seed)
        over = sum(e > 1e-3 for e in whole.values()) + (lerr > 1e-4)
        key = (over, max(max(whole.values()) / 1e-3, lerr / 1e-4))
        print(f"  {arch} {mode} seed {seed}: float32 PyTorch misses 1e-3 on {over} tensors (worst element "
              f"err {max(whole.values()):.2g}, logits err {lerr:.2g}); {near} positions within {NEAR_KINK}x "
              f"float32's error of a kink, nearest {margin:.2g}x", flush=True)
        if best is None or key < best[0]:
            best = (key, seed, whole, lerr, r64, r32s)
        if over == 0:
            break
    return best[1:]


def main():
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    out_dir = os.environ.get("PARITY_OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    only = os.environ.get("PARITY_ONLY")   # e.g. "resnet18_eval" to redo one fixture
    for arch in ("resnet18", "resnet34", "resnet50"):
        for mode in ("train", "eval"):
            if only and only != f"{arch}_{mode}":
                continue
            # the reference is float64 PyTorch; where float32 PyTorch's own error
            # (worst variant, worst element) exceeds the spec (1e-4 forward, 1e-3
            # gradients), the bar is twice that error
            seed, whole, lerr, (l64, loss64, g64, b64), r32s = pick_seed(arch, mode)
            bars = {name: 1e-3 if e <= 1e-3 else 2 * e for name, e in whole.items()}
            lbar = 1e-4 if lerr <= 1e-4 else 2 * lerr
            loss_err = max(abs(r[1] - loss64) / abs(loss64) for r in r32s)
            lines = [f"model {arch} mode {mode} n {N} c {C} h {H} w {W} n_out {N_OUT} seed {seed}",
                     f"logits {lbar:.3g} " + " ".join(f"{v:.12g}" for v in l64.tolist()),
                     f"loss {1e-4 if loss_err <= 1e-4 else 2 * loss_err:.3g} {loss64:.12g}"]
            for name, g in g64.items():
                lines.append(f"grad {name} {g.numel()} {bars[name]:.3g} {g.norm().item():.12g} " +
                             " ".join(f"{i}:{g[i].item():.12g}" for i in sample_indices(g.numel())))
            for name, t in b64.items():
                e = max(abs(r[3][name].norm().item() - t.norm().item()) for r in r32s) / t.norm().item()
                tol = 1e-4 if e <= 1e-4 else 2 * e
                lines.append(f"buf {name} {tol:.3g} {t.norm().item():.12g}")
            path = os.path.join(out_dir, f"{arch}_{mode}.txt")
            with open(path + ".tmp", "w") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(path + ".tmp", path)
            print(path, "seed", seed, "worst bar %.2g" % max(bars.values()), "logits bar %.2g" % lbar,
                  "; tensors above the 1e-3 bar:", sum(b > 1e-3 for b in bars.values()), flush=True)


if __name__ == "__main__":
    main()
