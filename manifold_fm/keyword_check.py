"""Checks of named settings against what a function or dataclass declares it takes.

Config files and command lines hand builders plain values (TOML: bool, int, float, str,
lists, tables). Two generic checks run before any builder is called:

* :func:`check_keys`: every key is a parameter name; a typo names the closest valid one.
* :func:`check_types`: every value fits the parameter's type annotation. The rules are
  strict where a silent conversion would change meaning: a string is never a bool
  (``"false"`` is truthy), a float is never an int (``25.7`` layers), a bool is never a
  number; an int is accepted for a float. Annotations the checker cannot judge (callables,
  type variables, unresolvable names) are left to the builder.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from manifold_fm.errors import ManifoldFMError

__all__ = [
    "ConfigKeyError",
    "ConfigTypeError",
    "check_keys",
    "check_types",
    "closest",
    "type_hints",
]


class ConfigKeyError(ManifoldFMError, ValueError):
    """A setting names a key, section or kind that does not exist."""


class ConfigTypeError(ManifoldFMError, TypeError):
    """A setting's value does not have the type its parameter declares."""


def closest(word: str, valid: Iterable[str], cutoff: float = 0.5) -> str | None:
    """The valid word nearest to ``word`` (difflib ratio >= cutoff), or None."""
    close = difflib.get_close_matches(str(word), list(valid), n=1, cutoff=cutoff)
    return close[0] if close else None


def check_keys(d: Mapping[str, Any], valid: Iterable[str], where: str) -> None:
    """Raise :class:`ConfigKeyError` for the first key of ``d`` not in ``valid``.

    The message names the key, ``where`` it was found, the closest valid key and the full
    sorted list of valid keys.
    """
    valid = list(valid)
    for key in d:
        if key not in valid:
            near = closest(key, valid)
            hint = f"; did you mean {near!r}?" if near else ""
            raise ConfigKeyError(
                f"unknown key {key!r} in {where}{hint} (valid keys: {', '.join(sorted(valid))})"
            )


def type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved parameter annotations of a function, class (its ``__init__``) or dataclass.

    Names that cannot be resolved leave that parameter unannotated (unchecked).
    """
    target = fn.__init__ if inspect.isclass(fn) and not dataclasses.is_dataclass(fn) else fn
    try:
        return typing.get_type_hints(target)
    except Exception:  # a forward reference that does not resolve: check nothing
        return {}


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _fits(value: Any, tp: Any) -> bool | None:
    """True / False when ``value`` does / does not fit ``tp``; None when undecidable."""
    if tp is Any or tp is inspect.Parameter.empty:
        return True
    if tp is None or tp is type(None):
        return value is None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        verdicts = [_fits(value, a) for a in args]
        if any(v is True for v in verdicts):
            return True
        return None if any(v is None for v in verdicts) else False
    if origin is typing.Literal:
        return value in args
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (list, tuple, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args and (origin is not tuple or len(args) == 2) else Any
        if origin is tuple and len(args) == 2 and args[1] is not Ellipsis:
            return len(value) == 2 and all(_fits(v, a) is not False for v, a in zip(value, args))
        return all(_fits(v, item) is not False for v in value)
    if origin in (dict, collections.abc.Mapping):
        return isinstance(value, dict)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return None


def check_types(values: Mapping[str, Any], hints: Mapping[str, Any], where: str) -> None:
    """Raise :class:`ConfigTypeError` for the first value that does not fit its annotation.

    ``hints`` maps parameter names to annotations (:func:`type_hints`); keys without a hint
    are not checked. The message names the key, ``where``, the value and the expected type.
    """
    for key, value in values.items():
        if key in hints and _fits(value, hints[key]) is False:
            raise ConfigTypeError(
                f"{where}: {key} = {value!r} has type {type(value).__name__}, "
                f"expected {_describe(hints[key])}"
            )
