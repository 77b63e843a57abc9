"""Cached, resumable runs of the test-NLL benchmarks: one JSON (+ weights) per run.

Why: the full Earth + RNA benchmark is about an hour of CPU. Each finished (dataset,
seed, method) run -- method 'flow' (ours) or 'peer' (flow_matching's pipeline) -- is
written to ``<run_dir>/<dataset>_seed<seed>_<method>.json`` (and ``.pt`` with the
selected EMA weights) as soon as it ends, by an atomic rename. A killed process resumes
where it stopped; processes given disjoint datasets share the folder; the report is
assembled from the folder. A cached run whose settings differ from the current ones is
an error (:class:`manifold_fm.errors.ResumeMismatchError`), never silently reused.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn

from benchmarks.common.fit import FitConfig, make_model
from benchmarks.common.results_io import hardware
from benchmarks.nll.peer import fit_peer
from benchmarks.nll.protocol import EvalConfig, run_seed, summarise
from manifold_fm.errors import ResumeMismatchError
from manifold_fm.spaces.base import ManifoldSpace

__all__ = ["MissingRunError", "RunCache", "run_dataset"]


class MissingRunError(FileNotFoundError):
    """A report was asked for while some runs are not in the run folder yet."""


class RunCache:
    """The run folder: ``load`` / ``save`` one run's record and weights by key."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def path(self, key: str, ext: str = ".json") -> Path:
        """File of run ``key``."""
        return self.folder / f"{key}{ext}"

    def load(self, key: str, settings: dict) -> dict | None:
        """The cached record of ``key`` (None if absent); its settings must equal ``settings``."""
        p = self.path(key)
        if not p.exists():
            return None
        doc = json.loads(p.read_text())
        if doc["settings"] != settings:
            diff = sorted(
                k
                for k in {*settings, *doc["settings"]}
                if settings.get(k) != doc["settings"].get(k)
            )
            raise ResumeMismatchError(
                f"{p}: cached with other settings ({diff}); use another --run-dir or delete it",
                diff,
            )
        return doc["record"]

    def save(self, key: str, record: dict, settings: dict, model: nn.Module | None) -> None:
        """Write the record (and the model's weights) atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if model is not None:
            tmp = self.path(key, ".pt.tmp")
            torch.save(model.state_dict(), tmp)
            tmp.replace(self.path(key, ".pt"))
        tmp = self.path(key, ".json.tmp")
        tmp.write_text(json.dumps({"settings": settings, "record": record}))
        tmp.replace(self.path(key))

    def model(self, key: str, space: ManifoldSpace, fit: FitConfig) -> nn.Module:
        """The cached weights of ``key`` in a fresh ``make_model(space, fit)``."""
        m = make_model(space, fit)
        m.load_state_dict(torch.load(self.path(key, ".pt"), weights_only=True))
        return m.eval()


def _peer_reason() -> str | None:
    """Why the peer cannot run here (None when flow_matching is importable)."""
    if importlib.util.find_spec("flow_matching") is None:
        return "flow_matching is not importable"
    return None


def run_dataset(
    name: str,
    space: ManifoldSpace,
    data: Tensor,
    keys: Tensor,
    fit: FitConfig,
    ev: EvalConfig,
    seeds: list[int],
    budget: str,
    published: dict[str, tuple[float, float]],
    *,
    cache: RunCache,
    kernel: str,
    peer_manifold: str | None,
    report_only: bool = False,
    peer_seeds: int = 1,
) -> tuple[dict, list[nn.Module]]:
    """All seeds of one dataset (each cached), the peer on the first ``peer_seeds`` seeds;
    the summary entry.

    ``published`` maps method -> (mean, std) on this dataset; seed ``seeds[0]`` also gets
    the dopri5 cross-check. ``report_only`` raises :class:`MissingRunError` instead of
    running what is not cached. Returns the entry of :func:`summarise` and the models.
    """
    t0 = time.perf_counter()
    run_settings = {"budget": budget, "fit": asdict(fit), "eval": asdict(ev), "kernel": kernel}
    if not 1 <= peer_seeds <= len(seeds):
        raise ValueError(f"peer_seeds={peer_seeds}: choose 1 to {len(seeds)} (the seeds run)")
    todo = [(s, "flow") for s in seeds]
    todo += [(s, "peer") for s in seeds[:peer_seeds]] if peer_manifold else []
    missing = [
        f"{name}_seed{s}_{m}" for s, m in todo if not cache.path(f"{name}_seed{s}_{m}").exists()
    ]
    if report_only and missing:
        raise MissingRunError(f"runs not in {cache.folder} yet: {missing}")
    per_run, models, peers = [], [], []
    for seed, method in todo:
        key = f"{name}_seed{seed}_{method}"
        rec = cache.load(key, run_settings)
        if rec is None:
            rec, model = _run(
                method,
                space,
                data,
                keys,
                seed,
                fit,
                ev,
                kernel,
                peer_manifold,
                first=seed == seeds[0],
            )
            cache.save(key, rec, run_settings, model)
            _print(name, method, rec)
        if method == "peer":
            peers.append(rec)
            continue
        per_run.append(rec)
        models.append(cache.model(key, space, fit))
    settings = {
        **run_settings,
        "seeds": list(seeds),
        "hardware": hardware(),
        "published": {m: list(v) for m, v in published.items()},
        "trainer": "benchmarks.common.fit.fit_flow (manifold_fm.train.Trainer)",
        "peer": "benchmarks.nll.peer.fit_peer (flow_matching GeodesicProbPath + CondOTScheduler)",
        "run_dir": str(cache.folder),
    }
    entry = summarise(per_run, settings, time.perf_counter() - t0, peers)
    print(
        f"{name}: {entry['test_nll_mean']:.3f} ± {entry['test_nll_std'] or 0:.3f} nats "
        f"(rk4 {entry['test_nll_rk4_mean']}, kde {entry['kde_test_nll_mean']})",
        flush=True,
    )
    return entry, models


def _run(method, space, data, keys, seed, fit, ev, kernel, peer_manifold, first):
    """One (seed, method) run: ours with KDE and (first seed) dopri5, or the peer."""
    if method == "flow":
        return run_seed(space, data, seed, fit, ev, dopri_check=first, keys=keys, kernel=kernel)
    reason = _peer_reason()
    if reason is not None:
        return {"seed": seed, "skipped": reason}, None

    def trainer(sp, train, cfg, score):
        return fit_peer(sp, peer_manifold, train, cfg, score)

    return run_seed(space, data, seed, fit, ev, keys=keys, trainer=trainer, rk4=False)


def _print(name: str, method: str, rec: dict) -> None:
    if "skipped" in rec:
        print(f"{name} seed {rec['seed']} {method}: skipped ({rec['skipped']})", flush=True)
        return
    extra = f", rk4 {rec['test_nll_rk4']:.3f}" if "test_nll_rk4" in rec else ""
    extra += f", dopri5 {rec['test_nll_dopri5']:.3f}" if "test_nll_dopri5" in rec else ""
    extra += f", kde {rec['kde']['test_nll']:.3f}" if "kde" in rec else ""
    print(
        f"{name} seed {rec['seed']} {method}: test NLL {rec['test_nll']:.3f} (val "
        f"{rec['val_nll']:.3f} @ step {rec['best_step']}){extra}, novel "
        f"{100 * rec['novel_share']:.0f}%, wall {rec['wall_s']:.1f} s",
        flush=True,
    )
