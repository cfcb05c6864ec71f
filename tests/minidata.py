"""Miniature datasets on disk for the loader tests: numbered frame folders, video files, RB2V.

Shared by ``test_datasets.py`` and ``test_source.py`` (pytest puts ``tests/`` on ``sys.path``)."""

import json

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image

RNG = np.random.default_rng(0)


def arrays(n: int, h: int = 16, w: int = 16) -> list[np.ndarray]:
    """``n`` random ``uint8 [h, w, 3]`` images."""
    return [RNG.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def write_seq(folder, numbers, pattern="{:06d}.png", size=(16, 16)):
    """One random PNG per frame number in ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in numbers:
        path = folder / pattern.format(k)
        Image.fromarray(arrays(1, *size)[0]).save(path)
        paths.append(path)
    return paths


def pixels(path) -> torch.Tensor:
    """An image file as ``[3, H, W]`` floats in ``[0, 1]``."""
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)


def write_video(path, frames, **kw):
    """``frames`` (``uint8 [H, W, 3]`` each) as a video at 10 fps (libx264 unless ``codec=``)."""
    kw.setdefault("codec", "libx264")
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.stack(frames), plugin="FFMPEG", fps=10, macro_block_size=1, **kw)
    return path


def smooth_frames(n, h=16, w=16):
    """``n`` smooth moving gradients (compress well: lossy codecs stay close to them)."""
    y, x = np.mgrid[0:h, 0:w]
    return [np.stack([(x * 12 + 8 * k) % 256, (y * 12 + 4 * k) % 256, np.full((h, w), 128)], -1).astype(np.uint8)
            for k in range(n)]


def rb2v(root, samples, n=7, name="Street", size=(16, 16)):
    """An RB2V ``metadata.json`` and its images; ``samples`` are ``(id "SEQ/K", order, partition)``."""
    data = []
    for sid, order, partition in samples:
        seq, k = sid.split("/")
        entry = {"id": sid, "order": order, "partition": partition, "blur_path": f"{seq}/blur/{k}.png"}
        write_seq(root / seq / "blur", [int(k)], pattern="{:04d}.png", size=size)
        for t in range(1, n + 1):
            write_seq(root / seq / "sharp", [t], pattern=f"{k}_{{}}.png", size=size)
            entry[f"frame{t:03d}_path"] = f"{seq}/sharp/{k}_{t}.png"
        data.append(entry)
    meta = {"name": name, "frame_per_seq": n, "data": data}
    (root / "metadata.json").write_text(json.dumps(meta))
    return meta
