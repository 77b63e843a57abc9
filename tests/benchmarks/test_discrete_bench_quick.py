"""The discrete benchmarks' quick runs write the peer and AR-baseline entries."""

from __future__ import annotations

import json

import pytest
from _shared_data import data_root_with

ROOT = data_root_with("text")
SEQ_ROOT = data_root_with("sequences")


@pytest.mark.slow
@pytest.mark.skipif(ROOT is None, reason="shared text data not found")
def test_text_quick_writes_the_peer_and_labels_the_losses(tmp_path):
    pytest.importorskip("flow_matching")
    from benchmarks.discrete import text

    doc = text.main(["--quick", "--root", str(ROOT), "--out-dir", str(tmp_path)])
    assert doc["peer_flow_matching_nelbo_bpc"] > 0
    assert 0 <= doc["peer_flow_matching_bigram_js"] <= 1
    assert "mask_nelbo_le_peer" in doc["must_show"]
    assert doc["final_train_loss_label"]["mask"].startswith("ce loss (not a NELBO)")
    written = json.loads((tmp_path / "text_quick.json").read_text())
    assert written["peer_flow_matching_nelbo_bpc"] == doc["peer_flow_matching_nelbo_bpc"]
    assert "flow_matching mask pipeline" in (tmp_path / "text_quick.md").read_text()


@pytest.mark.skipif(SEQ_ROOT is None, reason="shared sequence data not found")
def test_sequences_quick_writes_the_ar_baseline(tmp_path):
    from benchmarks.discrete import sequences

    argv = ["--quick", "--msas", "RF00162", "--root", str(SEQ_ROOT), "--out-dir", str(tmp_path)]
    v = sequences.main(argv)["RF00162"]
    assert -1 <= v["ar_pair_r"] <= 1 and v["ar_params"] > 0
    assert v["ar_train_steps"] > 0 and v["ar_bits"] > 0
    assert "AR baseline" in (tmp_path / "sequences_quick.md").read_text()
