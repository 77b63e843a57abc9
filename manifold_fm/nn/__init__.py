"""Neural network building blocks: time embeddings and space-aware MLPs."""

from manifold_fm.nn.mlp import PeriodicInput, TangentModel, TimeMLP, sinusoidal_embedding

__all__ = ["PeriodicInput", "TangentModel", "TimeMLP", "sinusoidal_embedding"]
