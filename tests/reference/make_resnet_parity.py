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
gradients) or, where float32 PyTorch itself is further than that from float64
(train-mode BatchNorm over small batches amplifies rounding: bias gradients of
a BN followed by another BN are near-zero sums), twice float32 PyTorch's error.  fastai itself is not
installed; the structure and the names are fastai's (see FASTAI_REFERENCE.md §6).
The files are small text (a few KB); `make test` only reads them.

Conditioning.  A ReLU network's gradient is discontinuous: a ReLU input (or a
max-pool pair) lying within float32 rounding of its kink sends a whole
position's gradient one way or the other, and in layer4, where a channel has
only 8x2x2 = 32 positions, one such flip moves that channel's gradients by
percents.  Which way a float32 implementation falls is luck (it changed with
OpenBLAS's kernel choice on a new CPU), so a fixture must not sit on a kink.
For each model and mode the script tries input seeds (the noise term of the
input formula) and keeps the one whose float64 gradients move least when every
ReLU / max-pool input is perturbed by float32-sized noise (1e-6 of its rms,
PERTURB_TRIALS draws).  That sensitivity is also recorded: a tensor's bar is
max(spec, 2x float32 PyTorch's worst error over the whole tensor, 3x the
sensitivity) — what no float32 implementation can be held below on this
fixture.  (Train mode of resnet34/50 with hash weights over 8 images is badly
conditioned: float32 PyTorch itself is off by over 100% on single elements of
deep conv gradients there, while logits, loss and running statistics agree.)
"""
import os

import numpy as np

import torch
import torch.nn as nn
import torchvision

N, C, H, W, N_OUT = 8, 3, 64, 64, 4
SAMPLES = 4
# input seeds tried per model: eval mode's sensitivity is all discrete kink flips,
# so a clean seed exists and is worth looking for; train mode's is smooth
SEEDS = {"eval": int(os.environ.get("PARITY_SEEDS_EVAL", "32")), "train": int(os.environ.get("PARITY_SEEDS_TRAIN", "4"))}
PERTURB_EPS = 1e-6                                    # float32-sized noise, relative to rms
PERTURB_TRIALS = 2


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


def run(arch, mode, dtype, seed, perturb=None):
    """One forward/backward; perturb = (trial, eps) adds eps·rms noise to every
    ReLU and max-pool input (float64 only, for the conditioning check)."""
    model = fastai_model(arch)
    with torch.no_grad():
        for t, (name, ten) in enumerate(model.state_dict().items()):
            ten.copy_(tensor_values(name, list(ten.shape), t).to(ten.dtype))
    model = model.to(dtype)
    model.train(mode == "train")
    if perturb is not None:
        trial, eps = perturb
        gen = torch.Generator().manual_seed(trial)

        def noisy(mod, inp):
            x = inp[0]
            rms = x.detach().pow(2).mean().sqrt()
            return (x + eps * rms * torch.randn(x.shape, generator=gen, dtype=x.dtype),)
        for mod in model.modules():
            if isinstance(mod, (nn.ReLU, nn.MaxPool2d, AdaptiveConcatPool2d)):
                mod.register_forward_pre_hook(noisy)
    logits = model(inputs(seed).to(dtype))
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


def sensitivity(arch, mode, seed, g64):
    """Per tensor, the largest grad_err of perturbed float64 runs against g64."""
    sens = {name: 0.0 for name in g64}
    for trial in range(PERTURB_TRIALS):
        _, _, gp, _ = run(arch, mode, torch.float64, seed, perturb=(trial, PERTURB_EPS))
        for name, g in g64.items():
            sens[name] = max(sens[name], grad_err(gp[name], g))
    return sens


def pick_seed(arch, mode):
    """The input seed whose gradients are least sensitive to float32-sized noise."""
    best = None
    for seed in range(SEEDS[mode]):
        l64, loss64, g64, b64 = run(arch, mode, torch.float64, seed)
        sens = sensitivity(arch, mode, seed, g64)
        worst = max(sens.values())
        if best is None or worst < best[0]:
            best = (worst, seed, (l64, loss64, g64, b64), sens)
        if worst < 1e-5:      # comfortably away from every kink: stop looking
            break
    return best


def main():
    torch.set_num_threads(2)
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    only = os.environ.get("PARITY_ONLY")   # e.g. "resnet18_eval" to redo one fixture
    for arch in ("resnet18", "resnet34", "resnet50"):
        for mode in ("train", "eval"):
            if only and only != f"{arch}_{mode}":
                continue
            # the reference is float64 PyTorch; float32 PyTorch's own error against
            # it, and the float64 gradients' own sensitivity to float32-sized noise,
            # set the bar where they exceed the spec (1e-4 forward, 1e-3 gradients)
            worst_sens, seed, (l64, loss64, g64, b64), sens = pick_seed(arch, mode)
            l32, loss32, g32, b32 = run(arch, mode, torch.float32, seed)
            lerr = ((l32 - l64).abs().max() / l64.abs().max()).item()
            lines = [f"model {arch} mode {mode} n {N} c {C} h {H} w {W} n_out {N_OUT} seed {seed}",
                     f"logits {max(1e-4, 2 * lerr):.3g} " + " ".join(f"{v:.12g}" for v in l64.tolist()),
                     f"loss {max(1e-4, 2 * abs(loss32 - loss64) / abs(loss64)):.3g} {loss64:.12g}"]
            for name, g in g64.items():
                tol = max(1e-3, 2 * grad_err(g32[name], g, every=True), 3 * sens[name])
                lines.append(f"grad {name} {g.numel()} {tol:.3g} {g.norm().item():.12g} " +
                             " ".join(f"{i}:{g[i].item():.12g}" for i in sample_indices(g.numel())))
            for name, t in b64.items():
                tol = max(1e-4, 2 * abs(b32[name].norm().item() - t.norm().item()) / t.norm().item())
                lines.append(f"buf {name} {tol:.3g} {t.norm().item():.12g}")
            path = os.path.join(out_dir, f"{arch}_{mode}.txt")
            with open(path + ".tmp", "w") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(path + ".tmp", path)
            print(path, "seed", seed, "sensitivity %.2g" % worst_sens, "float32 PyTorch logits err %.2g" % lerr,
                  "; tensors above the 1e-3 bar:", sum(1 for x in lines if x.startswith("grad") and float(x.split()[3]) > 1e-3))


if __name__ == "__main__":
    main()
