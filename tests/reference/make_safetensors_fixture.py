"""make_safetensors_fixture.py — a tiny safetensors file written from PyTorch tensors.

    /usr/bin/python3 tests/reference/make_safetensors_fixture.py

writes tests/reference/fixtures/torch_tiny.safetensors, read by tests/test_safetensors.c:
  * a fake fastai-named model (conv weight in PyTorch OIHW order, BatchNorm
    buffers, an int64 num_batches_tracked scalar, a linear weight), with values
    from the formula v(i) = sin(0.37 i + k) so the C test recomputes them;
  * the same values in F16 / BF16 / F64 beside their float32 conversions done
    by torch ("*_as_f32"), so the C conversions are checked against torch's.
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402


def formula(shape, k):
    n = 1
    for s in shape:
        n *= s
    return torch.tensor([math.sin(0.37 * i + k) for i in range(n)], dtype=torch.float32).reshape(shape)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_tiny.safetensors")
    conv = torch.nn.Conv2d(3, 8, 3, bias=False)
    bn = torch.nn.BatchNorm2d(8)
    lin = torch.nn.Linear(8, 5, bias=False)
    with torch.no_grad():
        conv.weight.copy_(formula((8, 3, 3, 3), 0.0))
        bn.weight.copy_(formula((8,), 1.0))
        bn.bias.copy_(formula((8,), 2.0))
        bn.running_mean.copy_(formula((8,), 3.0))
        bn.running_var.copy_(formula((8,), 4.0).abs() + 0.5)
        bn.num_batches_tracked.fill_(7)
        lin.weight.copy_(formula((5, 8), 5.0))
    t = {"0.0.weight": conv.weight.detach()}
    for k, v in bn.state_dict().items():
        t["0.1." + k] = v
    t["1.8.weight"] = lin.weight.detach()

    # Values that stress the conversions: wide range, f16 subnormals, ties.
    x = formula((64,), 0.5) * torch.logspace(-9, 4.7, 64)
    x[0], x[1], x[2] = 0.0, -0.0, 65504.0
    x[3] = 2.0 ** -24   # smallest f16 subnormal
    x[4] = 1.0 + 2.0 ** -11  # f16 rounding tie
    for name, dt in (("f16", torch.float16), ("bf16", torch.bfloat16), ("f64", torch.float64)):
        t["x." + name] = x.to(dt)
        t["x." + name + "_as_f32"] = x.to(dt).to(torch.float32)
    safetensors_py.save_file(t, out, metadata={"fastc_format": "1", "arch": "tiny",
                                               "vocab": '["cat", "dog \\"big\\""]'})
    back, meta = safetensors_py.load_file(out)
    for k in t:
        assert torch.equal(back[k], t[k]), k
    print("wrote", out, os.path.getsize(out), "bytes,", len(t), "tensors")


if __name__ == "__main__":
    main()
