"""The ``mfm`` command and the plumbing that turns a TOML file into a run.

* :mod:`.main`: the argparse front end (``mfm train``, ``mfm sample``, ``mfm demo``) and
  its one-line ``mfm: error: ...`` reporting;
* :mod:`.run_config`: ``RunConfig`` (``[space]``, ``[model]``, ``[data]``, ``[train]``),
  ``--set`` overrides and TOML loading;
* :mod:`.registry`: name -> builder tables, extended by plugins through the
  ``manifold_fm.plugins`` entry-point group;
* :mod:`.builders`: the kinds manifold_fm itself ships.
"""

from manifold_fm.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
