"""Option types and the parser class of the ``mfm`` command.

argparse types that reject bad numbers with a sentence naming the rule, the list of
``--method`` names taken from the solver tables, and a parser that raises
:class:`CLIError` (reported by :func:`manifold_fm.cli.main.main` as one line) instead of
printing usage and exiting.
"""

from __future__ import annotations

import argparse
import math

from manifold_fm.errors import ManifoldFMError

__all__ = ["CLIError", "Parser", "count", "finite", "seed"]


class CLIError(ManifoldFMError, ValueError):
    """A command-line option or checkpoint that ``mfm`` cannot use."""


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`CLIError` instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(f"{message} (see {self.prog} -h)")


def _whole(text: str, lo: int) -> int:
    """``int(text)`` if it is a whole number >= ``lo``, else argparse's type error."""
    try:
        value = int(text)
    except ValueError:
        value = lo - 1
    if value < lo:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {lo}, got {text!r}")
    return value


def count(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole(text, 1)


def seed(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole(text, 0)


def finite(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value
