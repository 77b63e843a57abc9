"""Every loader names a raw-file source URL pinned to a commit, and its checksum is right."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from discrete_fm.data.msa import MSA_FILES
from discrete_fm.data.text import TEXT_FILES, text8_normalise
from manifold_fm.data.earth import EARTH_FILES
from manifold_fm.data.files import DataFile, require_file, sha256_of
from manifold_fm.data.torus import PROTEIN_FILE, RNA_FILE

RAW = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/\S+[^/]$")
SPECS: dict[str, DataFile] = {
    **{f"earth:{k}": v for k, v in EARTH_FILES.items()},
    **{f"text:{k}": v for k, (v, _) in TEXT_FILES.items()},
    **{f"msa:{k}": v for k, (v, _, _) in MSA_FILES.items()},
    "torus:rna": RNA_FILE,
    "torus:protein": PROTEIN_FILE,
}
ROOT = Path(__file__).resolve().parents[2]
#: $MFM_DATA, else ../shared/data beside the checkout (or beside its parent folder)
DATA = next(
    (
        p
        for p in (
            os.environ.get("MFM_DATA"),
            ROOT.parent / "shared/data",
            ROOT.parents[1] / "shared/data",
        )
        if p and Path(p).is_dir()
    ),
    ROOT.parent / "shared/data",
)
DATA = Path(DATA)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_source_url_is_a_raw_file_pinned_to_a_full_commit(name):
    url = SPECS[name].url
    assert RAW.match(url), f"{name}: {url} is not a raw-file URL pinned to a commit"
    assert "/blob/" not in url and "/tree/" not in url


@pytest.mark.parametrize("name", sorted(SPECS))
def test_stated_checksum_is_the_checksum_of_the_file(name):
    spec = SPECS[name]
    path = DATA / spec.relpath
    if not path.is_file():
        pytest.skip(f"{spec.relpath} not under {DATA}")
    if spec.sha256 is None:
        pytest.skip(f"{spec.relpath}: no checksum recorded")
    assert sha256_of(path) == spec.sha256
    assert require_file(spec, DATA) == path


def test_a_derived_file_names_its_downloaded_source_and_the_recipe_reproduces_it():
    derived, _ = TEXT_FILES["tinyshakespeare_text8style"]
    source, _ = TEXT_FILES["tinyshakespeare"]
    assert derived.url == source.url and derived.source_sha256 == source.sha256
    if not (DATA / source.relpath).is_file():
        pytest.skip(f"{source.relpath} not under {DATA}")
    text = text8_normalise((DATA / source.relpath).read_text(encoding="ascii"))
    assert set(text) == set("abcdefghijklmnopqrstuvwxyz ")
    import hashlib

    assert hashlib.sha256(text.encode("ascii")).hexdigest() == derived.sha256


def test_a_wrong_checksum_is_caught(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    spec = DataFile(
        "f.txt", "https://raw.githubusercontent.com/o/r/" + "0" * 40 + "/f.txt", "0" * 64
    )
    with pytest.raises(ValueError, match="checksum mismatch"):
        require_file(spec, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"missing data file 'g\.txt'.*obtain it from"):
        require_file(DataFile("g.txt", spec.url), tmp_path)


def test_a_missing_file_without_a_source_says_what_to_do(tmp_path):
    """No mid-sentence message: a file with no recorded source points to the user-file loader."""
    from manifold_fm.data.files import DataFile, require_file

    with pytest.raises(FileNotFoundError) as err:
        require_file(DataFile(relpath="mine.pt", url=""), root=tmp_path)
    msg = str(err.value)
    assert not msg.rstrip().endswith("from") and "load_data_file" in msg
