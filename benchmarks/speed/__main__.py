"""``python -m benchmarks.speed``: see :mod:`benchmarks.speed.benchmark`."""

from benchmarks.speed.benchmark import main

main()
