"""Test-NLL benchmarks on manifolds: Earth (S^2) and torus (T^d) under one protocol.

``python -m benchmarks.nll`` runs the Earth benchmark (:mod:`.earth`); the others run as
``python -m benchmarks.nll.torus``, ``.levers`` (one training lever on validation NLL)
and ``.curves`` (learning curves from the committed results).
"""
