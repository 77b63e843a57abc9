"""Spaces whose model outputs carry rotation velocities: the :class:`RotationalSpace` protocol.

FrameFlow's rotation-rate schedule (:class:`manifold_fm.solvers.RotationRate`) rescales
the rotation part of the field a sampler integrates. Only some spaces have one, so the
ability is a protocol, not a method of every :class:`~manifold_fm.spaces.contract.Space`:
a space is rotational when it implements :meth:`RotationalSpace.scale_rotation`, and
``isinstance(space, RotationalSpace)`` says so before any sampling work.

Shipped rotational spaces: :class:`~manifold_fm.spaces.so3.SO3` (the whole output is a
body rotation vector), :class:`~manifold_fm.spaces.se3.SE3` (the rotation half of each
frame's output) and products holding at least one of them
(:mod:`manifold_fm.spaces.product`: only the rotational parts' slices are scaled). A
product of parts without rotations is not rotational.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor

__all__ = ["RotationalSpace"]


@runtime_checkable
class RotationalSpace(Protocol):
    """A space with a rotation part in its model outputs that a sampler policy can scale.

    ``isinstance(space, RotationalSpace)`` checks that ``scale_rotation`` exists (not its
    signature).
    """

    def scale_rotation(self, output: Tensor, factor: Tensor) -> Tensor:
        """Scale the rotation part of outputs ``(n, *output_shape)`` by ``factor`` ``(n,)``.

        The other parts of the output (translations, logits) are returned unchanged; the
        result has the shape and dtype of ``output``.
        """
        ...
