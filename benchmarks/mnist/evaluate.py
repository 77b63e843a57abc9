"""The MNIST benchmark's measurements of a trained model: samples, NFE curve, guidance, bpd.

Every sample goes through :func:`manifold_fm.solvers.sample` and every likelihood through
:func:`manifold_fm.solvers.likelihood.log_prob`; this file only chunks the work, seeds it and
turns the results into figures. Unconditional samples are the class-conditional model's
null class (no ``label``: the UNet uses its null-class embedding, the one it learns from
the condition-dropped rows). Guidance follows ``space.guide``: v = v_u + w (v_c - v_u),
so w = 0 is the unconditional field, w = 1 the conditional one, w = 3 sharpened.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

from manifold_fm.conditioning import model_device
from manifold_fm.data.mnist import bits_per_dim
from manifold_fm.metrics.fid import accuracy, features, fid
from manifold_fm.solvers import log_prob, sample

__all__ = ["EVALS_PER_STEP", "bpd_estimate", "cond_accuracy", "draw", "nfe_curve"]

#: model evaluations per step of each fixed-step method
EVALS_PER_STEP = {"euler": 1, "midpoint": 2, "rk4": 4}


def _generator(model: nn.Module, seed: int) -> torch.Generator:
    """A generator on the model's device (prior draws and probes are made there)."""
    return torch.Generator(device=model_device(model) or "cpu").manual_seed(seed)


@torch.no_grad()
def draw(
    model: nn.Module,
    space,
    n: int,
    *,
    method: str,
    steps: int | None,
    seed: int,
    label: Tensor | None = None,
    guidance: float | None = None,
    chunk: int = 250,
    tol: float = 1e-4,
) -> tuple[Tensor, float]:
    """``n`` samples (n, 1, 28, 28) and the mean NFE per sample, in chunks of ``chunk``."""
    out, nfe = [], 0
    for k, lo in enumerate(range(0, n, chunk)):
        m = min(chunk, n - lo)
        dev = model_device(model)
        cond = None if label is None else {"label": label[lo : lo + m].to(dev)}
        res = sample(
            model,
            space,
            m,
            steps=steps,
            method=method,
            cond=cond,
            guidance_scale=guidance,
            generator=_generator(model, seed + k),
            atol=tol,
            rtol=tol,
        )
        out.append(res.x.float().cpu())
        nfe += res.nfe
    return torch.cat(out), nfe / max(1, len(out))


def nfe_curve(
    model,
    space,
    clf,
    train_feats: Tensor,
    *,
    n: int,
    nfes: list[int],
    seed: int,
    log=print,
) -> list[dict]:
    """FID of ``n`` unconditional samples against training features for euler, midpoint,
    rk4 at each NFE in ``nfes`` (steps = NFE / evaluations per step, same seed for all)
    and dopri5 (atol = rtol = 1e-4, its own NFE)."""
    rows = []
    runs = [(m, nfe // k) for m, k in EVALS_PER_STEP.items() for nfe in nfes if nfe // k >= 1]
    for method, steps in [*runs, ("dopri5", None)]:
        t0 = time.perf_counter()
        x, nfe = draw(model, space, n, method=method, steps=steps or 1, seed=seed)
        f = fid(features(clf, x), train_feats)
        rows.append(
            {
                "method": method,
                "steps": steps,
                "nfe": nfe,
                "fid": f,
                "wall_s": round(time.perf_counter() - t0, 2),
            }
        )
        log(f"  nfe curve: {method:<8} steps {steps!s:>4} nfe {nfe:6.1f} fid {f:8.3f}")
    return rows


def cond_accuracy(
    model,
    space,
    clf,
    *,
    per_class: int,
    scales: list[float],
    method: str,
    steps: int,
    seed: int,
    log=print,
) -> tuple[dict[str, float], dict[str, Tensor]]:
    """Classifier accuracy of class-conditional samples at each guidance scale, and the
    samples (``per_class`` of each class, grouped by class)."""
    label = torch.arange(10).repeat_interleave(per_class)
    acc, imgs = {}, {}
    for w in scales:
        x, _ = draw(
            model,
            space,
            label.numel(),
            method=method,
            steps=steps,
            seed=seed,
            label=label,
            guidance=float(w),
        )
        key = f"{w:g}"
        acc[key], imgs[key] = accuracy(clf, x, label), x
        log(f"  guidance w={key}: classifier accuracy {acc[key]:.3f}")
    return acc, imgs


def bpd_estimate(
    model, space, x: Tensor, *, steps: int, seed: int, chunk: int = 100
) -> tuple[float, float, int]:
    """Unconditional bits/dim of images ``x`` (n, 1, 28, 28) in [-1, 1]: mean, standard
    error over the n images, and NFE; rk4 with ``steps`` steps, Hutchinson divergence
    (one Rademacher probe per image)."""
    d = math.prod(space.event_shape)
    vals, nfe = [], 0
    for k, lo in enumerate(range(0, x.shape[0], chunk)):
        res = log_prob(
            model,
            space,
            x[lo : lo + chunk],
            steps=steps,
            method="rk4",
            divergence="hutchinson",
            generator=_generator(model, seed + k),
        )
        vals.append(bits_per_dim(-res.log_prob.double().cpu(), d))
        nfe += res.nfe
    b = torch.cat(vals)
    se = float(b.std() / math.sqrt(b.numel())) if b.numel() > 1 else float("nan")
    return float(b.mean()), se, nfe // len(vals)
