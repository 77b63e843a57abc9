"""Per-direction Stein fields of ``prior_stein``: every tangent direction at the prior's centre.

Stein's identity. For a C^1 tangent field v whose flux p v vanishes at infinity (or has
compact support) and with E_p|A_p v| finite,

    E_p[A_p v] = 0,   A_p v = <grad log p, v> + div v = div(p v) / p,

because the integral of div(p v) over the manifold vanishes (divergence theorem). If the
sampler draws from q instead of p (smooth, positive on the support of v), integrating
div(q v) by parts gives

    E_q[A_p v] = E_q[<grad log p - grad log q, v>],

so a field sees the score difference delta = grad log(p / q) only through <delta, v>,
weighted by q. Radial fields (v = w log_x y) and a couple of constant fields average the
score difference over all directions: a sampler that is wrong along one direction only
(one axis of a Gaussian narrowed, one torus angle concentrated) moves their mean by a
fraction of what it moves a field along that direction, and they can miss it.

The frame. Anchor y: the Frechet mean of the fit sample (gradient descent with step
halving from its point of largest log_prior): the centre of a unimodal prior, any point of
a uniform one (an anchor 0.85 off the centre of an 8-dim wrapped normal on the Poincare
ball cuts the z-score of a mis-scaled axis 2-3 fold).
Orthonormal directions b_1..b_d of T_y M: ``tangent_basis`` rotated onto the principal
axes of the fit sample's normal coordinates (a spread that is wrong along one direction is
a principal axis of the sampler's law, so its mismatch lands on one diagonal entry below
instead of being spread over d^2 of them). Normal coordinates xi_j(x) = <b_j, log_y x>_y,
scaled by s_j = rms of xi_j over the fit sample. The coordinate fields

    u_i(x) = (log_x exp_y(log_y x + h b_i) - log_x exp_y(log_y x - h b_i)) / (2 h),

h = 1e-3 min_j s_j: the coordinate vector field d/dxi_i of the chart exp_y up to O(h^2)
(an exact Stein field in its own right: smooth wherever log_y is). The C^2 bump
w(x) = (1 - |xi|^8 / r^8)^3_+, r = min(3 median |xi|, 0.9 cut radius at y) (probed as in
:meth:`Ctx.cut_radius`, refined), vanishes before the cut locus, where log_y stops being
smooth; it is flat near y (on the 3-torus a concentrated angle gets 1.6 times the z-score
that (1 - |xi|^2 / r^2)^3, whose weight sits near the anchor, gives it). Spaces without
logmap or dist (embedded, e.g. Stiefel) use ambient coordinates xi_j(x) = <A_j, x - y>_F / |A_j|^2,
A_j = to_ambient_velocity(y, b_j), the fields u_i = a_i / sqrt(1 + |a_i|_x^2) with
a_i(x) = from_ambient_velocity(x, A_i) (bounded even where the metric blows up), and w = 1.
The fit sample is drawn apart from the evaluation sample, so given it the fields are fixed
and the identity holds exactly for each.

The fields (d = dim; 2 d + d^2 of them):

* ``axis_i`` = w u_i: a shift of q along b_i;
* ``lin_i_j`` = w (xi_j / s_j) u_i, all i, j: the linear fields in normal coordinates;
* ``quad_i`` = w (xi_i / s_i)^2 u_i: a skew of q along b_i.

Why they are complete for anisotropic mismatches. In normal coordinates div d/dxi_i =
d_i log J (J: the volume density of exp_y), so A_p(phi d/dxi_i) = phi d_i log p~ + d_i phi
with p~(xi) = p(exp_y xi) J(xi), the density of the coordinates: the fields run Stein's
test on the law of xi = log_y x, whatever the chart or embedding (the Poincare ball and
the hyperboloid, isometric, get z-scores of the same law). For p~ = N(0, S_p) and
q~ = N(0, S_q) (a wrapped normal at y has an exactly Gaussian p~),
A_p(xi_j d/dxi_i) = delta_ij - (S_p^-1 xi)_i xi_j, so the Stein matrix
M_ij = E_q[A_p(xi_j d/dxi_i)] = (I - S_p^-1 S_q)_ij vanishes only when S_q = S_p: every
covariance mismatch, along any direction, moves some entry, and {xi_j d/dxi_i} spans all
linear fields whatever the basis. (The bump perturbs M smoothly; under p it stays 0.) One
principal axis of a standard Gaussian scaled by sigma gives M_ii = 1 - sigma^2 with
standard deviation sqrt(2) sigma^2 per sample: |z| ~ sqrt(m) |1 - sigma^2| / (sqrt(2)
sigma^2), 20 for sigma = 3 and 68 for sigma = 1/2 (m = 1024), while a radial field sums
the d diagonal entries and their noise: sqrt(m) |1 - sigma^2| / sqrt(2 sigma^4 + 2 (d - 1)),
7.5 for sigma = 1/2 and d = 6. Limitation: the fields see only the bump's ball; a uniform
prior on a product of compact factors (tori, SE(3)^n with Haar rotations) has much of its
mass outside it (the reason line says how many rows were inside).

Computation (no loop over fields): with T_i = A_p(w u_i) = w (<grad log p, u_i> + div u_i)
+ u_i(w) and the product rule A_p(f v) = f A_p v + v(f) for a scalar f,

    A_p(w phi u_i) = phi T_i + w u_i(phi).

div u_i is the library divergence (:class:`~manifold_fm.solvers.divergence.DivergenceField`, all
d fields in one call on d copies of the rows); <grad log p, u_i>, u_i(xi_j) and u_i(w)
are central differences along t -> exp_x(t u_i), step 1e-5 / |u_i|_x (float64). Cost: one
divergence call on d m rows (the coordinate field costs three logmap and two expmap per
row) and 2 d m evaluations of log_prior and logmap, whatever the number of test functions;
check_space (n = 64, one CPU thread) went from 0.13 s to 0.86 s on Euclidean((2, 3, 3))
(d = 18) and from 0.48 s to 1.8 s on SPD(3) (d = 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from manifold_fm.solvers.divergence import DivergenceField
from manifold_fm.testing.context import Ctx

__all__ = ["AxisFrame", "axis_frame", "axis_stein_integrands"]

#: size of the fit sample that sets the anchor, the scales and the bump radius
FIT = 256
#: at most this many Frechet-mean steps to the anchor
MEAN_STEPS = 30
#: step of the central difference that defines the coordinate fields, times min_j s_j
COORD_STEP = 1e-3


@dataclass
class AxisFrame:
    """Anchor, directions and coordinates of the per-direction fields (float64).

    Attributes:
        anchor: y, shape ``event_shape``.
        ambient: A_i = to_ambient_velocity(y, b_i), shape ``(dim, *event_shape)``.
        basis: b_i, shape ``(dim, *tangent_shape)``.
        scale: s_j, rms of xi_j over the fit sample, shape ``(dim,)``.
        radius: bump radius r (``math.inf``: no bump, spaces without logmap).
        normal: whether xi are normal coordinates (else ambient ones).
    """

    anchor: Tensor
    ambient: Tensor
    basis: Tensor
    scale: Tensor
    radius: float
    normal: bool

    def coords(self, c: Ctx, x: Tensor) -> Tensor:
        """xi(x), shape ``(m, dim)`` for ``x`` of shape ``(m, *event_shape)``."""
        sp, d, m = c.space, self.basis.shape[0], x.shape[0]
        if not self.normal:
            diff = (x - self.anchor).flatten(1)
            amb = self.ambient.flatten(1)
            return diff @ amb.T / (amb * amb).sum(-1)
        lg = sp.logmap(self.anchor.expand_as(x), x)
        yk = self.anchor.expand(m, d, *self.anchor.shape)
        lgk = lg.unsqueeze(1).expand(m, d, *lg.shape[1:])
        return sp.inner(yk, lgk, self.basis.expand(m, *self.basis.shape))

    def bump(self, xi: Tensor) -> Tensor:
        """w = (1 - |xi|^8 / r^8)^3_+ (1 without a bump), shape ``(m,)``."""
        if math.isinf(self.radius):
            return torch.ones_like(xi[:, 0])
        s2 = (xi * xi).sum(-1) / self.radius**2
        return torch.relu(1 - s2**4) ** 3


def axis_frame(c: Ctx) -> AxisFrame:
    """The frame of the per-direction fields, from a fresh fit sample of ``FIT`` prior draws.

    Normal coordinates where the space has logmap and dist; ambient ones (at the fit point
    of largest log_prior) where either raises NotImplementedError.
    """
    sp = c.space
    fit = sp.sample_prior(FIT, generator=c.g, device=c.device, dtype=torch.float64)
    y = fit[sp.log_prior(fit).argmax()]
    try:
        return _frame_at(c, _frechet_mean(c, y, fit), fit, normal=True)
    except NotImplementedError:
        return _frame_at(c, y, fit, normal=False)


def _frame_at(c: Ctx, y: Tensor, fit: Tensor, normal: bool) -> AxisFrame:
    """Frame at anchor ``y``: principal axes, scales and bump radius of ``fit``."""
    sp = c.space
    basis = sp.tangent_basis(y.unsqueeze(0))[0]
    d = basis.shape[0]
    ambient = sp.to_ambient_velocity(y.expand(d, *y.shape), basis)
    frame = AxisFrame(y, ambient, basis, torch.ones(d, dtype=y.dtype), math.inf, normal)
    # principal axes of the fit sample: a spread wrong along one direction shows there
    _, vecs = torch.linalg.eigh(torch.cov(frame.coords(c, fit).T).reshape(d, d))
    frame.basis = torch.einsum("jk,j...->k...", vecs, basis)
    frame.ambient = torch.einsum("jk,j...->k...", vecs, ambient)
    xi = frame.coords(c, fit)
    frame.scale = xi.pow(2).mean(0).sqrt().clamp_min(1e-12)
    if normal:
        med = float(xi.norm(dim=-1).median())
        frame.radius = min(3 * med, 0.9 * _cut_radius(c, y, med))
    return frame


def _frechet_mean(c: Ctx, y: Tensor, fit: Tensor) -> Tensor:
    """Gradient descent on F(y) = mean d(y, fit)^2 / 2 from ``y``: y <- exp_y(a mean log_y fit)
    with a halved until F decreases (a = 1 overshoots where the curvature is negative and
    the spread wide: on an 8-dim Poincare ball it oscillates away from the centre), at most
    ``MEAN_STEPS`` steps, stopping when |mean log_y fit| < 1e-3 rms |log_y fit|."""
    sp = c.space

    def logs(p: Tensor) -> tuple[Tensor, float]:
        lg = sp.logmap(p.expand_as(fit), fit)
        return lg, float(sp.norm(p.expand_as(fit), lg).pow(2).mean())

    lg, f = logs(y)
    for _ in range(MEAN_STEPS):
        grad = lg.mean(0)
        if float(sp.norm(y, grad)) < 1e-3 * f**0.5:
            break
        for a in (1.0, 0.5, 0.25, 0.125, 0.0625):
            y_new = sp.expmap(y, a * grad)
            lg_new, f_new = logs(y_new)
            if f_new < f:
                y, lg, f = y_new, lg_new, f_new
                break
        else:
            break
    return y


def _cut_radius(c: Ctx, y: Tensor, scale: float) -> float:
    """:meth:`Ctx.cut_radius` refined 8-fold: its probe lengths are 2^(1/4) apart, which
    can cost 16% of the radius (and a third of the bump's volume on S^2); here the same
    test is repeated at 2^(k/32) times its answer, k = 0..8, along the basis and 8 new
    random unit directions (one coarse step back if one of those fails at once)."""
    r0 = c.cut_radius(y, scale)
    if math.isinf(r0) or r0 <= 0:
        return r0
    sp = c.space
    dirs = torch.cat([sp.tangent_basis(y.unsqueeze(0))[0], c.unit_tangent(y.expand(8, *y.shape))])
    ts = r0 * 2.0 ** (torch.arange(0, 9, dtype=torch.float64) / 32)
    k, m = dirs.shape[0], ts.shape[0]
    v = dirs.unsqueeze(1) * ts.reshape(1, m, *([1] * c.tn)).to(dirs)
    pts = sp.expmap(y.expand(k, m, *y.shape), v)
    ok = (sp.dist(y.expand(k, m, *y.shape), pts) >= ts.to(y) * (1 - 1e-6)).all(0)
    if bool(ok.all()):
        return float(ts[-1])
    j = int((~ok).nonzero()[0, 0])
    return float(ts[j - 1]) if j > 0 else r0 * 2.0**-0.25  # new directions: one step back


def axis_stein_integrands(c: Ctx, x: Tensor, frame: AxisFrame) -> tuple[dict[str, Tensor], int]:
    """Stein integrands of the ``axis_i``, ``lin_i_j`` and ``quad_i`` fields at each row.

    Returns ({name: (m,) values, 0 outside the bump}, number of rows inside the bump).
    """
    sp, m, d = c.space, x.shape[0], frame.basis.shape[0]
    xi_all = frame.coords(c, x)
    rows = frame.bump(xi_all) > 0
    xs, xi = x[rows], xi_all[rows]
    k = xs.shape[0]
    if k == 0:
        zero = torch.zeros(m, dtype=x.dtype, device=x.device)
        names = [f"axis_{i}" for i in range(d)] + [f"quad_{i}" for i in range(d)]
        names += [f"lin_{i}_{j}" for i in range(d) for j in range(d)]
        return {n: zero for n in names}, 0

    # d copies of each row: row (a, i) carries the field u_i
    def rep(v: Tensor) -> Tensor:
        return v.unsqueeze(1).expand(v.shape[0], d, *v.shape[1:]).reshape(-1, *v.shape[1:])

    xr = rep(xs)
    if frame.normal:
        anchor = frame.anchor.expand_as(xr)
        hc = COORD_STEP * float(frame.scale.min())
        step = hc * frame.basis.expand(k, *frame.basis.shape).reshape(k * d, *frame.basis.shape[1:])

        def field(y: Tensor, t) -> Tensor:  # central difference of the chart exp_y
            lg = sp.logmap(anchor, y)
            ahead, back = sp.expmap(anchor, lg + step), sp.expmap(anchor, lg - step)
            return (sp.logmap(y, ahead) - sp.logmap(y, back)) / (2 * hc)

    else:
        amb = frame.ambient.expand(k, *frame.ambient.shape).reshape(-1, *frame.ambient.shape[1:])

        def field(y: Tensor, t) -> Tensor:  # a_i / sqrt(1 + |a_i|^2)
            a = sp.from_ambient_velocity(y, amb)
            return a / c.pad_t((1 + sp.inner(y, a, a)).sqrt())

    div_field = DivergenceField(field, sp, k * d)
    u, div = div_field.velocity_and_divergence(xr, 0.0)
    u, div = u.detach(), div.detach()
    un = sp.norm(xr, u)
    h = 1e-5 / un.clamp_min(1e-12)
    hu = c.pad_t(h) * u
    up, down = sp.expmap(xr, hu), sp.expmap(xr, -hu)
    moving = un > 0

    def along(f_up: Tensor, f_down: Tensor) -> Tensor:
        hh = h.reshape(h.shape + (1,) * (f_up.dim() - 1))
        diff = (f_up - f_down) / (2 * hh)
        return torch.where(moving.reshape(hh.shape), diff, torch.zeros_like(diff))

    score = along(sp.log_prior(up), sp.log_prior(down)).reshape(k, d)
    xi_up, xi_down = frame.coords(c, up), frame.coords(c, down)
    dxi = along(xi_up, xi_down).reshape(k, d, d)  # [a, i, j] = u_i(xi_j)
    dw = along(frame.bump(xi_up), frame.bump(xi_down)).reshape(k, d)  # u_i(w)
    w = frame.bump(xi)
    t = w.unsqueeze(1) * (score + div.reshape(k, d)) + dw  # A_p(w u_i)
    zeta = xi / frame.scale
    lin = zeta.unsqueeze(1) * t.unsqueeze(2) + w[:, None, None] * dxi / frame.scale
    diag = torch.diagonal(dxi, dim1=1, dim2=2) / frame.scale
    quad = zeta * zeta * t + 2 * w.unsqueeze(1) * zeta * diag

    def full(v: Tensor) -> Tensor:
        o = torch.zeros((m, *v.shape[1:]), dtype=v.dtype, device=v.device)
        o[rows] = v
        return o

    t, quad, lin = full(t), full(quad), full(lin)
    vals = {f"axis_{i}": t[:, i] for i in range(d)}
    vals.update({f"quad_{i}": quad[:, i] for i in range(d)})
    vals.update({f"lin_{i}_{j}": lin[:, i, j] for i in range(d) for j in range(d)})
    return vals, k
