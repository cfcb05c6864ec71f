"""Frames from your own photographs: ``blur2vid predict PHOTO --out clip.gif`` (or a folder of photos).

Any size works: the networks pad to their resampling factor and crop back, and an image larger
than ``tile`` pixels on a side is processed in overlapping tiles (with a progress bar) so memory
stays bounded (:func:`blur2vid.models.inference.predict_frames`).  Grayscale, RGBA and EXIF-rotated
files are read by :func:`blur2vid.core.io.load_image`.  Everything that can be checked before the work
starts is checked first: the output's type and folder, the model file, the inputs.

``--checkpoint`` takes a blur2vid model file, or a folder holding Jin et al.'s four released
weight files (:mod:`blur2vid.models.jin_authors`).  ``--noise LEVELS`` holds the frames to the
photograph cleaned by the shipped noise-level denoiser (or ``--denoiser FILE``) instead of the
noisy photograph itself (:mod:`blur2vid.models.denoise`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from blur2vid.core.io import atomic_path, forward_then_back, load_image, save_gif, save_image, to_uint8
from blur2vid.models.checkpoint import default_denoiser_path, default_model_path, load_model
from blur2vid.models.inference import check_noise, predict_frames, working_scale
from blur2vid.models.match_blur import held_as_noted

__all__ = ["OUTPUT_FORMATS", "PHOTO_EXTENSIONS", "default_model_path", "load_predictor", "load_denoiser", "check_output",
           "photos_in", "write_frames", "predict_file", "predict_many"]

OUTPUT_FORMATS = ("gif", "mp4", "png")
"""What one photograph's frames become: a looping GIF, an MP4, or a folder of PNG frames."""
PHOTO_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
"""The files of a folder that ``predict`` reads as photographs."""


def load_predictor(checkpoint: str | Path | None = None, match_blur: bool | None = None) -> tuple[nn.Module, dict]:
    """The model of ``checkpoint`` (a blur2vid model file, or a folder of Jin et al.'s released
    weights), or the shipped default model when it is ``None``; with ``match_blur`` its frames
    are moved to re-blur to the photograph (:mod:`blur2vid.models.match_blur`; ``None``: as the
    model file's notes say, off when they say nothing)."""
    return held_as_noted(*_load(checkpoint), match_blur, name=str(checkpoint or "the shipped model"))


def load_denoiser(path: str | Path | None = None) -> nn.Module:
    """The noise-level denoiser of ``path`` (a blur2vid model file holding one), or the shipped one."""
    path = Path(path) if path is not None else default_denoiser_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such denoiser file" + ("" if path != default_denoiser_path() else
                                " (this installation ships none; pass --denoiser FILE)"))
    model, _ = load_model(path, expect="NoiseLevelDenoiser")
    return model


def _load(checkpoint: str | Path | None) -> tuple[nn.Module, dict]:
    from blur2vid.models.jin_authors import is_authors_folder, load_authors_cascade

    path = Path(checkpoint) if checkpoint is not None else default_model_path()
    if checkpoint is None and not path.is_file():
        raise FileNotFoundError(f"no default model is shipped at {path}; pass --checkpoint MODEL.pt")
    if is_authors_folder(path):
        return load_authors_cascade(path)
    if path.is_dir():
        raise ValueError(f"{path}: a folder, but not one of Jin et al.'s released weights (expected their four "
                         f".pth files); pass a blur2vid model file")
    return load_model(path)


def _format_of(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix in (".gif", ".mp4"):
        return suffix[1:]
    if suffix:
        raise ValueError(f"{out}: unknown output type {suffix!r}; use .gif, .mp4, or a folder name (PNG frames)")
    return "png"


def _mp4_writer_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def check_output(out: str | Path, fmt: str | None = None) -> str:
    """Check an output before any work: its type (``fmt``, or from ``out``'s suffix), that an MP4
    can be written here, and that its folder can be written.  Returns the format."""
    out = Path(out)
    fmt = fmt if fmt is not None else _format_of(out)
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; use one of {list(OUTPUT_FORMATS)}")
    if fmt == "mp4" and not _mp4_writer_available():
        raise ValueError(f"{out}: writing MP4 needs the imageio-ffmpeg package (pip install imageio-ffmpeg); "
                         f"or write a .gif")
    parent = out if fmt == "png" else out.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ValueError(f"{out}: cannot write there, {existing} is a file, not a folder")
    if existing is not None and not os.access(existing, os.W_OK):
        raise ValueError(f"{out}: cannot write there, {existing} is not writable")
    if fmt != "png" and out.is_dir():
        raise ValueError(f"{out}: is a folder; name a .{fmt} file")
    return fmt


def photos_in(folder: str | Path) -> list[Path]:
    """The photographs of a folder (not its subfolders), sorted by name; none is an error."""
    folder = Path(folder)
    photos = sorted(p for p in folder.iterdir()
                    if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PHOTO_EXTENSIONS)
    if not photos:
        raise ValueError(f"{folder}: no photographs in this folder ({' '.join(PHOTO_EXTENSIONS)})")
    return photos


def write_frames(frames: torch.Tensor, out: str | Path, fps: float = 7.0, blur: torch.Tensor | None = None,
                 fmt: str | None = None) -> Path:
    """Write ``[T, C, H, W]`` as a GIF, an MP4 or a folder of PNGs (``fmt``, or from ``out``'s
    suffix: ``.gif``, ``.mp4``, none); every file is written atomically."""
    out = Path(out)
    fmt = check_output(out, fmt)
    if fmt == "gif":
        return save_gif(out, frames, fps=fps)
    if fmt == "mp4":
        import imageio.v3 as iio

        arr = np.stack([to_uint8(f) for f in frames])
        if arr.ndim == 3:
            arr = np.repeat(arr[..., None], 3, -1)
        arr = np.pad(arr, ((0, 0), (0, arr.shape[1] % 2), (0, arr.shape[2] % 2), (0, 0)), mode="edge")
        arr = forward_then_back(arr)  # the direction is ambiguous
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp:
            iio.imwrite(tmp, arr, plugin="FFMPEG", extension=".mp4", fps=fps, codec="libx264",
                        macro_block_size=1, output_params=["-pix_fmt", "yuv420p"])
        return out
    out.mkdir(parents=True, exist_ok=True)
    digits = max(3, int(math.log10(max(len(frames), 1))) + 1)
    for t, frame in enumerate(frames):
        save_image(out / f"frame{t + 1:0{digits}d}.png", frame)
    if blur is not None:
        save_image(out / "blur.png", blur)
    return out


def _scale_for(match_blur: bool | None, scale: float | str) -> float | str:
    """A scaled run holds the frames (only the hold puts the photograph's detail back), so
    ``--no-match-blur`` runs at full size under ``auto`` and refuses a factor above 1."""
    if match_blur is False and scale != "auto" and working_scale(1, 1, scale) > 1:
        raise ValueError(f"--scale {scale} holds the frames to the photograph (only that puts its detail back); "
                         "it cannot go with --no-match-blur (use --scale 1)")
    return 1.0 if match_blur is False else scale


def _denoiser_for(noise: float, match_blur: bool | None, denoiser: str | Path | None) -> nn.Module | None:
    """The denoiser a run with ``noise`` (8-bit levels) needs, checked before any work: None for 0."""
    if check_noise(noise) == 0:
        if denoiser is not None:
            raise ValueError("--denoiser is used only with --noise LEVELS above 0")
        return None
    if match_blur is False:
        raise ValueError(f"--noise {noise} holds the frames to the denoised photograph; it cannot go with "
                         "--no-match-blur")
    return load_denoiser(denoiser)


def predict_file(photo: str | Path, out: str | Path, checkpoint: str | Path | None = None,
                 device: str | torch.device = "cpu", tile: int = 1280, fps: float = 7.0,
                 progress: bool = True, precision: str = "fp32", fmt: str | None = None,
                 compile: bool | str = False, match_blur: bool | None = None,
                 scale: float | str = "auto", noise: float = 0.0, denoiser: str | Path | None = None) -> Path:
    """Read a photograph, extract its frames with the model, and write them to ``out``; a folder
    of photographs goes to :func:`predict_many` (``fmt``: what each becomes; for one photograph
    ``out``'s name decides).  ``scale``: as :func:`blur2vid.models.inference.predict_frames` (default
    ``"auto"``; full size with ``match_blur=False``).  ``noise``: the photograph's noise level in
    8-bit levels (0: none; above, the frames are held to the photograph cleaned by ``denoiser``,
    a model file, default the shipped one)."""
    if Path(photo).is_dir():
        return predict_many(photo, out, checkpoint=checkpoint, device=device, tile=tile, fps=fps,
                            progress=progress, precision=precision, fmt=fmt, compile=compile,
                            match_blur=match_blur, scale=scale, noise=noise, denoiser=denoiser)
    if fmt is not None:
        raise ValueError("--format is for a folder of photographs; for one photograph the --out name decides "
                         "(.gif, .mp4, or a folder name)")
    fmt = check_output(out)
    scale = _scale_for(match_blur, scale)
    den = _denoiser_for(noise, match_blur, denoiser)
    image = load_image(photo)
    model, _ = load_predictor(checkpoint, match_blur)
    frames = predict_frames(model, image, device=device, tile=tile, progress=progress, precision=precision,
                            compile=compile, scale=scale, noise=noise / 255, denoiser=den)
    return write_frames(frames, out, fps=fps, blur=image, fmt=fmt)


def predict_many(folder: str | Path, out: str | Path, checkpoint: str | Path | None = None,
                 device: str | torch.device = "cpu", tile: int = 1280, fps: float = 7.0,
                 progress: bool = True, precision: str = "fp32", fmt: str | None = None,
                 compile: bool | str = False, match_blur: bool | None = None,
                 scale: float | str = "auto", noise: float = 0.0, denoiser: str | Path | None = None) -> Path:
    """Every photograph of ``folder`` to ``out/<name>.gif`` (``fmt``: gif, mp4, or png for a
    folder of frames per photograph; default gif), with a progress bar.  An unreadable photograph
    is named and skipped, the others are written; the run fails at the end if any was skipped.
    The other settings as in :func:`predict_file`."""
    out = Path(out)
    if out.suffix:
        raise ValueError(f"{out}: a folder of photographs needs a folder as --out (one file per photograph)")
    fmt = fmt or "gif"
    check_output(out / ("x" if fmt == "png" else f"x.{fmt}"), fmt)
    scale = _scale_for(match_blur, scale)
    den = _denoiser_for(noise, match_blur, denoiser)
    photos = photos_in(folder)
    model, _ = load_predictor(checkpoint, match_blur)
    stems = [p.stem for p in photos]
    names = {p: (p.stem if stems.count(p.stem) == 1 else f"{p.stem}_{p.suffix[1:].lower()}") for p in photos}
    failed = []
    for photo in tqdm(photos, desc="photos", disable=not progress or len(photos) == 1):
        try:
            image = load_image(photo)
        except ValueError as exc:
            failed.append(str(exc))
            tqdm.write(f"skipped {exc}")
            continue
        frames = predict_frames(model, image, device=device, tile=tile, progress=False, precision=precision,
                                compile=compile, scale=scale, noise=noise / 255, denoiser=den)
        target = out / (names[photo] if fmt == "png" else f"{names[photo]}.{fmt}")
        write_frames(frames, target, fps=fps, blur=image, fmt=fmt)
    if failed:
        raise ValueError(f"{len(failed)} of {len(photos)} photographs could not be read: " + "; ".join(failed))
    return out
