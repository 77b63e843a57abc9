"""Shared benchmark plumbing: hardware description, interleaved timing, result files.

Every benchmark records the machine, library versions, seeds and wall time beside its
figures, and writes ``benchmarks/results/<name>.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["RESULTS", "hardware", "interleaved_rates", "write_json", "write_md"]

RESULTS = Path(__file__).resolve().parent / "results"


def hardware() -> dict:
    """Machine and library description recorded with every result."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    for mod in ("flow_matching", "torchcfm", "roma", "e3nn", "geoopt"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:
            info[mod] = None
    return info


def interleaved_rates(
    fns: dict[str, Callable[[], object]], *, blocks: int, per_block: int, warmup: int = 3
) -> dict[str, dict[str, float]]:
    """Time several callables round-robin so machine load hits them alike.

    Each block runs ``per_block`` calls of every function, the order rotated per block.
    Returns per name: median calls/s over blocks, best block calls/s, total seconds.
    """
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    rates: dict[str, list[float]] = {n: [] for n in names}
    for b in range(blocks):
        order = names[b % len(names) :] + names[: b % len(names)]
        for name in order:
            fn = fns[name]
            t0 = time.perf_counter()
            for _ in range(per_block):
                fn()
            rates[name].append(per_block / (time.perf_counter() - t0))
    return {
        n: {
            "median": statistics.median(r),
            "best": max(r),
            "seconds": sum(per_block / x for x in r),
        }
        for n, r in rates.items()
    }


def write_json(name: str, payload: dict) -> Path:
    """Write ``benchmarks/results/<name>.json`` atomically."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def write_md(name: str, text: str) -> Path:
    """Write ``benchmarks/results/<name>.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path
