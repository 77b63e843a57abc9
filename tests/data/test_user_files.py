"""A user's own data files: every format, where a relative path is found, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from manifold_fm.data.user_files import UserDataError, load_data_file

POINTS = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "p.npy", POINTS)
    np.savez(tmp_path / "one.npz", pts=POINTS)
    np.savez(tmp_path / "cond.npz", x1=POINTS, label=np.array([0, 1, 1]))
    np.savez(tmp_path / "two.npz", a=POINTS, b=POINTS[:1])
    (tmp_path / "h.csv").write_text("x,y,z\n" + "\n".join(",".join(map(str, r)) for r in POINTS))
    (tmp_path / "plain.csv").write_text("\n".join(",".join(map(str, r)) for r in POINTS) + "\n")
    torch.save({"x1": torch.tensor(POINTS)}, tmp_path / "d.pt")
    torch.save(torch.tensor(POINTS), tmp_path / "t.pt")
    return tmp_path


@pytest.mark.parametrize("name", ["p.npy", "one.npz", "h.csv", "plain.csv", "t.pt"])
def test_every_format_gives_the_same_float32_points(files, name):
    x = load_data_file(files / name)
    assert x.dtype == torch.float32 and torch.equal(x, torch.tensor(POINTS, dtype=torch.float32))


def test_named_arrays_key_conditions_and_dtype(files):
    d = load_data_file(files / "cond.npz")
    assert sorted(d) == ["label", "x1"] and d["label"].dtype == torch.int64
    assert load_data_file(files / "d.pt", dtype=None)["x1"].dtype == torch.float64
    assert load_data_file(files / "two.npz", key="b").shape == (1, 3)
    with pytest.raises(UserDataError, match=r"several arrays \(a, b\): pass key"):
        load_data_file(files / "two.npz")
    with pytest.raises(UserDataError, match=r"no array 'c' \(it holds: a, b\)"):
        load_data_file(files / "two.npz", key="c")
    with pytest.raises(UserDataError, match="holds one array"):
        load_data_file(files / "p.npy", key="x1")


def test_relative_paths_from_the_working_directory_then_the_search_dirs(files, monkeypatch):
    elsewhere = files / "run"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_data_file("../p.npy").shape == (3, 3)  # from the working directory
    assert load_data_file("./h.csv", search_dirs=[files]).shape == (3, 3)  # then the config's
    with pytest.raises(FileNotFoundError, match=r"'h.csv' not found \(looked for .*run/h.csv"):
        load_data_file("h.csv")


def test_unreadable_or_unknown_files_are_named(files):
    (files / "bad.csv").write_text("1,2,3\n4,five,6\n")
    (files / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(UserDataError, match=r"bad\.csv: not a table of comma-separated numbers"):
        load_data_file(files / "bad.csv")
    with pytest.raises(UserDataError, match=r"bad\.npy: not a readable \.npy array"):
        load_data_file(files / "bad.npy")
    with pytest.raises(UserDataError, match=r"unknown ending '.txt'; use one of .npy, .npz"):
        load_data_file(files / "x.txt")
    with pytest.raises(UserDataError, match=r"cannot be data points"):
        np.save(files / "s.npy", np.array(["a", "b"]))
        load_data_file(files / "s.npy")
