"""MNIST benchmark: one class-conditional UNet, feature-space FID, NFE curve, guidance, bpd.

``python -m benchmarks.mnist [--budget cpu|gpu|smoke] [--minutes M] [--out-dir D]``

Data: the 10k MNIST split (``MFM_DATA/mnist``), first 9,000 images train, last 1,000
held out, dequantised to [-1, 1) (:mod:`manifold_fm.data.mnist`). One UNet is trained on
``Euclidean((1, 28, 28))`` (cond-OT path) with labels and condition dropout 0.1; its
null class gives the unconditional samples (:mod:`benchmarks.mnist.evaluate`). The judge is a
small CNN trained here on the 9,000 training images (:mod:`manifold_fm.metrics.fid`).
Training stops at the budget's minutes (step count sized by a timed probe); the trained
run lives in ``--run-dir`` and is reused by a rerun (:mod:`benchmarks.mnist.train`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.common.budgeted import budget_main
from benchmarks.common.results_io import atomic_write, make_meta, write_results
from benchmarks.mnist.budgets import BUDGETS
from benchmarks.mnist.evaluate import bpd_estimate, cond_accuracy, draw, nfe_curve
from benchmarks.mnist.report import figure, markdown, save_grid
from benchmarks.mnist.train import train_model
from manifold_fm import Euclidean
from manifold_fm.data.mnist import load_mnist_split
from manifold_fm.metrics.fid import FEATURE_DIM, features, fid, train_classifier

SEED = 0
SCALES = [0.0, 1.0, 3.0]


def _log(msg: str) -> None:
    print(msg, flush=True)


def run(
    budget: str, minutes: float | None, out_dir: Path, run_dir: Path, argv, root: str | None = None
) -> dict:
    """Train (or reload), evaluate and write ``mnist.json`` / ``.md`` / PNGs to ``out_dir``."""
    b = BUDGETS[budget]
    if minutes is not None:
        b = replace(b, minutes=float(minutes))
    torch.set_num_threads(b.threads)
    t0 = time.perf_counter()
    space = Euclidean((1, 28, 28))
    train = load_mnist_split("train", root, seed=SEED)
    held = load_mnist_split("eval", root, seed=SEED + 1)
    _log(f"mnist [{budget}]: {train['x1'].shape[0]} train / {held['x1'].shape[0]} held-out")
    out = train_model(space, train, b, run_dir, SEED, log=_log)
    model, plan = out["trainer"].ema_model, out["plan"]
    _log(f"model: UNet {plan['model']}, {plan['params']:,} parameters, {plan['steps']} steps")
    t_train = time.perf_counter() - t0

    t1 = time.perf_counter()
    n_clf = b.clf_images if b.clf_images is not None else train["x1"].shape[0]
    clf, clf_acc = train_classifier(
        train["x1"][:n_clf],
        train["label"][:n_clf],
        held["x1"],
        held["label"],
        epochs=b.clf_epochs,
        seed=SEED,
    )
    _log(f"classifier: held-out accuracy {clf_acc:.4f}")
    f_train, f_held = features(clf, train["x1"]), features(clf, held["x1"])
    floor = fid(f_held, f_train)
    method, steps = b.main
    x, nfe = draw(model, space, b.n_fid, method=method, steps=steps, seed=SEED + 10)
    fid_main = fid(features(clf, x), f_train)
    _log(f"FID ({b.n_fid} samples, {method} {nfe:.0f} NFE): {fid_main:.3f}, floor {floor:.3f}")
    n_curve = b.n_curve
    floor_curve = fid(f_held[:n_curve], f_train)
    curve = nfe_curve(model, space, clf, f_train, n=n_curve, nfes=b.nfes, seed=SEED + 20, log=_log)
    acc, cond_imgs = cond_accuracy(
        model,
        space,
        clf,
        per_class=b.per_class,
        scales=SCALES,
        method=method,
        steps=steps,
        seed=SEED + 30,
        log=_log,
    )
    bpd, bpd_se, bpd_nfe = bpd_estimate(
        model, space, held["x1"][: b.n_bpd], steps=b.bpd_steps, seed=SEED + 40
    )
    _log(f"bits/dim ({b.n_bpd} held-out): {bpd:.4f} +- {bpd_se:.4f}")
    # the log-determinant needs many steps: the same estimate at fewer steps on a subset
    # shows how far from converged a cheaper solve is
    n_chk = min(20, b.n_bpd)
    bpd_by_steps = {
        str(k): bpd_estimate(model, space, held["x1"][:n_chk], steps=k, seed=SEED + 40)[0]
        for k in sorted({max(1, b.bpd_steps // 16), max(1, b.bpd_steps // 4), b.bpd_steps})
    }
    _log(f"bits/dim of {n_chk} held-out images by rk4 steps: {bpd_by_steps}")
    t_eval = time.perf_counter() - t1

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "mnist_uncond.png", lambda p: save_grid(x[:100], 10, p, "unconditional"))
    per = b.per_class
    for w, imgs in cond_imgs.items():
        grid = imgs.reshape(10, per, 1, 28, 28)[:, : min(per, 10)].reshape(-1, 1, 28, 28)
        atomic_write(
            out_dir / f"mnist_class_w{w}.png",
            lambda p, g=grid, w=w: save_grid(g, min(per, 10), p, f"one row per class, w={w}"),
        )
    payload = {
        "budget": budget,
        "fid": fid_main,
        "fid_floor": floor,
        "fid_ratio": fid_main / floor,
        "fid_samples": b.n_fid,
        "fid_method": method,
        "fid_nfe": nfe,
        "feature_dim": FEATURE_DIM,
        "classifier_accuracy": clf_acc,
        "cond_accuracy": acc,
        "cond_samples_per_class": per,
        "bits_per_dim": bpd,
        "bits_per_dim_stderr": bpd_se,
        "bpd_images": b.n_bpd,
        "bpd_by_steps": bpd_by_steps,
        "bpd_by_steps_images": n_chk,
        "bpd_solver": f"rk4, {b.bpd_steps} steps ({bpd_nfe} NFE), Hutchinson, 1 probe",
        "nfe_curve": curve,
        "nfe_curve_samples": n_curve,
        "fid_floor_curve": floor_curve,
        "train_images_per_s": plan.get("train_images_per_s"),
        "train_steps": plan["steps"],
        "train_batch": plan["batch"],
        "train_wall_s": plan.get("train_wall_s"),
        "train_minutes_budget": b.minutes,
        "final_loss": plan.get("final_loss"),
        "params": plan["params"],
        "model": plan["model"],
        "threads": b.threads,
        "wall_s_train_phase": round(t_train, 2),
        "wall_s_eval": round(t_eval, 2),
        "guidance_rule": "v = v_u + w (v_c - v_u)",
        "cond_dropout": 0.1,
    }
    meta = make_meta("mnist", seeds=[SEED], wall_s=round(time.perf_counter() - t0, 2), argv=argv)
    doc = write_results(
        "mnist",
        payload,
        meta,
        out_dir=out_dir,
        markdown=markdown,
        figure=lambda p: figure(curve, floor_curve, p),
    )
    _log(f"wrote {out_dir / 'mnist.json'}")
    return doc


def main(argv: list[str] | None = None) -> dict:
    return budget_main("mnist", __doc__, BUDGETS, run, argv)


if __name__ == "__main__":
    main()
