"""Conditioning conventions shared by the trainer, the samplers and the likelihood.

A model is called as ``model(x_t, t, **cond)``. For classifier-free guidance the trainer
drops the condition of a random subset of rows and the sampler asks for an unconditional
output; both say so with one extra keyword, ``cond_drop``: a bool tensor of shape
``(batch,)``, True where the model must ignore its condition. Models that take no condition
never receive it.

:func:`check_cond` refuses a condition the model would not read (a typo such as
``cond={"lable": y}`` would otherwise give unconditional samples). What a model takes:

* its ``cond_keys`` attribute, when it declares one (a collection of names, or None for
  "anything");
* else the keyword parameters of its ``forward`` (of the callable itself for plain
  functions) after ``x`` and ``t``. A ``**kwargs`` parameter accepts anything, unless its
  name starts with ``_`` (``**_``: extras are accepted and ignored, so a condition sent
  there is lost). A forwarding wrapper -- ``**kwargs`` and one inner model under ``net``,
  ``module`` (DDP, EMA) or ``_orig_mod`` (torch.compile) -- takes what the inner model takes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from manifold_fm.errors import ManifoldFMError

__all__ = [
    "COND_DROP",
    "SELF_COND",
    "ConditionError",
    "accepted_cond_keys",
    "check_cond",
    "check_self_condition",
    "model_device",
    "rows_of",
    "with_dropped",
]

COND_DROP = "cond_drop"
#: the keyword a self-conditioned model reads its previous clean-point estimate from
SELF_COND = "self_cond"
#: attributes under which forwarding wrappers keep the model they call
_WRAPPED = ("net", "module", "_orig_mod")


class ConditionError(ManifoldFMError, ValueError):
    """A condition (or guidance) the model does not take."""


def with_dropped(cond: dict[str, Any], drop: Tensor) -> dict[str, Any]:
    """Return ``cond`` plus ``cond_drop=drop`` (shape ``(batch,)``, bool)."""
    return {**cond, COND_DROP: drop.to(torch.bool)}


def rows_of(cond: dict[str, Any] | None, lo: int, hi: int, n: int) -> dict[str, Any]:
    """The condition of rows ``lo:hi`` of a batch of ``n``, for chunked model calls.

    Per-row values (tensors of shape ``(n, ...)``) are sliced to ``(hi - lo, ...)``; all
    others (scalars, shared tensors, Python values) are passed through unchanged.
    """
    return {
        k: v[lo:hi] if isinstance(v, Tensor) and v.dim() > 0 and v.shape[0] == n else v
        for k, v in (cond or {}).items()
    }


def accepted_cond_keys(model: nn.Module | Callable[..., Any]) -> frozenset[str] | None:
    """The condition keywords ``model`` reads, or None if it accepts any (module docstring)."""
    declared = getattr(model, "cond_keys", False)
    if declared is not False:
        return None if declared is None else frozenset(declared)
    fn = model.forward if isinstance(model, nn.Module) else model
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: cannot tell
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    named = [p for p in params if p.kind in positional][2:]  # after x and t
    keys = {p.name for p in named} | {
        p.name for p in params if p.kind == inspect.Parameter.KEYWORD_ONLY
    }
    var = [p for p in params if p.kind == inspect.Parameter.VAR_KEYWORD]
    if not var or var[0].name.startswith("_"):
        return frozenset(keys)
    inner = [getattr(model, a) for a in _WRAPPED if isinstance(getattr(model, a, None), nn.Module)]
    if len(inner) != 1:
        return None
    below = accepted_cond_keys(inner[0])
    return None if below is None else frozenset(keys | below)


def check_cond(
    model: nn.Module | Callable[..., Any],
    cond: dict[str, Any] | None,
    *,
    guidance: bool = False,
) -> None:
    """Raise :class:`ConditionError` if ``model`` would not read every key of ``cond``.

    With ``guidance`` the model must also take ``cond_drop`` (its unconditional output).
    Runs before any work; ``mask`` is not a condition (a model may ignore padding).
    """
    keys = set(cond or {}) - {"mask"}
    if guidance:
        keys.add(COND_DROP)
    if not keys:
        return
    accepted = accepted_cond_keys(model)
    if accepted is None:
        return
    missing = sorted(keys - accepted)
    if not missing:
        return
    name = (
        type(model).__name__
        if isinstance(model, nn.Module)
        else getattr(model, "__name__", "model")
    )
    takes = ", ".join(sorted(accepted)) or "no condition"
    what = "guidance needs a model that takes cond_drop; " if missing == [COND_DROP] else ""
    raise ConditionError(
        f"{what}model {name} does not take condition {', '.join(map(repr, missing))} "
        f"(it takes: {takes})"
    )


def model_device(model: nn.Module | Callable[..., Any]) -> torch.device | None:
    """Device of the model's first parameter (or buffer); None for parameter-free callables."""
    if not isinstance(model, nn.Module):
        return None
    first = next(iter(model.parameters()), None)
    first = next(iter(model.buffers()), None) if first is None else first
    return None if first is None else first.device


def check_self_condition(model: nn.Module | Callable[..., Any]) -> None:
    """Raise ConditionError unless ``model`` takes the ``self_cond`` keyword."""
    keys = accepted_cond_keys(model)
    if keys is not None and SELF_COND not in keys:
        name = type(model).__name__
        raise ConditionError(
            f"self-conditioning needs a model that takes the keyword {SELF_COND!r} (None or "
            f"the previous clean-point estimate); model {name} takes: "
            f"{', '.join(sorted(keys)) or 'no keyword'}"
        )
