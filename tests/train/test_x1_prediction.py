"""Data prediction (x1_hat -> velocity), the x1 loss form, FrameFlow weighting, self-conditioning.

Check-style properties on Sphere, SO3 and SE3: with the true x1 as the prediction the
wrapper's velocity is the path's target; x1_estimate inverts the conversion; the x1 loss is
the squared tangent-space x1 error; with the linear schedule x1 + frameflow equals the
velocity loss below t = 0.9.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from manifold_fm import SE3, SO3, Euclidean, Sphere
from manifold_fm.conditioning import ConditionError
from manifold_fm.nn import SelfConditioning, X1Prediction
from manifold_fm.solvers import sample
from manifold_fm.train import TrainConfig, Trainer
from manifold_fm.train.loss_forms import weighted_loss

SPACES = {
    "euclidean-condot": lambda: Euclidean(3),
    "euclidean-vp": lambda: Euclidean(3, schedule="vp"),
    "euclidean-trig": lambda: Euclidean(3, schedule="trig"),
    "sphere": lambda: Sphere(2),
    "sphere-cosine": lambda: Sphere(2, schedule="cosine"),
    "so3": lambda: SO3(),
    "se3": lambda: SE3(4, trans_scale=2.0),
}


def pair(space, n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    x0 = space.sample_prior(n, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(n, generator=g, dtype=torch.float64)
    t = torch.rand(n, generator=g, dtype=torch.float64) * 0.98 + 0.01
    return space.path(x0, x1, t), g


class Oracle(nn.Module):
    """Returns a fixed x1 (the truth or a perturbation of it)."""

    def __init__(self, x1):
        super().__init__()
        self.x1 = x1

    def forward(self, x, t):
        return self.x1


@pytest.mark.parametrize("name", sorted(SPACES))
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_true_x1_gives_the_path_target_and_estimate_inverts_it(name, seed):
    space = SPACES[name]()
    s, _ = pair(space, 8, seed)
    u = X1Prediction(Oracle(s.x1), space)(s.x_t, s.t)
    torch.testing.assert_close(u, s.target, atol=1e-7, rtol=1e-6)
    assert float(space.loss(u, s).abs().max()) < 1e-10
    torch.testing.assert_close(space.x1_estimate(s.x_t, s.target, s.t), s.x1, atol=1e-7, rtol=0)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_x1_loss_is_the_tangent_x1_error_and_frameflow_matches_velocity(name):
    space = SPACES[name]()
    s, g = pair(space, 16, 3)
    noise = 0.1 * torch.randn(s.target.shape, generator=g, dtype=torch.float64)
    x1_hat = space.expmap(s.x1, space.proju(s.x1, noise))
    u = X1Prediction(Oracle(x1_hat), space)(s.x_t, s.t)
    err = space.logmap(s.x_t, x1_hat) - space.logmap(s.x_t, s.x1)
    x1_loss = weighted_loss(space, u, s, "x1", "none")
    torch.testing.assert_close(x1_loss, space.inner(s.x_t, err, err), atol=1e-8, rtol=1e-6)
    vel = weighted_loss(space, u, s, "velocity", "none")
    assert float((vel - x1_loss).abs().max()) > 1e-6  # the two forms differ
    ff = weighted_loss(space, u, s, "x1", "frameflow")
    torch.testing.assert_close(ff, x1_loss / (1 - s.t.clamp(max=0.9)) ** 2)
    if name in (
        "sphere",
        "so3",
        "se3",
        "euclidean-condot",
    ):  # linear schedule: x1 + frameflow = velocity below 0.9
        low = s.t < 0.9
        torch.testing.assert_close(ff[low], vel[low], atol=1e-8, rtol=1e-6)


def test_x1_form_refused_where_the_loss_has_no_velocity_form():
    from discrete_fm import CTMCSpace

    space = CTMCSpace(4, 3, "mask")
    with pytest.raises(TypeError, match="no x1 form"):
        space.x1_loss_scale(torch.zeros(2), torch.zeros(2, 3))
    with pytest.raises(TypeError, match="ManifoldSpace"):
        X1Prediction(nn.Identity(), space)


class SelfCondNet(nn.Module):
    """Sphere velocity model that records what it was given as self_cond."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(7, 3)
        self.seen: list = []

    def forward(self, x, t, self_cond=None):
        self.seen.append(None if self_cond is None else self_cond.detach().clone())
        sc = torch.zeros_like(x) if self_cond is None else self_cond
        return self.lin(torch.cat([x, sc, t[:, None].to(x.dtype)], -1))


class PlainNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x, t):
        return self.lin(torch.cat([x, t[:, None]], -1))


def _data():
    return Sphere(2).projx(torch.randn(64, 3, generator=torch.Generator().manual_seed(0)))


def _cfg(**kw):
    return TrainConfig(
        steps=6, batch_size=8, warmup_steps=1, device="cpu", progress=False, log_every=3, **kw
    )


def test_self_conditioning_is_off_by_default():
    assert TrainConfig().self_condition is False
    net = SelfCondNet()
    Trainer(Sphere(2), net, _data(), _cfg()).fit()
    assert len(net.seen) == 6 and all(s is None for s in net.seen)  # one call per step


def test_self_conditioning_feeds_the_previous_estimate():
    net = SelfCondNet()
    Trainer(Sphere(2), net, _data(), _cfg(self_condition=True, seed=1)).fit()
    fed = [s for s in net.seen if s is not None]
    assert 0 < len(fed) < 6 and len(net.seen) == 6 + len(fed)  # extra no-grad pass
    i = next(i for i, s in enumerate(net.seen) if s is not None)
    assert net.seen[i - 1] is None  # the estimate came from a pass without self_cond
    torch.testing.assert_close(fed[0].norm(dim=-1), torch.ones(8))  # points on the sphere
    # at sampling the wrapper always feeds the previous estimate back
    net.seen.clear()
    wrapped = SelfConditioning(net, Sphere(2))
    sample(wrapped, Sphere(2), 5, steps=4, generator=torch.Generator().manual_seed(0))
    assert net.seen[0] is None and all(s is not None for s in net.seen[1:])
    assert len(net.seen) == 4
    sample(wrapped, Sphere(2), 5, steps=4)  # a new trajectory starts without an estimate
    assert net.seen[4] is None


def test_self_conditioning_needs_a_model_that_takes_it():
    with pytest.raises(ConditionError, match="self_cond"):
        Trainer(Sphere(2), PlainNet(), _data(), _cfg(self_condition=True))
    with pytest.raises(ConditionError, match="self_cond"):
        SelfConditioning(PlainNet(), Sphere(2))


def test_trainer_loss_forms_train_x1_predictor_on_se3():
    space = SE3(3, trans_scale=1.0)

    class FrameNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3 * 12 + 1, 3 * 12)

        def forward(self, x, t, self_cond=None):
            h = torch.cat([x.flatten(1), t[:, None].to(x.dtype)], -1)
            return x + 0.1 * self.lin(h).reshape(x.shape)

    r = SO3().random_uniform(32 * 3, generator=torch.Generator().manual_seed(0))
    x1 = space.join(r.reshape(32, 3, 3, 3), torch.randn(32, 3, 3))
    model = X1Prediction(FrameNet(), space)
    cfg = _cfg(loss_form="x1", loss_weighting="frameflow", self_condition=True)
    fit = Trainer(space, model, x1, cfg).fit()
    assert fit.steps == 6 and all(torch.isfinite(torch.tensor(fit.losses)))
    with pytest.raises(ValueError, match="loss_form"):
        TrainConfig(loss_form="x0")
