"""The one sample type every data source returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Batch:
    """A batch of blurry images with the sharp sequences behind them.

    ``blur``: ``[B, C, H, W]``; ``frames``: ``[B, T, C, H, W]``; both camera intensities in ``[0, 1]``.
    ``meta`` holds per-source extras (seeds, sequence names, scene parameters).
    """

    blur: torch.Tensor
    frames: torch.Tensor
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.blur.ndim != 4 or self.frames.ndim != 5:
            raise ValueError(
                f"Batch expects blur [B,C,H,W] and frames [B,T,C,H,W], got {tuple(self.blur.shape)} "
                f"and {tuple(self.frames.shape)}"
            )
        b, _, c, h, w = self.frames.shape
        if self.blur.shape != (b, c, h, w):
            raise ValueError(f"blur shape {tuple(self.blur.shape)} does not match frames {tuple(self.frames.shape)}")

    def __len__(self) -> int:
        return self.blur.shape[0]

    @property
    def n_frames(self) -> int:
        return self.frames.shape[1]

    def to(self, device: torch.device | str) -> Batch:
        """The batch on ``device``, with the tensors of ``meta`` (a capture's ``blur_clean``, say):
        a loss that reads them gets them where the batch is, also when the batch was rendered on
        the CPU (:func:`blur2vid.training.loop.fit`'s ``workers``)."""
        meta = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self.meta.items()}
        return Batch(self.blur.to(device), self.frames.to(device), meta)

    def reversed(self) -> Batch:
        """The same blur with every sequence played backwards: an equally valid target (Jin Sec. 4)."""
        return Batch(self.blur, self.frames.flip(1), self.meta)

    def __getitem__(self, index) -> Batch:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Batch(self.blur[index], self.frames[index], self.meta)
