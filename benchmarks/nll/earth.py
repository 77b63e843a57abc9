"""Earth benchmark on S^2: volcano, earthquake, flood, fire (Chen & Lipman 2024 protocol).

    python -m benchmarks.nll.earth [--dataset volcano|earthquake|flood|fire|all ...]
                               [--budget quick|cpu|paper|gpu] [--seeds 0 1 2 3 4]
                               [--run-dir runs/earth_cpu] [--report-only] [--no-report]

lat/lon -> unit vectors, uniform prior on S^2, per seed its own random 80/10/10 split
(indices recorded), EMA model selected on validation NLL, test NLL in nats per point
(Euler with projection, 1000 steps, exact divergence; rk4 500 beside it), mean +- std
over seeds, published rows beside ours, share of test points duplicating a training point,
NLL on novel / duplicated test points, a von Mises-Fisher kernel density baseline tuned on
validation, flow_matching's pipeline at equal budget (seed 0), a dopri5 cross-check of the
first run. Each run is cached in the run folder (benchmarks/nll/runs.py). Writes
benchmarks/results/earth.{json,md,png} (benchmarks/nll/report.py).
"""

from __future__ import annotations

import math

import torch

from benchmarks.nll.report import NLLBenchmark, Run, pyplot, run_benchmark
from manifold_fm.data.earth import EARTH_DATASETS, latlon_to_xyz, load_earth, load_earth_latlon
from manifold_fm.data.splits import novel_mask, random_split_indices
from manifold_fm.solvers import log_prob
from manifold_fm.spaces.sphere import Sphere

#: published test NLL (mean, std) per method and dataset (RFM Table 2 and the papers cited)
PUBLISHED = {
    "RFM": {
        "volcano": (-7.93, 1.67),
        "earthquake": (-0.28, 0.08),
        "flood": (0.42, 0.05),
        "fire": (-1.86, 0.11),
    },
    "RDM": {
        "volcano": (-6.61, 0.96),
        "earthquake": (-0.40, 0.05),
        "flood": (0.43, 0.07),
        "fire": (-1.38, 0.05),
    },
    "RSGM": {
        "volcano": (-4.92, 0.25),
        "earthquake": (-0.19, 0.07),
        "flood": (0.45, 0.17),
        "fire": (-1.33, 0.06),
    },
    "Moser Flow": {
        "volcano": (-4.21, 0.17),
        "earthquake": (-0.16, 0.06),
        "flood": (0.57, 0.10),
        "fire": (-1.28, 0.05),
    },
}

#: RFM configs (width, linear layers, batch, lr, weight decay) for the paper budget
_PAPER = {
    "volcano": (2048, 12, 8192, 2e-4, 1e-2),
    "earthquake": (2048, 10, 8192, 1e-4, 1e-3),
    "flood": (2048, 7, 16384, 1e-4, 1e-2),
    "fire": (2048, 10, 8192, 5e-4, 1e-2),
}


def density_map(models: dict, splits: dict, path, steps: int = 100) -> None:
    """Learned log-density on an equirectangular lat/lon map (log colour scale), with the
    seed-0 test points overlaid: novel ones (no training point within 1e-3 rad) in white
    circles, duplicated ones in red dots; training points in black.

    ``splits[name] = (latlon (n, 2) degrees, train indices, test indices, novel mask)``.
    """
    plt = pyplot()
    lon = torch.linspace(-179, 179, 120, dtype=torch.float64)
    lat = torch.linspace(-89, 89, 60, dtype=torch.float64)
    glat, glon = torch.meshgrid(lat, lon, indexing="ij")
    grid = latlon_to_xyz(torch.stack([glat.flatten(), glon.flatten()], -1)).float()
    sp = Sphere(2)
    fig, axes = plt.subplots(2, 2, figsize=(13, 7), squeeze=False)
    for ax, (name, model) in zip(axes.flat, models.items()):
        lp = log_prob(model, sp, grid, steps=steps, batch_size=4096).log_prob.double()
        log10 = (lp / math.log(10)).reshape(glat.shape).numpy()
        top = float(log10.max())
        mesh = ax.pcolormesh(
            lon.numpy(), lat.numpy(), log10, cmap="viridis", shading="auto", vmin=top - 4, vmax=top
        )
        fig.colorbar(mesh, ax=ax, label="log10 density (per sr)")
        ll, train, test, novel = splits[name]
        ax.scatter(ll[train, 1], ll[train, 0], s=0.3, c="black", alpha=0.3, linewidths=0)
        dup = test[~novel]
        ax.scatter(ll[dup, 1], ll[dup, 0], s=4, c="red", linewidths=0, label="test, duplicated")
        nov = test[novel]
        ax.scatter(
            ll[nov, 1],
            ll[nov, 0],
            s=10,
            facecolors="none",
            edgecolors="white",
            linewidths=0.6,
            label="test, novel",
        )
        ax.set_title(f"{name} (seed 0): {int(novel.sum())} novel / {len(test)} test points")
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        ax.legend(fontsize=6, loc="lower left")
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _load(name: str) -> tuple[Sphere, torch.Tensor, torch.Tensor]:
    """Unit vectors on S^2 and the raw lat/lon rows (for duplicate counts)."""
    return Sphere(2), load_earth(name), load_earth_latlon(name)


def _notes(results: dict) -> list[str]:
    return [
        "Published rows: RFM Table 2 (Chen & Lipman 2024); RDM (Huang et al. 2022) reports "
        "an ELBO bound; RSGM (De Bortoli et al. 2022) and Moser Flow as reprinted by RSGM. "
        "Splits differ between papers (none published their indices).",
        "Training: benchmarks/common/fit.py (EMA, val-NLL checkpoint selection).",
    ]


def _figure(runs: dict[str, Run]):
    maps = {name: run.models[0] for name, run in runs.items()}
    splits = {}
    for name, run in runs.items():
        first = run.entry["per_run"][0]
        split = random_split_indices(len(run.raw), first["seed"])
        pts = latlon_to_xyz(run.raw.double())
        novel = novel_mask(Sphere(2), pts[split.train], pts[split.test])
        splits[name] = (run.raw.numpy(), split.train.numpy(), split.test.numpy(), novel.numpy())
    return lambda path: density_map(maps, splits, path)


def _compute() -> dict[str, float]:
    """Published configs: parameters of RFM's MLP (3 in, width, layers) x 1e6 steps x batch."""
    out = {}
    for name, (width, layers, batch, _, _) in _PAPER.items():
        params = (3 + 1) * width + (layers - 2) * (width + 1) * width + (width + 1) * 3
        out[name] = params * 1_000_000 * batch
    return out


BENCHMARK = NLLBenchmark(
    name="earth",
    doc=__doc__,
    datasets=list(EARTH_DATASETS),
    default="all",
    load=_load,
    published=PUBLISHED,
    paper=_PAPER,
    title="# Earth (S^2) density estimation: test NLL in nats per point (lower is better)",
    intro=[
        "Protocol of Chen & Lipman 2024: random 80/10/10 split per seed, EMA model selected on",
        "validation NLL, exact divergence. Mean ± sample std over seeds. Our row is scored with",
        "Euler 1000 (the published scorer); the rk4 500 row scores the same models with rk4.",
        "Input features (settings column): octaves = sin/cos(2^k pi x), k < 8, of the embedded",
        "coordinates (output still projected to the tangent plane); none = raw coordinates.",
    ],
    std_digits=2,
    notes=_notes,
    figure=_figure,
    features={"features": "octaves", "octaves": 8},
    kernel="vmf",
    peer_manifold="sphere",
    published_compute=_compute(),
)


def main(argv: list[str] | None = None) -> dict:
    """``python -m benchmarks.nll.earth``: see the module docstring."""
    return run_benchmark(BENCHMARK, argv)


if __name__ == "__main__":
    main()
