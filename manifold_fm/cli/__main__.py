"""``python -m manifold_fm.cli``: the ``mfm`` command (also under torchrun)."""

from manifold_fm.cli.main import main

raise SystemExit(main())
