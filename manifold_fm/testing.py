"""check_space(): the conformance suite any ManifoldSpace subclass can run on itself.

It draws seeded inputs from the space's own prior (plus pairs with x0 == x1 and pairs a
short step apart), evaluates one property at a time, and returns a :class:`CheckReport`
saying for each property whether it passed, failed or was skipped (and why), the largest
error, the tolerance and the worst input. With ``raise_on_fail`` a failure raises
:class:`SpaceCheckError` (a ``ValueError``) carrying the report.

Only the public ManifoldSpace API is used (tangent vectors may have a shape other than the
points, as for SO(3) in rotation-vector coordinates). A property whose operation raises
``NotImplementedError`` is skipped with that message as its reason. Errors are relative
where the quantity has a scale: err / max(1, |reference|).

Tolerances are ``scale * base`` with base = 1e-6 (float64) or 1e-3 (float32) unless
``atol`` is given; the finite-difference target check (5-point stencil, h = 2e-4,
always evaluated in float64) uses a looser scale (truncation O(h^4) plus rounding O(eps / h)).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["CheckReport", "PropertyResult", "SpaceCheckError", "check_space"]

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class PropertyResult:
    """Outcome of one property.

    Attributes:
        name: property name (e.g. ``"exp_log_inverse"``).
        status: ``"passed"``, ``"failed"`` or ``"skipped"``.
        max_error: largest error over the inputs (None when skipped).
        tolerance: the threshold it was compared with.
        worst_input: the inputs of the worst row (tensors), for reproducing a failure.
        reason: why it was skipped or how it failed.
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


class SpaceCheckError(ValueError):
    """Raised by :func:`check_space` when a property fails; ``.report`` holds the details."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        names = ", ".join(r.name for r in report.failed)
        super().__init__(f"{len(report.failed)} properties failed ({names}):\n{report}")


# -- helpers ------------------------------------------------------------------------------
def _flat_norm(v: Tensor, ndim: int) -> Tensor:
    """Euclidean norm over the last ``ndim`` dims."""
    return v.flatten(start_dim=v.dim() - ndim).norm(dim=-1) if ndim else v.abs()


class _Ctx:
    """Shared inputs and helpers of one check run."""

    def __init__(self, space, n, dtype, seed, device, atol):
        self.space, self.n, self.dtype, self.device = space, n, dtype, device
        self.g = torch.Generator(device=device).manual_seed(seed)
        f64 = dtype == torch.float64
        self.base = atol if atol is not None else (1e-6 if f64 else 1e-3)
        self.fd_h = 2e-4  # the difference quotient is taken in float64
        self.en = space.event_ndim
        self.tn = len(space.tangent_shape)
        kw = {"generator": self.g, "device": device, "dtype": dtype}
        self.x0 = space.sample_prior(n, **kw)
        x1 = space.sample_prior(n, **kw)
        # edge cases: the last quarter of pairs are equal, the one before a short step apart
        q = max(n // 4, 1)
        x1[n - q :] = self.x0[n - q :]
        near = self._tangent(self.x0[n - 2 * q : n - q], 1e-3)
        x1[n - 2 * q : n - q] = space.expmap(self.x0[n - 2 * q : n - q], near)
        self.x1 = x1
        self.t = 0.05 + 0.9 * torch.rand(n, generator=self.g, device=device, dtype=dtype)

    def rand(self, shape) -> Tensor:
        return torch.randn(shape, generator=self.g, device=self.device, dtype=self.dtype)

    def _tangent(self, x: Tensor, scale: float) -> Tensor:
        """Random tangent vectors at ``x`` (projected Gaussians), shape batch + tangent_shape."""
        v = self.rand(self.space.batch_shape(x) + self.space.tangent_shape)
        return scale * self.space.proju(x, v)

    def point_gap(self, a: Tensor, b: Tensor) -> Tensor:
        """dist(a, b) if the space has one, else the ambient norm of a - b."""
        try:
            return self.space.dist(a, b)
        except NotImplementedError:
            return _flat_norm(a - b, self.en)

    def result(self, name, err: Tensor, tol: float, inputs: dict[str, Tensor], reason=""):
        err = err.detach().reshape(-1)
        bad = ~torch.isfinite(err)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            worst = {k: v[i].detach().cpu() for k, v in inputs.items()}
            why = f"non-finite error at row {i}"
            return PropertyResult(name, FAILED, math.inf, tol, worst, why)
        i = int(err.argmax())
        e = float(err[i])
        worst = {k: v[i].detach().cpu() for k, v in inputs.items()}
        status = PASSED if e <= tol else FAILED
        return PropertyResult(name, status, e, tol, worst, reason)


# -- properties -----------------------------------------------------------------------------
def _prior_valid(c: _Ctx) -> PropertyResult:
    """Prior samples pass validate() and are finite."""
    err = c.space.point_error(c.x0)
    try:
        c.space.validate(c.x0)
    except ValueError as e:
        r = c.result("prior_valid", err, c.space.tolerance(c.dtype), {"x": c.x0})
        r.status, r.reason = FAILED, f"validate raised: {e}"
        return r
    return c.result("prior_valid", err, c.space.tolerance(c.dtype), {"x": c.x0})


def _exp_log(c: _Ctx) -> PropertyResult:
    """exp_x(log_x(y)) == y."""
    y = c.space.expmap(c.x0, c.space.logmap(c.x0, c.x1))
    err = c.point_gap(y, c.x1)
    return c.result("exp_log_inverse", err, 10 * c.base, {"x": c.x0, "y": c.x1})


def _projx_idempotent(c: _Ctx) -> PropertyResult:
    """projx(x) == x on the manifold and projx(projx(z)) == projx(z) for nearby z."""
    z = c.x0 + 0.1 * c.rand(c.x0.shape)
    pz = c.space.projx(z)
    e1 = _flat_norm(c.space.projx(pz) - pz, c.en) / _flat_norm(pz, c.en).clamp_min(1)
    e2 = _flat_norm(c.space.projx(c.x0) - c.x0, c.en) / _flat_norm(c.x0, c.en).clamp_min(1)
    return c.result("projx_idempotent", torch.maximum(e1, e2), 10 * c.base, {"x": c.x0, "z": z})


def _proju_idempotent(c: _Ctx) -> PropertyResult:
    """proju(x, proju(x, v)) == proju(x, v)."""
    v = c.rand(c.x0.shape[:1] + c.space.tangent_shape)
    pv = c.space.proju(c.x0, v)
    err = _flat_norm(c.space.proju(c.x0, pv) - pv, c.tn) / _flat_norm(pv, c.tn).clamp_min(1)
    return c.result("proju_idempotent", err, 10 * c.base, {"x": c.x0, "v": v})


def _path_on_manifold(c: _Ctx) -> PropertyResult:
    """x_t of the path lies on the manifold."""
    ps = c.space.path(c.x0, c.x1, c.t)
    err = c.space.point_error(ps.x_t)
    inputs = {"x0": c.x0, "x1": c.x1, "t": c.t}
    return c.result("path_on_manifold", err, c.space.tolerance(c.dtype), inputs)


def _target_tangent(c: _Ctx) -> PropertyResult:
    """The path target lies in the tangent space at x_t (tangent_error)."""
    ps = c.space.path(c.x0, c.x1, c.t)
    scale = _flat_norm(ps.target, c.tn).clamp_min(1)
    err = c.space.tangent_error(ps.x_t, ps.target) / scale
    return c.result("target_tangent", err, 10 * c.base, {"x0": c.x0, "x1": c.x1, "t": c.t})


def _target_fd(c: _Ctx) -> PropertyResult:
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
    err = _flat_norm(fd - ps.target.double(), c.tn) / _flat_norm(fd, c.tn).clamp_min(1)
    tol = (100 if c.dtype == torch.float64 else 10) * c.base
    inputs = {"x0": c.x0, "x1": c.x1, "t": c.t}
    return c.result("target_finite_difference", err, tol, inputs, reason)


def _step_geodesic(c: _Ctx) -> PropertyResult:
    """step(x0, log_{x0} x1, 0, s) == interpolate(x0, x1, s)[0] (unit-time geodesic)."""
    s = torch.rand(c.n, generator=c.g, device=c.device, dtype=c.dtype)
    v = c.space.logmap(c.x0, c.x1)
    y = c.space.step(c.x0, v, torch.zeros_like(s), s)
    ref = c.space.interpolate(c.x0, c.x1, s)[0]
    err = c.point_gap(y, ref)
    return c.result("step_on_geodesic", err, 10 * c.base, {"x0": c.x0, "x1": c.x1, "s": s})


def _dist(c: _Ctx) -> PropertyResult:
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


def _log_prior_normalized(c: _Ctx) -> PropertyResult:
    """Monte Carlo: integral of exp(log_prior) over the manifold is 1 (finite volume only).

    With a uniform sampler: mean_u[p(u)] * Vol ~ 1. Otherwise mean_p[1 / p(x)] / Vol ~ 1
    (E_p[1/p] = Vol). Tolerance: 5 standard errors of the estimate plus ``base``.
    """
    vol = c.space.volume
    if not math.isfinite(vol):
        return PropertyResult("log_prior_normalized", SKIPPED, reason="infinite volume")
    m = 16 * c.n
    kw = {"generator": c.g, "device": c.device, "dtype": torch.float64}
    uniform = getattr(c.space, "random_uniform", None)
    try:
        if uniform is None:
            raise NotImplementedError("no random_uniform")
        u = uniform(m, **kw)
        vals = torch.exp(c.space.log_prior(u).double() + math.log(vol))
        how = "mean over uniform samples of p * Vol"
    except NotImplementedError:
        u = c.space.sample_prior(m, **kw)
        vals = torch.exp(-c.space.log_prior(u).double() - math.log(vol))
        how = "mean over prior samples of 1 / (p * Vol)"
    est = vals.mean()
    se = float(vals.std() / math.sqrt(m))
    tol = 5 * se + max(c.base, 1e-6 if c.dtype == torch.float64 else 1e-4)
    err = (est - 1).abs().reshape(1)
    r = c.result("log_prior_normalized", err, tol, {}, f"{how}, {m} samples, se={se:.2e}")
    return r


def _loss(c: _Ctx) -> PropertyResult:
    """loss(target) == 0 and loss(target + delta) > 0 for a non-zero tangent delta."""
    ps = c.space.path(c.x0, c.x1, c.t)
    zero = c.space.loss(ps.target, ps)
    delta = c._tangent(ps.x_t, 1.0)
    pos = c.space.loss(ps.target + delta, ps)
    scale = c.space.inner(ps.x_t, ps.target, ps.target).abs().clamp_min(1)
    dn = _flat_norm(delta, c.tn)
    err = zero.abs() / scale + torch.where((dn > 1e-3) & ~(pos > 0), 1.0, 0.0)
    inputs = {"x0": c.x0, "x1": c.x1, "t": c.t, "delta": delta}
    return c.result("loss_zero_at_target", err, 10 * c.base, inputs)


def _batch_shapes(c: _Ctx) -> PropertyResult:
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
        _flat_norm(ps.x_t.reshape(flat.x_t.shape) - flat.x_t, c.en)
        + _flat_norm(ps.target.reshape(flat.target.shape) - flat.target, c.tn)
        + _flat_norm(stepped.reshape(flat_step.shape) - flat_step, c.en)
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


def _validate_errors(c: _Ctx) -> PropertyResult:
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


PROPERTIES: dict[str, Callable[[_Ctx], PropertyResult]] = {
    "prior_valid": _prior_valid,
    "exp_log_inverse": _exp_log,
    "projx_idempotent": _projx_idempotent,
    "proju_idempotent": _proju_idempotent,
    "path_on_manifold": _path_on_manifold,
    "target_tangent": _target_tangent,
    "target_finite_difference": _target_fd,
    "step_on_geodesic": _step_geodesic,
    "dist_metric": _dist,
    "log_prior_normalized": _log_prior_normalized,
    "loss_zero_at_target": _loss,
    "batch_shapes": _batch_shapes,
    "validate_errors": _validate_errors,
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
        n: number of point pairs (>= 8); the MC normalisation check uses 16 n samples.
        dtype: float32 or float64; tolerances scale with it.
        seed: seeds the torch generator all inputs come from.
        atol: overrides the base tolerance (1e-6 float64, 1e-3 float32).
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
    ctx = _Ctx(space, n, dtype, seed, torch.device(device), atol)
    results = []
    for name, prop in PROPERTIES.items():
        try:
            results.append(prop(ctx))
        except NotImplementedError as e:
            results.append(PropertyResult(name, SKIPPED, reason=f"not implemented: {e}"))
        except Exception as e:  # a crash is a failure of that property, reported by name
            results.append(PropertyResult(name, FAILED, reason=f"raised {type(e).__name__}: {e}"))
    report = CheckReport(repr(space), dtype, n, seed, results)
    if raise_on_fail and not report.passed:
        raise SpaceCheckError(report)
    return report
