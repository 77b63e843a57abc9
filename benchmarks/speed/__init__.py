"""Speed benchmark: manifold-fm against its peers, one module of rows per topic.

``python -m benchmarks.speed`` gathers the rows of every topic (:mod:`.benchmark`);
``python -m benchmarks.speed.nfe_equal_quality`` adds the NFE-for-equal-quality row and
``python -m benchmarks.speed.gpu_check`` checks the library on a CUDA GPU (CUDA rows).
"""
