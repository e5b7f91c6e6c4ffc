#!/usr/bin/python3
"""multilabel_torch.py DATA_DIR [SIZE] [EPOCHS] [LR] [BS] [THREADS] [SEED] [MODEL] [PRE_DIR] — PyTorch
reference for bench/accuracy_shapes.sh's multi-label run (configs/multilabel.ini).

The same recipe as fastc, written in plain PyTorch (fastai is not installed here):
labels.csv (fname, labels space-separated, is_valid), Resize(SIZE, squish) with PIL
bilinear, random horizontal flip (no zoom/warp/lighting), ImageNet normalisation,
torchvision resnet18 body + fastai's create_head from scratch, BCEWithLogits,
Adam(betas=(0.9, 0.99), eps=1e-5) with decoupled wd 0.01 off BN/bias, fastai's
fit_one_cycle (pct 0.25, div 25, cosine, momentum 0.95-0.85-0.95), drop_last.
Prints one line per epoch (train loss, valid loss, accuracy_multi at 0.5) and the
all-negative baseline: whether a from-scratch resnet18 learns this set at all, and how
well, independent of fastc.

MODEL (default resnet18) swaps the network to see what is hard about the set:
  small      4 x (3x3 conv, BN, ReLU) with max pools, global max pool, linear
  stem       resnet's stem (7x7/2 conv, BN, ReLU, 3x3/2 max pool) then 3 such convs
  stem_head  the stem network with fastai's head (concat pool, BN, dropout, 512, BN, dropout)
  pretrained the recipe of bench/accuracy_shapes.sh: torchvision resnet18 (avgpool + fc)
             pretrained from scratch on PRE_DIR (default DATA_DIR_single: `fastc get
             shapes_single`) for 5 epochs at 2e-3, bs 64 (configs/shapes_pretrain.ini), then
             its body under fastai's head, fine_tune(EPOCHS, LR, lr_mult=10)
             (configs/multilabel.ini: `... 64 8 1e-2 32 1 0 pretrained`)"""
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


def probe_model(kind, n_out, ps=0.5):
    def blk(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    if kind == "small":
        return nn.Sequential(*blk(3, 32), nn.MaxPool2d(2), *blk(32, 64), nn.MaxPool2d(2), *blk(64, 128),
                             nn.MaxPool2d(2), *blk(128, 128), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
                             nn.Linear(128, n_out))
    stem = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1), *blk(64, 64), *blk(64, 128), nn.MaxPool2d(2), *blk(128, 128)]
    if kind == "stem":
        return nn.Sequential(*stem, nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(128, n_out))
    assert kind == "stem_head", kind

    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([nn.functional.adaptive_max_pool2d(x, 1),
                              nn.functional.adaptive_avg_pool2d(x, 1)], 1)

    return nn.Sequential(*stem, ConcatPool(), nn.Flatten(), nn.BatchNorm1d(256), nn.Dropout(ps / 2),
                         nn.Linear(256, 512, bias=False), nn.ReLU(inplace=True),
                         nn.BatchNorm1d(512), nn.Dropout(ps), nn.Linear(512, n_out, bias=False))


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


def param_groups(mods, wd=0.01):
    """fastai's splits: per module, weight decay on weights only (not BN/bias)."""
    g = []
    for m in mods:
        ps = list(m.parameters())
        g += [{"params": [p for p in ps if p.ndim > 1], "weight_decay": wd},
              {"params": [p for p in ps if p.ndim <= 1], "weight_decay": 0.0}]
    return g


def one_cycle(groups, lrs, steps, pct=0.25, div=25.0):
    """Adam(0.9, 0.99, eps 1e-5), decoupled wd, fastai's fit_one_cycle on each group's lr."""
    opt = torch.optim.AdamW(groups, lr=lrs[0], betas=(0.9, 0.99), eps=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lrs, total_steps=steps, pct_start=pct,
                                                div_factor=div, final_div_factor=1e5 / div,
                                                base_momentum=0.85, max_momentum=0.95)
    return opt, sched


def fit(model, opt, sched, data, bs, epochs, lossf, metric):
    """epochs of shuffled, flipped, drop_last batches; a line per epoch; the last valid loss."""
    (xt, yt), (xv, yv) = data["train"], data["valid"]
    vl = float("nan")
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
        print(f"{ep} train_loss {tl / nb:.4f} valid_loss {vl:.4f} {metric(out, yv)}", flush=True)
    return vl


def accuracy_multi(out, y):
    return f"accuracy_multi {((torch.sigmoid(out) > 0.5).float() == y).float().mean().item():.4f}"


def pretrained_body(pre_dir, size, epochs=5, lr=2e-3, bs=64):
    """configs/shapes_pretrain.ini: torchvision resnet18 (avgpool + fc) trained from scratch
    on the single-shape set (one label per image, cross-entropy); returns its body."""
    d = load(pre_dir, size)
    d = {k: (x, y.argmax(1)) for k, (x, y) in d.items()}
    net = torchvision.models.resnet18(weights=None, num_classes=int(d["train"][1].max()) + 1)
    opt, sched = one_cycle(param_groups([net]), [lr, lr], epochs * (len(d["train"][0]) // bs))
    print(f"pretraining: train {len(d['train'][0])} valid {len(d['valid'][0])} bs {bs} lr {lr} epochs {epochs}")
    fit(net, opt, sched, d, bs, epochs, nn.CrossEntropyLoss(),
        lambda o, y: f"error_rate {(o.argmax(1) != y).float().mean().item():.4f}")
    return nn.Sequential(*list(net.children())[:-2])


def fine_tune(model, data, bs, epochs, base_lr, lr_mult=10, freeze_epochs=1):
    """fastai's fine_tune: freeze_epochs on the head (body BN still trains, train_bn), one
    cycle at base_lr with pct_start 0.99; then base_lr / 2 over the three groups (conv1..layer2,
    layer3..layer4, head) as slice(base_lr / 2 / lr_mult, base_lr / 2), pct_start 0.3, div 5."""
    body, head = model[0], model[1]
    lossf = nn.BCEWithLogitsLoss()
    n = len(data["train"][0]) // bs
    for p in body.parameters():
        p.requires_grad_(False)
    for m in body.modules():
        if isinstance(m, nn.BatchNorm2d):
            for p in m.parameters():
                p.requires_grad_(True)
    opt, sched = one_cycle(param_groups([body, head]), [base_lr] * 4, freeze_epochs * n, pct=0.99)
    fit(model, opt, sched, data, bs, freeze_epochs, lossf, accuracy_multi)
    for p in body.parameters():
        p.requires_grad_(True)
    lr = base_lr / 2
    kids = list(body.children())
    g0, g1 = nn.Sequential(*kids[:6]), nn.Sequential(*kids[6:])
    lrs = [lr / lr_mult] * 2 + [lr / lr_mult ** 0.5] * 2 + [lr] * 2
    opt, sched = one_cycle(param_groups([g0, g1, head]), lrs, epochs * n, pct=0.3, div=5.0)
    return fit(model, opt, sched, data, bs, epochs, lossf, accuracy_multi)


def main():
    a = sys.argv[1:]
    data_dir = a[0]
    size = int(a[1]) if len(a) > 1 else 64
    epochs = int(a[2]) if len(a) > 2 else 10
    lr = float(a[3]) if len(a) > 3 else 1e-2
    bs = int(a[4]) if len(a) > 4 else 32
    torch.set_num_threads(int(a[5]) if len(a) > 5 else 1)
    torch.manual_seed(int(a[6]) if len(a) > 6 else 0)
    kind = a[7] if len(a) > 7 else "resnet18"
    if kind == "pretrained":
        body = pretrained_body(a[8] if len(a) > 8 else f"{data_dir}_single", size)
    d = load(data_dir, size)
    xt, yt = d["train"]
    xv, yv = d["valid"]
    print(f"{kind}: train {len(xt)} valid {len(xv)} size {size} bs {bs} lr {lr} epochs {epochs}")
    print(f"all-negative baseline: {(yv == 0).float().mean():.4f}")
    if kind == "pretrained":
        model = fastai_resnet(yt.shape[1])
        model[0].load_state_dict(body.state_dict())
        vl = fine_tune(model, d, bs, epochs, lr)
    else:
        model = fastai_resnet(yt.shape[1]) if kind == "resnet18" else probe_model(kind, yt.shape[1])
        opt, sched = one_cycle(param_groups([model]), [lr, lr], epochs * (len(xt) // bs))
        vl = fit(model, opt, sched, d, bs, epochs, nn.BCEWithLogitsLoss(), accuracy_multi)
    if not math.isfinite(vl):
        sys.exit(1)


if __name__ == "__main__":
    main()
