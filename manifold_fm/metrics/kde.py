"""Kernel density estimates on S^2 and T^d with bandwidths chosen on validation data.

A flow's test NLL on point clouds needs a baseline: when many test points duplicate or
nearly duplicate a training point (as in the published Earth sets), a kernel estimate
centred on the training points scores them well without learning anything. Both kernels
have the form k(x; mu) = exp(kappa s(x, mu) + c(kappa)):

* von Mises-Fisher on S^2: s = mu . x - 1, c = log kappa - log 2 pi - log(1 - e^{-2 kappa})
  (density w.r.t. area; integrates to 1 over the unit sphere);
* product of von Mises on T^d, one kappa for every angle: s = sum_j cos(x_j - mu_j) - d,
  c = -d log(2 pi I0e(kappa)) with I0e(kappa) = e^{-kappa} I0(kappa).

The estimate mixes two widths, p(x) = w K_{kappa1}(x) + (1 - w) K_{kappa2}(x), with
K_kappa(x) = (1/n) sum_i k(x; x_i); (kappa1, kappa2, w) maximise the mean validation
log-likelihood over a grid (one sharp width for repeated sites, one broad for the rest).
Everything is float64 with log-sum-exp; the test split is only scored, never searched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["KAPPAS", "KDE_KINDS", "WEIGHTS", "KernelDensity", "fit_kde", "kde_log_density"]

#: the kernels: von Mises-Fisher on S^2, product of von Mises on T^d
KDE_KINDS = ("vmf", "von_mises")
#: default log-spaced concentration grid, kappa in [1, 1e8]: exact duplicates push the
#: validation optimum of the sharp width to the top, where 1/sqrt(kappa) = 1e-4 rad (0.6 km)
#: is below the resolution of the coordinates
KAPPAS = tuple(float(k) for k in torch.logspace(0, 8, 33, dtype=torch.float64))
#: default grid of the weight w of the first width (1.0: a single width)
WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class KernelDensity:
    """A fitted two-width estimate p(x) = w K_kappa1(x) + (1 - w) K_kappa2(x).

    ``kind`` ('vmf' or 'von_mises'), ``centres`` (n, k) float64, the widths ``kappa1``,
    ``kappa2``, the weight ``weight`` = w and ``val_nll``, the mean validation negative
    log-likelihood (nats) that chose them.
    """

    kind: str
    centres: Tensor
    kappa1: float
    kappa2: float
    weight: float
    val_nll: float

    def log_density(self, x: Tensor) -> Tensor:
        """log p(x) for points x (m, k): shape (m,), float64."""
        lp1, lp2 = kde_log_density(self.kind, self.centres, x, [self.kappa1, self.kappa2])
        if self.weight >= 1.0:
            return lp1
        return torch.logaddexp(lp1 + math.log(self.weight), lp2 + math.log1p(-self.weight))


def _check_kind(kind: str) -> None:
    if kind not in KDE_KINDS:
        raise ValueError(f"kernel kind {kind!r}: choose one of {list(KDE_KINDS)}")


def _similarity(kind: str, centres: Tensor, x: Tensor) -> Tensor:
    """s(x, mu) <= 0 of the module docstring, shape (m, n)."""
    if kind == "vmf":
        return x @ centres.T - 1.0
    return torch.cos(x.unsqueeze(1) - centres.unsqueeze(0)).sum(-1) - x.shape[-1]


def _log_norm(kind: str, kappa: Tensor, d: int) -> Tensor:
    """c(kappa) of the module docstring, for a 1-d tensor of concentrations."""
    if kind == "vmf":
        return kappa.log() - math.log(2 * math.pi) - torch.log1p(-torch.exp(-2 * kappa))
    return -d * (math.log(2 * math.pi) + torch.log(torch.special.i0e(kappa)))


def kde_log_density(
    kind: str, centres: Tensor, x: Tensor, kappas: list[float] | tuple[float, ...]
) -> Tensor:
    """log K_kappa(x) = logsumexp_i(kappa s(x, x_i) + c(kappa)) - log n for every kappa.

    centres (n, k) and x (m, k): unit vectors in R^3 ('vmf') or angles (d = k) on T^d
    ('von_mises'). Returns (len(kappas), m), float64.
    """
    _check_kind(kind)
    c64, x64 = centres.double(), x.double()
    kap = torch.tensor(list(kappas), dtype=torch.float64)
    if not bool((kap > 0).all()):
        raise ValueError(f"kde_log_density: concentrations must be > 0, got {list(kappas)}")
    norm = _log_norm(kind, kap, x.shape[-1]) - math.log(c64.shape[0])
    chunk = max(1, 4_000_000 // (c64.shape[0] * len(kap)))  # rows per block (memory bound)
    out = []
    for i in range(0, x64.shape[0], chunk):
        s = _similarity(kind, c64, x64[i : i + chunk])  # (b, n)
        out.append(torch.logsumexp(kap[:, None, None] * s, dim=-1) + norm[:, None])
    return torch.cat(out, dim=1)


def fit_kde(
    kind: str,
    train: Tensor,
    val: Tensor,
    kappas: tuple[float, ...] = KAPPAS,
    weights: tuple[float, ...] = WEIGHTS,
) -> KernelDensity:
    """Choose (kappa1, kappa2, w) maximising the mean validation log-likelihood

        (1/m) sum_v log(w K_kappa1(v) + (1 - w) K_kappa2(v)),  v in ``val`` (m, k),

    with the kernels centred on ``train`` (n, k). The grid is kappas x kappas x weights
    (w = 1 is the single-width estimate); only ``train`` and ``val`` are read. Raises
    ValueError for an unknown ``kind`` or a concentration <= 0.
    """
    lp = kde_log_density(kind, train, val, kappas)  # (K, m)
    best = (-math.inf, 0, 0, 1.0)
    for w in weights:
        if w >= 1.0:
            score = lp.mean(-1)
            j = int(score.argmax())
            cand = (float(score[j]), j, j, 1.0)
        else:
            mix = torch.logaddexp(
                lp[:, None, :] + math.log(w), lp[None, :, :] + math.log1p(-w)
            ).mean(-1)  # (K, K)
            j = int(mix.argmax())
            cand = (float(mix.flatten()[j]), j // len(kappas), j % len(kappas), w)
        if cand[0] > best[0]:
            best = cand
    score, i, j, w = best
    return KernelDensity(kind, train.double(), kappas[i], kappas[j], w, -score)
