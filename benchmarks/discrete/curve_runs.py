"""Cached, resumable training runs evaluated at increasing compute budgets.

The gap-against-compute curve and the lever measurements train
models for up to half an hour of CPU each, two processes at a time, on a shared machine.
A run here is one training job continued across budgets b_1 < b_2 < ... (CPU seconds of
training, :func:`time.process_time`, so contention does not shrink a budget); after each
slice of ``slice_s`` seconds the job's full state is checkpointed, and at each budget its
evaluation is cached as ``b<budget>.json``. A killed run resumes from its last slice; a
finished budget is never recomputed. Each run owns one folder (its settings are stored
there, and a run with other settings is refused) and a lock file, so two processes may
run different runs at once but never the same one.

A job is any object with ``settings`` (plain dict), ``train(seconds) -> steps done``,
``evaluate() -> dict``, ``state() -> dict`` and ``load(state)``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from manifold_fm._io import atomic_write_text
from manifold_fm.train.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["CurveJob", "RunLockedError", "cached_results", "run_curve"]

CKPT = "state.pt"
SETTINGS = "settings.json"


class RunLockedError(RuntimeError):
    """Another live process holds the run folder's lock."""


class CurveJob(Protocol):
    settings: dict[str, Any]

    def train(self, seconds: float) -> int: ...
    def evaluate(self) -> dict[str, Any]: ...
    def state(self) -> dict[str, Any]: ...
    def load(self, state: dict[str, Any]) -> None: ...


def _budget_file(folder: Path, budget: float) -> Path:
    return folder / f"b{budget:g}.json"


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _lock(folder: Path):
    path = folder / "lock"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        text = path.read_text().strip()
        pid = int(text) if text.isdigit() else -1
        if pid > 0 and _alive(pid):
            raise RunLockedError(f"{folder} is being run by process {pid}") from None
        path.unlink(missing_ok=True)  # left by a killed process
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _check_settings(folder: Path, settings: dict[str, Any]) -> None:
    path = folder / SETTINGS
    want = json.loads(json.dumps(settings))
    if path.is_file():
        have = json.loads(path.read_text())
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        if diff:
            raise ValueError(
                f"{folder} holds a run with other settings ({', '.join(diff)}: "
                f"{[have.get(k) for k in diff]} stored, {[want.get(k) for k in diff]} asked); "
                "use another --run-dir or delete the folder"
            )
    else:
        _write_json(path, want)


def cached_results(folder: Path | str) -> list[dict[str, Any]]:
    """The cached evaluations of a run folder, sorted by budget (empty if none)."""
    folder = Path(folder)
    docs = [json.loads(p.read_text()) for p in folder.glob("b*.json")]
    return sorted(docs, key=lambda d: d["budget_s"])


def run_curve(
    folder: Path | str, budgets: Sequence[float], job: CurveJob, *, slice_s: float = 60.0
) -> list[dict[str, Any]]:
    """Train ``job`` up to each budget (CPU seconds of training), evaluate, cache; resume.

    Returns the evaluations of all ``budgets`` (cached or new), each with ``budget_s``,
    ``cpu_s`` (training CPU seconds spent, >= budget_s by at most one chunk of steps) and
    ``steps``. Raises ValueError for budgets that are not positive and increasing-able, or
    when the folder holds a run with other settings; RunLockedError when it is in use.
    """
    bs = sorted(float(b) for b in budgets)
    if not bs or bs[0] <= 0:
        raise ValueError(f"run_curve: budgets must be positive seconds, got {list(budgets)}")
    if not slice_s > 0:
        raise ValueError(f"run_curve: slice_s must be > 0, got {slice_s!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder):
        _check_settings(folder, job.settings)
        spent, steps = 0.0, 0
        if (folder / CKPT).is_file():
            bundle = load_checkpoint(folder / CKPT)
            job.load(bundle["job"])
            spent, steps = float(bundle["cpu_s"]), int(bundle["step"])
        for b in bs:
            if _budget_file(folder, b).is_file():
                continue
            if spent > b:
                raise ValueError(
                    f"run_curve: {folder} has trained {spent:.0f} s, past the uncached budget "
                    f"{b:g} s; run budgets in increasing order (or use a fresh folder)"
                )
            while spent < b:
                t0 = time.process_time()
                steps += job.train(min(slice_s, b - spent))
                spent += time.process_time() - t0
                save_checkpoint({"job": job.state(), "cpu_s": spent, "step": steps}, folder / CKPT)
            doc = {**job.evaluate(), "budget_s": b, "cpu_s": round(spent, 1), "steps": steps}
            _write_json(_budget_file(folder, b), doc)
    return [d for d in cached_results(folder) if d["budget_s"] in bs]
