"""FrameNet: exact SE(3) equivariance in float64, padding isolation, size, input checks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import manifold_fm.proteins.framenet.graph as graph
from manifold_fm import SE3
from manifold_fm.lie.rotations import random_rotation
from manifold_fm.proteins import FrameNet, frame_velocity_model

B, N = 2, 24


def tiny(**kw) -> FrameNet:
    """A small FrameNet with random (not zero) frame updates, in float64."""
    torch.manual_seed(1)
    net = FrameNet(dim=32, edge_dim=16, n_layers=2, heads=2, head_dim=8, k=8, **kw).double()
    for upd in net.update:
        torch.nn.init.normal_(upd.lin.weight, std=0.3)
        torch.nn.init.normal_(upd.lin.bias, std=0.3)
    return net


def frames(seed: int, b: int = B, n: int = N) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    r = random_rotation(b * n, generator=g, dtype=torch.float64).reshape(b, n, 3, 3)
    step = torch.randn(b, n, 3, generator=g, dtype=torch.float64)
    t = torch.cumsum(3.8 * step / step.norm(dim=-1, keepdim=True), 1)
    return torch.cat([r, (t - t.mean(1, keepdim=True)).unsqueeze(-1)], -1)


def moved(x: torch.Tensor, q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """The global rigid motion g = (q, s) applied to every frame of x."""
    return torch.cat([q @ x[..., :3], (x[..., 3] @ q.T + s).unsqueeze(-1)], -1)


def inputs(seed: int):
    x = frames(seed)
    g = torch.Generator().manual_seed(seed + 7)
    mask = torch.ones(B, N, dtype=torch.bool)
    mask[1, 17:] = False
    aa = torch.randint(0, 21, (B, N), generator=g)
    sc = frames(seed + 3)
    t = torch.rand(B, generator=g, dtype=torch.float64)
    return x, t, mask, aa, sc


def equivariance_error(net: FrameNet, seed: int) -> float:
    x, t, mask, aa, sc = inputs(seed)
    g = torch.Generator().manual_seed(seed + 11)
    q = random_rotation(1, generator=g, dtype=torch.float64)[0]
    s = 20 * torch.randn(3, generator=g, dtype=torch.float64)
    with torch.no_grad():
        out = net(x, t, mask=mask, aatype=aa, self_cond=sc)
        out_g = net(moved(x, q, s), t, mask=mask, aatype=aa, self_cond=moved(sc, q, s))
    return float((out_g - moved(out, q, s))[mask].abs().max())


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 10_000))
def test_outputs_are_se3_equivariant_in_float64(seed):
    assert equivariance_error(tiny(), seed) < 1e-8


def test_a_feature_in_global_coordinates_breaks_the_equivariance_check(monkeypatch):
    # the check above can fail: neighbour directions not rotated into the local frame
    real = graph.EdgeGeometry.features

    def global_directions(self, rot, trans, edge_index, sc=None):
        eye = torch.eye(3, dtype=rot.dtype).expand_as(rot)
        return real(self, eye, trans, edge_index, sc)

    monkeypatch.setattr(graph.EdgeGeometry, "features", global_directions)
    assert equivariance_error(tiny(), 3) > 1e-3


def test_padded_residues_do_not_affect_real_ones():
    net = tiny()
    x, t, mask, aa, sc = inputs(5)
    pad = ~mask
    x2, aa2, sc2 = x.clone(), aa.clone(), sc.clone()
    x2[pad] = frames(99)[pad]  # other frames, sequence and estimate behind the padding
    aa2[pad] = (aa[pad] + 5) % 21
    sc2[pad] = frames(98)[pad]
    with torch.no_grad():
        out = net(x, t, mask=mask, aatype=aa, self_cond=sc)
        out2 = net(x2, t, mask=mask, aatype=aa2, self_cond=sc2)
    assert torch.allclose(out[mask], out2[mask], atol=1e-12, rtol=0)
    assert torch.equal(out2[pad], x2[pad])  # padded frames come back as given
    # and the real residues keep their centre of mass
    assert torch.allclose(out[..., 3][mask].sum(0), x[..., 3][mask].sum(0), atol=1e-9)


def test_default_size_is_about_one_million_parameters():
    n = sum(p.numel() for p in FrameNet().parameters())
    assert 0.8e6 < n < 1.2e6
    big = sum(p.numel() for p in FrameNet(dim=256, edge_dim=128, n_layers=6, heads=8).parameters())
    assert big > 4 * n  # configurable up to the published sizes


def test_knn_graph_excludes_padding_and_self():
    pos = frames(0)[..., 3]
    mask = torch.ones(B, N, dtype=torch.bool)
    mask[0, 20:] = False
    ei, rel = graph.knn_graph(pos, mask, k=6, seq_window=1)
    real = mask.reshape(-1)
    assert bool(real[ei[0]].all()) and bool(real[ei[1]].all())
    assert bool((ei[0] != ei[1]).all()) and bool((rel != 0).all())
    assert bool((ei[0] // N == ei[1] // N).all())  # never across proteins
    counts = torch.bincount(ei[1], minlength=B * N)
    assert bool((counts[real] == 6).all()) and bool((counts[~real] == 0).all())
    seq = ((ei[0] - ei[1]).abs() == 1).sum()
    assert int(seq) == 2 * (N - 1) + 2 * (20 - 1)  # every sequence neighbour is linked


def test_velocity_model_on_se3_has_zero_rows_for_padding():
    space = SE3(N)
    model = frame_velocity_model(space, dim=16, edge_dim=8, n_layers=1, heads=2, head_dim=4)
    x, t, mask, _, sc = inputs(2)
    out = model(x.float(), t.float(), mask=mask, self_cond=sc.float())
    assert out.shape == (B, N, 6) and torch.isfinite(out).all()
    assert torch.equal(out[~mask], torch.zeros_like(out[~mask]))


@pytest.mark.parametrize(
    "kw, err",
    [
        ({"mask": torch.ones(B, N - 1, dtype=torch.bool)}, ValueError),
        ({"mask": torch.ones(B, N)}, TypeError),
        ({"aatype": torch.zeros(B, N)}, TypeError),
        ({"self_cond": torch.zeros(B, N, 3, 3)}, ValueError),
    ],
)
def test_bad_inputs_are_named(kw, err):
    x, t, *_ = inputs(0)
    with pytest.raises(err, match=r"FrameNet: (mask|aatype|self_cond)"):
        tiny()(x, t, **kw)
    with pytest.raises(ValueError, match="dim must be an int"):
        FrameNet(dim=0)
