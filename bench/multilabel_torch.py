#!/usr/bin/python3
"""multilabel_torch.py DATA_DIR [SIZE] [EPOCHS] [LR] [BS] [THREADS] [SEED] — PyTorch reference
for bench/accuracy_shapes.sh's multi-label run (configs/multilabel.ini).

The same recipe as fastc, written in plain PyTorch (fastai is not installed here):
labels.csv (fname, labels space-separated, is_valid), Resize(SIZE, squish) with PIL
bilinear, random horizontal flip (no zoom/warp/lighting), ImageNet normalisation,
torchvision resnet18 body + fastai's create_head from scratch, BCEWithLogits,
Adam(betas=(0.9, 0.99), eps=1e-5) with decoupled wd 0.01 off BN/bias, fastai's
fit_one_cycle (pct 0.25, div 25, cosine, momentum 0.95-0.85-0.95), drop_last.
Prints one line per epoch (train loss, valid loss, accuracy_multi at 0.5) and the
all-negative baseline: whether a from-scratch resnet18 learns this set at all, and how
well, independent of fastc."""
import csv
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image


def fastai_resnet(n_out, ps=0.5):
    body = nn.Sequential(*list(torchvision.models.resnet18(weights=None).children())[:-2])

    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([nn.functional.adaptive_max_pool2d(x, 1),
                              nn.functional.adaptive_avg_pool2d(x, 1)], 1)

    head = nn.Sequential(ConcatPool(), nn.Flatten(), nn.BatchNorm1d(1024), nn.Dropout(ps / 2),
                         nn.Linear(1024, 512, bias=False), nn.ReLU(inplace=True),
                         nn.BatchNorm1d(512), nn.Dropout(ps), nn.Linear(512, n_out, bias=False))
    for m in head:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
        if isinstance(m, nn.BatchNorm1d):
            nn.init.constant_(m.bias, 1e-3)
    return nn.Sequential(body, head)


def load(data_dir, size):
    rows = list(csv.DictReader(open(f"{data_dir}/labels.csv")))
    vocab = sorted({l for r in rows for l in r["labels"].split()})
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    sets = {"train": ([], []), "valid": ([], [])}
    for r in rows:
        im = Image.open(f"{data_dir}/{r['fname']}").convert("RGB").resize((size, size), Image.BILINEAR)
        x = (np.asarray(im, np.float32) / 255 - mean) / std
        y = np.zeros(len(vocab), np.float32)
        for l in r["labels"].split():
            y[vocab.index(l)] = 1
        s = sets["valid" if r["is_valid"] == "True" else "train"]
        s[0].append(x.transpose(2, 0, 1))
        s[1].append(y)
    return {k: (torch.tensor(np.stack(v[0])), torch.tensor(np.stack(v[1]))) for k, v in sets.items()}


def main():
    a = sys.argv[1:]
    data_dir = a[0]
    size = int(a[1]) if len(a) > 1 else 64
    epochs = int(a[2]) if len(a) > 2 else 10
    lr = float(a[3]) if len(a) > 3 else 1e-2
    bs = int(a[4]) if len(a) > 4 else 32
    torch.set_num_threads(int(a[5]) if len(a) > 5 else 1)
    torch.manual_seed(int(a[6]) if len(a) > 6 else 0)
    d = load(data_dir, size)
    xt, yt = d["train"]
    xv, yv = d["valid"]
    model = fastai_resnet(yt.shape[1])
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99), eps=1e-5)
    steps = epochs * (len(xt) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.25,
                                                div_factor=25, final_div_factor=1e5 / 25,
                                                base_momentum=0.85, max_momentum=0.95)
    lossf = nn.BCEWithLogitsLoss()
    print(f"train {len(xt)} valid {len(xv)} size {size} bs {bs} lr {lr} epochs {epochs}")
    print(f"all-negative baseline: {(yv == 0).float().mean():.4f}")
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        tl = 0.0
        nb = len(xt) // bs
        for b in range(nb):
            idx = perm[b * bs:(b + 1) * bs]
            x = xt[idx]
            flip = torch.rand(len(idx)) < 0.5
            x[flip] = x[flip].flip(3)
            loss = lossf(model(x), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tl += loss.item()
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(xv[i:i + 64]) for i in range(0, len(xv), 64)])
        vl = lossf(out, yv).item()
        acc = ((torch.sigmoid(out) > 0.5).float() == yv).float().mean().item()
        print(f"{ep} train_loss {tl / nb:.4f} valid_loss {vl:.4f} accuracy_multi {acc:.4f}", flush=True)
    if not math.isfinite(vl):
        sys.exit(1)


if __name__ == "__main__":
    main()
