"""Training losses.  Each docstring names the equation it implements.

Sequences are ``[B, T, C, H, W]``.
"""

from __future__ import annotations

import torch

__all__ = ["naive_loss"]


def naive_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """HyperCUT Eq. 2: the per-frame squared error ``sum_k ||f_k(y) - x_k||^2`` (averaged over pixels
    and frames), with the target taken in whatever order the data gives.  When the order is random,
    its minimiser for frame k is the mean of the frames that can sit at position k."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    return torch.mean((pred - target) ** 2)
