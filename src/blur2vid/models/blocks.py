"""Building blocks of the Jin et al. (CVPR 2018) networks (Sec. 6, "Implementation").

* :class:`ResamplingConv` -- the "resampling convolution" used for feature extraction: a
  space-to-depth rearrangement (the inverse of pixel shuffle) by a factor ``r``, then an ordinary
  convolution.  Working at ``1/r`` of the resolution enlarges the receptive field ``r`` times at a
  fraction of the cost (Sec. 1 and 6; factor 4 for the middle network, 5 for the others).
* :class:`PreActResBlock` -- a pre-activation residual block (He et al. 2016, ref. [12] of the paper)
  with instance normalisation (the paper's; :data:`NORMS` lists the others), two 3x3 convolutions (optionally dilated) and one 1x1 convolution.
* :class:`FuseBlock` -- the pre-activation projection that maps a stage's features back to ``r**2``
  channels, i.e. to one full-resolution grayscale image after pixel shuffle.
* :class:`ResidualTrunk` -- the feature-refinement part: residual blocks grouped into stages, every
  stage's output kept for the stage fusion.
* :class:`ColourFusion` -- the last part, which sees the three separately refined colour channels
  together ("feature fusion works on colour images to compensate misalignments", Sec. 6).
* :func:`pad_to_multiple` / :func:`crop_to` -- let any input size through a network that needs
  sizes divisible by its resampling factor.

Layout details that the paper leaves to its supplementary material (the branch structure of a
block, the fusion blocks) follow the facts of the authors' public test-time code; the code here is
written from those facts, not copied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Dilations",
    "StagePlan",
    "pad_to_multiple",
    "crop_to",
    "space_to_depth",
    "depth_to_space",
    "ResamplingConv",
    "PreActResBlock",
    "FuseBlock",
    "ResidualTrunk",
    "ColourFusion",
    "make_stage_plan",
    "count_parameters",
    "NORMS",
    "COLOUR_BLOCKS",
]

Dilations = tuple[int, int]
"""Dilations of the first and the second 3x3 convolution of a :class:`PreActResBlock`."""

StagePlan = tuple[tuple[Dilations, ...], ...]
"""Stages of a :class:`ResidualTrunk`: for each stage, the dilation pair of each of its blocks."""


# --------------------------------------------------------------------------------------------------
# size helpers
# --------------------------------------------------------------------------------------------------


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "reflect") -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``x`` (``[..., H, W]``) at the bottom and right so that ``H`` and ``W`` divide by ``multiple``.

    Returns the padded tensor and the original ``(H, W)`` for :func:`crop_to`.  Reflect padding is
    used where it can be (it needs the pad to be smaller than the side); otherwise replicate.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    if mode == "reflect" and (ph >= h or pw >= w):
        mode = "replicate"
    lead = x.shape[:-3]
    x4 = x.reshape(-1, *x.shape[-3:]) if x.ndim != 4 else x
    padded = F.pad(x4, (0, pw, 0, ph), mode=mode)
    if x.ndim != 4:
        padded = padded.reshape(*lead, *padded.shape[-3:])
    return padded, (h, w)


def crop_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``size = (H, W)`` of ``x``."""
    h, w = size
    if x.shape[-2] == h and x.shape[-1] == w:
        return x
    return x[..., :h, :w]


def space_to_depth(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``[B, C, H, W] -> [B, C*r*r, H/r, W/r]``; channel ``c*r*r + i*r + j`` holds pixel ``(r*y+i, r*x+j)``."""
    return F.pixel_unshuffle(x, factor)


def depth_to_space(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Inverse of :func:`space_to_depth` (pixel shuffle)."""
    return F.pixel_shuffle(x, factor)


def count_parameters(module: nn.Module) -> int:
    """Number of distinct trainable parameters (a module shared in two places counts once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------------------
# layers
# --------------------------------------------------------------------------------------------------


NORMS = ("instance", "layer", "none")
"""Normalisations of the pre-activation blocks: ``"instance"`` (the paper's: per channel over the
image), ``"layer"`` (per image over all channels and positions: ``GroupNorm(1, C)``, whose statistics
come from ``C`` times more values, which matters on the 8x8 maps of small crops) and ``"none"``."""


def _norm(channels: int, kind: str = "instance") -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        return nn.GroupNorm(1, channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}; expected one of {NORMS}")


class ResamplingConv(nn.Module):
    """Space-to-depth by ``factor`` followed by a ``kernel_size`` convolution (Jin Sec. 6).

    ``in_channels`` counts the channels *before* the rearrangement (1 for the grayscale feature
    extraction of the Jin networks), so the convolution sees ``in_channels * factor**2`` channels.
    The input sides must divide by ``factor`` (see :func:`pad_to_multiple`).
    """

    def __init__(self, in_channels: int, out_channels: int, factor: int, kernel_size: int = 5, bias: bool = False):
        super().__init__()
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        self.factor = factor
        self.conv = nn.Conv2d(
            in_channels * factor * factor, out_channels, kernel_size, padding=kernel_size // 2, bias=bias
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(space_to_depth(x, self.factor))


class PreActResBlock(nn.Module):
    """Pre-activation residual block with instance norm (Jin Sec. 6; He et al. 2016).

    ``out = x + conv1x1(relu(norm(x))) + conv3x3_b(relu(norm(conv3x3_a(relu(norm(x))))))``

    The two 3x3 convolutions take the dilations ``dilations = (d_a, d_b)``; the 1x1 convolution is a
    parallel pre-activated branch beside the identity (the arrangement of the authors' public code).
    """

    def __init__(self, channels: int, dilations: Dilations = (1, 1), norm: str = "instance"):
        super().__init__()
        d_a, d_b = dilations
        self.dilations = (int(d_a), int(d_b))
        self.norm_1x1 = _norm(channels, norm)
        self.conv_1x1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.norm_a = _norm(channels, norm)
        self.conv_a = nn.Conv2d(channels, channels, 3, padding=d_a, dilation=d_a, bias=False)
        self.norm_b = _norm(channels, norm)
        self.conv_b = nn.Conv2d(channels, channels, 3, padding=d_b, dilation=d_b, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch_1x1 = self.conv_1x1(F.relu(self.norm_1x1(x)))
        branch_3x3 = self.conv_a(F.relu(self.norm_a(x)))
        branch_3x3 = self.conv_b(F.relu(self.norm_b(branch_3x3)))
        return x + branch_1x1 + branch_3x3

    def extra_repr(self) -> str:
        return f"dilations={self.dilations}"


class FuseBlock(nn.Module):
    """Pre-activated projection ``in_channels -> out_channels``: a 1x1 branch plus a 3x3 branch.

    Used to bring each refinement stage back to ``r**2`` channels (one grayscale image at full
    resolution after pixel shuffle) for the stage fusion of Jin Sec. 6.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = "instance"):
        super().__init__()
        self.norm_1x1 = _norm(in_channels, norm)
        self.conv_1x1 = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.norm_3x3 = _norm(in_channels, norm)
        self.conv_3x3 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_1x1(F.relu(self.norm_1x1(x))) + self.conv_3x3(F.relu(self.norm_3x3(x)))


def make_stage_plan(num_blocks: int, dilated: Sequence[Dilations], dilated_stages: int = 1) -> StagePlan:
    """Group ``num_blocks`` residual blocks into stages with the dilated ones in the middle.

    The ``len(dilated)`` dilated blocks sit in the centre, split evenly into ``dilated_stages``
    stages; the undilated blocks before and after them form one stage each (the extra block goes
    first when their number is odd).  The Jin middle network is
    ``make_stage_plan(12, ((1,2),(2,4),(4,8),(8,4),(4,2),(2,1)), 2)`` -> stages of 3/3/3/3 blocks;
    the frame-3/5 networks ``make_stage_plan(12, ((1,2),(4,8),(8,4),(2,1)), 1)`` -> 4/4/4; the
    frame-1/2/6/7 networks ``make_stage_plan(8, ..., 1)`` -> 2/4/2.
    """
    dilated = tuple((int(a), int(b)) for a, b in dilated)
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    if len(dilated) > num_blocks:
        raise ValueError(f"{len(dilated)} dilated blocks do not fit in {num_blocks} blocks")
    plain = num_blocks - len(dilated)
    before, after = math.ceil(plain / 2), plain // 2
    stages: list[tuple[Dilations, ...]] = []
    if before:
        stages.append(((1, 1),) * before)
    if dilated:
        n_st = max(1, min(int(dilated_stages), len(dilated)))
        bounds = [round(i * len(dilated) / n_st) for i in range(n_st + 1)]
        stages.extend(dilated[bounds[i] : bounds[i + 1]] for i in range(n_st))
    if after:
        stages.append(((1, 1),) * after)
    return tuple(stages)


class ResidualTrunk(nn.Module):
    """Feature refinement: :class:`PreActResBlock` stages run in sequence; returns every stage's output."""

    def __init__(self, channels: int, plan: StagePlan, norm: str = "instance"):
        super().__init__()
        if not plan or any(len(stage) == 0 for stage in plan):
            raise ValueError(f"every stage needs at least one block, got {plan}")
        self.plan = tuple(tuple(stage) for stage in plan)
        self.stages = nn.ModuleList(
            nn.Sequential(*(PreActResBlock(channels, d, norm) for d in stage)) for stage in self.plan
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


COLOUR_BLOCKS = ("residual", "branches")
"""The block inside a :class:`ColourFusion`: ``"residual"``, a :class:`PreActResBlock` (identity plus a
1x1 branch plus two 3x3 convolutions; the authors' middle network), or ``"branches"``, a
:class:`FuseBlock` of the same width (a 1x1 and a 3x3 pre-activated branch, no identity; the
authors' frame networks)."""


class ColourFusion(nn.Module):
    """Colour feature fusion (Jin Sec. 6): ``3 -> features`` conv, one block (:data:`COLOUR_BLOCKS`), ``-> 3`` conv.

    Its input is the three separately refined colour channels stacked as an RGB image; it returns a
    residual (the caller adds the global skip).  ``self.out`` is the last convolution: zeroing it
    zeroes the residual.
    """

    def __init__(self, features: int, channels: int = 3, norm: str = "instance", block: str = "residual"):
        super().__init__()
        if block not in COLOUR_BLOCKS:
            raise ValueError(f"unknown colour block {block!r}; expected one of {COLOUR_BLOCKS}")
        self.inp = nn.Conv2d(channels, features, 3, padding=1, bias=False)
        self.block = PreActResBlock(features, norm=norm) if block == "residual" else FuseBlock(features, features, norm)
        self.norm = _norm(features, norm)
        self.out = nn.Conv2d(features, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.norm(self.block(self.inp(x)))))
