"""text.md: the Markdown of benchmarks/results/text.json.

Text.json is written by three commands (``benchmarks.discrete.text``, and the
report steps of ``benchmarks.discrete.gap`` and ``benchmarks.discrete.levers``, which add
``gap_curve`` and ``levers``); one renderer draws every section from the document, and
leaves out the sections of keys a document does not have.
"""

from __future__ import annotations

__all__ = ["markdown"]


def markdown(r: dict) -> str:
    """text.md from a text.json document (sections for keys a run did not write are left out)."""
    s = r["settings"]
    lines = [
        "# Text: tinyshakespeare, 128-char chunks, CTMC flow matching vs AR",
        "",
        f"Same SequenceTransformer (dim {s['dim']}, depth {s['depth']}) and {s['budget_s']:g} s "
        f"training budget per model (process CPU seconds), batch {s['batch_size']}, "
        f"AdamW lr {s['lr']}, "
        f"{s['threads']} thread(s), seed {s['seed']}. Test: first {s['eval_chunks']} "
        f"non-overlapping 128-char chunks of the README test split; NELBO with {s['n_t']} "
        "stratified samples per chunk (an upper bound on the NLL). Wall time "
        f"{r['meta']['wall_s']} s.",
        "",
        "| model | params | train steps | test bits/char |",
        "|---|---:|---:|---:|",
        f"| AR (exact) | {r['params']['ar']} | {r['train_steps']['ar']} | {r['ar_bpc']:.3f} |",
        f"| CTMC mask source (NELBO, k-form) | {r['params']['mask']} | "
        f"{r['train_steps']['mask']} | <= {r['nelbo_bpc_mask']:.3f} "
        f"(+- {r['nelbo_bpc_mask_stderr']:.3f}) |",
        f"| CTMC uniform source (NELBO, t-form) | {r['params']['uniform']} | "
        f"{r['train_steps']['uniform']} | <= {r['nelbo_bpc_uniform']:.3f} "
        f"(+- {r['nelbo_bpc_uniform_stderr']:.3f}) |",
    ]
    if "peer_flow_matching_nelbo_bpc" in r:
        lines.append(
            f"| flow_matching mask pipeline (our NELBO, k-form) | "
            f"{r['params']['peer_flow_matching']} | {r['train_steps']['peer_flow_matching']} | "
            f"<= {r['peer_flow_matching_nelbo_bpc']:.3f} "
            f"(+- {r['peer_flow_matching_nelbo_bpc_stderr']:.3f}) |"
        )
    for k, (v, t) in r["readme_ngram_bpc_val_test"].items():
        lines.append(f"| {k} Witten-Bell (README) | - | - | {t:.2f} (val {v:.2f}) |")
    lines += [
        "",
        f"Mask NELBO minus AR: {r['mask_minus_ar_bpc']:+.3f} bits/char (issue target <= 0.35; "
        "literature calibration: ~0.9 after 2.8k updates at this size, see "
        "shared/notes/discrete-recipe.md 5.4).",
        "",
        f"Samples ({s['samples']} x 128 chars; CTMC: ancestral, {s['sample_steps']} steps, "
        "float64, temperature 1). JS = Jensen-Shannon divergence in bits to the test split; "
        "entropy = mean per-sample unigram entropy; AR-NLL = bits/char under our AR model.",
        "",
        "| samples | JS1 | JS2 | JS3 | entropy | AR-NLL |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for k, v in r["sample_stats"].items():
        lines.append(
            f"| {k} | {v['js1']:.3f} | {v['js2']:.3f} | {v['js3']:.3f} | "
            f"{v['entropy_bits']:.2f} | {v['ar_nll_bpc']:.2f} |"
        )
    lines += _extra_sections(r)
    lines += [
        "",
        "Calibration in the notes (25 min per model, 0.83M params): AR 2.38 test BPC, masked "
        "<= 3.08; real-data JS2 0.058, AR samples 0.062, masked samples 0.082.",
        "",
        f"Hardware: {r['meta']['hardware']['processor']}, torch {r['meta']['torch']}.",
        "",
    ]
    return "\n".join(lines)


def _extra_sections(r: dict) -> list[str]:
    """The peer, training-loss, gap-curve and lever sections, each only when present."""
    out: list[str] = []
    if "peer_flow_matching_skipped" in r:
        out += ["", f"flow_matching peer not run: {r['peer_flow_matching_skipped']}."]
    if "peer_flow_matching_nelbo_bpc" in r:
        out += [
            "",
            "Peer: flow_matching's MixtureDiscreteProbPath (polynomial scheduler n = 1), "
            "MixturePathGeneralizedKL and MixtureDiscreteEulerSolver (same steps, float64 draws) "
            "with the same network, data, optimiser and budget; scored with our elbo. "
            f"Bigram JS of its samples {r['peer_flow_matching_bigram_js']:.3f} vs ours "
            f"{r['bigram_js_samples']:.3f}.",
        ]
    if "final_train_loss_label" in r:
        out += [
            "",
            "Final training losses (last 50 training batches; each labelled with what it is):",
            "",
        ]
        for k, v in r["final_train_loss"].items():
            out.append(f"- {k}: {v:.3f} ({r['final_train_loss_label'][k]})")
    if "gap_curve" in r:
        out += _gap_lines(
            r["gap_curve"],
            r.get("gap_trend_bpc_per_doubling"),
            r.get("gap_0.6_budget_s_extrapolated"),
            r.get("gap_curve_settings", {}),
        )
    if "levers" in r:
        out += _lever_lines(r["levers"])
    return out


def _gap_lines(curve: list[dict], trend: float | None, to_06: float | None, cfg: dict) -> list[str]:
    recipe = ", ".join(f"{k} {cfg[k]:g}" for k in ("dim", "depth", "lr") if k in cfg)
    out = [
        "",
        "Gap against compute (each model trained for budget_s CPU seconds, 1 thread, with the "
        f"plain recipe of the levers table, {recipe}; one run per model "
        "evaluated at each budget; `python -m benchmarks.discrete.gap`; text_gap.png):",
        "",
        "| CPU s per model | AR bits/char | mask NELBO bits/char | gap |",
        "|---:|---:|---:|---:|",
    ]
    for c in curve:
        out.append(
            f"| {c['budget_s']:g} | {c['ar_bpc']:.3f} | <= {c['mask_nelbo_bpc']:.3f} | "
            f"{c['mask_nelbo_bpc'] - c['ar_bpc']:+.3f} |"
        )
    if trend is not None:
        out += ["", f"Gap trend: {trend:+.3f} bits/char per doubling of compute (least squares)."]
    if to_06 is not None:
        out[-1] += (
            f" The log-linear fit reaches a gap of 0.6 bits/char at about {to_06:,.0f} CPU s "
            "per model (an extrapolation, not a measurement)."
        )
    return out


def _lever_lines(levers: list[dict]) -> list[str]:
    out = [
        "",
        "Levers (mask model, equal CPU budget each, seed 0; NELBO k-form on the test chunks). "
        "Options change the plain recipe (dim 128, depth 4, batch 32, lr 1e-3 constant, no "
        "warmup, t ~ U[0, 1), linear kappa, ce loss); the baseline row is the gap curve's "
        "mask run at this budget (same settings and seed). The best row sets the recipe of "
        "the table at the top; the steps column shows each lever's throughput "
        "(`python -m benchmarks.discrete.levers`):",
        "",
        "| lever | options | CPU s | steps | NELBO bits/char | vs baseline |",
        "|---|---|---:|---:|---:|---:|",
    ]
    base = next((v["nelbo_bpc"] for v in levers if v["lever"] == "baseline"), None)
    for v in levers:
        delta = "-" if base is None else f"{v['nelbo_bpc'] - base:+.3f}"
        out.append(
            f"| {v['lever']} | {v['options']} | {v['budget_s']:g} | {v['steps']} | "
            f"<= {v['nelbo_bpc']:.3f} | {delta} |"
        )
    return out
