"""``python -m benchmarks.synthetic``: see :mod:`benchmarks.synthetic.benchmark`."""

from benchmarks.synthetic.benchmark import main

main()
