"""Neural network building blocks: time embeddings, space-aware MLPs, x1-prediction wrappers,
an image UNet."""

from manifold_fm.nn.mlp import PeriodicInput, TangentModel, TimeMLP, sinusoidal_embedding
from manifold_fm.nn.unet import UNet
from manifold_fm.nn.x1_prediction import SelfConditioning, X1Prediction

__all__ = [
    "PeriodicInput",
    "SelfConditioning",
    "TangentModel",
    "TimeMLP",
    "UNet",
    "X1Prediction",
    "sinusoidal_embedding",
]
