"""A command-line run as a TOML file: ``[space]``, ``[model]``, ``[data]``, ``[train]``.

The first three sections name a registry kind (``kind = "sphere"``) plus that builder's
keywords (checked against the builder by :mod:`manifold_fm.cli.registry`); ``[train]`` is a
:class:`~manifold_fm.train.TrainConfig`. ``--set section.key=value`` overrides one value
before validation. Every problem is a typed error naming the file, section, key and value:
:class:`~manifold_fm.keyword_check.ConfigKeyError` (a ValueError) for unknown or missing
names, :class:`~manifold_fm.keyword_check.ConfigTypeError` (a TypeError) for wrong types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifold_fm.keyword_check import ConfigKeyError, check_keys, closest
from manifold_fm.train.config import TrainConfig

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["SECTIONS", "RunConfig", "apply_override", "load_run_config", "parse_value"]

#: the sections of a run file; the first three name a registry kind
SECTIONS = ("space", "model", "data", "train")


def _kind_section(d: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    """Section ``name`` of ``d`` as a dict with a ``kind``; a near-miss key is named."""
    sec = d.get(name)
    if not isinstance(sec, dict):
        raise ConfigKeyError(f"{where}: section [{name}] with a 'kind' key is required")
    if "kind" not in sec:
        near = closest("kind", [str(k) for k in sec], cutoff=0.6)
        hint = f"; found {near!r}: did you mean 'kind'?" if near else ""
        raise ConfigKeyError(f"{where}: section [{name}] needs a 'kind' key{hint}")
    return dict(sec)


@dataclass
class RunConfig:
    """A full run: which space, model and data (by registry name) and how to train.

    TOML layout::

        [space]  kind = "sphere"  d = 2
        [model]  kind = "mlp"     hidden = 256
        [data]   kind = "vmf_mixture"  n = 20000
        [train]  steps = 2000 ...
    """

    space: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> RunConfig:
        """Build from a parsed TOML dict; unknown sections/keys raise ConfigKeyError."""
        check_keys(d, SECTIONS, where)
        sections = {name: _kind_section(d, name, where) for name in SECTIONS[:3]}
        train = d.get("train", {})
        if not isinstance(train, dict):
            raise ConfigKeyError(f"{where}: [train] must be a table, got {train!r}")
        return cls(train=TrainConfig.from_dict(dict(train), f"{where} [train]"), **sections)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict with the four sections."""
        return {
            "space": dict(self.space),
            "model": dict(self.model),
            "data": dict(self.data),
            "train": self.train.to_dict(),
        }


def parse_value(text: str) -> Any:
    """Parse a command-line value as a TOML value (``3``, ``1e-3``, ``true``, ``"a"``).

    Bare words that are not TOML (``cosine``) are taken as strings.
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_override(d: dict[str, Any], assignment: str) -> None:
    """Apply ``section.key=value`` (e.g. ``train.lr=3e-4``) to a parsed TOML dict in place."""
    if "=" not in assignment:
        raise ConfigKeyError(f"--set expects section.key=value, got {assignment!r}")
    path, value = assignment.split("=", 1)
    keys = path.strip().split(".")
    if len(keys) != 2 or not all(keys):
        raise ConfigKeyError(
            f"--set expects section.key=value with one dot (e.g. train.lr=3e-4), got {path!r}"
        )
    section, key = keys
    check_keys({section: None}, SECTIONS, "--set")
    d.setdefault(section, {})[key] = parse_value(value.strip())


def load_run_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Read a TOML run config, apply ``section.key=value`` overrides, validate it."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {str(p)!r} does not exist")
    try:
        d = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {str(p)!r} is not valid TOML: {err}") from err
    for a in overrides:
        apply_override(d, a)
    return RunConfig.from_dict(d, where=str(p))
