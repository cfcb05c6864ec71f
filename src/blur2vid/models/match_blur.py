"""A frames network held to its input: every frame moved alike until the frames re-blur to the photograph.

:class:`MatchBlur` wraps any network ``[B, 3, H, W] -> [B, T, 3, H, W]`` and passes its frames
through the re-blur projection :func:`blur2vid.core.formation.match_blur`: the per-pixel change that all
frames share (the smoothing of detail a network trained on noisy photographs takes for noise, a
shift of colour) is undone, and the differences between the frames, the motion, are kept.  A still
photograph comes back as itself wherever the network moved nothing; the frames' re-blur PSNR is then
perfect by construction (up to clipping), so it says nothing, and the difference between the first
and last frame is the number to read.  ``blur2vid predict --match-blur`` applies it; a model file
whose notes say ``"match_blur": true`` (the shipped one) gets it by default.

Holding puts the photograph's sensor noise and JPEG back into every frame as well; a photograph
cleaned by a denoiser told its noise level (:mod:`blur2vid.models.denoise`) can be held to instead.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from blur2vid.core.formation import match_blur

__all__ = ["MatchBlur", "with_match_blur", "held_as_noted"]


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
        return match_blur(frames.float(), blur.float(), self.crf).to(frames.dtype)


def with_match_blur(net: nn.Module, on: bool, crf: str = "srgb") -> nn.Module:
    """``net`` wrapped in :class:`MatchBlur` when ``on`` (never twice), else ``net`` itself."""
    if not on or isinstance(net, MatchBlur):
        return net
    return MatchBlur(net, crf).eval() if not net.training else MatchBlur(net, crf)


def held_as_noted(model: nn.Module, notes: dict[str, Any], match_blur: bool | None = None,
                  name: str = "this model") -> tuple[nn.Module, dict[str, Any]]:
    """A model file's network as its notes say it is run: held to the photograph when the notes say
    ``"match_blur": true`` (or as ``match_blur`` asks, when not ``None``).  Returns ``(model, notes
    with match_blur)``.  A network trained held (``spec.match_blur``) run alone gets a warning:
    it was never asked for the photograph's brightness, only for what differs between frames."""
    on = bool(notes.get("match_blur", False)) if match_blur is None else match_blur
    if not on and (notes.get("spec") or {}).get("match_blur"):
        warnings.warn(f"{name} was trained held to the blur (match_blur): its network alone was never asked for "
                      "the photograph's brightness, only for what differs between frames, so its frames without "
                      "--match-blur are not a deblurred video", stacklevel=3)
    return with_match_blur(model, on), dict(notes, match_blur=on)
