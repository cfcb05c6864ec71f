"""Small tensor operations that several layers share, written once.

Sequences are ``[B, T, C, H, W]`` (time is dimension 1).  Nothing here imports the rest of the
library, so any module may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["Box", "reverse_where", "one_image_over_time", "crop_boxes", "apply_crop_boxes", "batched"]

Box = tuple[int, int, int, int]
"""A crop box ``(top, left, height, width)`` in pixels."""


def reverse_where(frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``frames [B, T, ...]`` with the sequences where ``mask`` (bool ``[B]``) is set played
    backwards, the others as they are.  Applying it twice with the same mask gives ``frames``."""
    if frames.ndim < 2:
        raise ValueError(f"expected sequences [B, T, ...], got shape {tuple(frames.shape)}")
    if mask.shape != frames.shape[:1]:
        raise ValueError(f"mask must have shape [{frames.shape[0]}], got {tuple(mask.shape)}")
    where = mask.to(device=frames.device, dtype=torch.bool).view(-1, *([1] * (frames.ndim - 1)))
    return torch.where(where, frames.flip(1), frames)


def crop_boxes(shape: torch.Size | Sequence[int], size: int | tuple[int, int], seed: int) -> list[Box]:
    """One random ``size`` (``h`` or ``(h, w)``) crop box per sequence of a batch of ``shape``
    ``[B, ..., H, W]``, drawn on the CPU from ``seed``: all tops, then all lefts, each uniform over
    the positions where the box fits."""
    b, big_h, big_w = shape[0], shape[-2], shape[-1]
    h, w = (size, size) if isinstance(size, int) else size
    if not (1 <= h <= big_h and 1 <= w <= big_w):
        raise ValueError(f"crop {h}x{w} does not fit frames of {big_h}x{big_w}")
    g = torch.Generator().manual_seed(int(seed))
    tops = torch.randint(0, big_h - h + 1, (b,), generator=g).tolist()
    lefts = torch.randint(0, big_w - w + 1, (b,), generator=g).tolist()
    return [(top, left, h, w) for top, left in zip(tops, lefts, strict=True)]


def apply_crop_boxes(frames: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
    """``frames [B, ..., H, W]`` cut to each sequence's box (every box of one size), the same place
    in all of a sequence's frames: ``[B, ..., h, w]``."""
    if len(boxes) != frames.shape[0]:
        raise ValueError(f"need one crop box per sequence: {len(boxes)} boxes for {frames.shape[0]} sequences")
    return torch.stack([frames[i, ..., t:t + h, x:x + w] for i, (t, x, h, w) in enumerate(boxes)])


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 64, *,
            clamp: bool = False) -> torch.Tensor:
    """``fn`` (e.g. a model) applied to ``x`` in chunks of ``batch_size`` along dimension 0 under
    ``torch.no_grad()``, the outputs concatenated; ``clamp=True`` clamps each to ``[0, 1]``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if len(x) == 0:
        raise ValueError("batched needs at least one input")
    with torch.no_grad():
        parts = []
        for i in range(0, len(x), batch_size):
            y = fn(x[i:i + batch_size])
            parts.append(y.clamp(0, 1) if clamp else y)
        return torch.cat(parts)


def one_image_over_time(x: torch.Tensor) -> bool:
    """Whether ``x [..., T, C, H, W]`` is one image expanded over its ``T`` frames (the blur copy):
    it reads the same reversed, re-blurs to itself, and need not be read more than once."""
    return x.ndim >= 4 and x.shape[-4] > 1 and x.stride(-4) == 0
