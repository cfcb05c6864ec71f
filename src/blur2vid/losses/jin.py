"""The losses of Jin, Meishvili and Favaro (CVPR 2018): Eq. 3, 4, 5, the independent baseline and
the sequential procedure of Table 1.

Frame indices in the arguments are the paper's (1-based: ``1..T``, middle ``T // 2 + 1``) unless
said otherwise; tensors index them ``0..T-1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from blur2vid.core.tensors import reverse_where
from blur2vid.losses._shapes import check_same
from blur2vid.losses.perceptual import PerceptualLoss

__all__ = [
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
]


def _check_sequence(pred_seq: torch.Tensor, target_seq: torch.Tensor) -> int:
    """Both ``[B, T, C, H, W]`` with the same shape and odd ``T``; returns ``T``."""
    check_same(pred_seq, target_seq)
    if pred_seq.ndim != 5:
        raise ValueError(f"expected sequences [B, T, C, H, W], got shape {tuple(pred_seq.shape)}")
    t = pred_seq.shape[1]
    if t % 2 != 1:
        raise ValueError(f"the Jin losses need an odd number of frames (a unique middle), got T = {t}")
    return t


def middle_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    perceptual: PerceptualLoss | None = None,
    weight: float = 1.0,
) -> torch.Tensor:
    """Jin Eq. 3 (Table 1 step 1): ``|x_hat[4] - x[4]|^2 + L_perceptual(x_hat[4], x[4])``.

    The first term is the mean squared error over pixels; the second is ``weight`` times
    ``perceptual(pred, target)`` (the paper gives no weight: 1).  ``perceptual=None`` leaves out the
    second term.  ``pred`` and ``target``: ``[B, C, H, W]`` or ``[B, 1, C, H, W]`` (a stage output).
    """
    check_same(pred, target)
    loss = F.mse_loss(pred, target)
    if perceptual is not None and weight != 0:
        loss = loss + weight * perceptual(pred, target)
    return loss


# --------------------------------------------------------------------------------------------------
# Ordering-invariant losses (Jin Sec. 5.1, 5.2)
# --------------------------------------------------------------------------------------------------


def global_loss(pred_seq: torch.Tensor, target_seq: torch.Tensor) -> torch.Tensor:
    """Jin Eq. 4, the globally ordering-invariant loss (Sec. 5.1)::

        L_model = | sum_{i != 4} x_hat[i] - sum_{i != 4} x[i] |_1

    the sum over all frames but the middle one (index ``T // 2``; the middle frame of ``pred_seq``
    is ignored), then the L1 norm averaged over pixels (batch, channels, height, width).  Invariant
    to any permutation of the non-middle frames of either sequence -- in particular to reversal --
    and even to exchanging values between frames pixel by pixel.
    """
    t = _check_sequence(pred_seq, target_seq)
    keep = [i for i in range(t) if i != t // 2]
    return (pred_seq[:, keep].sum(1) - target_seq[:, keep].sum(1)).abs().mean()


def pair_loss(
    pred_a: torch.Tensor, pred_b: torch.Tensor, target_a: torch.Tensor, target_b: torch.Tensor
) -> torch.Tensor:
    """Jin Eq. 5 for one symmetric pair ``(a, b) = (i, 8 - i)``, with its absolute-value bars restored::

        | |x_hat[a] + x_hat[b]| - |x[a] + x[b]| |_1 + | |x_hat[a] - x_hat[b]| - |x[a] - x[b]| |_1

    (each L1 norm averaged over pixels).  As printed, Eq. 5 compares the *signed* difference
    ``x_hat[a] - x_hat[b]`` with ``|x[a] - x[b]|``, which would not be ordering-invariant; Sec. 5.2
    and Fig. 2 (g-j) say the targets are the sum (average) and the absolute difference of the pair,
    so both sides get the bars.  Images are non-negative, so ``|x_hat[a] + x_hat[b]|`` is just the
    sum.  The loss is unchanged when ``a`` and ``b`` are swapped -- as whole frames, and also pixel
    by pixel (any per-pixel choice of which frame holds which value), which is why networks trained
    with it can mix the two frames locally (the artifacts of Fig. 4 c, d).
    """
    check_same(pred_a, pred_b)
    check_same(target_a, target_b)
    check_same(pred_a, target_a)
    total = ((pred_a + pred_b) - (target_a + target_b)).abs().mean()
    diff = ((pred_a - pred_b).abs() - (target_a - target_b).abs()).abs().mean()
    return total + diff


def symmetric_pairs(t: int) -> list[tuple[int, int]]:
    """The symmetric pairs ``(i, T + 1 - i)`` of a ``T``-frame sequence, 1-based, outermost first:
    ``[(1, 7), (2, 6), (3, 5)]`` for ``T = 7``."""
    return [(i, t + 1 - i) for i in range(1, t // 2 + 1)]


def pair_losses(
    pred_seq: torch.Tensor,
    target_seq: torch.Tensor,
    pairs: Sequence[tuple[int, int]] | None = None,
) -> torch.Tensor:
    """Jin Eq. 5 (Sec. 5.2): the sum of :func:`pair_loss` over the symmetric pairs ``(i, 8 - i)``,
    ``i = 1, 2, 3`` -- i.e. ``(1, 7), (2, 6), (3, 5)`` -- or over ``pairs`` (1-based frame indices).
    Invariant to reversing either sequence (and to swapping any pair, whole or pixel by pixel).
    """
    t = _check_sequence(pred_seq, target_seq)
    pairs = symmetric_pairs(t) if pairs is None else list(pairs)
    if not pairs:
        raise ValueError("no pairs given")
    total = pred_seq.new_zeros(())
    for a, b in pairs:
        if not (1 <= a <= t and 1 <= b <= t) or a == b:
            raise ValueError(f"pair ({a}, {b}) is not two distinct frames in 1..{t}")
        total = total + pair_loss(pred_seq[:, a - 1], pred_seq[:, b - 1], target_seq[:, a - 1], target_seq[:, b - 1])
    return total


def independent_loss(
    pred_seq: torch.Tensor,
    target_seq: torch.Tensor,
    frames: Sequence[int] | None = None,
    norm: Literal["l2", "l1"] = "l2",
) -> torch.Tensor:
    """Jin Sec. 7, "Independent Frame Reconstruction" (Fig. 4 a, g)::

        L_indep = sum_{i=1}^{T} |phi_i(y) - x[i]|^2

    every frame against the frame at the same position of the target *in the order the data gives*
    -- as if each frame had its own network trained on its own; nothing lets a network choose the
    temporal direction, so away from the middle the minimiser is the average of the frames that can
    sit there (blur).  Each term is the mean squared error over pixels of one frame, summed over the
    frames (all of them, or the 1-based ``frames``), so with all frames it equals ``T *``
    :func:`~blur2vid.losses.hypercut.naive_loss`.  ``norm="l1"`` uses the mean absolute error instead (the per-frame L1 that
    :func:`sequential_loss` uses against consistently ordered targets).  Not ordering-invariant.
    """
    t = _check_sequence(pred_seq, target_seq)
    if norm not in ("l2", "l1"):
        raise ValueError(f"norm must be 'l2' or 'l1', got {norm!r}")
    idx = list(range(t)) if frames is None else [i - 1 for i in frames]
    if not idx or any(not 0 <= i < t for i in idx):
        raise ValueError(f"frames must be a non-empty list of indices in 1..{t}, got {frames}")
    d = pred_seq[:, idx] - target_seq[:, idx]
    per_pixel = d**2 if norm == "l2" else d.abs()
    return per_pixel.mean(dim=(0, 2, 3, 4)).sum()


# --------------------------------------------------------------------------------------------------
# The sequential pairwise procedure (Jin Sec. 5.3, Table 1)
# --------------------------------------------------------------------------------------------------


def choose_order(pred3: torch.Tensor, pred5: torch.Tensor, target_seq: torch.Tensor) -> torch.Tensor:
    """Which temporal direction the core pair chose, per sample: a bool mask ``[B]``, True = reverse.

    ``pred3``/``pred5`` (``[B, C, H, W]``) are the outputs of ``phi_3`` and ``phi_5`` (frames
    ``T//2`` and ``T//2 + 2`` in the paper's numbering: 3 and 5 for ``T = 7``), ``target_seq`` the
    ground truth ``[B, T, C, H, W]`` in the data's order.  The forward assignment costs
    ``|x_hat3 - x3|_1 + |x_hat5 - x5|_1``, the reversed one ``|x_hat3 - x5|_1 + |x_hat5 - x3|_1``
    (means over the sample's pixels); a sample is reversed when the reversed cost is strictly
    lower (ties keep the data's order).  Computed without gradient.
    """
    with torch.no_grad():
        forward, reverse = _assignment_costs(pred3, pred5, target_seq, power=1)
    return reverse < forward


def _assignment_costs(pred3: torch.Tensor, pred5: torch.Tensor, target_seq: torch.Tensor, power: int
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the cost of the core pair in the data's order and reversed: the mean over the
    sample's pixels of ``|x_hat3 - x3|^p + |x_hat5 - x5|^p``, and with ``x3`` and ``x5`` exchanged."""
    if target_seq.ndim != 5:
        raise ValueError(f"target_seq must be [B, T, C, H, W], got shape {tuple(target_seq.shape)}")
    m = target_seq.shape[1] // 2
    x3, x5 = target_seq[:, m - 1], target_seq[:, m + 1]
    check_same(pred3, x3)
    check_same(pred5, x5)
    dims = tuple(range(1, pred3.ndim))

    def cost(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((pred3 - a).abs() ** power).mean(dims) + ((pred5 - b).abs() ** power).mean(dims)

    return cost(x3, x5), cost(x5, x3)


def best_order_pair_loss(pred3: torch.Tensor, pred5: torch.Tensor, target_seq: torch.Tensor) -> torch.Tensor:
    """The core pair's per-frame MSE against the ground truth in whichever of the two orders is
    nearer, chosen per sample: ``mean_b min(|x_hat3 - x3|^2 + |x_hat5 - x5|^2, |x_hat3 - x5|^2 + |x_hat5 - x3|^2)``
    (each squared norm a mean over the sample's pixels).

    Ours, not the paper's: the symmetry breaker of step 2 at small scale
    (:attr:`~blur2vid.training.cascade.JinTrainConfig.core_warmup`).  Like Eq. 5 it is invariant to
    reversing the sequence, so the network still chooses the direction, but it chooses it for the
    whole image: Eq. 5 is also blind to swapping the pair pixel by pixel, and at zero initialisation
    (``x_hat3 = x_hat5``) its ``|x_hat3 - x_hat5|`` term has no gradient, so the direction each pixel
    grows in is noise."""
    forward, reverse = _assignment_costs(pred3, pred5, target_seq, power=2)
    return torch.minimum(forward, reverse).mean()


def order_targets(target_seq: torch.Tensor, reverse_mask: torch.Tensor) -> torch.Tensor:
    """``target_seq`` (``[B, T, ...]``) with the sequences of the samples where ``reverse_mask``
    (bool ``[B]``) is True reversed in time.  An involution: applying it twice gives the input."""
    if reverse_mask.shape != target_seq.shape[:1]:
        raise ValueError(f"reverse_mask must have shape [{target_seq.shape[0]}], got {tuple(reverse_mask.shape)}")
    return reverse_where(target_seq, reverse_mask)


@dataclass
class SequentialLoss:
    """What :func:`sequential_loss` returns: ``total`` (the sum of ``terms``), the per-stage terms
    (keys among ``"middle"``, ``"3_5"``, ``"2_6"``, ``"1_7"``) and the per-sample ``reverse`` mask
    that ordered the targets of the outer stages."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor]
    reverse: torch.Tensor


def _stage_frames(name: str, t: int) -> tuple[int, ...]:
    if name == "middle":
        return (t // 2 + 1,)
    try:
        a, b = (int(s) for s in name.split("_"))
    except ValueError:
        raise ValueError(f"unknown stage {name!r}: expected 'middle' or 'i_j' (e.g. '3_5')") from None
    if not (1 <= a <= t and 1 <= b <= t and a + b == t + 1 and a < b):
        raise ValueError(f"stage {name!r} is not a symmetric pair of a {t}-frame sequence")
    return (a, b)


def sequential_loss(
    preds: Mapping[str, torch.Tensor],
    target_seq: torch.Tensor,
    perceptual: PerceptualLoss | None = None,
    outer: Literal["ordered", "pair"] = "ordered",
    reverse: torch.Tensor | None = None,
) -> SequentialLoss:
    """The reconstruction losses of Jin Table 1 (Sec. 5.3, "Learning a Temporal Direction").

    ``preds`` maps stage names to their frames, as ``JinCascade(..., return_stages=True)`` gives
    them: ``"middle"`` ``[B, 1, C, H, W]``, ``"3_5"``, ``"2_6"``, ``"1_7"`` ``[B, 2, C, H, W]`` (lower
    frame first); any subset may be given.  ``target_seq`` is the ground truth ``[B, T, C, H, W]`` in
    the data's order.  Terms:

    * ``"middle"`` -- Table 1 step 1: :func:`middle_loss` (Eq. 3) with ``perceptual``;
    * ``"3_5"`` -- Table 1 step 2: :func:`pair_loss` of the core pair (Eq. 5), ordering-invariant, so
      ``phi_3`` may output either ``x[3]`` or ``x[5]`` (``phi_5``, which sees ``x_hat[3]``, then
      outputs the other);
    * ``"2_6"``, ``"1_7"`` -- Table 1 step 3.  "We sequentially train our networks and use the outputs
      of the previous networks to determine the ordering for each data sample": :func:`choose_order`
      reads the direction the core pair chose from ``preds["3_5"]`` (or takes ``reverse``), the
      targets of that sample are reversed when ``x_hat[3]`` matches ``x[5]`` better
      (:func:`order_targets`), and with ``outer="ordered"`` (default) each outer frame gets an
      ordinary per-frame L1 loss against these consistently ordered targets.  Table 1 writes pair
      losses here, with the pairs ``(1, 6)`` and ``(2, 7)`` -- a typo for ``(1, 7)`` and ``(2, 6)``: a
      pair loss over non-symmetric frames would not be ordering-invariant.  ``outer="pair"`` is
      that literal reading with the pairs corrected (Eq. 5 on ``(2, 6)`` and ``(1, 7)``; the order
      is then left to the networks' conditioning on ``x_hat[3], x_hat[5]``), i.e. the
      "pairwise" scheme of Fig. 4 d, j for the outer frames.

    The adversarial terms ``L_adv^i`` of Table 1 are not included: add
    :func:`~blur2vid.models.discriminator.adversarial_losses` per frame.  Teacher forcing (Sec. 7) is
    a matter of what the cascade is given; when ``"3_5"`` holds ground-truth frames the order found
    is the data's.  Outer stages without ``"3_5"`` need ``reverse``.
    """
    if target_seq.ndim != 5:
        raise ValueError(f"target_seq must be [B, T, C, H, W], got shape {tuple(target_seq.shape)}")
    if outer not in ("ordered", "pair"):
        raise ValueError(f"outer must be 'ordered' or 'pair', got {outer!r}")
    t = target_seq.shape[1]
    if t % 2 != 1 or t < 3:
        raise ValueError(f"need an odd number of frames >= 3, got T = {t}")
    core = f"{t // 2}_{t // 2 + 2}"
    frames = {name: _stage_frames(name, t) for name in preds}
    for name, x in preds.items():
        expected = (target_seq.shape[0], len(frames[name]), *target_seq.shape[2:])
        if tuple(x.shape) != expected:
            raise ValueError(f"stage {name!r} has shape {tuple(x.shape)}, expected {expected}")

    if reverse is None:
        if core in preds:
            reverse = choose_order(preds[core][:, 0], preds[core][:, 1], target_seq)
        elif any(name not in ("middle",) for name in preds):
            raise ValueError(f"outer stages need the core stage {core!r} in preds, or reverse=")
        else:
            reverse = torch.zeros(target_seq.shape[0], dtype=torch.bool, device=target_seq.device)
    ordered = order_targets(target_seq, reverse)

    terms: dict[str, torch.Tensor] = {}
    for name, x in preds.items():
        idx = frames[name]
        if name == "middle":
            terms[name] = middle_loss(x[:, 0], target_seq[:, idx[0] - 1], perceptual)
        elif name == core or outer == "pair":
            a, b = idx
            terms[name] = pair_loss(x[:, 0], x[:, 1], target_seq[:, a - 1], target_seq[:, b - 1])
        else:
            tgt = ordered[:, [i - 1 for i in idx]]
            terms[name] = (x - tgt).abs().mean(dim=(0, 2, 3, 4)).sum()
    total = sum(terms.values(), target_seq.new_zeros(()))
    return SequentialLoss(total=total, terms=terms, reverse=reverse)
