"""Properties of check_space about the metric, the loss, batching and validation.

dist is a metric (symmetric, zero on the diagonal, the norm of the logmap, the triangle
inequality) and the logmap is the minimal one; the loss vanishes exactly at the target;
any batch shape works; validate names the offending row.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import torch

from manifold_fm.testing.context import Ctx, flat_norm
from manifold_fm.testing.report import FAILED, PropertyResult


def _dist(c: Ctx) -> PropertyResult:
    """dist(x, y) == dist(y, x), dist(x, x) == 0, dist(x, y) == |log_x y|_x."""
    d_xy = c.space.dist(c.x0, c.x1)
    e = (d_xy - c.space.dist(c.x1, c.x0)).abs() + c.space.dist(c.x0, c.x0).abs()
    reason = ""
    try:
        e = e + (d_xy - c.space.norm(c.x0, c.space.logmap(c.x0, c.x1))).abs()
    except NotImplementedError:
        reason = "no logmap: dist vs |log| not checked"
    err = e / d_xy.abs().clamp_min(1)
    return c.result("dist_metric", err, 10 * c.base, {"x": c.x0, "y": c.x1}, reason)


def _dist_minimal(c: Ctx) -> PropertyResult:
    """Triangle inequality, and the logmap is the minimal one (evaluated in float64).

    d(x, z) <= d(x, y) + d(y, z) for prior triples, and for y = exp_x(v) with |v|_x drawn
    up to 3x the median prior distance: d(x, y) <= |v|_x and |log_x y|_x <= |v|_x (a
    geodesic longer than the cut distance is not the shortest one). Errors are the
    violations relative to max(1, length); float64 because exp of a long tangent (SPD:
    eigenvalues e^|v|) is ill-conditioned in float32, and rounding is not what this checks.
    """
    sp = c.space
    x, y = sp.projx(c.x0.double()), sp.projx(c.x1.double())  # float64 points
    z = y.roll(1, 0)
    d_xz = sp.dist(x, z)
    tri = torch.relu(d_xz - sp.dist(x, y) - sp.dist(y, z)) / d_xz.clamp_min(1)
    scale = float(sp.dist(x, y.roll(2, 0)).median().clamp_min(1e-3))
    length = 3 * scale * torch.rand(c.n, generator=c.g, device=c.device, dtype=x.dtype)
    v = c.unit_tangent(x) * c.pad_t(length)
    far = sp.expmap(x, v)
    vn = sp.norm(x, v)
    over = torch.relu(sp.dist(x, far) - vn) + torch.relu(sp.norm(x, sp.logmap(x, far)) - vn)
    err = torch.maximum(tri, over / vn.clamp_min(1))
    inputs = {"x": x, "y": y, "z": z, "v": v}
    return c.result("dist_minimal", err, 1e-5, inputs, f"|v| up to {3 * scale:.3g}")


def _loss(c: Ctx) -> PropertyResult:
    """loss(target) == 0 and loss(target + delta) > 0 for a non-zero tangent delta."""
    ps = c.space.path(c.x0, c.x1, c.t)
    zero = c.space.loss(ps.target, ps)
    delta = c.tangent(ps.x_t, 1.0)
    pos = c.space.loss(ps.target + delta, ps)
    scale = c.space.inner(ps.x_t, ps.target, ps.target).abs().clamp_min(1)
    dn = flat_norm(delta, c.tn)
    err = zero.abs() / scale + torch.where((dn > 1e-3) & ~(pos > 0), 1.0, 0.0)
    inputs = {"x0": c.x0, "x1": c.x1, "t": c.t, "delta": delta}
    return c.result("loss_zero_at_target", err, 10 * c.base, inputs)


def _batch_shapes(c: Ctx) -> PropertyResult:
    """path, loss and step accept a (2, n/2) batch and agree with the flat batch."""
    m = 2 * (c.n // 2)
    shp = (2, m // 2)
    ev = c.space.event_shape
    x0, x1, t = c.x0[:m], c.x1[:m], c.t[:m]
    ps = c.space.path(x0.reshape(*shp, *ev), x1.reshape(*shp, *ev), t.reshape(shp))
    flat = c.space.path(x0, x1, t)
    loss = c.space.loss(ps.target, ps)
    stepped = c.space.step(ps.x_t, ps.target, ps.t, 0.01)
    shapes = {"loss": tuple(loss.shape), "step": tuple(stepped.shape[:2])}
    wrong = {k: v for k, v in shapes.items() if v != shp}
    if wrong:
        return PropertyResult(
            "batch_shapes", FAILED, reason=f"batch {shp} gave output batch shapes {wrong}"
        )
    flat_step = c.space.step(flat.x_t, flat.target, flat.t, 0.01)
    err = (
        flat_norm(ps.x_t.reshape(flat.x_t.shape) - flat.x_t, c.en)
        + flat_norm(ps.target.reshape(flat.target.shape) - flat.target, c.tn)
        + flat_norm(stepped.reshape(flat_step.shape) - flat_step, c.en)
    )
    return c.result("batch_shapes", err, 10 * c.base, {"x0": x0, "x1": x1, "t": t})


def _expect_value_error(fn: Callable[[], None], row: int | None) -> float:
    """0 if fn raises ValueError (naming ``row`` when given), else 1."""
    try:
        fn()
    except ValueError as e:
        if row is None or re.search(rf"\brow {row}\b", str(e)):
            return 0.0
        return 1.0
    return 1.0


def _validate_errors(c: Ctx) -> PropertyResult:
    """validate raises ValueError on a NaN row, an off-manifold row (naming it), bad shape/dtype."""
    k = c.n // 2
    sp = c.space
    fails = []
    x = c.x0.clone()
    x[k] = float("nan")
    if _expect_value_error(lambda: sp.validate(x), k):
        fails.append(f"NaN in row {k} not reported as 'row {k}'")
    tol = sp.tolerance(c.dtype)
    off = None
    for cand in (3 * c.x0 + 10, -c.x0, c.x0 + 1):
        if float(sp.point_error(cand[k : k + 1]).reshape(-1)[0]) > 10 * tol:
            off = c.x0.clone()
            off[k] = cand[k]
            break
    if off is not None and _expect_value_error(lambda: sp.validate(off), k):
        fails.append(f"off-manifold row {k} not reported as 'row {k}'")
    bad_shape = c.x0.reshape(c.n, -1)[:, :-1] if c.x0[0].numel() > 1 else c.x0.unsqueeze(-1)
    if _expect_value_error(lambda: sp.validate(bad_shape), None):
        fails.append(f"shape {tuple(bad_shape.shape)} accepted")
    if _expect_value_error(lambda: sp.validate(c.x0.round().long()), None):
        fails.append("integer dtype accepted")
    reason = "; ".join(fails) or ("" if off is not None else "every point is on the manifold")
    err = torch.tensor([float(len(fails))])
    return c.result("validate_errors", err, 0.0, {}, reason)
