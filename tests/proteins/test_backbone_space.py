"""BackboneSE3: SE3's loss plus the auxiliary backbone terms, gated by time."""

from __future__ import annotations

import pytest
import torch

from manifold_fm import SE3
from manifold_fm.proteins import ideal_backbone
from manifold_fm.proteins.backbone_space import BackboneSE3

N = 12


def pair_of(space, seed: int, t: float):
    g = torch.Generator().manual_seed(seed)
    x0 = space.sample_prior(3, generator=g, dtype=torch.float64)
    x1 = space.sample_prior(3, generator=g, dtype=torch.float64)
    mask = torch.ones(3, N, dtype=torch.bool)
    mask[2, 8:] = False
    return space.path(x0, x1, torch.full((3,), t, dtype=torch.float64), mask=mask)


def test_equals_se3_below_the_threshold_and_without_weights():
    aux, plain = BackboneSE3(N, aux_t_min=0.5), SE3(N)
    s = pair_of(aux, 0, 0.3)
    out = s.target + 0.1 * torch.randn(s.target.shape, dtype=torch.float64)
    assert torch.equal(aux.loss(out, s), plain.loss(out, s))
    s = pair_of(aux, 0, 0.8)
    off = BackboneSE3(N, aux_atom_weight=0.0, aux_pair_weight=0.0)
    assert torch.equal(off.loss(out, s), plain.loss(out, s))
    assert bool((aux.loss(out, s) > plain.loss(out, s)).all())  # the terms are on above 0.5


def test_aux_terms_vanish_at_the_true_prediction_and_match_atom_errors():
    space = BackboneSE3(N, aux_atom_weight=1.0, aux_pair_weight=0.0)
    s = pair_of(space, 1, 0.9)
    assert float(space.aux_loss(s.target, s).abs().max()) < 1e-18
    # a translation error d on every real residue moves each of its atoms by d
    rate = space.velocity_rate(s.t, s.x_t)
    out = s.target.clone()
    out[..., 3:] += rate[:, None, None] * torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)
    out = out * s.mask[..., None]
    want = space.trans_weight * 4.0 * s.mask.sum(-1).double()
    assert torch.allclose(space.aux_loss(out, s), want, rtol=1e-9)
    # atoms agree with the ideal backbone the PDB writer places
    atoms = space.backbone_atoms(s.x1)
    assert torch.allclose(atoms, ideal_backbone(s.x1)[..., :3, :], atol=1e-12)


def test_pair_term_is_blind_to_a_rigid_motion_of_the_prediction():
    space = BackboneSE3(N, aux_atom_weight=0.0, aux_pair_weight=1.0)
    s = pair_of(space, 2, 0.95)
    rate = space.velocity_rate(s.t, s.x_t)
    out = s.target.clone()
    out[..., 3:] += rate[:, None, None] * torch.tensor([5.0, -1.0, 0.5], dtype=torch.float64)
    assert float(space.aux_loss(out, s).abs().max()) < 1e-12  # a shift keeps distances
    out[..., 3:] += rate[:, None, None] * torch.randn(3, N, 3, dtype=torch.float64)
    assert bool((space.aux_loss(out, s) > 0).all())


@pytest.mark.parametrize(
    "kw", [{"aux_atom_weight": -1.0}, {"aux_t_min": 1.0}, {"pair_cutoff": 0.0}]
)
def test_bad_options_are_refused(kw):
    with pytest.raises(ValueError, match="BackboneSE3: " + next(iter(kw))):
        BackboneSE3(N, **kw)
