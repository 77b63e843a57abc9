"""The image UNet: :class:`UNet` (:mod:`.network`) built from the blocks of :mod:`.blocks`."""

from manifold_fm.nn.unet.network import UNet

__all__ = ["UNet"]
