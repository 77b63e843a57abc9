"""A seed alone reproduces a training run: the global RNG must not leak into any step.

Every source of randomness of a step (prior draw, coupling, times, the path itself, the
condition dropout) must come from the Trainer's generator. The CTMC mixture path is
stochastic, so it needs the generator passed through ``Space.path``.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from discrete_fm import CTMCSpace
from manifold_fm import SE3, SO3, Euclidean, FlatTorus, Sphere
from manifold_fm.nn import TimeMLP
from manifold_fm.train import TrainConfig, Trainer


class _Tokens(nn.Module):
    """Logits (n, L, V) from token embeddings plus the time."""

    def __init__(self, space: CTMCSpace) -> None:
        super().__init__()
        self.emb = nn.Embedding(space.input_vocab_size, 8)
        self.out = nn.Linear(9, space.vocab_size)

    def forward(self, x, t, mask=None):
        h = self.emb(x)
        tt = t.reshape(-1, 1, 1).expand(*h.shape[:2], 1).to(h.dtype)
        return self.out(torch.cat([h, tt], -1))


def _case(kind: str):
    g = torch.Generator().manual_seed(5)
    if kind == "ctmc":
        space = CTMCSpace(5, 6, "mask")
        return space, torch.randint(0, 5, (64, 6), generator=g), lambda: _Tokens(space)
    space = {
        "euclidean": lambda: Euclidean(2),
        "sphere": lambda: Sphere(2),
        "torus": lambda: FlatTorus(2),
        "so3": lambda: SO3(),
        "se3": lambda: SE3(n_frames=3),
    }[kind]()
    data = space.sample_prior(64, generator=g)
    return space, data, lambda: TimeMLP.for_space(space, hidden=16, depth=2, time_dim=8)


def _train(kind: str, global_seed: int) -> dict[str, torch.Tensor]:
    space, data, make = _case(kind)
    torch.manual_seed(0)
    model = make()
    torch.manual_seed(global_seed)  # a different global RNG state for each run
    torch.rand(global_seed % 7 + 1)
    cfg = TrainConfig(steps=4, batch_size=16, warmup_steps=1, log_every=2, progress=False, seed=3)
    Trainer(space, model, data, cfg).fit()
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kind", ["euclidean", "sphere", "torus", "so3", "se3", "ctmc"])
def test_same_seed_gives_bit_identical_weights_whatever_the_global_rng(kind):
    a, b = _train(kind, 11), _train(kind, 12345)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{kind}: parameter {k} differs between runs"
    start = _case(kind)[2]
    torch.manual_seed(0)
    init = start().state_dict()
    assert any(not torch.equal(a[k], init[k]) for k in a)  # training moved the weights
