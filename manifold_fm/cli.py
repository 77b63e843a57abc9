"""The ``mfm`` command: train from a TOML config, sample from a checkpoint, run the demo.

    mfm train CONFIG [--set section.key=value ...]
    mfm sample CKPT [--n N --steps S --method M --out file.pt --seed K --device D]
                    [--cond label=2 --guidance-scale W]
    mfm demo [--steps N --batch-size B --seed K --n-eval M --out DIR --no-progress]

``train`` builds the space, model and data by registry name
(:mod:`manifold_fm.train.registry`) and stores the config in every checkpoint, so
``sample`` can rebuild the model and integrate its EMA weights with
:func:`manifold_fm.solvers.sample`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


def _cmd_train(args: argparse.Namespace) -> int:
    from manifold_fm.train import Trainer, load_run_config
    from manifold_fm.train.registry import DATASETS, MODELS, SPACES

    run = load_run_config(args.config, args.set or [])
    if run.train.out_dir is None:
        run.train.out_dir = str(Path("runs") / Path(args.config).stem)
    space = SPACES.build(run.space)
    model = MODELS.build(run.model, space)
    data = DATASETS.build(run.data, space)
    trainer = Trainer(space, model, data, run.train, meta={"run": run.to_dict()})
    result = trainer.fit()
    if trainer.dist.is_main:
        summary = {
            "steps": result.steps,
            "final_loss": result.final_loss,
            "wall_s": round(result.wall_s, 3),
            "steps_per_s": round(result.steps_per_s, 2),
            "ckpt_path": result.ckpt_path,
        }
        print(json.dumps(summary))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from manifold_fm.solvers import sample
    from manifold_fm.train.checkpoint import load_checkpoint, save_checkpoint
    from manifold_fm.train.distributed import resolve_device
    from manifold_fm.train.registry import MODELS, SPACES

    state = load_checkpoint(args.ckpt)
    run = state.get("meta", {}).get("run")
    if not isinstance(run, dict):
        raise ValueError(
            f"checkpoint {args.ckpt!r} has no run config (meta['run']); it was not written "
            "by `mfm train`, so the model cannot be rebuilt from it"
        )
    device = resolve_device(args.device)
    space = SPACES.build(run["space"])
    model = MODELS.build(run["model"], space)
    model.load_state_dict(state["ema"])
    model.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(args.seed)
    cond = _parse_cond(args.cond or [], args.n, device)
    res = sample(
        model,
        space,
        args.n,
        steps=args.steps,
        method=args.method,
        cond=cond or None,
        guidance_scale=args.guidance_scale,
        generator=gen,
        device=device,
    )
    out = Path(args.out)
    save_checkpoint({"x": res.x.cpu(), "nfe": res.nfe, "step": state["step"]}, out)
    print(json.dumps({"out": str(out), "n": args.n, "shape": list(res.x.shape), "nfe": res.nfe}))
    return 0


def _parse_cond(items: list[str], n: int, device) -> dict:
    """``key=value`` pairs -> condition tensors of shape (n,) (ints: long, floats: float)."""
    import torch

    from manifold_fm.train.config import parse_value

    cond = {}
    for item in items:
        key, sep, text = item.partition("=")
        value = parse_value(text.strip())
        if not sep or not key or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"--cond expects key=number (e.g. label=3), got {item!r}")
        dtype = torch.long if isinstance(value, int) else torch.float32
        cond[key.strip()] = torch.full((n,), value, dtype=dtype, device=device)
    return cond


def _cmd_demo(args: argparse.Namespace) -> int:
    from manifold_fm import demo  # written by the lead; imported only when asked for

    demo.main(list(args.demo_args))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``mfm``."""
    p = argparse.ArgumentParser(prog="mfm", description="manifold-fm: flow matching anywhere")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train from a TOML config")
    t.add_argument("config", help="TOML file with [space], [model], [data], [train]")
    t.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable), e.g. --set train.steps=500",
    )
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("sample", help="sample from a checkpoint's EMA model")
    s.add_argument("ckpt", help="checkpoint written by `mfm train`")
    s.add_argument("--n", type=int, default=1000, help="number of samples")
    s.add_argument("--steps", type=int, default=100, help="solver steps")
    s.add_argument("--method", default="euler", help="euler | midpoint | rk4 | dopri5")
    s.add_argument("--out", default="samples.pt", help="output .pt file ({'x': tensor})")
    s.add_argument(
        "--cond",
        action="append",
        metavar="KEY=NUMBER",
        help="condition for every sample (repeatable), e.g. --cond label=2",
    )
    s.add_argument(
        "--guidance-scale",
        type=float,
        default=None,
        help="classifier-free guidance scale w (needs --cond; model trained with cond_dropout)",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.set_defaults(func=_cmd_sample)

    d = sub.add_parser(
        "demo", help="run the quick demo (its options: python -m manifold_fm.demo -h)"
    )
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mfm`` console script; returns the exit status.

    Configuration and input errors (ValueError, TypeError, FileNotFoundError) are printed
    as one line ``mfm: error: ...`` with exit status 2.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["demo"]:  # the demo parses its own options
        return _cmd_demo(argparse.Namespace(demo_args=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"mfm: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
