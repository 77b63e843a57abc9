"""Result types of :func:`manifold_fm.testing.check_space`: one result per property, a report.

Kept apart from the properties so that a user reading a failure only needs this file to
know what the fields mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from manifold_fm.errors import ManifoldFMError

__all__ = ["FAILED", "PASSED", "SKIPPED", "CheckReport", "PropertyResult", "SpaceCheckError"]

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class PropertyResult:
    """Outcome of one property.

    Attributes:
        name: property name (e.g. ``"exp_log_inverse"``).
        status: ``"passed"``, ``"failed"`` or ``"skipped"``.
        max_error: largest error over the inputs (None when skipped); for the Monte Carlo
            properties the largest |z-score|.
        tolerance: the threshold it was compared with.
        worst_input: the inputs of the worst row (tensors), for reproducing a failure.
        reason: why it was skipped or how it failed (z-scores, sample counts, ...).
    """

    name: str
    status: str
    max_error: float | None = None
    tolerance: float | None = None
    worst_input: dict[str, Tensor] = field(default_factory=dict)
    reason: str = ""

    def line(self) -> str:
        err = "" if self.max_error is None else f" max_error={self.max_error:.3e}"
        tol = "" if self.tolerance is None else f" tol={self.tolerance:.1e}"
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.status.upper():7s} {self.name}{err}{tol}{why}"


@dataclass
class CheckReport:
    """All property results of one :func:`check_space` run."""

    space: str
    dtype: torch.dtype
    n: int
    seed: int
    results: list[PropertyResult]

    @property
    def passed(self) -> bool:
        """True when no property failed (skips are allowed)."""
        return not self.failed

    @property
    def failed(self) -> list[PropertyResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def skipped(self) -> list[PropertyResult]:
        return [r for r in self.results if r.status == SKIPPED]

    def __getitem__(self, name: str) -> PropertyResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no property named {name!r}; have {[r.name for r in self.results]}")

    def __str__(self) -> str:
        head = f"check_space({self.space}, dtype={self.dtype}, n={self.n}, seed={self.seed})"
        body = []
        for r in self.results:
            body.append("  " + r.line())
            if r.status == FAILED and r.worst_input:
                for k, v in r.worst_input.items():
                    body.append(f"      {k} = {v.tolist()}")
        return "\n".join([head, *body])


class SpaceCheckError(ManifoldFMError, ValueError):
    """Raised by :func:`check_space` when a property fails; ``.report`` holds the details."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        names = ", ".join(r.name for r in report.failed)
        super().__init__(f"{len(report.failed)} properties failed ({names}):\n{report}")
