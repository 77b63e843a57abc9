"""The MNIST benchmark's Markdown page, its NFE-curve figure and the sample grids (PNG)."""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["figure", "markdown", "save_grid"]


def figure(curve: list[dict], floor: float, path: Path) -> None:
    """FID against NFE (log x) for every method of the curve, the floor dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for method in dict.fromkeys(r["method"] for r in curve):
        rows = [r for r in curve if r["method"] == method]
        style = "o-" if len(rows) > 1 else "*"
        ax.plot([r["nfe"] for r in rows], [r["fid"] for r in rows], style, label=method, ms=7)
    ax.axhline(floor, ls="--", c="gray", label="held-out vs train (floor)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("NFE (model evaluations per sample)")
    ax.set_ylabel("feature-space FID")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(doc: dict) -> str:
    """mnist.md from an mnist.json document."""
    m, hw = doc["meta"], doc["meta"]["hardware"]
    acc = doc["cond_accuracy"]
    lines = [
        f"# MNIST: class-conditional UNet ({doc['budget']} budget)",
        "",
        f"One UNet ({doc['params']:,} parameters, {doc['model']}) trained on the first 9,000 "
        f"images of the MNIST 10k split for {doc['train_steps']} steps of batch "
        f"{doc['train_batch']} ({doc['train_wall_s']} s, {doc['train_images_per_s']:.1f} "
        f"images/s, {doc['threads']} threads) on Euclidean((1, 28, 28)), cond-OT path, with "
        f"labels dropped for {doc['cond_dropout']:.0%} of rows. Unconditional samples are the "
        "same model's null class; guidance: " + doc["guidance_rule"] + " (w = 0: "
        "unconditional, w = 1: conditional).",
        "",
        f"Judge: a small CNN trained on the same 9,000 images, held-out accuracy "
        f"{doc['classifier_accuracy']:.4f}; FID in its {doc['feature_dim']}-d penultimate "
        "feature space against the 9,000 training images.",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| FID, {doc['fid_samples']} samples ({doc['fid_method']}, {doc['fid_nfe']:.0f} NFE) "
        f"| {doc['fid']:.3f} |",
        f"| FID floor, 1,000 held-out vs train | {doc['fid_floor']:.3f} |",
        f"| ratio FID / floor | {doc['fid_ratio']:.2f} |",
        *[
            f"| class accuracy of conditional samples, w = {w} "
            f"({10 * doc['cond_samples_per_class']} samples) | {a:.3f} |"
            for w, a in acc.items()
        ],
        f"| bits/dim, {doc['bpd_images']} held-out ({doc['bpd_solver']}) | "
        f"{doc['bits_per_dim']:.4f} +- {doc['bits_per_dim_stderr']:.4f} |",
        *[
            f"| bits/dim, first {doc['bpd_by_steps_images']} of them, rk4 {k} steps "
            f"(convergence check) | {v:.4f} |"
            for k, v in doc.get("bpd_by_steps", {}).items()
        ],
        "",
        f"## FID against NFE ({doc['nfe_curve_samples']} samples per point, floor at that "
        f"count {doc['fid_floor_curve']:.3f})",
        "",
        "| method | steps | NFE | FID | wall s |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {r['method']} | {r['steps'] if r['steps'] is not None else 'adaptive'} | "
            f"{r['nfe']:.0f} | {r['fid']:.3f} | {r['wall_s']} |"
            for r in doc["nfe_curve"]
        ],
        "",
        "![FID vs NFE](mnist.png)",
        "",
        "Samples: ![unconditional](mnist_uncond.png) and one row per class at guidance 0, "
        "1, 3: ![w=0](mnist_class_w0.png) ![w=1](mnist_class_w1.png) "
        "![w=3](mnist_class_w3.png)",
        "",
        f"Wall time {m['wall_s']} s (training phase {doc['wall_s_train_phase']} s, "
        f"evaluation {doc['wall_s_eval']} s); {hw.get('processor', '')}, torch {m['torch']}. "
        f"Reproduce: `{' '.join(m['command'])}`.",
    ]
    return "\n".join(lines) + "\n"


def save_grid(images: torch.Tensor, nrow: int, path: Path, title: str = "") -> None:
    """Save ``images`` (n, 1, H, W) in [-1, 1] as a PNG grid with ``nrow`` images per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, _, h, w = images.shape
    rows = (n + nrow - 1) // nrow
    canvas = torch.ones(rows * (h + 2), nrow * (w + 2))
    for i in range(n):
        r, c = divmod(i, nrow)
        canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = (
            images[i, 0].clamp(-1, 1) + 1
        ) / 2
    fig, ax = plt.subplots(figsize=(nrow * 0.45 + 0.3, rows * 0.45 + 0.5))
    ax.imshow(canvas.numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
