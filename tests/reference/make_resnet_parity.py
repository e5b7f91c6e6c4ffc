#!/usr/bin/python3
"""make_resnet_parity.py — PyTorch reference values for fastc's resnets.

    /usr/bin/python3 tests/reference/make_resnet_parity.py   # rewrites fixtures/resnet*_{train,eval}.txt

Builds fastai's model nn.Sequential(body, head) (torchvision resnet18/34/50 body
cut before avgpool/fc, create_head(nf, 4) with ps = 0 so dropout is the identity)
in PyTorch, sets EVERY state_dict tensor (weights and BN buffers) from a shared
integer-hash formula that tests/test_resnet_parity.c recomputes in C, feeds a
batch of inputs from the same formulas (8 images of 3x64x64; 3x32x32 for
resnet50 in train mode, SIZES), and records — from a float64 run — the logits,
the cross-entropy loss (targets i % 4), for every trainable tensor the L2 norm
of its gradient and a few sampled elements, and for every BN running buffer its
L2 norm after the forward (train mode updates them).  Each quantity carries its
tolerance: the spec's (1e-4 forward, 1e-3 gradients) or, for a tensor where
float32 PyTorch itself misses it (on any element, on any of its convolution
paths, VARIANTS, or perturbed runs, below), twice PyTorch's worst error there.
fastai itself is not installed; the structure and the names are fastai's (see
FASTAI_REFERENCE.md §6).  The files are small text (11-54 KB); `make test`
only reads them.  The whole run (OMP_NUM_THREADS=1) takes ~10 minutes and rewrites
the same files, byte for byte.

Conditioning.  A ReLU network's gradient is discontinuous: a ReLU input (or a
max-pool pair) lying within float32 rounding of its kink sends one position's
gradient one way or the other.  Train-mode BatchNorm couples every position of
a channel, so one such flip moves every gradient upstream of it by about
1/sqrt(positions per channel at that layer) — measured: one flipped ReLU of
resnet34's layer4 moves the median tensor by 1.4% (L2) and single elements by
up to 220%; one flip in resnet50's layer2 (32x32 images) moves every tensor of
the stem and layer1-2 by 0.1-5%.  A fixture is usable only if no ReLU lies
within float32's error of its kink; their number grows with the number of
positions and with float32's error there, so the fixtures keep both small:

- float32's error.  With every BN weight near 1 (1 +- 0.2), float32's relative
  error at the ReLU inputs grows ~1.1x per layer in train mode (resnet50, 8x64px,
  seed 1: 6e-7 after the stem, 1.6e-4 before the head's last ReLU), and float32
  PyTorch missed 1e-3 on 163-165 of resnet50's 165 gradient tensors on every
  seed tried and met it on resnet34 on 1 seed of 40.  So the weight of the last
  BN of each residual branch (bn2 of a BasicBlock, bn3 of a Bottleneck) is
  RESIDUAL_GAMMA = 0.1 times (1 +- 0.2): each branch starts small against the
  identity path, as with torchvision's zero_init_residual and Goyal et al.
  (2017), who set it to 0 (0 exactly would zero the branch's gradients).
  resnet50, 8x32px, float32's error before the last ReLU: 2.5e-4 with 1,
  1.1e-5 with 0.25, 4e-6 with 0.1; seeds where all three paths meet the
  spec: 0 of 2 (1 and 0.5), 2 of 6 (0.25), 6 of 12 (0.1).  resnet34 train at
  8x64px: 4 of 6 seeds with 0.1.
- positions.  resnet50 in train mode at 8x64px still flips with 0.1 (2 and 6
  flipped ReLUs on the two seeds tried); at 32x32 (a quarter of the positions)
  half the seeds are clean, so its train fixture is 8 images of 32x32.  Its
  layer4 is then 1x1 and BatchNorm there averages over the 8 images only;
  fewer images make train-mode BatchNorm amplify rounding smoothly (4 images
  of 32x32, no flip: 1.5e-2; 6 images: 4 seeds of 8 within the spec), more add
  positions (resnet34, all BN weights near 1, 16 images of 64x64: 0.37 at best
  over 8 seeds; of 128x128: 0.77).
- robustness.  A seed where PyTorch's three paths happen not to flip may still
  hold a ReLU nearer its kink than float32's error, where another
  implementation (ours, another OpenBLAS kernel, a changed kernel) flips.  So a
  seed is taken only if PERTURB more float32 runs (the paths in turn) on
  inputs multiplied by 1 + 2^-24 N(0, 1) — about one rounding, which reroutes
  the rounding of the whole network — meet the spec too.  The earlier
  fixtures (all BN weights near 1) did not: resnet18 train seed 0 missed on 3
  of 12 perturbed runs, resnet34 train seed 36 on 5; resnet50 (0.1, 32x32)
  seed 0 misses on 1 of 5, seed 6 on 10 of 12, seed 4 on none.

Depth cut (resnet101 and resnet152 in train mode, resnet152 in eval mode,
DEPTH_CUT).  Their 23 and 36 blocks of layer3 hold too many positions for any
seed to keep every kink out of float32's reach: resnet101 train at 8x32px,
seeds 0-9, float32 PyTorch itself missed 1e-3 on 10-260 gradient tensors; at
8x16px on 1-285; resnet152 eval at 8x64px, seeds 0-31, on 1-460 (112-164
positions within NEAR_KINK of a kink on every seed).  But a kink moves only
the gradients the backward pass computes after crossing it: those of the
tensors the forward ran before it.  So these fixtures hold the forward whole
(logits, loss, every BN running buffer) and the gradients of the tensors the
forward runs after the last kink that has a position within NEAR_KINK times
float32's error (the paths' rms error on that layer's input); the header
names the first (grads_from), and the same rules hold for those: every path
and 12 perturbed runs within the spec on every element.  Of the seeds tried,
the one with the most such tensors is kept.  resnet101 train at 8x32px: 44-56
positions within NEAR_KINK on seeds 0-5, the deepest in layer4's last two
blocks or the head (6-15 tensors past the cut; float32 PyTorch's worst
element error there 3.3e-4 to 5.3e-4); kept seed 0 (15 tensors, from
layer4's last block).  resnet152 train at 8x32px, seeds 0-4: 66-80
positions, 6-15 tensors; kept seed 1 (15).  resnet152 eval: eval mode has no
batch coupling, so its fixture is 2 images of 32x32 (SIZES), 1/16 of the
positions of 8x64px: 2-11 positions within NEAR_KINK on seeds 0-5, 6-315
tensors past the cut; kept seed 3 (315 of 465, from layer3's sixth block).

The script tries input seeds (the noise term of the input formula, SEEDS)
until float32 PyTorch, on every path and perturbed run, meets the spec on
every element of every gradient tensor (past the cut for DEPTH_CUT), or keeps
the seed where it misses on the fewest tensors.  It also prints how many positions lie within NEAR_KINK
times float32's error (the paths' rms error on that layer) of a kink.  Found:
seed 0 for resnet18 and resnet34 train, 4 for resnet50 train (0-3 flip on a
path or a perturbed run); 1 for
resnet18 and resnet34 eval (seed 0 flips: in eval mode a flip moves only the
gradient elements it feeds, by up to 160%), 0 for resnet50 eval.

    OMP_NUM_THREADS=1 PARITY_ONLY=resnet50_train PARITY_SEEDS=4 \
        /usr/bin/python3 tests/reference/make_resnet_parity.py    # one fixture, one seed
    PARITY_ARCHS="resnet101 resnet152" /usr/bin/python3 tests/reference/make_resnet_parity.py  # some archs
"""
import os

import numpy as np

import torch
import torch.nn as nn
import torchvision

C, N_OUT = 3, 4
# batch size and image side per fixture (default 8 images of 64x64); see the
# docstring for why resnet50 in train mode uses 32x32
SIZES = {"resnet50_train": (8, 32), "resnet101_train": (8, 32), "resnet152_train": (8, 32), "resnet152_eval": (2, 32)}
DEFAULT_SIZE = (8, 64)
RESIDUAL_GAMMA = 0.1    # scale of the weight of each residual branch's last BN; see the docstring
PERTURB = 12            # extra float32 runs on inputs perturbed by about one rounding; see the docstring
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
# fixtures that hold the gradients of the deepest tensors only: those computed
# before the backward pass reaches the deepest kink within NEAR_KINK of float32's
# error (see the docstring, "Depth cut")
DEPTH_CUT = {"resnet101_train", "resnet152_train", "resnet152_eval"}
# the seeds a depth-cut fixture tries (all of them: the most tensors wins), so
# a rerun picks the same seed
CUT_SEEDS = {"resnet101_train": range(6), "resnet152_train": range(5), "resnet152_eval": range(6)}


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


BOTTLENECK = ("resnet50", "resnet101", "resnet152")
ARCHS = ("resnet18", "resnet34") + BOTTLENECK


def last_bn(arch):
    """The name ending of the last BatchNorm weight of a residual branch."""
    return "bn3.weight" if arch in BOTTLENECK else "bn2.weight"


def tensor_values(name, shape, t, arch):
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
    elif name.endswith(last_bn(arch)):       # a residual branch's last BN: the branch starts small
        v = RESIDUAL_GAMMA * (1 + 0.2 * (2 * u - 1))
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
    nf = 2048 if arch in BOTTLENECK else 512
    head = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten(), nn.BatchNorm1d(2 * nf), nn.Dropout(0.0),
                         nn.Linear(2 * nf, 512, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(512),
                         nn.Dropout(0.0), nn.Linear(512, N_OUT, bias=False))
    return nn.Sequential(body, head)


def sample_indices(n):
    return sorted({(k * 7919 + 13) % n for k in range(SAMPLES)})


def inputs(seed, N, H):
    """Noise plus a low-frequency pattern that differs per image (iid noise alone
    gives near-identical deep features across the batch, which makes train-mode
    BatchNorm ill-conditioned).  The noise is hash tensor 100000 + seed."""
    W = H
    u = hash_u_all(N * C * H * W, 100000 + seed).reshape(N, C, H, W)
    b = torch.arange(N, dtype=torch.float64).reshape(N, 1, 1, 1)
    c = torch.arange(C, dtype=torch.float64).reshape(1, C, 1, 1)
    y = torch.arange(H, dtype=torch.float64).reshape(1, 1, H, 1)
    x = torch.arange(W, dtype=torch.float64).reshape(1, 1, 1, W)
    return (0.5 * (2 * u - 1) + torch.cos(0.21 * (b + 1) * y + 0.37 * (c + 1) * x + b) * (1 + 0.5 * b)).float()


def run(arch, mode, dtype, seed, size, record=None, variant=(False, True), noise=None):
    """One forward/backward.  variant = (channels_last, mkldnn) picks PyTorch's
    convolution path (float32 only: each rounds differently).  record = a list:
    (module type, input) of every ReLU / max-pool call is appended to it.
    noise = k: multiply the input by 1 + 2^-24 N(0, 1) (torch seed k), about
    one float32 rounding, which reroutes the rounding of the whole network."""
    model = fastai_model(arch)
    with torch.no_grad():
        for t, (name, ten) in enumerate(model.state_dict().items()):
            ten.copy_(tensor_values(name, list(ten.shape), t, arch).to(ten.dtype))
    model = model.to(dtype)
    model.train(mode == "train")
    N, H = size
    x = inputs(seed, N, H)
    if noise is not None:
        g = torch.Generator().manual_seed(noise)
        x = (x.double() * (1 + 2.0 ** -24 * torch.randn(x.shape, generator=g, dtype=torch.float64))).float()
    x = x.to(dtype)
    if variant[0]:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if record is not None:
        # each kink call is recorded with how many parameter modules ran before it
        # (the modules run in state_dict order), for the depth cut (DEPTH_CUT)
        calls = [0]

        def hook(mod, inp):
            record.append((type(mod).__name__, inp[0].detach().double().clone(), calls[0]))

        def count(mod, inp):
            calls[0] += 1
        for mod in model.modules():
            if isinstance(mod, (nn.ReLU, nn.MaxPool2d, AdaptiveConcatPool2d)):
                mod.register_forward_pre_hook(hook)
            elif isinstance(mod, (nn.Conv2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.Linear)):
                mod.register_forward_pre_hook(count)
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


def errors(r32s, r64, names=None):
    """Per gradient tensor (those in names; None: all) the worst error of the
    float32 runs r32s against the float64 run r64 over every element
    (grad_err's metric); their worst logits error; how many quantities miss
    the spec (1e-3 gradients, 1e-4 logits)."""
    whole = {name: max(grad_err(r[2][name], g, every=True) for r in r32s) for name, g in r64[2].items()
             if names is None or name in names}
    lerr = max(((r[0] - r64[0]).abs().max() / r64[0].abs().max()).item() for r in r32s)
    return whole, lerr, sum(e > 1e-3 for e in whole.values()) + (lerr > 1e-4)


def param_modules(arch):
    """The parameter names of each convolution, BatchNorm and linear, in the
    order the forward runs them (which is state_dict order in these models)."""
    return [[f"{n}.{pn}" for pn, _ in m.named_parameters(recurse=False)]
            for n, m in fastai_model(arch).named_modules()
            if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.BatchNorm1d, nn.Linear))]


def measure(arch, mode, seed, size, cut=False):
    """float64 reference, every float32 PyTorch variant and the kink margins of
    one input seed; where the variants meet the spec everywhere, PERTURB more
    float32 runs (variants in turn) on inputs perturbed by about one rounding,
    stopping at the first that misses.  Returns (whole, lerr, over, margin,
    near, perturbed runs passed (None: not tried), float64 results, float32
    results): errors() of all float32 runs, the smallest kink distance in
    units of that layer's float32 error (the variants' largest rms error on
    the layer's input) and how many positions lie within NEAR_KINK of those
    units.  cut=True: whole holds only the gradients of the parameters the
    forward runs after the last kink with a position within NEAR_KINK (their
    backward never crosses one)."""
    rec64 = []
    r64 = run(arch, mode, torch.float64, seed, size, record=rec64)
    r32s, errs = [], None
    for v in VARIANTS:
        rec32 = []
        r32s.append(run(arch, mode, torch.float32, seed, size, record=rec32, variant=v))
        e = [(b[1] - a[1]).pow(2).mean().sqrt().item() for a, b in zip(rec64, rec32)]
        errs = e if errs is None else [max(p, q) for p, q in zip(errs, e)]
        del rec32
    margin, near, first = float("inf"), 0, 0
    for (kind, x, before), e in zip(rec64, errs):
        d = kink_distance(x, kind) / max(e, 1e-300)
        margin = min(margin, d.min().item()) if d.numel() else margin
        close = (d < NEAR_KINK).sum().item()
        near += close
        if close:
            first = max(first, before)
    names = {n for mod in param_modules(arch)[first:] for n in mod} if cut else None
    whole, lerr, over = errors(r32s, r64, names)
    # a float32 run's gradients are needed only for these errors: drop them
    # (resnet152: 0.5 GB a run as float64), and the reference's outside the cut
    r32s = [r[:2] + ({},) + r[3:] for r in r32s]
    if names is not None:
        r64 = r64[:2] + ({n: g for n, g in r64[2].items() if n in names},) + r64[3:]
    passed = None if over else 0       # None: the paths already miss, no perturbed run
    while over == 0 and passed < PERTURB:
        r = run(arch, mode, torch.float32, seed, size, variant=VARIANTS[passed % len(VARIANTS)], noise=passed)
        w, le, over = errors([r], r64, names)
        whole = {n: max(e, w[n]) for n, e in whole.items()}
        lerr = max(lerr, le)
        over = sum(e > 1e-3 for e in whole.values()) + (lerr > 1e-4)
        r32s.append(r[:2] + ({},) + r[3:])
        passed += over == 0
    return whole, lerr, over, margin, near, passed, r64, r32s


def pick_seed(arch, mode, size, cut=False):
    """Of the SEEDS tried, the input seed on which float32 PyTorch (every
    variant, every perturbed run) meets the spec on the most gradient tensors,
    over every element, then has the smallest worst error; stops at the first
    that meets it on all.  cut=True: of the seeds that meet the spec on the
    tensors past the depth cut, the one with the most such tensors (every
    seed tried)."""
    best = None
    seeds = CUT_SEEDS[f"{arch}_{mode}"] if cut and not os.environ.get("PARITY_SEEDS") else SEEDS[mode]
    for seed in seeds:
        whole, lerr, over, margin, near, passed, r64, r32s = measure(arch, mode, seed, size, cut)
        key = (over, -len(whole) if cut else 0, max(max(whole.values()) / 1e-3, lerr / 1e-4))
        tried = "no perturbed run" if passed is None else f"{passed} of {PERTURB} perturbed runs passed"
        print(f"  {arch} {mode} {size[0]}x{size[1]}px seed {seed}: float32 PyTorch misses 1e-3 on {over} tensors "
              f"(worst element err {max(whole.values()):.2g}, logits err {lerr:.2g}; {len(VARIANTS)} paths, "
              f"{tried}); {near} positions within {NEAR_KINK}x float32's error of a kink, nearest {margin:.2g}x"
              + (f"; {len(whole)} gradient tensors past the depth cut, from {next(iter(whole))}" if cut else ""),
              flush=True)
        if best is None or key < best[0]:
            best = (key, seed, whole, lerr, r64, r32s)
        if over == 0 and not cut:
            break
    return best[1:]


def main():
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    out_dir = os.environ.get("PARITY_OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    only = os.environ.get("PARITY_ONLY")   # e.g. "resnet18_eval" to redo one fixture
    archs = os.environ.get("PARITY_ARCHS", " ".join(ARCHS)).split()
    for arch in archs:
        for mode in ("train", "eval"):
            if only and only != f"{arch}_{mode}":
                continue
            # the reference is float64 PyTorch; where float32 PyTorch's own error
            # (worst variant, worst element) exceeds the spec (1e-4 forward, 1e-3
            # gradients), the bar is twice that error
            N, H = size = SIZES.get(f"{arch}_{mode}", DEFAULT_SIZE)
            W = H
            cut = f"{arch}_{mode}" in DEPTH_CUT
            seed, whole, lerr, (l64, loss64, g64, b64), r32s = pick_seed(arch, mode, size, cut)
            if cut:   # the gradients past the cut only; the header names the first
                g64 = {name: g for name, g in g64.items() if name in whole}
            bars = {name: 1e-3 if e <= 1e-3 else 2 * e for name, e in whole.items()}
            lbar = 1e-4 if lerr <= 1e-4 else 2 * lerr
            loss_err = max(abs(r[1] - loss64) / abs(loss64) for r in r32s)
            # float32 PyTorch's own worst errors against float64 (every path and
            # perturbed run): the test prints them beside ours
            lines = [f"model {arch} mode {mode} n {N} c {C} h {H} w {W} n_out {N_OUT} seed {seed} "
                     f"torch_f32_err logits {lerr:.3g} grad {max(whole.values()):.3g}"
                     + (f" grads_from {next(iter(g64))}" if cut else ""),
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
