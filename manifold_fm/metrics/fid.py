"""The MNIST benchmark's judge: a small CNN classifier, its feature-space FID, PNG grids.

The classifier is trained by the benchmark on the 9,000 training images only (no network
from elsewhere is available offline). Its penultimate layer (``FEATURE_DIM`` units, after
ReLU) is the feature space of the FID::

    FID(a, b) = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)

with means mu and covariances S of the two feature sets, computed in float64. The same
FID between held-out and training images is the floor a perfect model would reach with
as many samples (FID is biased upwards at small sample counts, so a floor is always
computed with the sample count it is compared with).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FEATURE_DIM", "Classifier", "fid", "save_grid", "train_classifier"]

FEATURE_DIM = 64


class Classifier(nn.Module):
    """conv(32)-pool-conv(64)-pool-fc(FEATURE_DIM)-fc(10) on (n, 1, 28, 28) in [-1, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.out = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations, (n, FEATURE_DIM)."""
        return F.relu(self.fc(self.conv(x.clamp(-1, 1)).flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x))


@torch.no_grad()
def _batched(fn, x: Tensor, chunk: int = 500) -> Tensor:
    return torch.cat([fn(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])


def train_classifier(
    x: Tensor, y: Tensor, x_eval: Tensor, y_eval: Tensor, *, epochs: int, seed: int
) -> tuple[Classifier, float]:
    """Train on (x, y) with Adam (batch 128, random shifts of up to 2 pixels); return the
    classifier (eval mode) and its accuracy on (x_eval, y_eval)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = Classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for i in range(0, x.shape[0], 128):
            idx = perm[i : i + 128]
            sx, sy = torch.randint(-2, 3, (2,), generator=g).tolist()
            xb = torch.roll(x[idx], shifts=(sx, sy), dims=(-2, -1))
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    return net, accuracy(net, x_eval, y_eval)


def accuracy(net: Classifier, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` (n, 1, 28, 28) the classifier labels as ``y`` (n,)."""
    return float((_batched(net, x).argmax(-1) == y).float().mean())


def features(net: Classifier, x: Tensor) -> Tensor:
    """Penultimate features of ``x`` in float64, (n, FEATURE_DIM)."""
    return _batched(net.features, x).double()


def fid(fa: Tensor, fb: Tensor) -> float:
    """Frechet distance between Gaussians fitted to features ``fa`` (n, d) and ``fb`` (m, d)."""
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = torch.cov(fa.T), torch.cov(fb.T)
    ev, vec = torch.linalg.eigh(sa)
    root_a = vec @ torch.diag(ev.clamp_min(0).sqrt()) @ vec.T
    mid = torch.linalg.eigvalsh(root_a @ sb @ root_a).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + sa.trace() + sb.trace() - 2 * mid)


def save_grid(images: Tensor, nrow: int, path: Path, title: str = "") -> None:
    """Save ``images`` (n, 1, H, W) in [-1, 1] as a PNG grid with ``nrow`` images per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, _, h, w = images.shape
    rows = (n + nrow - 1) // nrow
    canvas = torch.ones(rows * (h + 2), nrow * (w + 2))
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = (
            images[i, 0].clamp(-1, 1) + 1
        ) / 2
    fig, ax = plt.subplots(figsize=(nrow * 0.45 + 0.3, rows * 0.45 + 0.5))
    ax.imshow(canvas.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
