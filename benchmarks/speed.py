"""Speed benchmark: manifold-fm against its peers, measured interleaved in one run.

``python -m benchmarks.speed [--quick] [--only core,lie,...]`` gathers rows from every
``benchmarks/speed_<topic>.py`` module (each exposes ``rows(quick)``), prints a table and
writes ``benchmarks/results/speed.json`` (``{"rows": [...], ...}``) and ``speed.md``.
Row fields: name, unit, ours, peer, peer_value, ratio (> 1: manifold-fm is faster).
A run with ``--only`` replaces the rows of those topics and keeps the others' rows.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import traceback

import torch

from benchmarks.common import RESULTS, hardware, write_json, write_md

TOPICS = ["core", "lie", "trainer", "likelihood", "discrete"]


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    ap.add_argument("--only", default=",".join(TOPICS), help="comma-separated topics")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    rows, errors = [], {}
    for topic in args.only.split(","):
        try:
            mod = importlib.import_module(f"benchmarks.speed_{topic}")
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
                f"{r['peer']:<14} {_fmt(r['peer_value']):>10}  ratio {r['ratio']:.2f}"
            )
        rows.extend(new)
    topics = args.only.split(",")
    if set(topics) != set(TOPICS):  # a partial run refreshes its topics' rows, keeps the rest
        old = RESULTS / "speed.json"
        if old.is_file():
            kept = [r for r in json.loads(old.read_text()).get("rows", [])
                    if r.get("topic") not in topics]  # fmt: skip
            rows = kept + rows
    payload = {
        "rows": rows,
        "errors": errors,
        "quick": args.quick,
        "seed": 0,
        "hardware": hardware(),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    write_json("speed", payload)
    lines = [
        "# Speed: manifold-fm vs peers",
        "",
        f"Measured interleaved ({'quick' if args.quick else 'full'} sizes), wall time "
        f"{payload['wall_s']} s for topics {args.only}, torch threads {args.threads} "
        "(rows of other topics, if any, are kept from an earlier run: see their threads field).",
        f"Hardware: {payload['hardware']['processor']}, {payload['hardware']['cpu_count']} cores, "
        f"torch {payload['hardware']['torch']}.",
        "",
        "| row | unit | ours | peer | peer value | ratio (>1: ours faster) | notes |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    skip = {"name", "unit", "ours", "peer", "peer_value", "ratio", "topic", "wall_s_topic"}
    for r in rows:
        notes = ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k not in skip)
        lines.append(
            f"| {r['name']} | {r['unit']} | {_fmt(r['ours'])} | {r['peer']} | "
            f"{_fmt(r['peer_value'])} | {r['ratio']:.2f} | {notes} |"
        )
    if errors:
        lines += ["", "Topics not measured:", *[f"- {k}: {v}" for k, v in errors.items()]]
    write_md("speed", "\n".join(lines) + "\n")
    return payload


if __name__ == "__main__":
    main()
