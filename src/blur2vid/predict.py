"""Frames from your own photograph: ``blur2vid predict PHOTO --out clip.gif``.

Any size works: the networks pad to their resampling factor and crop back, and an image larger
than ``tile`` pixels on a side is processed in overlapping tiles (with a progress bar) so memory
stays bounded.  Grayscale, RGBA and EXIF-rotated files are read by :func:`blur2vid.io.load_image`.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from blur2vid.io import atomic_path, load_image, save_gif, save_image, to_uint8
from blur2vid.models.checkpoint import load_model

__all__ = ["default_model_path", "load_predictor", "predict_frames", "write_frames", "predict_file"]

DEFAULT_MODEL = "default_model.pt"


def default_model_path() -> Path:
    """The small model shipped with the package (trained by the ``cpu`` reference run)."""
    return Path(str(resources.files("blur2vid") / "assets" / DEFAULT_MODEL))


def load_predictor(checkpoint: str | Path | None = None) -> tuple[nn.Module, dict]:
    """The model of ``checkpoint``, or the shipped default model when it is ``None``."""
    path = Path(checkpoint) if checkpoint is not None else default_model_path()
    if checkpoint is None and not path.is_file():
        raise FileNotFoundError(f"no default model is shipped at {path}; pass --checkpoint MODEL.pt")
    return load_model(path)


def _tiles(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    step = tile - 2 * overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return sorted(set(starts))


def _match_direction(frames: torch.Tensor, out: torch.Tensor, written: torch.Tensor, y0: int, x0: int) -> torch.Tensor:
    """A network picks the direction of time per input, so two tiles can come out in opposite
    orders: keep a tile as it is or reversed, whichever agrees better with the frames already
    written where the tiles overlap."""
    th, tw = frames.shape[-2:]
    seen = written[y0:y0 + th, x0:x0 + tw]
    if not seen.any():
        return frames
    done = out[:, :, y0:y0 + th, x0:x0 + tw]
    err = ((frames - done) ** 2).mean(dim=(0, 1))[seen].mean()
    err_rev = ((frames.flip(0) - done) ** 2).mean(dim=(0, 1))[seen].mean()
    return frames.flip(0) if err_rev < err else frames


@torch.no_grad()
def predict_frames(model: nn.Module, image: torch.Tensor, device: torch.device | str = "cpu", tile: int = 512,
                   overlap: int = 32, progress: bool = True) -> torch.Tensor:
    """``[C, H, W]`` blurry image -> ``[T, C, H, W]`` frames in ``[0, 1]``.

    Images larger than ``tile`` on a side are cut into ``tile``-pixel tiles overlapping by
    ``overlap`` on each side; each tile's centre is kept, played in the direction that agrees with
    its already-written neighbours.  Running out of memory raises a
    ``MemoryError`` that says how to go on (a smaller ``tile``)."""
    if image.ndim != 3:
        raise ValueError(f"expected one image [C, H, W], got shape {tuple(image.shape)}")
    if tile < 2 * overlap + 16:
        raise ValueError(f"tile ({tile}) must exceed twice the overlap ({overlap}) by at least 16 pixels")
    device = torch.device(device)
    model = model.to(device).eval()
    c, h, w = image.shape
    ys, xs = _tiles(h, tile, overlap), _tiles(w, tile, overlap)
    out: torch.Tensor | None = None
    bar = tqdm(total=len(ys) * len(xs), desc="predict", disable=not progress or len(ys) * len(xs) == 1, leave=False)
    try:
        for y0 in ys:
            for x0 in xs:
                crop = image[:, y0:y0 + tile, x0:x0 + tile].unsqueeze(0).to(device)
                frames = model(crop)[0].clamp(0, 1).cpu()
                if out is None:
                    out = torch.empty(frames.shape[0], c, h, w)
                    written = torch.zeros(h, w, dtype=torch.bool)
                frames = _match_direction(frames, out, written, y0, x0)
                # keep the centre of the tile; at the image border keep the edge too
                top = 0 if y0 == 0 else overlap
                left = 0 if x0 == 0 else overlap
                bottom = crop.shape[-2] if y0 + tile >= h else crop.shape[-2] - overlap
                right = crop.shape[-1] if x0 + tile >= w else crop.shape[-1] - overlap
                out[:, :, y0 + top:y0 + bottom, x0 + left:x0 + right] = frames[:, :, top:bottom, left:right]
                written[y0 + top:y0 + bottom, x0 + left:x0 + right] = True
                bar.update()
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "memory" not in str(exc).lower():
            raise
        raise MemoryError(f"the model does not fit in memory on {device} for {min(tile, h)}x{min(tile, w)} "
                          f"tiles; try a smaller tile (--tile {max(64, tile // 2)}) or --device cpu") from exc
    finally:
        bar.close()
    return out


def write_frames(frames: torch.Tensor, out: str | Path, fps: float = 7.0, blur: torch.Tensor | None = None) -> Path:
    """Write ``[T, C, H, W]`` as a GIF (``.gif``), an MP4 (``.mp4``) or a folder of PNGs (any other
    name); every file is written atomically."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix == ".gif":
        return save_gif(out, frames, fps=fps)
    if suffix == ".mp4":
        import imageio.v3 as iio

        arr = np.stack([to_uint8(f) for f in frames])
        if arr.ndim == 3:
            arr = np.repeat(arr[..., None], 3, -1)
        arr = np.pad(arr, ((0, 0), (0, arr.shape[1] % 2), (0, arr.shape[2] % 2), (0, 0)), mode="edge")
        arr = np.concatenate([arr, arr[-2:0:-1]])  # forward then back: the direction is ambiguous
        with atomic_path(out) as tmp:
            iio.imwrite(tmp, arr, plugin="FFMPEG", extension=".mp4", fps=fps, codec="libx264",
                        macro_block_size=1, output_params=["-pix_fmt", "yuv420p"])
        return out
    if suffix:
        raise ValueError(f"{out}: unknown output type {suffix!r}; use .gif, .mp4, or a folder name")
    out.mkdir(parents=True, exist_ok=True)
    digits = max(3, int(math.log10(max(len(frames), 1))) + 1)
    for t, frame in enumerate(frames):
        save_image(out / f"frame{t + 1:0{digits}d}.png", frame)
    if blur is not None:
        save_image(out / "blur.png", blur)
    return out


def predict_file(photo: str | Path, out: str | Path, checkpoint: str | Path | None = None,
                 device: str | torch.device = "cpu", tile: int = 512, fps: float = 7.0,
                 progress: bool = True) -> Path:
    """Read a photograph, extract its frames with the model, and write them to ``out``."""
    image = load_image(photo)
    model, _ = load_predictor(checkpoint)
    frames = predict_frames(model, image, device=device, tile=tile, progress=progress)
    return write_frames(frames, out, fps=fps, blur=image)
