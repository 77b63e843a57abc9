"""Benchmarks: one package per benchmark, run as ``python -m benchmarks.<package>``.

``common/`` holds what several benchmarks share (the results writer, the timer, budgeted
training, the flow fit of the likelihood benchmarks); results land in benchmarks/results/.
"""
