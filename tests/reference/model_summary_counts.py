#!/usr/bin/python3
"""model_summary_counts.py — reference numbers for `fastc summary` (tests/test_summary.c).

    /usr/bin/python3 tests/reference/model_summary_counts.py

Prints, from torchvision and plain PyTorch (fastai is not installed; its head
and collab models are rebuilt here module for module, FASTAI_REFERENCE.md §6, §9):

1. torchvision resnetNN(num_classes=1000): parameters (sum of numel), Conv2d
   modules, and forward multiply-adds per image at 224x224 counted by forward
   hooks on every Conv2d and Linear (out elements x in_channels/groups x kh x kw;
   out x in for Linear), next to torchvision's own weight metadata num_params.
   (torchvision >= 0.15 also lists GFLOPS: 1.81, 3.66, 4.09, 7.80, 11.51 for
   resnet18..152, this multiply-add count in units of 1e9; Debian's 0.14 has
   no such field.)
2. fastai's vision_learner model for 3 classes (body cut before avgpool,
   create_head(nf, 3)) on 3x32x32 items: params, params left trainable by
   freeze() with train_bn=True (every BatchNorm and the head), and multiply-adds.
3. fastai's EmbeddingNN(emb_szs=[(201, 31), (201, 31)], layers=[100, 50]) and
   EmbeddingDotBias(50, 201, 201): params, multiply-adds of its Linear layers.

test_summary.c hard-codes these numbers; fastc's FLOPs are 2 x the
multiply-adds.
"""
import torch
import torch.nn as nn
import torchvision
from torchvision.models import resnet as tvr

ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights",
           "resnet101": "ResNet101_Weights", "resnet152": "ResNet152_Weights"}


def macs(model, x):
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * kh * kw
        elif isinstance(m, nn.Linear):
            total[0] += out.numel() // out.shape[0] * m.in_features
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return total[0]


class AdaptiveConcatPool2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.ap, self.mp = nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


def fastai_model(arch, n_out):
    body = nn.Sequential(*list(getattr(torchvision.models, arch)().children())[:-2])
    nf = 512 if arch in ("resnet18", "resnet34") else 2048
    head = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten(), nn.BatchNorm1d(2 * nf), nn.Dropout(0.25),
                         nn.Linear(2 * nf, 512, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(512),
                         nn.Dropout(0.5), nn.Linear(512, n_out, bias=False))
    return nn.Sequential(body, head)


def frozen_trainable(model):
    """fastai freeze() with train_bn=True: only the last group (the head) and
    every BatchNorm's parameters train."""
    n = 0
    for mod_name, mod in model.named_modules():
        for p_name, p in mod.named_parameters(recurse=False):
            if mod_name.startswith("1.") or isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n += p.numel()
    return n


def main():
    torch.manual_seed(0)
    print("# 1. torchvision, 1000 classes, 224x224")
    for a in ARCHS:
        m = getattr(torchvision.models, a)()
        params = sum(p.numel() for p in m.parameters())
        convs = sum(1 for x in m.modules() if isinstance(x, nn.Conv2d))
        meta = getattr(tvr, WEIGHTS[a]).IMAGENET1K_V1.meta
        print(f"{a}: params {params} convs {convs} macs_224 {macs(m, torch.zeros(1, 3, 224, 224))} "
              f"(torchvision meta: num_params {meta['num_params']})")
    print("# 2. fastai vision_learner model, 3 classes, 3x32x32")
    for a in ARCHS:
        m = fastai_model(a, 3)
        params = sum(p.numel() for p in m.parameters())
        print(f"{a}: params {params} trainable_frozen {frozen_trainable(m)} "
              f"macs_32 {macs(m, torch.zeros(2, 3, 32, 32))}")
    print("# 3. collab")
    nn_model = nn.ModuleDict({
        "embeds": nn.ModuleList([nn.Embedding(201, 31), nn.Embedding(201, 31)]),
        "layers": nn.Sequential(nn.Linear(62, 100, bias=False), nn.ReLU(), nn.BatchNorm1d(100),
                                nn.Linear(100, 50, bias=False), nn.ReLU(), nn.BatchNorm1d(50),
                                nn.Linear(50, 1))})
    print(f"EmbeddingNN: params {sum(p.numel() for p in nn_model.parameters())} "
          f"macs {62 * 100 + 100 * 50 + 50 * 1}")
    dot = nn.ModuleList([nn.Embedding(201, 50), nn.Embedding(201, 50), nn.Embedding(201, 1), nn.Embedding(201, 1)])
    print(f"DotProductBias: params {sum(p.numel() for p in dot.parameters())}")


if __name__ == "__main__":
    main()
