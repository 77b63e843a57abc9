"""DDP: two CPU processes (gloo) launched with torchrun train one model, and a DDP run
stopped mid-way resumes exactly (per-rank random streams are gathered into the checkpoint)."""

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
REPO = TESTS.parents[1]

SCRIPT = """
import json, os, sys, torch
import torch.distributed as dist
torch.set_num_threads(1)
from _train_helpers import cap_data, tiny_mlp
from manifold_fm import Sphere
from manifold_fm.train import Trainer, TrainConfig
out = sys.argv[1]
s = Sphere(2)

def make(sub, resume=False):
    return TrainConfig(steps=80, batch_size=64, lr=3e-3, warmup_steps=5, log_every=20,
                       out_dir=os.path.join(out, sub), progress=False, device="cpu",
                       resume=resume)

full = Trainer(s, tiny_mlp(s), cap_data(), make("full"))
res = full.fit()
Trainer(s, tiny_mlp(s), cap_data(), make("part")).fit(until=30)  # "preempted" at 30
resumed = Trainer(s, tiny_mlp(s), cap_data(), make("part", resume=True))
assert resumed.step == 30
res2 = resumed.fit()
rank = full.dist.rank
for name, tr in (("full", full), ("resumed", resumed)):
    torch.save({k: v.clone() for k, v in tr.model.state_dict().items()},
               os.path.join(out, f"{name}_rank{rank}.pt"))
torch.save(full.batches.next()["x1"][:4].clone(), os.path.join(out, f"batch_rank{rank}.pt"))
if rank == 0:
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump({"losses": res.losses, "resumed_losses": res2.losses,
                   "world": full.dist.world_size}, f)
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
    assert proc.returncode == 0, proc.stderr[-8000:]

    result = json.loads((out / "result.json").read_text())
    assert result["world"] == 2
    losses = result["losses"]
    assert len(losses) == 4 and losses[-1] < losses[0]
    # a DDP run stopped at step 30 and resumed logs exactly what the uninterrupted one did
    assert result["resumed_losses"] == losses

    def load(name):
        return torch.load(out / name, weights_only=True)

    p0, p1 = load("full_rank0.pt"), load("full_rank1.pt")
    r0, r1 = load("resumed_rank0.pt"), load("resumed_rank1.pt")
    assert p0.keys() == p1.keys() == r0.keys()
    for k in p0:
        assert torch.equal(p0[k], p1[k]), k  # both ranks hold identical parameters
        assert torch.equal(p0[k], r0[k]) and torch.equal(p1[k], r1[k]), k  # exact resume
    # each rank draws its own data stream
    assert not torch.equal(load("batch_rank0.pt"), load("batch_rank1.pt"))
    # rank 0 alone writes checkpoints and metrics
    assert (out / "full" / "ckpt.pt").is_file()
    assert len((out / "full" / "metrics.jsonl").read_text().splitlines()) == 4
