"""FrameNet as a model of the Space contract: on SE(3)^N, and on SE(3)^N x amino acids.

:class:`~manifold_fm.proteins.framenet.network.FrameNet` predicts clean frames
(and amino-acid logits); the Trainer and the samplers want ``model(x_t, t, **cond)`` to
return the space's output. Two adapters, nothing protein-specific in the training loop:

* :func:`frame_velocity_model` -- ``SE3(n_frames=N)``: :class:`~manifold_fm.nn.X1Prediction`
  around FrameNet, u = kappa'/(1 - kappa) log_{x_t}(x1_hat). Conditions: ``mask``,
  ``aatype`` (a fixed sequence), ``self_cond``.
* :class:`CoGenerationModel` -- ``ProductSpace(SE3(N), CTMCSpace(20, N))``: the product
  point (frames, then token ids, flattened) is split; the current tokens x_t (the CTMC's
  mask id 20 is FrameNet's "unknown" id) are FrameNet's amino-acid input; its outputs are
  the SE3 velocity of x1_hat and the logits of the clean sequence, joined in the product's
  output layout. The packed product mask reaches both parts.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from manifold_fm.nn.x1_prediction import X1Prediction
from manifold_fm.proteins.framenet.network import AA_VOCAB, FrameNet
from manifold_fm.spaces.base import ManifoldSpace, Space
from manifold_fm.spaces.product.general import GeneralProduct

__all__ = ["CoGenerationModel", "frame_velocity_model"]


def _check_frames(space: Space, where: str) -> None:
    shape = tuple(space.event_shape)
    if not isinstance(space, ManifoldSpace) or len(shape) != 3 or shape[1:] != (3, 4):
        raise TypeError(f"{where}: needs frames SE3(n_frames=N) (points (N, 3, 4)), got {space!r}")


def frame_velocity_model(space: Space, **framenet_options: Any) -> X1Prediction:
    """A velocity model on ``space`` = ``SE3(N)`` from ``FrameNet(**framenet_options)``.

    FrameNet's x1_hat is already a valid SE(3)^N point with the input's centre of mass, so
    it is not projected again (``project=False``: a projection would re-centre over the
    padded residues too).
    """
    _check_frames(space, "frame_velocity_model")
    return X1Prediction(FrameNet(**framenet_options), space, project=False)


class CoGenerationModel(nn.Module):
    """Frames and sequence from one FrameNet on ``ProductSpace(SE3(N), CTMCSpace(V, N))``.

    Args:
        space: the product (a GeneralProduct of exactly these two parts, V <= 20).
        **framenet_options: FrameNet sizes (``n_aa_out`` is set to V).

    ``forward(x, t, mask=None, self_cond=None)``: ``x`` ``(B, N*12 + N)``, the packed mask
    ``(B, 2N)`` (or any form the product accepts); ``self_cond`` the product's clean-point
    estimate (frames first, then logits) whose frame part is fed back. Returns
    ``(B, N*6 + N*V)``.
    """

    def __init__(self, space: Space, **framenet_options: Any) -> None:
        super().__init__()
        parts = space.spaces if isinstance(space, GeneralProduct) else ()
        if len(parts) != 2:
            raise TypeError(
                f"CoGenerationModel needs ProductSpace(SE3(N), CTMCSpace(V, N)), got {space!r}"
            )
        frames, tokens = parts
        _check_frames(frames, "CoGenerationModel component 0")
        n = frames.event_shape[0]
        vocab = getattr(tokens, "vocab_size", None)
        if tuple(tokens.event_shape) != (n,) or not isinstance(vocab, int) or vocab >= AA_VOCAB:
            raise TypeError(
                f"CoGenerationModel component 1 must be CTMCSpace(V <= {AA_VOCAB - 1}, {n}) "
                f"(one amino acid per frame), got {tokens!r}"
            )
        self.space, self.frames, self.vocab = space, frames, vocab
        self.net = FrameNet(**{**framenet_options, "n_aa_out": vocab})

    def forward(
        self, x: Tensor, t: Tensor, mask: Any = None, self_cond: Tensor | None = None
    ) -> Tensor:
        frames_t, tokens_t = self.space.split(x)
        m_frames, m_tokens = self.space.split_mask(x, mask)
        b, n = frames_t.shape[:2]
        sc = None if self_cond is None else self_cond[:, : n * 12].reshape(b, n, 3, 4)
        x1_hat, logits = self.net.predict(frames_t, t, m_frames, tokens_t, sc)
        vel = self.frames.x1_to_velocity(frames_t, x1_hat, t)
        if m_tokens is not None:  # padded positions carry no prediction
            logits = logits.masked_fill(~m_tokens.unsqueeze(-1), 0.0)
        return self.space.join([vel, logits], 1, x.dtype)
