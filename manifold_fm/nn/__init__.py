"""Neural network building blocks: time embeddings and space-aware MLPs."""

from manifold_fm.nn.mlp import TangentModel, TimeMLP, sinusoidal_embedding

__all__ = ["TangentModel", "TimeMLP", "sinusoidal_embedding"]
