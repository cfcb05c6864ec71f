"""Procedural high-frame-rate scenes: the synthetic training data of every later notebook.

Scene model
-----------
Each scene is a short exposure ``t in [-1/2, 1/2]`` (the middle of the exposure is ``t = 0``) of

* a **background**: a random crop, at a random scale and orientation, of a texture from a small
  bank of photographs that ship with scikit-image.  The camera **pans** over it at constant velocity
  (and zooms a little), so nearly every pixel moves; scenes in which most pixels are static make a
  per-frame loss collapse to "output = input";
* a few **sprites** (``min_sprites..max_sprites``) drawn over it in painter's order with alpha
  compositing, so later sprites occlude earlier ones.  A sprite is a rounded rectangle with
  *elliptical* corners: half-extents ``(bx, by)`` and corner radii ``kappa * (bx, by)``, so
  ``kappa = 1`` is an ellipse, ``kappa`` near 1 a superellipse-like "squircle" and small ``kappa``
  a near-rectangle.  Its coverage is analytic and anti-aliased (a 1-pixel ramp of a first-order
  signed distance) and is evaluated in the sprite's rotated local frame.  Its texture is a crop of
  another bank texture, sampled in the same local frame so it moves rigidly with the sprite, and
  optionally tinted.  It moves along ``p(t) = p0 + v t + a t^2 / 2`` and turns with
  ``theta(t) = theta0 + omega t``.

Layers are composited in linear irradiance (the bank is linearised with ``g^-1``), where partial
pixel coverage adds up physically.

Motion magnitudes are set by :attr:`SceneConfig.max_shift`: the pan and every sprite move by a
distance drawn from ``[0.25, 1] * max_shift`` pixels over the whole exposure, in a uniformly random
direction, and acceleration is budgeted so that a path never spans more than that.  Every
parameter whose sign flips under ``t -> -t`` (velocities, spins, the zoom rate) has a symmetric
distribution, so a scene and its time reverse are equally likely (the ambiguity of Jin Sec. 4).

Time discretisation (Jin et al. 2018)
-------------------------------------
The exposure is split into ``n_frames`` equal segments and each segment into ``subframes``
instants, rendered at their mid-times ``t_j = -1/2 + (j + 1/2) / (n_frames * subframes)``.  A sharp
frame is the linear-space average of its instants (Jin Eq. 2,
:func:`~blur2vid.core.formation.average_subframes`) and the blurry image the linear-space average of the
frames (Jin Eq. 1, :func:`~blur2vid.core.formation.synthesize_blur`), both seen through the configured
camera response ``g``, so ``blur == synthesize_blur(frames, crf)``.  With an odd ``n_frames`` the
middle frame is centred on ``t = 0``.  Rendering with ``(n_frames * subframes, 1)`` gives the
instants themselves: the same scene at sub-frame resolution.

Reproducibility
---------------
Every random number is drawn on the CPU from a ``torch.Generator`` seeded per *scene* with a seed
derived from the caller's seed and the scene's index (:func:`~blur2vid.core.seeding.derive_seed`), then
moved to the rendering device.  Scene ``j`` of a seed is therefore the same whatever the batch size
or device, and :func:`scene_batches` resumed at ``start=i`` continues exactly where it stopped.

Sections below: the configuration and the public functions; the texture bank; the random
parameters of a scene; the renderer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from blur2vid.core.formation import CameraResponse, average_subframes, get_crf, synthesize_blur
from blur2vid.core.seeding import derive_seed
from blur2vid.data.sample import Batch

__all__ = [
    "SceneConfig",
    "SCENE_FAMILIES",
    "scene_config",
    "TEXTURE_NAMES",
    "texture_bank",
    "texture_size_for",
    "sample_params",
    "render_params",
    "render_scenes",
    "scene_batches",
    "scene_set",
    "instant_times",
    "frame_times",
]

# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class SceneConfig:
    """What to render.  Sizes in pixels; ``sprite_size`` is a ``(min, max)`` fraction of the shorter
    image side giving a sprite's radius (ellipse) or half-extent (rounded rectangle) per axis.

    ``max_shift``: largest displacement, in pixels over the whole exposure, of the camera pan and of
    each sprite (motion magnitudes are drawn from ``[0.25, 1] * max_shift``).  ``zoom``: largest
    log-zoom of the camera over the exposure (only with ``pan``).  ``crf``: the camera response of
    Jin Eq. 1/2 (see :func:`~blur2vid.core.formation.get_crf`).  ``noise``: standard deviation of the
    Gaussian noise added to the blurry image (not to the sharp frames).
    """

    height: int = 64
    width: int = 64
    n_frames: int = 7
    subframes: int = 3
    min_sprites: int = 1
    max_sprites: int = 4
    sprite_size: tuple[float, float] = (0.15, 0.4)
    max_shift: float = 12.0
    pan: bool = True
    accel: bool = True
    rotate: bool = True
    crf: str | float | CameraResponse = "gamma2.2"
    noise: float = 0.0
    zoom: float = 0.05

    def __post_init__(self) -> None:
        for name in ("height", "width", "n_frames", "subframes"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("min_sprites", "max_sprites"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.min_sprites > self.max_sprites:
            raise ValueError(
                f"min_sprites must be <= max_sprites, got min_sprites={self.min_sprites!r} > "
                f"max_sprites={self.max_sprites!r}"
            )
        size = self.sprite_size
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(_is_real(s) for s in size)
        ):
            raise ValueError(f"sprite_size must be a pair (min, max) of finite numbers, got {size!r}")
        lo, hi = size
        if not 0 < lo <= hi:
            raise ValueError(f"sprite_size must satisfy 0 < min <= max, got {size!r}")
        if hi > 0.5:
            raise ValueError(
                f"sprite_size max must be <= 0.5 (a radius larger than half the shorter side is a "
                f"sprite larger than the frame), got {size!r}"
            )
        object.__setattr__(self, "sprite_size", (float(lo), float(hi)))
        for name in ("max_shift", "noise", "zoom"):
            value = getattr(self, name)
            if not _is_real(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("pan", "accel", "rotate"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        try:
            get_crf(self.crf)
        except (ValueError, TypeError) as err:
            raise ValueError(f"crf must name a camera response, got {self.crf!r} ({err})") from None

    @property
    def n_instants(self) -> int:
        """Rendered instants over the exposure: ``n_frames * subframes``."""
        return self.n_frames * self.subframes


SCENE_FAMILIES: dict[str, dict] = {
    "sprites": {},
    "pans": dict(min_sprites=0, max_sprites=0),
}
"""Named kinds of scene, as :class:`SceneConfig` settings over its defaults.

* ``"sprites"``: the camera pans over a textured background while 1-4 sprites move, turn and
  accelerate each in its own direction and occlude one another (the defaults);
* ``"pans"``: the camera pans (and zooms a little) over a textured background, nothing else moves:
  one motion for the whole frame, as in hand-held footage of a still scene.  A single temporal order
  per sequence (HyperCUT's) can only be inferred from the blur when the frame has one dominant
  motion; with several independent ones no global order is consistent for all of them.
"""


def scene_config(family: str = "sprites", **fields) -> SceneConfig:
    """A :class:`SceneConfig` of the named family (:data:`SCENE_FAMILIES`) with ``fields`` on top."""
    if family not in SCENE_FAMILIES:
        raise ValueError(f"unknown scene family {family!r}; expected one of {sorted(SCENE_FAMILIES)}")
    return SceneConfig(**{**SCENE_FAMILIES[family], **fields})



def _render_seeds(config: SceneConfig, seeds: list[int], device, seed_meta: int) -> Batch:
    params = sample_params(config, seeds)
    blur, frames = render_params(config, params, device)
    if config.noise > 0:
        noise = torch.stack(
            [torch.randn(blur.shape[1:], generator=torch.Generator().manual_seed(derive_seed(s, "noise"))) for s in seeds]
        )
        blur = (blur + config.noise * noise.to(blur.device)).clamp_(0.0, 1.0)
    meta = {
        "source": "scenes",
        "seed": seed_meta,
        "config": config,
        "params": params,
        "frame_times": frame_times(config).float(),
    }
    return Batch(blur=blur, frames=frames, meta=meta)


def _check_count(name: str, value) -> None:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def render_scenes(config: SceneConfig, batch_size: int, seed: int, device="cpu") -> Batch:
    """Render ``batch_size`` random scenes: ``frames`` are the sharp frames (Jin Eq. 2: each the
    linear-space average of ``subframes`` rendered instants), ``blur`` their blur through the camera
    response (Jin Eq. 1) plus Gaussian noise of std ``config.noise``.

    Scene ``j`` is drawn on the CPU from seed ``derive_seed(seed, j)``, so the result does not
    depend on the device (up to float rounding) and the first ``m`` scenes of
    ``render_scenes(c, n, s)`` are ``render_scenes(c, m, s)``.  ``meta`` holds ``seed``,
    ``params`` (the scene parameters, see :func:`sample_params`), ``config`` and ``frame_times``.
    """
    _check_count("batch_size", batch_size)
    return _render_seeds(config, [derive_seed(seed, j) for j in range(batch_size)], device, int(seed))


def scene_batches(config: SceneConfig, batch_size: int, seed: int, device="cpu", start: int = 0) -> Iterator[Batch]:
    """Endless stream of training batches: batch ``i`` is ``render_scenes(config, batch_size,
    derive_seed(seed, "batch", i))`` (``meta["batch_index"] = i``), so a run resumed with
    ``start=i`` continues identically."""
    _check_count("batch_size", batch_size)
    if not _is_int(start) or start < 0:
        raise ValueError(f"start must be an integer >= 0, got {start!r}")
    i = start
    while True:
        batch = render_scenes(config, batch_size, derive_seed(seed, "batch", i), device)
        batch.meta["batch_index"] = i
        yield batch
        i += 1


def scene_set(config: SceneConfig, n: int, seed: int, device="cpu", batch_size: int = 64) -> Batch:
    """A fixed (e.g. held-out) set of ``n`` scenes, rendered ``batch_size`` at a time and
    concatenated: the same scenes as ``render_scenes(config, n, seed)`` whatever ``batch_size``."""
    _check_count("n", n)
    _check_count("batch_size", batch_size)
    seeds = [derive_seed(seed, j) for j in range(n)]
    parts = [_render_seeds(config, seeds[i : i + batch_size], device, int(seed)) for i in range(0, n, batch_size)]
    if len(parts) == 1:
        return parts[0]
    params = {k: torch.cat([q.meta["params"][k] for q in parts]) for k in parts[0].meta["params"]}
    return Batch(
        blur=torch.cat([q.blur for q in parts]),
        frames=torch.cat([q.frames for q in parts]),
        meta=dict(parts[0].meta, params=params),
    )


# ----------------------------------------------------------------------------------------------
# the texture bank
# ----------------------------------------------------------------------------------------------
# The texture bank of the procedural scenes: photographs that ship with scikit-image.
#
# Each image is cropped to a centred square, contrast-stretched and resized once per size and device
# (:func:`texture_bank`); the renderer reads them side by side as one atlas in linear irradiance
# (``g^-1`` of the intensities), so a single ``grid_sample`` call reads any mix of them.

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


# ----------------------------------------------------------------------------------------------
# the random parameters of a scene
# ----------------------------------------------------------------------------------------------
# The random parameters of a procedural scene, drawn on the CPU from the scene's own seed.
#
# The scene model (background pan and zoom, sprites and their paths) is described in
# :mod:`blur2vid.data.scenes`; :func:`sample_params` turns one seed per scene into the tensors the
# renderer (:mod:`blur2vid.data.scenes`) reads.

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


# ----------------------------------------------------------------------------------------------
# the renderer
# ----------------------------------------------------------------------------------------------
# The renderer of the procedural scenes: scene parameters -> blurry image and sharp frames.
#
# Every per-instant map from output pixels to something (texture coordinates, sprite-local
# coordinates) is affine, ``f = a X + b Y + c`` with ``X, Y`` pixel centres measured from the image
# centre; the maps are stored as coefficient tensors ``[..., 3]`` and expanded to pixels with one
# broadcast add (:func:`_expand`).  The layers are composited front to back (the top sprite first),
# keeping the transmittance ``T`` of what is above, so a sprite's texture is sampled only where it
# is visible and the background is weighted by what the sprites leave of it; the result equals
# painter's-order "over" compositing.  Compositing happens in linear irradiance: the atlas holds
# ``g^-1`` of the textures.

def instant_times(config: SceneConfig) -> torch.Tensor:
    """Mid-times of the ``n_frames * subframes`` rendered instants, in ``(-1/2, 1/2)``."""
    n = config.n_instants
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5


def frame_times(config: SceneConfig) -> torch.Tensor:
    """Mid-times of the sharp frames; the middle one (odd ``n_frames``) is ``t = 0``."""
    n = config.n_frames
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5


_CPU_CHUNK_PIXELS = 1 << 20  # pixels x instants per chunk of scenes on the CPU (keeps data in cache)


def _expand(coef: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Affine maps ``coef [..., 3]`` evaluated at every pixel: ``[..., H, W]``."""
    a, b, c = coef[..., 0, None, None], coef[..., 1, None, None], coef[..., 2, None, None]
    return torch.add(a * xs, b * ys + c, out=out)


def _texture_norm(size: int) -> tuple[float, float]:
    """``(scale, shift)`` taking texture pixel coordinates (pixel centres ``0 .. S-1``) to the
    normalised coordinates of ``grid_sample`` with ``align_corners=False``."""
    return 2.0 / size, 1.0 / size - 1.0


def _to_atlas(grid: torch.Tensor, index: torch.Tensor, k_tex: int, size: int) -> torch.Tensor:
    """Texture-normalised lookups ``grid [..., 2]`` of textures ``index`` (broadcast against
    ``grid[..., 0]``) -> normalised atlas coordinates, in place.  Lookups are first clamped to
    their own texture (border padding), so none bleeds into a neighbour in the atlas."""
    bound = 1.0 - 1.0 / size
    grid.clamp_(-bound, bound)
    gx = grid[..., 0]
    # atlas x = (x + 1 + 2 index) / K - 1
    torch.add((1.0 + 2.0 * index.to(grid.dtype)) / k_tex - 1.0, gx, alpha=1.0 / k_tex, out=gx)
    return grid


def _sample(atlas: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear lookups of the atlas ``[3, 1, S, K*S]`` at ``grid [M, 2]`` (atlas coordinates):
    ``[3, M]``."""
    g = grid.view(1, 1, -1, 2).expand(3, 1, -1, 2)
    return F.grid_sample(atlas, g, align_corners=False).view(3, -1)


def _render_chunk(config: SceneConfig, p: dict, atlas: torch.Tensor, size: int, k_tex: int) -> torch.Tensor:
    """Linear irradiance of every instant: ``[3, B, N, H, W]``."""
    device = atlas.device
    h, w, n_t = config.height, config.width, config.n_instants
    b = p["bg_texture"].shape[0]
    per_scene = n_t * h * w
    t = instant_times(config).to(device=device, dtype=torch.float32)  # [N]
    xs = torch.arange(w, device=device, dtype=torch.float32) + (0.5 - w / 2)
    ys = (torch.arange(h, device=device, dtype=torch.float32) + (0.5 - h / 2))[:, None]
    half_tex = (size - 1) / 2

    trans = None  # transmittance of the sprites above, [B, N*H*W]; None while it is all ones
    layers = []  # (flat pixel indices, weighted colours [3, M]) of each sprite slot

    # --- sprites, top (last slot) first ---
    present = p["sprite_present"]
    for k in reversed(range(present.shape[1])):
        scenes = present[:, k].nonzero().squeeze(1)
        n = scenes.numel()
        if n == 0:
            continue
        full = n == b

        def pick(name, k=k, scenes=scenes, full=full):
            v = p[name][:, k]
            return v if full else v[scenes]

        bx, by = pick("sprite_half").unbind(-1)
        cx = torch.minimum(torch.clamp_min(pick("sprite_corner") * bx, 1.0), bx)
        cy = torch.minimum(torch.clamp_min(pick("sprite_corner") * by, 1.0), by)
        ang = pick("sprite_angle")[:, None] + pick("sprite_spin")[:, None] * t  # [n, N]
        pos = pick("sprite_position")[:, None] + pick("sprite_velocity")[:, None] * t[:, None]
        pos = pos + pick("sprite_accel")[:, None] * (0.5 * t * t)[:, None]  # [n, N, 2]
        cos, sin = torch.cos(ang), torch.sin(ang)
        px, py = pos.unbind(-1)
        # local = R(-theta) (X - p): lx = cos X + sin Y - (cos px + sin py); ly = -sin X + cos Y + (sin px - cos py)
        lmap = torch.stack(
            [torch.stack([cos, sin, -(cos * px + sin * py)], -1), torch.stack([-sin, cos, sin * px - cos * py], -1)], -2
        )  # [n, N, 2, 3]
        # texture coordinates u = centre + z * local, normalised per texture
        z = pick("sprite_tex_scale")
        t_scale, t_shift = _texture_norm(size)
        gmap = lmap * (t_scale * z)[:, None, None, None]
        gmap[..., 2] += ((half_tex + pick("sprite_tex_offset")) * t_scale + t_shift)[:, None]
        grid = torch.empty(n, n_t, h, w, 2, device=device)
        _expand(gmap[..., 0, :], xs, ys, out=grid[..., 0])
        _expand(gmap[..., 1, :], xs, ys, out=grid[..., 1])

        # coverage of a rounded rectangle with elliptical corners (radii cx, cy), inner half-extent
        # (bx - cx, by - cy): with m = (max(|lx| - (bx - cx), 0) / cx, same for y), the shape is
        # e = |m|^2 - 1 <= 0 and d = e / |grad e| its first-order signed distance in pixels.
        def edge(coef, c, inner):
            m = _expand(coef / c[:, None, None], xs, ys)
            return m.abs_().sub_(inner[:, None, None, None]).clamp_min_(0.0)

        mx, my = edge(lmap[..., 0, :], cx, bx / cx - 1), edge(lmap[..., 1, :], cy, by / cy - 1)
        e = (mx * mx).addcmul_(my, my).sub_(1.0)
        grad = torch.hypot(mx.mul_((2 / cx)[:, None, None, None]), my.mul_((2 / cy)[:, None, None, None]))
        neg_alpha = e.div_(grad).sub_(0.5).clamp_(-1.0, 0.0).view(n, per_scene)  # -clamp(1/2 - d, 0, 1)
        del mx, my, grad

        if trans is None and full:  # top layer over everything: weight alpha, T = 1 - alpha
            neg_w = neg_alpha
            trans = neg_alpha + 1.0
        else:
            if trans is None:
                trans = torch.ones(b, per_scene, device=device)
            tr = trans if full else trans[scenes]
            neg_w = neg_alpha.mul_(tr)  # -(alpha * T): this sprite's visible weight
            tr.add_(neg_w)  # T <- T (1 - alpha)
            if not full:
                trans[scenes] = tr
        idx = (neg_w.view(-1) != 0).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        row = torch.div(idx, per_scene, rounding_mode="floor")  # which sprite of the slot
        lookup = _to_atlas(grid.view(-1, 2).index_select(0, idx), (pick("sprite_texture") % k_tex)[row], k_tex, size)
        colour = _sample(atlas, lookup)  # [3, M]
        colour.mul_(neg_w.view(-1).index_select(0, idx).neg_()).mul_(pick("sprite_tint").t().index_select(1, row))
        if not full:
            idx = idx + (scenes.index_select(0, row) - row) * per_scene
        layers.append((idx, colour))

    # --- background: tex = centre + z(t) R(phi) (X - v t) ---
    zoom = p["bg_scale"][:, None] * torch.exp(-p["zoom_rate"][:, None] * t)  # [B, N]
    cos, sin = torch.cos(p["bg_angle"])[:, None], torch.sin(p["bg_angle"])[:, None]
    mx, my = (p["pan_velocity"][:, None] * t[:, None]).unbind(-1)  # camera displacement [B, N]
    t_scale, t_shift = _texture_norm(size)
    cen = (half_tex + p["bg_offset"]) * t_scale + t_shift  # [B, 2]
    zs = zoom * t_scale
    gmap = torch.stack(
        [
            torch.stack([zs * cos, -zs * sin, cen[:, 0:1] - zs * (cos * mx - sin * my)], -1),
            torch.stack([zs * sin, zs * cos, cen[:, 1:2] - zs * (sin * mx + cos * my)], -1),
        ],
        -2,
    )  # [B, N, 2, 3]
    grid = torch.empty(b, n_t, h, w, 2, device=device)
    _expand(gmap[..., 0, :], xs, ys, out=grid[..., 0])
    _expand(gmap[..., 1, :], xs, ys, out=grid[..., 1])
    _to_atlas(grid, (p["bg_texture"] % k_tex)[:, None, None, None], k_tex, size)
    background = _sample(atlas, grid.view(-1, 2)).view(3, b, per_scene)
    if trans is not None:
        background.mul_(trans)
    background.mul_(p["bg_tint"].t()[..., None])
    acc = background.view(3, -1)
    for idx, colour in layers:
        acc.index_add_(1, idx, colour)
    return acc.view(3, b, n_t, h, w)


def render_params(
    config: SceneConfig,
    params: dict[str, torch.Tensor],
    device="cpu",
    textures: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render the scenes described by ``params`` (as from :func:`sample_params`), without noise.

    ``n_frames * subframes`` instants are rendered in linear irradiance, averaged in groups of
    ``subframes`` into the sharp frames (Jin Eq. 2, :func:`~blur2vid.core.formation.average_subframes`
    in linear space) and the frames into the blur (Jin Eq. 1,
    :func:`~blur2vid.core.formation.synthesize_blur`), both through the camera response ``config.crf``,
    so ``blur == synthesize_blur(frames, config.crf)`` up to float rounding.  Returns
    ``(blur [B, 3, H, W], frames [B, n_frames, 3, H, W])``, camera intensities in ``[0, 1]``.

    ``textures`` (``[K, 3, S, S]`` intensities in ``[0, 1]``) replaces the built-in bank; texture
    indices are taken modulo ``K``.
    """
    device = _device_key(device)
    crf = get_crf(config.crf)
    with torch.no_grad():
        if textures is None:
            size, k_tex = texture_size_for(config), len(TEXTURE_NAMES)
            atlas = _linear_atlas_on(size, device, crf)
        else:
            if textures.ndim != 4 or textures.shape[1] != 3 or textures.shape[2] != textures.shape[3]:
                raise ValueError(f"textures must have shape [K, 3, S, S], got {tuple(textures.shape)}")
            size, k_tex = textures.shape[-1], textures.shape[0]
            atlas = _atlas(crf.inverse(textures.to(device=device, dtype=torch.float32)))
        b = params["bg_texture"].shape[0]
        per_scene = config.n_instants * config.height * config.width
        chunk = b if device.type != "cpu" else max(1, _CPU_CHUNK_PIXELS // per_scene)
        frames = []
        for s0 in range(0, b, chunk):
            part = {k: v[s0 : s0 + chunk].to(device) for k, v in params.items()}
            linear = _render_chunk(config, part, atlas, size, k_tex).permute(1, 2, 0, 3, 4)  # [b, N, 3, H, W]
            frames.append(average_subframes(linear, config.subframes, "linear"))  # Jin Eq. 2
        linear_frames = torch.cat(frames) if len(frames) > 1 else frames[0]
        blur = crf(synthesize_blur(linear_frames, "linear"))  # Jin Eq. 1: g(mean of irradiance)
        return blur, crf(linear_frames).contiguous()
