"""``python -m benchmarks.nll``: the Earth benchmark (``python -m benchmarks.nll.earth``)."""

from benchmarks.nll.earth import main

main()
