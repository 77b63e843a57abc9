"""The geometric properties of check_space: maps invert each other, projections are
idempotent, the path stays on the manifold and its target is its time derivative.

Each property takes the run's :class:`~manifold_fm.testing.context.Ctx` and returns one
:class:`~manifold_fm.testing.report.PropertyResult`.
"""

from __future__ import annotations

import torch

from manifold_fm.testing.context import Ctx, flat_norm
from manifold_fm.testing.report import FAILED, PropertyResult


def _prior_valid(c: Ctx) -> PropertyResult:
    """Prior samples pass validate() and are finite."""
    err = c.space.point_error(c.x0)
    try:
        c.space.validate(c.x0)
    except ValueError as e:
        r = c.result("prior_valid", err, c.space.tolerance(c.dtype), {"x": c.x0})
        r.status, r.reason = FAILED, f"validate raised: {e}"
        return r
    return c.result("prior_valid", err, c.space.tolerance(c.dtype), {"x": c.x0})


def _exp_log(c: Ctx) -> PropertyResult:
    """exp_x(log_x(y)) == y."""
    y = c.space.expmap(c.x0, c.space.logmap(c.x0, c.x1))
    err = c.point_gap(y, c.x1)
    return c.result("exp_log_inverse", err, 10 * c.base, {"x": c.x0, "y": c.x1})


def _projx_idempotent(c: Ctx) -> PropertyResult:
    """projx(x) == x on the manifold and projx(projx(z)) == projx(z) for nearby z."""
    z = c.x0 + 0.1 * c.rand(c.x0.shape)
    pz = c.space.projx(z)
    e1 = flat_norm(c.space.projx(pz) - pz, c.en) / flat_norm(pz, c.en).clamp_min(1)
    e2 = flat_norm(c.space.projx(c.x0) - c.x0, c.en) / flat_norm(c.x0, c.en).clamp_min(1)
    return c.result("projx_idempotent", torch.maximum(e1, e2), 10 * c.base, {"x": c.x0, "z": z})


def _proju_idempotent(c: Ctx) -> PropertyResult:
    """proju(x, proju(x, v)) == proju(x, v)."""
    v = c.rand(c.x0.shape[:1] + c.space.tangent_shape)
    pv = c.space.proju(c.x0, v)
    err = flat_norm(c.space.proju(c.x0, pv) - pv, c.tn) / flat_norm(pv, c.tn).clamp_min(1)
    return c.result("proju_idempotent", err, 10 * c.base, {"x": c.x0, "v": v})


def _path_on_manifold(c: Ctx) -> PropertyResult:
    """x_t of the path lies on the manifold."""
    ps = c.space.path(c.x0, c.x1, c.t)
    err = c.space.point_error(ps.x_t)
    inputs = {"x0": c.x0, "x1": c.x1, "t": c.t}
    return c.result("path_on_manifold", err, c.space.tolerance(c.dtype), inputs)


def _target_tangent(c: Ctx) -> PropertyResult:
    """The path target lies in the tangent space at x_t (tangent_error)."""
    ps = c.space.path(c.x0, c.x1, c.t)
    scale = flat_norm(ps.target, c.tn).clamp_min(1)
    err = c.space.tangent_error(ps.x_t, ps.target) / scale
    return c.result("target_tangent", err, 10 * c.base, {"x0": c.x0, "x1": c.x1, "t": c.t})


def _target_fd(c: Ctx) -> PropertyResult:
    """target == d/dt x_t by the 5-point central difference of L(d) = log_{x_t} x_{t+d}.

    fd = (8 (L(h) - L(-h)) - (L(2h) - L(-2h))) / (12 h), truncation O(h^4), evaluated in
    float64 from the same inputs whatever ``dtype`` is checked (a float32 difference
    quotient cannot resolve paths with large curvature, e.g. the projected Stiefel
    interpolant near rank deficiency); the target itself is the one computed in ``dtype``.
    Spaces without a logmap use the ambient differences x_{t+d} - x_{t-d} instead.
    """
    h = c.fd_h
    ps = c.space.path(c.x0, c.x1, c.t)
    x0, x1, t = c.x0.double(), c.x1.double(), c.t.double()
    x_t = c.space.path(x0, x1, t).x_t
    pts = {d: c.space.path(x0, x1, t + d * h).x_t for d in (-2, -1, 1, 2)}
    reason = ""
    try:
        lg = {d: c.space.logmap(x_t, p) for d, p in pts.items()}
    except NotImplementedError as e:
        if c.space.tangent_shape != c.space.event_shape:
            raise
        lg = pts
        reason = f"no logmap ({e}); compared with the ambient difference"
    fd = (8 * (lg[1] - lg[-1]) - (lg[2] - lg[-2])) / (12 * h)
    err = flat_norm(fd - ps.target.double(), c.tn) / flat_norm(fd, c.tn).clamp_min(1)
    tol = (100 if c.dtype == torch.float64 else 10) * c.base
    inputs = {"x0": c.x0, "x1": c.x1, "t": c.t}
    return c.result("target_finite_difference", err, tol, inputs, reason)


def _step_geodesic(c: Ctx) -> PropertyResult:
    """step(x0, log_{x0} x1, 0, s) == interpolate(x0, x1, s)[0] (unit-time geodesic)."""
    s = torch.rand(c.n, generator=c.g, device=c.device, dtype=c.dtype)
    v = c.space.logmap(c.x0, c.x1)
    y = c.space.step(c.x0, v, torch.zeros_like(s), s)
    ref = c.space.interpolate(c.x0, c.x1, s)[0]
    err = c.point_gap(y, ref)
    return c.result("step_on_geodesic", err, 10 * c.base, {"x0": c.x0, "x1": c.x1, "s": s})
