"""Discrete benchmarks: CTMC flow matching on text and on sequence alignments.

``python -m benchmarks.discrete`` runs the text benchmark (:mod:`.text`); the others run
as ``python -m benchmarks.discrete.sequences`` (MSAs), ``.gap`` (the gap to the AR model
against compute) and ``.levers`` (faster-learning levers of the masked text model).
"""
