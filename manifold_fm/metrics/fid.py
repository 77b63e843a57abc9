"""Feature-space sample quality of images: FID, KID and the small classifier that judges.

Both metrics compare two sets of feature vectors, e.g. the penultimate activations of a
classifier on generated and on real images (:func:`features`):

* FID (Frechet distance of Gaussians fitted to the two sets), computed in float64::

      FID(a, b) = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)

  with means mu and covariances S. FID is biased upwards at small sample counts, so a
  floor (the same FID between held-out and training images, with as many samples) is
  always computed with the sample count it is compared with.
* KID (Binkowski et al. 2018): the unbiased estimate of the squared MMD with the cubic
  polynomial kernel k(x, y) = (x . y / d + 1)^3 in d feature dimensions::

      KID(a, b) = sum_{i != j} k(a_i, a_j) / (n (n - 1)) + sum_{i != j} k(b_i, b_j) / (m (m - 1))
                  - 2 sum_{i, j} k(a_i, b_j) / (n m)

  unbiased at any sample count (so it may be slightly negative when the sets agree).

The judge for 28 x 28 digits is :class:`DigitClassifier`, trained by
:func:`train_classifier` on the training images only (no network from elsewhere is needed
offline); its ``FEATURE_DIM`` penultimate units (after ReLU) are the feature space. This
module needs torch only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "FEATURE_DIM",
    "DigitClassifier",
    "accuracy",
    "features",
    "fid",
    "kid",
    "train_classifier",
]

#: penultimate units of :class:`DigitClassifier`: the dimension of its feature space
FEATURE_DIM = 64


class DigitClassifier(nn.Module):
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
) -> tuple[DigitClassifier, float]:
    """Train on (x, y) with Adam (batch 128, random shifts of up to 2 pixels); return the
    classifier (eval mode) and its accuracy on (x_eval, y_eval)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = DigitClassifier()
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


def accuracy(net: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` (n, 1, 28, 28) the classifier labels as ``y`` (n,)."""
    return float((_batched(net, x).argmax(-1) == y).float().mean())


def features(net: nn.Module, x: Tensor) -> Tensor:
    """``net.features`` of ``x`` in chunks, float64: (n, FEATURE_DIM) for the digit classifier."""
    return _batched(net.features, x).double()


def fid(fa: Tensor, fb: Tensor) -> float:
    """Frechet distance between Gaussians fitted to features ``fa`` (n, d) and ``fb`` (m, d)."""
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    sa, sb = torch.cov(fa.T), torch.cov(fb.T)
    ev, vec = torch.linalg.eigh(sa)
    root_a = vec @ torch.diag(ev.clamp_min(0).sqrt()) @ vec.T
    mid = torch.linalg.eigvalsh(root_a @ sb @ root_a).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).square().sum() + sa.trace() + sb.trace() - 2 * mid)


def kid(fa: Tensor, fb: Tensor) -> float:
    """Unbiased squared MMD of features ``fa`` (n, d) and ``fb`` (m, d), cubic kernel.

    k(x, y) = (x . y / d + 1)^3 (the module docstring's KID), float64; needs n, m >= 2.
    Memory O((n + m)^2): pass a few thousand features at most.
    """
    if fa.ndim != 2 or fb.ndim != 2 or fa.shape[1] != fb.shape[1]:
        raise ValueError(
            f"kid: features must be (n, d) and (m, d), got {tuple(fa.shape)} and {tuple(fb.shape)}"
        )
    n, m, d = fa.shape[0], fb.shape[0], fa.shape[1]
    if n < 2 or m < 2:
        raise ValueError(f"kid: needs at least 2 features per set, got {n} and {m}")
    a, b = fa.double(), fb.double()
    kaa = (a @ a.T / d + 1).pow(3)
    kbb = (b @ b.T / d + 1).pow(3)
    kab = (a @ b.T / d + 1).pow(3)
    within_a = (kaa.sum() - kaa.diagonal().sum()) / (n * (n - 1))
    within_b = (kbb.sum() - kbb.diagonal().sum()) / (m * (m - 1))
    return float(within_a + within_b - 2 * kab.mean())
