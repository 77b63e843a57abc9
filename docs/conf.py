"""Sphinx configuration of the manifold-fm site (furo, autodoc + napoleon, sphinx-gallery).

The build is offline (no intersphinx); ``make docs`` runs it with warnings as errors.
Gallery examples read ``MFM_DOC_BUILD=1`` (set here) and run at small sizes; run by hand
they use their full sizes. The command and config references are generated from the code
by ``_ext/mfm_reference.py``; references by a re-exported name (``manifold_fm.Sphere``)
link to the defining module's entry through ``_ext/public_names.py``.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "_ext"))
os.environ["MFM_DOC_BUILD"] = "1"
os.environ.setdefault("MFM_EXAMPLE_OUT", str(HERE / "_build" / "example_out"))
os.environ.setdefault("MPLBACKEND", "Agg")

project = "manifold-fm"
author = "manifold-fm developers"
copyright = "manifold-fm developers, MIT license"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "mfm_reference",
    "plain_docstrings",
    "public_names",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
html_theme = "furo"
html_title = "manifold-fm"
templates_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",  # run every example
    "within_subsection_order": "gallery_order.ExampleOrder",
    "matplotlib_animations": (True, "jshtml"),
    "download_all_examples": False,
    "abort_on_example_error": True,
    "show_memory": False,
    "remove_config_comments": True,
}
