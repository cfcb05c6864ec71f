"""A frames network held to its input: every frame moved alike until the frames re-blur to the photograph.

:class:`MatchBlur` wraps any network ``[B, 3, H, W] -> [B, T, 3, H, W]`` and passes its frames
through :func:`blur2vid.formation.match_blur`: the per-pixel change that all frames share (the
smoothing of detail a network trained on noisy photographs takes for noise, a shift of colour) is
undone, and the differences between the frames, the motion, are kept.  A still photograph comes back
as itself wherever the network moved nothing; the frames' re-blur PSNR is then perfect by
construction (up to clipping), so it says nothing, and the difference between the first and last
frame is the number to read.  ``blur2vid predict --match-blur`` applies it; a model file whose notes
say ``"match_blur": true`` (the shipped one, when measured better) gets it by default.

Holding puts the photograph's sensor noise and JPEG back into every frame as well.  A network built
with a hold weight (``UNetConfig.hold_weight``, ``blur2vid train --set hold_weight=12``) carries a
small :class:`HoldWeight` head that looks at the photograph, at what it differs by from the
frames' re-blur, and at how large that difference is here against the photograph's quiet parts,
and says, per pixel, how much of the difference to put back: trained held, it can learn to leave
out what looks like noise and keep what looks like missing detail.  Untrained, the
head says 1 everywhere: the full hold.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blur2vid.formation import match_blur

__all__ = ["HoldWeight", "hold_weigher", "held", "MatchBlur", "with_match_blur"]


class HoldWeight(nn.Module):
    """``(photo, residual) [B, C, H, W] -> [B, 1, H, W]`` in ``[0, 1]``: how much of the residual
    between a photograph and its frames' re-blur :func:`~blur2vid.formation.match_blur` puts back.

    What it sees, per pixel: the photograph, the residual (times 10: it is a few hundredths), the
    residual's local energy (its mean square over 5x5 pixels, as a logarithm) and the photograph's
    noise floor, the same energy's lower quartile over the whole photograph (where the frames
    are right, the residual is the photograph's noise alone: no neighbourhood can tell a grainy
    photograph from a textured one, the quiet parts of the whole can), and the energy over that
    floor.  Four convolutions of ``width`` channels follow, the middle two dilated (15 pixels
    across); the output is ``clamp(1 + z, 0, 1)`` with ``z`` from a zero-initialised last layer,
    so an untrained head is exactly the full hold."""

    FEATURES = 3  # local energy, noise floor, energy over the floor

    def __init__(self, channels: int = 3, width: int = 12) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"HoldWeight width must be >= 1, got {width}")
        act = nn.LeakyReLU(0.1, inplace=True)
        self.body = nn.Sequential(nn.Conv2d(2 * channels + self.FEATURES, width, 3, padding=1), act,
                                  nn.Conv2d(width, width, 3, padding=2, dilation=2), act,
                                  nn.Conv2d(width, width, 3, padding=4, dilation=4), act,
                                  nn.Conv2d(width, 1, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    @staticmethod
    def energy(residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``residual [N, C, H, W]``: its local energy ``log10`` of the 5x5 mean square (over the
        channels too) ``[N, 1, H, W]``, and each image's floor, the lower quartile of it ``[N, 1, 1, 1]``."""
        square = residual.square().mean(dim=1, keepdim=True)
        k = min(5, 2 * ((min(square.shape[-2:]) - 1) // 2) + 1)  # an odd box that fits a small image
        local = torch.log10(F.avg_pool2d(F.pad(square, (k // 2,) * 4, mode="replicate"), k, stride=1) + 1e-7)
        floor = torch.quantile(local.flatten(1), 0.25, dim=1).view(-1, 1, 1, 1)
        return local, floor

    def forward(self, photo: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        lead, (c, h, w) = photo.shape[:-3], photo.shape[-3:]
        photo, residual = photo.reshape(-1, c, h, w).float(), residual.reshape(-1, c, h, w).float()
        local, floor = self.energy(residual)
        x = torch.cat([photo, 10 * residual, (local + 4) / 2, ((floor + 4) / 2).expand_as(local),
                       (local - floor) / 2], dim=1)
        z = self.body(x.to(self.body[0].weight.dtype)).float()
        return (1 + z).clamp(0, 1).reshape(*lead, 1, h, w)


def hold_weigher(net: nn.Module) -> HoldWeight | None:
    """The :class:`HoldWeight` head of ``net`` (seen through a compiled or distributed wrapper), or None."""
    for name in ("_orig_mod", "module"):
        net = getattr(net, name, net)
    weigh = getattr(net, "weigh", None)
    return weigh if isinstance(weigh, HoldWeight) else None


def held(net: nn.Module, frames: torch.Tensor, blur: torch.Tensor, crf: str = "srgb") -> torch.Tensor:
    """``frames`` of ``net`` for ``blur`` held to it (in fp32), weighed by ``net``'s hold weight if it has one."""
    return match_blur(frames.float(), blur.float(), crf, weigh=hold_weigher(net)).to(frames.dtype)


class MatchBlur(nn.Module):
    """``net``'s frames moved to re-blur to the input (Jin Eq. 1 with the response ``crf``)."""

    def __init__(self, net: nn.Module, crf: str = "srgb") -> None:
        super().__init__()
        self.net, self.crf = net, crf

    @property
    def config(self):
        return self.net.config

    def forward(self, blur: torch.Tensor) -> torch.Tensor:
        return self.hold(self.net(blur), blur)

    def hold(self, frames: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:
        """``frames`` of ``blur`` moved to re-blur to it (in fp32): what :meth:`forward` does after
        the network, and what tiled inference does once to the joined frames of a photograph."""
        return held(self.net, frames, blur, self.crf)


def with_match_blur(net: nn.Module, on: bool, crf: str = "srgb") -> nn.Module:
    """``net`` wrapped in :class:`MatchBlur` when ``on`` (never twice), else ``net`` itself."""
    if not on or isinstance(net, MatchBlur):
        return net
    return MatchBlur(net, crf).eval() if not net.training else MatchBlur(net, crf)
