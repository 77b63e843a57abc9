"""The one timer of the benchmarks: warm-up, then repeated timed blocks, interleaved.

Several callables (ours and its peers) are timed in the same blocks so that load on a
shared machine hits them alike: block b runs ``per_block`` calls of every callable, in an
order rotated by b (``rotate=True``) or always in the given order. Each block records its
wall time (``time.perf_counter``) and process CPU time (``time.process_time``); the
summaries are the median, the best (minimum: noise only ever adds time) and the
inter-quartile range, with the torch intra-op thread count the blocks ran under.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

__all__ = ["Timing", "TimingConfigError", "speed_row", "time_blocks"]


class TimingConfigError(ValueError):
    """The timer was asked for an impossible schedule; the message names the argument."""


@dataclass(frozen=True)
class Timing:
    """Per-block seconds of one callable: ``wall[b]``, ``cpu[b]`` for blocks b = 0..B-1."""

    wall: tuple[float, ...]
    cpu: tuple[float, ...]
    calls_per_block: int
    threads: int

    def _series(self, kind: str) -> tuple[float, ...]:
        if kind not in ("wall", "cpu"):
            raise TimingConfigError(f"kind must be 'wall' or 'cpu', got {kind!r}")
        return self.wall if kind == "wall" else self.cpu

    def median(self, kind: str = "wall") -> float:
        """Median seconds per block."""
        return statistics.median(self._series(kind))

    def best(self, kind: str = "wall") -> float:
        """Minimum seconds per block."""
        return min(self._series(kind))

    def iqr(self, kind: str = "wall") -> float:
        """Inter-quartile range q3 - q1 of the seconds per block (0 for one block)."""
        s = self._series(kind)
        if len(s) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
        return q3 - q1

    def rates(self, kind: str = "wall") -> list[float]:
        """Calls per second of each block: calls_per_block / seconds."""
        return [self.calls_per_block / s for s in self._series(kind)]

    def median_rate(self, kind: str = "wall") -> float:
        """Median over blocks of the block's calls per second."""
        return statistics.median(self.rates(kind))

    def best_rate(self, kind: str = "wall") -> float:
        """Calls per second of the fastest block."""
        return self.calls_per_block / self.best(kind)

    @property
    def total_s(self) -> float:
        """Wall seconds of all timed blocks."""
        return sum(self.wall)

    def summary(self) -> dict:
        """JSON-ready figures: median / best / IQR seconds per block, blocks, threads."""
        return {
            "median_s": self.median(),
            "best_s": self.best(),
            "iqr_s": self.iqr(),
            "blocks": len(self.wall),
            "calls_per_block": self.calls_per_block,
            "threads": self.threads,
        }


def time_blocks(
    fns: Mapping[str, Callable[[], object]],
    *,
    blocks: int,
    per_block: int = 1,
    warmup: int = 1,
    rotate: bool = True,
    clock: Callable[[], float] = time.perf_counter,
    cpu_clock: Callable[[], float] = time.process_time,
) -> dict[str, Timing]:
    """Time every callable of ``fns`` in ``blocks`` blocks of ``per_block`` calls.

    First ``warmup`` untimed calls of each callable (in the given order), then for block b
    the order ``names[b % k:] + names[:b % k]`` (k callables) when ``rotate``, else the
    given order. Returns name -> :class:`Timing`. ``clock`` and ``cpu_clock`` are the wall
    and CPU clocks (injectable for tests).
    """
    names = list(fns)
    if not names:
        raise TimingConfigError("fns is empty: nothing to time")
    limits = (("blocks", blocks, 1), ("per_block", per_block, 1), ("warmup", warmup, 0))
    for key, value, low in limits:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise TimingConfigError(f"{key} must be an integer >= {low}, got {value!r}")
    for name in names:
        if not callable(fns[name]):
            raise TimingConfigError(f"fns[{name!r}] is not callable: {fns[name]!r}")
    for name in names:
        for _ in range(warmup):
            fns[name]()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for b in range(blocks):
        shift = b % len(names) if rotate else 0
        for name in names[shift:] + names[:shift]:
            fn = fns[name]
            w0, c0 = clock(), cpu_clock()
            for _ in range(per_block):
                fn()
            wall[name].append(clock() - w0)
            cpu[name].append(cpu_clock() - c0)
    threads = torch.get_num_threads()
    return {n: Timing(tuple(wall[n]), tuple(cpu[n]), per_block, threads) for n in names}


def speed_row(
    name: str,
    unit: str,
    ours: float,
    peer: str,
    peer_value: float,
    *,
    lower_is_better: bool,
    **extra,
) -> dict:
    """A row of benchmarks/results/speed.json: ours beside one peer.

    ``ratio`` > 1 means manifold-fm is faster: ours / peer for rates (steps/s, tokens/s),
    peer / ours for times (``lower_is_better``: ms, us/call). ``extra`` fields follow.
    """
    ratio = peer_value / ours if lower_is_better else ours / peer_value
    return {
        "name": name,
        "unit": unit,
        "ours": ours,
        "peer": peer,
        "peer_value": peer_value,
        "ratio": ratio,
        **extra,
    }
