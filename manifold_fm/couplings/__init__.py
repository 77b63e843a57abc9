"""Couplings: pairing prior and data samples within a minibatch.

* ``independent``: keep the pairs as drawn (x0_i, x1_i).
* ``ot``: minibatch optimal transport with the space's own cost
  c(x0_i, x1_j) = dist(x0_i, x1_j)^2 (geodesic distance). Batches of at most ``block_size``
  (default :data:`DEFAULT_BLOCK_SIZE`) are solved exactly as one assignment problem
  (Jonker-Volgenant via scipy); larger batches are split into random blocks (drawn with the
  run's generator) of about ``block_size`` sources and targets, each block solved exactly.
  The exact solve costs O(n^3): blocks of size B cost O(n B^2) and pair slightly worse
  (benchmarks/results/speed.md, couplings rows, give the measured trade-off).
* ``ot_exact``: one exact assignment over the whole batch, whatever its size.
* ``sinkhorn``: entropic OT (log-domain Sinkhorn, in torch on the tensors' device) with
  eps = ``epsilon`` x mean cost, then a permutation drawn from the plan with the run's
  generator (:func:`manifold_fm.couplings.sinkhorn.draw_permutation`).

Layout: :mod:`.base` (the contract, the shared assignment helper), :mod:`.ot`,
:mod:`.sinkhorn`, :mod:`.registry` (names and options).

Every OT coupling returns a permutation, so every x0 and x1 is used exactly once (no
resampling with replacement). Options reach a coupling through :func:`get_coupling`
(``TrainConfig.coupling_options``, e.g. ``{block_size = 128}`` in TOML). Randomness comes
only from torch generators, so a seeded run is bit-reproducible on the CPU.
"""

from manifold_fm.couplings.base import (
    Coupling,
    CouplingResult,
    assign_permutation,
    independent,
    pairwise_cost,
    uses_mask,
)
from manifold_fm.couplings.ot import DEFAULT_BLOCK_SIZE, exact_ot, minibatch_ot
from manifold_fm.couplings.registry import (
    COUPLINGS,
    CouplingFn,
    coupling_option_names,
    get_coupling,
    register_coupling,
)
from manifold_fm.couplings.sinkhorn import sinkhorn

__all__ = [
    "COUPLINGS",
    "DEFAULT_BLOCK_SIZE",
    "Coupling",
    "CouplingFn",
    "CouplingResult",
    "assign_permutation",
    "coupling_option_names",
    "exact_ot",
    "get_coupling",
    "independent",
    "minibatch_ot",
    "pairwise_cost",
    "register_coupling",
    "sinkhorn",
    "uses_mask",
]
