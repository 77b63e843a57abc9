"""Neural network building blocks: time embeddings, space-aware MLPs, x1-prediction wrappers,
an image UNet.

FrameNet and its adapters (:mod:`manifold_fm.nn.framenet`, :mod:`.framenet_models`) need
torch_geometric and e3nn; they are imported on first use, so ``import manifold_fm.nn``
stays light.
"""

from typing import Any

from manifold_fm.nn.features import FeatureInput, FourierFeatures
from manifold_fm.nn.mlp import PeriodicInput, TangentModel, TimeMLP, sinusoidal_embedding
from manifold_fm.nn.unet import UNet
from manifold_fm.nn.x1_prediction import SelfConditioning, X1Prediction

#: names loaded on first access, with the module that defines them
_LAZY = {
    "FrameNet": "manifold_fm.nn.framenet",
    "CoGenerationModel": "manifold_fm.nn.framenet_models",
    "frame_velocity_model": "manifold_fm.nn.framenet_models",
}

__all__ = [
    "CoGenerationModel",
    "FeatureInput",
    "FourierFeatures",
    "FrameNet",
    "PeriodicInput",
    "SelfConditioning",
    "TangentModel",
    "TimeMLP",
    "UNet",
    "X1Prediction",
    "frame_velocity_model",
    "sinusoidal_embedding",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'manifold_fm.nn' has no attribute {name!r}")
