"""Data prediction on a Riemannian manifold: the clean point x1_hat <-> the path velocity.

FrameFlow-style models predict the clean point x1_hat, the
geodesic path wants a velocity; the conversion, its inverse (what self-conditioning feeds
back) and the x1 form of the loss are one formula, kept here once for every
:class:`~manifold_fm.spaces.base.ManifoldSpace` (mixed in there).

With r(t) = kappa'(t) / max(1 - kappa(t), eps_t) (the schedule's ``rate``)::

    u(x_t, t) = r(t) log_{x_t}(x1_hat)                  x1_to_velocity
    x1_hat    = exp_{x_t}(proju(u) / r(t))               x1_estimate (its inverse)

On the geodesic path the target is u_t = r(t) log_{x_t}(x1), so the squared velocity error
|u_hat - u_t|^2 equals r(t)^2 |log_{x_t} x1_hat - log_{x_t} x1|^2: the x1 error measured
in the tangent space at x_t (for SE(3): |x1_hat - x1|^2 of translations and
|Log(R_t^T R1_hat) - Log(R_t^T R1)|^2 of rotations, FrameFlow's loss) is the velocity loss
times :meth:`x1_loss_scale` = 1 / r(t)^2.

These are exact for geodesic paths (the default path; Sphere, SO3, SE3, the torus and
products of them). Spaces with another path override them: Euclidean's affine paths
(u_t = c0 x_t + c1 x1). For a geoopt manifold on a projected interpolant (Stiefel, SPD)
the velocity is the geodesic one towards x1_hat, not the interpolant's.
"""

from __future__ import annotations

from torch import Tensor

from manifold_fm.spaces.contract import pad_time, time_like

__all__ = ["X1Parametrization"]

#: smallest rate r(t) used when dividing by it (schedules with kappa'(t) = 0)
_MIN_RATE = 1e-6


class X1Parametrization:
    """Mixin of :class:`ManifoldSpace`: the conversions of the module docstring.

    Needs ``schedule``, ``eps_t``, ``logmap``, ``expmap``, ``tangent_shape`` and
    ``batch_shape`` of the space it is mixed into.
    """

    def velocity_rate(self, t: Tensor | float, x: Tensor) -> Tensor:
        """r(t) = kappa'(t) / max(1 - kappa(t), eps_t), shape ``batch_shape(x)``."""
        t = time_like(t, self.batch_shape(x), x)
        return self.schedule.rate(t, self.eps_t)

    def x1_to_velocity(self, x_t: Tensor, x1_hat: Tensor, t: Tensor | float) -> Tensor:
        """u = r(t) log_{x_t}(x1_hat): ``batch + event_shape`` points -> ``batch + tangent``."""
        r = pad_time(self.velocity_rate(t, x_t), len(self.tangent_shape))
        return r * self.logmap(x_t, x1_hat)

    def x1_estimate(self, x_t: Tensor, output: Tensor, t: Tensor | float) -> Tensor:
        """x1_hat = exp_{x_t}(proju(u) / r(t)), the clean point a velocity ``u`` points to."""
        r = self.velocity_rate(t, x_t).clamp_min(_MIN_RATE)
        v = self.proju(x_t, output.to(x_t.dtype))
        return self.expmap(x_t, v / pad_time(r, len(self.tangent_shape)))

    def x1_loss_scale(self, t: Tensor, x: Tensor) -> Tensor:
        """1 / r(t)^2, shape ``batch_shape(x)``: turns the velocity loss into the x1 loss."""
        r = self.velocity_rate(t, x).clamp_min(_MIN_RATE)
        return 1.0 / (r * r)
