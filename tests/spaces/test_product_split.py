"""Products: one factory, a manifold product and a general product, masks per component.

Covers the split of ``ProductSpace`` into :class:`ManifoldProduct` / :class:`GeneralProduct`,
the declared abilities (the sampling methods, ``has_uniform``, ``integer_points``), masks in
every accepted form reaching every component, and the generator reaching every component.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from discrete_fm import CTMCSpace
from manifold_fm import (
    SE3,
    SO3,
    Euclidean,
    FlatTorus,
    GeneralProduct,
    ManifoldProduct,
    ManifoldSpace,
    ProductSpace,
    Space,
    Sphere,
)
from manifold_fm.solvers import sample, sampling_methods
from manifold_fm.spaces.product import ProductMaskError


def frames_and_tokens() -> GeneralProduct:
    return ProductSpace(SE3(3, trans_scale=1.0), CTMCSpace(4, 3, "mask"))


def masked_batch(space: GeneralProduct, n: int, g: torch.Generator):
    """x0, x1 and per-part masks (n, 3) with 1..3 real frames / tokens per row."""
    se3 = space.spaces[0]
    x0 = space.sample_prior(n, generator=g)
    r = SO3().random_uniform(n * 3, generator=g).reshape(n, 3, 3, 3)
    x1 = space.join(
        [se3.join(r, torch.randn(n, 3, 3, generator=g)), torch.randint(0, 4, (n, 3), generator=g)],
        1,
    )
    lengths = torch.randint(1, 4, (n,), generator=g)
    m_frames = torch.arange(3) < lengths[:, None]
    m_tokens = torch.arange(3) < torch.randint(1, 4, (n,), generator=g)[:, None]
    return x0, x1, m_frames, m_tokens


def test_factory_builds_a_manifold_product_from_manifolds():
    prod = ProductSpace(Sphere(2), FlatTorus(2))
    assert isinstance(prod, ManifoldProduct) and isinstance(prod, ManifoldSpace)
    assert prod.dim == 4 and tuple(prod.tangent_shape) == (5,)
    assert sampling_methods(prod) == sampling_methods(Sphere(2))


def test_factory_builds_a_general_product_without_manifold_methods():
    prod = ProductSpace(Euclidean(2), CTMCSpace(3, 1))
    assert isinstance(prod, GeneralProduct) and isinstance(prod, Space)
    assert not isinstance(prod, ManifoldSpace)
    for name in ("expmap", "logmap", "proju", "inner", "dist", "dim", "random_uniform"):
        assert not hasattr(prod, name), name
    assert sampling_methods(prod) == ("euler",)
    assert tuple(prod.output_shape) == (5,) and tuple(prod.event_shape) == (3,)


def test_factory_rejects_bad_parts_and_weights():
    with pytest.raises(ValueError, match="at least two"):
        ProductSpace(Sphere(2))
    with pytest.raises(TypeError, match="component 1"):
        ProductSpace(Sphere(2), "torus")
    with pytest.raises(ValueError, match="non-negative weights"):
        ProductSpace(Sphere(2), FlatTorus(1), weights=[1.0, -1.0])
    with pytest.raises(TypeError, match="not a ManifoldSpace"):
        ManifoldProduct(Sphere(2), CTMCSpace(3, 1))


def test_declared_abilities_come_from_the_parts():
    assert CTMCSpace(3, 2).integer_points and not Sphere(2).integer_points
    both = ProductSpace(SO3(), SO3())
    assert both.has_uniform and not ProductSpace(SO3(), Sphere(2)).has_uniform
    g = torch.Generator().manual_seed(0)
    u = both.random_uniform(16, generator=g, dtype=torch.float64)
    both.validate(u)
    with pytest.raises(NotImplementedError, match="Sphere"):
        ProductSpace(SO3(), Sphere(2)).random_uniform(4)


@pytest.mark.parametrize("method", ["midpoint", "rk4", "dopri5"])
def test_unsupported_method_on_a_general_product_fails_before_any_model_call(method):
    space = ProductSpace(Euclidean(2), CTMCSpace(3, 1))
    calls = []

    def model(x, t):
        calls.append(1)
        return torch.zeros(x.shape[0], 5)

    with pytest.raises(ValueError, match=rf"'{method}'.*GeneralProduct\(Euclidean"):
        sample(model, space, 4, steps=2, method=method)
    assert calls == []
    assert sample(model, space, 4, steps=2, method="euler").x.shape == (4, 3)


def test_the_three_mask_forms_agree():
    space = frames_and_tokens()
    g = torch.Generator().manual_seed(0)
    x0, x1, mf, mt = masked_batch(space, 6, g)
    t = torch.rand(6, generator=g)
    forms = [(mf, mt), {0: mf, 1: mt}, torch.cat([mf, mt], -1)]
    outs = []
    for m in forms:
        torch.manual_seed(1)  # the same token draws for every form
        outs.append(space.path(x0, x1, t, mask=m))
    for o in outs[1:]:
        assert torch.equal(o.x_t, outs[0].x_t) and torch.equal(o.target, outs[0].target)
    assert torch.equal(outs[0].mask, forms[2])


def test_masks_reach_every_component_in_path_loss_step_and_log_prior():
    space = frames_and_tokens()
    se3, ctmc = space.spaces
    g = torch.Generator().manual_seed(0)
    x0, x1, mf, mt = masked_batch(space, 8, g)
    s = space.path(x0, x1, torch.full((8,), 0.5), mask=(mf, mt))
    f_t, tok_t = space.split(s.x_t)
    f_0, tok_1 = space.split(x0)[0], space.split(x1)[1]
    assert torch.equal(f_t[~mf], f_0[~mf])  # padded frames stay at x0
    assert torch.equal(tok_t[~mt], tok_1[~mt])  # padded tokens carry x1, never masked
    out = torch.randn(8, 30, generator=g)
    junk = out.clone()
    w, logits = space.split_tangent(junk)
    w[~mf] += 100.0
    logits[~mt] += 100.0
    assert torch.allclose(space.loss(out, s), space.loss(junk, s))  # padding costs nothing
    x_new = space.step(s.x_t, out, 0.5, 0.1, mask=(mf, mt), generator=g)
    f_new, tok_new = space.split(x_new)
    assert torch.equal(f_new[~mf], f_t[~mf]) and torch.equal(tok_new[~mt], tok_t[~mt])
    want = se3.log_prior(space.split(x0)[0], mask=mf) + ctmc.log_prior(space.split(x0)[1], mask=mt)
    assert torch.equal(space.log_prior(x0, mask=(mf, mt)), want)
    assert not torch.equal(space.log_prior(x0), want)  # the masks did change it


def test_broken_masks_are_refused_naming_the_component():
    space = frames_and_tokens()
    g = torch.Generator().manual_seed(0)
    x0, x1, mf, mt = masked_batch(space, 4, g)
    t = torch.rand(4, generator=g)
    with pytest.raises(ProductMaskError, match="one entry per component"):
        space.path(x0, x1, t, mask=(mf,))
    with pytest.raises(ProductMaskError, match="component indices"):
        space.path(x0, x1, t, mask={2: mf})
    with pytest.raises(ProductMaskError, match="component 1"):
        space.path(x0, x1, t, mask=(mf, mt[:, :2]))
    with pytest.raises(ProductMaskError, match=r"packed mask must have shape \(4, 6\)"):
        space.step(x0, torch.zeros(4, 30), 0.0, 0.1, mask=torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(ProductMaskError, match="bool"):
        space.check_mask(x0, torch.ones(4, 6))
    plain = ProductSpace(Sphere(2), CTMCSpace(3, 2))
    y = plain.sample_prior(4, generator=g)
    with pytest.raises(ProductMaskError, match=r"component 0 \(Sphere\) takes no mask"):
        plain.check_mask(y, (torch.ones(4, 3, dtype=torch.bool), None))
    with pytest.raises(ProductMaskError, match="no component takes a mask"):
        ProductSpace(Sphere(2), FlatTorus(1)).check_mask(torch.zeros(4, 4), torch.ones(4, 1) > 0)


def test_generator_reaches_every_component_of_the_path():
    space = ProductSpace(CTMCSpace(5, 4, "uniform"), CTMCSpace(3, 2, "uniform"))
    g = torch.Generator().manual_seed(3)
    x0 = space.sample_prior(64, generator=g)
    x1 = space.sample_prior(64, generator=g)
    t = torch.full((64,), 0.5)
    runs = []
    for perturb in (0, 1):
        torch.manual_seed(perturb)  # the global RNG must not matter
        runs.append(space.path(x0, x1, t, generator=torch.Generator().manual_seed(7)).x_t)
    assert torch.equal(runs[0], runs[1])


def test_validate_refuses_non_integer_token_slots():
    space = ProductSpace(Euclidean(2), CTMCSpace(3, 2))
    good = torch.tensor([[0.5, 1.0, 2.0, 0.0]])
    space.validate(good)
    with pytest.raises(ValueError, match=r"component 1.*row 0 holds a non-integer id"):
        space.validate(torch.tensor([[0.5, 1.0, 1.5, 0.0]]))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_manifold_product_geometry_is_the_parts_geometry(seed):
    g = torch.Generator().manual_seed(seed)
    sp, so = Sphere(2), SO3()
    prod = ProductSpace(sp, so)
    x = prod.sample_prior(5, generator=g, dtype=torch.float64)
    y = prod.sample_prior(5, generator=g, dtype=torch.float64)
    (xs, xr), (ys, yr) = prod.split(x), prod.split(y)
    d2 = sp.dist(xs, ys) ** 2 + so.dist(xr, yr) ** 2
    assert torch.allclose(prod.dist(x, y) ** 2, d2, atol=1e-9)
    v = prod.logmap(x, y)
    assert torch.allclose(prod.inner(x, v, v), d2, atol=1e-8)
    assert prod.point_error(prod.expmap(x, 0.3 * v)).max() < 1e-9
