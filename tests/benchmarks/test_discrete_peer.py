"""flow_matching's discrete pipeline as the text benchmark's peer (optional extra)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from benchmarks.discrete import peer
from discrete_fm import CTMCSpace, elbo


def test_missing_library_is_a_recorded_reason(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "flow_matching" else real(n, *a)
    )
    assert "not installed" in peer.peer_missing()


def test_peer_trains_scores_with_our_elbo_and_samples_data_tokens():
    pytest.importorskip("flow_matching")
    assert peer.peer_missing() is None
    V, L = 5, 12
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, V, (64, L), generator=g)
    torch.manual_seed(0)
    net = peer.peer_network(V, L, dim=16, depth=1, heads=2)
    before = [p.detach().clone() for p in net.parameters()]
    rep = peer.fit_peer(net, V, data, budget_s=0.5, batch_size=8, generator=g)
    assert rep.steps > 0 and rep.final_loss == rep.final_loss
    assert "generalized KL" in rep.loss_label
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    sp = CTMCSpace(V, L, "mask")
    e = elbo(peer.PeerPosterior(net, V), sp, data[:8], n_t=2, estimator="k", generator=g)
    assert 0 < e.bits_per_token < 20
    xs = peer.sample_peer(net, V, L, n=6, steps=4, seed=1)
    sp.validate(xs)  # data tokens only: the mask id never survives sampling
    assert torch.equal(xs, peer.sample_peer(net, V, L, n=6, steps=4, seed=1))  # seeded
    with pytest.raises(ValueError, match="budget_s"):
        peer.fit_peer(net, V, data, budget_s=-1.0)
