"""A small U-Net that maps one blurry image to all T frames at once.

Not from either paper: it is the compact "one network, all frames" backbone used to study the
order ambiguity (HyperCUT Eq. 2) and, later, as the second backbone next to the Jin cascade.  The
frames are predicted as a residual on the blurry input, so an untrained network outputs the blur.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNetConfig", "SequenceUNet"]


@dataclass(frozen=True)
class UNetConfig:
    n_frames: int = 7
    channels: int = 3
    width: int = 32
    depth: int = 2  # number of 2x down-samplings
    inputs: int = 0  # extra input channels beside the image (a noise-level map: models.denoise); 0: none

    def __post_init__(self) -> None:
        for name in ("n_frames", "channels", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"UNetConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("depth", "inputs"):
            if getattr(self, name) < 0:
                raise ValueError(f"UNetConfig.{name} must be >= 0, got {getattr(self, name)}")


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
    )


class SequenceUNet(nn.Module):
    """``[B, C, H, W]`` blur -> ``[B, T, C, H, W]`` frames (residual on the blur); any H, W."""

    def __init__(self, config: UNetConfig | None = None, **overrides) -> None:
        super().__init__()
        self.config = config or UNetConfig(**overrides)
        c = self.config
        widths = [c.width * 2**i for i in range(c.depth + 1)]
        self.inc = _double_conv(c.channels + c.inputs, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1), nn.LeakyReLU(0.1, inplace=True),
                          _double_conv(widths[i + 1], widths[i + 1]))
            for i in range(c.depth)
        )
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(c.depth))
        self.dec = nn.ModuleList(_double_conv(2 * widths[i], widths[i]) for i in range(c.depth))
        self.out = nn.Conv2d(widths[0], c.n_frames * c.channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def config_dict(self) -> dict:
        config = asdict(self.config)
        if not config["inputs"]:  # as the files written before it existed
            del config["inputs"]
        return {"arch": "SequenceUNet", **config}

    def features(self, blur: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's last features ``[B, width, H', W']`` for ``blur [B, C, H, W]`` (and the
        ``extra [B, inputs, H, W]`` channels of a network built with ``inputs``), padded to a
        multiple of ``2**depth`` (crop them to ``H, W`` after :attr:`out`)."""
        c = self.config
        if blur.ndim != 4 or blur.shape[1] != c.channels:
            raise ValueError(f"SequenceUNet expects [B, {c.channels}, H, W], got {tuple(blur.shape)}")
        if (extra is None) != (c.inputs == 0) or (extra is not None and (
                extra.shape[1] != c.inputs or extra.shape[0] != blur.shape[0] or extra.shape[-2:] != blur.shape[-2:])):
            raise ValueError(f"this SequenceUNet takes {c.inputs} extra input channel(s) [B, {c.inputs}, H, W], "
                             f"got {None if extra is None else tuple(extra.shape)}")
        h, w = blur.shape[-2:]
        m = 2**c.depth
        ph, pw = (-h) % m, (-w) % m
        x = blur if extra is None else torch.cat([blur, extra.to(blur.dtype)], dim=1)
        x = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        skips = [self.inc(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for i in reversed(range(c.depth)):
            y = self.dec[i](torch.cat([self.up[i](y), skips.pop()], dim=1))
        return y

    def forward(self, blur: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        h, w = blur.shape[-2:]
        residual = self.out(self.features(blur, extra))[..., :h, :w]
        return blur.unsqueeze(1) + residual.reshape(blur.shape[0], c.n_frames, c.channels, h, w)
