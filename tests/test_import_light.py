"""`import manifold_fm` stays light: the heavy optional dependencies load only when used."""

import os
import subprocess
import sys

HEAVY = ("geoopt", "scipy", "torchdiffeq", "matplotlib", "torch_geometric", "e3nn")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_import_manifold_fm_loads_no_heavy_dependency():
    assert _loaded_after("import manifold_fm, manifold_fm.spaces, manifold_fm.priors") == []


def test_geoopt_loads_when_a_geoopt_space_is_built():
    # the probe can fail: building a GeooptSpace must import geoopt
    code = (
        "import geoopt as g0; from manifold_fm import GeooptSpace; GeooptSpace(g0.Sphere(), (3,))"
    )
    assert "geoopt" in _loaded_after(code)
    assert _loaded_after("from manifold_fm import GeooptSpace, Sphere; Sphere(2)") == []
