"""The ELBO on padded batches and with per-row conditions split into batches.

An all-padding row has nothing to code: NELBO exactly 0 under both estimators (the "k"
estimator used to divide 0 by 0). Per-row condition tensors must be sliced with each batch
of ``batch_size`` rows, as :func:`manifold_fm.solvers.likelihood.log_prob` does.
"""

from __future__ import annotations

import math

import pytest
import torch

from discrete_fm import CTMCSpace, elbo

V, L = 5, 4


def label_model(x_t, t, label, mask=None):
    """Logits (n, L, V) that put almost all mass on token ``label[i]`` at every position."""
    if label.shape[0] != x_t.shape[0]:
        raise ValueError(f"label rows {label.shape[0]} != batch rows {x_t.shape[0]}")
    return 30.0 * torch.nn.functional.one_hot(label, V).double()[:, None, :].expand(-1, L, -1)


@pytest.mark.parametrize("estimator", ["k", "t"])
def test_all_padding_row_costs_zero(estimator):
    space = CTMCSpace(V, L, "mask")
    g = torch.Generator().manual_seed(0)
    label = torch.tensor([0, 1, 2, 3])
    x1 = label[:, None].expand(-1, L).clone()
    mask = torch.ones(4, L, dtype=torch.bool)
    mask[2] = False  # row 2 is all padding
    mask[3, 2:] = False
    res = elbo(
        label_model,
        space,
        x1,
        n_t=4,
        mask=mask,
        estimator=estimator,
        cond={"label": label},
        generator=g,
    )
    assert bool(torch.isfinite(res.nats).all()) and math.isfinite(res.bits_per_token)
    assert float(res.nats[2]) == 0.0
    assert res.bits_per_token < 1e-6  # the model is (almost) perfect on the real tokens


def test_a_mask_without_real_tokens_is_refused():
    space = CTMCSpace(V, L, "mask")
    x1 = torch.zeros(3, L, dtype=torch.long)
    with pytest.raises(ValueError, match="no real token"):
        elbo(
            label_model,
            space,
            x1,
            mask=torch.zeros(3, L, dtype=torch.bool),
            estimator="k",
            cond={"label": torch.zeros(3, dtype=torch.long)},
        )


@pytest.mark.parametrize("estimator", ["k", "t"])
def test_per_row_condition_is_sliced_per_batch(estimator):
    space = CTMCSpace(V, L, "mask")
    g = torch.Generator().manual_seed(1)
    label = torch.randint(0, V, (7,), generator=g)
    x1 = label[:, None].expand(-1, L).clone()
    shared = torch.tensor(1.0)  # not per row: passed to every call as it is

    def model(x_t, t, label, scale):
        return label_model(x_t, t, label) * scale

    res = elbo(
        model,
        space,
        x1,
        n_t=2,
        estimator=estimator,
        batch_size=3,
        cond={"label": label, "scale": shared},
        generator=g,
    )
    assert res.bits_per_token < 1e-6  # each row met its own label


def test_elbo_refuses_a_condition_the_model_does_not_read():
    from discrete_fm import SequenceTransformer
    from manifold_fm.conditioning import ConditionError

    space = CTMCSpace(5, 4)
    net = SequenceTransformer.for_space(space, dim=8, depth=1, heads=2)
    x1 = torch.randint(0, 5, (3, 4), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ConditionError, match="'label'"):
        elbo(net, space, x1, n_t=1, cond={"label": torch.zeros(3, dtype=torch.long)})
