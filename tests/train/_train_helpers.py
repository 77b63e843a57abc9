"""Tiny spaces, models and data shared by the trainer tests (not a test module)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from manifold_fm import Euclidean, Sphere
from manifold_fm.nn import TimeMLP
from manifold_fm.spaces.base import PathSample, Space, time_like


def cap_data(n: int = 512, seed: int = 0) -> Tensor:
    """Points on S^2 concentrated near the north pole."""
    s = Sphere(2)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g) * 0.3 + torch.tensor([0.0, 0.0, 1.0])
    return s.projx(x)


def tiny_mlp(space: Space, **kw) -> TimeMLP:
    torch.manual_seed(0)
    return TimeMLP.for_space(space, hidden=32, depth=2, time_dim=8, **kw)


class MaskedPlane(Euclidean):
    """R^{L x 2} with a residue mask (mask_ndim = 1): padded rows carry no loss."""

    mask_ndim = 1

    def __init__(self, length: int) -> None:
        super().__init__((length, 2))

    def path(self, x0, x1, t, *, generator=None, mask=None):
        mask = self.check_mask(x1, mask)
        s = super().path(x0, x1, t)
        s.mask = mask
        return s

    def loss(self, output, sample):
        per_pos = ((output - sample.target) ** 2).sum(-1)
        if sample.mask is not None:
            per_pos = per_pos * sample.mask
        return per_pos.sum(-1)


class MaskAwareMLP(nn.Module):
    """Flattened MLP that records the masks it was given."""

    def __init__(self, length: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = TimeMLP(length * 2, length * 2, hidden=32, depth=2, out_shape=(length, 2))
        self.seen_masks: list[Tensor] = []

    def forward(self, x, t, mask=None):
        self.seen_masks.append(mask)
        return self.net(x, t)


class ToyTokens(Space):
    """A minimal discrete space (long tokens, mask-source mixture path, logits output)."""

    def __init__(self, vocab: int = 5, length: int = 4) -> None:
        self.vocab, self.length = vocab, length
        self.event_shape = torch.Size((length,))

    @property
    def output_shape(self):
        return torch.Size((self.length, self.vocab))

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        return torch.randint(
            self.vocab, (n, self.length), generator=generator, device=device, dtype=torch.long
        )

    def log_prior(self, x):
        return torch.full(x.shape[:-1], -self.length * torch.log(torch.tensor(self.vocab)).item())

    def path(self, x0, x1, t, *, generator=None, mask=None):
        if x1.dtype != torch.long:
            raise TypeError(f"ToyTokens needs long tokens, got {x1.dtype}")
        t = time_like(t, x1.shape[:1], torch.zeros((), dtype=torch.float32, device=x1.device))
        keep = (x0.float() / self.vocab) < t.unsqueeze(-1)  # deterministic given x0, t
        return PathSample(x_t=torch.where(keep, x1, x0), target=x1, t=t, x0=x0, x1=x1)

    def loss(self, output, sample):
        logp = output.log_softmax(-1)
        return -logp.gather(-1, sample.target.unsqueeze(-1)).squeeze(-1).sum(-1)

    def step(self, x, output, t, dt, *, mask=None, generator=None):
        return output.argmax(-1)

    def validate(self, x):
        return None


class TokenModel(nn.Module):
    """Embeds long tokens; returns logits (n, L, V)."""

    def __init__(self, vocab: int = 5, length: int = 4) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(vocab, 16)
        self.out = nn.Linear(16 + 1, vocab)
        self.dtypes: list[torch.dtype] = []

    def forward(self, x, t):
        self.dtypes.append(x.dtype)
        h = self.emb(x)
        tt = t.reshape(-1, 1, 1).expand(*h.shape[:2], 1).to(h.dtype)
        return self.out(torch.cat([h, tt], -1))
