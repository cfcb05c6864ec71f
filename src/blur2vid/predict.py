"""Frames from your own photograph: ``blur2vid predict PHOTO --out clip.gif``.

Any size works: the networks pad to their resampling factor and crop back, and an image larger
than ``tile`` pixels on a side is processed in overlapping tiles (with a progress bar) so memory
stays bounded (:func:`blur2vid.inference.predict_frames`).  Grayscale, RGBA and EXIF-rotated
files are read by :func:`blur2vid.io.load_image`.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from blur2vid.inference import predict_frames
from blur2vid.io import atomic_path, forward_then_back, load_image, save_gif, save_image, to_uint8
from blur2vid.models.checkpoint import load_model

__all__ = ["default_model_path", "load_predictor", "write_frames", "predict_file"]

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
        arr = forward_then_back(arr)  # the direction is ambiguous
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
