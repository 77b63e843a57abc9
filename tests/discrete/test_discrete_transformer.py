"""SequenceTransformer: causal mode does not look ahead; padded keys are ignored."""

from __future__ import annotations

import torch

from discrete_fm import CTMCSpace
from discrete_fm.transformer import SequenceTransformer


def test_causal_mode_never_sees_the_future():
    torch.manual_seed(0)
    net = SequenceTransformer(
        6, 5, 12, dim=32, depth=2, heads=2, causal=True, time_conditioning=False
    ).eval()
    x = torch.randint(0, 6, (3, 12))
    y = x.clone()
    y[:, 7:] = (y[:, 7:] + 1) % 6
    a, b = net(x), net(y)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-5)
    assert not torch.allclose(a[:, 7:], b[:, 7:], atol=1e-3)


def test_padding_keys_are_ignored_and_shapes_follow_the_space():
    torch.manual_seed(1)
    sp = CTMCSpace(5, 10, "uniform")
    net = SequenceTransformer.for_space(sp, dim=32, depth=2, heads=2).eval()
    x = torch.randint(0, 5, (4, 10))
    mask = torch.ones(4, 10, dtype=torch.bool)
    mask[:, 6:] = False
    t = torch.rand(4)
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 2) % 5
    a, b = net(x, t, mask=mask), net(y, t, mask=mask)
    assert tuple(a.shape) == (4, *sp.output_shape)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-5)
