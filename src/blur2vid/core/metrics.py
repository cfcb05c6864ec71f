"""Image and sequence quality: PSNR, SSIM and the order-invariant pPSNR.

Because a blur does not reveal the direction of time (Jin Sec. 4), a predicted sequence is scored
against the ground truth in whichever order suits it best.  Two definitions are in use:

* sequence level (HyperCUT's evaluation code): pick, per sample, the direction of the *prediction*
  (as predicted, or reversed) with the higher mean PSNR over the whole sequence, and score it in
  that direction;
* pair level (HyperCUT's README): for each symmetric pair ``(k, T+1-k)`` pick the better of the two
  assignments independently.

Either way it is the prediction that is reversed, never the ground truth, as in HyperCUT's
evaluation: column ``F_k`` always scores ground-truth frame ``k`` (against predicted frame ``k`` or
``T+1-k``).  Reversing the target instead gives the same means but moves a frame's score to its
mirror (``F_k`` and ``F_{T+1-k}`` trade places for a reversed sample).  The pair-level score is
never below the sequence-level one.  Images are ``[..., C, H, W]`` and
sequences ``[..., T, C, H, W]``, with values in ``[0, data_range]``.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import structural_similarity

__all__ = ["PSNR_CAP", "capped", "mse", "psnr", "ssim", "per_frame_psnr", "ppsnr_sequence", "ppsnr_pairs", "ppsnr"]


def _check_same_shape(pred: torch.Tensor, target: torch.Tensor, min_dims: int) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    if pred.ndim < min_dims:
        raise ValueError(f"expected at least {min_dims} dimensions, got shape {tuple(pred.shape)}")


PSNR_CAP = 100.0
"""dB: where scores are averaged, a PSNR is read as at most this (identical images give ``inf``)."""


def capped(db: torch.Tensor) -> torch.Tensor:
    """PSNR values with ``inf`` (and anything above :data:`PSNR_CAP`) read as :data:`PSNR_CAP`, so
    that a mean over images stays finite."""
    return db.clamp(max=PSNR_CAP)


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the last three dimensions (C, H, W)."""
    _check_same_shape(pred, target, 3)
    return (pred.double() - target.double()).pow(2).mean(dim=(-3, -2, -1))


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(range^2 / MSE)``, per image (over C, H, W).

    Identical images give ``inf``.  Returns float64 with the leading shape of the inputs.
    """
    err = mse(pred, target)
    return 10.0 * torch.log10(data_range**2 / err)


def ssim(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per image, computed by scikit-image (Wang et al. 2004, 7x7 window).

    Colour images average the per-channel SSIM.  Returns float64 with the leading shape.
    """
    _check_same_shape(pred, target, 3)
    lead = pred.shape[:-3]
    p = pred.detach().cpu().double().reshape(-1, *pred.shape[-3:]).numpy()
    t = target.detach().cpu().double().reshape(-1, *target.shape[-3:]).numpy()
    vals = [
        structural_similarity(a, b, data_range=data_range, channel_axis=0) if a.shape[0] > 1
        else structural_similarity(a[0], b[0], data_range=data_range)
        for a, b in zip(p, t, strict=True)
    ]
    return torch.from_numpy(np.asarray(vals, dtype=np.float64)).reshape(lead)


def per_frame_psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR of each frame of ``[..., T, C, H, W]`` against the same frame of the target: ``[..., T]``."""
    _check_same_shape(pred, target, 4)
    return psnr(pred, target, data_range)


def ppsnr_sequence(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Order-invariant per-frame PSNR, sequence level: ``[..., T]``, entry ``k`` the PSNR of
    ground-truth frame ``k`` against the prediction read in its better whole-sequence direction (the
    one with the higher mean PSNR; infinite values are :func:`capped` for the choice only)."""
    fwd = per_frame_psnr(pred, target, data_range)
    bwd = per_frame_psnr(pred.flip(-4), target, data_range)
    use_bwd = capped(bwd).mean(-1) > capped(fwd).mean(-1)
    return torch.where(use_bwd[..., None], bwd, fwd)


def ppsnr_pairs(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Order-invariant per-frame PSNR, pair level: each symmetric pair ``(k, T+1-k)`` is scored in
    the better of its two assignments, independently of the other pairs; entry ``k`` scores
    ground-truth frame ``k``.  ``[..., T]``."""
    fwd = per_frame_psnr(pred, target, data_range)
    bwd = per_frame_psnr(pred.flip(-4), target, data_range)
    # bwd[k] compares pred[T-1-k] with target[k]; the pair (k, T-1-k) is swapped when the sum of
    # its two swapped scores beats the sum of its two straight scores.
    pair_fwd = (fwd + fwd.flip(-1)).clamp(max=2 * PSNR_CAP)
    pair_bwd = (bwd + bwd.flip(-1)).clamp(max=2 * PSNR_CAP)
    return torch.where(pair_bwd > pair_fwd, bwd, fwd)


def ppsnr(pred: torch.Tensor, target: torch.Tensor, level: str = "sequence", data_range: float = 1.0) -> torch.Tensor:
    """Order-invariant PSNR per frame; ``level`` is ``"sequence"`` or ``"pair"`` (see module doc)."""
    if level == "sequence":
        return ppsnr_sequence(pred, target, data_range)
    if level == "pair":
        return ppsnr_pairs(pred, target, data_range)
    raise ValueError(f"unknown pPSNR level {level!r}; expected 'sequence' or 'pair'")
