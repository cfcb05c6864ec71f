"""Real pictures that ship with scikit-image (notebook 07, and the shipped model's notes): a real
video, whose true frames are known, and real blurry photographs, whose are not.

* **Real footage**: the one real video a package here ships, scikit-image's
  ``no_time_for_that_tiny.gif`` (24 frames of 25x14 pixels, :func:`real_video`), never used for
  training (:mod:`blur2vid.data.captures` leaves it out); ``blur2vid evaluate real`` cuts it into
  windows and scores them (:mod:`blur2vid.app.evaluate`).
* **Real photographs** (no truth): *re-blur consistency*, the PSNR between the photograph and the
  predicted frames pushed back through the camera model (:func:`reblur_psnr`, after Tedla et al.
  2025), beside the *motion* the frames show: the mean absolute difference between the first and
  the last frame, and how far the frames are from the photograph.  A model that returns the
  photograph re-blurs perfectly and shows no motion: both numbers are needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch

from blur2vid.core import metrics
from blur2vid.core.io import load_image
from blur2vid.core.metrics import capped, psnr
from blur2vid.models.inference import predict_frames

__all__ = ["REAL_VIDEO", "REAL_PHOTOS", "real_video", "reblur_psnr",
           "photo_check", "real_photos", "compare_on_photos"]

REAL_VIDEO = "no_time_for_that_tiny.gif"
"""The real video scikit-image ships (kept out of every training set)."""
REAL_PHOTOS = ("clock_motion.png",)
"""The real motion-blurred photographs scikit-image ships."""


def _skimage_file(name: str) -> Path:
    import skimage.data

    path = Path(skimage.data.__file__).parent / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: scikit-image's {name} is not installed with this scikit-image")
    return path


def real_video(name: str = REAL_VIDEO) -> torch.Tensor:
    """The frames of a real video scikit-image ships, ``[T, 3, H, W]`` in ``[0, 1]``."""
    import imageio.v3 as iio

    arr = iio.imread(_skimage_file(name))
    if arr.ndim == 3:
        arr = arr[..., None].repeat(3, -1)
    return torch.from_numpy(arr[..., :3].copy()).permute(0, 3, 1, 2).float() / 255


def reblur_psnr(frames: torch.Tensor, photo: torch.Tensor, crf: str = "srgb") -> float:
    """PSNR (dB, capped) between ``photo [C, H, W]`` and ``frames [T, C, H, W]`` re-blurred by Jin Eq. 1."""
    return float(capped(metrics.reblur_psnr(frames, photo, crf)))


def photo_check(frames: torch.Tensor, photo: torch.Tensor, crf: str = "srgb") -> dict[str, float]:
    """No-reference numbers for one real photograph: re-blur PSNR, the motion between the first and
    last frame (mean absolute difference, in 8-bit levels), and the mean PSNR of the frames against
    the photograph (infinite, capped at 100, for a model that returns the photograph)."""
    return {"reblur_psnr_db": reblur_psnr(frames, photo, crf),
            "first_last_difference": float((frames[0] - frames[-1]).abs().mean() * 255),
            "frames_vs_photo_psnr_db": float(capped(psnr(frames, photo.expand_as(frames))).mean())}


def real_photos(names: tuple[str, ...] = REAL_PHOTOS) -> dict[str, torch.Tensor]:
    """The real blurry photographs scikit-image ships, by name."""
    return {name: load_image(_skimage_file(name)) for name in names}


def compare_on_photos(models: Mapping[str, torch.nn.Module], photos: Mapping[str, torch.Tensor] | None = None,
                      device="cpu", precision: str = "fp32", scales: Mapping[str, float | str] | None = None
                      ) -> tuple[dict[str, dict[str, torch.Tensor]], pd.DataFrame]:
    """Every model on every real photograph (default: :func:`real_photos`): the frames
    (``{model: {photo: [T, C, H, W]}}``) and one row of :func:`photo_check` per (model, photo).
    ``scales`` gives a model, by name, the ``scale`` of :func:`predict_frames` (default 1: full size)."""
    scales = scales or {}
    photos = real_photos() if photos is None else photos
    frames: dict[str, dict[str, torch.Tensor]] = {}
    rows = []
    for name, model in models.items():
        frames[name] = {}
        for photo_name, photo in photos.items():
            out = predict_frames(model, photo, device=device, progress=False, precision=precision,
                                 scale=scales.get(name, 1.0))
            frames[name][photo_name] = out
            rows.append({"model": name, "photo": photo_name, **photo_check(out, photo)})
    return frames, pd.DataFrame(rows).set_index(["model", "photo"])
