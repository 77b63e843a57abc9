"""Text and MSA loaders: typed errors for missing files, README split sizes when data exist."""

from __future__ import annotations

import os

import pytest

from discrete_fm.data.msa import load_msa
from discrete_fm.data.text import load_text

HAVE_DATA = bool(os.environ.get("MFM_DATA")) and os.path.isdir(os.environ.get("MFM_DATA", ""))


def test_missing_files_name_the_file_and_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"text/tinyshakespeare\.txt.*char-rnn"):
        load_text("tinyshakespeare", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"sequences/DHFR\.a2m.*plmc"):
        load_msa("DHFR", tmp_path)
    with pytest.raises(ValueError, match="unknown text corpus"):
        load_text("text8", tmp_path)
    with pytest.raises(ValueError, match="unknown alignment"):
        load_msa("PF00001", tmp_path)


def test_bad_record_is_named(tmp_path, monkeypatch):
    import discrete_fm.data.msa as sequences
    from manifold_fm.data.files import DataFile

    (tmp_path / "sequences").mkdir()
    (tmp_path / "sequences" / "toy.fa").write_text(">a\nACGU\n>b\nACZU\n")
    spec = DataFile("sequences/toy.fa", "https://example.invalid/toy.fa")
    monkeypatch.setitem(sequences.MSA_FILES, "toy", (spec, ".ACGU", {}))
    with pytest.raises(ValueError, match=r"record 1 \(b\) has symbol 'Z'"):
        load_msa("toy", tmp_path)


@pytest.mark.skipif(not HAVE_DATA, reason="MFM_DATA not set")
def test_splits_follow_the_readmes():
    c = load_text("tinyshakespeare")
    assert (c.vocab_size, c.train.numel(), c.val.numel(), c.test.numel()) == (
        65,
        1003854,
        55770,
        55770,
    )
    assert c.decode(c.encode("To be")) == "To be"
    assert tuple(c.chunks("test", 128).shape) == (435, 128)
    m = load_msa("RF00162")
    assert (m.q, m.length) == (5, 107)
    assert [m.split(s).shape[0] for s in ("train", "val", "test")] == [3807, 475, 475]
