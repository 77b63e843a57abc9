"""What several benchmarks share: results files, the timer, budgets in minutes, flow fits."""
