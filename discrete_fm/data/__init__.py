"""The token data sets of the discrete benchmarks: a text corpus (:mod:`.text`) and
multiple sequence alignments (:mod:`.msa`), as token-id tensors."""
