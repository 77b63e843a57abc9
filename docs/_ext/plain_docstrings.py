"""Read the package's plain-text maths in docstrings as text, not as rst markup.

The docstrings write norms and shapes as in a paper or a terminal (``|x|``, ``(n, *event)``);
reStructuredText would read ``|x|`` as a substitution and a lone ``*`` as the start of
emphasis, and a build with warnings as errors fails. This extension escapes those two
characters outside inline literals and literal blocks after napoleon has turned the
docstring into rst, so the text shows as written.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["escape_line", "setup"]

_LITERAL = re.compile(r"(``.+?``|:math:`[^`]*`|`[^`]*`_?)")


def _escape(text: str) -> str:
    text = re.sub(r"(?<!\\)\|", r"\\|", text)
    if text.count("*") % 2 or re.search(r"(^|[\s(\[,])\*(?=\w)", text):
        text = re.sub(r"(?<![\\*])\*(?!\*)", r"\\*", text)  # lone stars, not **strong**
    return text


def escape_line(line: str) -> str:
    """``line`` with ``|`` and lone ``*`` escaped outside inline literals and roles."""
    bullet = re.match(r"^\s*[*+-] ", line)  # a list item's marker stays markup
    head, rest = (bullet.group(0), line[bullet.end() :]) if bullet else ("", line)
    parts = _LITERAL.split(rest)
    return head + "".join(p if i % 2 else _escape(p) for i, p in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


_RAW_DIRECTIVES = re.compile(r"^\s*\.\. (code-block|code|sourcecode|math|highlight|doctest)::")
_FIELD = re.compile(r"^(\s*:[^:]+:)(.*)$")


def _process(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    block_indent: int | None = None  # indentation of the line that opened a literal block
    for i, line in enumerate(lines):
        if block_indent is not None:
            if not line.strip() or _indent(line) > block_indent:
                continue
            block_indent = None
        if _RAW_DIRECTIVES.match(line):
            block_indent = _indent(line)
        elif line.lstrip().startswith(".. "):
            continue  # other directives: their options and content are read as text below
        elif line.rstrip().endswith("::"):
            block_indent = _indent(line)
            lines[i] = escape_line(line.rstrip()[:-2]) + "::"
        elif field := _FIELD.match(line):
            if not field.group(1).strip().startswith((":type", ":rtype", ":vartype")):
                lines[i] = field.group(1) + escape_line(field.group(2))
        else:
            lines[i] = escape_line(line)


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: run after napoleon (priority 500) on every docstring."""
    app.connect("autodoc-process-docstring", _process, priority=600)
    return {"parallel_read_safe": True, "version": "1"}
