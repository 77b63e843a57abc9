"""Protein backbone benchmark: FrameNet on SE(3)^N, samples scored beside real chains.

``python -m benchmarks.protein`` runs the benchmark (:mod:`.benchmark`);
``python -m benchmarks.protein.levers`` retrains with one training lever off.
"""
