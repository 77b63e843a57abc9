"""Self-conditioning works for the discrete model: Trainer option, sampler wrapper, ELBO.

The Trainer feeds ``space.x1_estimate(x_t, logits, t)`` back as ``self_cond``; for a
CTMCSpace that is the posterior p(x1 | x_t) (probabilities, SUBS), which the
SequenceTransformer adds through a zero-initialised projection.
"""

from __future__ import annotations

import pytest
import torch

from discrete_fm import CTMCSpace, elbo, sample_ancestral
from discrete_fm.self_condition import two_pass
from discrete_fm.transformer import SequenceTransformer
from manifold_fm.nn import SelfConditioning
from manifold_fm.train import TrainConfig, Trainer


def test_x1_estimate_is_the_subs_posterior():
    sp = CTMCSpace(5, 6, "mask")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 6, 5, generator=g)
    x_t = torch.tensor([[5, 1, 5, 2, 5, 0]] * 3)
    p = sp.x1_estimate(x_t, logits, torch.full((3,), 0.5))
    assert p.dtype == torch.float32 and p.shape == (3, 6, 5)
    assert torch.allclose(p.sum(-1), torch.ones(3, 6))
    assert float(p[0, 1, 1]) == 1.0  # an unmasked position is its own token
    assert torch.allclose(p[:, 0], torch.softmax(logits[:, 0], -1))


def test_trainer_self_conditions_a_sequence_transformer():
    torch.manual_seed(0)
    sp = CTMCSpace(5, 8, "mask", reduction="mean")
    net = SequenceTransformer.for_space(sp, dim=16, depth=1, heads=2, self_condition=True)
    data = torch.randint(0, 5, (64, 8), generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(
        steps=20,
        batch_size=16,
        ema_decay=0.0,
        device="cpu",
        log_every=10,
        warmup_steps=0,
        self_condition=True,
        progress=False,
    )
    res = Trainer(sp, net, {"x1": data}, cfg).fit()
    assert res.steps == 20 and all(torch.isfinite(torch.tensor(res.losses)))
    # the self-conditioning projection starts at 0 and is trained from the fed-back posterior
    assert float(net.self_cond.weight.detach().abs().sum()) > 0
    g = torch.Generator().manual_seed(2)
    xs = sample_ancestral(SelfConditioning(net, sp), sp, 4, steps=4, generator=g).x
    sp.validate(xs)
    e = elbo(two_pass(net, sp), sp, data[:8], n_t=2, estimator="k", generator=g)
    assert 0 < e.bits_per_token < 10


def test_self_cond_is_refused_by_a_model_built_without_it():
    sp = CTMCSpace(5, 8, "mask")
    net = SequenceTransformer.for_space(sp, dim=16, depth=1, heads=2)
    x = torch.full((2, 8), 5)
    with pytest.raises(ValueError, match="self_condition=False"):
        net(x, None, self_cond=torch.zeros(2, 8, 5))
    sc = SequenceTransformer.for_space(sp, dim=16, depth=1, heads=2, self_condition=True)
    with pytest.raises(ValueError, match="self_cond must have shape"):
        sc(x, None, self_cond=torch.zeros(2, 8, 4))
