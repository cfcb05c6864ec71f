"""The networks of Jin, Meishvili and Favaro, CVPR 2018 (Sec. 5.2, 5.3, 6 and 7).

Seven frames ``x[1..7]`` are extracted from one blurry image ``y`` by four stages (Table 1):

1. the middle network ``phi_4``: ``x4 = phi_4(y)`` (:class:`MiddleNet`, Sec. 5.2 and 6);
2. two separate networks for the core pair: ``x3 = phi_3(x4, y)`` and ``x5 = phi_5(x4, x3, y)``
   (Table 1, step 2: frame 5 is told which frame ``phi_3`` chose);
3. one network shared by both sides: ``x2 = phi_2(x3, x4, y)`` and ``x6 = phi_2(x5, x4, y)``;
4. one network shared by both sides: ``x1 = phi_1(x2, x3, y)`` and ``x7 = phi_1(x6, x5, y)``
   (Sec. 5.3: ``phi_i(phi_{i+1}(y), phi_{i+2}(y), y)`` and ``phi_{8-i}(phi_{7-i}(y), phi_{6-i}(y), y)``
   with ``phi_i`` and ``phi_{8-i}`` sharing weights for ``i = 1, 2``).

Every network (Sec. 6) extracts features with a resampling convolution (space-to-depth by 4 for the
middle network, by 5 for the others) from each colour channel *separately* with the same grayscale
weights, refines them with pre-activation residual blocks (the middle ones dilated) grouped into
stages, fuses every stage back to one grayscale image per colour channel, and only then fuses the
three colour channels.  Global skips: the middle network predicts a residual on the blurry input;
the other networks predict a residual on their nearest reference frame (``x4`` for frames 3 and 5,
``x3``/``x5`` for frames 2/6, ``x2``/``x6`` for frames 1/7), as the authors' public code does.

Teacher forcing (Sec. 7): :meth:`JinCascade.forward` takes ground-truth frames (``middle=`` or
``given={index: frame}``) to use in place of the estimates of earlier stages.

Default sizes (:class:`JinConfig`) give about 5.0M parameters for the middle network and about 18M
for the cascade (paper Table 3: 5M and 17M).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from blur2vid.models.blocks import (
    COLOUR_BLOCKS,
    NORMS,
    ColourFusion,
    Dilations,
    FuseBlock,
    ResamplingConv,
    ResidualTrunk,
    StagePlan,
    count_parameters,
    crop_to,
    depth_to_space,
    make_stage_plan,
    pad_to_multiple,
    space_to_depth,
)
from blur2vid.models.presets import Presets

__all__ = ["COLOUR_SKIPS", "JinConfig", "MiddleNet", "FrameNet", "JinCascade", "STAGES"]

STAGES: tuple[str, ...] = ("middle", "3_5", "2_6", "1_7")
"""Names of the cascade's stages, in the order they run; ``"i_j"`` yields frames ``i`` and ``j``."""

COLOUR_SKIPS = ("input", "refined")
"""What the colour fusion's output is a residual on: ``"input"``, the global skip (the blurry input, or
the nearest reference frame), as in the authors' code, so the refined image reaches the output only
through the colour fusion; or ``"refined"``, the refined image itself (itself the skip plus the
stages' residuals), so the trunk has a direct path to the output."""

_MIDDLE_DILATIONS: tuple[Dilations, ...] = ((1, 2), (2, 4), (4, 8), (8, 4), (4, 2), (2, 1))
_FRAME_DILATIONS: tuple[Dilations, ...] = ((1, 2), (4, 8), (8, 4), (2, 1))


@dataclass(frozen=True)
class JinConfig(Presets):
    """Sizes of the Jin et al. networks.  Defaults are the paper's (Sec. 6 and the public code).

    Middle network: ``middle_features`` channels after a space-to-depth by ``middle_factor``,
    ``middle_blocks`` residual blocks of which the central ``len(middle_dilations)`` are dilated and
    split into ``middle_dilated_stages`` stages (default: 4 stages of 3 blocks).

    Frame networks: ``frame_blur_features`` from the blurry input plus ``frame_ref_features`` from
    each of the two reference frames, after a space-to-depth by ``frame_factor``; ``blocks_3_5``
    blocks for the frame-3 and frame-5 networks, ``blocks_outer`` for the 2/6 and 1/7 networks,
    the central ``len(frame_dilations)`` dilated, in ``frame_dilated_stages`` stages.

    ``share_outer_stages=True`` uses one network for all of frames 1, 2, 6, 7 (Sec. 7 says the
    pair-wise networks of these frames can share parameters); the default follows Sec. 5.3 and the
    public code: one network for 2/6 and another for 1/7.  ``zero_init_residual=True`` zeroes the
    last convolution of every network so that each starts as its global skip (an identity);
    ``residual_init_scale`` > 0 scales it down to that fraction of its random initialisation instead
    (near the skip, but the frame-3 and frame-5 networks no longer start identical, so the
    ``|x3 - x5|`` term of Eq. 5 has a gradient from the first step).
    ``colour_skip``: what the colour fusion adds its residual to (:data:`COLOUR_SKIPS`; the paper's code:
    the global skip).
    ``norm``: the normalisation of every block (:data:`~blur2vid.models.blocks.NORMS`; the paper's is
    instance norm).
    ``frame_colour_block``: the block in the frame networks' colour fusion
    (:data:`~blur2vid.models.blocks.COLOUR_BLOCKS`): ``"branches"`` in the authors' code (and so in
    their released weights, :mod:`blur2vid.models.jin_authors`), ``"residual"`` in the ``cpu`` and
    ``smoke`` presets, whose runs were trained with it before the authors' layout was followed here.
    """

    middle_factor: int = 4
    middle_features: int = 144
    middle_blocks: int = 12
    middle_dilations: tuple[Dilations, ...] = _MIDDLE_DILATIONS
    middle_dilated_stages: int = 2
    middle_colour_features: int = 64

    frame_factor: int = 5
    frame_blur_features: int = 64
    frame_ref_features: int = 32
    blocks_3_5: int = 12
    blocks_outer: int = 8
    frame_dilations: tuple[Dilations, ...] = _FRAME_DILATIONS
    frame_dilated_stages: int = 1
    frame_colour_features: int = 32

    extract_kernel: int = 5
    share_outer_stages: bool = False
    zero_init_residual: bool = False
    norm: str = "instance"
    residual_init_scale: float = 0.0
    colour_skip: str = "input"
    frame_colour_block: str = "branches"

    def __post_init__(self) -> None:
        if self.frame_colour_block not in COLOUR_BLOCKS:
            raise ValueError(f"unknown frame_colour_block {self.frame_colour_block!r}; expected one of {COLOUR_BLOCKS}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown normalisation {self.norm!r}; expected one of {NORMS}")
        if self.colour_skip not in COLOUR_SKIPS:
            raise ValueError(f"unknown colour_skip {self.colour_skip!r}; expected one of {COLOUR_SKIPS}")

    # ---- presets ------------------------------------------------------------------------------
    @classmethod
    def paper(cls, **overrides) -> JinConfig:
        """The paper's sizes (the defaults)."""
        return replace(cls(), **overrides)

    @classmethod
    def cpu(cls, **overrides) -> JinConfig:
        """Narrow and shallow: trains on a laptop CPU on 40 px crops (about 0.67M parameters).

        Layer norm instead of the paper's instance norm: on the 10x10 and 8x8 maps of 40 px crops an
        instance norm's statistics come from 100 or 64 values per channel, too few to normalise
        by (``benchmarks/jin_design.py`` measured the choice; its record is in ``docs/probes.md``)."""
        base = cls(
            norm="layer",
            middle_features=32,
            middle_blocks=6,
            middle_dilations=((1, 2), (2, 4), (4, 2), (2, 1)),
            middle_dilated_stages=2,
            middle_colour_features=16,
            frame_blur_features=16,
            frame_ref_features=8,
            blocks_3_5=4,
            blocks_outer=4,
            frame_dilations=((1, 2), (2, 1)),
            frame_dilated_stages=1,
            frame_colour_features=16,
            frame_colour_block="residual",
        )
        return replace(base, **overrides)

    @classmethod
    def smoke(cls, **overrides) -> JinConfig:
        """Tiny: for tests and notebook smoke runs only."""
        base = cls(
            middle_features=16,
            middle_blocks=3,
            middle_dilations=((1, 2),),
            middle_dilated_stages=1,
            middle_colour_features=8,
            frame_blur_features=8,
            frame_ref_features=4,
            blocks_3_5=3,
            blocks_outer=3,
            frame_dilations=((1, 2),),
            frame_colour_features=8,
            frame_colour_block="residual",
        )
        return replace(base, **overrides)

    # ---- derived ------------------------------------------------------------------------------
    @property
    def middle_plan(self) -> StagePlan:
        return make_stage_plan(self.middle_blocks, self.middle_dilations, self.middle_dilated_stages)

    @property
    def plan_3_5(self) -> StagePlan:
        return make_stage_plan(self.blocks_3_5, self.frame_dilations, self.frame_dilated_stages)

    @property
    def plan_outer(self) -> StagePlan:
        return make_stage_plan(self.blocks_outer, self.frame_dilations, self.frame_dilated_stages)

    def middle_identity(self) -> dict:
        """The fields that decide the middle network (part of its runs' keys: a run of the frame
        networks' sizes shares its middle network)."""
        return {k: v for k, v in asdict(self).items()
                if k.startswith("middle_") or k in ("extract_kernel", "zero_init_residual", "norm", "residual_init_scale", "colour_skip")}

    @property
    def frame_features(self) -> int:
        return self.frame_blur_features + 2 * self.frame_ref_features



def _to_gray_batch(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W] -> [B*C, 1, H, W]``: each colour channel becomes its own grayscale image."""
    b, c, h, w = x.shape
    return x.reshape(b * c, 1, h, w)


def _from_gray_batch(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Inverse of :func:`_to_gray_batch`."""
    bc, _, h, w = x.shape
    return x.reshape(bc // channels, channels, h, w)


class _ResamplingNet(nn.Module):
    """What the Jin networks share (Sec. 6): trunk, stage fusion to ``r**2`` channels, colour fusion."""

    factor: int

    def __init__(self, features: int, factor: int, plan: StagePlan, colour_features: int, zero_init: bool,
                 norm: str = "instance", init_scale: float = 0.0, colour_skip: str = "input",
                 colour_block: str = "residual"):
        super().__init__()
        self.factor = factor
        self.colour_skip = colour_skip
        self.trunk = ResidualTrunk(features, plan, norm)
        self.fuse = nn.ModuleList(FuseBlock(features, factor * factor, norm) for _ in plan)
        self.colour = ColourFusion(colour_features, norm=norm, block=colour_block)
        if zero_init:  # scaled down (init_scale) or zeroed: the network starts at (or near) its global skip
            last = [self.colour.out]
            if colour_skip == "refined":  # the refined image is then on the output's path: start it at the skip
                last += [conv for f in self.fuse for conv in (f.conv_1x1, f.conv_3x3)]
            with torch.no_grad():
                for conv in last:
                    conv.weight.mul_(float(init_scale))

    def _output(self, refined: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """The colour fusion's residual on the global skip (the paper's code), or on the refined image."""
        return self.colour(refined) + (skip if self.colour_skip == "input" else refined)

    def _refine(self, features: torch.Tensor, skip_gray: torch.Tensor, channels: int) -> torch.Tensor:
        """Trunk + stage fusion; ``skip_gray`` is the ``[B*C, 1, H, W]`` image added before pixel shuffle."""
        stages = self.trunk(features)
        low = space_to_depth(skip_gray, self.factor)
        for fuse, h in zip(self.fuse, stages, strict=True):
            low = low + fuse(h)
        return _from_gray_batch(depth_to_space(low, self.factor), channels)


class MiddleNet(_ResamplingNet):
    """``phi_4``: the middle-frame network of Jin Sec. 5.2 and 6 (``y -> x4``, residual on ``y``).

    Resampling convolution (factor 4, ``features`` = 144) on each colour channel with shared
    grayscale weights; 12 pre-activation residual blocks (the central 6 dilated) in 4 stages; every
    stage fused back to ``4*4`` channels and summed with the space-to-depth input, pixel shuffle;
    colour fusion; plus the blurry input.  Any ``H, W`` (reflect-padded to a multiple of 4).
    """

    def __init__(self, config: JinConfig | None = None):
        cfg = config or JinConfig()
        super().__init__(
            cfg.middle_features, cfg.middle_factor, cfg.middle_plan, cfg.middle_colour_features, cfg.zero_init_residual,
            cfg.norm, cfg.residual_init_scale, cfg.colour_skip,
        )
        self.config = cfg
        self.extract = ResamplingConv(1, cfg.middle_features, cfg.middle_factor, cfg.extract_kernel)

    def grayscale(self, y: torch.Tensor) -> torch.Tensor:
        """The three separately refined colour channels, before colour fusion: ``[B, C, H, W]``.

        Channel ``c`` depends on input channel ``c`` only (same weights for every channel).
        """
        yp, size = pad_to_multiple(y, self.factor)
        gray = _to_gray_batch(yp)
        return crop_to(self._refine(self.extract(gray), gray, y.shape[1]), size)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        yp, size = pad_to_multiple(y, self.factor)
        gray = _to_gray_batch(yp)
        refined = self._refine(self.extract(gray), gray, y.shape[1])
        return crop_to(self._output(refined, yp), size)


class FrameNet(_ResamplingNet):
    """A non-middle network ``phi_i(ref_a, ref_b, y)`` of Jin Sec. 5.3 and 6.

    ``ref_a`` is the nearest reference frame (``x4`` for frames 3 and 5, ``x3``/``x5`` for 2/6,
    ``x2``/``x6`` for 1/7); the output is a residual on it.  ``ref_b`` is the second reference
    (``x3`` for frame 5, ``x4`` for 2/6, ``x3``/``x5`` for 1/7); frame 3 has none, and ``ref_b=None``
    then feeds ``ref_a`` in its place, as the public code does.

    The blurry input and the two references go through separate resampling convolutions (factor 5;
    64, 32 and 32 features by default), whose outputs are concatenated; then the trunk (``plan``),
    stage fusion to ``5*5`` channels summed with the space-to-depth ``ref_a``, pixel shuffle, colour
    fusion, plus ``ref_a``.  As in the middle network, every colour channel goes through the same
    grayscale weights until the colour fusion.
    """

    def __init__(self, config: JinConfig | None = None, plan: StagePlan | None = None):
        cfg = config or JinConfig()
        plan = plan if plan is not None else cfg.plan_3_5
        super().__init__(
            cfg.frame_features, cfg.frame_factor, plan, cfg.frame_colour_features, cfg.zero_init_residual, cfg.norm,
            cfg.residual_init_scale, cfg.colour_skip, cfg.frame_colour_block,
        )
        self.config = cfg
        r, k = cfg.frame_factor, cfg.extract_kernel
        self.extract_blur = ResamplingConv(1, cfg.frame_blur_features, r, k)
        self.extract_ref_a = ResamplingConv(1, cfg.frame_ref_features, r, k)
        self.extract_ref_b = ResamplingConv(1, cfg.frame_ref_features, r, k)

    def _features(self, grays: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        y, a, b = grays
        return torch.cat((self.extract_blur(y), self.extract_ref_a(a), self.extract_ref_b(b)), dim=1)

    def _prepare(self, y, ref_a, ref_b):
        if ref_b is None:
            ref_b = ref_a
        if not (y.shape == ref_a.shape == ref_b.shape):
            raise ValueError(f"shapes differ: y {tuple(y.shape)}, ref_a {tuple(ref_a.shape)}, ref_b {tuple(ref_b.shape)}")
        size = y.shape[-2:]
        padded = [pad_to_multiple(t, self.factor)[0] for t in (y, ref_a, ref_b)]
        return padded, (int(size[0]), int(size[1]))

    def grayscale(self, y: torch.Tensor, ref_a: torch.Tensor, ref_b: torch.Tensor | None = None) -> torch.Tensor:
        """The separately refined colour channels, before colour fusion: ``[B, C, H, W]``."""
        (yp, ap, bp), size = self._prepare(y, ref_a, ref_b)
        grays = (_to_gray_batch(yp), _to_gray_batch(ap), _to_gray_batch(bp))
        return crop_to(self._refine(self._features(grays), grays[1], y.shape[1]), size)

    def forward(self, y: torch.Tensor, ref_a: torch.Tensor, ref_b: torch.Tensor | None = None) -> torch.Tensor:
        (yp, ap, bp), size = self._prepare(y, ref_a, ref_b)
        grays = (_to_gray_batch(yp), _to_gray_batch(ap), _to_gray_batch(bp))
        refined = self._refine(self._features(grays), grays[1], y.shape[1])
        return crop_to(self._output(refined, ap), size)


class JinCascade(nn.Module):
    """The full model of Jin et al. (Table 1, Sec. 5.3 and 7): one blurry image -> 7 frames.

    Networks: ``middle`` (``phi_4``), ``net3``, ``net5`` (separate), ``net26`` (frames 2 and 6,
    shared), ``net17`` (frames 1 and 7, shared; the same module as ``net26`` when
    ``config.share_outer_stages``).  :meth:`network_for` maps a frame index to its network.

    ``forward(y)`` returns ``[B, 7, C, H, W]`` (frame ``i`` at index ``i - 1``).  Each network pads its
    inputs to a multiple of its own factor and crops back, so the cascade equals the composition of
    its networks run on their own, and a middle network trained alone gives the same ``x4`` here.
    """

    def __init__(self, config: JinConfig | None = None):
        super().__init__()
        cfg = config or JinConfig()
        self.config = cfg
        self.middle = MiddleNet(cfg)
        self.net3 = FrameNet(cfg, cfg.plan_3_5)
        self.net5 = FrameNet(cfg, cfg.plan_3_5)
        self.net26 = FrameNet(cfg, cfg.plan_outer)
        self.net17 = self.net26 if cfg.share_outer_stages else FrameNet(cfg, cfg.plan_outer)

    def network_for(self, frame: int) -> nn.Module:
        """The network that produces frame ``frame`` (1..7)."""
        nets = {1: self.net17, 2: self.net26, 3: self.net3, 4: self.middle, 5: self.net5, 6: self.net26, 7: self.net17}
        if frame not in nets:
            raise ValueError(f"frame must be in 1..7, got {frame}")
        return nets[frame]

    def parameter_counts(self) -> dict[str, int]:
        """Distinct parameters per network and in total (shared networks counted once)."""
        counts = {
            "middle": count_parameters(self.middle),
            "net3": count_parameters(self.net3),
            "net5": count_parameters(self.net5),
            "net26": count_parameters(self.net26),
            "net17": count_parameters(self.net17),
        }
        counts["total"] = count_parameters(self)
        return counts

    # ---- single stages, for stage-wise training (any size; each network pads for itself) ----------
    def predict_middle(self, y: torch.Tensor) -> torch.Tensor:
        """Stage 1: ``x4 = phi_4(y)``."""
        return self.middle(y)

    def predict_3_5(
        self, y: torch.Tensor, x4: torch.Tensor, x3: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 2: ``x3 = phi_3(x4, y)``, ``x5 = phi_5(x4, x3, y)``; a given ``x3`` is used, not estimated."""
        if x3 is None:
            x3 = self.net3(y, x4)
        return x3, self.net5(y, x4, x3)

    def predict_2_6(
        self, y: torch.Tensor, x3: torch.Tensor, x4: torch.Tensor, x5: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 3, one shared network: ``x2 = phi(x3, x4, y)``, ``x6 = phi(x5, x4, y)``."""
        return self.net26(y, x3, x4), self.net26(y, x5, x4)

    def predict_1_7(
        self, y: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor, x5: torch.Tensor, x6: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 4, one shared network: ``x1 = phi(x2, x3, y)``, ``x7 = phi(x6, x5, y)``."""
        return self.net17(y, x2, x3), self.net17(y, x6, x5)

    def forward(
        self,
        y: torch.Tensor,
        middle: torch.Tensor | None = None,
        given: Mapping[int, torch.Tensor] | None = None,
        return_stages: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Extract 7 frames from ``y`` (``[B, C, H, W]``) -> ``[B, 7, C, H, W]``.

        ``middle``: a frame (e.g. the ground truth ``x[4]``) to use instead of ``phi_4(y)`` -- the
        teacher forcing of Sec. 7; ``phi_4`` is then not run and the returned frame 4 *is* ``middle``.
        ``given``: ``{frame index: tensor}`` -- more ground-truth frames to use in place of estimates
        (a given frame is not estimated; it is returned as given and fed to the later stages).
        ``middle`` is shorthand for ``given={4: middle}``.

        With ``return_stages=True`` also returns ``{"middle": [B,1,C,H,W], "3_5": [B,2,C,H,W],
        "2_6": ..., "1_7": ...}``, the frames each stage produced (or was given), in frame order.
        """
        known: dict[int, torch.Tensor] = dict(given or {})
        if middle is not None:
            if 4 in known and known[4] is not middle:
                raise ValueError("frame 4 passed both as middle= and in given=")
            known[4] = middle
        for index, frame in known.items():
            if index not in range(1, 8):
                raise ValueError(f"given frame indices must be in 1..7, got {index}")
            if frame.shape != y.shape:
                raise ValueError(f"given frame {index} has shape {tuple(frame.shape)}, y has {tuple(y.shape)}")

        x = dict(known)
        if 4 not in x:
            x[4] = self.predict_middle(y)
        if 3 not in x:
            x[3] = self.net3(y, x[4])
        if 5 not in x:
            x[5] = self.net5(y, x[4], x[3])
        if 2 not in x:
            x[2] = self.net26(y, x[3], x[4])
        if 6 not in x:
            x[6] = self.net26(y, x[5], x[4])
        if 1 not in x:
            x[1] = self.net17(y, x[2], x[3])
        if 7 not in x:
            x[7] = self.net17(y, x[6], x[5])

        frames = torch.stack([x[i] for i in range(1, 8)], dim=1)
        if not return_stages:
            return frames
        stages = {
            "middle": frames[:, 3:4],
            "3_5": frames[:, [2, 4]],
            "2_6": frames[:, [1, 5]],
            "1_7": frames[:, [0, 6]],
        }
        return frames, stages
