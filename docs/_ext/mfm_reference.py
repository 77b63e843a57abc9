"""Reference pages generated from the code: the ``mfm`` command and the config keys.

Why generated: a hand-written table of options drifts the day an option changes. At every
documentation build this Sphinx extension writes ``docs/reference/generated/cli.rst`` from
the argparse parsers (:func:`manifold_fm.cli.main.build_parser` and the demo's) and
``config.rst`` from :class:`~manifold_fm.train.TrainConfig` (type, default and the meaning
from its ``Attributes:`` docstring) and the registries behind ``[space]``, ``[model]`` and
``[data]`` (keys, types and defaults from the builders' signatures). The test
``tests/docs/test_docs_reference.py`` compares these texts with the parser and dataclasses.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Any

__all__ = ["DocDriftError", "cli_reference", "config_reference", "field_meanings", "setup"]


class DocDriftError(ValueError):
    """A documented name and the code disagree (a field without a meaning, or vice versa)."""


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return re.sub(r"\btyping\.|\b(builtins|torch)\.", "", str(tp)).replace("NoneType", "None")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """An rst list-table (cells may hold any inline markup)."""
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        out.append(f"   * - {row[0]}")
        out += [f"     - {cell}" for cell in row[1:]]
    return [*out, ""]


def _rst_text(text: str | None) -> str:
    """Plain help text as rst: `code` becomes ``code``, stray markup characters are escaped."""
    from plain_docstrings import escape_line

    text = re.sub(r"(?<![`:])`([^`]+)`(?!`)", r"``\1``", text or "")
    return escape_line(text)


def _rst_doc(text: str) -> str:
    """Docstring text (already rst) with its plain-text maths escaped."""
    from plain_docstrings import escape_line

    return escape_line(text)


def _lit(value: Any) -> str:
    text = repr(value)
    return f"``{text}``" if text else ""


# -- the mfm command --------------------------------------------------------------------
def _action_rows(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    rows = []
    for act in parser._actions:  # argparse keeps no public list of its arguments
        if isinstance(act, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = ", ".join(act.option_strings) or act.dest
        metavar = act.metavar or (act.dest.upper() if act.option_strings else "")
        kind = "flag" if act.nargs == 0 else getattr(act.type, "__name__", "str")
        if isinstance(act, argparse._AppendAction):
            kind += " (repeatable)"
        shown = f"``{name} {metavar}``" if act.option_strings and act.nargs != 0 else f"``{name}``"
        quiet = act.default is None or act.default is False or not act.option_strings
        rows.append((shown, kind, "" if quiet else _lit(act.default), _rst_text(act.help)))
    return rows


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for act in parser._actions:
        if isinstance(act, argparse._SubParsersAction):
            return dict(act.choices)
    return {}


def cli_reference(
    parser: argparse.ArgumentParser | None = None, demo: argparse.ArgumentParser | None = None
) -> str:
    """rst for every ``mfm`` command and option (name, type, default, help).

    Args:
        parser: the ``mfm`` parser (default :func:`manifold_fm.cli.main.build_parser`).
        demo: the demo's own parser (default :func:`manifold_fm.cli.demo.build_parser`).
    """
    from manifold_fm.cli import demo as demo_mod
    from manifold_fm.cli.main import build_parser

    parser = parser if parser is not None else build_parser()
    demo = demo if demo is not None else demo_mod.build_parser()
    lines = ["The ``mfm`` command", "===================", "", parser.description or "", ""]
    lines += ["Generated from the argparse parsers at build time.", ""]
    for name, sub in _subparsers(parser).items():
        if name == "demo":
            sub = demo  # `mfm demo` hands its arguments to the demo's parser
        title = f"mfm {name}"
        lines += [title, "-" * len(title), "", _rst_text(sub.description), "", "Usage::", ""]
        usage = sub.format_usage().strip().removeprefix("usage: ")
        lines += [f"    {line}" for line in usage.splitlines()] + [""]
        lines += _table(("argument", "type", "default", "meaning"), _action_rows(sub))
    return "\n".join(lines) + "\n"


# -- the config file --------------------------------------------------------------------
def field_meanings(cls: type) -> dict[str, str]:
    """``field -> meaning`` from the ``Attributes:`` section of a dataclass docstring.

    An entry ``lr, weight_decay: AdamW settings.`` documents both names; indented lines
    continue the entry above. Raises :class:`DocDriftError` when a field has no entry or an
    entry names no field.
    """
    doc = inspect.getdoc(cls) or ""
    _, found, body = doc.partition("Attributes:\n")
    if not found:
        raise DocDriftError(f"{cls.__name__}: docstring has no 'Attributes:' section")
    meanings: dict[str, str] = {}
    current: list[str] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            break  # the next docstring section
        head = re.match(r"^ {4}([\w, ]+):\s*(.*)$", line)
        if head:
            current = [n.strip() for n in head.group(1).split(",")]
            for n in current:
                meanings[n] = head.group(2)
        else:
            for n in current:
                meanings[n] += " " + line.strip()
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in meanings]
    extra = [n for n in meanings if n not in names]
    if missing or extra:
        raise DocDriftError(
            f"{cls.__name__}: fields without a meaning in 'Attributes:': {missing}; "
            f"entries naming no field: {extra}"
        )
    return {n: meanings[n] for n in names}


def field_default(f: dataclasses.Field) -> Any:
    """The default a dataclass field takes: its value, or what its factory makes."""
    if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _train_rows(cls: type) -> list[tuple[str, ...]]:
    hints = typing.get_type_hints(cls)
    meanings = field_meanings(cls)
    return [
        (
            f"``{f.name}``",
            f"``{_type_name(hints[f.name])}``",
            _lit(field_default(f)),
            _rst_doc(meanings[f.name]),
        )
        for f in dataclasses.fields(cls)
    ]


def _kind_rows(registry: Any) -> list[tuple[str, ...]]:
    from manifold_fm.cli.registry import CONTEXT_KEYS
    from manifold_fm.keyword_check import type_hints

    rows = []
    for kind in registry.names():
        fn = registry.get(kind)
        hints = type_hints(fn)
        params = list(inspect.signature(fn).parameters.values())[registry.n_positional :]
        keys = [
            f"``{p.name}`` (``{_type_name(hints[p.name]) if p.name in hints else 'any'}``"
            + (f", default ``{p.default!r}``" if p.default is not p.empty else ", required")
            + ")"
            for p in params
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in CONTEXT_KEYS
        ]
        doc = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
        rows.append((f"``{kind}``", "; ".join(keys) or "(none)", _rst_doc(doc)))
    return rows


def config_reference(train_cls: type | None = None) -> str:
    """rst for every key of a ``mfm train`` TOML file.

    Args:
        train_cls: the ``[train]`` dataclass (default :class:`manifold_fm.train.TrainConfig`).
    """
    from manifold_fm.cli.registry import DATASETS, MODELS, SPACES
    from manifold_fm.train import TrainConfig

    train_cls = train_cls if train_cls is not None else TrainConfig
    lines = ["Config files", "============", ""]
    lines += [
        "A run file has four sections: ``[space]``, ``[model]`` and ``[data]`` name a "
        "registered ``kind`` plus that builder's keys; ``[train]`` holds the keys of "
        ":class:`~manifold_fm.train.TrainConfig`. ``mfm train FILE --set section.key=value`` "
        "overrides one value. Generated from the code at build time.",
        "",
        "[train]",
        "-------",
        "",
    ]
    lines += _table(("key", "type", "default", "meaning"), _train_rows(train_cls))
    for title, reg in (("[space]", SPACES), ("[model]", MODELS), ("[data]", DATASETS)):
        lines += [title, "-" * len(title), ""]
        lines += _table(("kind", "keys (type, default)", "what it builds"), _kind_rows(reg))
    return "\n".join(lines) + "\n"


def _write(app: Any) -> None:
    out = Path(app.srcdir) / "reference" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("cli.rst", cli_reference()), ("config.rst", config_reference())):
        path = out / name
        if not path.exists() or path.read_text() != text:  # unchanged files keep their mtime
            path.write_text(text)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: write the generated pages before sources are read."""
    app.connect("builder-inited", _write)
    return {"parallel_read_safe": True, "version": "1"}
