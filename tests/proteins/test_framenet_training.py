"""FrameNet through the one Trainer and sampler: SE3 with masks, co-generation, real chains.

Real chains come from the shipped set (``$MFM_DATA/proteins``, else ../shared/data beside
the checkout); those tests are skipped where it is absent.
"""

from __future__ import annotations

from pathlib import Path

import gemmi
import numpy as np
import torch
from _shared_data import PROTEIN_DATA, needs_proteins

from discrete_fm import CTMCSpace
from manifold_fm import ProductSpace
from manifold_fm.lie.rotations import random_rotation
from manifold_fm.nn import SelfConditioning
from manifold_fm.proteins import CoGenerationModel, frame_velocity_model
from manifold_fm.proteins.backbone_space import BackboneSE3
from manifold_fm.proteins.kabsch import kabsch_ot
from manifold_fm.proteins.plugin import proteins, proteins_cogen
from manifold_fm.proteins.samples import sample_backbones, write_sample_pdbs
from manifold_fm.solvers import RotationRate, sample, sample_with_final_jump
from manifold_fm.train import TrainConfig, Trainer

DATA = PROTEIN_DATA
needs_data = needs_proteins
TINY = dict(dim=16, edge_dim=8, n_layers=1, heads=2, head_dim=4, qk_points=2, v_points=2, k=6)
N = 10


def chains(n: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Random chain-like frames (3.8 A steps), centred over real residues, with masks."""
    r = random_rotation(n * N, generator=g).reshape(n, N, 3, 3)
    step = torch.randn(n, N, 3, generator=g)
    t = torch.cumsum(3.8 * step / step.norm(dim=-1, keepdim=True), 1)
    mask = torch.arange(N) < torch.randint(6, N + 1, (n, 1), generator=g)
    m = mask.unsqueeze(-1).float()
    t = (t - (t * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)) * m
    return {"x1": torch.cat([r, t.unsqueeze(-1)], -1), "mask": mask}


def cfg(**kw) -> TrainConfig:
    base = dict(steps=3, batch_size=4, warmup_steps=1, device="cpu", progress=False, log_every=1)
    return TrainConfig(**{**base, **kw})


def test_se3_training_with_kabsch_coupling_self_conditioning_and_aux_losses():
    space = BackboneSE3(N, aux_t_min=0.0)
    seen = []

    def spy(space_, x0, x1, generator=None, mask=None):
        seen.append(mask)
        return kabsch_ot(space_, x0, x1, generator, mask)

    spy.uses_mask = True
    data = chains(16, torch.Generator().manual_seed(0))
    run = cfg(coupling=spy, loss_form="x1", loss_weighting="frameflow", self_condition=True)
    fit = Trainer(space, frame_velocity_model(space, **TINY), data, run).fit()
    assert fit.steps == 3 and all(np.isfinite(fit.losses))
    assert len(seen) == 3 and all(m is not None and m.shape == (4, N) for m in seen)
    fit = Trainer(space, frame_velocity_model(space, **TINY), data, cfg(coupling="kabsch_ot")).fit()
    assert all(np.isfinite(fit.losses))


def cogen_space() -> ProductSpace:
    return ProductSpace(BackboneSE3(N, aux_atom_weight=0.0, aux_pair_weight=0.0), CTMCSpace(20, N))


def test_cogeneration_shapes_masks_training_and_sequences_in_pdb(tmp_path):
    space, g = cogen_space(), torch.Generator().manual_seed(1)
    model = CoGenerationModel(space, **TINY)
    raw = chains(16, g)
    tokens = torch.randint(0, 20, (16, N), generator=g)
    data = {"x1": space.join([raw["x1"], tokens], 1), "mask": torch.cat([raw["mask"]] * 2, -1)}
    x0 = space.sample_prior(4, generator=g)
    out = model(x0, torch.rand(4), mask=data["mask"][:4])
    vel, logits = space.split_tangent(out)
    pad = ~raw["mask"][:4]
    assert out.shape == (4, N * 6 + N * 20) and vel.shape == (4, N, 6)
    assert logits.shape == (4, N, 20) and bool((logits[pad] == 0).all())
    assert bool((vel[pad] == 0).all()) and torch.isfinite(out).all()

    fit = Trainer(space, model, data, cfg(self_condition=True)).fit()
    assert fit.steps == 3 and all(np.isfinite(fit.losses))

    mask = data["mask"][:4]
    res = sample(
        SelfConditioning(model, space),
        space,
        x0,
        steps=6,
        mask=mask,
        policies=[RotationRate(10.0)],
        generator=g,
    )
    (f0, tok0), (f1, tok1) = space.split(x0), space.split(res.x)
    assert torch.equal(f1[pad], f0[pad]) and torch.equal(tok1[pad], tok0[pad])
    assert bool((tok1[~pad] < 20).all()) and torch.isfinite(f1).all()
    frames, seqs = sample_backbones(space, res.x)
    assert torch.equal(frames, f1) and len(seqs) == 4 and all(len(q) == N for q in seqs)
    paths = write_sample_pdbs(space, res.x, tmp_path)
    for path, seq in zip(paths, seqs):
        names = [r.name for r in gemmi.read_structure(str(path))[0][0]]
        assert (
            "".join(gemmi.find_tabulated_residue(n).one_letter_code.upper() for n in names) == seq
        )


def ca_of(path: Path) -> np.ndarray:
    s = gemmi.read_structure(str(path))
    return np.array([[a.pos.x, a.pos.y, a.pos.z] for r in s[0][0] for a in r if a.name == "CA"])


@needs_data
def test_tiny_framenet_on_four_real_chains_samples_backbones_that_round_trip(tmp_path):
    space = BackboneSE3(32)
    loader = proteins(space, root=str(DATA), n_files=4, batch_size=2, crop_length=32)
    model = frame_velocity_model(space, **TINY)
    run = cfg(steps=4, loss_form="x1", loss_weighting="frameflow", self_condition=True)
    fit = Trainer(space, model, loader, run).fit()
    assert all(np.isfinite(fit.losses))
    g = torch.Generator().manual_seed(0)
    res = sample_with_final_jump(
        SelfConditioning(model, space),
        space,
        3,
        steps=5,
        policies=[RotationRate(10.0)],
        generator=g,
    )
    assert res.x.shape == (3, 32, 3, 4) and torch.isfinite(res.x).all()
    space.validate(res.x)
    for i, path in enumerate(write_sample_pdbs(space, res.x, tmp_path)):
        assert np.abs(ca_of(path) - res.x[i, :, :, 3].numpy()).max() < 1e-3

    cg = ProductSpace(BackboneSE3(32), CTMCSpace(20, 32))
    batch = next(iter(proteins_cogen(cg, root=str(DATA), n_files=4, batch_size=2, crop_length=32)))
    cg.validate(batch["x1"])
    assert batch["mask"].shape == (2, 64) and bool(batch["mask"][:, :32].any())
