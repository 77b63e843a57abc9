"""The properties check_space runs, by topic: :mod:`.core` (valid prior draws, exp/log and
projections, the path and its target, the step), :mod:`.dimension` (declared dimension,
tangent basis rank, order of the point error), :mod:`.metric` (distance, loss, batch shapes,
validation errors), :mod:`.prior` (Stein identity, normalisation of the prior density).
"""
