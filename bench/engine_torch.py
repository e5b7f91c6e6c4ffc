#!/usr/bin/python3
"""engine_torch.py ARCH SIZE [BS] [STEPS] [MODE] [THREADS] [N_IN] [PRECISION] — PyTorch side of bench_engine.sh.

The same model as fastc (torchvision ARCH body cut before avgpool/fc + fastai's
create_head for 10 classes), the same training step (forward, cross-entropy,
backward, Adam step), 2 threads.  MODE is channels_last (default) or contiguous.
N_IN input channels (default 3; the default job has 1, as bench_engine's N_IN).
PRECISION fp32 (default) or bf16: the forward under torch.autocast('cpu',
dtype=torch.bfloat16), fastai's to_fp16 on a CPU (fp32 weights, loss in fp32).
Prints, as bench_engine:
  ARCH SIZE BS img_s_median img_s_best peak_rss_mb cpu_s_median cpu_s_min 0 loss"""
import resource
import statistics
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
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 8
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
    bf16 = len(sys.argv) > 8 and sys.argv[8] == "bf16"
    wall, cpu = [], []
    for s in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        loss = lossf(out.float(), y)
        loss.backward()
        opt.step()
        if s > 0:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    med = statistics.median
    print(f"{arch} {size} {bs} {bs / med(wall):.2f} {bs / min(wall):.2f} {rss:.0f} {med(cpu):.3f} {min(cpu):.3f} 0 "
          f"{loss.item():.4f}")


if __name__ == "__main__":
    main()
