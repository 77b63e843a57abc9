"""``python -m benchmarks.discrete``: the text benchmark (as ``benchmarks.discrete.text``)."""

from benchmarks.discrete.text import main

main()
