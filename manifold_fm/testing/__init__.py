"""check_space(): the conformance suite any ManifoldSpace subclass can run on itself.

``check_space(space)`` returns a :class:`CheckReport` (raising :class:`SpaceCheckError`
on failure); the properties live in ``props_*.py`` by topic, the shared seeded inputs in
``context.py``, the result types in ``report.py``.
"""

from manifold_fm.testing.check import PROPERTIES, check_space
from manifold_fm.testing.report import CheckReport, PropertyResult, SpaceCheckError

__all__ = ["PROPERTIES", "CheckReport", "PropertyResult", "SpaceCheckError", "check_space"]
