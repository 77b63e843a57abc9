"""Cartesian products of spaces, e.g. sphere x torus or SE(3)^N x tokens: one factory.

``ProductSpace(a, b, ...)`` is the one public way to build a
product; it returns the class the parts allow:

* :class:`~manifold_fm.spaces.product.manifold.ManifoldProduct` when every part is a
  :class:`ManifoldSpace` (a true ManifoldSpace: likelihood, couplings and every solver
  work);
* :class:`~manifold_fm.spaces.product.general.GeneralProduct` otherwise (a plain
  :class:`Space`: path, loss, step, guidance and validation per part; the manifold
  methods do not exist on it; ``sample(method="rk4")`` on R^2 x tokens is refused
  before any model call).

Layout: a product point is one tensor whose last axis concatenates each component's point
flattened (``event_shape = (sum_i prod(event_shape_i),)``); model outputs concatenate each
component's flattened output the same way (``output_shape = (sum_i prod(output_shape_i),)``).
Parts with ``integer_points`` (token ids) are stored as floats inside the product tensor
(exact for ids below 2^24) and cast back to long for the part.

Masks: a part with ``mask_ndim > 0`` (SE(3) residues, token positions) takes its own
padding mask of shape ``batch + event_shape_i[:mask_ndim_i]`` (True = real). The product's
``path``, ``step``, ``log_prior`` and ``check_mask`` accept, as ``mask``:

* ``None``: no part is masked;
* a tuple/list with one entry per component, ``None`` for a part left unmasked;
* a dict ``{component index: mask}`` (missing indices are unmasked);
* a packed bool tensor of shape ``batch + (M,)``, ``M = sum_i mask_sizes[i]``: the
  maskable parts' masks flattened and concatenated in component order (parts without
  masks take no slot). This is the form a Trainer batch carries (``data["mask"]``).

A mask for a part that takes none, a wrong tuple length, a bad dict key or a wrong shape
raises :class:`~manifold_fm.spaces.product.mask.ProductMaskError` (a ValueError) naming
the component. The loss needs no mask: each part's path sample carries its own.
"""

from __future__ import annotations

from manifold_fm.spaces.base import ManifoldSpace, Space
from manifold_fm.spaces.product.general import GeneralProduct, check_parts
from manifold_fm.spaces.product.manifold import ManifoldProduct
from manifold_fm.spaces.product.mask import ProductMaskError

__all__ = ["GeneralProduct", "ManifoldProduct", "ProductMaskError", "ProductSpace"]


def ProductSpace(*spaces: Space, weights: list[float] | None = None) -> GeneralProduct:
    """Product ``a x b x ...`` of spaces sharing one batch of times (module docstring).

    Args:
        *spaces: the component spaces (at least two).
        weights: optional non-negative per-component loss weights (default all 1): the
            loss is ``sum_i w_i loss_i``.

    Returns:
        a :class:`ManifoldProduct` if every part is a :class:`ManifoldSpace`, else a
        :class:`GeneralProduct`.
    """
    check_parts(spaces, weights)
    if all(isinstance(s, ManifoldSpace) for s in spaces):
        return ManifoldProduct(*spaces, weights=weights)
    return GeneralProduct(*spaces, weights=weights)
