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
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.data.files import DataFile, require_file
from manifold_fm.spaces.base import Space
from manifold_fm.train.config import check_keys

__all__ = ["DATASETS", "MODELS", "SPACES", "Registry"]


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
    periodic: bool = False,
) -> nn.Module:
    """TimeMLP sized from the space; ``tangent`` projects outputs with ``space.proju``;
    ``periodic`` feeds angles as (cos, sin) (flat torus: a field continuous across 2 pi)."""
    from manifold_fm.nn import PeriodicInput, TangentModel, TimeMLP

    net = TimeMLP.for_space(
        space, hidden=hidden, depth=depth, time_dim=time_dim, n_classes=n_classes or None
    )
    if periodic:
        d = int(space.event_shape[-1])
        net = PeriodicInput(
            TimeMLP(2 * d, d, hidden=hidden, depth=depth, time_dim=time_dim,
                    n_classes=n_classes or None)
        )  # fmt: skip
    return TangentModel(space, net) if tangent and hasattr(space, "proju") else net


@DATASETS.register("vmf_mixture")
def _vmf_mixture(
    space: Space, n: int = 20000, k: int = 4, kappa: float = 50.0, seed: int = 0
) -> dict[str, Tensor]:
    """Equal mixture of k von Mises-Fisher components on S^2 with random means.

    Draws through :class:`manifold_fm.data.synthetic.VMFMixture` (exact density available
    there). Returns ``{"x1": (n, 3) float32, "label": (n,) long}`` (the component index,
    usable as a condition).
    """
    from manifold_fm.data.synthetic import VMFMixture

    if type(space).__name__ != "Sphere" or tuple(space.event_shape) != (3,):
        raise ValueError(f"vmf_mixture needs Sphere(2), got {space!r}")
    gen = torch.Generator().manual_seed(seed)
    mus = torch.randn(k, 3, generator=gen, dtype=torch.float64)
    mix = VMFMixture(mus, torch.full((k,), float(kappa), dtype=torch.float64))
    labels = torch.randint(0, k, (n,), generator=gen)
    return {"x1": mix.sample_components(labels, gen).float(), "label": labels}


@DATASETS.register("earth")
def _earth(space: Space, name: str = "volcano", root: str | None = None) -> Tensor:
    """Earth science points on S^2 (volcano, earthquake, flood, fire), float32 (n, 3)."""
    from manifold_fm.data.earth import load_earth

    return load_earth(name, root).float()


@DATASETS.register("rna")
def _rna(space: Space, root: str | None = None) -> Tensor:
    """RNA torsion angles on T^7, float32 (n, 7) in [0, 2 pi)."""
    from manifold_fm.data.torus import load_rna

    return load_rna(root).float()


@DATASETS.register("text")
def _text(
    space: Space, name: str = "tinyshakespeare", split: str = "train", root: str | None = None
) -> Tensor:
    """Character chunks of the space's length from a text corpus, long (n, length)."""
    from manifold_fm.data.text import load_text

    return load_text(name, root).chunks(split, int(space.event_shape[0]))


SPACES.add_lazy("so3", "manifold_fm.spaces.so3:SO3")
SPACES.add_lazy("se3", "manifold_fm.spaces.se3:SE3")
SPACES.add_lazy("ctmc", "discrete_fm.space:CTMCSpace")


@MODELS.register("transformer")
def _transformer(
    space: Space, dim: int = 128, depth: int = 4, heads: int = 4, dropout: float = 0.0
) -> nn.Module:
    """Bidirectional SequenceTransformer sized from a CTMC space (``for_space``)."""
    from manifold_fm.nn.transformer import SequenceTransformer

    return SequenceTransformer.for_space(space, dim=dim, depth=depth, heads=heads, dropout=dropout)


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
