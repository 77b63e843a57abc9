"""Each check_space property that guards against a silent error catches a broken space.

Every mutant is a shipped space with one deliberate bug of the kind a user could publish
a wrong number with; check_space must raise SpaceCheckError naming the property that owns
that bug. (The check_space of before these properties passed every one of these mutants.)

The ``one_axis_*`` / ``one_angle_*`` mutants draw from a law whose spread is wrong along a
single direction; prior_stein's constant and radial fields average that direction with the
d - 1 correct ones and miss it (the check_space of before the per-direction fields passed
each of them at seed 1; the Lorentz one only in float64, where geoopt's float32 maps pass
the other properties), the per-direction fields of
:mod:`manifold_fm.testing.stein.axes` catch it.
"""

from __future__ import annotations

import math
import re

import geoopt
import pytest
import torch

from manifold_fm import SO3, Euclidean, FlatTorus, GeooptSpace, Sphere
from manifold_fm.lie.rotations import so3_exp, so3_log
from manifold_fm.spaces.geoopt.priors import LorentzWrappedNormal, PoincareWrappedNormal
from manifold_fm.testing import SpaceCheckError, check_space
from manifold_fm.testing.properties.prior import Z_MAX


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


class OneAxisNarrowEuclidean(Euclidean):
    """Sampler draws axis 0 with standard deviation 0.75; log_prior is N(0, I)."""

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        x = super().sample_prior(n, generator=generator, device=device, dtype=dtype)
        x[:, 0] *= 0.75
        return x


class OneAxisNarrowBallPrior(PoincareWrappedNormal):
    """Wrapped normal whose tangent coordinate 0 is drawn with sigma 0.7 instead of 1."""

    def sample(self, num, *, generator=None, device=None, dtype=None):
        w = self.sigma * torch.randn((num, self.d), generator=generator, device=device, dtype=dtype)
        w[:, 0] *= 0.7
        return self.ball.expmap0(0.5 * w)  # lambda_0 = 2, as in PoincareWrappedNormal


class OneAxisNarrowLorentzPrior(LorentzWrappedNormal):
    """Wrapped normal on the hyperboloid, tangent coordinate 0 drawn with sigma 0.7."""

    def sample(self, num, *, generator=None, device=None, dtype=None):
        w = self.sigma * torch.randn((num, self.d), generator=generator, device=device, dtype=dtype)
        w[:, 0] *= 0.7
        return self.lorentz.expmap0(torch.cat([torch.zeros_like(w[:, :1]), w], dim=-1))


class OneAngleConcentratedTorus(FlatTorus):
    """Angle 0 drawn from a wrapped normal N(pi, 1.25^2); log_prior is uniform."""

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        x = super().sample_prior(n, generator=generator, device=device, dtype=dtype)
        z = torch.randn(n, generator=generator, device=device, dtype=x.dtype)
        x[:, 0] = self.projx(math.pi + 1.25 * z)
        return x


class OneAxisNarrowSO3(SO3):
    """IGSO3(0.5) rotations with the body x-component of the rotation vector scaled by 0.8."""

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        w = so3_log(super().sample_prior(n, generator=generator, device=device, dtype=dtype))
        w[:, 0] *= 0.8
        return so3_exp(w)


def _one_axis_ball():
    ball = geoopt.PoincareBall(c=1.0)
    return GeooptSpace(ball, (10,), prior=OneAxisNarrowBallPrior(ball, 10))


def _one_axis_lorentz():
    hyp = geoopt.Lorentz()
    return GeooptSpace(hyp, (7,), prior=OneAxisNarrowLorentzPrior(hyp, 6))


ANISOTROPIC = {
    "one_axis_euclidean": lambda: OneAxisNarrowEuclidean(10),
    "one_axis_poincare": _one_axis_ball,
    "one_axis_lorentz": _one_axis_lorentz,
    "one_angle_torus": lambda: OneAngleConcentratedTorus(3),
    "one_axis_so3": lambda: OneAxisNarrowSO3(prior="igso3", sigma=0.5),
}

MUTANTS = {
    **{name: (make, "prior_stein") for name, make in ANISOTROPIC.items()},
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(ANISOTROPIC))
def test_anisotropic_sampler_is_missed_by_the_averaging_fields(name, dtype):
    """The same run: every constant / radial / swirl field stays under Z_MAX, a
    per-direction field goes well above it."""
    report = check_space(ANISOTROPIC[name](), n=32, dtype=dtype, seed=1, raise_on_fail=False)
    res = report["prior_stein"]
    old, new = res.reason.split("per-direction fields")
    old_z = [abs(float(z)) for z in re.findall(r"z=([-+][0-9.]+)", old)]
    assert len(old_z) == 6 and max(old_z) < Z_MAX, res.reason
    assert res.status == "failed" and res.max_error > 1.5 * Z_MAX, res.reason
    assert re.search(r"(axis|lin|quad)_[0-9_]+: z=[-+]" + f"{res.max_error:.2f}", new), res.reason


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


def test_per_direction_fields_use_ambient_coordinates_without_dist():
    class NoDist(OneAxisNarrowEuclidean):
        def dist(self, x, y):
            raise NotImplementedError("no dist")

    class NoDistSphere(Sphere):
        def dist(self, x, y):
            raise NotImplementedError("no dist")

    res = check_space(NoDist(6), n=32, seed=1, raise_on_fail=False)["prior_stein"]
    assert res.status == "failed" and "(all rows)" in res.reason, res.reason
    res = check_space(NoDistSphere(2), n=32, seed=1, raise_on_fail=False)["prior_stein"]
    assert res.status == "passed" and "(all rows)" in res.reason, res.reason
