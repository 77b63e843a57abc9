"""Benchmarks: one script per benchmark; results land in benchmarks/results/."""
