"""The benchmarks' results writer: atomic files, one schema, merging, JSON layout."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.common.results_io import (
    SCHEMA_VERSION,
    ResultsSchemaError,
    atomic_write,
    make_meta,
    read_results,
    to_json,
    validate_results,
    write_results,
)

REPO = Path(__file__).resolve().parents[2]


def _meta(**over) -> dict:
    meta = make_meta("toy", seeds=[0, 1], wall_s=1.5, argv=["--quick"])
    meta.update(over)
    return meta


def test_meta_records_command_seeds_wall_time_torch_and_hardware():
    import torch

    meta = make_meta("toy", seeds=[3], wall_s=2, argv=["--budget", "quick"])
    assert meta["command"] == ["python", "-m", "benchmarks.toy", "--budget", "quick"]
    assert meta["seeds"] == [3] and meta["wall_s"] == 2.0
    assert meta["torch"] == torch.__version__ == meta["hardware"]["torch"]
    assert meta["hardware"]["torch_threads"] == torch.get_num_threads()
    assert meta["schema"] == SCHEMA_VERSION and meta["benchmark"] == "toy"
    validate_results({"meta": meta, "x": 1})


def test_write_results_writes_json_md_png_and_texts(tmp_path):
    seen = {}

    def figure(path: Path) -> None:
        seen["suffix"] = path.suffix
        path.write_bytes(b"png")

    doc = write_results(
        "toy",
        {"score": 0.25},
        _meta(),
        out_dir=tmp_path,
        markdown=lambda d: f"score {d['score']} seeds {d['meta']['seeds']}\n",
        figure=figure,
        texts={"toy_samples.txt": "abc"},
    )
    assert json.loads((tmp_path / "toy.json").read_text()) == doc
    assert (tmp_path / "toy.md").read_text() == "score 0.25 seeds [0, 1]\n"
    assert (tmp_path / "toy.png").read_bytes() == b"png" and seen["suffix"] == ".png"
    assert (tmp_path / "toy_samples.txt").read_text() == "abc"
    assert read_results("toy", tmp_path) == doc
    files = sorted(p.name for p in tmp_path.iterdir())  # no temporary file left behind
    assert files == ["toy.json", "toy.md", "toy.png", "toy_samples.txt"]


def test_merge_keeps_other_entries_and_replaces_meta(tmp_path):
    write_results("toy", {"a": 1, "b": 2}, _meta(seeds=[0]), out_dir=tmp_path)
    doc = write_results("toy", {"b": 3, "c": 4}, _meta(seeds=[7]), out_dir=tmp_path, merge=True)
    assert {k: doc[k] for k in "abc"} == {"a": 1, "b": 3, "c": 4}
    assert doc["meta"]["seeds"] == [7]
    plain = write_results("toy", {"c": 5}, _meta(), out_dir=tmp_path)
    assert "a" not in plain


def test_failing_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text("old")

    def broken(tmp: Path) -> None:
        tmp.write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, broken)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["toy.json"]


def test_process_killed_mid_write_leaves_the_old_file(tmp_path):
    """A real crash: the process dies (os._exit) after writing half of the new file."""
    path = tmp_path / "toy.json"
    path.write_text('{"old": true}')
    code = (
        "import os, sys\n"
        "from benchmarks.common.results_io import atomic_write\n"
        "def half(tmp):\n"
        "    tmp.write_text('{\"new\": ')\n"
        "    os._exit(3)\n"
        "atomic_write(sys.argv[1], half)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, str(path)], env=env, cwd=REPO)
    assert proc.returncode == 3
    assert json.loads(path.read_text()) == {"old": True}


def test_markdown_error_writes_nothing(tmp_path):
    write_results("toy", {"a": 1}, _meta(), out_dir=tmp_path, markdown=lambda d: "v1\n")

    def broken(doc: dict) -> str:
        raise KeyError("missing figure")

    with pytest.raises(KeyError):
        write_results("toy", {"a": 2}, _meta(), out_dir=tmp_path, markdown=broken)
    assert json.loads((tmp_path / "toy.json").read_text())["a"] == 1
    assert (tmp_path / "toy.md").read_text() == "v1\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("meta"), "missing the 'meta'"),
        (lambda d: d["meta"].pop("command"), "lacks 'command'"),
        (lambda d: d["meta"].pop("hardware"), "lacks 'hardware'"),
        (lambda d: d["meta"].update(wall_s="3 s"), "wall_s"),
        (lambda d: d["meta"].update(wall_s=True), "wall_s"),
        (lambda d: d["meta"].update(seeds=[0, "1"]), "non-int"),
        (lambda d: d["meta"].update(command="python -m x"), "command"),
        (lambda d: d["meta"].update(command=["python", 3]), "non-str"),
        (lambda d: d["meta"].update(schema=SCHEMA_VERSION + 1), "schema"),
        (lambda d: d["meta"].update(torch=None), "torch"),
    ],
)
def test_validate_catches_broken_documents(change, message):
    doc = {"meta": _meta(), "figure": 1.0}
    validate_results(doc)
    change(doc)
    with pytest.raises(ResultsSchemaError, match=message):
        validate_results(doc)


def test_invalid_document_is_refused_before_writing(tmp_path):
    with pytest.raises(ResultsSchemaError, match="lacks 'seeds'"):
        meta = _meta()
        del meta["seeds"]
        write_results("toy", {"a": 1}, meta, out_dir=tmp_path)
    with pytest.raises(ResultsSchemaError, match="own 'meta'"):
        write_results("toy", {"meta": {}}, _meta(), out_dir=tmp_path)
    with pytest.raises(ValueError):
        write_results("toy", {"a": math.nan}, _meta(), out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_read_results_validates_the_file(tmp_path):
    assert read_results("toy", tmp_path) is None
    (tmp_path / "toy.json").write_text('{"rows": []}')
    with pytest.raises(ResultsSchemaError, match=r"toy\.json: missing the 'meta'"):
        read_results("toy", tmp_path)


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
_scalars |= st.floats(allow_nan=False, allow_infinity=False)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(_json)
def test_to_json_round_trips(value):
    assert json.loads(to_json(value)) == value


def test_to_json_keeps_flat_lists_on_one_line_and_refuses_bad_keys():
    text = to_json({"idx": [1, 2, 3], "runs": [{"a": [0.5]}]})
    assert '"idx": [1, 2, 3]' in text and '"a": [0.5]' in text
    with pytest.raises(ResultsSchemaError, match="keys must be strings"):
        to_json({1: "x"})
    with pytest.raises(ValueError):
        to_json([math.inf])
