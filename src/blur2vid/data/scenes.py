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
:func:`~blur2vid.formation.average_subframes`) and the blurry image the linear-space average of the
frames (Jin Eq. 1, :func:`~blur2vid.formation.synthesize_blur`), both seen through the configured
camera response ``g``, so ``blur == synthesize_blur(frames, crf)``.  With an odd ``n_frames`` the
middle frame is centred on ``t = 0``.  Rendering with ``(n_frames * subframes, 1)`` gives the
instants themselves: the same scene at sub-frame resolution.

Reproducibility
---------------
Every random number is drawn on the CPU from a ``torch.Generator`` seeded per *scene* with a seed
derived from the caller's seed and the scene's index (:func:`~blur2vid.seeding.derive_seed`), then
moved to the rendering device.  Scene ``j`` of a seed is therefore the same whatever the batch size
or device, and :func:`scene_batches` resumed at ``start=i`` continues exactly where it stopped.

Modules: this one holds the configuration and the public functions; the texture bank is in
:mod:`blur2vid.data.textures`, the random parameters in :mod:`blur2vid.data.scene_params` and the
renderer in :mod:`blur2vid.data.render` (their public names are re-exported here).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from blur2vid.data.render import frame_times, instant_times, render_params
from blur2vid.data.sample import Batch
from blur2vid.data.scene_params import sample_params
from blur2vid.data.textures import TEXTURE_NAMES, texture_bank, texture_size_for
from blur2vid.formation import CameraResponse, get_crf
from blur2vid.seeding import derive_seed

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
    Jin Eq. 1/2 (see :func:`~blur2vid.formation.get_crf`).  ``noise``: standard deviation of the
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
