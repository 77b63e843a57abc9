"""``python -m benchmarks.mnist``: see :mod:`benchmarks.mnist.benchmark`."""

from benchmarks.mnist.benchmark import main

main()
