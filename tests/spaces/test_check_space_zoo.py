"""check_space passes on every shipped continuous space, in float32 and float64.

The new properties must have run (not been skipped) wherever the space supports them, so
a pass means the dimension, the tangent/normal split, the minimality of the logmap and the
prior law were all checked.
"""

from __future__ import annotations

import geoopt
import pytest
import torch

from manifold_fm import SE3, SO3, Euclidean, FlatTorus, GeooptSpace, ProductSpace, Sphere
from manifold_fm.testing import check_space

SPACES = {
    "euclidean": lambda: Euclidean(3),
    "euclidean_image": lambda: Euclidean((2, 3, 3)),
    "sphere2": lambda: Sphere(2),
    "sphere5": lambda: Sphere(5),
    "torus": lambda: FlatTorus(3),
    "sphere_x_torus": lambda: ProductSpace(Sphere(2), FlatTorus(2)),
    "euclidean_x_sphere": lambda: ProductSpace(Euclidean(2), Sphere(2)),
    "so3": lambda: SO3(),
    "so3_igso3": lambda: SO3(prior="igso3", sigma=0.5),
    "se3_centered": lambda: SE3(3),
    "se3_uncentered": lambda: SE3(2, centered=False, trans_scale=1.0, prior="igso3", sigma=0.8),
    "stiefel": lambda: GeooptSpace(geoopt.Stiefel(canonical=False), (4, 2)),
    "stiefel_canonical": lambda: GeooptSpace(geoopt.Stiefel(), (3, 2)),
    "poincare": lambda: GeooptSpace(geoopt.PoincareBall(c=1.0), (3,)),
    "spd": lambda: GeooptSpace(geoopt.SymmetricPositiveDefinite(), (3, 3)),
}
ALWAYS = {"dim_declared", "tangent_basis_rank", "point_error_order", "prior_stein"}
NO_DIST = {"stiefel", "stiefel_canonical"}  # geoopt has no dist/logmap for Stiefel
DEGENERATE_IS = {"se3_centered"}  # 15-dim proposal inside the rotation cut radius


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(SPACES))
def test_shipped_space_passes_with_the_new_properties_run(name, dtype):
    report = check_space(SPACES[name](), n=32, dtype=dtype, seed=11)
    ran = {r.name for r in report.results if r.status == "passed"}
    want = set(ALWAYS)
    if name not in NO_DIST:
        want.add("dist_minimal")
    if name not in DEGENERATE_IS:
        want.add("log_prior_normalized")
    assert want <= ran, str(report)


def test_degenerate_importance_weights_are_a_skip_with_the_reason():
    report = check_space(SE3(3), n=32, seed=11)
    res = report["log_prior_normalized"]
    assert res.status == "skipped" and "effective sample size" in res.reason


def test_se3_log_prior_is_normalised_for_its_metric():
    # a density w.r.t. the volume of the weighted metric (trans_weight 0.01 here); igso3
    # rotations keep the importance weights usable (uniform ones: ESS too small)
    space = SE3(2, centered=False, prior="igso3", sigma=0.8)
    report = check_space(space, n=32, seed=11, raise_on_fail=False)
    assert report["log_prior_normalized"].status == "passed", str(report)
