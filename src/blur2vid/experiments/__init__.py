"""Each notebook's experiment: the computation of its paper items as functions of typed configs,
and a ``claims(...)`` that reads the claims off its tables.

==========================  =========================================================
module                      notebook
==========================  =========================================================
:mod:`.formation`           01 blur formation (Jin Eq. 1, Sec. 3)
:mod:`.ambiguity`           02 order ambiguity (Jin Fig. 2, HyperCUT Eq. 2)
:mod:`.jin_losses`          03 Jin's losses (Eq. 4, Eq. 5, Table 1)
:mod:`.jin_training`        04 Jin's cascade trained (Tables 2-3, Figs. 3-5)
:mod:`.ordering`            05 HyperCUT's ordering network (Fig. 1, the ordering table)
:mod:`.hypercut`            06 blur2vid against the order (the pPSNR table, two backbones)
:mod:`.photos`              07 your own photograph (Jin Figs. 1 and 6)
==========================  =========================================================

:mod:`.claims` defines claims (stable ids, kinds, margins) and :mod:`.tables` the scoring the
trained notebooks share.  Training itself lives below, in ``train_jin``, ``train_hypercut`` and
``train_unet``; the papers' numbers in :mod:`blur2vid.published`.
"""
