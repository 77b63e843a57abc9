"""``python -m benchmarks.protein``: see :mod:`benchmarks.protein.benchmark`."""

from benchmarks.protein.benchmark import main

main()
