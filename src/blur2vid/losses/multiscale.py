"""The multi-scale content loss of Nah et al. (CVPR 2017), the deblurring baseline of Jin Table 2."""

from __future__ import annotations

import torch

__all__ = ["multiscale_loss"]


def multiscale_loss(estimates: list[torch.Tensor], targets: list[torch.Tensor]) -> torch.Tensor:
    """The multi-scale content loss of Nah et al. (CVPR 2017), the baseline of Jin Table 2: the mean
    over the K levels of the per-pixel squared error between each level's estimate and the sharp
    image downsampled to that level (coarsest first, as ``NahMultiScale(..., return_all=True)``)."""
    if len(estimates) != len(targets) or not estimates:
        raise ValueError(f"need one target per level, got {len(estimates)} estimates and {len(targets)} targets")
    return sum(torch.mean((e - t) ** 2) for e, t in zip(estimates, targets, strict=True)) / len(estimates)
