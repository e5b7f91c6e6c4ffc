#!/usr/bin/python3
"""collab_torch.py — the PyTorch side of bench/bench_collab.sh.

  collab_torch.py make-data OUT.csv      write a MovieLens-100k-shaped ratings file
                                         (943 users, 1682 items, 100,000 ratings,
                                         userId,movieId,rating header) from a fixed seed
  collab_torch.py time RATINGS.csv BS EPOCHS [THREADS]
                                         train fastai's EmbeddingDotBias(50, y_range=(0,5.5))
                                         on the first 80% of a seeded row permutation
                                         (80,000 ratings) with MSE and fastai's Adam
                                         (decoupled wd 0.1, betas (0.9, 0.99), eps 1e-5 —
                                         torch.optim.AdamW computes exactly fastai's update),
                                         dense embedding gradients, train shuffled per epoch,
                                         drop_last; prints 'epoch_s <min seconds over epochs>'.

The loop is as lean as PyTorch allows (indices pre-tensorised, one randperm per
epoch, slicing), so the comparison is against PyTorch itself, not fastai's
DataLoader overhead.  torch.set_num_threads(THREADS), 2 by default.
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def make_data(path):
    rng = np.random.default_rng(1234)
    n_users, n_items, n = 943, 1682, 100_000
    # popularity skew like MovieLens: some users/items rate/are rated much more
    pu = np.exp(rng.normal(0, 1.0, size=n_users))
    pu /= pu.sum()
    pi = np.exp(rng.normal(0, 1.5, size=n_items))
    pi /= pi.sum()
    u = rng.choice(n_users, size=n, p=pu) + 1
    i = rng.choice(n_items, size=n, p=pi) + 1
    r = np.clip(np.round(rng.normal(3.5, 1.0, size=n) * 2) / 2, 0.5, 5.0)
    with open(path, "w") as f:
        f.write("userId,movieId,rating\n")
        for a, b, c in zip(u, i, r):
            f.write(f"{a},{b},{c:.1f}\n")


class EmbeddingDotBias(nn.Module):
    """fastai's EmbeddingDotBias (collab.py)."""

    def __init__(self, n_factors, n_users, n_items, y_range):
        super().__init__()
        self.y_range = y_range
        self.u_weight, self.i_weight, self.u_bias, self.i_bias = [
            nn.Embedding(*o) for o in [(n_users, n_factors), (n_items, n_factors), (n_users, 1), (n_items, 1)]
        ]
        for e in (self.u_weight, self.i_weight, self.u_bias, self.i_bias):
            with torch.no_grad():
                e.weight.normal_().fmod_(2).mul_(0.01)

    def forward(self, x):
        users, items = x[:, 0], x[:, 1]
        dot = self.u_weight(users) * self.i_weight(items)
        res = dot.sum(1) + self.u_bias(users).squeeze() + self.i_bias(items).squeeze()
        lo, hi = self.y_range
        return torch.sigmoid(res) * (hi - lo) + lo


def time_epochs(path, bs, epochs, threads=2):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    users = {v: k + 1 for k, v in enumerate(sorted(set(raw[:, 0])))}
    items = {v: k + 1 for k, v in enumerate(sorted(set(raw[:, 1])))}
    x = torch.tensor([[users[a], items[b]] for a, b in raw[:, :2]], dtype=torch.int64)
    y = torch.tensor(raw[:, 2], dtype=torch.float32)
    perm = torch.randperm(len(x))
    cut = int(0.2 * len(x))
    tx, ty = x[perm[cut:]], y[perm[cut:]]
    model = EmbeddingDotBias(50, len(users) + 1, len(items) + 1, (0.0, 5.5))
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1)
    loss_fn = nn.MSELoss()
    n_batches = len(tx) // bs
    best = float("inf")
    for _ in range(epochs):
        t0 = time.perf_counter()
        p = torch.randperm(len(tx))
        for b in range(n_batches):
            idx = p[b * bs:(b + 1) * bs]
            xb, yb = tx[idx], ty[idx]
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        best = min(best, time.perf_counter() - t0)
    print(f"epoch_s {best:.6f} train_items {len(tx)} batches {n_batches} last_loss {loss.item():.4f}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make-data":
        make_data(sys.argv[2])
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "time":
        time_epochs(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) == 6 else 2)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
