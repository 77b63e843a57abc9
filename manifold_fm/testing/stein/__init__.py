"""Test fields of the Stein checks of the prior: bounded generic fields (:mod:`.fields`) and
the coordinate fields along every principal axis in normal coordinates (:mod:`.axes`)."""
