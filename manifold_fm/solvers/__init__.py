"""Samplers: integrate a learned field from the prior to the data on any Space.

:func:`sample` is the one loop (:mod:`manifold_fm.solvers.loop`); the field it integrates,
with guidance and sampler policies, is :class:`VelocityField`
(:mod:`manifold_fm.solvers.field`); the geometric fixed-step methods are in
:mod:`manifold_fm.solvers.fixed`. The likelihood (:func:`log_prob`, the instantaneous
change of variables integrated backwards) is in :mod:`manifold_fm.solvers.likelihood`, the
divergence estimators it uses in :mod:`manifold_fm.solvers.divergence`.
"""

from manifold_fm.solvers.field import (
    TORCHDIFFEQ_ADAPTIVE,
    TORCHDIFFEQ_FIXED,
    AmbientODE,
    FieldPolicy,
    RotationRate,
    VelocityField,
    odeint_ambient,
)
from manifold_fm.solvers.final_jump import sample_with_final_jump
from manifold_fm.solvers.fixed import FIXED_STEP_METHODS, make_time_grid
from manifold_fm.solvers.likelihood import LogProbResult, log_prob
from manifold_fm.solvers.loop import TORCHDIFFEQ_METHODS, SampleResult, sample, sampling_methods

__all__ = [
    "FIXED_STEP_METHODS",
    "TORCHDIFFEQ_ADAPTIVE",
    "TORCHDIFFEQ_FIXED",
    "TORCHDIFFEQ_METHODS",
    "AmbientODE",
    "FieldPolicy",
    "LogProbResult",
    "RotationRate",
    "SampleResult",
    "VelocityField",
    "log_prob",
    "make_time_grid",
    "odeint_ambient",
    "sample",
    "sample_with_final_jump",
    "sampling_methods",
]
