"""Sample-quality metrics: kernel two-sample tests (MMD) on any space, feature-space FID
and KID for images, and kernel density baselines on S^2 and T^d.

Each lives in its own module and needs torch only: :mod:`.mmd`, :mod:`.fid` (with the
small digit classifier whose features it compares), :mod:`.kde`.
"""

from manifold_fm.metrics.fid import fid, kid
from manifold_fm.metrics.kde import KernelDensity, fit_kde, kde_log_density
from manifold_fm.metrics.mmd import mmd2

__all__ = ["KernelDensity", "fid", "fit_kde", "kde_log_density", "kid", "mmd2"]
