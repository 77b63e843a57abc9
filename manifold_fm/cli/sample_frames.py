"""``mfm sample`` options for frame spaces: lengths, rotation rate, final jump, PDB files.

These options act through the general sampler
(:func:`~manifold_fm.solvers.sample`, :class:`~manifold_fm.solvers.RotationRate`,
:func:`~manifold_fm.solvers.sample_with_final_jump`) but are worded for backbones; kept
apart so the command's main module stays small.

* ``--length L``: sample backbones of L residues: the checkpoint's ``[space]`` section is
  rebuilt with ``n_frames = L`` (FrameNet takes any length).
* ``--rotation-rate C``: FrameFlow's rotation-rate schedule (C = 10 in FrameFlow).
* ``--final-jump``: the last step without policies, which lands on the model's x1_hat
  (euler only).
* ``--pdb-dir DIR``: also write every sample as ``DIR/sample_000.pdb``, ... (sampled amino
  acids as residue names on the co-generation space).

A checkpoint trained with ``train.self_condition`` samples with
:class:`~manifold_fm.nn.SelfConditioning` (its previous estimate fed back, as trained).
"""

from __future__ import annotations

import argparse
from typing import Any

from manifold_fm.cli.options import CLIError, count, finite

__all__ = ["add_frame_options", "frame_space_section", "sample_frames"]


def add_frame_options(s: argparse.ArgumentParser) -> None:
    """Add ``--length``, ``--rotation-rate``, ``--final-jump``, ``--pdb-dir`` to ``s``."""
    s.add_argument(
        "--length",
        type=count,
        default=None,
        help="residues per sample (rebuilds [space] with n_frames = LENGTH)",
    )
    s.add_argument(
        "--rotation-rate",
        type=finite,
        default=None,
        help="rotation-rate schedule c (FrameFlow: 10) on spaces with rotations",
    )
    s.add_argument(
        "--final-jump",
        action="store_true",
        help="take the last step without policies: a jump to the model's x1_hat",
    )
    s.add_argument(
        "--pdb-dir",
        default=None,
        help="also write each sample as DIR/sample_000.pdb, sample_001.pdb, ... (frame spaces)",
    )


def frame_space_section(section: dict[str, Any], length: int | None) -> dict[str, Any]:
    """The ``[space]`` section with ``n_frames = length`` (unchanged when None)."""
    if length is None:
        return section
    if "n_frames" not in section:
        raise CLIError(
            f"--length needs a frame space with n_frames; the checkpoint's [space] is "
            f"kind={section.get('kind')!r} without it"
        )
    return {**section, "n_frames": length}


def sample_frames(
    args: argparse.Namespace,
    run: dict[str, Any],
    model: Any,
    space: Any,
    cond: dict[str, Any],
    gen: Any,
    device: Any,
) -> Any:
    """Run the sampler the options ask for; return its SampleResult (and write PDBs)."""
    from manifold_fm.nn import SelfConditioning
    from manifold_fm.solvers import RotationRate, sample, sample_with_final_jump

    policies = [] if args.rotation_rate is None else [RotationRate(args.rotation_rate)]
    if run.get("train", {}).get("self_condition", False):
        model = SelfConditioning(model, space)
    if args.final_jump:
        if args.method != "euler" or args.guidance_scale is not None:
            raise CLIError("--final-jump samples with --method euler and no --guidance-scale")
        res = sample_with_final_jump(
            model,
            space,
            args.n,
            steps=args.steps,
            policies=policies,
            cond=cond or None,
            generator=gen,
            device=device,
        )
    else:
        res = sample(
            model,
            space,
            args.n,
            steps=args.steps,
            method=args.method,
            cond=cond or None,
            guidance_scale=args.guidance_scale,
            policies=policies,
            generator=gen,
            device=device,
        )
    if args.pdb_dir is not None:
        from manifold_fm.proteins.samples import write_sample_pdbs

        try:
            write_sample_pdbs(space, res.x.cpu(), args.pdb_dir)
        except TypeError as err:
            raise CLIError(f"--pdb-dir: {err}") from None
    return res
