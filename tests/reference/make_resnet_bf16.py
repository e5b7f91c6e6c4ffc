#!/usr/bin/python3
"""make_resnet_bf16.py — PyTorch bf16 autocast reference for fastc's `precision = bf16`.

    OMP_NUM_THREADS=1 /usr/bin/python3 tests/reference/make_resnet_bf16.py   # rewrites fixtures/resnet18_train_bf16.txt

The model, its weights, the batch and the float64 reference are those of
make_resnet_parity.py's resnet18 train fixture (8 images of 3x64x64, input
seed 0, every tensor from the shared hash formula).  fastc's bf16 is
`torch.autocast('cpu', dtype=torch.bfloat16)`'s contract — convolutions and
linears on bf16-rounded inputs and weights with fp32 sums, BatchNorm, loss and
the weights fp32 — so the bar for each quantity is PyTorch's own bf16 error:
the worst, over RUNS autocast runs (the batch as it is, then multiplied by
1 + 2^-9 N(0, 1): about one bf16 rounding, which reroutes the rounding of the
whole network), of autocast against float64, times MARGIN.  PyTorch rounds
more than fastc (its convolutions also return bf16, so every activation is
rounded once more), so fastc's error is expected below PyTorch's; MARGIN = 2
leaves room for an unlucky ReLU or max-pool routing (at bf16's error, many
positions lie within rounding of a kink and flip either way: elementwise
gradients are not comparable, so the fixture holds norms).

Recorded: the logits (bar on the max error relative to the largest logit),
the cross-entropy loss, for every trainable tensor the L2 norm of its
gradient, and for every BN running buffer its L2 norm after the forward.
Each line: the quantity, its bar, its float64 value.  The file is small text;
`make test` only reads it.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_resnet_parity as mp  # noqa: E402

ARCH, MODE, SEED, SIZE = "resnet18", "train", 0, (8, 64)
RUNS = 8
MARGIN = 2.0


def run_autocast(noise=None):
    model = mp.fastai_model(ARCH)
    with torch.no_grad():
        for t, (name, ten) in enumerate(model.state_dict().items()):
            ten.copy_(mp.tensor_values(name, list(ten.shape), t, ARCH).to(ten.dtype))
    model.train(True)
    N, H = SIZE
    x = mp.inputs(SEED, N, H)
    if noise is not None:
        g = torch.Generator().manual_seed(noise)
        x = (x.double() * (1 + 2.0 ** -9 * torch.randn(x.shape, generator=g, dtype=torch.float64))).float()
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
    loss = nn.functional.cross_entropy(logits.float(), torch.arange(N) % mp.N_OUT)
    loss.backward()
    grads = {n: p.grad.detach().flatten().double() for n, p in model.named_parameters()}
    bufs = {n: t.double() for n, t in model.state_dict().items()
            if n.endswith("running_mean") or n.endswith("running_var")}
    return logits.detach().double().flatten(), loss.item(), grads, bufs


def main():
    torch.manual_seed(0)
    r64 = mp.run(ARCH, MODE, torch.float64, SEED, SIZE)
    runs = [run_autocast(None if k == 0 else k) for k in range(RUNS)]
    lmax = r64[0].abs().max().item()
    lerr = max((r[0] - r64[0]).abs().max().item() / lmax for r in runs)
    loss_err = max(abs(r[1] - r64[1]) / abs(r64[1]) for r in runs)
    gerr = {n: max(abs(r[2][n].norm().item() - g.norm().item()) / g.norm().item() for r in runs)
            for n, g in r64[2].items()}
    berr = {n: max(abs(r[3][n].norm().item() - b.norm().item()) / b.norm().item() for r in runs)
            for n, b in r64[3].items()}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", f"{ARCH}_{MODE}_bf16.txt")
    N, H = SIZE
    with open(path, "w") as f:
        f.write(f"model {ARCH} mode {MODE} n {N} c {mp.C} h {H} w {H} n_out {mp.N_OUT} seed {SEED} "
                f"torch_bf16_err logits {lerr:.3g} grad {max(gerr.values()):.3g} runs {RUNS} margin {MARGIN}\n")
        f.write("logits %.3g %s\n" % (MARGIN * lerr, " ".join(f"{v:.12g}" for v in r64[0].tolist())))
        f.write(f"loss {MARGIN * loss_err:.3g} {r64[1]:.12g}\n")
        for n, g in r64[2].items():
            f.write(f"grad {n} {g.numel()} {MARGIN * gerr[n]:.3g} {g.norm().item():.12g}\n")
        for n, b in r64[3].items():
            f.write(f"buf {n} {MARGIN * berr[n]:.3g} {b.norm().item():.12g}\n")
    print(f"{path}: PyTorch bf16 autocast against float64 over {RUNS} runs: logits {lerr:.3g}, loss {loss_err:.3g}, "
          f"gradient norms median {sorted(gerr.values())[len(gerr) // 2]:.3g} worst {max(gerr.values()):.3g}, "
          f"running buffers worst {max(berr.values()):.3g}")


if __name__ == "__main__":
    main()
