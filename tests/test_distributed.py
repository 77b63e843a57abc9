"""DDP: two CPU processes (gloo) launched with torchrun train one model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

SCRIPT = """
import json, os, sys, torch
import torch.distributed as dist
torch.set_num_threads(1)
from _train_helpers import cap_data, tiny_mlp
from manifold_fm import Sphere
from manifold_fm.train import Trainer, TrainConfig
out = sys.argv[1]
s = Sphere(2)
cfg = TrainConfig(steps=80, batch_size=64, lr=3e-3, warmup_steps=5, log_every=20,
                  out_dir=out, progress=False, device="cpu")
tr = Trainer(s, tiny_mlp(s), cap_data(), cfg)
res = tr.fit()
rank = tr.dist.rank
torch.save({k: v.clone() for k, v in tr.model.state_dict().items()},
           os.path.join(out, f"params_rank{rank}.pt"))
first = tr.batches.next()["x1"][:4].clone()
torch.save(first, os.path.join(out, f"batch_rank{rank}.pt"))
if rank == 0:
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"losses": res.losses, "world": tr.dist.world_size}, f)
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_cpu_ranks_stay_identical_and_learn(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    out.mkdir()
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": f"{REPO}{os.pathsep}{TESTS}",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        str(script),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    result = json.loads((out / "result.json").read_text())
    assert result["world"] == 2
    losses = result["losses"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    p0 = torch.load(out / "params_rank0.pt", weights_only=True)
    p1 = torch.load(out / "params_rank1.pt", weights_only=True)
    assert p0.keys() == p1.keys()
    for k in p0:
        assert torch.equal(p0[k], p1[k]), k
    # each rank draws its own data stream
    b0 = torch.load(out / "batch_rank0.pt", weights_only=True)
    b1 = torch.load(out / "batch_rank1.pt", weights_only=True)
    assert not torch.equal(b0, b1)
    # rank 0 alone writes checkpoints and metrics
    assert (out / "ckpt.pt").is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 4
