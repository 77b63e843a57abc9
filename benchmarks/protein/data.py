"""The protein benchmark's sets: train/held-out split, real crops, baselines, DSSP check.

Every set the benchmark scores is built here from the shipped
chains (``MFM_DATA/proteins/pdb``) so the metrics compare like with like:

* :func:`split` -- a fixed-seed permutation of the chains into train and held-out;
* :func:`real_crops` -- held-out chains cut to a length (a random contiguous window of
  chains at least that long), real N, CA, C, O atoms;
* :func:`prior_atoms` / :func:`walk_atoms` -- the two baselines, with ideal N, C, O
  placed by :func:`~manifold_fm.proteins.frames.ideal_backbone` (the atoms
  ``write_pdb`` writes): prior draws of ``SE3(L)``, and a plain random CA walk (3.8 A
  steps, random directions, no clash rejection) with Haar-random frame rotations;
* :func:`dssp_agreement` -- pydssp on the real atoms of the TS50 chains against the DSSP
  program's reference files (``proteins/dssp_ts50``; H = H, E = E, all else coil).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from manifold_fm.lie.rotations import random_rotation
from manifold_fm.proteins import ProteinSet, ideal_backbone
from manifold_fm.proteins.metrics import dssp_labels, random_walk

__all__ = [
    "dssp_agreement",
    "frames_to_atoms",
    "prior_atoms",
    "real_crops",
    "split",
    "subset",
    "walk_atoms",
]


def subset(ps: ProteinSet, idx: list[int]) -> ProteinSet:
    """The chains ``idx`` of ``ps`` as a new :class:`ProteinSet`."""
    chains = [ps.chain(i) for i in idx]
    lengths = torch.tensor([len(c) for c in chains], dtype=torch.int64)
    offsets = torch.cumsum(lengths, 0) - lengths
    return ProteinSet(
        coords=torch.cat(chains),
        offsets=offsets,
        lengths=lengths,
        names=[ps.names[i] for i in idx],
        sequences=[ps.sequences[i] for i in idx],
        report=ps.report,
    )


def split(ps: ProteinSet, n_held: int, seed: int) -> tuple[ProteinSet, ProteinSet]:
    """``(train, held-out)``: ``n_held`` chains by a permutation seeded with ``seed``."""
    perm = np.random.default_rng(seed).permutation(len(ps)).tolist()
    return subset(ps, sorted(perm[n_held:])), subset(ps, sorted(perm[:n_held]))


def real_crops(ps: ProteinSet, length: int, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to ``n`` windows ``(length, 4, 3)`` of distinct chains at least ``length`` long."""
    ok = [i for i in range(len(ps)) if int(ps.lengths[i]) >= length]
    out = []
    for i in rng.permutation(ok)[:n].tolist():
        start = int(rng.integers(0, int(ps.lengths[i]) - length + 1))
        out.append(ps.chain(i)[start : start + length].double().numpy())
    return out


def frames_to_atoms(frames: torch.Tensor) -> list[np.ndarray]:
    """Frames ``(n, L, 3, 4)`` -> ideal N, CA, C, O ``(L, 4, 3)`` per sample."""
    return list(ideal_backbone(frames.double()).numpy())


def prior_atoms(space, n: int, seed: int) -> list[np.ndarray]:
    """``n`` prior draws of ``space`` (an ``SE3(L)``) as ideal backbones."""
    g = torch.Generator().manual_seed(seed)
    return frames_to_atoms(space.sample_prior(n, generator=g, dtype=torch.float64))


def walk_atoms(length: int, n: int, seed: int) -> list[np.ndarray]:
    """``n`` random CA walks of ``length`` with Haar frames, as ideal backbones."""
    rng, g = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    ca = torch.tensor(np.stack([random_walk(length, rng) for _ in range(n)]))
    rot = random_rotation(n * length, generator=g).reshape(n, length, 3, 3).double()
    return frames_to_atoms(torch.cat([rot, ca.unsqueeze(-1)], -1))


def _reference_labels(path: Path) -> str:
    """3-class labels of a DSSP file: H -> H, E -> E, everything else -> '-'."""
    with gzip.open(path, "rt") as fh:
        lines = fh.read().splitlines()
    start = next(i for i, s in enumerate(lines) if s.startswith("  #  RESIDUE"))
    rows = [s for s in lines[start + 1 :] if len(s) > 16 and s[13] != "!"]
    return "".join(s[16] if s[16] in "HE" else "-" for s in rows)


def dssp_agreement(ps: ProteinSet, ref_dir: Path) -> dict:
    """Per-residue agreement of pydssp with the reference files on chains of ``ps``.

    Chains whose reference length differs from the parsed chain are skipped (counted).
    """
    if not ref_dir.is_dir():
        return {"agreement": None, "reason": f"{ref_dir} not found"}
    names = {n.split("_")[0]: i for i, n in enumerate(ps.names)}  # "<file stem>_<chain>"
    same = total = used = skipped = 0
    for path in sorted(ref_dir.glob("*.dssp.gz")):
        i = names.get(path.name.split(".")[0])
        if i is None:
            skipped += 1
            continue
        ref = _reference_labels(path)
        lab = dssp_labels(ps.chain(i).double().numpy())
        if lab is None:
            return {"agreement": None, "reason": "pydssp not importable"}
        if len(ref) != len(lab):
            skipped += 1
            continue
        same += int(sum(a == b for a, b in zip(ref, lab)))
        total, used = total + len(ref), used + 1
    return {
        "agreement": same / total if total else None,
        "chains": used,
        "skipped_chains": skipped,
        "residues": total,
        "mapping": "reference H -> helix, E -> strand, other DSSP classes -> coil",
    }
