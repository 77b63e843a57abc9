"""Learning-rate schedules: linear warmup, then cosine decay to 0 or constant.

The factor is a pure function of the step, so a resumed run needs only the step count
(no scheduler object to pickle) and the value never depends on host/device timing.
:data:`LR_SCHEDULES` is the one list of schedule names (config validation and the CLI
read it).
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["LR_SCHEDULES", "lr_factor"]


def _cosine(p: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * p))


def _constant(p: float) -> float:
    return 1.0


#: schedule name -> factor f(p) after warmup, p = fraction of the post-warmup steps done
LR_SCHEDULES: dict[str, Callable[[float], float]] = {"cosine": _cosine, "constant": _constant}


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Multiplier of the base LR for optimiser step ``step`` (1-based).

    warmup: f = step / warmup for step <= warmup.
    cosine: f = 0.5 (1 + cos(pi p)), p = (step - warmup) / (total - warmup) in [0, 1].
    constant: f = 1.
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {schedule!r}; choose one of {list(LR_SCHEDULES)}")
    if warmup > 0 and step <= warmup:
        return step / warmup
    p = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return LR_SCHEDULES[schedule](p)
