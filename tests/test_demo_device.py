"""The demo's samples live on the model's device, whatever device the generator is on.

No GPU is needed for the CPU case; the CUDA case runs where a GPU exists (a CPU generator
with a CUDA model used to give prior points on the CPU and a device mismatch).
"""

from __future__ import annotations

import pytest
import torch

from manifold_fm import Sphere
from manifold_fm.cli.demo import draw_samples, model_device
from manifold_fm.nn import TangentModel, TimeMLP

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_samples_follow_the_model_device(device):
    space = Sphere(2)
    torch.manual_seed(0)
    model = TangentModel(space, TimeMLP.for_space(space, hidden=8, depth=1)).to(device)
    gen = torch.Generator().manual_seed(0)  # always on the CPU
    x = draw_samples(model, space, 16, generator=gen, steps=2)
    assert x.device == model_device(model) == torch.device(device, 0 if device == "cuda" else None)
    space.validate(x.cpu())
    again = draw_samples(model, space, 16, generator=torch.Generator().manual_seed(0), steps=2)
    assert torch.equal(x, again)  # the seed alone fixes the samples


def test_model_device_of_a_stateless_model_is_the_cpu():
    assert model_device(torch.nn.Identity()) == torch.device("cpu")
