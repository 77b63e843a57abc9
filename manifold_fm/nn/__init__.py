"""Neural network building blocks: time embeddings, space-aware MLPs, an image UNet."""

from manifold_fm.nn.mlp import PeriodicInput, TangentModel, TimeMLP, sinusoidal_embedding
from manifold_fm.nn.unet import UNet

__all__ = ["PeriodicInput", "TangentModel", "TimeMLP", "UNet", "sinusoidal_embedding"]
