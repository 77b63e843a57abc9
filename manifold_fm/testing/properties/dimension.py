"""Properties of check_space about dimension and the tangent/normal split of the embedding.

A wrong or missing ``dim`` makes the likelihood silently wrong (the divergence sums over
``dim`` basis vectors); an identity ``proju`` or a ``point_error`` that is always 0 makes
validation vacuous. These properties pin ``dim`` to the rank of ``proju`` and check that
``point_error`` grows quadratically along tangent directions and linearly along normal ones.
"""

from __future__ import annotations

import math

import torch

from manifold_fm.testing.context import Ctx, flat_norm
from manifold_fm.testing.report import FAILED, PASSED, PropertyResult

__all__ = ["dim_declared", "point_error_order", "tangent_basis_rank"]


def dim_declared(c: Ctx) -> PropertyResult:
    """``space.dim`` exists, is a positive int and is at most the tangent representation size."""
    dim = getattr(c.space, "dim", None)
    size = math.prod(c.space.tangent_shape)
    if dim is None:
        return PropertyResult("dim_declared", FAILED, reason="space.dim is not set")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 0 < dim <= size:
        why = f"space.dim = {dim!r}; need an int in [1, {size}] (tangent_shape size)"
        return PropertyResult("dim_declared", FAILED, reason=why)
    return PropertyResult("dim_declared", PASSED, 0.0, 0.0, reason=f"dim = {dim}")


def tangent_basis_rank(c: Ctx) -> PropertyResult:
    """rank(proju at x) == dim, and tangent_basis(x) is orthonormal and tangent.

    With e_k the standard basis of the tangent representation (T = numel(tangent_shape)),
    G_kl = <P e_k, P e_l>_x has exactly ``dim`` eigenvalues above 1e-10 times the largest,
    and B = tangent_basis(x), shape ``(n, dim, *tangent_shape)``, satisfies
    |<B_i, B_j>_x - delta_ij| and tangent_error(x, B_i) <= 1e-5. Evaluated in float64 at
    the checked points: rank and orthonormality are properties of the maths, while float32
    rounding of an ill-conditioned SPD metric (eigenvalue ratios kappa^2) reaches 1e-2.
    Error per row: the rank mismatch |rank - dim| plus the largest basis defect.
    """
    sp = c.space
    x = sp.projx(c.x0.double())  # the maths at float64 points, not float32 rounding
    tshape = tuple(sp.tangent_shape)
    size = math.prod(tshape)
    eye = torch.eye(size, device=x.device, dtype=x.dtype).reshape(size, *tshape)
    xe = x.unsqueeze(1).expand(c.n, size, *sp.event_shape)
    p = sp.proju(xe, eye.expand(c.n, size, *tshape))
    xg = x.reshape(c.n, 1, 1, *sp.event_shape).expand(c.n, size, size, *sp.event_shape)
    gram = sp.inner(xg, p.unsqueeze(2), p.unsqueeze(1))
    lam = torch.linalg.eigvalsh(0.5 * (gram + gram.transpose(-1, -2)))
    rank = (lam > 1e-10 * lam[..., -1:].clamp_min(1e-300)).sum(-1)
    mismatch = (rank - sp.dim).abs()
    b = sp.tangent_basis(x)
    xb = x.unsqueeze(1).expand(c.n, b.shape[1], *sp.event_shape)
    xbb = x.reshape(c.n, 1, 1, *sp.event_shape).expand(c.n, *b.shape[1:2] * 2, *sp.event_shape)
    gb = sp.inner(xbb, b.unsqueeze(2), b.unsqueeze(1))
    ortho = (gb - torch.eye(b.shape[1], device=x.device, dtype=x.dtype)).abs().amax((-1, -2))
    scale = flat_norm(b, c.tn).clamp_min(1)
    tang = (sp.tangent_error(xb, b) / scale).amax(-1)
    defect = torch.maximum(ortho, tang)
    if b.shape[1] != sp.dim:
        defect = defect + 1.0
    why = f"rank of proju {sorted(set(rank.tolist()))}, dim = {sp.dim}"
    return c.result("tangent_basis_rank", mismatch + defect, 1e-5, {"x": x}, why)


def point_error_order(c: Ctx) -> PropertyResult:
    """point_error(x + eps a) = O(eps^2) along tangent a, >= O(eps) along normal n.

    a = to_ambient_velocity(x, u) for a unit tangent u, n = z - to_ambient(from_ambient(z))
    for an ambient Gaussian z, both scaled to ambient norm 1; eps = 1e-4 (float64) or 1e-2
    (float32). With threshold eps^1.5 (geometric mean of the two orders) the median over
    rows of point_error(x + eps a) must be below it and, when codim = numel(event_shape) -
    dim > 0, the median of point_error(x + eps n) above eps^1.5 / s, s the median of
    max(1, |x|): a point_error relative to the point's size (hyperboloid, SPD) shrinks a
    normal step by s. Medians: a few rows may cross a chart boundary (a torus angle near
    0). codim > 0 with no normal component at all fails too (proju keeps every direction).
    Error: the larger of median_t / eps^1.5 and (eps^1.5 / s) / median_n; tolerance 1.
    """
    sp = c.space
    x = c.x0
    eps = 1e-4 if x.dtype == torch.float64 else 1e-2
    thr = eps**1.5
    a = sp.to_ambient_velocity(x, c.unit_tangent(x))
    a = a / c.pad_x(flat_norm(a, c.en).clamp_min(1e-30))
    med_t = float(sp.point_error(x + eps * a).median())
    err = med_t / thr
    codim = math.prod(sp.event_shape) - sp.dim
    why = f"median tangent error {med_t:.2e}, threshold {thr:.1e}"
    if codim > 0:
        z = c.rand(x.shape)
        nrm = z - sp.to_ambient_velocity(x, sp.from_ambient_velocity(x, z))
        size = flat_norm(nrm, c.en)
        if float(size.median()) < 1e-3 * float(flat_norm(z, c.en).median()):
            why = f"codim {codim} but proju/from_ambient_velocity remove no normal component"
            return PropertyResult("point_error_order", FAILED, math.inf, 1.0, {"x": x[0]}, why)
        nhat = nrm / c.pad_x(size.clamp_min(1e-30))
        med_n = float(sp.point_error(x + eps * nhat).median())
        thr_n = thr / float(flat_norm(x, c.en).clamp_min(1).median())
        err = max(err, thr_n / max(med_n, 1e-300))
        why += f"; median normal error {med_n:.2e} (codim {codim})"
    else:
        why += "; codim 0, no normal direction"
    return c.result("point_error_order", torch.tensor([err]), 1.0, {}, why)
