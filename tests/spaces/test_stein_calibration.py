"""prior_stein raises no false alarm on any shipped space (the cheap form of
stein_calibration.py, which runs 20 seeds x both dtypes of full check_space as a script).

Every shipped sampler draws from its log_prior's law, so every field's z-score is close
to standard normal; two fresh seeds per space (one per dtype) keep the per-direction
fields' heavier-tailed integrands (SPD, products) in view without a long run.
"""

from __future__ import annotations

import pytest
from stein_calibration import ZOO, prior_stein_only

from manifold_fm.testing.properties.prior import Z_MAX


@pytest.mark.parametrize("name", sorted(ZOO))
def test_prior_stein_has_no_false_alarm(name):
    for seed, dtype in ((101, "f32"), (202, "f64")):
        z, why = prior_stein_only(name, seed, dtype)
        assert z <= Z_MAX, f"seed={seed} {dtype}: {why}"
