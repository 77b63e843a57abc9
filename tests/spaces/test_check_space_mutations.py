"""Each check_space property that guards against a silent error catches a broken space.

Every mutant is a shipped space with one deliberate bug of the kind a user could publish
a wrong number with; check_space must raise SpaceCheckError naming the property that owns
that bug. (The check_space of before these properties passed every one of these mutants.)
"""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm import Euclidean, FlatTorus, Sphere
from manifold_fm.testing import SpaceCheckError, check_space


class ShiftedLogPriorEuclidean(Euclidean):
    """log_prior off by +1 on an infinite-volume space (integrates to e)."""

    def log_prior(self, x):
        return super().log_prior(x) + 1.0


class WideSamplerEuclidean(Euclidean):
    """Sampler draws N(0, 1.3^2) while log_prior describes N(0, 1)."""

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        return 1.3 * super().sample_prior(n, generator=generator, device=device, dtype=dtype)


class ConcentratedSphere(Sphere):
    """Sampler concentrated around the north pole, log_prior still uniform."""

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        g = torch.randn((n, self.dim + 1), generator=generator, device=device, dtype=dtype)
        g[:, 0] += 3.0
        return g / g.norm(dim=-1, keepdim=True)


class WrongDimSphere(Sphere):
    """S^2 that declares dim = 3 (the ambient dimension)."""

    def __init__(self):
        super().__init__(2)
        self.dim = 3

    @property
    def volume(self):
        return 4 * math.pi

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        return Sphere(2).sample_prior(n, generator=generator, device=device, dtype=dtype)

    def log_prior(self, x):
        return Sphere(2).log_prior(x)


class NoDimEuclidean(Euclidean):
    """A space whose author forgot to set dim."""

    def __init__(self):
        super().__init__(3)
        del self.dim


class UnwrappedTorus(FlatTorus):
    """logmap y - x without wrapping to [-pi, pi): not the minimal geodesic (dist follows)."""

    def logmap(self, x, y):
        return y - x


class SquaredDistSphere(Sphere):
    """dist returns the squared geodesic distance: breaks the triangle inequality."""

    def dist(self, x, y):
        return super().dist(x, y) ** 2


class IdentityProjuSphere(Sphere):
    """proju returns the ambient vector unchanged."""

    def proju(self, x, v):
        return v


class ZeroPointErrorSphere(Sphere):
    """point_error is always 0, so validate accepts any point."""

    def point_error(self, x):
        return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)


MUTANTS = {
    "shifted_log_prior": (lambda: ShiftedLogPriorEuclidean(3), "log_prior_normalized"),
    "shifted_log_prior_image": (
        lambda: ShiftedLogPriorEuclidean((2, 2, 2)),
        "log_prior_normalized",
    ),
    "wide_sampler": (lambda: WideSamplerEuclidean(3), "prior_stein"),
    "concentrated_sphere": (ConcentratedSphere, "prior_stein"),
    "wrong_dim": (WrongDimSphere, "tangent_basis_rank"),
    "wrong_dim_stein": (WrongDimSphere, "prior_stein"),
    "missing_dim": (NoDimEuclidean, "dim_declared"),
    "unwrapped_torus": (lambda: UnwrappedTorus(2), "dist_minimal"),
    "squared_dist": (lambda: SquaredDistSphere(2), "dist_minimal"),
    "identity_proju": (lambda: IdentityProjuSphere(2), "point_error_order"),
    "identity_proju_rank": (lambda: IdentityProjuSphere(2), "tangent_basis_rank"),
    "zero_point_error": (lambda: ZeroPointErrorSphere(2), "point_error_order"),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught_by_its_property(name, dtype):
    make, prop = MUTANTS[name]
    with pytest.raises(SpaceCheckError) as info:
        check_space(make(), n=32, dtype=dtype, seed=1)
    failed = {r.name for r in info.value.report.failed}
    assert prop in failed, str(info.value.report)
    assert prop in str(info.value).splitlines()[0]  # the message names it up front


def test_stein_reports_z_scores_of_the_broken_sampler():
    report = check_space(ConcentratedSphere(2), n=32, raise_on_fail=False)
    res = report["prior_stein"]
    assert res.status == "failed" and res.max_error > 10 * res.tolerance
    assert "const_0: z=" in res.reason and "radial_0: z=" in res.reason


def test_shifted_log_prior_error_is_the_constant():
    report = check_space(ShiftedLogPriorEuclidean(3), n=32, raise_on_fail=False)
    res = report["log_prior_normalized"]
    # E_p[q / p] = e^-1 when log p is too large by 1
    assert abs(res.max_error - (1 - math.exp(-1))) < 0.05
    assert report["prior_stein"].status == "passed"  # Stein sees gradients only


def test_missing_dim_is_reported_even_when_sampling_needs_it():
    class NoDimSphere(Sphere):
        def __init__(self):
            super().__init__(2)
            del self.dim

    report = check_space(NoDimSphere(), n=16, raise_on_fail=False)
    assert report["dim_declared"].status == "failed"
    assert "dim is not set" in report["dim_declared"].reason
    assert report["sample_inputs"].status == "failed"


def test_dim_must_be_a_positive_int():
    space = Euclidean(3)
    space.dim = 3.0
    report = check_space(space, n=16, raise_on_fail=False)
    assert report["dim_declared"].status == "failed"
    assert "3.0" in report["dim_declared"].reason
