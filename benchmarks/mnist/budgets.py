"""The MNIST benchmark's budgets: model size, training, and evaluation sizes of each.

``cpu`` is the committed run (20 minutes of training on 2 threads); ``gpu`` a larger UNet
on one CUDA device; ``smoke`` a seconds-long end-to-end check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BUDGETS", "Budget"]


@dataclass(frozen=True)
class Budget:
    """One budget of the MNIST benchmark (read-only; ``model`` is never mutated).

    Training: ``model`` (UNet keywords), ``batch``, ``lr``, ``ema`` decay, ``amp``,
    ``device``, ``minutes`` of training (the step count comes from a timed probe of
    ``probe_steps`` steps), ``threads``. Judge: ``clf_epochs`` of the classifier on the
    first ``clf_images`` training images (None: all). Evaluation: ``n_fid`` samples for
    the FID, ``n_curve`` per point of the NFE curve at ``nfes``, ``per_class`` samples per
    class and guidance scale, ``n_bpd`` held-out images for bits/dim with rk4
    ``bpd_steps``, and the ``main`` (method, steps) of the samples.
    """

    model: Mapping[str, Any]
    batch: int
    lr: float
    ema: float
    amp: str
    device: str
    minutes: float
    probe_steps: int
    threads: int
    clf_epochs: int
    n_fid: int
    n_curve: int
    nfes: list[int]
    per_class: int
    n_bpd: int
    bpd_steps: int
    main: tuple[str, int]
    clf_images: int | None = None


_SMALL = {"base_channels": 16, "channel_mults": [1, 2, 4], "num_res_blocks": 1, "attn_heads": 4}
BUDGETS: dict[str, Budget] = {
    "cpu": Budget(
        model=_SMALL,
        batch=64,
        lr=2e-3,
        ema=0.999,
        amp="off",
        device="cpu",
        minutes=20.0,
        probe_steps=5,
        threads=2,
        clf_epochs=3,
        n_fid=1000,
        n_curve=128,
        nfes=[8, 16, 32, 64, 128],
        per_class=20,
        n_bpd=100,
        bpd_steps=128,
        main=("rk4", 8),
    ),
    "gpu": Budget(
        model={
            "base_channels": 64,
            "channel_mults": [1, 2, 2],
            "num_res_blocks": 2,
            "attn_heads": 4,
        },
        batch=256,
        lr=1e-3,
        ema=0.9995,
        amp="bf16",
        device="cuda",
        minutes=8.0,
        probe_steps=10,
        threads=8,
        clf_epochs=5,
        n_fid=1000,
        n_curve=500,
        nfes=[8, 16, 32, 64, 128],
        per_class=100,
        n_bpd=500,
        bpd_steps=128,
        main=("rk4", 16),
    ),
    "smoke": Budget(
        model={"base_channels": 8, "channel_mults": [1, 2], "num_res_blocks": 1, "attn_heads": 2},
        batch=16,
        lr=2e-3,
        ema=0.9,
        amp="off",
        device="cpu",
        minutes=0.1,
        probe_steps=2,
        threads=1,
        clf_epochs=1,
        clf_images=2000,
        n_fid=64,
        n_curve=16,
        nfes=[8],
        per_class=2,
        n_bpd=8,
        bpd_steps=2,
        main=("euler", 4),
    ),
}
