"""The GPU check: its no-GPU path on a CPU machine, and the checks themselves on CUDA."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from benchmarks.speed import gpu_check


def test_no_gpu_path_says_so_and_exits_zero(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["--out-dir", str(tmp_path)]) == 0
    assert "no CUDA GPU visible" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())  # nothing measured, nothing written
    assert gpu_check.main(["--require-gpu", "--out-dir", str(tmp_path)]) == 2


def test_make_target_command_without_gpu_exits_cleanly(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "benchmarks.speed.gpu_check", "--out-dir", str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == gpu_check.NO_GPU


def test_a_failing_check_is_reported_and_sets_exit_code_one(monkeypatch, tmp_path):
    def broken(dev):
        raise RuntimeError("tensor left on the host")

    monkeypatch.setattr(gpu_check, "CHECKS", {"broken": broken})
    monkeypatch.setattr(gpu_check, "speed_rows", lambda dev, quick: [])
    assert gpu_check.main(["--device", "cpu", "--out-dir", str(tmp_path)]) == 1
    doc = json.loads((tmp_path / "speed_cuda.json").read_text())
    assert doc["checks"] == [
        {"name": "broken", "ok": False, "detail": "RuntimeError: tensor left on the host"}
    ]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", sorted(gpu_check.CHECKS))
def test_gpu_check_passes_on_cuda(name):
    assert gpu_check.CHECKS[name](torch.device("cuda"))
