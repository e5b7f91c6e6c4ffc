#!/usr/bin/python3
"""make_pth_fixtures.py — small PyTorch .pth files for tests/test_pth.c, written by torch.save.

    /usr/bin/python3 tests/reference/make_pth_fixtures.py     # rewrites fixtures/pth/*.pth

fixtures/pth/state_dict.pth   torch.save of a state_dict: a real module's
    (nn.Sequential(Conv2d(2, 3, 3), BatchNorm2d(3), Linear(4, 2)): OrderedDict
    with _metadata, an int64 0-d num_batches_tracked) plus tensors of other
    dtypes and views: a transposed (non-contiguous) weight, a column (stride
    4), a slice with a storage offset sharing that column's storage, an empty
    tensor.  Values follow formulas test_pth.c recomputes (all exact in their
    dtype): tensor number t (state_dict order), element k in row-major order.
fixtures/pth/zip64.pth        the same records repacked with zip64 fields
    everywhere (sizes and offsets 0xFFFFFFFF in the headers, the values in
    zip64 extra fields, entry count and directory in the zip64 end record),
    checked to load in torch.load to the same tensors.
fixtures/pth/checkpoint.pth   {'model': <a small state_dict>, 'epoch': 3,
    'lr': 0.01, 'names': ['a', 'b']}: a checkpoint around a state_dict, as
    fastai's learn.save writes one.

Check a full torchvision resnet .pth end to end (not part of make test):

    /usr/bin/python3 tests/reference/make_pth_fixtures.py --resnet [ARCH] [FASTC]

writes torchvision ARCH (default resnet18) with seeded random weights (or uses
the real file when torchvision's cache has it) as the cache file `pretrained =
True` looks for under a temporary TORCH_HOME, trains nothing (schedule =
freeze()) on a tiny image set with `pretrained = True`, and checks that every
body tensor of the saved model.safetensors equals the .pth's, bit for bit,
under fastai's names (conv1 -> 0.0, bn1 -> 0.1, layerK -> 0.(3+K)).
"""
import collections
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "pth")


def fill(t, index):
    """tensor number `index`: (index + 1) + k/8 for element k (row-major)"""
    n = t.numel()
    v = (index + 1) + torch.arange(n, dtype=torch.float64) / 8
    return v.reshape(t.shape).to(t.dtype)


def state_dict():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Linear(4, 2))
    sd = m.state_dict()
    for i, (name, t) in enumerate(sd.items()):
        if name.endswith("num_batches_tracked"):
            t.fill_(7)
        else:
            t.copy_(fill(t, i))
    sd["x.f64"] = fill(torch.empty(5, dtype=torch.float64), 9)
    sd["x.f16"] = fill(torch.empty(3, 2, dtype=torch.float16), 10)
    sd["x.bf16"] = fill(torch.empty(4, dtype=torch.bfloat16), 11)
    sd["x.i32"] = torch.arange(3, dtype=torch.int32) * -1000
    sd["x.u8"] = torch.arange(4, dtype=torch.uint8) * 50
    base = fill(torch.empty(3, 4), 12)                 # 13 + (i*4 + j)/8
    sd["view.t"] = base.t()                            # [4, 3], strides (1, 4)
    base2 = fill(torch.empty(3, 4), 13)                # 14 + (i*4 + j)/8
    sd["view.col"] = base2[:, 1]                       # [3], stride 4, offset 1
    sd["view.slice"] = base2[1:3]                      # [2, 4], offset 4, same storage
    sd["empty"] = torch.empty(0, 3)
    assert not sd["view.t"].is_contiguous() and not sd["view.col"].is_contiguous()
    return sd


def repack_zip64(src, dst):
    """The records of src, stored, with every size and offset in zip64 form."""
    with zipfile.ZipFile(src) as z:
        records = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    out, central = bytearray(), bytearray()
    for name, data in records:
        nm, crc, off = name.encode(), zlib.crc32(data) & 0xFFFFFFFF, len(out)
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nm),
                           len(extra)) + nm + extra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nm), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + nm + cextra
    cd_off, n = len(out), len(records)
    out += central
    eocd64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(dst, "wb") as f:
        f.write(out)


def same(a, b):
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and
                                        torch.equal(a[k], b[k]) for k in a)


def fixtures():
    os.makedirs(OUT, exist_ok=True)
    sd = state_dict()
    p = os.path.join(OUT, "state_dict.pth")
    torch.save(sd, p)
    assert same(torch.load(p), sd)
    z = os.path.join(OUT, "zip64.pth")
    repack_zip64(p, z)
    assert same(torch.load(z), sd), "torch.load reads the zip64 repack differently"
    small = collections.OrderedDict((k, sd[k]) for k in ("0.weight", "0.bias", "view.t"))
    torch.save({"model": small, "epoch": 3, "lr": 0.01, "names": ["a", "b"]}, os.path.join(OUT, "checkpoint.pth"))
    for f in sorted(os.listdir(OUT)):
        print(os.path.join(OUT, f), os.path.getsize(os.path.join(OUT, f)), "bytes")


TV_FILES = {"resnet18": "resnet18-f37072fd.pth", "resnet34": "resnet34-b627a593.pth",
            "resnet50": "resnet50-0676ba61.pth", "resnet101": "resnet101-63fe2227.pth",
            "resnet152": "resnet152-394f9c45.pth"}


def read_safetensors(path):
    sys.path.insert(0, HERE)
    from safetensors_py import load_file   # this folder's reader (Debian has no safetensors)
    return load_file(path)[0]


def to_fastai(name):
    if name.startswith("fc."):
        return None
    for tv, fa in (("conv1.", "0.0."), ("bn1.", "0.1.")):
        if name.startswith(tv):
            return fa + name[len(tv):]
    if name.startswith("layer"):
        return "0.%d.%s" % (3 + int(name[5]), name[7:])
    raise ValueError(name)


def check_resnet(arch, fastc):
    import torchvision
    from PIL import Image
    tmp = tempfile.mkdtemp(prefix="fastc-pth-")
    try:
        ckdir = os.path.join(tmp, "torch", "hub", "checkpoints")
        os.makedirs(ckdir)
        pth = os.path.join(ckdir, TV_FILES[arch])
        real = os.path.join(os.path.expanduser(os.getenv("TORCH_HOME", "~/.cache/torch")), "hub", "checkpoints",
                            TV_FILES[arch])
        if os.path.exists(real):
            shutil.copy(real, pth)
            print("using the real", real)
        else:
            torch.manual_seed(1)
            torch.save(getattr(torchvision.models, arch)().state_dict(), pth)
            print("wrote seeded random torchvision", arch, "weights to", pth)
        for split in ("train", "valid"):
            for c in ("a", "b"):
                os.makedirs(os.path.join(tmp, "data", split, c))
                for k in range(2):
                    Image.new("RGB", (40, 40), (k * 90, 40, 200 if c == "a" else 10)).save(
                        os.path.join(tmp, "data", split, c, "%d.png" % k))
        with open(os.path.join(tmp, "c.ini"), "w") as f:
            f.write("[data]\npath = data\nblocks = ImageBlock, CategoryBlock\nget_items = get_image_files\n"
                    "get_y = parent_label\nsplitter = GrandparentSplitter()\nitem_tfms = Resize(32)\nbs = 2\n"
                    "[model]\narch = %s\npretrained = True\n[train]\nschedule = freeze()\n" % arch)
        env = dict(os.environ, TORCH_HOME=os.path.join(tmp, "torch"))
        subprocess.run([fastc, "train", "c.ini", "--quiet"], cwd=tmp, env=env, check=True)
        saved = read_safetensors(os.path.join(tmp, "runs", "c", "model.safetensors"))
        ref = torch.load(pth)
        n = 0
        for name, t in ref.items():
            fa = to_fastai(name)
            if fa is None:
                continue
            got = torch.as_tensor(saved[fa])
            assert got.shape == t.shape, (name, got.shape, t.shape)
            assert torch.equal(got.to(t.dtype), t), "%s differs" % name
            n += 1
        print("%s: %d body tensors of %s equal in fastc's model.safetensors: PASS" % (arch, n, TV_FILES[arch]))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--resnet":
        check_resnet(sys.argv[2] if len(sys.argv) > 2 else "resnet18",
                     sys.argv[3] if len(sys.argv) > 3 else os.path.join(HERE, "..", "..", "fastc"))
    else:
        fixtures()
