"""A denoiser told the noise level, for frames held to a noisy photograph.

Holding a network's frames to the photograph (:class:`~blur2vid.models.match_blur.MatchBlur`)
puts the photograph's sensor noise and JPEG back into every frame: held to the same blur without
noise (an oracle no user has), the shipped model's frames gain several times more over the blurry
input (its card and notebook 07 give the numbers).  :class:`NoiseLevelDenoiser` stands between: it maps a
photograph and its noise level ``sigma`` (the standard deviation of the noise, on the ``[0, 1]``
scale of the image; a map of it is a fourth input channel, as in FFDNet, Zhang et al. 2018) to the
photograph without its noise, and the frames are held to that.

Told the level, it can leave a clean photograph alone, which a blind denoiser cannot: from one
small image, fine detail and noise look alike (a blind one cost the clean real footage several dB:
``docs/probes.md``, denoise before holding).  ``sigma = 0`` is not run at all
(:func:`blur2vid.models.inference.predict_frames`), so a user who does not ask for denoising gets exactly
the frames held to the photograph.  The network is the one-frame :class:`SequenceUNet` with one
extra input channel, trained by ``blur2vid train --preset denoiser`` (:mod:`blur2vid.training.denoiser`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from blur2vid.models.unet import SequenceUNet

__all__ = ["DenoiserConfig", "NoiseLevelDenoiser", "SIGMA_SCALE", "noise_level", "denoise_batched"]

SIGMA_SCALE = 255 / 10
"""What the noise-level channel holds: ``sigma`` times this, the level in 8-bit steps over ten (a
typical photograph's 2 to 8 steps read 0.2 to 0.8)."""


@dataclass(frozen=True)
class DenoiserConfig:
    channels: int = 3
    width: int = 32
    depth: int = 2

    def __post_init__(self) -> None:
        for name in ("channels", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"DenoiserConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.depth < 0:
            raise ValueError(f"DenoiserConfig.depth must be >= 0, got {self.depth}")


def noise_level(photo: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """The noise level of each photograph of ``photo [B, C, H, W]`` given the same without noise:
    the standard deviation of their difference (sensor noise and JPEG together), ``[B]``."""
    return (photo.float() - clean.float()).flatten(1).std(1)


class NoiseLevelDenoiser(nn.Module):
    """``(photo [B, C, H, W], sigma)`` -> ``[B, C, H, W]``, the photograph without its noise
    (a residual on it: untrained, the photograph itself).  ``sigma`` is a number or one per image
    ``[B]``, on the image's ``[0, 1]`` scale (4 levels of 8 bits: ``4 / 255``)."""

    def __init__(self, config: DenoiserConfig | None = None, **overrides) -> None:
        super().__init__()
        self.config = config or DenoiserConfig(**overrides)
        c = self.config
        self.unet = SequenceUNet(n_frames=1, channels=c.channels, width=c.width, depth=c.depth, inputs=1)

    def forward(self, photo: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        b, _, h, w = photo.shape
        if isinstance(sigma, (int, float)):
            # one number (as tiled inference passes it, tile after tile): checked on the host and
            # made on the device, so that no tile waits for a copy or a check there
            ok = float(sigma) >= 0  # nan too is refused
            sigma = torch.full((1,), float(sigma), dtype=torch.float32, device=photo.device)
        else:
            sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1)
            # levels on the CPU are checked; levels already on an accelerator (noise_level of a batch
            # there, at every training step) are not read back: that would make each step wait
            ok = sigma.numel() in (1, b) and (sigma.device.type != "cpu" or bool(torch.all(sigma >= 0)))
            sigma = sigma.to(photo.device)
        if not ok:
            raise ValueError(f"sigma must be one level >= 0 or one per image ({b}), got {sigma.tolist()}")
        level = (sigma * SIGMA_SCALE).expand(b).view(b, 1, 1, 1).expand(b, 1, h, w)
        return self.unet(photo, level)[:, 0]


@torch.no_grad()
def denoise_batched(denoiser: nn.Module, photos: torch.Tensor, sigma: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """``denoiser`` on ``photos [N, C, H, W]`` at their levels ``sigma [N]``, ``chunk`` at a time, in ``[0, 1]``."""
    return torch.cat([denoiser(photos[i:i + chunk], sigma[i:i + chunk]).clamp(0, 1)
                      for i in range(0, len(photos), chunk)])
