"""Shared test set-up: one torch thread and a fixed global seed for every test.

Tests draw their own data from seeded generators; the global seed only makes any remaining
use of the global RNG (module initialisation, torch.randn without a generator) repeatable,
and one thread keeps float reductions, and so tolerances, the same on every machine.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_torch():
    """Run each test with ``torch.set_num_threads(1)`` and ``torch.manual_seed(0)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)
