"""Training losses.  Each docstring names the equation it implements.

Sequences are ``[B, T, C, H, W]`` in ``[0, 1]``; the paper numbers frames ``1..T`` (``T = 7``, middle
``x[4]``), tensors index them ``0..T-1`` (middle at index ``T // 2 = 3``).  Frame indices in the
arguments below are the paper's (1-based) unless said otherwise.

Losses of Jin, Meishvili and Favaro (CVPR 2018), and where the paper uses them:

* :func:`middle_loss` -- Eq. 3 / Table 1 step 1: MSE + :class:`PerceptualLoss` on the middle frame.
* :func:`global_loss` -- Eq. 4 (Sec. 5.1): the ordering-invariant loss on the sum of the non-middle
  frames; the "global" row of the ablation (Fig. 4 b, h).
* :func:`pair_loss` / :func:`pair_losses` -- Eq. 5 (Sec. 5.2): the pairwise ordering-invariant loss
  on the sum and the absolute difference of each symmetric pair; Fig. 4 c, d, i, j.
* :func:`independent_loss` -- Sec. 7, "Independent Frame Reconstruction" (Fig. 4 a, g): the per-frame
  squared error against the order the data gives.  Not ordering-invariant.
* :func:`choose_order`, :func:`order_targets`, :func:`sequential_loss` -- Sec. 5.3 and Table 1: the
  sequential pairwise procedure (Fig. 4 e, k; with teacher forcing, Fig. 4 l).
* the adversarial term ``L_adv`` of Table 1 is :func:`blur2vid.models.discriminator.adversarial_losses`
  (re-exported here).

And HyperCUT's (CVPR 2023) baseline :func:`naive_loss` (Eq. 2).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from blur2vid.models.discriminator import PatchDiscriminator, adversarial_losses
from blur2vid.models.vgg import VGG16_ENV_VAR, VGG16Features, load_vgg16_features

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


def _check_same(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


def _check_sequence(pred_seq: torch.Tensor, target_seq: torch.Tensor) -> int:
    """Both ``[B, T, C, H, W]`` with the same shape and odd ``T``; returns ``T``."""
    _check_same(pred_seq, target_seq)
    if pred_seq.ndim != 5:
        raise ValueError(f"expected sequences [B, T, C, H, W], got shape {tuple(pred_seq.shape)}")
    t = pred_seq.shape[1]
    if t % 2 != 1:
        raise ValueError(f"the Jin losses need an odd number of frames (a unique middle), got T = {t}")
    return t


# --------------------------------------------------------------------------------------------------
# HyperCUT
# --------------------------------------------------------------------------------------------------


def naive_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """HyperCUT Eq. 2: the per-frame squared error ``sum_k ||f_k(y) - x_k||^2`` (averaged over pixels
    and frames), with the target taken in whatever order the data gives.  When the order is random,
    its minimiser for frame k is the mean of the frames that can sit at position k."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return torch.mean((pred - target) ** 2)


# --------------------------------------------------------------------------------------------------
# Perceptual loss (Jin Eq. 3, Johnson et al. [16])
# --------------------------------------------------------------------------------------------------


class MissingVGGWeightsWarning(UserWarning):
    """No VGG16 weights were given: :class:`PerceptualLoss` uses its fallback."""


_WARNED_NO_VGG = False
"""Set once the missing-weights warning has been given (it is given once per process)."""

Fallback = Literal["gradient", "none"]
_FALLBACKS = ("gradient", "none")


def _warn_no_vgg(fallback: str) -> None:
    global _WARNED_NO_VGG
    if _WARNED_NO_VGG:
        return
    _WARNED_NO_VGG = True
    what = (
        "a squared loss on image gradients (an edge-sharpness surrogate)"
        if fallback == "gradient"
        else "nothing (the perceptual term is 0)"
    )
    warnings.warn(
        "PerceptualLoss: no VGG16 weights, so the perceptual term of Jin Eq. 3 is replaced by "
        f"{what} (fallback={fallback!r}). To use the real perceptual loss, pass weights_path= a "
        f"torchvision-format vgg16 state dict (e.g. vgg16-397923af.pth) or set the environment "
        f"variable {VGG16_ENV_VAR}. This warning is shown once per process.",
        MissingVGGWeightsWarning,
        stacklevel=3,
    )


def _flatten_images(x: torch.Tensor) -> torch.Tensor:
    if x.ndim < 3:
        raise ValueError(f"expected images [..., C, H, W], got shape {tuple(x.shape)}")
    if x.ndim == 3:
        return x.unsqueeze(0)
    return x.reshape(-1, *x.shape[-3:])


def gradient_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The feature-reconstruction loss of Johnson et al. with the finite-difference image gradients
    as the (fixed, linear) feature map::

        mean (d_x pred - d_x target)^2 + mean (d_y pred - d_y target)^2

    with ``d_x u = u[..., :, 1:] - u[..., :, :-1]`` (and ``d_y`` along rows).  Not in the paper: it is
    the stand-in for the VGG16 term used by :class:`PerceptualLoss` when no VGG16 weights are
    available.  Like the perceptual term it is a squared L2 distance of features normalised by their
    size, so it has the scale of the pixel MSE beside it in Eq. 3, and like VGG features it penalises
    blurred or displaced edges more than the pixel MSE does.  (An L1 form of this term outweighs the
    MSE by an order of magnitude: on 64 px scenes the middle network reached 24.05 dB after 400 steps
    with it, 24.28 dB with this form and 24.30 dB with the MSE alone.)  Zero iff the two images differ by a constant (per channel).
    """
    _check_same(pred, target)
    d = pred - target
    dx = d[..., :, 1:] - d[..., :, :-1]
    dy = d[..., 1:, :] - d[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class PerceptualLoss(nn.Module):
    """The perceptual loss of Jin Eq. 3: Johnson et al.'s [16] feature reconstruction loss on the
    ``relu2_2`` and ``relu3_3`` layers of VGG16 (Jin Sec. 5)::

        L_perceptual(x_hat, x) = sum_{j in {relu2_2, relu3_3}} ||phi_j(x_hat) - phi_j(x)||_2^2 / (C_j H_j W_j)

    i.e. the squared L2 distance of the feature maps normalised by their size (a mean squared error
    per layer; Johnson et al. Sec. 3.2), the two layers summed with equal weights, averaged over the
    batch.  Inputs are images ``[..., C, H, W]`` in ``[0, 1]`` (any leading dimensions).

    Weights: ``vgg=`` an already built :class:`~blur2vid.models.vgg.VGG16Features`, else
    ``weights_path=`` a torchvision-format ``vgg16`` state dict, else the file named by the
    environment variable ``BLUR2VID_VGG16``.  An explicit path or variable that does not hold valid
    weights is an error (:class:`~blur2vid.models.vgg.VGGWeightsError`).

    Without any weights it warns once per process (:class:`MissingVGGWeightsWarning`) and uses
    ``fallback``:

    * ``"gradient"`` (default): :func:`gradient_loss`, a squared loss on image gradients -- keeps a term
      that rewards sharp, well-placed edges, which is what the perceptual term is for;
    * ``"none"``: the term is 0 and Eq. 3 reduces to the MSE.

    :attr:`mode` says which one is in use (``"vgg"``, ``"gradient"`` or ``"none"``).
    """

    def __init__(
        self,
        weights_path: str | Path | None = None,
        fallback: Fallback = "gradient",
        *,
        vgg: VGG16Features | None = None,
    ):
        super().__init__()
        if fallback not in _FALLBACKS:
            raise ValueError(f"fallback must be one of {_FALLBACKS}, got {fallback!r}")
        self.fallback = fallback
        if vgg is None:
            vgg = load_vgg16_features(weights_path)
        self.vgg: VGG16Features | None = vgg.freeze() if vgg is not None else None
        if self.vgg is None:
            _warn_no_vgg(fallback)

    @property
    def mode(self) -> str:
        return "vgg" if self.vgg is not None else self.fallback

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_same(pred, target)
        if self.vgg is None:
            if self.fallback == "gradient":
                return gradient_loss(pred, target)
            return pred.new_zeros(())
        p, t = _flatten_images(pred), _flatten_images(target)
        first = next(self.vgg.parameters())
        if first.device != p.device:
            self.vgg.to(p.device)
        fp = self.vgg(p)
        with torch.no_grad():
            ft = self.vgg(t)
        return sum((F.mse_loss(a, b) for a, b in zip(fp, ft, strict=True)), pred.new_zeros(()))


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
    _check_same(pred, target)
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
    _check_same(pred_a, pred_b)
    _check_same(target_a, target_b)
    _check_same(pred_a, target_a)
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
    :func:`naive_loss`.  ``norm="l1"`` uses the mean absolute error instead (the per-frame L1 that
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
    if target_seq.ndim != 5:
        raise ValueError(f"target_seq must be [B, T, C, H, W], got shape {tuple(target_seq.shape)}")
    m = target_seq.shape[1] // 2
    x3, x5 = target_seq[:, m - 1], target_seq[:, m + 1]
    _check_same(pred3, x3)
    _check_same(pred5, x5)
    with torch.no_grad():
        dims = tuple(range(1, pred3.ndim))
        forward = (pred3 - x3).abs().mean(dims) + (pred5 - x5).abs().mean(dims)
        reverse = (pred3 - x5).abs().mean(dims) + (pred5 - x3).abs().mean(dims)
    return reverse < forward


def order_targets(target_seq: torch.Tensor, reverse_mask: torch.Tensor) -> torch.Tensor:
    """``target_seq`` (``[B, T, ...]``) with the sequences of the samples where ``reverse_mask``
    (bool ``[B]``) is True reversed in time.  An involution: applying it twice gives the input."""
    if reverse_mask.shape != target_seq.shape[:1]:
        raise ValueError(f"reverse_mask must have shape [{target_seq.shape[0]}], got {tuple(reverse_mask.shape)}")
    mask = reverse_mask.to(torch.bool).view(-1, *([1] * (target_seq.ndim - 1)))
    return torch.where(mask, target_seq.flip(1), target_seq)


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


def multiscale_loss(estimates: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """The multi-scale content loss of Nah et al. (CVPR 2017), the baseline of Jin Table 2: the mean
    over the K levels of the per-pixel squared error between each level's estimate and the sharp
    image downsampled to that level (coarsest first, as ``NahMultiScale(..., return_all=True)``)."""
    if len(estimates) != len(targets) or not estimates:
        raise ValueError(f"need one target per level, got {len(estimates)} estimates and {len(targets)} targets")
    return sum(torch.mean((e - t) ** 2) for e, t in zip(estimates, targets, strict=True)) / len(estimates)


# ----------------------------------------------------------------------------------------------
# HyperCUT (Pham et al., CVPR 2023): the ordering losses of the network H and its regulariser
# ----------------------------------------------------------------------------------------------


def standardize_scores(score_fwd: torch.Tensor, score_rev: torch.Tensor, eps: float = 1e-12
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``((h_f - m) / sd, (h_r - m) / sd, m^2)``: the scores standardised by the mean ``m`` and
    standard deviation ``sd`` of all of them together (forward and reversed: a batch that holds
    every sequence both ways, so ``m`` is the mean of the even part), and the squared offset.
    Gradients flow through ``m`` and ``sd``; the standardised scores are invariant to rescaling."""
    if score_fwd.shape != score_rev.shape:
        raise ValueError(f"score shapes differ: {tuple(score_fwd.shape)} vs {tuple(score_rev.shape)}")
    both = torch.cat([score_fwd.reshape(-1), score_rev.reshape(-1)])
    m = both.mean()
    var = (both - m).square().mean() + eps
    sd = var.sqrt()
    return (score_fwd - m) / sd, (score_rev - m) / sd, m.square()


def ordering_loss(score_fwd: torch.Tensor, score_rev: torch.Tensor, *, normalize: bool = False,
                  temperature: float = 1.0) -> torch.Tensor:
    """HyperCUT's ordering loss: ``mean softplus(h(s) * h(reverse s))``, small when each sequence
    and its reverse lie on opposite sides of the hyperplane (product very negative).

    ``normalize=False`` (default) is the paper / public-code form.  It has a trap: ``h(s) = h(rev s)
    = 0`` is a stationary point (the gradient ``sigmoid(ab) * (b, a)`` vanishes there), and a generic
    embedding, which starts unable to tell ``s`` from its reverse (``h(s) ~ h(rev s)``, product
    ``> 0``), lowers the loss fastest by shrinking every score toward the plane.  Writing
    ``h(s) = e + o`` and ``h(rev s) = e - o`` (even and odd parts), the product is ``e^2 - o^2``: the
    loss wants ``|o|`` large and ``e`` small, and shrinking everything gets it most of the way to
    ``log 2``.  A prototype measured Hit ~ 0.1 with ``|h| ~ 0.05`` after 600 steps.  Rescaling by
    the RMS alone does not help (a constant output is stationary too), nor does a hinge with a
    margin (the loss is still flat at ``0``).

    ``normalize=True`` standardises the scores by the batch (:func:`standardize_scores`: minus their
    joint mean ``m``, over their joint standard deviation), takes ``softplus(temperature * z_f * z_r)``
    and adds ``m^2`` (the standardised product is blind to a common offset, but the sign of the raw
    score is what orders a sequence, so the offset must go).  The product term is invariant to the
    scale of the scores, so shrinking toward the plane no longer pays; the way down is to grow the
    odd part relative to the even one.

    Which to use: experiments should order with the **antisymmetric** embedding (``HyperCUTConfig(
    antisymmetric=True)``, plane offset ``b = 0``): Hit = 1 by construction, and either form of this
    loss then only widens the margin (the plain form is the paper's and the default).  A generic
    embedding (an ablation) should be trained with ``normalize=True``, which helps but does not
    solve it.  Measured with :func:`blur2vid.train_hypercut.train_ordering` on 16 x 16 scenes (pair
    mode, width 8, depth 2, d = 16, batch 16, Adamax lr 5e-4, nested weight 1), held-out Hit over
    256 sequences, seeds 0 / 1: after 150 steps plain 0.03 / 0.00, normalised 0.00 / 0.70; after 600
    steps plain 0.00 / 0.60, normalised 0.42 / 0.70; antisymmetric 1.00 / 1.00 from step 0 with
    either form.
    """
    if normalize:
        z_f, z_r, offset = standardize_scores(score_fwd, score_rev)
        return F.softplus(temperature * z_f * z_r).mean() + offset
    if score_fwd.shape != score_rev.shape:
        raise ValueError(f"score shapes differ: {tuple(score_fwd.shape)} vs {tuple(score_rev.shape)}")
    return F.softplus(score_fwd * score_rev).mean()


def nested_consistency_loss(score_pair_a: torch.Tensor, score_pair_b: torch.Tensor) -> torch.Tensor:
    """The public code's second HyperCUT term: ``mean softplus(-h(p_a) * h(p_b))`` for two nested
    symmetric pairs ``p_a = (x_i, x_{T+1-i})``, ``p_b = (x_j, x_{T+1-j})`` of the same sequence,
    small when both lie on the same side (so the pairs of one sequence agree on its order).

    It rewards large same-side scores without bound, so next to a normalised ordering loss it must
    see the same standardised scores (the ``z`` of :func:`standardize_scores`, times
    ``sqrt(temperature)``), or it wins by putting every sequence, and its reverse, on one side."""
    if score_pair_a.shape != score_pair_b.shape:
        raise ValueError(f"score shapes differ: {tuple(score_pair_a.shape)} vs {tuple(score_pair_b.shape)}")
    return F.softplus(-score_pair_a * score_pair_b).mean()


def hypercut_regulariser(hypercut: nn.Module, pred_pair: torch.Tensor, weight: float = 0.2,
                         side: int = 1, pairs: Literal["all", "outer"] = "all") -> torch.Tensor:
    """HyperCUT's regulariser on a blur2vid network's output: ``weight * softplus(-side * h(pred))``,
    pushing the predicted sequence to the ``side`` of the hyperplane that the targets were ordered to.

    ``pred_pair``: ``[B, T, C, H, W]`` predicted frames.  With a pair-mode ``hypercut`` the term is
    summed over every symmetric pair (``pairs="all"``; the whole input if ``T = 2``), as in the public
    code, whose networks predict one pair at a time and regularise each; ``pairs="outer"`` takes the
    outermost pair alone, the one whose side defines the canonical order
    (:func:`blur2vid.ordering.canonical_order`), for a third of the cost on 7 frames.  With a
    sequence-mode ``hypercut`` it is the score of the whole sequence.  Averaged over the batch.

    Sign convention: :func:`blur2vid.ordering.canonical_order` keeps sequences with ``h >= 0`` and
    reverses the others, so canonical targets lie on the positive side and the default ``side=+1``
    gives ``softplus(-h)``.  The public code writes ``softplus(+h)`` next to its order-invariant loss
    (no target reversal there), pushing predictions to the negative side: ``side=-1`` here.  Which
    side is immaterial to the idea (predictions made to fall on one side consistently); with the
    antisymmetric embedding and ``b = 0`` the two are mirror images.  ``hypercut``'s own
    parameters are the caller's to freeze (``requires_grad_(False)``); gradients reach ``pred_pair``.
    """
    if side not in (1, -1):
        raise ValueError(f"side must be +1 or -1, got {side!r}")
    if pairs not in ("all", "outer"):
        raise ValueError(f"pairs must be 'all' or 'outer', got {pairs!r}")
    if getattr(hypercut, "mode", "sequence") == "pair" and pairs == "all":
        scores = hypercut.pair_scores(pred_pair)  # [B, T // 2]
        term = F.softplus(-side * scores).sum(dim=1)
    else:
        term = F.softplus(-side * hypercut.score(pred_pair))
    return weight * term.mean()
