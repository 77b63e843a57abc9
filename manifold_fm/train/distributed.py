"""DDP through torchrun: process-group init from the environment, per-rank seeds.

``torchrun --nproc_per_node=K script.py`` sets RANK, WORLD_SIZE, LOCAL_RANK and
MASTER_ADDR/PORT; :func:`init_distributed` reads them and starts the process group
(gloo on CPU, nccl on CUDA). Without those variables it returns a single-process
:class:`DistInfo` and nothing is initialised. Rank 0 alone logs and writes checkpoints;
every rank draws its own prior/time/data samples (seed + 1000003 * rank) while DDP keeps
the parameters identical (rank 0's initial weights are broadcast when DDP wraps the
model, gradients are all-reduced each step).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "init_distributed", "rank_seed", "resolve_device"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size`` (``local_rank`` on its node)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False

    @property
    def is_main(self) -> bool:
        """True on the process that logs and writes checkpoints."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def rank_seed(seed: int, rank: int) -> int:
    """Seed of rank ``rank``: seed + 1000003 * rank (distinct streams per rank)."""
    return int(seed) + 1000003 * int(rank)


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:local_rank when CUDA is present, else cpu; other strings as given."""
    if device == "auto":
        return (
            torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
        )
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"TrainConfig.device: cannot parse {device!r}: {err}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"TrainConfig.device={device!r} but CUDA is not available")
    return dev


def init_distributed(device: torch.device) -> DistInfo:
    """Initialise the process group from torchrun's environment variables (if set)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    initialized_here = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        initialized_here = True
    return DistInfo(rank, world, local_rank, initialized_here)
