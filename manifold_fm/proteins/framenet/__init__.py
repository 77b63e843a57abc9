"""FrameNet: an SE(3)-equivariant frame network on a residue graph, and its adapters.

* :mod:`.network`: :class:`FrameNet` (node states, graph IPA layers, frame updates);
* :mod:`.graph`: the k-nearest-neighbour residue graph and its invariant edge features;
* :mod:`.layers`: graph invariant point attention, transitions, the frame update;
* :mod:`.adapters`: FrameNet as a model of the Space contract (SE(3)^N velocity model,
  sequence-structure co-generation).
"""

from manifold_fm.proteins.framenet.adapters import CoGenerationModel, frame_velocity_model
from manifold_fm.proteins.framenet.network import FrameNet

__all__ = ["CoGenerationModel", "FrameNet", "frame_velocity_model"]
