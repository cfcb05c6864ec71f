"""Files in and out: images, atomic writes, GIFs, and where the checkout is.

Every write goes to a temporary file in the destination folder and is moved into place with
``os.replace``, so an interrupted run never leaves a half-written figure, table or checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["shown_path", "save_figure",
    "load_plain",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "load_image",
    "save_image",
    "to_uint8",
    "save_gif",
    "forward_then_back",
    "repo_root",
]


def repo_root(start: str | os.PathLike | None = None) -> Path:
    """The checkout's root (the folder whose pyproject.toml names blur2vid), else the current folder."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        toml = folder / "pyproject.toml"
        if toml.is_file() and 'name = "blur2vid"' in toml.read_text(encoding="utf-8"):
            return folder
    return Path.cwd()


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as a reader should see it: relative to the checkout's root when inside it (no
    machine's absolute path in a notebook's output or the book), else as given."""
    path = Path(path)
    try:
        return path.resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return str(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step, on an
    exception it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a finished file gets the usual mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """Read an image file as float32 ``[3, H, W]`` in ``[0, 1]``.

    EXIF orientation is applied; grayscale is repeated to 3 channels; an alpha channel is composited
    over white.  A missing, unreadable or truncated file raises ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, rgba)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float32) / 65535.0
                arr = np.repeat(arr[..., None], 3, axis=-1)
            else:
                arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read as an image ({exc})") from exc
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{path}: image has zero size {arr.shape[:2]}")
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).clamp(0, 1)


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[C, H, W]`` or ``[H, W]`` floats in ``[0, 1]`` to an ``[H, W, C]`` / ``[H, W]`` uint8 array."""
    arr = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, np.float32)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path: str | os.PathLike, image: torch.Tensor | np.ndarray) -> Path:
    """Write ``[C, H, W]`` floats in ``[0, 1]`` as an 8-bit image (format from the suffix), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(image)).save(tmp, format=Image.registered_extensions().get(path.suffix.lower()))
    return path


def forward_then_back(frames: Sequence | np.ndarray | torch.Tensor) -> list | np.ndarray | torch.Tensor:
    """A sequence played forward then back, without repeating its ends (``0..T-1, T-2..1``), so that
    it loops smoothly; it reads naturally for a sequence whose direction is ambiguous.  Works on a
    list (returns a list), an array or a tensor (concatenated along the first dimension)."""
    if isinstance(frames, torch.Tensor):
        return torch.cat([frames, frames.flip(0)[1:-1]])
    if isinstance(frames, np.ndarray):
        return np.concatenate([frames, frames[-2:0:-1]])
    frames = list(frames)
    return frames + frames[-2:0:-1]


def save_gif(path: str | os.PathLike, frames: torch.Tensor, fps: float = 7.0, bounce: bool = True) -> Path:
    """Write a sequence ``[T, C, H, W]`` as a looping GIF; ``bounce`` plays it forward then back
    (:func:`forward_then_back`)."""
    if frames.ndim != 4 or frames.shape[0] < 1:
        raise ValueError(f"save_gif expects frames [T, C, H, W] with T >= 1, got {tuple(frames.shape)}")
    images = [Image.fromarray(to_uint8(f)) for f in frames]
    if bounce:
        images = forward_then_back(images)
    path = Path(path)
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path


def load_plain(path: str | os.PathLike, what: str = "file") -> object:
    """``torch.load(path, weights_only=True)`` on the CPU, with a failure said in our words and naming
    the file: a file holding arbitrary Python objects (refused for safety: loading it could run
    code) or a damaged one.  Never torch's own advice to load the file unsafely."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, KeyError... by the damage
        text = str(exc)
        if "Weights only load failed" in text or "weights_only" in text:
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
            which = f" (here {found[1]})" if found else ""
            reason = (f"it holds arbitrary Python objects{which}, not only tensors and plain data, and is refused "
                      f"for safety")
        else:
            first = text.strip().splitlines()[0].split(". ")[0] if text.strip() else ""
            reason = "the file is damaged or not a PyTorch file (truncated?)" + (f": {first}" if len(first) > 8 else "")
        raise ValueError(f"{path}: not a loadable {what}: {reason}") from None


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """A matplotlib figure written atomically (its format from the suffix), then closed."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
