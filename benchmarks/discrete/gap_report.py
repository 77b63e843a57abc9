"""The report step of ``benchmarks.discrete.gap``: cached curve points into the result files.

The curves are measured by separate, resumable processes; this step
reads their cached points and adds them to the committed documents (``gap_curve`` and its
trend in text.json, ``curve`` per MSA in sequences.json), keeping every other entry and the
document's ``meta`` (the command that measured the rest), re-renders the Markdown with
the benchmarks' own renderers and draws the plots. It writes nothing it did not find.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from benchmarks.common.results_io import RESULTS, read_results, write_results

__all__ = ["budget_to_reach", "gap_trend", "loglinear_fit", "report"]


def loglinear_fit(budgets: list[float], ys: list[float]) -> tuple[float, float] | None:
    """Least squares y = a + b log2(budget): (a, b), b per doubling of compute; None with
    fewer than 2 distinct budgets."""
    xs = [math.log2(v) for v in budgets]
    if len(set(xs)) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def budget_to_reach(
    budgets: list[float], ys: list[float], target: float, *, below: bool
) -> float | None:
    """Budget at which the log-linear fit of ``ys`` meets ``target``, the target being
    met by values ``<= target`` (``below``) or ``>= target``: an extrapolation, not a
    measurement. None when the fit cannot be made or moves away from the target side as
    compute grows."""
    fit = loglinear_fit(budgets, ys)
    if fit is None or (fit[1] >= 0 if below else fit[1] <= 0):
        return None
    a, b = fit
    return 2.0 ** ((target - a) / b)


def gap_trend(curve: list[dict]) -> float | None:
    """Least-squares slope of the gap (mask - AR, bits/char) against log2(budget): bits
    per doubling of compute (negative = the gap shrinks). None with fewer than 2 points."""
    fit = loglinear_fit(
        [c["budget_s"] for c in curve], [c["mask_nelbo_bpc"] - c["ar_bpc"] for c in curve]
    )
    return None if fit is None else fit[1]


def _text_curve(run_dir: Path, cached: Callable) -> list[dict]:
    ar = {d["budget_s"]: d for d in cached(run_dir / "text" / "ar")}
    mask = {d["budget_s"]: d for d in cached(run_dir / "text" / "mask")}
    return [
        {
            "budget_s": b,
            "ar_bpc": ar[b]["bpc"],
            "mask_nelbo_bpc": mask[b]["nelbo_bpc"],
            "ar_steps": ar[b]["steps"],
            "mask_steps": mask[b]["steps"],
        }
        for b in sorted(set(ar) & set(mask))
    ]


def _msa_curve(run_dir: Path, name: str, cached: Callable) -> list[dict]:
    ar = {d["budget_s"]: d for d in cached(run_dir / name / "ar")}
    out = []
    for d in cached(run_dir / name / "mask"):
        c = {k: d[k] for k in ("budget_s", "pair_r", "pair_r_ceiling", "steps")}
        if d["budget_s"] in ar:
            c["ar_pair_r"] = ar[d["budget_s"]]["pair_r"]
        out.append(c)
    return out


def _plot_text(curve: list[dict]) -> Callable[[Path], None]:
    def draw(path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        b = [c["budget_s"] for c in curve]
        fig, (ax, gx) = plt.subplots(1, 2, figsize=(9, 3.5))
        ax.plot(b, [c["ar_bpc"] for c in curve], "o-", label="AR (exact)")
        ax.plot(b, [c["mask_nelbo_bpc"] for c in curve], "s-", label="mask CTMC (NELBO)")
        gx.plot(b, [c["mask_nelbo_bpc"] - c["ar_bpc"] for c in curve], "d-", color="k")
        for a, title in ((ax, "test bits/char"), (gx, "gap: mask - AR (bits/char)")):
            a.set_xscale("log", base=2)
            a.set_xlabel("CPU seconds of training per model (1 thread)")
            a.set_title(title)
            a.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=120)
        plt.close(fig)

    return draw


def _plot_msa(curves: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, curve in curves.items():
        b = [c["budget_s"] for c in curve]
        ax.plot(b, [c["pair_r"] / c["pair_r_ceiling"] for c in curve], "o-", label=name)
    ax.axhline(0.8, ls="--", color="gray", label="0.8 of the ceiling")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("CPU seconds of training (1 thread)")
    ax.set_ylabel("pair r / ceiling (mask CTMC)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    plt.close(fig)


def report(run_dir: Path, out_dir: str | None, recipes: dict, msas: tuple, cached) -> dict:
    """Add the cached curves of ``run_dir`` to text.json / sequences.json in ``out_dir``.

    Raises FileNotFoundError when a result file is missing or no curve point is cached.
    """
    from benchmarks.discrete import sequences, text

    out = Path(out_dir or RESULTS)
    written: dict = {}
    curve = _text_curve(run_dir, cached)
    if curve:
        doc = read_results("text", out)
        meta = doc.pop("meta")
        doc["gap_curve"] = curve
        doc["gap_trend_bpc_per_doubling"] = gap_trend(curve)
        last = curve[-1]
        doc.setdefault("must_show", {})["gap_shrinks_with_compute"] = (
            len(curve) >= 2 and doc["gap_trend_bpc_per_doubling"] < 0
        )
        doc["must_show"][f"gap_at_{last['budget_s']:g}s_le_0.6"] = (
            last["mask_nelbo_bpc"] - last["ar_bpc"] <= 0.6
        )
        doc["gap_0.6_budget_s_extrapolated"] = budget_to_reach(
            [c["budget_s"] for c in curve],
            [c["mask_nelbo_bpc"] - c["ar_bpc"] for c in curve],
            0.6,
            below=True,
        )
        doc["gap_curve_settings"] = {
            **recipes["text"],
            "clock": "process CPU seconds",
            "command": "python -m benchmarks.discrete.gap",
        }
        written["text"] = write_results("text", doc, meta, out_dir=out, markdown=text._markdown)
        _plot_text(curve)(out / "text_gap.png")
    curves = {n: c for n in msas if (c := _msa_curve(run_dir, n, cached))}
    if curves:
        doc = read_results("sequences", out)
        meta = doc.pop("meta")
        for name, c in curves.items():
            if name not in doc:
                raise FileNotFoundError(f"sequences.json in {out} has no entry {name!r}")
            doc[name]["curve"] = c
            top = c[-1]
            doc.setdefault("must_show", {})[f"{name}_curve_top_ge_0.8_ceiling"] = (
                top["pair_r"] >= 0.8 * top["pair_r_ceiling"]
            )
            doc[name]["ratio_0.8_budget_s_extrapolated"] = budget_to_reach(
                [d["budget_s"] for d in c],
                [d["pair_r"] / d["pair_r_ceiling"] for d in c],
                0.8,
                below=False,
            )
        doc["curve_settings"] = {**recipes["msa"], "clock": "process CPU seconds"}
        written["sequences"] = write_results(
            "sequences", doc, meta, out_dir=out, markdown=sequences._markdown
        )
        _plot_msa(curves, out / "sequences_curve.png")
    if not written:
        raise FileNotFoundError(f"no cached curve points under {run_dir}: run the curves first")
    return written
