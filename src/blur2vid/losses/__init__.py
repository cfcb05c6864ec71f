"""Training losses.  Each docstring names the equation it implements.

Sequences are ``[B, T, C, H, W]`` in ``[0, 1]``; the paper numbers frames ``1..T`` (``T = 7``, middle
``x[4]``), tensors index them ``0..T-1`` (middle at index ``T // 2 = 3``).  Frame indices in the
arguments are the paper's (1-based) unless said otherwise.

Losses of Jin, Meishvili and Favaro (CVPR 2018), in :mod:`blur2vid.losses.jin`, and where the paper
uses them:

* :func:`middle_loss` -- Eq. 3 / Table 1 step 1: MSE + :class:`PerceptualLoss`
  (:mod:`blur2vid.losses.perceptual`) on the middle frame.
* :func:`global_loss` -- Eq. 4 (Sec. 5.1): the ordering-invariant loss on the sum of the non-middle
  frames; the "global" row of the ablation (Fig. 4 b, h).
* :func:`pair_loss` / :func:`pair_losses` -- Eq. 5 (Sec. 5.2): the pairwise ordering-invariant loss
  on the sum and the absolute difference of each symmetric pair; Fig. 4 c, d, i, j.
* :func:`independent_loss` -- Sec. 7, "Independent Frame Reconstruction" (Fig. 4 a, g): the per-frame
  squared error against the order the data gives.  Not ordering-invariant.
* :func:`choose_order`, :func:`order_targets`, :func:`sequential_loss` -- Sec. 5.3 and Table 1: the
  sequential pairwise procedure (Fig. 4 e, k; with teacher forcing, Fig. 4 l).
* the adversarial term ``L_adv`` of Table 1 is :func:`blur2vid.models.discriminator.adversarial_losses`
  (re-exported here, with :class:`~blur2vid.models.discriminator.PatchDiscriminator`).
* :func:`multiscale_loss` (:mod:`blur2vid.losses.multiscale`) -- Nah et al.'s loss, the baseline of
  Table 2.

HyperCUT's (CVPR 2023), in :mod:`blur2vid.losses.hypercut`: the baseline :func:`naive_loss` (Eq. 2),
the ordering losses of the network H (:func:`ordering_loss`, :func:`nested_consistency_loss`,
:func:`standardize_scores`) and :func:`hypercut_regulariser`.
"""

from blur2vid.losses.hypercut import (
    hypercut_regulariser,
    naive_loss,
    nested_consistency_loss,
    ordering_loss,
    standardize_scores,
)
from blur2vid.losses.jin import (
    SequentialLoss,
    best_order_pair_loss,
    choose_order,
    global_loss,
    independent_loss,
    middle_loss,
    order_targets,
    pair_loss,
    pair_losses,
    sequential_loss,
    symmetric_pairs,
)
from blur2vid.losses.multiscale import multiscale_loss
from blur2vid.losses.perceptual import MissingVGGWeightsWarning, PerceptualLoss, gradient_loss
from blur2vid.models.discriminator import PatchDiscriminator, adversarial_losses

__all__ = [
    "multiscale_loss",
    "naive_loss",
    "MissingVGGWeightsWarning",
    "PerceptualLoss",
    "gradient_loss",
    "middle_loss",
    "global_loss",
    "pair_loss",
    "pair_losses",
    "symmetric_pairs",
    "independent_loss",
    "choose_order",
    "best_order_pair_loss",
    "order_targets",
    "sequential_loss",
    "SequentialLoss",
    "PatchDiscriminator",
    "adversarial_losses",
    "standardize_scores",
    "ordering_loss",
    "nested_consistency_loss",
    "hypercut_regulariser",
]
