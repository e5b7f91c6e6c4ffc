"""load_fastc_resnet.py — PyTorch interop of fastc's model files, both ways.

    tests/reference/check_resnet_interop.sh     # runs everything below

DIR/resnet18.safetensors (written by fastc's test_safetensors with
FASTC_EXPORT_DIR=DIR) is loaded into fastai's model structure
nn.Sequential(body, head) built here from torchvision (fastai itself is not
installed) with load_state_dict(strict=True); every tensor must match the file, and
PyTorch's eval logits on fastc's fixed input must match fastc's
(DIR/resnet18_io.safetensors) to 1e-4.

Then torchvision resnet18/resnet50 state dicts (random init, seed 0) are written
as DIR/torchvision_<arch>.safetensors, with DIR/fastai_<arch>_body.safetensors
holding the same weights under the names of fastai's body (what
`vision_learner(..., pretrained=True)` would hold); fastc's test then loads the
first as `pretrained =` and compares with the second (FASTC_TV_DIR=DIR).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402


class AdaptiveConcatPool2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.ap, self.mp = nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


def fastai_model(arch, n_out):
    tv = getattr(torchvision.models, arch)()
    body = nn.Sequential(*list(tv.children())[:-2])
    nf = 2048 if arch == "resnet50" else 512
    head = nn.Sequential(AdaptiveConcatPool2d(), nn.Flatten(), nn.BatchNorm1d(2 * nf), nn.Dropout(0.25),
                         nn.Linear(2 * nf, 512, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(512),
                         nn.Dropout(0.5), nn.Linear(512, n_out, bias=False))
    return nn.Sequential(body, head), tv


def main():
    d = sys.argv[1]
    path = os.path.join(d, "resnet18.safetensors")
    tensors, meta = safetensors_py.load_file(path)
    assert meta["fastc_format"] == "1" and meta["arch"] == "resnet18", meta
    vocab = json.loads(meta["vocab"])
    n_out = int(meta["n_out"])
    model, _ = fastai_model("resnet18", n_out)
    missing = set(model.state_dict()) ^ set(tensors)
    assert not missing, sorted(missing)[:10]
    model.load_state_dict(tensors, strict=True)
    sd = model.state_dict()
    for k, v in tensors.items():
        assert sd[k].dtype == v.dtype and torch.equal(sd[k], v), k
    model.eval()
    io, _ = safetensors_py.load_file(os.path.join(d, "resnet18_io.safetensors"))
    with torch.no_grad():
        out = model(io["input_nhwc"].permute(0, 3, 1, 2).contiguous())
    want = io["logits"]
    rel = ((out - want).abs().max() / want.abs().max()).item()
    assert out.shape == want.shape and rel < 1e-4, (out, want)
    print(f"{path}: load_state_dict(strict=True) OK, {len(tensors)} tensors, "
          f"{sum(v.numel() for v in tensors.values())} values, vocab of {len(vocab)}; "
          f"eval logits match fastc's to {rel:.1e} (max relative)")

    for arch in ("resnet18", "resnet50"):
        torch.manual_seed(0)
        model, tv = fastai_model(arch, 37)
        with torch.no_grad():  # running stats away from 0/1, counters non-zero
            for m in tv.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-1, 1)
                    m.running_var.uniform_(0.5, 2)
                    m.num_batches_tracked.fill_(1234)
        body = {"0." + k: v for k, v in model[0].state_dict().items()}
        safetensors_py.save_file(tv.state_dict(), os.path.join(d, f"torchvision_{arch}.safetensors"))
        safetensors_py.save_file(body, os.path.join(d, f"fastai_{arch}_body.safetensors"))
        print(f"wrote torchvision_{arch}.safetensors ({len(tv.state_dict())} tensors) and "
              f"fastai_{arch}_body.safetensors ({len(body)} tensors)")


if __name__ == "__main__":
    main()
