"""The texture bank of the procedural scenes: photographs that ship with scikit-image.

Each image is cropped to a centred square, contrast-stretched and resized once per size and device
(:func:`texture_bank`); the renderer reads them side by side as one atlas in linear irradiance
(``g^-1`` of the intensities), so a single ``grid_sample`` call reads any mix of them.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from blur2vid.formation import CameraResponse

if TYPE_CHECKING:
    from blur2vid.data.scenes import SceneConfig

__all__ = ["TEXTURE_NAMES", "texture_bank", "texture_size_for"]

#: Images of ``skimage.data`` that ship inside the scikit-image wheel (no download needed).
TEXTURE_NAMES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "brick",
    "grass",
    "gravel",
    "camera",
    "coins",
    "hubble_deep_field",
    "moon",
    "page",
)


def texture_size_for(config: SceneConfig) -> int:
    """Side of the bank textures used for a config: four times the longer image side, rounded up to
    a multiple of 64 and kept in ``[128, 512]`` (256 at the default 64 x 64)."""
    s = 4 * max(config.height, config.width)
    return int(min(512, max(128, 64 * math.ceil(s / 64))))


@functools.lru_cache(maxsize=4)
def _bank_cpu(size: int) -> torch.Tensor:
    import numpy as np
    import skimage.data

    textures = []
    for name in TEXTURE_NAMES:
        img = np.asarray(getattr(skimage.data, name)(), dtype=np.float32) / 255.0
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3]
        h, w = img.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        img = img[top : top + side, left : left + side]
        # contrast stretch: 1st..99th percentile -> [0.03, 0.97] (lifts the flat "moon" texture)
        lo, hi = np.percentile(img, [1.0, 99.0])
        img = np.clip((img - lo) / max(hi - lo, 1e-3) * 0.94 + 0.03, 0.0, 1.0)
        t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
        t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        textures.append(t.clamp(0.0, 1.0))
    return torch.cat(textures).contiguous()


def _device_key(device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


@functools.lru_cache(maxsize=8)
def _bank_on(size: int, device: torch.device) -> torch.Tensor:
    return _bank_cpu(size).to(device)


def texture_bank(size: int = 256, device="cpu") -> torch.Tensor:
    """The texture bank ``[K, 3, size, size]`` (K = ``len(TEXTURE_NAMES)``), built once per size and
    device: a centred square crop of each image, contrast-stretched, resized with antialiasing;
    grayscale images are repeated to three channels (scenes tint them)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    return _bank_on(size, _device_key(device))


def _atlas(textures: torch.Tensor) -> torch.Tensor:
    """``[K, 3, S, S]`` -> ``[3, 1, S, K*S]``: the textures side by side, one plane per channel, so
    one ``grid_sample`` call reads any mix of them (lookups are clamped inside their own texture, so
    none bleeds into its neighbour)."""
    k, c, s, _ = textures.shape
    return textures.permute(1, 2, 0, 3).reshape(c, 1, s, k * s).contiguous()


@functools.lru_cache(maxsize=8)
def _linear_atlas_on(size: int, device: torch.device, crf: CameraResponse) -> torch.Tensor:
    """The bank as linear irradiance (``g^-1`` of the intensities), laid out by :func:`_atlas`."""
    return _atlas(crf.inverse(_bank_on(size, device)))

