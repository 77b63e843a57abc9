"""Neural network building blocks: time embeddings, space-aware MLPs and their assembly
(:func:`build_mlp`), x1-prediction wrappers, an image UNet.

The protein network (FrameNet) lives with the rest of the protein code in
:mod:`manifold_fm.proteins.framenet`.
"""

from manifold_fm.nn.build import build_mlp
from manifold_fm.nn.features import FeatureInput, FourierFeatures
from manifold_fm.nn.mlp import PeriodicInput, TangentModel, TimeMLP, sinusoidal_embedding
from manifold_fm.nn.unet import UNet
from manifold_fm.nn.x1_prediction import SelfConditioning, X1Prediction

__all__ = [
    "FeatureInput",
    "FourierFeatures",
    "PeriodicInput",
    "SelfConditioning",
    "TangentModel",
    "TimeMLP",
    "UNet",
    "X1Prediction",
    "build_mlp",
    "sinusoidal_embedding",
]
