"""Speed benchmark: manifold-fm against its peers, measured interleaved in one run.

``python -m benchmarks.speed [--quick] [--only core,lie,...]`` gathers rows from every
``benchmarks/speed/<topic>.py`` module (each exposes ``rows(quick)``), prints a table and
writes ``benchmarks/results/speed.json`` (``{"rows": [...], "meta": ..., ...}``) and
``speed.md`` through benchmarks.common.results_io. Row fields (benchmarks.common.timing.speed_row):
name, unit, ours, peer, peer_value, ratio (> 1: manifold-fm is faster), then details.
A run with ``--only`` replaces the rows of those topics and keeps the others' rows.
"""

from __future__ import annotations

import argparse
import importlib
import time
import traceback

import torch

from benchmarks.common.results_io import add_output_args, make_meta, read_results, write_results

TOPICS = ["core", "lie", "trainer", "likelihood", "discrete", "couplings", "images"]
SEED = 0


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _ratio(r: dict) -> str:
    """The ratio to two decimals, or 'n/a' for a row whose peer was not run."""
    return "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"


def markdown(doc: dict) -> str:
    """speed.md from a speed.json document: one table row per measured row."""
    meta, hw = doc["meta"], doc["meta"]["hardware"]
    lines = [
        "# Speed: manifold-fm vs peers",
        "",
        f"Measured interleaved ({'quick' if doc['quick'] else 'full'} sizes), wall time "
        f"{meta['wall_s']} s for topics {','.join(doc['topics'])}, torch threads "
        f"{doc['threads']} (rows of other topics, if any, are kept from an earlier run: see "
        "their threads field).",
        f"Hardware: {hw['processor']}, {hw['cpu_count']} cores, torch {meta['torch']}.",
        "",
        "| row | unit | ours | peer | peer value | ratio (>1: ours faster) | notes |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    skip = {"name", "unit", "ours", "peer", "peer_value", "ratio", "topic", "wall_s_topic"}
    for r in doc["rows"]:
        notes = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in skip)
        lines.append(
            f"| {r['name']} | {r['unit']} | {_fmt(r['ours'])} | {r['peer']} | "
            f"{_fmt(r['peer_value'])} | {_ratio(r)} | {notes} |"
        )
    if doc["errors"]:
        lines += ["", "Topics not measured:", *[f"- {k}: {v}" for k, v in doc["errors"].items()]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    ap.add_argument("--only", default=",".join(TOPICS), help="comma-separated topics")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    add_output_args(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    rows, errors = [], {}
    for topic in args.only.split(","):
        try:
            mod = importlib.import_module(f"benchmarks.speed.{topic}")
        except ModuleNotFoundError as err:
            errors[topic] = f"not available: {err}"
            continue
        t1 = time.perf_counter()
        try:
            new = mod.rows(quick=args.quick)
        except Exception as err:
            errors[topic] = "".join(traceback.format_exception_only(type(err), err)).strip()
            continue
        for r in new:
            r.setdefault("topic", topic)
            r.setdefault("threads", args.threads)
            r.setdefault("wall_s_topic", round(time.perf_counter() - t1, 2))
            print(
                f"{r['name']:<36} ours {_fmt(r['ours']):>10} {r['unit']:<10} "
                f"{r['peer']:<14} {_fmt(r['peer_value']):>10}  ratio {_ratio(r)}"
            )
        rows.extend(new)
    topics = args.only.split(",")
    # a run refreshes its topics' rows and keeps the rest (a partial run's other topics, and
    # rows other scripts add, such as benchmarks.speed.nfe_equal_quality's)
    old = read_results("speed", args.out_dir)
    if old is not None:
        rows = [r for r in old["rows"] if r.get("topic") not in topics] + rows
    payload = {
        "rows": rows,
        "errors": errors,
        "quick": args.quick,
        "topics": topics,
        "threads": args.threads,
    }
    meta = make_meta("speed", seeds=[SEED], wall_s=round(time.perf_counter() - t0, 2), argv=argv)
    return write_results("speed", payload, meta, out_dir=args.out_dir, markdown=markdown)


if __name__ == "__main__":
    main()
