"""Cross-references by the name a user imports link to where autodoc documents the object.

The pages write ``:class:`~manifold_fm.Sphere``` or ``:func:`manifold_fm.solvers.sample```:
the names a script imports, which packages re-export. Autodoc documents each object once,
in the module that defines it (``manifold_fm.spaces.sphere.Sphere``), so Sphinx finds no
target under the short name and, without nitpicky mode, silently renders plain text. On
such a miss this extension imports the named object and retries with the name of its
defining module.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["defining_name", "setup"]

PACKAGES = ("manifold_fm", "discrete_fm")


def defining_name(target: str) -> str | None:
    """``module.qualname`` of the object ``target`` names, or None when it names none."""
    parts = target.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{module}.{qualname}" if module and qualname else None
    return None


def _resolve(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith(PACKAGES):
        return None
    full = defining_name(target)
    if full is None or full == target:
        return None
    retry = node.deepcopy()
    retry["reftarget"] = full
    return env.get_domain("py").resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], full, retry, contnode
    )


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: resolve the Python references Sphinx itself could not."""
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "version": "1"}
