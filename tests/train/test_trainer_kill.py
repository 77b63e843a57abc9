"""kill -9 of a training process mid-run: the checkpoint stays readable, at most the
steps since the last checkpoint are lost, and resuming continues the uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from _train_helpers import cap_data, tiny_mlp

from manifold_fm import Sphere
from manifold_fm.train import TrainConfig, Trainer, load_checkpoint

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parents[1]
STEPS = 100_000  # the child never finishes: it is killed

SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from _train_helpers import cap_data, tiny_mlp
from manifold_fm import Sphere
from manifold_fm.train import Trainer, TrainConfig
s = Sphere(2)
cfg = TrainConfig(steps={steps}, batch_size=64, lr=1e-3, warmup_steps=5, ckpt_every=5,
                  log_every=5, out_dir=sys.argv[1], resume=True, progress=False)
Trainer(s, tiny_mlp(s), cap_data(), cfg).fit()
"""


def _config(out_dir: Path | None, resume: bool) -> TrainConfig:
    return TrainConfig(
        steps=STEPS,
        batch_size=64,
        lr=1e-3,
        warmup_steps=5,
        ckpt_every=5 if out_dir else 0,
        log_every=5,
        out_dir=str(out_dir) if out_dir else None,
        resume=resume,
        progress=False,
    )


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(SCRIPT.format(steps=STEPS))
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{TESTS}"}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env)
    ckpt = out / "ckpt.pt"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"training child exited early with {proc.returncode}")
            if ckpt.is_file() and load_checkpoint(ckpt)["step"] >= 15:
                break
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint at step >= 15 within 90 s")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    state = load_checkpoint(ckpt)  # readable: never torn
    k = state["step"]
    assert k >= 15 and k % 5 == 0
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    lines = (out / "metrics.jsonl").read_text().splitlines()
    logged = [json.loads(line)["step"] for line in lines if line.endswith("}")]
    # metrics for a step are written after its checkpoint: nothing logged is lost
    assert max(logged) <= k

    s = Sphere(2)
    resumed = Trainer(s, tiny_mlp(s), cap_data(), _config(out, resume=True))
    assert resumed.step == k
    assert sorted(p.name for p in out.iterdir()) == ["ckpt.pt", "metrics.jsonl"]
    resumed.fit(until=k + 5)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(5, k + 10, 5))  # one clean history
    fresh = Trainer(s, tiny_mlp(s), cap_data(), _config(None, resume=False))
    fresh.fit(until=k + 5)
    for a, b in zip(fresh.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_kill_between_checkpoint_and_log_loses_no_window(tmp_path):
    """fit() writes a logging step's checkpoint just before that window's metrics row; a kill
    in between (emulated: the row removed) must not lose the row nor merge two windows."""
    s = Sphere(2)
    whole = Trainer(s, tiny_mlp(s), cap_data(), _config(None, resume=False))
    whole.fit(until=15)
    out = tmp_path / "run"
    first = Trainer(s, tiny_mlp(s), cap_data(), _config(out, resume=False))
    log_window = first._log

    def killed_at_10(*args):
        if first.step == 10:  # after step 10's checkpoint, before its row
            raise RuntimeError("killed")
        log_window(*args)

    first._log = killed_at_10
    with pytest.raises(RuntimeError, match="killed"):
        first.fit(until=15)
    log = out / "metrics.jsonl"
    assert [json.loads(x)["step"] for x in log.read_text().splitlines()] == [5]
    resumed = Trainer(s, tiny_mlp(s), cap_data(), _config(out, resume=True))
    resumed.fit(until=15)
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15]
    assert resumed.loss_steps == whole.loss_steps == [5, 10, 15]
    assert resumed.losses == pytest.approx(whole.losses, rel=1e-6)
    assert [r["loss"] for r in rows] == pytest.approx(whole.losses, rel=1e-6)
