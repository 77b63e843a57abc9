"""check_space(): the conformance suite any ManifoldSpace subclass can run on itself.

``check_space(space)`` returns a :class:`CheckReport` (raising :class:`SpaceCheckError`
on failure); the properties live in :mod:`.properties` by topic (core, dimension, metric,
prior), the Stein test fields of the prior checks in :mod:`.stein`, the shared seeded inputs
in :mod:`.context`, the result types in :mod:`.report`.
"""

from manifold_fm.testing.check import PROPERTIES, check_space
from manifold_fm.testing.report import CheckReport, PropertyResult, SpaceCheckError

__all__ = ["PROPERTIES", "CheckReport", "PropertyResult", "SpaceCheckError", "check_space"]
