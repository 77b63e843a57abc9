"""A self-conditioned token model as a plain posterior p(x1 | x_t), for the ELBO.

A self-conditioned model takes its own previous estimate of x1 as an extra input
(``self_cond``). Sampling feeds it the estimate of the previous step
(:class:`manifold_fm.nn.SelfConditioning`); a likelihood bound needs instead a fixed
function of (x_t, t). :func:`two_pass` is that function: the first pass without
self-conditioning gives an estimate, the second pass is conditioned on it::

    logits = model(x_t, t, mask, self_cond=x1_estimate(x_t, model(x_t, t, mask, None), t))

It is deterministic in (x_t, t), hence a proper posterior: its negative ELBO
(:func:`discrete_fm.elbo`) is a valid bound, and it is what a self-conditioned sampler
sees after its first step.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["TwoPass", "two_pass"]


class TwoPass(nn.Module):
    """``model`` called twice per evaluation, the second time on the first's estimate."""

    def __init__(self, model: nn.Module, space) -> None:
        super().__init__()
        self.model, self.space = model, space

    def forward(self, x: Tensor, t: Tensor, mask: Tensor | None = None) -> Tensor:
        first = self.model(x, t, mask=mask, self_cond=None)
        est = self.space.x1_estimate(x, first, t)
        return self.model(x, t, mask=mask, self_cond=est)


def two_pass(model: nn.Module, space) -> nn.Module:
    """``model(x, t, mask, self_cond=x1_estimate(x, model(x, t, mask, None), t))``.

    ``space`` supplies ``x1_estimate`` (a :class:`discrete_fm.CTMCSpace`: the posterior
    probabilities). A deterministic function of (x_t, t), hence a proper posterior
    p(x1 | x_t): the NELBO of it is a valid bound.
    """
    return TwoPass(model, space)
