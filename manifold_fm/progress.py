"""Progress output that suits where it is written.

On a terminal a tqdm bar redraws itself in place; in a log (CI, ``make demo > log``) those
carriage-return frames pile up into hundreds of unreadable lines. :func:`progress` returns a
tqdm bar when the stream is a terminal and a :class:`LineProgress` otherwise, which prints
one plain line ``desc: k/total (p%) key=value ...`` at most every ``min_interval_s``
seconds (and once at the end). Both offer ``update``, ``set_postfix`` and ``close``, and
both work as iterators over a wrapped iterable, so the Trainer, :func:`manifold_fm.solvers.sample`
and the demo use them alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

__all__ = ["LineProgress", "progress"]


class LineProgress:
    """Periodic one-line progress reports for streams that are not terminals.

    Args:
        iterable: optional iterable to wrap (iterating it advances the count).
        total: number of units expected (None: unknown).
        desc: label at the start of each line.
        initial: count to start from (a resumed run).
        stream: where lines go (default ``sys.stderr``).
        min_interval_s: least time between two lines; the final line is always written.
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        initial: int = 0,
        stream: TextIO | None = None,
        min_interval_s: float = 10.0,
    ) -> None:
        if not min_interval_s >= 0:
            raise ValueError(f"LineProgress: min_interval_s must be >= 0, got {min_interval_s}")
        self.iterable, self.total, self.desc = iterable, total, desc
        self.n = int(initial)
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval_s = float(min_interval_s)
        self.postfix: dict[str, str] = {}
        self._start = self._last = time.monotonic()
        self._last_n = self.n
        self._closed = False

    def _line(self) -> str:
        done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        rate = (self.n - self._last_n) / max(time.monotonic() - self._start, 1e-9)
        extra = "".join(f" {k}={v}" for k, v in self.postfix.items())
        return f"{self.desc}: {done}{pct} {rate:.1f} it/s{extra}"

    def _emit(self) -> None:
        print(self._line(), file=self.stream, flush=True)
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` units; write a line if ``min_interval_s`` has passed."""
        self.n += n
        if time.monotonic() - self._last >= self.min_interval_s:
            self._emit()

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        """Values shown at the end of the next line (``loss=0.12``); tqdm's signature."""
        self.postfix = {k: str(v) for k, v in values.items()}

    def close(self) -> None:
        """Write the final line (once)."""
        if not self._closed:
            self._closed = True
            self._emit()

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("LineProgress: nothing to iterate (constructed without an iterable)")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    initial: int = 0,
    leave: bool = True,
    stream: TextIO | None = None,
    min_interval_s: float = 10.0,
) -> Any:
    """A progress reporter for ``stream`` (default ``sys.stderr``).

    Returns a ``tqdm`` bar when the stream is a terminal, else a :class:`LineProgress`
    writing one line every ``min_interval_s`` seconds. ``leave`` (tqdm's) keeps the bar
    on screen after ``close``; a line reporter always leaves its last line.
    """
    stream = stream if stream is not None else sys.stderr
    if _is_terminal(stream):
        from tqdm.auto import tqdm

        return tqdm(
            iterable,
            total=total,
            desc=desc,
            initial=initial,
            leave=leave,
            file=stream,
            dynamic_ncols=True,
        )
    return LineProgress(
        iterable,
        total=total,
        desc=desc,
        initial=initial,
        stream=stream,
        min_interval_s=min_interval_s,
    )
