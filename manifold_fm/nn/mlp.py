"""A time-conditioned MLP for vector-valued spaces and a wrapper that makes it tangent.

``TimeMLP.for_space(space)`` sizes the network from the space (input: a flattened point,
output: a flattened model output of ``space.output_shape``). ``TangentModel`` projects the
raw output onto the tangent space at x (``space.proju``), the usual choice on embedded
manifolds so the network cannot waste capacity on the normal direction.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["PeriodicInput", "TangentModel", "TimeMLP", "sinusoidal_embedding"]


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 1000.0) -> Tensor:
    """Sinusoidal features of t in [0, 1]: shape ``t.shape + (dim,)``.

    emb = [cos(t * f_k), sin(t * f_k)], f_k = max_period^(-k / half) * max_period, k < half.
    """
    half = dim // 2
    k = torch.arange(half, device=t.device, dtype=torch.float32)
    freqs = max_period * torch.exp(-math.log(max_period) * k / max(half, 1))
    ang = t.float().unsqueeze(-1) * freqs
    emb = torch.cat([torch.cos(ang), torch.sin(ang)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[..., :1])], dim=-1)
    return emb.to(t.dtype if t.is_floating_point() else torch.float32)


class TimeMLP(nn.Module):
    """MLP v(x, t) on flattened points: [x, emb(t)] -> hidden^depth -> output.

    Args:
        in_dim: size of a flattened point.
        out_dim: size of a flattened model output.
        hidden: width of the hidden layers.
        depth: number of hidden layers.
        time_dim: size of the sinusoidal time embedding.
        out_shape: shape the output is reshaped to (defaults to ``(out_dim,)``).
        n_classes: if set, a label embedding (plus a null token for guidance) is added.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: int = 256,
        depth: int = 3,
        time_dim: int = 32,
        out_shape: tuple[int, ...] | None = None,
        n_classes: int | None = None,
    ) -> None:
        super().__init__()
        if min(in_dim, out_dim, hidden, depth, time_dim) <= 0:
            raise ValueError("TimeMLP: all sizes must be positive")
        self.time_dim = time_dim
        self.out_shape = tuple(out_shape) if out_shape is not None else (out_dim,)
        self.label = nn.Embedding(n_classes + 1, hidden) if n_classes else None
        self.n_classes = n_classes
        #: condition keywords the forward reads (none without a label embedding)
        self.cond_keys = ("label", "cond_drop") if n_classes else ()
        layers: list[nn.Module] = [nn.Linear(in_dim + time_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        self.body = nn.Sequential(*layers[:-1])
        self.act = nn.SiLU()
        self.head = nn.Linear(hidden, out_dim)

    @classmethod
    def for_space(cls, space, **kwargs) -> TimeMLP:
        """Size a TimeMLP for ``space`` (flattened event in, flattened output out)."""
        in_dim = math.prod(space.event_shape)
        out_shape = tuple(space.output_shape)
        return cls(in_dim, math.prod(out_shape), out_shape=out_shape, **kwargs)

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        label: Tensor | None = None,
        cond_drop: Tensor | None = None,
        **_: Tensor,
    ) -> Tensor:
        n = x.shape[0]
        h = torch.cat([x.reshape(n, -1), sinusoidal_embedding(t, self.time_dim).to(x.dtype)], -1)
        h = self.body(h)
        if self.label is not None and label is not None:
            lab = label.long()
            if cond_drop is not None:
                lab = torch.where(cond_drop, torch.full_like(lab, self.n_classes), lab)
            h = h + self.label(lab)
        return self.head(self.act(h)).reshape(n, *self.out_shape)


class TangentModel(nn.Module):
    """Wrap a network so its output is projected onto the tangent space: proju(x, net(x, t))."""

    def __init__(self, space, net: nn.Module) -> None:
        super().__init__()
        self.space = space
        self.net = net

    def forward(self, x: Tensor, t: Tensor, **cond: Tensor) -> Tensor:
        return self.space.proju(x, self.net(x, t, **cond))


class PeriodicInput(nn.Module):
    """Feed angles to the network as (cos x, sin x) so the field is periodic on the torus.

    A raw-angle MLP is discontinuous across the 0 / 2 pi seam, which a density model on
    T^d must not be (its divergence would carry a jump there).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, t: Tensor, **cond) -> Tensor:
        return self.net(torch.cat([torch.cos(x), torch.sin(x)], dim=-1), t, **cond)
