"""The structural metrics of backbone sets (manifold_fm.proteins.metrics) on known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from manifold_fm.proteins.metrics import (
    UNAVAILABLE,
    ca_ca_stats,
    clash_rate,
    dihedrals,
    dssp_fractions,
    js_divergence,
    rama_histogram,
    random_walk,
    rg_ratio,
    set_metrics,
    tm_score,
)

needs_dssp = pytest.mark.skipif("dssp" in UNAVAILABLE, reason="pydssp not installed")
needs_tm = pytest.mark.skipif("tm" in UNAVAILABLE, reason="tmtools not installed")


def _place(a, b, c, bond, angle, torsion):
    """NeRF: the atom at ``bond`` from c, angle b-c-d = ``angle``, torsion a-b-c-d (deg)."""
    ang, tor = math.radians(angle), math.radians(torsion)
    bc = (c - b) / np.linalg.norm(c - b)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    d2 = bond * np.array(
        [-math.cos(ang), math.sin(ang) * math.cos(tor), math.sin(ang) * math.sin(tor)]
    )
    return c + np.stack([bc, np.cross(n, bc), n], -1) @ d2


def backbone(n: int, phi: float, psi: float, omega: float = 180.0) -> np.ndarray:
    """N, CA, C, O ``(n, 4, 3)`` of ideal geometry with constant phi, psi, omega."""
    atoms = [np.array([0.0, 1.458, 0.0]), np.zeros(3), np.array([1.525, 0.0, 0.0])]
    for _ in range(n - 1):
        atoms.append(_place(atoms[-3], atoms[-2], atoms[-1], 1.329, 116.2, psi))  # N
        atoms.append(_place(atoms[-3], atoms[-2], atoms[-1], 1.458, 121.7, omega))  # CA
        atoms.append(_place(atoms[-3], atoms[-2], atoms[-1], 1.525, 111.0, phi))  # C
    bb = np.array(atoms).reshape(n, 3, 3)
    o = [_place(bb[i, 0], bb[i, 1], bb[i, 2], 1.231, 120.5, psi + 180.0) for i in range(n)]
    return np.concatenate([bb, np.array(o)[:, None]], 1)


def test_straight_chain_has_zero_deviation_and_no_clash():
    ca = np.zeros((30, 3))
    ca[:, 0] = 3.8 * np.arange(30)
    assert ca_ca_stats(ca) == pytest.approx((0.0, 1.0), abs=1e-12)
    assert clash_rate(ca) == 0.0
    stretched = ca * (4.0 / 3.8)
    mad, within = ca_ca_stats(stretched)
    assert mad == pytest.approx(0.2) and within == 0.0


def test_a_chain_folded_onto_itself_clashes():
    # out along x, back along x 1 A away: residues i and 29 - i are 1 A apart
    ca = np.zeros((30, 3))
    ca[:15, 0] = 3.8 * np.arange(15)
    ca[15:, 0] = 3.8 * np.arange(15)[::-1]
    ca[15:, 1] = 1.0
    assert clash_rate(ca) > 0.0
    ca[15:, 1] = 10.0  # the two strands 10 A apart: no pair closer than 3 A
    assert clash_rate(ca) == 0.0


def test_random_walk_steps_are_exactly_ideal_and_rg_ratio_is_its_formula():
    walk = random_walk(200, np.random.default_rng(0))
    assert walk.shape == (200, 3)
    mad, within = ca_ca_stats(walk)
    assert mad < 1e-12 and within == 1.0
    pair = np.array([[-2.0, 0, 0], [2.0, 0, 0]])
    assert rg_ratio(pair) == pytest.approx(2.0 / (2.2 * 2**0.38))


def test_dihedrals_recover_the_torsions_the_chain_was_built_with():
    ang = dihedrals(backbone(12, -57.0, -47.0))
    assert np.allclose(ang, [-57.0, -47.0], atol=1e-6)


@needs_dssp
def test_ideal_helix_is_helix_by_dssp_and_an_extended_chain_is_not():
    helix, strand, coil = dssp_fractions(backbone(40, -57.0, -47.0))
    assert helix > 0.85 and strand == 0.0 and helix + strand + coil == pytest.approx(1.0)
    extended = dssp_fractions(backbone(40, -120.0, 130.0))
    assert extended[0] == 0.0


def test_js_divergence_is_zero_on_itself_and_ln2_on_disjoint_sets():
    rng = np.random.default_rng(0)
    a = rng.uniform(-180, -10, (500, 2))
    b = rng.uniform(10, 180, (500, 2))
    ha, hb = rama_histogram(a), rama_histogram(b)
    assert ha.shape == (36, 36) and ha.sum() == pytest.approx(1.0)
    assert js_divergence(ha, ha) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(ha, hb) == pytest.approx(math.log(2), rel=1e-3)


@needs_tm
def test_tm_score_is_one_on_itself_and_set_metrics_has_every_key():
    rng = np.random.default_rng(1)
    chains = [backbone(30, -57.0, -47.0), backbone(30, -120.0, 130.0)]
    assert tm_score(chains[0][:, 1], chains[0][:, 1]) == pytest.approx(1.0, abs=1e-6)
    assert tm_score(chains[0][:, 1], chains[1][:, 1]) < 0.5
    ref = rama_histogram(dihedrals(chains[0]))
    out = set_metrics(chains, rama_ref=ref, novelty_ref=[chains[0][:, 1], random_walk(40, rng)])
    assert out["tm_novelty"] == pytest.approx(
        (1.0 + tm_score(chains[1][:, 1], chains[0][:, 1])) / 2, abs=0.05
    )
    assert set(out) >= {
        "ca_ca_mad",
        "ca_ca_within_0.1",
        "clash_rate",
        "rg_ratio",
        "helix",
        "strand",
        "coil",
        "tm_diversity",
        "tm_novelty",
        "rama_distance",
    }
