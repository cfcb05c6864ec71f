"""Image and sequence quality: PSNR, SSIM, and every convention the field scores a sequence by.

Because a blur does not reveal the direction of time (Jin Sec. 4), a predicted sequence is scored
against the ground truth in whichever order suits it best.  Two definitions are in use:

* sequence level (HyperCUT's evaluation code): pick, per sample, the direction of the *prediction*
  (as predicted, or reversed) with the higher mean PSNR over the whole sequence, and score it in
  that direction;
* pair level (HyperCUT's README): for each symmetric pair ``(k, T+1-k)`` pick the better of the two
  assignments independently.

Two more conventions are in use:

* pixel level (Tedla et al. 2025, their PWPSNR): per *pixel*, the direction with the lower squared
  error over the frames; the PSNR of the mean of those minima (one number per sequence).  It is
  never below the PSNR of the whole sequence's mean error in either direction (the per-pixel choice
  can only lower the error), and a prediction reversed in one half of the image only, which the
  sequence level punishes, is perfect;
* the middle frame alone (Jin et al. 2018, Table 2), which has no order (:func:`middle_psnr`).

Animation-from-Blur keeps, per sample, the better of the two directions, which for one
deterministic output is the sequence level.  :func:`ssim_sequence` is SSIM in the sequence-level
direction, and :func:`reblur_psnr` the frames pushed back through Eq. 1 against the blur: no
evidence for frames held to the photograph (:mod:`blur2vid.models.match_blur`), which re-blur to it
by construction.

Either way it is the prediction that is reversed, never the ground truth, as in HyperCUT's
evaluation: column ``F_k`` always scores ground-truth frame ``k`` (against predicted frame ``k`` or
``T+1-k``).  Reversing the target instead gives the same means but moves a frame's score to its
mirror (``F_k`` and ``F_{T+1-k}`` trade places for a reversed sample).  The pair-level score is
never below the sequence-level one.  Images are ``[..., C, H, W]`` and
sequences ``[..., T, C, H, W]``, with values in ``[0, data_range]``.
"""

from __future__ import annotations

import torch

from blur2vid.core.formation import synthesize_blur
from blur2vid.core.tensors import one_image_over_time

__all__ = ["PSNR_CAP", "capped", "mse", "psnr", "ssim", "ssim_maps", "per_frame_psnr", "ppsnr_sequence", "ppsnr_pairs", "ppsnr",
           "sequence_reversed", "in_sequence_direction", "pwpsnr", "ssim_sequence", "middle_psnr", "reblur_psnr", "conventions"]


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


def in_sequence_direction(pred: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
    """``pred [..., T, C, H, W]`` with the sequences where ``reverse [...]`` is True read backwards
    in time (the sequence level's direction); ``pred`` itself where none is, or it is one image."""
    if one_image_over_time(pred) or not bool(reverse.any()):
        return pred
    return torch.where(reverse[..., None, None, None, None].to(pred.device), pred.flip(-4), pred)


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
    """Structural similarity per image (Wang et al. 2004) as scikit-image's ``structural_similarity``
    computes it by default, in torch: a uniform 7x7 window, ``K1 = 0.01``, ``K2 = 0.03``, sample
    covariances (``49/48``), the mean over the positions where the window fits; a colour image
    averages its channels.  Returns float64 with the leading shape; images need 7 pixels a side.

    On a CPU, a compiled kernel makes one pass over each image (:mod:`blur2vid.core.metrics_cpu`);
    elsewhere torch computes the same formula from maps of window sums."""
    if _ssim_on_cpu(pred, target, 3):
        from blur2vid.core.metrics_cpu import ssim_cpu

        return ssim_cpu(pred, target, data_range).mean(-1)
    return ssim_maps(pred, target, data_range)


def _on_cpu(*tensors: torch.Tensor) -> bool:
    """Whether every tensor is on the CPU, where :mod:`blur2vid.core.metrics_cpu`'s kernels run."""
    return all(t.device.type == "cpu" for t in tensors)


def _ssim_on_cpu(pred: torch.Tensor, target: torch.Tensor, min_dims: int) -> bool:
    """Checks SSIM's inputs (one shape, 7 pixels a side at least); whether its CPU kernel runs them."""
    _check_same_shape(pred, target, min_dims)
    h, w = pred.shape[-2:]
    if h < 7 or w < 7:
        raise ValueError(f"SSIM needs images of at least 7x7 pixels, got {h}x{w}")
    return _on_cpu(pred, target)


def ssim_maps(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """:func:`ssim` by torch on any device, from maps of the windows' sums (chunks of images at a
    time); what :func:`ssim` runs on a GPU."""
    _check_same_shape(pred, target, 3)
    lead, (c, h, w) = pred.shape[:-3], pred.shape[-3:]
    x = pred.detach().float().reshape(-1, h, w)
    y = target.detach().float().reshape(-1, h, w)
    # images a chunk: on a CPU its maps stay in a core's cache; a GPU takes far more at once
    chunk = max(1, (_SSIM_CHUNK if x.device.type == "cpu" else _SSIM_CHUNK_GPU) // (h * w))
    out = torch.cat([_ssim_means(xc, yc, data_range) for xc, yc in zip(x.split(chunk), y.split(chunk), strict=True)])
    return out.reshape(*lead, c).mean(-1).cpu()


_SSIM_CHUNK = 1 << 16
"""Pixels per chunk of :func:`ssim_maps` on a CPU: four float32 maps of them and their sums fit a core's cache."""
_SSIM_CHUNK_GPU = 1 << 24
"""Pixels per chunk of :func:`ssim_maps` elsewhere: few launches, and maps of a quarter of a GiB."""


def _sum7(z: torch.Tensor, dim: int) -> torch.Tensor:
    """The sum of every 7 consecutive entries along ``dim`` (length ``n -> n - 6``), as sums of 2,
    then 4, then 4 + 2 + 1: four passes over the data where one shifted copy per entry takes six."""
    n = z.shape[dim]
    s2 = z.narrow(dim, 0, n - 1) + z.narrow(dim, 1, n - 1)
    s4 = s2.narrow(dim, 0, n - 3) + s2.narrow(dim, 2, n - 3)
    return s4.narrow(dim, 0, n - 6).add_(s2.narrow(dim, 4, n - 6)).add_(z.narrow(dim, 6, n - 6))


def _ssim_means(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """The mean SSIM of each single-channel image of ``x, y [N, H, W]``.

    The window's sums, not its means, of four maps of the images less a centre near their means
    (a centre moves no variance, and keeps float32's cancellation in a variance small; rounded to
    sixteenths, so that the subtraction is exact for pixels on that grid: a saturated or flat 8-bit
    area stays exactly flat): ``x``, ``y``, ``x^2 + y^2`` and ``xy`` (the variances enter only as
    ``var x + var y``).  Both factors of the ratio carry the same ``49^2``, so the constants are
    scaled by it and nothing is divided but the ratio itself."""
    k1, k2, norm = (0.01 * data_range) ** 2 * 49**2, (0.03 * data_range) ** 2 * 49**2, 49 / 48
    mx, my = (z.mean(dim=(-2, -1), keepdim=True).mul_(16).round_().div_(16) for z in (x, y))
    maps = torch.empty(4, *x.shape, dtype=torch.float32, device=x.device)
    xc, yc = torch.sub(x, mx, out=maps[0]), torch.sub(y, my, out=maps[1])
    torch.mul(xc, xc, out=maps[2]).addcmul_(yc, yc)
    torch.mul(xc, yc, out=maps[3])
    sx, sy, sq, sxy = _sum7(_sum7(maps, -2), -1).unbind(0)
    # the variances and the covariance from the centred sums, 49^2 times (var x + var y) and 2 cov
    var = sq.mul_(norm * 49).sub_((sx * sx).addcmul_(sy, sy), alpha=norm).add_(k2)
    cov = sxy.mul_(2 * norm * 49).sub_(sx * sy, alpha=2 * norm).add_(k2)
    sx.add_(mx, alpha=49)  # the sums of the images themselves, for the means
    sy.add_(my, alpha=49)
    sxsy = sx * sy
    # (2 ux uy + C1)(2 cov + C2) / ((ux^2 + uy^2 + C1)(var x + var y + C2)), each factor times 49^2
    num = sxsy.mul_(2).add_(k1).mul_(cov)
    den = sx.mul_(sx).addcmul_(sy, sy).add_(k1).mul_(var)
    return num.div_(den).sum(dim=(-2, -1), dtype=torch.float64) / (num.shape[-2] * num.shape[-1])


def per_frame_psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR of each frame of ``[..., T, C, H, W]`` against the same frame of the target: ``[..., T]``."""
    _check_same_shape(pred, target, 4)
    return psnr(pred, target, data_range)


def sequence_reversed(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """``[...]``: whether the prediction scores better reversed, the sequence level's choice (the
    direction with the higher mean PSNR over the frames; infinite values :func:`capped` for it)."""
    fwd = per_frame_psnr(pred, target, data_range)
    bwd = per_frame_psnr(pred.flip(-4), target, data_range)
    return capped(bwd).mean(-1) > capped(fwd).mean(-1)


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


def pwpsnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Pixel-level order-invariant PSNR (Tedla et al. 2025): per pixel, the squared error averaged
    over the frames and channels in each direction, the smaller kept; the PSNR of the mean of those
    minima.  ``[..., T, C, H, W]`` -> ``[...]``."""
    _check_same_shape(pred, target, 4)
    p, t = pred.double(), target.double()
    fwd = (p - t).pow(2).mean(dim=(-4, -3))
    bwd = (p.flip(-4) - t).pow(2).mean(dim=(-4, -3))
    return 10.0 * torch.log10(data_range**2 / torch.minimum(fwd, bwd).mean(dim=(-2, -1)))


def ssim_sequence(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0,
                  reverse: torch.Tensor | None = None) -> torch.Tensor:
    """SSIM per frame ``[..., T]`` with the prediction read in the sequence level's direction
    (:func:`sequence_reversed`, the direction pPSNR chose; ``reverse`` where it is known already,
    as :func:`conventions` gives it).  On a CPU the reversed sequences are read backwards, not copied."""
    on_cpu = _ssim_on_cpu(pred, target, 4)
    reverse = sequence_reversed(pred, target, data_range) if reverse is None else reverse
    if on_cpu:
        from blur2vid.core.metrics_cpu import ssim_cpu

        return ssim_cpu(pred, target, data_range, reverse=reverse).mean(-1)
    return ssim_maps(in_sequence_direction(pred, reverse), target, data_range)


def middle_psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR of the middle frame ``[...]`` (Jin et al.'s Table 2): no direction to choose."""
    _check_same_shape(pred, target, 4)
    mid = pred.shape[-4] // 2
    return psnr(pred[..., mid, :, :, :], target[..., mid, :, :, :], data_range)


def reblur_psnr(frames: torch.Tensor, blur: torch.Tensor, crf="srgb", data_range: float = 1.0) -> torch.Tensor:
    """PSNR ``[...]`` of the frames ``[..., T, C, H, W]`` re-blurred by Jin Eq. 1 (camera response
    ``crf``) against ``blur [..., C, H, W]``.  No evidence for frames held to the blur, which re-blur
    to it by construction; Tedla et al. use a gamma of 2.2."""
    if one_image_over_time(frames):  # its own re-blur, computed once
        frames = frames[..., :1, :, :, :]
    return psnr(synthesize_blur(frames, crf), blur, data_range)


def conventions(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> dict[str, torch.Tensor]:
    """Every PSNR convention above for ``[N, T, C, H, W]`` at once, from one pass of squared errors
    per direction (an evaluation scores thousands of windows): ``forward`` and ``sequence`` (per
    frame ``[N, T]``, in the order predicted and at the sequence level), ``pairs`` ``[N, T]``,
    ``pwpsnr`` and ``middle`` ``[N]``, and ``reversed`` ``[N]`` (the sequence level's choice).  Equal
    to the definitions to the rounding of the sums of squared errors (a test checks it): float64 by
    a compiled kernel on a CPU (:mod:`blur2vid.core.metrics_cpu`), float32 elsewhere."""
    _check_same_shape(pred, target, 5)
    if pred.ndim != 5:
        raise ValueError(f"expected windows [N, T, C, H, W], got shape {tuple(pred.shape)}")
    n, t, c, h, w = pred.shape
    if _on_cpu(pred, target):
        from blur2vid.core.metrics_cpu import squared_errors

        sum_f, sum_b, per_pixel = squared_errors(pred, target)
    else:
        sum_f, sum_b, per_pixel = _squared_errors(pred, target)
    to_db = lambda mse: 10.0 * torch.log10(data_range**2 / mse)  # noqa: E731
    fwd, bwd = to_db(sum_f / (c * h * w)), to_db(sum_b / (c * h * w))
    reverse = capped(bwd).mean(-1) > capped(fwd).mean(-1)
    pair_fwd = (fwd + fwd.flip(-1)).clamp(max=2 * PSNR_CAP)
    pair_bwd = (bwd + bwd.flip(-1)).clamp(max=2 * PSNR_CAP)
    mid = t // 2
    return {"forward": fwd, "sequence": torch.where(reverse[..., None], bwd, fwd),
            "pairs": torch.where(pair_bwd > pair_fwd, bwd, fwd),
            "pwpsnr": to_db(per_pixel / (t * c * h * w)),
            "middle": fwd[..., mid], "reversed": reverse}


def _squared_errors(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`~blur2vid.core.metrics_cpu.squared_errors` by torch, on any device: the sums of each
    frame's squared errors in both directions ``[N, T]`` and of each pixel's smaller direction
    ``[N]``, float32 sums (cascaded, so to ~1e-7 of the whole) returned as float64 on the CPU."""
    t = pred.shape[1]
    p, y = pred.float(), target.float()
    err_f = (p - y).square_().sum(dim=-3)  # [N, T, H, W]: each pixel's squared error over its channels
    if one_image_over_time(pred):  # the blur copy reads the same reversed
        err_b = err_f
    else:  # frame by frame: a reversed copy of the prediction would be one more pass over it
        err_b = torch.empty_like(err_f)
        for k in range(t):
            torch.sum((p[:, t - 1 - k] - y[:, k]).square_(), dim=-3, out=err_b[:, k])
    per_pixel = torch.minimum(err_f.sum(dim=-3), err_b.sum(dim=-3)).sum(dim=(-2, -1))
    return tuple(e.double().cpu() for e in (err_f.sum(dim=(-2, -1)), err_b.sum(dim=(-2, -1)), per_pixel))
