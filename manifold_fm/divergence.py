"""Riemannian divergence of a learned velocity field on any ManifoldSpace.

With an orthonormal tangent basis b_1..b_d at x (``space.tangent_basis``) and
T_{y->x} the space's ``transport``::

    div v(x) = sum_i < b_i, d/ds [ T_{exp_x(s b_i) -> x} v(exp_x(s b_i)) ]_{s=0} >_x

For an embedded submanifold with the induced metric, T = proju and the bracket is the
Levi-Civita derivative P_x(Dv[b_i]); on flat spaces it is the ordinary divergence; on Lie
groups with left-trivialised tangents (T = identity) and a bi-invariant metric it is
sum_i E_i(w_i). Where ``transport`` is the true parallel transport (e.g. geoopt's ``transp``
on a conformal model), the derivative is the covariant one and the metric-volume term is
included. Hutchinson: z = sum_i eps_i b_i with fixed probes eps, div ~ mean_j <z_j, D[z_j]>.

All directions are evaluated in one batched forward-mode pass: the n points are repeated
k times (k = d for exact, k = n_probes for Hutchinson) and ``torch.func.jvp`` is taken
with respect to one scalar step size per row. This is the vectorised equivalent of
``vmap`` over directions and, unlike ``vmap``, tolerates data-dependent control flow in
models and spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.spaces.base import ManifoldSpace, pad_time

__all__ = ["DivergenceField", "hutchinson_probes"]


def hutchinson_probes(
    n: int,
    n_probes: int,
    dim: int,
    *,
    kind: str = "rademacher",
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Probe coefficients eps of shape ``(n, n_probes, dim)`` with E[eps eps^T] = I.

    ``kind``: 'rademacher' (+-1) or 'gaussian' (standard normal).
    """
    if int(n_probes) < 1:
        raise ValueError(f"n_probes must be a positive integer, got {n_probes!r}")
    shape = (n, int(n_probes), dim)
    if kind == "rademacher":
        bits = torch.randint(0, 2, shape, generator=generator, device=device)
        return (2 * bits - 1).to(dtype)
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    raise ValueError(f"probe kind must be 'rademacher' or 'gaussian', got {kind!r}")


class DivergenceField:
    """``field(x, t) -> v`` that also records div v(x, t) for each call.

    The velocity is the primal output of the same forward-mode pass, so one call costs one
    batched model evaluation on ``n * k`` rows. After each call, ``last_div`` holds the
    divergence (shape ``(n,)``); :attr:`divs` collects every call since :meth:`reset`, so
    the fixed-step solvers of :mod:`manifold_fm.solvers` can be reused unchanged.

    Args:
        model: ``model(x, t, **cond) -> tangent output``.
        space: the manifold.
        n: number of points the field will be called with.
        probes: None for the exact divergence, or Hutchinson coefficients ``(n, k, dim)``.
        cond: conditioning keywords; tensors with leading size n are repeated per direction.
    """

    def __init__(
        self,
        model: nn.Module | Callable[..., Tensor],
        space: ManifoldSpace,
        n: int,
        probes: Tensor | None = None,
        cond: dict[str, Any] | None = None,
    ) -> None:
        self.model, self.space, self.n = model, space, n
        self.probes = probes
        self.k = space.dim if probes is None else probes.shape[1]
        self.cond = {key: self._repeat(val) for key, val in (cond or {}).items()}
        self.divs: list[Tensor] = []
        self.nfe = 0
        self._xr: Tensor | None = None
        self._dr: Tensor | None = None
        self._t: Tensor | None = None

    def _repeat(self, val: Any) -> Any:
        if isinstance(val, Tensor) and val.dim() > 0 and val.shape[0] == self.n:
            return val.repeat_interleave(self.k, dim=0)
        return val

    def reset(self) -> None:
        """Forget the recorded divergences."""
        self.divs = []

    def directions(self, x: Tensor) -> Tensor:
        """Directions at x, shape ``(n, k, *tangent_shape)``: the basis or the probes z_j."""
        basis = self.space.tangent_basis(x)
        if self.probes is None:
            return basis
        eps = self.probes.to(dtype=x.dtype)
        return torch.einsum("nkd,nd...->nk...", eps, basis)

    def _along(self, s: Tensor) -> Tensor:
        """T_{y -> x} v(y, t) with y = exp_x(s d), for the repeated rows."""
        nt = len(self.space.tangent_shape)
        y = self.space.expmap(self._xr, pad_time(s, nt) * self._dr)
        v = self.model(y, self._t, **self.cond)
        return self.space.transport(self._xr, y, v)

    def velocity_and_divergence(self, x: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """(v(x, t), div v(x, t)) with shapes ``(n, *tangent_shape)`` and ``(n,)``."""
        n, k = x.shape[0], self.k
        if n != self.n:
            raise ValueError(f"DivergenceField built for {self.n} points, called with {n}")
        dirs = self.directions(x)
        tshape = tuple(self.space.tangent_shape)
        self._xr = x.unsqueeze(1).expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:])
        self._dr = dirs.reshape(n * k, *tshape)
        self._t = torch.as_tensor(t, device=x.device, dtype=x.dtype).expand(n * k)
        s0 = torch.zeros(n * k, device=x.device, dtype=x.dtype)
        v, dv = torch.func.jvp(self._along, (s0,), (torch.ones_like(s0),))
        self.nfe += 1
        dots = self.space.inner(self._xr, self._dr, dv).reshape(n, k)
        div = dots.sum(1) if self.probes is None else dots.mean(1)
        v = v.reshape(n, k, *tshape)[:, 0]
        self._xr = self._dr = self._t = None
        return v, div

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        v, div = self.velocity_and_divergence(x, t)
        self.divs.append(div)
        return v
