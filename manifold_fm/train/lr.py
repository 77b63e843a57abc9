"""Learning-rate schedules: linear warmup, then cosine decay to 0 or constant.

The factor is a pure function of the step, so a resumed run needs only the step count
(no scheduler object to pickle) and the value never depends on host/device timing.
"""

from __future__ import annotations

import math

__all__ = ["lr_factor"]


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the base LR for optimiser step ``step`` (1-based).

    warmup: f = step / warmup for step <= warmup.
    cosine: f = 0.5 (1 + cos(pi p)), p = (step - warmup) / (total - warmup) in [0, 1].
    constant: f = 1.
    """
    if warmup > 0 and step <= warmup:
        return step / warmup
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        span = max(total - warmup, 1)
        p = min(max(step - warmup, 0) / span, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * p))
    raise ValueError(f"unknown lr_schedule {schedule!r}; choose 'cosine' or 'constant'")
