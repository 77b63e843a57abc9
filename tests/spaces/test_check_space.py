"""check_space catches deliberately broken spaces and says what, by how much and where.

Also runs it on a space whose tangent vectors are intrinsic coordinates (tangent_shape !=
event_shape, like SO(3) in rotation vectors) to show it only uses the ManifoldSpace API.
"""

from __future__ import annotations

import math

import pytest
import torch

from manifold_fm import Euclidean, ManifoldSpace, PathSample, Sphere
from manifold_fm.testing import CheckReport, SpaceCheckError, check_space


class WrongSignSphere(Sphere):
    """The classic bug: target points from x1 back to x0."""

    def path(self, x0, x1, t, *, mask=None) -> PathSample:
        ps = super().path(x0, x1, t, mask=mask)
        ps.target = -ps.target
        return ps


class BrokenExpSphere(Sphere):
    """exp_x(v) = x + v: a first-order step that leaves the sphere."""

    def expmap(self, x, v):
        return x + v


class WrongPriorSphere(Sphere):
    """log density off by log 2 (integrates to 2)."""

    def log_prior(self, x):
        return super().log_prior(x) + math.log(2.0)


class SilentSphere(Sphere):
    """validate accepts everything."""

    def validate(self, x, atol=None):
        return None


class AsymmetricDistSphere(Sphere):
    def dist(self, x, y):
        return super().dist(x, y) * (1 + 0.1 * torch.sigmoid(x[..., 0]))


class FlatLossSphere(Sphere):
    """loss flattens the batch: breaks 'any batch shape'."""

    def loss(self, output, sample):
        return super().loss(output, sample).reshape(-1)


class Circle(ManifoldSpace):
    """S^1 in R^2 with tangent vectors as one angle coordinate (tangent_shape = (1,))."""

    def __init__(self, sign: float = 1.0) -> None:
        super().__init__(None)
        self.event_shape = torch.Size((2,))
        self.dim = 1
        self.sign = sign

    @property
    def tangent_shape(self):
        return torch.Size((1,))

    @property
    def volume(self):
        return 2 * math.pi

    def sample_prior(self, n, *, generator=None, device=None, dtype=None):
        a = 2 * math.pi * torch.rand(n, generator=generator, device=device, dtype=dtype)
        return torch.stack([torch.cos(a), torch.sin(a)], -1)

    def log_prior(self, x):
        return torch.full(x.shape[:-1], -math.log(2 * math.pi), dtype=x.dtype, device=x.device)

    def expmap(self, x, v):
        c, s = torch.cos(v), torch.sin(v)
        return torch.cat([c * x[..., :1] - s * x[..., 1:], s * x[..., :1] + c * x[..., 1:]], -1)

    def logmap(self, x, y):
        cross = x[..., :1] * y[..., 1:] - x[..., 1:] * y[..., :1]
        return torch.atan2(cross, (x * y).sum(-1, keepdim=True))

    def proju(self, x, v):
        return v

    def to_ambient_velocity(self, x, v):
        return v * torch.cat([-x[..., 1:], x[..., :1]], -1)

    def from_ambient_velocity(self, x, dx):
        return (dx * torch.cat([-x[..., 1:], x[..., :1]], -1)).sum(-1, keepdim=True)

    def projx(self, x):
        return x / x.norm(dim=-1, keepdim=True)

    def inner(self, x, u, v):
        return (u * v).sum(-1)

    def dist(self, x, y):
        return self.logmap(x, y).abs().squeeze(-1)

    def point_error(self, x):
        return (x.norm(dim=-1) - 1).abs()

    def interpolate(self, x0, x1, s):
        v = self.logmap(x0, x1)
        return self.expmap(x0, s.unsqueeze(-1) * v), self.sign * v


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_wrong_target_sign_is_caught_with_size_and_inputs(dtype):
    with pytest.raises(SpaceCheckError) as info:
        check_space(WrongSignSphere(2), n=32, dtype=dtype)
    err = info.value
    assert isinstance(err, ValueError)
    report = err.report
    fd = report["target_finite_difference"]
    assert fd.status == "failed"
    assert fd.max_error > 100 * fd.tolerance  # off by twice the velocity, not by rounding
    assert set(fd.worst_input) == {"x0", "x1", "t"}
    msg = str(err)
    assert "target_finite_difference" in msg and "FAILED" in msg and "x0 = [" in msg
    # properties that do not involve the target still pass
    assert report["exp_log_inverse"].status == "passed"
    assert report["dist_metric"].status == "passed"


def test_broken_expmap_is_caught():
    report = check_space(BrokenExpSphere(2), n=32, raise_on_fail=False)
    assert not report.passed
    names = {r.name for r in report.failed}
    assert {"exp_log_inverse", "step_on_geodesic"} <= names
    assert "target_finite_difference" not in names  # the path does not use expmap
    assert report["exp_log_inverse"].max_error > 0.01


def test_wrong_normalisation_is_caught():
    report = check_space(WrongPriorSphere(2), n=32, raise_on_fail=False)
    assert [r.name for r in report.failed] == ["log_prior_normalized"]
    assert abs(report["log_prior_normalized"].max_error - 0.5) < 1e-6


def test_silent_validate_is_caught():
    report = check_space(SilentSphere(2), n=16, raise_on_fail=False)
    res = report["validate_errors"]
    assert res.status == "failed"
    assert "NaN in row 8" in res.reason and "off-manifold row 8" in res.reason


def test_asymmetric_distance_is_caught():
    report = check_space(AsymmetricDistSphere(2), n=16, raise_on_fail=False)
    assert report["dist_metric"].status == "failed"
    assert report["dist_metric"].max_error > 1e-3


def test_batch_shape_bug_is_caught():
    report = check_space(FlatLossSphere(2), n=16, raise_on_fail=False)
    assert [r.name for r in report.failed] == ["batch_shapes"]
    assert "loss" in report["batch_shapes"].reason


def test_intrinsic_tangent_coordinates_are_supported():
    report = check_space(Circle(), n=32)
    assert report.passed and not report.skipped
    bad = check_space(Circle(sign=-1.0), n=32, raise_on_fail=False)
    assert [r.name for r in bad.failed] == ["target_finite_difference"]


def test_report_for_a_good_space():
    report = check_space(Euclidean(2), n=16, dtype=torch.float32, seed=3)
    assert isinstance(report, CheckReport) and report.passed
    # infinite volume: normalisation is checked by importance sampling, not skipped
    assert report["log_prior_normalized"].status == "passed"
    assert "normal-coordinate Gaussian" in report["log_prior_normalized"].reason
    text = str(report)
    assert "float32" in text and "PASSED" in text and "SKIPPED" not in text
    with pytest.raises(KeyError, match="no property"):
        report["nope"]


def test_bad_arguments():
    with pytest.raises(TypeError, match="ManifoldSpace"):
        check_space(object())
    with pytest.raises(ValueError, match="n must be"):
        check_space(Sphere(2), n=2)
    with pytest.raises(ValueError, match="dtype"):
        check_space(Sphere(2), dtype=torch.float16)


def test_seeded_runs_are_reproducible():
    a = check_space(Sphere(3), n=16, seed=7)
    b = check_space(Sphere(3), n=16, seed=7)
    assert [r.max_error for r in a.results] == [r.max_error for r in b.results]
