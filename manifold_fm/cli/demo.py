"""The main job: train a flow on a known S^2 mixture, evaluate it, save a picture.

``make demo`` / ``mfm demo`` / ``python -m manifold_fm.cli.demo``. Target: a mixture of von
Mises-Fisher distributions on S^2 (density known in closed form). About 20 s on 2 CPU
cores: train a time-conditioned MLP with the Trainer, sample with the geometric midpoint
solver, then report

* MMD^2 (geodesic Gaussian kernel) of model samples vs fresh data, beside the prior's and
  the data-vs-data noise floor;
* mean true log-density of model samples vs prior samples vs data;
* test NLL of held-out data under the learned flow (exact divergence) beside the true
  entropy of the mixture (the lower limit of any model's NLL).

A PNG of data and samples (longitude/latitude) goes to ``demo_out/demo.png``.

Devices: the model trains on ``--device`` (default: CUDA when present). Every random draw
(data, prior points) comes from one CPU generator, so a seed gives the same points on any
machine; prior points are then moved explicitly to the model's device for sampling and the
likelihood, and results come back to the CPU for the metrics and the plot.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from manifold_fm import ManifoldSpace, Sphere
from manifold_fm.conditioning import model_device as parameter_device
from manifold_fm.data.synthetic import demo_mixture
from manifold_fm.metrics import mmd2
from manifold_fm.nn.build import build_mlp
from manifold_fm.solvers import log_prob, sample
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["build_parser", "draw_samples", "main", "model_device"]


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (or buffer); CPU for a stateless model."""
    device = parameter_device(model)
    return torch.device("cpu") if device is None else device


def draw_samples(
    model: nn.Module,
    space: ManifoldSpace,
    n: int,
    *,
    generator: torch.Generator,
    steps: int = 50,
    method: str = "midpoint",
    progress: bool = False,
) -> Tensor:
    """``n`` model samples ``(n, 3)`` on the model's device.

    The prior points are drawn with ``generator`` on the generator's own device and moved
    explicitly to the model's device; the sphere ODE is deterministic, so no other random
    draw happens. ``progress`` reports the solver's steps (a bar on a terminal, lines in a
    log: :mod:`manifold_fm.progress`).
    """
    x0 = space.sample_prior(n, generator=generator, device=generator.device)
    x0 = x0.to(model_device(model))
    return sample(model, space, x0, steps=steps, method=method, progress=progress).x


def _lonlat(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rad2deg(torch.atan2(x[:, 1], x[:, 0])), torch.rad2deg(
        torch.asin(x[:, 2].clamp(-1, 1))
    )


def _plot(path: Path, data: torch.Tensor, samples: torch.Tensor, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, pts, name in zip(axes, (data, samples), ("data (vMF mixture)", "manifold-fm samples")):
        lon, lat = _lonlat(pts)
        ax.scatter(lon.numpy(), lat.numpy(), s=1.5, alpha=0.4)
        ax.set(xlim=(-180, 180), ylim=(-90, 90), xlabel="longitude", title=name)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("latitude")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    """The demo's options (``mfm demo -h``); the docs' command reference reads them too."""
    ap = argparse.ArgumentParser(
        prog="mfm demo",
        description="Train and evaluate on S^2.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--steps", type=int, default=6000, help="training steps")
    ap.add_argument("--batch-size", type=int, default=512, help="examples per step")
    ap.add_argument("--seed", type=int, default=0, help="seed of data, model and sampler")
    ap.add_argument("--n-eval", type=int, default=2000, help="samples / test points evaluated")
    ap.add_argument("--out", default="demo_out", help="output folder (PNG, JSON, checkpoint)")
    ap.add_argument("--device", default="auto", help="training device ('auto': CUDA if present)")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return ap


def main(argv: list[str] | None = None) -> dict:
    """Run the demo; returns the printed figures as a dict (also written as JSON)."""
    args = build_parser().parse_args(argv)

    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    space = Sphere(2)
    target = demo_mixture()
    train = target.sample(20_000, generator=gen).float()
    test = target.sample(args.n_eval, generator=gen).float()

    model_section = {"kind": "mlp", "hidden": 128, "depth": 3}
    model = build_mlp(space, **{k: v for k, v in model_section.items() if k != "kind"})
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=2e-3,
        warmup_steps=100,
        ema_decay=0.995,
        seed=args.seed,
        out_dir=args.out,
        overwrite=True,  # the demo is rerun as it is; its folder holds only its own output
        ckpt_every=500,
        log_every=100,
        progress=not args.no_progress,
        device=args.device,
    )
    # the run config in the checkpoint lets `mfm sample demo_out/ckpt.pt` rebuild the model
    run = {
        "space": {"kind": "sphere", "d": 2},
        "model": model_section,
        "data": {"kind": "demo", "n": 20_000, "seed": args.seed},
        "train": cfg.to_dict(),
    }
    trainer = Trainer(space, model, train, cfg, meta={"run": run})
    fit = trainer.fit()
    ema = trainer.ema_model

    n_eval = args.n_eval
    samples = draw_samples(ema, space, n_eval, generator=gen, progress=cfg.progress).cpu()
    prior = space.sample_prior(n_eval, generator=gen)
    fresh = target.sample(n_eval, generator=gen).float()
    held_out = test[: n_eval // 2].to(model_device(ema))
    ll = log_prob(ema, space, held_out, steps=50, method="midpoint", dtype=torch.float64)
    entropy = float(target.entropy(200_000, generator=gen))
    res = {
        "train_steps": fit.steps,
        "train_wall_s": round(fit.wall_s, 1),
        "final_loss": fit.final_loss,
        "mmd2_samples_vs_data": mmd2(space, samples, test),
        "mmd2_prior_vs_data": mmd2(space, prior, test),
        "mmd2_data_vs_data": mmd2(space, fresh, test),
        "mean_true_logp_samples": float(target.log_prob(samples.double()).mean()),
        "mean_true_logp_prior": float(target.log_prob(prior.double()).mean()),
        "mean_true_logp_data": float(target.log_prob(fresh.double()).mean()),
        "test_nll_nats": float(-ll.log_prob.mean().cpu()),
        "true_entropy_nats": entropy,
        "uniform_prior_nll_nats": math.log(4 * math.pi),
    }
    res["wall_s"] = round(time.perf_counter() - t_start, 1)
    outdir = Path(args.out)
    _plot(
        outdir / "demo.png",
        test,
        samples,
        f"S^2 vMF mixture: {fit.steps} steps, MMD^2 samples {res['mmd2_samples_vs_data']:.4f} "
        f"vs prior {res['mmd2_prior_vs_data']:.4f}; test NLL {res['test_nll_nats']:.3f} "
        f"(true entropy {entropy:.3f}) nats",
    )
    (outdir / "demo.json").write_text(json.dumps(res, indent=2) + "\n")

    print("\nmanifold-fm demo: flow matching on S^2 (vMF mixture, density known)")
    print(
        f"  trained {fit.steps} steps in {res['train_wall_s']} s, final loss {fit.final_loss:.4f}"
    )
    print("  sample quality: MMD^2 to held-out data (geodesic Gaussian kernel, h=0.2; lower wins)")
    print(f"    model samples  {res['mmd2_samples_vs_data']:.5f}")
    print(f"    uniform prior  {res['mmd2_prior_vs_data']:.5f}")
    print(f"    fresh data     {res['mmd2_data_vs_data']:.5f}   (noise floor)")
    print("  mean true log-density of points (higher is better):")
    print(
        f"    model {res['mean_true_logp_samples']:.3f}   prior {res['mean_true_logp_prior']:.3f}"
        f"   data {res['mean_true_logp_data']:.3f}"
    )
    print(
        f"  test NLL under the learned flow: {res['test_nll_nats']:.3f} nats "
        f"(true entropy {entropy:.3f}; uniform prior {res['uniform_prior_nll_nats']:.3f})"
    )
    print(
        f"  plot: {outdir / 'demo.png'}   figures: {outdir / 'demo.json'}   total {res['wall_s']} s"
    )
    return res


if __name__ == "__main__":
    main()
