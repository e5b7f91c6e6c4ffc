#!/usr/bin/python3
"""engine_torch.py ARCH SIZE [BS] [STEPS] [MODE] [THREADS] [N_IN] — PyTorch side of bench_engine.sh.

The same model as fastc (torchvision ARCH body cut before avgpool/fc + fastai's
create_head for 10 classes), the same training step (forward, cross-entropy,
backward, Adam step), 2 threads.  MODE is channels_last (default) or contiguous.
N_IN input channels (default 3; the default job has 1, as bench_engine's N_IN).
Prints:  ARCH SIZE BS img_per_s best_img_per_s peak_rss_mb  (as bench_engine)."""
import resource
import sys
import time

import torch
import torch.nn as nn
import torchvision


def fastai_resnet(arch, n_out, ps=0.5, n_in=3):
    body = getattr(torchvision.models, arch)(weights=None)
    if n_in != 3:
        body.conv1 = nn.Conv2d(n_in, 64, kernel_size=7, stride=2, padding=3, bias=False)
    body = nn.Sequential(*list(body.children())[:-2])
    nf = 512 if arch in ("resnet18", "resnet34") else 2048

    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([nn.functional.adaptive_max_pool2d(x, 1),
                              nn.functional.adaptive_avg_pool2d(x, 1)], 1)

    head = nn.Sequential(ConcatPool(), nn.Flatten(), nn.BatchNorm1d(2 * nf), nn.Dropout(ps / 2),
                         nn.Linear(2 * nf, 512, bias=False), nn.ReLU(inplace=True),
                         nn.BatchNorm1d(512), nn.Dropout(ps), nn.Linear(512, n_out, bias=False))
    return nn.Sequential(body, head)


def main():
    arch, size = sys.argv[1], int(sys.argv[2])
    bs = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    mode = sys.argv[5] if len(sys.argv) > 5 else "channels_last"
    torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) > 6 else 2)
    n_in = int(sys.argv[7]) if len(sys.argv) > 7 else 3
    torch.manual_seed(0)
    model = fastai_resnet(arch, 10, n_in=n_in)
    x = torch.randn(bs, n_in, size, size)
    if mode == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(bs) % 10
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99), eps=1e-5)
    lossf = nn.CrossEntropyLoss()
    model.train()
    total, best, cpu0 = 0.0, 1e30, 0.0
    for s in range(steps + 1):
        if s == 1:
            cpu0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s > 0:
            total += dt
            best = min(best, dt)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{arch} {size} {bs} {steps * bs / total:.2f} {bs / best:.2f} {rss:.0f} cpu_s_per_step={(time.process_time() - cpu0) / steps:.3f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
