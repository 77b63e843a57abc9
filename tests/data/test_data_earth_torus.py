"""Earth / torus loaders on the real files (MFM_DATA), splits, and missing-file errors."""

from __future__ import annotations

import math
import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_fm.data.earth import EARTH_DATASETS, latlon_to_xyz, load_earth, load_earth_latlon
from manifold_fm.data.splits import duplicate_share, random_split_indices
from manifold_fm.data.torus import degrees_to_torus, load_protein, load_rna

needs_data = pytest.mark.skipif(
    not os.environ.get("MFM_DATA"), reason="MFM_DATA is unset: real benchmark files unavailable"
)
SIZES = {"volcano": 827, "earthquake": 6120, "flood": 4875, "fire": 12809}


@needs_data
@pytest.mark.parametrize("name", EARTH_DATASETS)
def test_earth_files_parse_to_unit_vectors(name):
    ll = load_earth_latlon(name)
    assert ll.shape == (SIZES[name], 2)
    assert bool((ll[:, 0].abs() <= 90).all()) and bool((ll[:, 1].abs() <= 180).all())
    x = load_earth(name)
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(len(x), dtype=x.dtype))
    # latitude is recovered from the z coordinate
    torch.testing.assert_close(torch.rad2deg(torch.asin(x[:, 2])), ll[:, 0])


@needs_data
def test_volcano_test_points_mostly_duplicate_training_points():
    ll = load_earth_latlon("volcano")
    s = random_split_indices(len(ll), 0)
    share = duplicate_share(ll[s.train], ll[s.test])
    assert 0.7 < share <= 1.0  # README: 77-95% under seeds 0..4


@needs_data
def test_rna_file_parses_to_torus_points():
    x = load_rna()
    assert x.shape == (9478, 7)
    assert bool((x >= 0).all()) and bool((x < 2 * math.pi).all())


def test_missing_files_raise_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"earth/volerup\.csv"):
        load_earth("volcano", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"torus/rna\.tsv"):
        load_rna(root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"torus/protein\.tsv.*FFF"):
        load_protein("General", root=tmp_path)
    with pytest.raises(ValueError, match="unknown earth dataset"):
        load_earth("tsunami", root=tmp_path)


def test_corrupt_file_fails_checksum(tmp_path):
    (tmp_path / "earth").mkdir()
    (tmp_path / "earth" / "volerup.csv").write_text("# x\nLatitude,Longitude\n1.0,2.0")
    with pytest.raises(ValueError, match="checksum"):
        load_earth("volcano", root=tmp_path)


def test_protein_loader_reads_a_present_file(tmp_path):
    (tmp_path / "torus").mkdir()
    rows = ["A:1\t-60.0\t-45.0\tGeneral", "A:2\t80.0\t10.0\tGlycine", "A:3\t-179.0\t170.0\tGeneral"]
    (tmp_path / "torus" / "protein.tsv").write_text("\n".join(rows) + "\n")
    x = load_protein("General", root=tmp_path)
    assert x.shape == (2, 2)
    torch.testing.assert_close(x[0], degrees_to_torus(torch.tensor([-60.0, -45.0], dtype=x.dtype)))


@settings(deadline=None, max_examples=25)
@given(n=st.integers(10, 3000), seed=st.integers(0, 2**31 - 1))
def test_split_is_a_partition_with_rfm_sizes(n, seed):
    s = random_split_indices(n, seed)
    assert (len(s.train), len(s.val), len(s.test)) == (n - 2 * (n // 10), n // 10, n // 10)
    allidx = torch.cat([s.train, s.val, s.test]).sort().values
    assert torch.equal(allidx, torch.arange(n))
    ref = torch.utils.data.random_split(
        range(n),
        [n - 2 * (n // 10), n // 10, n // 10],
        generator=torch.Generator().manual_seed(seed),
    )
    assert list(ref[2].indices) == s.test.tolist()


@settings(deadline=None, max_examples=25)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180))
def test_latlon_conversion_round_trips(lat, lon):
    x = latlon_to_xyz(torch.tensor([[lat, lon]], dtype=torch.float64))
    assert abs(float(x.norm()) - 1) < 1e-12
    assert abs(math.degrees(math.asin(float(x[0, 2]))) - lat) < 1e-6


def test_duplicate_share_counts_exact_copies():
    train = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    test = torch.tensor([[2.0, 3.0], [5.0, 5.0], [0.0, 1.0], [0.0, 1.5]])
    assert duplicate_share(train, test) == 0.5
