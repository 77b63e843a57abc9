"""UNet: output shapes (MNIST and 32x32 RGB), class conditioning, the null class, bf16."""

from __future__ import annotations

import pytest
import torch

from manifold_fm.nn import UNet

TINY = {"base_channels": 8, "channel_mults": (1, 2), "attn_heads": 2, "groups": 4}


def _perturbed(model: UNet) -> UNet:
    """Zero-initialised output layers make a fresh UNet output 0; give it random weights."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


@pytest.mark.parametrize(
    ("kw", "shape"),
    [({}, (3, 1, 28, 28)), ({"in_channels": 3, "image_size": 32}, (2, 3, 32, 32))],
)
def test_unet_output_has_the_image_shape(kw, shape):
    m = UNet(**{**TINY, **kw})
    x = torch.randn(shape)
    out = m(x, torch.rand(shape[0]))
    assert out.shape == x.shape
    assert out.dtype == x.dtype


def test_default_unet_is_mnist_sized():
    m = UNet(n_classes=10)
    assert 5e5 < m.n_params() < 2e6
    assert m(torch.randn(2, 1, 28, 28), torch.rand(2), label=torch.tensor([1, 2])).shape == (
        2,
        1,
        28,
        28,
    )


def test_classes_change_the_output_and_the_null_class_is_the_unconditional_model():
    torch.manual_seed(0)
    m = _perturbed(UNet(**TINY, n_classes=10)).eval()
    x, t = torch.randn(4, 1, 28, 28), torch.rand(4)
    a = m(x, t, label=torch.zeros(4, dtype=torch.long))
    b = m(x, t, label=torch.full((4,), 7))
    assert (a - b).abs().max() > 1e-3  # different classes give different fields
    uncond = m(x, t)  # no label: the null class
    dropped = m(x, t, label=torch.full((4,), 7), cond_drop=torch.ones(4, dtype=torch.bool))
    torch.testing.assert_close(dropped, uncond)
    assert (uncond - b).abs().max() > 1e-3
    half = torch.tensor([True, False, True, False])
    mixed = m(x, t, label=torch.full((4,), 7), cond_drop=half)
    torch.testing.assert_close(mixed[half], uncond[half])
    torch.testing.assert_close(mixed[~half], b[~half])


def test_unet_time_changes_the_output():
    m = _perturbed(UNet(**TINY)).eval()
    x = torch.randn(2, 1, 28, 28)
    assert (m(x, torch.zeros(2)) - m(x, torch.ones(2))).abs().max() > 1e-3


def test_unet_refuses_bad_inputs_and_settings():
    m = UNet(**TINY)
    with pytest.raises(ValueError, match="shape"):
        m(torch.randn(2, 3, 28, 28), torch.rand(2))  # 3 channels into a 1-channel UNet
    with pytest.raises(ValueError, match="n_classes"):
        m(torch.randn(2, 1, 28, 28), torch.rand(2), label=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="base_channels"):
        UNet(base_channels=0)
    with pytest.raises(ValueError, match="heads"):
        UNet(base_channels=6, channel_mults=(1,), attn_heads=4)


def test_unet_runs_channels_last_and_under_bf16_autocast():
    m = _perturbed(UNet(**TINY, n_classes=3)).eval()
    x, t, y = torch.randn(2, 1, 28, 28), torch.rand(2), torch.tensor([0, 2])
    ref = m(x, t, label=y)
    cl = m.to(memory_format=torch.channels_last)(
        x.to(memory_format=torch.channels_last), t, label=y
    )
    torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = m(x, t, label=y)
    assert low.dtype == x.dtype and bool(torch.isfinite(low).all())
    assert (low - ref).abs().max() < 0.1 * ref.abs().max() + 1e-3


def test_unet_runs_as_a_float64_copy():
    m = _perturbed(UNet(**TINY, n_classes=3)).eval()
    x, t, y = torch.randn(2, 1, 28, 28), torch.rand(2), torch.tensor([0, 2])
    out = m.double()(x.double(), t.double(), label=y)
    assert out.dtype == torch.float64 and out.shape == x.shape
