"""Every Python block of the README runs, in order, as one script: the docs cannot rot.

The blocks share one namespace (later ones reuse ``space``, ``model``, ``g``), exactly as a
reader pasting them one after the other would; the script runs in a fresh interpreter in a
temporary folder so nothing it writes lands in the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_has_python_blocks_and_the_extractor_finds_them():
    blocks = python_blocks("x\n```python\na = 1\n```\n```bash\nls\n```\n```python\nb = 2\n```\n")
    assert blocks == ["a = 1\n", "b = 2\n"]
    assert len(python_blocks((ROOT / "README.md").read_text())) >= 5


def test_readme_python_blocks_run(tmp_path):
    script = "\n".join(python_blocks((ROOT / "README.md").read_text()))
    (tmp_path / "readme.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "readme.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
