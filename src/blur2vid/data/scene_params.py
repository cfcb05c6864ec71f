"""The random parameters of a procedural scene, drawn on the CPU from the scene's own seed.

The scene model (background pan and zoom, sprites and their paths) is described in
:mod:`blur2vid.data.scenes`; :func:`sample_params` turns one seed per scene into the tensors the
renderer (:mod:`blur2vid.data.render`) reads.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from blur2vid.data.textures import TEXTURE_NAMES, texture_size_for

if TYPE_CHECKING:
    from blur2vid.data.scenes import SceneConfig

__all__ = ["sample_params"]

# Texture scale range: texture pixels per output pixel (kept near 1: little aliasing or blur).
_SCALE_RANGE = (0.7, 1.4)
_ACCEL_BUDGET = 0.3  # at most this fraction of a sprite's motion goes into the curved (a t^2/2) part
_MAX_SPIN = 1.0  # radians over the exposure

_N_BG = 12  # uniforms per scene for the background and the camera
_N_SPRITE = 20  # uniforms per sprite slot


def _n_uniforms(config: SceneConfig) -> int:
    return _N_BG + 1 + _N_SPRITE * config.max_sprites


def _unit(angle: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)


def _tint(strength: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """Per-channel gains in ``(0, 1]``: ``1`` (no tint) blended towards a random colour."""
    colour = 0.25 + 0.75 * colour
    colour = colour / colour.amax(dim=-1, keepdim=True)
    return 1.0 - strength[..., None] * (1.0 - colour)


def sample_params(config: SceneConfig, scene_seeds: torch.Tensor | list[int]) -> dict[str, torch.Tensor]:
    """Draw the parameters of one scene per seed: a dict of CPU tensors with leading dim ``B``
    (float32 unless noted; sprite entries are ``[B, max_sprites, ...]``).

    Each scene reads a fixed-length vector of uniforms from its own CPU ``torch.Generator``, so its
    parameters depend only on its seed and the config, and switching ``pan``/``accel``/``rotate`` off
    keeps everything else.  Positions are pixels from the image centre (x right, y down); velocities
    are displacements over the whole exposure (pixels), accelerations pixels per exposure squared;
    angles radians, spins radians per exposure.  ``sprite_half`` is the half-extent ``(bx, by)``
    and ``sprite_corner`` the corner fraction ``kappa`` (1: ellipse, small: near-rectangle);
    ``*_scale`` are texture pixels per output pixel, ``*_offset`` texture pixels from the texture
    centre, ``*_tint`` per-channel gains on the (linear) texture.
    """
    seeds = [int(s) for s in (scene_seeds.tolist() if isinstance(scene_seeds, torch.Tensor) else scene_seeds)]
    b, k_max = len(seeds), config.max_sprites
    u = torch.empty(b, _n_uniforms(config), dtype=torch.float64)
    for i, s in enumerate(seeds):
        u[i] = torch.rand(u.shape[1], generator=torch.Generator().manual_seed(s), dtype=torch.float64)
    bg, n_u, sp = u[:, :_N_BG], u[:, _N_BG], u[:, _N_BG + 1 :].reshape(b, k_max, _N_SPRITE)

    h, w = config.height, config.width
    size = texture_size_for(config)
    k_tex = len(TEXTURE_NAMES)
    half_tex = (size - 1) / 2
    shift = config.max_shift
    z_lo, z_hi = _SCALE_RANGE

    # background and camera: pan velocity and zoom rate are symmetric about 0 (time-reversal)
    bg_texture = (bg[:, 0] * k_tex).long().clamp_max(k_tex - 1)
    pan_speed = (0.25 + 0.75 * bg[:, 1]) * shift * float(config.pan)
    pan_velocity = pan_speed[:, None] * _unit(2 * math.pi * bg[:, 2])
    zoom_rate = config.zoom * (2 * bg[:, 3] - 1) * float(config.pan)
    bg_angle = 2 * math.pi * bg[:, 4]
    # farthest any output pixel ever looks from the crop centre, in output pixels
    reach = (math.hypot(h, w) / 2 + pan_speed / 2) * torch.exp(zoom_rate.abs() / 2) + 1
    bg_scale = (z_lo + (z_hi - z_lo) * bg[:, 5]).minimum((half_tex / reach).clamp_min(0.25))
    room = (half_tex - bg_scale * reach).clamp_min(0.0)
    bg_offset = (2 * bg[:, 6:8] - 1) * room[:, None]
    bg_tint = _tint(bg[:, 8], bg[:, 9:12])

    # sprites: every slot is drawn (fixed layout); slots past the scene's count are marked absent
    n_sprites = config.min_sprites + (n_u * (config.max_sprites - config.min_sprites + 1)).long()
    n_sprites = n_sprites.clamp_max(config.max_sprites)
    present = torch.arange(k_max)[None, :] < n_sprites[:, None]
    other = (sp[..., 0] * (k_tex - 1)).long().clamp_max(k_tex - 2)
    sprite_texture = (bg_texture[:, None] + 1 + other) % k_tex  # never the background's texture
    lo, hi = config.sprite_size
    half = (lo + (hi - lo) * sp[..., 1:3]) * min(h, w)
    kind = sp[..., 3]
    corner = torch.where(
        kind < 1 / 3,
        torch.ones_like(kind),  # ellipse
        torch.where(kind < 2 / 3, 0.55 + 0.4 * sp[..., 4], 0.1 + 0.4 * sp[..., 4]),  # squircle / rounded rect
    )
    position = (sp[..., 5:7] - 0.5) * 0.8 * torch.tensor([w, h], dtype=torch.float64)
    motion = (0.25 + 0.75 * sp[..., 7]) * shift
    bend = _ACCEL_BUDGET * sp[..., 9] * float(config.accel)
    # the path p0 + v t + a t^2/2 spans at most |v| + |a|/8 = motion over t in [-1/2, 1/2]
    velocity = ((1 - bend) * motion)[..., None] * _unit(2 * math.pi * sp[..., 8])
    accel = (8 * bend * motion)[..., None] * _unit(2 * math.pi * sp[..., 10])
    angle = 2 * math.pi * sp[..., 11]
    spin = ((2 * sp[..., 12] - 1) * 0.5 * shift / half.amax(dim=-1)).clamp(-_MAX_SPIN, _MAX_SPIN)
    spin = spin * float(config.rotate)
    reach = half.norm(dim=-1) + 1  # the sprite's support lies within this radius
    tex_scale = (z_lo + (z_hi - z_lo) * sp[..., 13]).minimum(half_tex / reach)
    tex_room = (half_tex - tex_scale * reach).clamp_min(0.0)
    tex_offset = (2 * sp[..., 14:16] - 1) * tex_room[..., None]
    sprite_tint = _tint(sp[..., 16], sp[..., 17:20])

    f32 = torch.float32
    return {
        "scene_seed": torch.tensor(seeds, dtype=torch.int64),
        "bg_texture": bg_texture,
        "bg_scale": bg_scale.to(f32),
        "bg_offset": bg_offset.to(f32),
        "bg_angle": bg_angle.to(f32),
        "pan_velocity": pan_velocity.to(f32),
        "zoom_rate": zoom_rate.to(f32),
        "bg_tint": bg_tint.to(f32),
        "n_sprites": n_sprites,
        "sprite_present": present,
        "sprite_texture": sprite_texture,
        "sprite_half": half.to(f32),
        "sprite_corner": corner.to(f32),
        "sprite_position": position.to(f32),
        "sprite_velocity": velocity.to(f32),
        "sprite_accel": accel.to(f32),
        "sprite_angle": angle.to(f32),
        "sprite_spin": spin.to(f32),
        "sprite_tex_scale": tex_scale.to(f32),
        "sprite_tex_offset": tex_offset.to(f32),
        "sprite_tint": sprite_tint.to(f32),
    }

