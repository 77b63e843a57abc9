"""Couplings by name, and the options check behind ``TrainConfig.coupling_options``.

Built in: ``"independent"``, ``"ot"`` (blocked exact OT), ``"ot_exact"`` and ``"sinkhorn"``;
a domain adds its own with :func:`register_coupling` (the proteins package adds
``"kabsch_ot"``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from manifold_fm.couplings.base import CouplingResult, check_positive, independent, uses_mask
from manifold_fm.couplings.ot import exact_ot, minibatch_ot
from manifold_fm.couplings.sinkhorn import sinkhorn
from manifold_fm.keyword_check import check_keys

__all__ = ["COUPLINGS", "CouplingFn", "coupling_option_names", "get_coupling", "register_coupling"]

CouplingFn = Callable[..., CouplingResult]

#: name -> coupling function (:func:`register_coupling` adds to it)
COUPLINGS: dict[str, CouplingFn] = {
    "independent": independent,
    "ot": minibatch_ot,
    "ot_exact": exact_ot,
    "sinkhorn": sinkhorn,
}

#: the built-in couplings' options, all positive numbers of this type
_OPTION_KINDS: dict[str, type] = {
    "block_size": int,
    "iters": int,
    "rounds": int,
    "epsilon": float,
    "tol": float,
}


def register_coupling(name: str, fn: CouplingFn) -> None:
    """Make ``fn`` available as ``TrainConfig(coupling=name)``; a taken name is a ValueError."""
    if name in COUPLINGS and COUPLINGS[name] is not fn:
        raise ValueError(f"coupling name {name!r} is already taken by {COUPLINGS[name]!r}")
    COUPLINGS[name] = fn


def coupling_option_names(fn: CouplingFn) -> tuple[str, ...]:
    """The keyword-only options a coupling function takes (e.g. ``('block_size',)``)."""
    params = inspect.signature(fn).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def get_coupling(name: str | CouplingFn, options: Mapping[str, Any] | None = None) -> CouplingFn:
    """Look up a coupling by name (a key of :data:`COUPLINGS`) or pass a callable through.

    ``options`` are keyword options of that coupling (``ot``: ``block_size``; ``sinkhorn``:
    ``epsilon``, ``iters``, ``tol``, ``rounds``); an unknown key is a ValueError naming the
    closest valid one, checked before any pairing is done. Without options the function
    itself is returned.
    """
    if callable(name):
        fn = name
    elif name not in COUPLINGS:
        raise ValueError(f"unknown coupling {name!r}; choose one of {sorted(COUPLINGS)}")
    else:
        fn = COUPLINGS[name]
    if not options:
        return fn
    label = name if isinstance(name, str) else getattr(fn, "__name__", repr(fn))
    check_keys(dict(options), coupling_option_names(fn), f"coupling {label!r} options")
    for key, value in options.items():  # values checked now, not at the first step
        if key in _OPTION_KINDS:
            check_positive(key, value, _OPTION_KINDS[key])
    bound = functools.partial(fn, **dict(options))
    bound.uses_mask = uses_mask(fn)  # the Trainer reads it off the coupling
    return bound
