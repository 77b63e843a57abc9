"""Sample-quality metrics that work on any space: kernel two-sample tests (MMD)."""

from manifold_fm.metrics.mmd import mmd2

__all__ = ["mmd2"]
