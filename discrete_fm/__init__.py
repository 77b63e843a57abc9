"""discrete_fm: discrete flow matching on token sequences as a CTMC Space.

:class:`CTMCSpace` plugs into the manifold_fm Space contract (trainer,
:func:`manifold_fm.solvers.sample`); :func:`sample_ancestral` is the exact-in-time
ancestral sampler; :func:`elbo` the continuous-time negative ELBO in bits per token;
:class:`SequenceTransformer` the token denoiser (and causal AR baseline). The ``mfm``
command finds the ``ctmc`` / ``transformer`` / ``text`` / ``msa`` kinds through
:func:`discrete_fm.registry.register` (entry point ``manifold_fm.plugins``).
"""

from discrete_fm.categorical import apply_temperature_top_p, sample_categorical
from discrete_fm.elbo import ElboResult, elbo
from discrete_fm.rates import hazard, jump_rates, posterior_log_probs
from discrete_fm.sampling import sample_ancestral
from discrete_fm.space import CTMCSpace
from discrete_fm.transformer import SequenceTransformer

__all__ = [
    "CTMCSpace",
    "ElboResult",
    "SequenceTransformer",
    "apply_temperature_top_p",
    "elbo",
    "hazard",
    "jump_rates",
    "posterior_log_probs",
    "sample_ancestral",
    "sample_categorical",
]
