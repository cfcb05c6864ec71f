"""Tiled inference: a network applied to one image of any size in overlapping tiles.

Used by ``blur2vid predict`` (:mod:`blur2vid.app.predict`), the notebooks' widgets and the experiments;
the networks themselves pad to their resampling factor and crop back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from blur2vid.core.precision import autocast, compiled
from blur2vid.models.match_blur import MatchBlur

__all__ = ["WORKING_SIDE", "working_scale", "check_noise", "predict_frames", "predict_batch"]

WORKING_SIDE = 96
"""The shorter side, in pixels, at which ``scale="auto"`` runs the network: near the 64 px crops the
shipped model was trained on, which loses to the blurry input on larger photographs seen at full
size.  Chosen by ``benchmarks/scale_probe.py`` (its record: ``docs/probes.md``)."""


def _number(value) -> float:
    """``value`` as a float, or nan where it is not a number (so that ``not x >= bound`` refuses it)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def working_scale(h: int, w: int, scale: float | str = "auto") -> float:
    """The factor a photograph of ``h x w`` pixels is shrunk by before the network: ``scale`` itself
    (a number >= 1), or for ``"auto"`` its shorter side over :data:`WORKING_SIDE` (1 for smaller)."""
    if scale == "auto":
        return max(1.0, min(h, w) / WORKING_SIDE)
    value = _number(scale)
    if not value >= 1.0:  # also refuses nan
        raise ValueError(f"scale must be 'auto' or a number >= 1, got {scale!r}")
    return value


def check_noise(noise: float) -> float:
    """``noise`` as a float, refused unless it is a number >= 0 (``nan`` too)."""
    value = _number(noise)
    if not value >= 0.0:
        raise ValueError(f"noise must be a level >= 0, got {noise!r}")
    return value


class _AtLevel(nn.Module):
    """A denoiser at one noise level, seen as a network of one frame ``[B, 1, C, H, W]`` (so that
    :func:`predict_frames` tiles it like any other)."""

    def __init__(self, denoiser: nn.Module, sigma: float) -> None:
        super().__init__()
        self.denoiser, self.sigma = denoiser, sigma

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        return self.denoiser(photo, self.sigma)[:, None]


def _enlarge(frames: torch.Tensor, size) -> torch.Tensor:
    """``frames [..., C, h, w]`` enlarged to ``size`` (bilinear), each channel as an image of its own:
    the same numbers (to float32's rounding) as the colour images, several times faster on a CPU,
    where three channels take a slow path."""
    lead = frames.shape[:-2]
    flat = frames.reshape(-1, 1, *frames.shape[-2:])
    return F.interpolate(flat, size=list(size), mode="bilinear", align_corners=False).reshape(*lead, *size)


def _tiles(size: int, tile: int, overlap: int) -> tuple[list[int], int]:
    """Where the tiles along one side of ``size`` pixels start, and their length: as few tiles of
    at most ``tile`` pixels as cover the side with ``overlap`` on each inner edge, all of one length
    and spread evenly, so that little is computed twice (fixed-size tiles of 512 computed 1.7 times
    the pixels of a 1280x720 photograph)."""
    if size <= tile:
        return [0], size
    inner = tile - 2 * overlap
    n = -(-(size - 2 * overlap) // inner)
    length = -(-(size - 2 * overlap) // n) + 2 * overlap
    return [i * (size - length) // (n - 1) for i in range(n)], length


def _match_direction(frames: torch.Tensor, out: torch.Tensor, written: torch.Tensor, y0: int, x0: int) -> torch.Tensor:
    """A network picks the direction of time per input, so two tiles can come out in opposite
    orders: keep a tile as it is or reversed, whichever agrees better with the frames already
    written where the tiles overlap (as it is where nothing is written yet).  Decided on the
    device, without waiting for it: no ``if`` on a tensor, no boolean indexing."""
    th, tw = frames.shape[-2:]
    seen = written[y0:y0 + th, x0:x0 + tw]
    done = out[:, :, y0:y0 + th, x0:x0 + tw]
    err = torch.where(seen, ((frames - done) ** 2).mean(dim=(0, 1)), 0).sum()  # out is empty where unseen
    err_rev = torch.where(seen, ((frames.flip(0) - done) ** 2).mean(dim=(0, 1)), 0).sum()
    return torch.where(err_rev < err, frames.flip(0), frames)


@torch.no_grad()
def predict_frames(model: nn.Module, image: torch.Tensor, device: torch.device | str = "cpu", tile: int = 1280,
                   overlap: int = 32, progress: bool = True, precision: str = "fp32",
                   compile: bool | str = False, scale: float | str = 1.0, noise: float = 0.0,
                   denoiser: nn.Module | None = None) -> torch.Tensor:
    """``[C, H, W]`` blurry image -> ``[T, C, H, W]`` frames in ``[0, 1]``.

    Images larger than ``tile`` on a side are cut into as few tiles of at most ``tile`` pixels as
    cover them, overlapping by ``overlap`` on each side (the default, 1280, takes a 1280x720
    photograph whole, where smaller tiles would compute their overlaps twice); each tile's centre is kept, played in the direction that agrees with
    its already-written neighbours.  The tiles are joined on ``device`` (nothing is read back
    from it tile by tile) and the frames come back to the CPU once.  A network held to its
    photograph (:class:`MatchBlur`) is held once, to the whole image, after its tiles are joined.  ``precision`` (:mod:`blur2vid.core.precision`) runs the network's
    forward in bf16 where asked; the frames come back in fp32; ``compile`` runs it through
    ``torch.compile`` (:func:`blur2vid.core.precision.compiled`).  Running out of memory raises a
    ``MemoryError`` that says how to go on (a smaller ``tile``).

    ``scale`` > 1 (or ``"auto"``, :func:`working_scale`) runs the network on the photograph shrunk by
    that factor (area averaging), enlarges its frames back (bilinear) and holds them to the
    photograph at full size, which puts back the detail the shrinking took (a network not trained
    held is held too, as only the hold does that).

    ``noise`` > 0 (the photograph's noise level, its standard deviation on the ``[0, 1]`` scale)
    holds the frames instead to the photograph as ``denoiser``
    (:class:`~blur2vid.models.denoise.NoiseLevelDenoiser`) cleans it at that level, at full size
    and in the same tiles, so that its noise is not put back into every frame; 0 (the default)
    runs no denoiser."""
    if image.ndim != 3:
        raise ValueError(f"expected one image [C, H, W], got shape {tuple(image.shape)}")
    if tile < 2 * overlap + 16:
        raise ValueError(f"tile ({tile}) must exceed twice the overlap ({overlap}) by at least 16 pixels")
    device = torch.device(device)
    factor = working_scale(*image.shape[-2:], scale)
    noise = check_noise(noise)
    if noise > 0 and denoiser is None:
        raise ValueError(f"noise={noise}: holding the frames to the denoised photograph needs a denoiser")
    held = model if isinstance(model, MatchBlur) else None  # held once, after the tiles are joined
    if noise > 0 and held is None:  # only the hold brings the denoised photograph in
        held = MatchBlur(model)
    model = compiled((model if held is None else held.net).to(device).eval(), compile)
    image = image.to(device)  # once: a copy from the host per tile would wait for the device each time
    photo = image
    if factor > 1:
        held = held if held is not None else MatchBlur(model)
        size = [max(1, round(n / factor)) for n in image.shape[-2:]]
        image = F.interpolate(image[None].float(), size=size, mode="area")[0]
    c, h, w = image.shape
    (ys, th), (xs, tw) = _tiles(h, tile, overlap), _tiles(w, tile, overlap)
    out: torch.Tensor | None = None
    bar = tqdm(total=len(ys) * len(xs), desc="predict", disable=not progress or len(ys) * len(xs) == 1, leave=False)
    try:
        for y0 in ys:
            for x0 in xs:
                crop = image[:, y0:y0 + th, x0:x0 + tw].unsqueeze(0)
                with autocast(precision, device):
                    frames = model(crop)[0]
                frames = frames.float().clamp(0, 1)  # joined on the device: one copy back, at the end
                if out is None:
                    out = torch.empty(frames.shape[0], c, h, w, device=device)
                    written = torch.zeros(h, w, dtype=torch.bool, device=device)
                frames = _match_direction(frames, out, written, y0, x0)
                # keep the centre of the tile; at the image border keep the edge too
                top = 0 if y0 == 0 else overlap
                left = 0 if x0 == 0 else overlap
                bottom = crop.shape[-2] if y0 + th >= h else crop.shape[-2] - overlap
                right = crop.shape[-1] if x0 + tw >= w else crop.shape[-1] - overlap
                out[:, :, y0 + top:y0 + bottom, x0 + left:x0 + right] = frames[:, :, top:bottom, left:right]
                written[y0 + top:y0 + bottom, x0 + left:x0 + right] = True
                bar.update()
        if factor > 1:
            out = _enlarge(out, photo.shape[-2:]).clamp(0, 1)
        if held is not None:
            if noise > 0:
                photo = predict_frames(_AtLevel(denoiser, noise), photo, device=device, tile=tile,
                                       overlap=overlap, progress=False, precision=precision)[0].to(device)
            out = held.hold(out, photo)
        out = out.cpu()
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "memory" not in str(exc).lower():
            raise
        raise MemoryError(f"the model does not fit in memory on {device} for {th}x{tw} "
                          f"tiles; try a smaller tile (--tile {max(64, tile // 2)}) or --device cpu") from exc
    finally:
        bar.close()
    return out


@torch.no_grad()
def predict_batch(model: nn.Module, blur: torch.Tensor, device: torch.device | str = "cpu", scale: float | str = 1.0,
                  precision: str = "fp32", batch_size: int = 16, tile: int = 1280, noise: float = 0.0,
                  denoiser: nn.Module | None = None) -> torch.Tensor:
    """:func:`predict_frames` for a batch of photographs of one size ``blur [B, C, H, W]`` ->
    ``[B, T, C, H, W]`` on the CPU: the same steps (shrunk by the working scale, the network,
    enlarged, held once at full size, to the photograph as ``denoiser`` cleans it at ``noise`` where
    that is > 0), ``batch_size`` photographs through the network at a time, so that many small ones
    (the windows of an evaluation) cost one forward instead of one each.  Photographs larger than
    ``tile`` go one by one through :func:`predict_frames`'s tiles."""
    if blur.ndim != 4:
        raise ValueError(f"expected a batch of images [B, C, H, W], got shape {tuple(blur.shape)}")
    device = torch.device(device)
    factor = working_scale(*blur.shape[-2:], scale)
    noise = check_noise(noise)
    if noise > 0 and denoiser is None:
        raise ValueError(f"noise={noise}: holding the frames to the denoised photograph needs a denoiser")
    size = [max(1, round(n / factor)) for n in blur.shape[-2:]]
    if max(size) > tile or (max(blur.shape[-2:]) > tile and noise > 0):
        return torch.stack([predict_frames(model, b, device=device, progress=False, precision=precision, scale=scale,
                                           tile=tile, noise=noise, denoiser=denoiser) for b in blur])
    held = model if isinstance(model, MatchBlur) else (MatchBlur(model) if factor > 1 or noise > 0 else None)
    net = (model if held is None else held.net).to(device).eval()
    # on a CPU, oneDNN's convolutions run faster on channels-last input (the same frames to fp32's
    # rounding; the weights stay as they are)
    layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    out = []
    for chunk in blur.split(batch_size):
        photo = chunk.to(device).float()
        image = F.interpolate(photo, size=size, mode="area") if factor > 1 else photo
        with autocast(precision, device):
            raw = net(image.contiguous(memory_format=layout))
        frames = raw.float().contiguous()  # clamped in place only where that made a copy: the network's
        frames = frames.clamp(0, 1) if frames.data_ptr() == raw.data_ptr() else frames.clamp_(0, 1)  # may be kept
        if factor > 1:  # held below, which clamps the frames first
            frames = _enlarge(frames, photo.shape[-2:])
        if noise > 0:  # held to the photograph as the denoiser cleans it (as predict_frames does)
            with autocast(precision, device):
                photo = denoiser.to(device).eval()(photo, noise)
            photo = photo.float().clamp(0, 1)
        out.append((frames if held is None else held.hold(frames, photo)).cpu())
    return out[0] if len(out) == 1 else torch.cat(out)
