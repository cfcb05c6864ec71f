"""Training data that looks like real captures: a moving camera, moving objects, a camera's response,
sensor noise and JPEG.  Beside :mod:`blur2vid.data.scenes` (the notebooks' clean camera pans), for a
model meant for real photographs (the shipped model; not yet used by any notebook).

A scene is an exposure ``t in [-1/2, 1/2]`` of

* a **background**: a crop of a photograph that ships with scikit-image
  (:data:`~blur2vid.data.scenes.TEXTURE_NAMES`; never ``clock_motion.png`` or
  ``no_time_for_that_tiny.gif``, which are kept for evaluation), seen by a **camera** that moves
  along a trajectory: a translation of ``camera_motion * m * max_motion`` pixels over the exposure in a
  random direction, a shake (two sinusoids per axis, amplitude ``shake`` times the translation), a
  rotation of up to ``max_rotation`` degrees and a zoom of up to ``max_zoom``;
* up to ``objects`` **objects** cut from other photographs with soft masks (superellipses with a
  ramp of ``edge`` pixels), each moving on its own by up to ``m * max_motion`` pixels and turning a
  little, composited over the background and over each other in painter's order (occlusion), in
  linear irradiance.  ``m``, drawn per scene from ``scene_motion``, makes small blurs as common as
  large ones: a model that has seen only large motions sharpens a still photograph too.

Time: ``n_frames`` frames of ``subframes`` instants each, rendered at their mid-times; a sharp frame
is the linear mean of its instants and the blur the linear mean of the frames (Jin Eq. 1 and 2).
Then, each a switch: a **camera response** (``crf="random"``: sRGB or a gamma in [1.8, 2.6] per
scene; or one fixed name), **Poisson-Gaussian noise** on the blurry image in linear units (shot
noise of ``photons`` full-well photons, plus read noise), and **JPEG** compression of the blurry
image at a random quality.  The sharp frames get the response only: they are the targets.
Three more switches, off by default (so the default scenes, and the shipped model's training data,
stay what they were): ``minify`` shows the photographs at 1 to 8 source pixels per output pixel
(dense, aliased detail like downsampled video), ``clean`` leaves a share of the scenes
without noise and JPEG, and ``still`` a share of them without any motion (a sharp photograph, whose
frames are all the blur).

Every parameter whose sign flips under ``t -> -t`` is drawn symmetrically, so a scene and its time
reverse are equally likely.  Each scene's numbers come from a CPU generator seeded by the caller's
seed and the scene's index, so scene ``j`` is the same whatever the batch size or device; the
rendering runs on the given device, JPEG on the CPU (the image is moved there and back).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from blur2vid.core.formation import CameraResponse, get_crf
from blur2vid.core.seeding import derive_seed
from blur2vid.data.sample import Batch
from blur2vid.data.scenes import texture_bank

__all__ = ["CaptureConfig", "render_captures", "poisson_gaussian", "jpeg", "composite", "soft_mask",
           "camera_path", "scene_crf"]

_SRGB = CameraResponse("srgb")


@dataclass(frozen=True)
class CaptureConfig:
    """Every switch of the capture-like scenes, with its default."""

    size: int = 64
    n_frames: int = 7
    subframes: int = 8              # instants integrated per frame
    max_motion: float = 24.0        # pixels over the exposure, camera and objects alike
    scene_motion: tuple[float, float] = (0.0, 1.0)   # per scene, uniform: scales the camera's and every object's motion
    camera_motion: tuple[float, float] = (0.5, 1.0)  # the camera's translation, a fraction of the scene's motion, uniform
    shake: float = 0.15             # camera shake amplitude, a fraction of the camera's translation
    max_rotation: float = 3.0       # degrees over the exposure
    max_zoom: float = 0.04          # relative change of scale over the exposure
    objects: int = 3                # at most this many moving objects (0: the camera only)
    edge: float = 1.5               # width of an object's soft edge, pixels
    crf: str = "random"             # "random" (sRGB or gamma 1.8..2.6 per scene) or a get_crf name
    noise: bool = True              # Poisson-Gaussian noise on the blurry image
    photons: tuple[float, float] = (1000.0, 20000.0)  # full-well photon count, drawn log-uniformly
    read_noise: tuple[float, float] = (0.0, 0.01)    # read-noise std in linear units, uniform
    jpeg: bool = True               # JPEG compression of the blurry image
    jpeg_quality: tuple[int, int] = (60, 95)
    minify: tuple[float, float] = (1.0, 1.0)  # photograph pixels per output pixel, log-uniform: > 1 packs
    # in detail like downsampled video (drawn only when the range is not (1, 1))
    clean: float = 0.0              # share of scenes with neither noise nor JPEG (drawn only when > 0)
    still: float = 0.0              # share of scenes where nothing moves (drawn only when > 0)

    def __post_init__(self) -> None:
        if self.size < 8 or self.n_frames < 1 or self.subframes < 1:
            raise ValueError(f"size must be >= 8, n_frames and subframes >= 1; got {self.size}, {self.n_frames}, "
                             f"{self.subframes}")
        if self.max_motion < 0 or self.shake < 0 or self.max_rotation < 0 or self.max_zoom < 0 or self.objects < 0:
            raise ValueError("max_motion, shake, max_rotation, max_zoom and objects must be >= 0")
        for name in ("scene_motion", "camera_motion"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= 1:
                raise ValueError(f"{name} must be a range 0 <= low <= high <= 1, got {(lo, hi)}")
        if self.crf != "random":
            get_crf(self.crf)  # rejects an unknown name now
        lo, hi = self.jpeg_quality
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"jpeg_quality must be 1 <= low <= high <= 100, got {self.jpeg_quality}")
        if not 1.0 <= self.minify[0] <= self.minify[1] <= 8.0:
            raise ValueError(f"minify must be a range 1 <= low <= high <= 8, got {self.minify}")
        if not 0.0 <= self.clean <= 1.0:
            raise ValueError(f"clean must be a share in [0, 1], got {self.clean}")
        if not 0.0 <= self.still <= 1.0:
            raise ValueError(f"still must be a share in [0, 1], got {self.still}")
        if not 0 < self.photons[0] <= self.photons[1] or not 0 <= self.read_noise[0] <= self.read_noise[1]:
            raise ValueError(f"photons must be positive and read_noise non-negative ranges, got {self.photons}, "
                             f"{self.read_noise}")

    def instant_times(self) -> torch.Tensor:
        """The mid-times of the ``n_frames * subframes`` instants in ``[-1/2, 1/2]``."""
        n = self.n_frames * self.subframes
        return -0.5 + (torch.arange(n, dtype=torch.float64) + 0.5) / n


def scene_crf(cfg: CaptureConfig, g: torch.Generator) -> CameraResponse:
    """One scene's camera response: ``cfg.crf``, or for ``"random"`` sRGB (half the scenes) or a
    gamma drawn from ``[1.8, 2.6]``."""
    if cfg.crf != "random":
        return get_crf(cfg.crf)
    if float(torch.rand((), generator=g)) < 0.5:
        return _SRGB
    return CameraResponse("gamma", round(1.8 + 0.8 * float(torch.rand((), generator=g)), 3))


def _u(g: torch.Generator, lo: float = -1.0, hi: float = 1.0) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def camera_path(cfg: CaptureConfig, g: torch.Generator, times: torch.Tensor, motion: float = 1.0) -> dict[str, torch.Tensor]:
    """The camera's trajectory at ``times``: ``offset [N, 2]`` (pixels, x then y), ``angle [N]``
    (radians) and ``scale [N]``.  Translation ``v t`` with ``|v|`` in ``camera_motion * motion *
    max_motion`` (``motion``: the scene's share of ``max_motion``, see ``scene_motion``),
    shake ``sum_k a_k sin(2 pi f_k t + phase_k)`` per axis with ``|a| <= shake * |v|``, rotation
    ``omega t``, zoom ``1 + z t`` (rotation and zoom scaled by ``motion`` too)."""
    length = cfg.max_motion * motion * _u(g, *cfg.camera_motion)
    phi = _u(g, -math.pi, math.pi)
    v = torch.tensor([math.cos(phi), math.sin(phi)], dtype=torch.float64) * length
    t = times[:, None]
    offset = t * v
    for _ in range(2):
        amp = torch.tensor([_u(g), _u(g)], dtype=torch.float64) * cfg.shake * length / 2
        freq, phase = _u(g, 1.0, 3.0), _u(g, -math.pi, math.pi)
        offset = offset + amp * (torch.sin(2 * math.pi * freq * t + phase) - math.sin(phase))
    angle = math.radians(cfg.max_rotation) * motion * _u(g) * times
    scale = 1.0 + cfg.max_zoom * motion * _u(g) * times
    return {"offset": offset, "angle": angle, "scale": scale}


def _grid(size: int, offset: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, extent: float,
          center: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """``grid_sample`` grids ``[N, size, size, 2]`` that read, for every output pixel ``p``
    (centred, in pixels), the source point ``center + offset + scale R(angle) p``, the source being
    ``extent`` pixels wide."""
    r = (torch.arange(size, dtype=torch.float64) - (size - 1) / 2)
    py, px = torch.meshgrid(r, r, indexing="ij")
    c, s = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    k = scale[:, None, None]
    qx = center[0] + offset[:, 0, None, None] + k * (c * px - s * py)
    qy = center[1] + offset[:, 1, None, None] + k * (s * px + c * py)
    return (torch.stack([qx, qy], -1) / (extent / 2)).float()


def soft_mask(size: int, radii: tuple[float, float], angle: float, power: float, edge: float,
              center: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """A superellipse mask ``[size, size]`` in ``[0, 1]``: 1 inside, 0 outside, a linear ramp of
    ``edge`` pixels across its boundary (``power`` 2: an ellipse; larger: squarer)."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    py, px = torch.meshgrid(r - center[1], r - center[0], indexing="ij")
    c, s = math.cos(angle), math.sin(angle)
    u, w = (c * px + s * py) / radii[0], (-s * px + c * py) / radii[1]
    rho = (u.abs().pow(power) + w.abs().pow(power)).pow(1.0 / power)
    distance = (1.0 - rho) * min(radii)  # about the signed distance in pixels near the boundary
    return (distance / max(edge, 1e-6) + 0.5).clamp(0.0, 1.0).float()


def composite(background: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Painter's order in linear irradiance: each ``(image, alpha)`` over what lies below,
    ``out = image * alpha + out * (1 - alpha)``; a later layer occludes an earlier one."""
    out = background
    for image, alpha in layers:
        out = image * alpha + out * (1 - alpha)
    return out


def poisson_gaussian(linear: torch.Tensor, photons: float, read_noise: float, g: torch.Generator) -> torch.Tensor:
    """Sensor noise on a linear image in ``[0, 1]``: ``Poisson(x * photons) / photons + N(0,
    read_noise^2)``, so the variance is ``x / photons + read_noise^2``; clamped to ``[0, 1]``.
    Drawn on the CPU from ``g`` (the same numbers on any device)."""
    x = linear.detach().to("cpu", torch.float64).clamp(0.0, 1.0)
    shot = torch.poisson(x * photons, generator=g) / photons
    read = torch.randn(x.shape, generator=g, dtype=torch.float64) * read_noise
    return (shot + read).clamp(0.0, 1.0).to(linear.device, linear.dtype)


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """One image ``[3, H, W]`` in ``[0, 1]`` through a JPEG encoder and decoder (Pillow, on the
    CPU) at ``quality``; returned on the image's device."""
    from PIL import Image

    array = (image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(decoded).permute(2, 0, 1).to(image.device, image.dtype)


def _span(cfg: CaptureConfig) -> float:
    """Pixels a view can cover over the exposure: its diagonal at the largest zoom, plus the path."""
    return cfg.max_motion * (1 + cfg.shake) + cfg.size * (1 + cfg.max_zoom) * math.sqrt(2)


def _bank_side(cfg: CaptureConfig) -> int:
    """The texture bank's side: room for 1.5 views at the largest ``minify`` bank pixels per output
    pixel (256 to 1024)."""
    return int(min(1024, max(256, 64 * math.ceil(1.5 * _span(cfg) * cfg.minify[1] / 64))))


def _minify(cfg: CaptureConfig, g: torch.Generator) -> float:
    lo, hi = cfg.minify
    if lo == hi == 1.0:  # no draw: the scenes of the default stay what they were
        return 1.0
    return math.exp(_u(g, math.log(lo), math.log(hi)))


def _render_scene(cfg: CaptureConfig, g: torch.Generator, bank: torch.Tensor, device) -> dict:
    """One scene's linear frames and blur, and its response; ``bank`` holds linear irradiance."""
    times = cfg.instant_times()
    n, size, extent = len(times), cfg.size, bank.shape[-1]
    span = _span(cfg)
    most = (extent - 2) / span  # the most bank pixels per output pixel the bank has room for (span > 0: size >= 8)
    pixel = min(most, min(1.0, most) * _minify(cfg, g))  # zoomed out if needed, then minified
    k = int(torch.randint(len(bank), (1,), generator=g))
    motion = _u(g, *cfg.scene_motion)  # how much this scene moves: many real photographs hardly do
    if cfg.still > 0 and float(torch.rand((), generator=g)) < cfg.still:  # drawn only when asked for
        motion = 0.0  # a sharp photograph: every frame is the blur, which a model must leave as it is
    path = camera_path(cfg, g, times, motion)
    room = max(0.0, (extent - span * pixel) / 2)
    center = (_u(g) * room, _u(g) * room)
    grid = _grid(size, path["offset"] * pixel, path["angle"], path["scale"] * pixel, extent, center).to(device)
    linear_bank = bank
    out = F.grid_sample(linear_bank[k:k + 1].expand(n, -1, -1, -1), grid, mode="bilinear",
                        padding_mode="reflection", align_corners=False)
    layers = []
    for _ in range(int(torch.randint(cfg.objects + 1, (1,), generator=g))):
        j = int(torch.randint(len(bank), (1,), generator=g))
        radii = (size * _u(g, 0.12, 0.3), size * _u(g, 0.12, 0.3))
        where = (_u(g) * size * 0.35, _u(g) * size * 0.35)
        mask = soft_mask(size, radii, _u(g, -math.pi, math.pi), _u(g, 2.0, 6.0), cfg.edge).to(device)
        length, phi = cfg.max_motion * motion * _u(g, 0.0, 1.0), _u(g, -math.pi, math.pi)
        move = times[:, None] * torch.tensor([math.cos(phi), math.sin(phi)], dtype=torch.float64) * length
        spin = math.radians(2 * cfg.max_rotation) * motion * _u(g) * times
        # the object's own pixels follow it: its texture and its mask are read in its moving frame
        inverse = _grid(size, -move, -spin, torch.ones(n, dtype=torch.float64), size,
                        (-where[0], -where[1])).to(device)
        alpha = F.grid_sample(mask[None, None].expand(n, -1, -1, -1), inverse, mode="bilinear",
                              padding_mode="zeros", align_corners=False)
        tex_grid = _grid(size, -move * pixel, -spin, torch.full((n,), pixel, dtype=torch.float64), extent,
                         (_u(g) * room, _u(g) * room)).to(device)
        image = F.grid_sample(linear_bank[j:j + 1].expand(n, -1, -1, -1), tex_grid, mode="bilinear",
                              padding_mode="reflection", align_corners=False)
        tint = (0.6 + 0.8 * torch.rand(3, generator=g)).to(device, image.dtype)[None, :, None, None]
        layers.append(((image * tint).clamp(0, 1), alpha))
    instants = composite(out, layers)                                    # [n, 3, H, W], linear
    frames = instants.view(cfg.n_frames, cfg.subframes, 3, size, size).mean(1)
    return {"frames_linear": frames, "blur_linear": frames.mean(0), "crf": scene_crf(cfg, g)}


def render_captures(cfg: CaptureConfig, n: int, seed: int, device="cpu", start: int = 0) -> Batch:
    """``n`` capture-like scenes (indices ``start .. start + n - 1`` of ``seed``): a :class:`Batch`
    whose ``blur`` went through the scene's response, noise and JPEG and whose ``frames`` through
    the response only.  ``meta``: per scene ``crf`` (its name), ``blur_clean`` (the blur before
    noise and JPEG), ``photons``, ``read_noise``, ``jpeg_quality`` (0 where off)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    device = torch.device(device)
    bank = _SRGB.inverse(texture_bank(_bank_side(cfg), device))  # the photographs in linear irradiance
    blurs, frames, clean, meta = [], [], [], {"crf": [], "photons": [], "read_noise": [], "jpeg_quality": []}
    for j in range(start, start + n):
        g = torch.Generator().manual_seed(derive_seed(seed, "capture", j))
        scene = _render_scene(cfg, g, bank, device)
        crf = scene["crf"]
        blur_linear = scene["blur_linear"]
        photons = read = 0.0
        spotless = cfg.clean > 0 and float(torch.rand((), generator=g)) < cfg.clean  # drawn only when asked for
        if cfg.noise and not spotless:
            lo, hi = cfg.photons
            photons = math.exp(_u(g, math.log(lo), math.log(hi)))
            read = _u(g, *cfg.read_noise)
            noisy = poisson_gaussian(blur_linear, photons, read, g)
        else:
            noisy = blur_linear
        blur = crf(noisy)
        quality = 0
        if cfg.jpeg and not spotless:
            quality = int(torch.randint(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1, (1,), generator=g))
            blur = jpeg(blur, quality)
        blurs.append(blur)
        clean.append(crf(blur_linear))
        frames.append(crf(scene["frames_linear"]))
        meta["crf"].append(crf.name)
        meta["photons"].append(photons)
        meta["read_noise"].append(read)
        meta["jpeg_quality"].append(quality)
    meta["blur_clean"] = torch.stack(clean)
    meta["seed"] = seed
    return Batch(torch.stack(blurs), torch.stack(frames), meta)
