"""Small name -> builder registries behind the ``[space]``, ``[model]``, ``[data]`` config
sections, so a TOML file can name everything a run needs.

A builder is a function; a section ``{kind = "sphere", d = 2}`` calls the builder named
``sphere`` with ``d=2`` (keys are checked against the builder's signature, with the
closest valid key named on a typo). Other modules extend a registry either eagerly
(``@SPACES.register("so3")``) or lazily by dotted path
(``SPACES.add_lazy("so3", "manifold_fm.spaces.so3:SO3")``), so nothing heavy is imported
until a config asks for it.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from manifold_fm.data.files import DataFile, require_file
from manifold_fm.spaces.base import Space
from manifold_fm.train.config import check_keys

__all__ = ["DATASETS", "MODELS", "SPACES", "Registry", "vmf_sample"]


class Registry:
    """Builders by name; ``build(section, *args)`` calls one with the section's keys."""

    def __init__(self, what: str, n_positional: int) -> None:
        self.what, self.n_positional = what, n_positional
        self._items: dict[str, Callable[..., Any] | str] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: register ``fn`` under ``name``."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._items[name] = fn
            return fn

        return deco

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:attr"``, imported on first use."""
        if ":" not in target:
            raise ValueError(f"lazy target must look like 'module:attr', got {target!r}")
        self._items[name] = target

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def get(self, name: str) -> Callable[..., Any]:
        """The builder named ``name``; ValueError naming the closest name if unknown."""
        if name not in self._items:
            close = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown {self.what} kind {name!r}{hint} (known: {', '.join(self.names())})"
            )
        item = self._items[name]
        if isinstance(item, str):
            module, attr = item.split(":", 1)
            item = getattr(importlib.import_module(module), attr)
            self._items[name] = item
        return item

    def build(self, section: dict[str, Any], *args: Any) -> Any:
        """Call the builder ``section['kind']`` with ``*args`` and the other keys."""
        kw = dict(section)
        kind = kw.pop("kind", None)
        if kind is None:
            raise ValueError(f"[{self.what}] section needs a 'kind' key")
        fn = self.get(kind)
        params = list(inspect.signature(fn).parameters.values())
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            valid = [p.name for p in params[self.n_positional :]]
            check_keys(kw, valid, f"[{self.what}] kind={kind!r}")
        return fn(*args, **kw)


#: spaces: builder(**kw) -> Space
SPACES = Registry("space", 0)
#: models: builder(space, **kw) -> nn.Module
MODELS = Registry("model", 1)
#: data: builder(space, **kw) -> Tensor | dict of tensors | Dataset | DataLoader
DATASETS = Registry("data", 1)

SPACES.add_lazy("sphere", "manifold_fm.spaces.sphere:Sphere")
SPACES.add_lazy("torus", "manifold_fm.spaces.torus:FlatTorus")


@SPACES.register("euclidean")
def _euclidean(
    shape: int | list[int] = 2, schedule: str | None = None, prior_std: float = 1.0
) -> Space:
    from manifold_fm.spaces.euclidean import Euclidean

    return Euclidean(shape if isinstance(shape, int) else tuple(shape), schedule, prior_std)


@MODELS.register("mlp")
def _mlp(
    space: Space,
    hidden: int = 256,
    depth: int = 3,
    time_dim: int = 32,
    n_classes: int = 0,
    tangent: bool = True,
) -> nn.Module:
    """TimeMLP sized from the space; ``tangent`` projects outputs with ``space.proju``."""
    from manifold_fm.nn import TangentModel, TimeMLP

    net = TimeMLP.for_space(
        space, hidden=hidden, depth=depth, time_dim=time_dim, n_classes=n_classes or None
    )
    return TangentModel(space, net) if tangent and hasattr(space, "proju") else net


def vmf_sample(mu: Tensor, kappa: float, n: int, rng: np.random.Generator) -> Tensor:
    """n draws from the von Mises-Fisher distribution on S^d with mean ``mu`` (shape (d+1,)).

    Wood (1994): the cosine w = <x, mu> is drawn by rejection from
    Beta((d)/2, (d)/2) proposals, x = w mu + sqrt(1 - w^2) v with v uniform on the unit
    sphere of the tangent space at mu. Data generation only (rejection rounds, not points,
    are looped).
    """
    m = mu.shape[0]
    if m < 2 or not kappa > 0:
        raise ValueError(f"vmf_sample: need dim >= 2 and kappa > 0, got {m}, {kappa}")
    b = (-2 * kappa + math.sqrt(4 * kappa**2 + (m - 1) ** 2)) / (m - 1)
    x0 = (1 - b) / (1 + b)
    c = kappa * x0 + (m - 1) * math.log(1 - x0**2)
    w = np.empty(0)
    while w.size < n:
        z = rng.beta((m - 1) / 2, (m - 1) / 2, size=2 * n)
        cand = (1 - (1 + b) * z) / (1 - (1 - b) * z)
        u = rng.uniform(size=2 * n)
        ok = kappa * cand + (m - 1) * np.log(1 - x0 * cand) - c >= np.log(u)
        w = np.concatenate([w, cand[ok]])
    w_t = torch.as_tensor(w[:n], dtype=torch.float64).unsqueeze(-1)
    mu64 = mu.to(torch.float64)
    v = torch.as_tensor(rng.standard_normal((n, m)), dtype=torch.float64)
    v = v - (v @ mu64).unsqueeze(-1) * mu64
    v = v / v.norm(dim=-1, keepdim=True)
    return w_t * mu64 + (1 - w_t**2).clamp_min(0).sqrt() * v


@DATASETS.register("vmf_mixture")
def _vmf_mixture(
    space: Space, n: int = 20000, k: int = 4, kappa: float = 50.0, seed: int = 0
) -> dict[str, Tensor]:
    """Equal mixture of k von Mises-Fisher components on a Sphere, random means.

    Returns ``{"x1": (n, d+1) float32, "label": (n,) long}`` (the component index, usable
    as a condition).
    """
    m = space.event_shape[-1] if len(space.event_shape) == 1 else 0
    if type(space).__name__ != "Sphere" or m < 2:
        raise ValueError(f"vmf_mixture needs a Sphere space, got {space!r}")
    rng = np.random.default_rng(seed)
    mus = torch.as_tensor(rng.standard_normal((k, m)))
    mus = mus / mus.norm(dim=-1, keepdim=True)
    labels = torch.as_tensor(rng.integers(0, k, size=n), dtype=torch.long)
    x = torch.empty(n, m, dtype=torch.float64)
    for j in range(k):  # one vectorised draw per component
        idx = (labels == j).nonzero().squeeze(-1)
        if idx.numel():
            x[idx] = vmf_sample(mus[j], kappa, idx.numel(), rng)
    return {"x1": x.float(), "label": labels}


@DATASETS.register("tensor_file")
def _tensor_file(
    space: Space, path: str = "", url: str = "", sha256: str | None = None, root: str | None = None
) -> Tensor | dict[str, Tensor]:
    """A ``.pt`` file under the data root (``$MFM_DATA``) holding a Tensor or dict of them.

    Resolved and checksum-verified with :func:`manifold_fm.data.files.require_file`;
    read with ``weights_only=True``.
    """
    if not path:
        raise ValueError("[data] kind='tensor_file' needs path = '<file under MFM_DATA>'")
    file = require_file(DataFile(relpath=path, url=url, sha256=sha256), root=root)
    obj = torch.load(file, map_location="cpu", weights_only=True)
    if isinstance(obj, Tensor) or (
        isinstance(obj, dict) and "x1" in obj and all(isinstance(v, Tensor) for v in obj.values())
    ):
        return obj
    raise ValueError(
        f"{file}: expected a Tensor or a dict of tensors with 'x1', got {type(obj).__name__}"
    )
