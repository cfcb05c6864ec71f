"""Throughput of the datasets on disk (blur2vid.data) and of FolderSource's batches, in windows per second.

    python benchmarks/bench_loaders.py                       # 64 frames at 256x256, 7-frame windows
    python benchmarks/bench_loaders.py --frames 128 --size 512 --repeats 5 --threads 1

Writes a synthetic high-speed clip (a crop of a scikit-image photograph panning 2 pixels per frame)
into a temporary folder, once as numbered PNGs and once as an H.264 mp4 (imageio, libx264), then
reads every sliding window (``stride=1``) through

* ``FrameFolderDataset``: 7 PNG decodes per window, nothing cached between windows;
* ``FrameFolderDataset`` with ``downsample=0.45`` (Jin's preprocessing);
* ``VideoDataset``: cold (construction probes the file, the first window decodes the whole video)
  and warm (the decoded video is cached in memory);
* ``FolderSource.batch(8, seed)`` over the PNG folder: 96x96 random crops (smaller for small
  ``--size``) of random windows after ``downsample=0.45`` (what the experiments read with a ``data_root``).

Each window also synthesises its blur (``synthesize_blur``, gamma 2.2).  Reports the best and the
median of ``--repeats`` passes; the temporary folder is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

from blur2vid.data.frame_folders import FrameFolderDataset
from blur2vid.data.scenes import SceneConfig
from blur2vid.data.source import FolderSource
from blur2vid.data.video import VideoDataset


def make_clip(n: int, size: int, shift: int = 2) -> np.ndarray:
    """``n`` frames ``uint8 [n, size, size, 3]`` of a photograph panning ``shift`` pixels a frame."""
    image = skdata.astronaut()
    need = size + shift * n
    if min(image.shape[:2]) < need:
        reps = -(-need // min(image.shape[:2]))
        image = np.tile(image, (reps, reps, 1))
    return np.stack([image[k * shift // 2 : k * shift // 2 + size, k * shift : k * shift + size] for k in range(n)])


def rate(fn, count: int, repeats: int) -> tuple[float, float]:
    """(best, median) of ``count / seconds`` over ``repeats`` calls of ``fn``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        rates.append(count / (time.perf_counter() - start))
    return max(rates), statistics.median(rates)


def read_all(ds) -> None:
    for i in range(len(ds)):
        ds[i]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=64, help="frames in the clip (default 64)")
    parser.add_argument("--size", type=int, default=256, help="frame height and width (default 256)")
    parser.add_argument("--n-frames", type=int, default=7, help="frames per window (default 7)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    clip = make_clip(args.frames, args.size)
    n = args.n_frames
    with tempfile.TemporaryDirectory(prefix="bench_loaders_") as tmp:
        root = Path(tmp)
        folder = root / "frames" / "clip"
        folder.mkdir(parents=True)
        for k, frame in enumerate(clip):
            Image.fromarray(frame).save(folder / f"{k:06d}.png")
        video = root / "clip.mp4"
        iio.imwrite(video, clip, plugin="FFMPEG", fps=240, codec="libx264", quality=8, macro_block_size=1)
        png_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
        print(f"clip: {args.frames} frames {args.size}x{args.size}; PNGs {png_mb:.1f} MB, mp4 {video.stat().st_size / 2**20:.2f} MB; "
              f"windows of {n} frames, stride 1")
        print(f"{'source':<48} {'windows':>7} {'best win/s':>11} {'median':>8}")

        def show(label: str, count: int, best: float, median: float) -> None:
            print(f"{label:<48} {count:>7} {best:>11.1f} {median:>8.1f}")

        ds = FrameFolderDataset(root / "frames", n_frames=n, stride=1, split="all")
        show("FrameFolderDataset (PNG)", len(ds), *rate(lambda: read_all(ds), len(ds), args.repeats))

        jin = FrameFolderDataset(root / "frames", n_frames=n, stride=1, split="all", downsample=0.45)
        show("FrameFolderDataset, downsample 0.45", len(jin), *rate(lambda: read_all(jin), len(jin), args.repeats))

        def cold() -> None:
            read_all(VideoDataset(video, n_frames=n, stride=1, split="all"))

        count = args.frames - n + 1
        show("VideoDataset (mp4), cold: probe + decode", count, *rate(cold, count, args.repeats))
        vds = VideoDataset(video, n_frames=n, stride=1, split="all")
        vds[0]
        show("VideoDataset (mp4), warm: cached", len(vds), *rate(lambda: read_all(vds), len(vds), args.repeats))

        crop = min(96, round(args.size * 0.45))
        source = FolderSource(folder, SceneConfig(height=crop, width=crop, n_frames=n), downsample=0.45, stride=1)
        n_batches = -(-len(ds) // 8)

        def batches() -> None:
            for seed in range(n_batches):
                source.batch(8, seed)

        show(f"FolderSource.batch(8), downsample 0.45, crop {crop}", 8 * n_batches,
             *rate(batches, 8 * n_batches, args.repeats))


if __name__ == "__main__":
    main()
