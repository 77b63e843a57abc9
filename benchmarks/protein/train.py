"""Train (or reload) the protein benchmark's FrameNet within a time budget, with a curve.

The standard Trainer on ``BackboneSE3(crop)`` (x1 loss form, FrameFlow weighting,
self-conditioning, auxiliary backbone losses, the budget's coupling); no protein-specific
loop. The step count is sized once from a short timed probe and stored in
``run_dir/plan.json``. Training runs in ``curve_points`` equal chunks; after each chunk
the EMA model samples a few backbones (:func:`draw`) and their cheap metrics join
``plan["curve"]``. The Trainer checkpoints to ``run_dir`` and resumes from it, and the
curve points already recorded are kept, so a killed run continues where it stopped and a
finished one is evaluated without training again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.common.budgeted import probe_step_s, run_config
from benchmarks.protein.budgets import Budget
from benchmarks.protein.data import frames_to_atoms
from manifold_fm.nn import SelfConditioning, X1Prediction
from manifold_fm.proteins import frame_velocity_model, protein_loader
from manifold_fm.proteins.backbone_space import BackboneSE3
from manifold_fm.proteins.metrics import set_metrics
from manifold_fm.solvers import RotationRate, sample_with_final_jump
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["draw", "make_space", "train_model"]


def make_space(b: Budget, length: int) -> BackboneSE3:
    """The budget's ``BackboneSE3`` with ``length`` frames."""
    return BackboneSE3(length, **b.space)


def _config(b: Budget, steps: int, run_dir: Path | None, seed: int) -> TrainConfig:
    return run_config(
        b,
        steps,
        run_dir,
        seed,
        log_every=max(1, min(50, steps // 10)),
        checkpoints=12,
        loss_form="x1",
        loss_weighting="frameflow",
        self_condition=b.self_conditioned,
        coupling=b.coupling,
    )


def draw(model: X1Prediction, b: Budget, length: int, n: int, seed: int) -> torch.Tensor:
    """``n`` backbones of ``length`` from the trained net: frames ``(n, length, 3, 4)``.

    Euler with the rotation-rate policy (FrameFlow's exp rate) on all but the last step,
    then the final jump to x1_hat; self-conditioning as trained.
    """
    space = make_space(b, length)
    velocity = X1Prediction(model.net, space, project=False)
    if b.self_conditioned:
        velocity = SelfConditioning(velocity, space)
    g = torch.Generator(device=b.device).manual_seed(seed)
    was = model.training
    model.eval()
    with torch.no_grad():
        res = sample_with_final_jump(
            velocity,
            space,
            n,
            steps=b.sample_steps,
            policies=[RotationRate(b.rotation_rate)],
            generator=g,
            device=b.device,
        )
    model.train(was)
    return res.x.detach().cpu()


def _settings(b: Budget) -> dict:
    keys = ("model", "space", "batch", "crop", "coupling", "lr", "self_condition")
    d = b.as_dict()
    return {k: d[k] for k in keys if k in d}


def train_model(
    train_set,
    b: Budget,
    run_dir: Path,
    seed: int,
    log: Callable[[str], None] = print,
    steps: int | None = None,
    chunks: int | None = None,
) -> dict:
    """Train on ``train_set`` (a ProteinSet); return ``{"trainer", "plan"}``.

    ``plan``: steps, probe step time, training wall seconds, params, settings, losses and
    ``curve`` (one row per chunk: step, training wall s, loss, and the metrics of
    ``curve_n`` samples of ``curve_length`` residues).

    ``steps`` fixes the step count (and so the learning-rate schedule) instead of the
    timed probe; ``chunks`` stops after that many of the ``curve_points`` chunks, so an
    ablation can follow the first part of another run's schedule and curve exactly.
    """
    torch.manual_seed(seed)
    space = make_space(b, b.crop)
    model = frame_velocity_model(space, **b.model)
    data = protein_loader(
        train_set, n_frames=b.crop, batch_size=b.batch, crop_length=b.crop, seed=seed
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    plan_path = run_dir / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.is_file() else None
    if plan is None or plan.get("settings") != _settings(b):
        step_s = None  # a fixed step count needs no timed probe
        if steps is None:
            step_s = probe_step_s(
                space, model, data, lambda k: _config(b, k, None, seed), b.probe_steps
            )
            steps = max(b.curve_points, int(b.minutes * 60 / step_s))
        plan = {
            "steps": steps,
            "probe_step_s": step_s,
            "settings": _settings(b),
            "params": sum(p.numel() for p in model.parameters()),
            "curve": [],
            "train_wall_s": 0.0,
        }
        plan_path.write_text(json.dumps(plan, indent=1))
        how = "fixed" if step_s is None else f"probe {step_s:.3f} s/step ->"
        log(f"train: {plan['params']:,} params, {how} {steps} steps")
    trainer = Trainer(space, model, data, _config(b, plan["steps"], run_dir, seed))
    n_chunks = b.curve_points if chunks is None else min(chunks, b.curve_points)
    if len(plan["curve"]) >= n_chunks and trainer.step >= plan["curve"][n_chunks - 1]["step"]:
        log(f"train: checkpoint in {run_dir} is complete ({trainer.step} steps), not retraining")
        return {"trainer": trainer, "plan": plan}
    if trainer.step:
        log(f"train: resuming from step {trainer.step} of {plan['steps']}")
    for k in range(1, n_chunks + 1):
        until = plan["steps"] * k // b.curve_points
        if any(row["step"] == until for row in plan["curve"]):
            continue
        res = trainer.fit(until=until)
        plan["train_wall_s"] = round(plan["train_wall_s"] + res.wall_s, 2)
        x = draw(trainer.ema_model, b, b.curve_length, b.curve_n, seed + 1000 + k)
        row = {
            "step": until,
            "train_wall_s": plan["train_wall_s"],
            "loss": res.final_loss,
            **set_metrics(frames_to_atoms(x), tm=False),
        }
        plan["curve"].append(row)
        plan.update(
            final_loss=res.final_loss,
            losses=plan.get("losses", []) + res.losses,
            loss_steps=plan.get("loss_steps", []) + res.loss_steps,
        )
        plan_path.write_text(json.dumps(plan, indent=1))
        log(
            f"curve: step {until}/{plan['steps']} ({plan['train_wall_s']:.0f} s) loss "
            f"{res.final_loss:.3f} mad {row['ca_ca_mad']:.3f} clash {row['clash_rate']:.4f} "
            f"rg {row['rg_ratio']:.2f} helix {row['helix']} strand {row['strand']}"
        )
    return {"trainer": trainer, "plan": plan}
