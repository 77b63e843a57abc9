"""check_space(): the conformance suite any ManifoldSpace subclass can run on itself.

It draws seeded inputs from the space's own prior (plus pairs with x0 == x1 and pairs a
short step apart), evaluates one property at a time, and returns a :class:`CheckReport`
saying for each property whether it passed, failed or was skipped (and why), the largest
error, the tolerance and the worst input. With ``raise_on_fail`` a failure raises
:class:`SpaceCheckError` (a ``ValueError``) carrying the report.

Only the public ManifoldSpace API is used (tangent vectors may have a shape other than the
points, as for SO(3) in rotation-vector coordinates). A property whose operation raises
``NotImplementedError`` is skipped with that message as its reason; any other exception is
a failure of that property. Errors are relative where the quantity has a scale:
err / max(1, |reference|).

Tolerances are ``scale * base`` with base = 1e-6 (float64) or 3e-4 (float32) unless
``atol`` is given; the finite-difference target check (5-point stencil, h = 2e-4, always
evaluated in float64) uses a looser scale (truncation O(h^4) plus rounding O(eps / h)).
The Monte Carlo prior properties run in float64 whatever ``dtype`` is and are judged by
z-scores (see :mod:`manifold_fm.testing.properties.prior`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import torch

import manifold_fm.testing.properties.core as core
import manifold_fm.testing.properties.dimension as dims
import manifold_fm.testing.properties.metric as metric
import manifold_fm.testing.properties.prior as prior
from manifold_fm.spaces.base import ManifoldSpace
from manifold_fm.testing.context import Ctx
from manifold_fm.testing.report import FAILED, SKIPPED, CheckReport, PropertyResult, SpaceCheckError

__all__ = ["PROPERTIES", "check_space"]

PROPERTIES: dict[str, Callable[[Ctx], PropertyResult]] = {
    "dim_declared": dims.dim_declared,
    "prior_valid": core._prior_valid,
    "exp_log_inverse": core._exp_log,
    "projx_idempotent": core._projx_idempotent,
    "proju_idempotent": core._proju_idempotent,
    "tangent_basis_rank": dims.tangent_basis_rank,
    "point_error_order": dims.point_error_order,
    "path_on_manifold": core._path_on_manifold,
    "target_tangent": core._target_tangent,
    "target_finite_difference": core._target_fd,
    "step_on_geodesic": core._step_geodesic,
    "dist_metric": metric._dist,
    "dist_minimal": metric._dist_minimal,
    "log_prior_normalized": prior.log_prior_normalized,
    "prior_stein": prior.prior_stein,
    "loss_zero_at_target": metric._loss,
    "batch_shapes": metric._batch_shapes,
    "validate_errors": metric._validate_errors,
}


def check_space(
    space: ManifoldSpace,
    n: int = 64,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    atol: float | None = None,
    raise_on_fail: bool = True,
    device: torch.device | str = "cpu",
) -> CheckReport:
    """Run every conformance property on ``space`` with seeded inputs.

    Args:
        space: any :class:`ManifoldSpace` (subclasses included).
        n: number of point pairs (>= 8); the Monte Carlo prior checks use max(1024, 16 n)
            float64 samples.
        dtype: float32 or float64; tolerances scale with it.
        seed: seeds the torch generator all inputs come from.
        atol: overrides the base tolerance (1e-6 float64, 3e-4 float32).
        raise_on_fail: raise :class:`SpaceCheckError` when a property fails.
        device: where inputs are drawn and the space is evaluated.

    Returns:
        :class:`CheckReport` with one :class:`PropertyResult` per property.
    """
    if not isinstance(space, ManifoldSpace):
        raise TypeError(f"check_space needs a ManifoldSpace, got {type(space).__name__}")
    if not isinstance(n, int) or n < 8:
        raise ValueError(f"check_space: n must be an int >= 8, got {n!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"check_space: dtype must be float32 or float64, got {dtype}")
    results: list[PropertyResult] = []
    try:
        ctx = Ctx(space, n, dtype, seed, torch.device(device), atol)
    except Exception as e:  # no inputs: report why, with the checks that need none
        why = f"drawing inputs (sample_prior, proju, expmap) raised {type(e).__name__}: {e}"
        results.append(dims.dim_declared(SimpleNamespace(space=space)))
        results.append(PropertyResult("sample_inputs", FAILED, reason=why))
        return _finish(CheckReport(_describe(space), dtype, n, seed, results), raise_on_fail)
    for name, prop in PROPERTIES.items():
        try:
            results.append(prop(ctx))
        except NotImplementedError as e:
            results.append(PropertyResult(name, SKIPPED, reason=f"not implemented: {e}"))
        except Exception as e:  # a crash is a failure of that property, reported by name
            results.append(PropertyResult(name, FAILED, reason=f"raised {type(e).__name__}: {e}"))
    return _finish(CheckReport(_describe(space), dtype, n, seed, results), raise_on_fail)


def _describe(space: ManifoldSpace) -> str:
    """repr(space), or its class name when the repr itself is broken."""
    try:
        return repr(space)
    except Exception as e:  # a broken space must still get its report
        return f"{type(space).__name__} (repr raised {type(e).__name__})"


def _finish(report: CheckReport, raise_on_fail: bool) -> CheckReport:
    """Return ``report``, or raise :class:`SpaceCheckError` if asked and a property failed."""
    if raise_on_fail and not report.passed:
        raise SpaceCheckError(report)
    return report
