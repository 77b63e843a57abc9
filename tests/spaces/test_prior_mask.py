"""Every shipped space takes ``mask`` in ``sample_prior`` and ``log_prior`` the same way.

Keyword-only, default None; spaces with maskable positions use it, the others accept
None and refuse anything else with a ValueError. Callers (the trainer, the sampler) pass
the mask they hold to the prior as they pass it to the path and the step.
"""

from __future__ import annotations

import inspect

import geoopt
import pytest
import torch

from discrete_fm import CTMCSpace
from manifold_fm import SE3, SO3, Euclidean, FlatTorus, ProductSpace, Sphere
from manifold_fm.proteins import BackboneSE3
from manifold_fm.solvers import sample
from manifold_fm.spaces import GeneralProduct, GeooptSpace, Space
from manifold_fm.spaces.product import ProductMaskError

F64 = torch.float64
#: what a space without maskable positions (or a product of them) says to a mask
REFUSED = r"no maskable positions|no component takes a mask"

SPACES = {
    "euclidean": lambda: Euclidean(2),
    "sphere": lambda: Sphere(2),
    "torus": lambda: FlatTorus(2),
    "so3": lambda: SO3(),
    "so3_igso3": lambda: SO3(prior="igso3", sigma=0.5),
    "se3": lambda: SE3(3),
    "backbone_se3": lambda: BackboneSE3(3),
    "geoopt_ball": lambda: GeooptSpace(geoopt.PoincareBall(), (2,)),
    "ctmc": lambda: CTMCSpace(4, 3),
    "ctmc_uniform": lambda: CTMCSpace(4, 3, "uniform"),
    "sphere_x_torus": lambda: ProductSpace(Sphere(2), FlatTorus(1)),
    "se3_x_r2": lambda: ProductSpace(SE3(2), Euclidean(2)),
    "se3_x_tokens": lambda: ProductSpace(SE3(2), CTMCSpace(4, 3)),
}


def _signature_issues(cls: type) -> list[str]:
    """How ``cls``'s sample_prior / log_prior differ from the contract's mask parameter."""
    issues = []
    for name in ("sample_prior", "log_prior"):
        p = inspect.signature(getattr(cls, name)).parameters.get("mask")
        if p is None:
            issues.append(f"{name} takes no mask")
        elif p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is not None:
            issues.append(f"{name}: mask is not keyword-only with default None")
    return issues


@pytest.mark.parametrize("name", sorted(SPACES))
def test_mask_is_keyword_only_with_default_none(name):
    assert _signature_issues(type(SPACES[name]())) == []


def test_the_signature_check_catches_a_space_without_mask():
    class Old(Sphere):  # the old contract: no mask
        def log_prior(self, x):
            return super().log_prior(x)

    class Positional(Sphere):
        def sample_prior(self, n, mask=None, *, generator=None, device=None, dtype=None):
            return super().sample_prior(n, generator=generator, device=device, dtype=dtype)

    assert _signature_issues(Space) == []  # the abstract contract itself
    assert _signature_issues(Old) == ["log_prior takes no mask"]
    assert _signature_issues(Positional) == [
        "sample_prior: mask is not keyword-only with default None"
    ]


@pytest.mark.parametrize("name", sorted(SPACES))
def test_mask_none_changes_nothing_and_others_are_checked(name):
    space = SPACES[name]()
    draw = lambda **kw: space.sample_prior(  # noqa: E731
        5, generator=torch.Generator().manual_seed(0), dtype=F64, **kw
    )
    x = draw()
    assert torch.equal(draw(mask=None), x)
    lp = space.log_prior(x)
    assert torch.equal(space.log_prior(x, mask=None), lp)
    if space.mask_ndim == 0:
        bad = torch.ones(5, *space.event_shape[:1], dtype=torch.bool)
        with pytest.raises(ValueError, match=REFUSED):
            draw(mask=bad)
        with pytest.raises(ValueError, match=REFUSED):
            space.log_prior(x, mask=bad)
        return
    if isinstance(space, GeneralProduct):  # the packed form: (n, sum of the parts' sizes)
        mask = torch.ones(5, sum(space.mask_sizes), dtype=torch.bool)
    else:
        mask = torch.ones(5, *space.event_shape[: space.mask_ndim], dtype=torch.bool)
    mask[:, -1] = False
    xm = draw(mask=mask)
    assert xm.shape == x.shape and torch.isfinite(space.log_prior(xm, mask=mask)).all()
    wrong = torch.ones(4, *mask.shape[1:], dtype=torch.bool)  # batch of 4 for 5 points
    with pytest.raises(ValueError, match="mask"):
        draw(mask=wrong)
    with pytest.raises(ValueError, match="mask"):
        space.log_prior(xm, mask=wrong)


def test_product_prior_takes_each_mask_form_and_hands_each_part_its_own():
    frames, tokens = SE3(3), CTMCSpace(4, 2)
    space = ProductSpace(frames, tokens)
    m_frames = torch.tensor([[True, True, False], [True, False, False]])
    forms = [(m_frames, None), {0: m_frames}, torch.cat([m_frames, torch.ones(2, 2).bool()], 1)]
    draws = [
        space.sample_prior(2, generator=torch.Generator().manual_seed(3), dtype=F64, mask=m)
        for m in forms
    ]
    assert all(torch.equal(d, draws[0]) for d in draws)
    assert torch.equal(space.check_prior_mask(2, forms[0]), forms[2])  # packed, as check_mask
    g = torch.Generator().manual_seed(3)
    want = frames.sample_prior(2, generator=g, dtype=F64, mask=m_frames)
    assert torch.equal(space.split(draws[0])[0], want)
    with pytest.raises(ProductMaskError, match="component 1"):
        space.sample_prior(2, mask=(None, torch.ones(2, 5).bool()))  # wrong token length


def _real_com(space, x, mask):
    t = space.split(x)[1]
    m = mask[..., None].to(t.dtype)
    return ((t * m).sum(1) / m.sum(1)).abs().max()


def test_sampling_from_a_count_with_a_mask_draws_the_masked_prior():
    """SE(3): the real residues start (and so stay) centred; before, only all N were."""
    space = SE3(5)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])

    def still(x, t, mask=None):  # a zero field: the sample is the prior draw
        return torch.zeros(x.shape[0], 5, 6, dtype=x.dtype)

    g = torch.Generator().manual_seed(4)
    res = sample(still, space, 2, steps=2, mask=mask, generator=g, dtype=F64)
    assert _real_com(space, res.x, mask) < 1e-12
    # what the check guards against: the unmasked prior is off-centre on the real residues
    unmasked = space.sample_prior(2, generator=torch.Generator().manual_seed(4), dtype=F64)
    assert _real_com(space, unmasked, mask) > 1e-3


def test_the_trainer_hands_the_batch_mask_to_the_prior(monkeypatch):
    from manifold_fm.train import TrainConfig, Trainer

    space = SE3(3, trans_scale=1.0)
    seen = []
    draw = SE3.sample_prior

    def recording(self, n, **kw):
        seen.append(kw.get("mask"))
        return draw(self, n, **kw)

    monkeypatch.setattr(SE3, "sample_prior", recording)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3 * 12 + 1, 3 * 6)

        def forward(self, x, t, mask=None):
            h = torch.cat([x.flatten(1), t[:, None].to(x.dtype)], -1)
            return self.lin(h).reshape(-1, 3, 6)

    g = torch.Generator().manual_seed(0)
    x1 = draw(space, 8, generator=g)
    mask = torch.ones(8, 3, dtype=torch.bool)
    mask[::2, -1] = False
    cfg = TrainConfig(steps=2, batch_size=4, warmup_steps=1, device="cpu", progress=False)
    Trainer(space, Net(), {"x1": x1, "mask": mask}, cfg).fit()
    assert len(seen) == 2 and all(m is not None and m.shape == (4, 3) for m in seen)
