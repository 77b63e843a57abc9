"""Name -> builder tables behind the ``[space]``, ``[model]``, ``[data]`` config sections.

A builder is a function (or class); a section ``{kind = "sphere", d = 2}`` calls the
builder named ``sphere`` with ``d=2``. Before the call the section's keys are checked
against the builder's signature (a typo names the closest valid key, ``kind`` included)
and its values against the builder's annotations
(:func:`manifold_fm.keyword_check.check_types`).

Kinds come from two places:

* this package: :func:`manifold_fm.cli.builders.register` adds the kinds manifold_fm ships,
  called by :func:`load_builtin_kinds` the first time a registry is asked for a kind;
* plugins: every entry point of the group ``manifold_fm.plugins`` names a function
  ``register(spaces, models, datasets)`` that adds kinds to the three registries. Plugins
  are loaded the first time a name is not found among the kinds already registered (or
  the full list is asked for), so a run built only from core kinds imports no plugin.
  A plugin whose optional dependencies are not installed (its import fails with
  ModuleNotFoundError for a package that is not installed, as ``manifold_fm.proteins``
  does without the ``proteins`` extra) is skipped: the other kinds keep working, and asking
  for a kind nobody registered names the skipped plugin and its import error, which says
  what to install. Any other failure of a plugin raises :class:`PluginError`.

Builders register eagerly (``@SPACES.register("so3")``) or lazily by dotted path
(``SPACES.add_lazy("so3", "manifold_fm.spaces.so3:SO3")``).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
from collections.abc import Callable
from typing import Any

from manifold_fm.errors import ManifoldFMError
from manifold_fm.keyword_check import (
    ConfigKeyError,
    check_keys,
    check_types,
    closest,
    type_hints,
)

__all__ = [
    "CONTEXT_KEYS",
    "DATASETS",
    "MODELS",
    "PLUGIN_GROUP",
    "SPACES",
    "PluginError",
    "Registry",
    "load_builtin_kinds",
    "load_plugins",
    "missing_package",
    "skipped_plugins",
]

#: builder parameters the command fills from the run (never from a config section)
CONTEXT_KEYS = ("config_dir",)

#: the entry-point group through which other packages add kinds
PLUGIN_GROUP = "manifold_fm.plugins"


class PluginError(ManifoldFMError, ImportError):
    """A ``manifold_fm.plugins`` entry point could not be loaded or failed to register."""


class Registry:
    """Builders by name; ``build(section, *args)`` calls one with the section's keys.

    Args:
        what: the config section this registry serves ('space', 'model', 'data').
        n_positional: leading builder arguments supplied by the caller, not the section
            (models and data receive the space).
    """

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
        """Every registered name (plugins included), sorted."""
        load_builtin_kinds()
        load_plugins()
        return sorted(self._items)

    def get(self, name: str) -> Callable[..., Any]:
        """The builder named ``name``; :class:`ConfigKeyError` listing the known names."""
        load_builtin_kinds()
        if name not in self._items:
            load_plugins()
        if name not in self._items:
            near = closest(str(name), self._items, cutoff=0.6)
            hint = f"; did you mean {near!r}?" if near else ""
            known = ", ".join(self.names())
            skipped = "".join(
                f"; plugin {plugin!r} not loaded: {why}" for plugin, why in _SKIPPED.items()
            )
            raise ConfigKeyError(
                f"unknown {self.what} kind {name!r}{hint} (known: {known}){skipped}"
            )
        item = self._items[name]
        if isinstance(item, str):
            module, attr = item.split(":", 1)
            item = getattr(importlib.import_module(module), attr)
            self._items[name] = item
        return item

    def build(
        self, section: dict[str, Any], *args: Any, context: dict[str, Any] | None = None
    ) -> Any:
        """Call the builder ``section['kind']`` with ``*args`` and the other keys.

        ``context`` holds what the command knows about the run (:data:`CONTEXT_KEYS`;
        ``config_dir``: the config file's folder); a builder receives an entry when it has a
        parameter of that name. These names are never config keys.

        Raises ConfigKeyError (unknown kind or key) or ConfigTypeError (a value whose type
        does not match the builder's annotation) before the builder runs.
        """
        kw = dict(section)
        kind = kw.pop("kind", None)
        if kind is None:
            raise ConfigKeyError(f"[{self.what}] section needs a 'kind' key")
        fn = self.get(kind)
        where = f"[{self.what}] kind={kind!r}"
        params = list(inspect.signature(fn).parameters.values())
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            valid = [p.name for p in params[self.n_positional :] if p.name not in CONTEXT_KEYS]
            check_keys(kw, ["kind", *valid], where)
        check_types(kw, type_hints(fn), where)
        extra = {
            p.name: context[p.name]
            for p in params
            if p.name in CONTEXT_KEYS and context and p.name in context
        }
        return fn(*args, **kw, **extra)


#: spaces: ``builder(**kw) -> Space``
SPACES = Registry("space", 0)
#: models: ``builder(space, **kw) -> nn.Module``
MODELS = Registry("model", 1)
#: data: ``builder(space, **kw) -> Tensor | dict of tensors | Dataset | DataLoader``
DATASETS = Registry("data", 1)

_PLUGINS_LOADED = False
_BUILTINS_LOADED = False
#: plugin name -> why it was skipped (an optional dependency is not installed)
_SKIPPED: dict[str, str] = {}


def load_builtin_kinds() -> None:
    """Register the kinds manifold_fm ships (:func:`manifold_fm.cli.builders.register`) once."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from manifold_fm.cli.builders import register

    register(SPACES, MODELS, DATASETS)


def skipped_plugins() -> dict[str, str]:
    """Plugins skipped because an optional dependency is missing: name -> the reason."""
    load_plugins()
    return dict(_SKIPPED)


def missing_package(err: ImportError) -> str | None:
    """The top-level package whose absence made an import fail, or None for other failures.

    Only a :class:`ModuleNotFoundError` naming a package that is not installed counts: a
    missing module inside an installed package (a renamed file, a typo) is a bug of the
    plugin, not a missing extra.
    """
    if not isinstance(err, ModuleNotFoundError) or not err.name:
        return None
    top = err.name.partition(".")[0]
    try:
        installed = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        installed = False
    return None if installed else top


def load_plugins() -> None:
    """Call every ``manifold_fm.plugins`` entry point once: ``register(SPACES, MODELS,
    DATASETS)``. A plugin whose import fails because a package it needs is not installed
    is skipped and remembered (:func:`skipped_plugins`; an unknown kind names it); a plugin
    that fails to import or register for any other reason raises :class:`PluginError`
    naming it."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()(SPACES, MODELS, DATASETS)
        except Exception as err:
            if isinstance(err, ImportError) and missing_package(err) is not None:
                _SKIPPED[ep.name] = f"{err} ({ep.value})"
                continue
            raise PluginError(
                f"manifold_fm plugin {ep.name!r} ({ep.value}) failed to load: {err}"
            ) from err
