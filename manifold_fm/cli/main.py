"""The ``mfm`` command: train from a TOML config, sample from a checkpoint, run the demo.

Usage::

    mfm train CONFIG [--set section.key=value ...]
    mfm sample CKPT [--n N --steps S --method M --out file.pt --seed K --device D]
                    [--cond label=2 --guidance-scale W]
                    [--length L --rotation-rate C --final-jump --pdb-dir DIR]
    mfm demo [--steps N --batch-size B --seed K --n-eval M --out DIR --no-progress]

``train`` builds the space, model and data by registry name
(:mod:`manifold_fm.cli.registry`) and stores the run config in every checkpoint, so
``sample`` can rebuild the model and integrate its EMA weights with
:func:`manifold_fm.solvers.sample`. Every input problem (bad option, config, data,
checkpoint) is reported as one line ``mfm: error: ...`` on stderr with exit status 2,
worded in terms of the command's own options and config keys.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from manifold_fm.cli.options import CLIError, Parser, count, finite, seed
from manifold_fm.cli.sample_frames import add_frame_options

__all__ = ["CLIError", "build_parser", "main"]


def _cmd_train(args: argparse.Namespace) -> int:
    from manifold_fm.cli.registry import DATASETS, MODELS, SPACES
    from manifold_fm.cli.run_config import load_run_config
    from manifold_fm.train import Trainer

    run = load_run_config(args.config, args.set or [])
    if run.train.out_dir is None:
        run.train.out_dir = str(Path("runs") / Path(args.config).stem)
    space = SPACES.build(run.space)
    model = MODELS.build(run.model, space)
    data = DATASETS.build(run.data, space, context={"config_dir": str(Path(args.config).parent)})
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


def read_run_checkpoint(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(state, run)`` of a checkpoint written by ``mfm train`` (or ``mfm demo``).

    CLIError (one sentence, no torch internals) when the file is empty, not a torch
    archive, unreadable with ``weights_only=True``, or lacks the run config / EMA weights.
    """
    from manifold_fm.train.checkpoint import load_checkpoint

    try:
        state = load_checkpoint(path)
    except ValueError as err:
        if err.__cause__ is None:  # the loader's own one-sentence reason
            raise CLIError(f"{err}; pass a ckpt.pt written by `mfm train`") from None
        raise CLIError(
            f"checkpoint {path!r} cannot be read (truncated, or holds more than tensors and "
            "plain values); pass a ckpt.pt written by `mfm train`"
        ) from None
    run = state.get("meta", {}).get("run")
    if not isinstance(run, dict) or "ema" not in state:
        raise CLIError(
            f"checkpoint {path!r} has no run config (meta['run']) and EMA weights; it was not "
            "written by `mfm train`, so the model cannot be rebuilt from it"
        )
    return state, run


def _check_cond_options(args: argparse.Namespace, run: dict[str, Any], model: Any) -> None:
    """Refuse ``--cond`` / ``--guidance-scale`` the checkpoint's model would not use.

    What the model reads comes from :func:`manifold_fm.conditioning.accepted_cond_keys`,
    the check ``sample`` itself runs; this one words it in the command line's terms.
    """
    from manifold_fm.conditioning import COND_DROP, accepted_cond_keys

    keys = [item.partition("=")[0].strip() for item in args.cond or []]
    if args.guidance_scale is not None and not keys:
        raise CLIError("--guidance-scale needs --cond KEY=NUMBER (the condition to guide toward)")
    accepted = accepted_cond_keys(model)
    if accepted is None:  # the model accepts any keyword: the sampler cannot tell either
        return
    takes = tuple(sorted(accepted - {COND_DROP, "mask"}))
    kind = run["model"].get("kind")
    if keys and not takes:
        raise CLIError(
            f"--cond {args.cond[0]!r}: the checkpoint's model ([model] kind={kind!r}) takes no "
            "condition; it was trained unconditionally"
        )
    for key in keys:
        if key not in takes:
            from manifold_fm.keyword_check import closest

            near = closest(key, takes)
            hint = f"; did you mean {near!r}?" if near else ""
            raise CLIError(f"--cond {key}=...: the model takes {list(takes)}{hint}")
    dropout = float(run.get("train", {}).get("cond_dropout", 0.0))
    if args.guidance_scale is not None and dropout <= 0:
        raise CLIError(
            "--guidance-scale needs a model trained with train.cond_dropout > 0 (this "
            "checkpoint: 0); without it the model never learned an unconditional output"
        )


def _cmd_sample(args: argparse.Namespace) -> int:
    import torch

    from manifold_fm.cli.registry import MODELS, SPACES
    from manifold_fm.cli.sample_frames import frame_space_section, sample_frames
    from manifold_fm.data.user_files import check_point_suffix, save_points
    from manifold_fm.solvers import sampling_methods
    from manifold_fm.train.distributed import resolve_device

    check_point_suffix(args.out)  # before any work
    state, run = read_run_checkpoint(args.ckpt)
    try:
        device = resolve_device(args.device)
    except ValueError:
        raise CLIError(
            f"--device {args.device!r} is not available here (use auto, cpu or cuda[:k])"
        ) from None
    space = SPACES.build(frame_space_section(run["space"], args.length))
    methods = sampling_methods(space)
    if args.method not in methods:
        raise CLIError(
            f"--method {args.method} does not integrate the checkpoint's space {space!r}; "
            f"choose one of " + ", ".join(f"--method {m}" for m in methods)
        )
    model = MODELS.build(run["model"], space)
    _check_cond_options(args, run, model)
    model.load_state_dict(state["ema"])
    model.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(args.seed)
    cond = _parse_cond(args.cond or [], args.n, device)
    res = sample_frames(args, run, model, space, cond, gen, device)
    out = Path(args.out)
    save_points(out, res.x, {"nfe": res.nfe, "step": state["step"]})
    print(json.dumps({"out": str(out), "n": args.n, "shape": list(res.x.shape), "nfe": res.nfe}))
    return 0


def _parse_cond(items: list[str], n: int, device: Any) -> dict[str, Any]:
    """``key=value`` pairs -> condition tensors of shape (n,) (ints: long, floats: float)."""
    import torch

    from manifold_fm.cli.run_config import parse_value

    cond = {}
    for item in items:
        key, sep, text = item.partition("=")
        value = parse_value(text.strip())
        if not sep or not key or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CLIError(f"--cond expects key=number (e.g. label=3), got {item!r}")
        dtype = torch.long if isinstance(value, int) else torch.float32
        cond[key.strip()] = torch.full((n,), value, dtype=dtype, device=device)
    return cond


def _cmd_demo(args: argparse.Namespace) -> int:
    from manifold_fm.cli import demo

    demo.main(list(args.demo_args))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``mfm`` (``-h`` on each command shows every default)."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = Parser(prog="mfm", description="manifold-fm: flow matching anywhere", formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train from a TOML config", formatter_class=fmt)
    t.add_argument("config", help="TOML file with [space], [model], [data], [train]")
    t.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable), e.g. --set train.steps=500",
    )
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("sample", help="sample from a checkpoint's EMA model", formatter_class=fmt)
    s.add_argument("ckpt", help="checkpoint written by `mfm train` or `mfm demo`")
    s.add_argument("--n", type=count, default=1000, help="number of samples")
    s.add_argument("--steps", type=count, default=100, help="solver steps")
    s.add_argument(
        "--method",
        default="euler",
        help="solver: euler, midpoint, rk4, a torchdiffeq method such as dopri5, or one the "
        "space supplies (tokens: ancestral); a bad name lists the space's choices",
    )
    s.add_argument(
        "--out",
        default="samples.pt",
        help="output file: .pt ({'x': tensor, 'nfe', 'step'}), .npy (the array) or .csv "
        "(one sample per row)",
    )
    s.add_argument(
        "--cond",
        action="append",
        metavar="KEY=NUMBER",
        help="condition for every sample (repeatable), e.g. --cond label=2",
    )
    s.add_argument(
        "--guidance-scale",
        type=finite,
        default=None,
        help="classifier-free guidance scale w (needs --cond; model trained with cond_dropout)",
    )
    s.add_argument("--seed", type=seed, default=0, help="seed of the sampler's generator")
    s.add_argument("--device", default="auto", help="'auto' (CUDA when present) or a torch device")
    add_frame_options(s)
    s.set_defaults(func=_cmd_sample)

    d = sub.add_parser(
        "demo", help="run the quick demo (its options: mfm demo -h)", formatter_class=fmt
    )
    d.set_defaults(func=_cmd_demo)
    return p


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mfm`` console script; returns the exit status.

    Input errors (ValueError, TypeError, FileNotFoundError, a plugin that fails to load, a
    kind whose optional dependencies are not installed) are printed as one line
    ``mfm: error: ...`` on stderr with exit status 2.
    """
    from manifold_fm.cli.registry import PluginError, missing_package

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["demo"]:  # the demo parses its own options
            return _cmd_demo(argparse.Namespace(demo_args=argv[1:]))
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, PluginError) as err:
        print(f"mfm: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except ImportError as err:  # e.g. a protein kind without the 'proteins' extra
        if missing_package(err) is None:
            raise  # a broken import is a bug: keep its traceback
        print(f"mfm: error: {_one_line(err)}", file=sys.stderr)
        return 2
