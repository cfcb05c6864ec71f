"""A multi-scale coarse-to-fine deblurring baseline in the style of Nah, Kim and Lee, CVPR 2017.

Jin et al. compare their middle-frame network with this model ([21] in their paper; Tables 2 and 3:
about 12M parameters, ten times slower than the middle network).  Structure (Nah et al. Sec. 3):

* an image pyramid of the blurry input with ``scales`` levels (factor 2 between levels);
* one network per level: a ``kernel_size`` convolution to ``features`` channels, ``blocks``
  residual blocks (conv -> ReLU -> conv, plus identity, no normalisation), a convolution back to
  3 channels;
* coarse to fine: the sharp estimate of a level is upsampled by an "up-convolution" (a convolution
  to ``3*2*2`` channels followed by pixel shuffle) and concatenated with the blurry image of the
  next finer level as its input.

Defaults are Nah's: 3 scales, 19 blocks per scale, 64 channels, 5x5 kernels (about 11.7M
parameters).  Nah et al. build the pyramid with Gaussian smoothing and subsampling; here an
antialiased bilinear downsampling does that job.  ``global_skip=True`` adds each level's blurry
input to its output (Nah et al. have no such skip; it is off by default).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from blur2vid.models.blocks import crop_to, pad_to_multiple
from blur2vid.models.presets import Presets

__all__ = ["NahConfig", "NahResBlock", "NahMultiScale"]


@dataclass(frozen=True)
class NahConfig(Presets):
    """Sizes of :class:`NahMultiScale`; the defaults are those of Nah et al. (2017)."""

    scales: int = 3
    blocks: int = 19
    features: int = 64
    kernel_size: int = 5
    channels: int = 3
    global_skip: bool = False

    @classmethod
    def paper(cls, **overrides) -> NahConfig:
        """Nah et al.'s sizes (the defaults)."""
        return replace(cls(), **overrides)

    @classmethod
    def cpu(cls, **overrides) -> NahConfig:
        """Narrow and shallow, for CPU training on small images."""
        return replace(cls(blocks=3, features=16), **overrides)

    @classmethod
    def smoke(cls, **overrides) -> NahConfig:
        """Tiny, for tests."""
        return replace(cls(blocks=1, features=8, kernel_size=3), **overrides)


def _conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class NahResBlock(nn.Module):
    """``x + conv(relu(conv(x)))``: the residual block of Nah et al. (no batch norm, no final ReLU)."""

    def __init__(self, features: int, kernel_size: int = 5):
        super().__init__()
        self.conv1 = _conv(features, features, kernel_size)
        self.conv2 = _conv(features, features, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class _Level(nn.Module):
    def __init__(self, cin: int, cfg: NahConfig):
        super().__init__()
        k = cfg.kernel_size
        self.head = _conv(cin, cfg.features, k)
        self.body = nn.Sequential(*(NahResBlock(cfg.features, k) for _ in range(cfg.blocks)))
        self.tail = _conv(cfg.features, cfg.channels, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(self.head(x)))


class NahMultiScale(nn.Module):
    """Coarse-to-fine multi-scale deblurring network (Nah et al. 2017): ``y -> sharp y``.

    ``forward(y)`` returns the finest estimate ``[B, C, H, W]``; ``forward(y, return_all=True)``
    returns the estimates of every level, coarsest first (for Nah's multi-scale loss), with the
    blurry pyramid: ``(estimates, pyramid)``.  Any ``H, W`` (reflect-padded to a multiple of
    ``2**(scales-1)`` and cropped back; the coarser levels are returned padded).
    """

    def __init__(self, config: NahConfig | None = None):
        super().__init__()
        cfg = config or NahConfig()
        if cfg.scales < 1:
            raise ValueError(f"scales must be >= 1, got {cfg.scales}")
        self.config = cfg
        c = cfg.channels
        # levels[0] is the coarsest: it sees the blurry image only; finer levels also see the
        # up-convolved estimate of the level below.
        self.levels = nn.ModuleList(_Level(c if i == 0 else 2 * c, cfg) for i in range(cfg.scales))
        self.upconvs = nn.ModuleList(
            nn.Sequential(_conv(c, 4 * c, cfg.kernel_size), nn.PixelShuffle(2)) for _ in range(cfg.scales - 1)
        )

    def pyramid(self, y: torch.Tensor) -> list[torch.Tensor]:
        """The blurry input at every level, coarsest first (sides must divide by ``2**(scales-1)``)."""
        levels = [y]
        for _ in range(self.config.scales - 1):
            levels.append(F.interpolate(levels[-1], scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False))
        return levels[::-1]

    def forward(
        self, y: torch.Tensor, return_all: bool = False
    ) -> torch.Tensor | tuple[list[torch.Tensor], list[torch.Tensor]]:
        yp, size = pad_to_multiple(y, 2 ** (self.config.scales - 1))
        blurry = self.pyramid(yp)
        estimates: list[torch.Tensor] = []
        for i, (level, b) in enumerate(zip(self.levels, blurry, strict=True)):
            inp = b if i == 0 else torch.cat((b, self.upconvs[i - 1](estimates[-1])), dim=1)
            out = level(inp)
            if self.config.global_skip:
                out = out + b
            estimates.append(out)
        if return_all:
            estimates[-1] = crop_to(estimates[-1], size)
            blurry[-1] = crop_to(blurry[-1], size)
            return estimates, blurry
        return crop_to(estimates[-1], size)
