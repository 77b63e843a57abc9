"""flow_matching's discrete pipeline as the peer of our masked CTMC model (text benchmark).

The text benchmark compares our mask-source model with Meta's
``flow_matching`` library at equal budget, same network, same data. Its pipeline as the
library's text example sets it up:

* path: ``MixtureDiscreteProbPath(PolynomialConvexScheduler(n=1))`` (kappa_t = t), source
  all-mask (mask id V, vocabulary V + 1);
* loss: ``MixturePathGeneralizedKL`` (mean over tokens) of the network's V + 1 logits, t ~
  U[0, 1 - 1e-3);
* sampler: ``MixtureDiscreteEulerSolver`` from all-mask, fixed steps, float64 draws.

The network is our SequenceTransformer with the same size and no time input (as our mask
model), output V + 1 (the library predicts over its whole vocabulary). It is trained with
our optimiser settings (AdamW, constant lr, grad clip 1, same batch and budget) and scored
with OUR :func:`discrete_fm.elbo` on the V data logits; sampling drops the mask logit so a
sample holds data tokens only. ``flow_matching`` is an optional extra: :func:`peer_missing`
says why the peer cannot run.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from benchmarks.discrete.fit import FitReport, budgeted_steps
from discrete_fm.transformer import SequenceTransformer

__all__ = ["PeerPosterior", "fit_peer", "peer_missing", "peer_network", "sample_peer"]

_T_MAX = 1.0 - 1e-3


def peer_missing() -> str | None:
    """None when flow_matching can be imported, else the reason the peer is skipped."""
    if importlib.util.find_spec("flow_matching") is None:
        return "flow_matching is not installed (pip install flow_matching)"
    return None


def peer_network(vocab: int, length: int, **net_kw) -> SequenceTransformer:
    """Our transformer sized for the library's vocabulary V + 1 (mask id V), no time input."""
    return SequenceTransformer(vocab + 1, vocab + 1, length, time_conditioning=False, **net_kw)


def fit_peer(
    net: nn.Module,
    vocab: int,
    data: Tensor,
    *,
    budget_s: float,
    batch_size: int = 32,
    lr: float = 1e-3,
    clip: float = 1.0,
    generator: torch.Generator | None = None,
    clock: Callable[[], float] = time.perf_counter,
    warmup_steps: int = 0,
) -> FitReport:
    """Train ``net`` (n, L) -> (n, L, V + 1) with the library's path and loss for a budget
    (AdamW, grad clip, lr warmed up linearly over ``warmup_steps``, then constant).

    One step: x1 a batch of ``data`` (N, L), x0 = all mask (id V), t ~ U[0, 1 - 1e-3),
    x_t = ``path.sample(x0, x1, t).x_t``, loss = ``MixturePathGeneralizedKL(path)(logits,
    x1, x_t, t)`` (the GKL, mean per token).
    """
    from flow_matching.loss import MixturePathGeneralizedKL
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import PolynomialConvexScheduler

    if not budget_s >= 0:
        raise ValueError(f"fit_peer: budget_s must be >= 0, got {budget_s!r}")
    path = MixtureDiscreteProbPath(scheduler=PolynomialConvexScheduler(n=1.0))
    loss_fn = MixturePathGeneralizedKL(path=path)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.0)

    def batch_loss() -> Tensor:
        x1 = data[torch.randint(0, data.shape[0], (batch_size,), generator=generator)]
        x0 = torch.full_like(x1, vocab)
        t = torch.rand(batch_size, generator=generator) * _T_MAX
        with torch.random.fork_rng():  # the path draws from the global generator
            torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
            x_t = path.sample(x_0=x0, x_1=x1, t=t).x_t
        return loss_fn(net(x_t, t), x1, x_t, t)

    return budgeted_steps(
        net,
        opt,
        batch_loss,
        budget_s=budget_s,
        lr=lr,
        clip=clip,
        clock=clock,
        warmup_steps=warmup_steps,
        loss_label="flow_matching generalized KL at one t (mean per token, nats)",
    )


class PeerPosterior(nn.Module):
    """The peer network as a model of our CTMCSpace(V, L, "mask"): its V data logits."""

    def __init__(self, net: nn.Module, vocab: int) -> None:
        super().__init__()
        self.net, self.vocab = net, vocab

    def forward(self, x: Tensor, t: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.net(x, t, mask=mask)[..., : self.vocab]


class _Probabilities(nn.Module):
    """The library's ModelWrapper contract: posterior probabilities over V + 1, mask at 0."""

    def __init__(self, net: nn.Module, vocab: int) -> None:
        super().__init__()
        self.net, self.vocab = net, vocab

    def forward(self, x: Tensor, t: Tensor, **_: object) -> Tensor:
        logits = self.net(x, t).double()
        logits[..., self.vocab] = float("-inf")
        return torch.softmax(logits, -1)


@torch.no_grad()
def sample_peer(net: nn.Module, vocab: int, length: int, n: int, steps: int, seed: int) -> Tensor:
    """``n`` samples (n, L) from the library's Euler solver, ``steps`` steps on [0, 1]."""
    from flow_matching.path import MixtureDiscreteProbPath
    from flow_matching.path.scheduler import PolynomialConvexScheduler
    from flow_matching.solver import MixtureDiscreteEulerSolver

    path = MixtureDiscreteProbPath(scheduler=PolynomialConvexScheduler(n=1.0))
    solver = MixtureDiscreteEulerSolver(
        model=_Probabilities(net, vocab), path=path, vocabulary_size=vocab + 1
    )
    x0 = torch.full((n, length), vocab, dtype=torch.long)
    with torch.random.fork_rng():  # the solver draws from the global generator
        torch.manual_seed(seed)
        x = solver.sample(
            x_init=x0,
            step_size=1.0 / steps,
            time_grid=torch.tensor([0.0, 1.0]),
            dtype_categorical=torch.float64,
        )
    return x.long()
