"""Differentiable solves: gradients through sample, log_prob and elbo against closed forms.

* constant field a on R^d: x1 = x0 + a, so d sum(x1) / da = n (one per point and axis);
* the same flow pushes N(0, I) to N(a, I): d log p1(x1) / dx1 = -(x1 - a) and
  d log p1(x1) / da = x1 - a;
* S^2 under the rotation field w x x: the gradient of a scalar of x1 with respect to w
  matches central finite differences (float64).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from discrete_fm import CTMCSpace
from discrete_fm.elbo import elbo
from manifold_fm import Euclidean, Sphere
from manifold_fm.solvers import log_prob, sample

FIXED = ["euler", "midpoint", "rk4"]
ALL = [*FIXED, "dopri5", "dopri5_adjoint"]
D = torch.float64


class Constant(nn.Module):
    """v(x, t) = a for every point."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = nn.Parameter(a.clone())

    def forward(self, x, t):
        return self.a.expand_as(x)


class Rotation(nn.Module):
    """v(x, t) = w x x on S^2 (a rigid rotation; the flow at t = 1 rotates by |w|)."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x, t):
        return torch.linalg.cross(self.w.expand_as(x), x, dim=-1)


def _method(name):
    return ("dopri5", True) if name == "dopri5_adjoint" else (name, False)


@pytest.mark.parametrize("name", ALL)
def test_constant_field_gradient_of_sum_x1_is_n(name):
    method, adjoint = _method(name)
    space, n = Euclidean(3), 5
    model = Constant(torch.tensor([0.3, -0.2, 0.5], dtype=D))
    x0 = torch.randn(n, 3, dtype=D, generator=torch.Generator().manual_seed(0))
    x0.requires_grad_(True)
    res = sample(model, space, x0, steps=7, method=method, enable_grad=True, adjoint=adjoint)
    assert torch.allclose(res.x, x0 + model.a, atol=1e-4)
    res.x.sum().backward()
    assert torch.allclose(model.a.grad, torch.full((3,), float(n), dtype=D), atol=1e-4)
    assert torch.allclose(x0.grad, torch.ones_like(x0), atol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_shifted_normal_log_density_gradients(name):
    method, adjoint = _method(name)
    space = Euclidean(2)
    a = torch.tensor([1.5, -0.7], dtype=D)
    model = Constant(a)
    x1 = torch.randn(6, 2, dtype=D, generator=torch.Generator().manual_seed(1)) + a
    x1.requires_grad_(True)
    res = log_prob(model, space, x1, steps=5, method=method, enable_grad=True, adjoint=adjoint)
    closed = -0.5 * ((x1 - a) ** 2).sum(-1) - torch.log(torch.tensor(2 * torch.pi, dtype=D))
    assert torch.allclose(res.log_prob, closed, atol=1e-4)
    res.log_prob.sum().backward()
    assert torch.allclose(x1.grad, -(x1 - a).detach(), atol=1e-4)
    assert torch.allclose(model.a.grad, (x1 - a).detach().sum(0), atol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_sphere_rotation_gradient_matches_finite_differences(name):
    method, adjoint = _method(name)
    space = Sphere(2)
    x0 = space.sample_prior(4, generator=torch.Generator().manual_seed(2), dtype=D)
    target = torch.tensor([0.0, 0.6, 0.8], dtype=D)
    w = torch.tensor([0.4, -0.9, 0.3], dtype=D)

    def score(weights, grad):
        model = Rotation(weights)
        x = sample(
            model, space, x0, steps=40, method=method, enable_grad=grad, adjoint=adjoint and grad
        )
        return (x.x @ target).sum(), model

    value, model = score(w, True)
    value.backward()
    h = 1e-5
    fd = torch.stack(
        [
            (score(w + h * e, False)[0] - score(w - h * e, False)[0]) / (2 * h)
            for e in torch.eye(3, dtype=D)
        ]
    )
    assert torch.isfinite(model.w.grad).all()
    assert torch.allclose(model.w.grad, fd, atol=1e-4)


class Tilt(nn.Module):
    """v(x, t) = b - <b, x> x on S^2: the gradient field of <b, x> (divergence -2 <b, x>)."""

    def __init__(self, b: torch.Tensor) -> None:
        super().__init__()
        self.b = nn.Parameter(b.clone())

    def forward(self, x, t):
        b = self.b.expand_as(x)
        return b - (b * x).sum(-1, keepdim=True) * x


@pytest.mark.parametrize("name", ["rk4", "dopri5", "dopri5_adjoint"])
def test_sphere_log_prob_gradient_matches_finite_differences(name):
    method, adjoint = _method(name)
    space = Sphere(2)
    x1 = space.sample_prior(3, generator=torch.Generator().manual_seed(3), dtype=D)
    b = torch.tensor([0.2, 0.5, -0.4], dtype=D)

    def total(weights, grad):
        model = Tilt(weights)
        res = log_prob(
            model, space, x1, steps=20, method=method, enable_grad=grad, adjoint=adjoint and grad
        )
        return res.log_prob.sum(), model

    value, model = total(b, True)
    value.backward()
    h = 1e-5
    steps = h * torch.eye(3, dtype=D)
    fd = torch.stack([(total(b + e, False)[0] - total(b - e, False)[0]) / (2 * h) for e in steps])
    assert torch.isfinite(model.b.grad).all() and model.b.grad.abs().sum() > 1e-3
    assert torch.allclose(model.b.grad, fd, atol=1e-4)
    # a rotation keeps the uniform density: the parameter gradient of log p1 is 0
    rot = Rotation(torch.tensor([0.2, 0.5, -0.4], dtype=D))
    log_prob(rot, space, x1, steps=5, method="rk4", enable_grad=True).log_prob.sum().backward()
    assert torch.allclose(rot.w.grad, torch.zeros(3, dtype=D), atol=1e-10)


def test_default_solves_record_no_graph_and_adjoint_needs_a_torchdiffeq_method():
    space = Euclidean(2)
    model = Constant(torch.tensor([0.1, 0.2], dtype=D))
    x0 = torch.zeros(3, 2, dtype=D, requires_grad=True)
    assert not sample(model, space, x0, steps=2).x.requires_grad
    assert not log_prob(model, space, x0.detach(), steps=2).log_prob.requires_grad
    with pytest.raises(ValueError, match="adjoint=True needs enable_grad=True"):
        sample(model, space, x0, steps=2, method="rk4", enable_grad=True, adjoint=True)
    with pytest.raises(ValueError, match="adjoint=True needs enable_grad=True"):
        log_prob(model, space, x0.detach(), method="dopri5", adjoint=True)
    with pytest.raises(ValueError, match="would copy the model"):
        log_prob(model, space, x0.detach().float(), dtype=torch.float32, enable_grad=True)


class Logits(nn.Module):
    """Position-wise logits from a learnable table: logits[l, v] for every sequence."""

    def __init__(self, length: int, vocab: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(length, vocab))

    def forward(self, x, t):
        return self.table.expand(x.shape[0], -1, -1)


def test_elbo_gradient_flows_to_the_model_and_descends():
    space = CTMCSpace(4, 3, "mask")
    x1 = torch.tensor([[0, 1, 2], [0, 1, 3]])
    model = Logits(3, 4)
    assert not elbo(model, space, x1, generator=torch.Generator().manual_seed(0)).nats.requires_grad
    res = elbo(model, space, x1, generator=torch.Generator().manual_seed(0), enable_grad=True)
    res.nats.sum().backward()
    grad = model.table.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    with torch.no_grad():
        model.table -= 0.5 * grad
    after = elbo(model, space, x1, generator=torch.Generator().manual_seed(0))
    assert float(after.nats.sum()) < float(res.nats.detach().sum())
