"""Train (or reload) the MNIST benchmark's one class-conditional UNet within a time budget.

The step count is sized once from a short timed probe (``minutes`` of training at the
measured step time) and stored with the run in ``run_dir/plan.json``; the Trainer writes
its checkpoints to ``run_dir`` and resumes from them, so a rerun of the evaluation (or of
a killed run) reuses the plan and the trained weights instead of training again.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from benchmarks.common.budgeted import probe_step_s, run_config
from benchmarks.mnist.budgets import Budget
from manifold_fm.nn import UNet
from manifold_fm.train import TrainConfig, Trainer

__all__ = ["train_model"]


def _config(b: Budget, steps: int, run_dir: Path | None, seed: int) -> TrainConfig:
    log_every = max(1, min(100, steps // 5))
    return run_config(
        b, steps, run_dir, seed, log_every=log_every, checkpoints=10, cond_dropout=0.1, amp=b.amp
    )


def train_model(space, data: dict, b: Budget, run_dir: Path, seed: int, log=print) -> dict:
    """Train the budget's UNet on ``data`` and return ``{"trainer", "plan"}``.

    ``plan``: steps, batch, probe step time, training wall seconds, images/s, params, the
    model settings (``b.model``, the UNet keywords, and ``b.batch``: a plan with others
    is made again).
    """
    torch.manual_seed(seed)
    model = UNet(in_channels=1, n_classes=10, image_size=28, **b.model)
    run_dir.mkdir(parents=True, exist_ok=True)
    plan_path = run_dir / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.is_file() else None
    if plan is None or plan.get("model") != b.model or plan.get("batch") != b.batch:
        step_s = probe_step_s(
            space, model, data, lambda k: _config(b, k, None, seed), b.probe_steps
        )
        steps = max(10, int(b.minutes * 60 / step_s))
        plan = {
            "steps": steps,
            "batch": b.batch,
            "probe_step_s": step_s,
            "model": b.model,
            "params": model.n_params(),
        }
        plan_path.write_text(json.dumps(plan, indent=1))
        log(f"train: {plan['params']} params, probe {step_s:.3f} s/step -> {steps} steps")
    trainer = Trainer(space, model, data, _config(b, plan["steps"], run_dir, seed))
    if trainer.step >= plan["steps"]:
        log(f"train: checkpoint in {run_dir} is complete ({trainer.step} steps), not retraining")
        return {"trainer": trainer, "plan": plan}
    start = trainer.step
    res = trainer.fit()
    done = plan.get("train_wall_s", 0.0) + res.wall_s
    plan.update(
        train_wall_s=round(done, 2),
        final_loss=res.final_loss,
        train_images_per_s=(res.steps - start) * b.batch / max(res.wall_s, 1e-9),
        losses=res.losses,
        loss_steps=res.loss_steps,
    )
    plan_path.write_text(json.dumps(plan, indent=1))
    log(f"train: {res.steps} steps in {res.wall_s:.0f} s, final loss {res.final_loss:.2f}")
    return {"trainer": trainer, "plan": plan}
