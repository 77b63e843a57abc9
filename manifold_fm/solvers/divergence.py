"""Riemannian divergence of a learned velocity field on any ManifoldSpace.

With an orthonormal tangent basis b_1..b_d at x (``space.tangent_basis``) and
T_{y->x} = d(log_x)_y the space's ``log_differential`` (the derivative of the log map at
y, carrying a tangent vector at y to one at x)::

    div v(x) = sum_i < b_i, d/ds [ T_{exp_x(s b_i) -> x} v(exp_x(s b_i)) ]_{s=0} >_x

This is the divergence in normal coordinates centred at x, where the metric's volume
density has zero gradient: the exact Riemannian divergence. Only T to first order in s
matters, so the default T = proju (embedded submanifolds with the induced metric) gives
the Levi-Civita derivative P_x(Dv[b_i]); on flat spaces it is the ordinary divergence; on
SO(3) the first-order part of J_r^{-1}, hat(u) / 2, is skew and adds nothing to the trace.
Spaces whose ``log_differential`` is not first-order exact because their chart metric is
not flat (the Poincare ball, SPD with the default projection) add
<grad log sqrt(det G), v> through ``space.log_volume_drift``.
Hutchinson: z = sum_i eps_i b_i with fixed probes eps, div ~ mean_j <z_j, D[z_j]>.

Computation: one forward pass on the n points and one reverse pass vectorised over the k
directions with ``torch.func.vjp`` + ``torch.func.vmap`` (k = d exact, k = n_probes
Hutchinson); no Python loop over dimensions. Only the backward is vmapped, so models and
spaces may use data-dependent control flow in their forward. Reverse mode measured 2-3x
faster than forward-mode ``jvp`` on CPU for MLP fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.spaces.base import ManifoldSpace

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

    One reverse-mode pass per call: with w(u) = d(log_x)_{exp_x(u)} v(exp_x(u), t) and the
    directions z_1..z_k at x (the orthonormal basis, or Hutchinson probes
    z_j = sum_i eps_ji b_i), the outputs o_j(u) = <z_j, w(u)>_x are differentiated at u = 0
    with ``torch.func.vjp``, and the k cotangents e_j are pulled back at once with
    ``torch.func.vmap``: grad_u o_j = J^T G z_j, so <grad_u o_j, z_j> = <z_j, J z_j>_x and
    div = sum_j (exact) or mean_j (Hutchinson) of it. The velocity is the auxiliary output
    of the same forward pass (one batched model evaluation on n rows per call).

    After each call, :attr:`divs` holds the divergences (shape ``(n,)``) of every call since
    :meth:`reset`, so the fixed-step solvers of :mod:`manifold_fm.solvers` can be reused.

    Args:
        model: ``model(x, t, **cond) -> tangent output``.
        space: the manifold.
        n: number of points the field will be called with.
        probes: None for the exact divergence, or Hutchinson coefficients ``(n, k, dim)``.
        cond: conditioning keywords passed to the model unchanged.
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
        self.cond = dict(cond or {})
        self.divs: list[Tensor] = []
        self.nfe = 0
        self._x: Tensor | None = None
        self._dirs: Tensor | None = None
        self._t: Tensor | None = None

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

    def _outputs(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """(o, w): o_j = <z_j, w(u)>_x of shape (n, k) and w(u) itself."""
        x, dirs = self._x, self._dirs
        y = self.space.expmap(x, u)
        w = self.space.log_differential(x, y, self.model(y, self._t, **self.cond))
        k = dirs.shape[1]
        xk = x.unsqueeze(1).expand(x.shape[0], k, *x.shape[1:])
        return self.space.inner(xk, dirs, w.unsqueeze(1).expand_as(dirs)), w

    def velocity_and_divergence(self, x: Tensor, t: Tensor | float) -> tuple[Tensor, Tensor]:
        """(v(x, t), div v(x, t)) with shapes ``(n, *tangent_shape)`` and ``(n,)``."""
        n, k = x.shape[0], self.k
        if n != self.n:
            raise ValueError(f"DivergenceField built for {self.n} points, called with {n}")
        self._x, self._dirs = x, self.directions(x)
        self._t = torch.as_tensor(t, device=x.device, dtype=x.dtype).expand(n)
        u0 = torch.zeros((n, *self.space.tangent_shape), device=x.device, dtype=x.dtype)
        onehot = torch.eye(k, device=x.device, dtype=x.dtype).unsqueeze(1).expand(k, n, k)
        # TorchScript functions (geoopt's maps) that the profiling executor has already
        # optimised record a fused backward that cannot run under vmap; unoptimised
        # execution records plain autograd ops, whose backward vmaps
        with torch.jit.optimized_execution(False):
            _, pullback, v = torch.func.vjp(self._outputs, u0, has_aux=True)
            (grads,) = torch.func.vmap(pullback)(onehot)  # (k, n, *tangent): J^T G z_j
        self.nfe += 1
        dots = (grads.transpose(0, 1) * self._dirs).flatten(start_dim=2).sum(-1)  # (n, k)
        div = dots.sum(1) if self.probes is None else dots.mean(1)
        drift = self.space.log_volume_drift(x, v)
        if drift is not None:
            div = div + drift
        self._x = self._dirs = self._t = None
        return v, div

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        v, div = self.velocity_and_divergence(x, t)
        self.divs.append(div)
        return v
