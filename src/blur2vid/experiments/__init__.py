"""Each notebook's experiment, in a module named after the notebook: the computation of its paper
items as functions of typed configs, and a ``claims(...)`` that reads the claims off its tables.

==============================  =========================================================
module                          notebook
==============================  =========================================================
:mod:`.blur_formation`          01 blur formation (Jin Eq. 1, Sec. 3)
:mod:`.order_ambiguity`         02 order ambiguity (Jin Fig. 2, HyperCUT Eq. 2)
:mod:`.jin_losses`              03 Jin's losses (Eq. 4, Eq. 5, Table 1)
:mod:`.jin_training`            04 Jin's cascade trained (Tables 2-3, Figs. 3-5)
:mod:`.hypercut_ordering`       05 HyperCUT's ordering network (Fig. 1, the ordering table)
:mod:`.hypercut_blur2vid`       06 blur2vid against the order (the pPSNR table, two backbones)
:mod:`.your_own_image`          07 your own photograph (Jin Figs. 1 and 6)
==============================  =========================================================

:mod:`.claims` defines claims (stable ids, kinds, margins), :mod:`.tables` the scoring the
trained notebooks share, :mod:`.intervals` the two-level bootstrap, :mod:`.real` the scores on
real footage.  Training itself lives a floor below, in :mod:`blur2vid.training`; the papers'
numbers in :mod:`blur2vid.core.published`.
"""
