"""Windows per second of ``blur2vid evaluate``: the shipped model and the blur copy on 160x240 crops.

    python benchmarks/bench_evaluate.py [--windows 96] [--precision auto]

A video of a camera panning over a scikit-image photograph (200x300, written once into a temporary
folder) is cut into windows of 7 frames, one frame apart, centre-cropped to 160x240, and scored by
every convention.  Timed: ``evaluate`` end to end (reading, the network in batches, every metric,
the tables written after each batch), and beside it the per-window path (``predict_frames`` on
each window, then the same scores of the model alone), in one process on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from blur2vid.app.evaluate import EvalConfig, evaluate, open_footage, score_windows  # noqa: E402
from blur2vid.app.predict import load_predictor  # noqa: E402
from blur2vid.core.precision import resolve_precision  # noqa: E402
from blur2vid.models.inference import predict_frames  # noqa: E402
from blur2vid.models.timing import device_name  # noqa: E402


def panning_video(path: Path, n_frames: int) -> Path:
    import imageio.v3 as iio
    import skimage.data

    scene = skimage.data.chelsea()  # 300x451
    frames = np.stack([scene[40:240, 20 + k: 320 + k] for k in range(n_frames)])
    iio.imwrite(path, frames, fps=30, codec="libx264", plugin="FFMPEG", macro_block_size=1)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=96)
    parser.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"])
    args = parser.parse_args(argv)
    precision = resolve_precision(args.precision, "cpu")
    with tempfile.TemporaryDirectory() as tmp:
        video = panning_video(Path(tmp) / "pan.mp4", args.windows + 6)
        cfg = EvalConfig(stride=1, crop=(160, 240), precision=precision)
        evaluate(str(video), ["default"], Path(tmp) / "warm", replace(cfg, max_windows=16), progress=False)  # imports
        t0 = time.perf_counter()
        result = evaluate(str(video), ["default"], Path(tmp) / "out", cfg, progress=False)
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate(str(video), ["default"], Path(tmp) / "fast", replace(cfg, ssim=False), progress=False)
        no_ssim = time.perf_counter() - t0
        footage = open_footage(str(video), cfg)
        model, _ = load_predictor()
        t0 = time.perf_counter()
        for j in range(len(footage.windows)):
            blur, frames = footage.load(j)
            pred = predict_frames(model, blur, progress=False, precision=precision)
            score_windows(pred[None], frames[None], blur[None], cfg.crf)
        single = time.perf_counter() - t0
    n = result.info["windows"]
    print(f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, {precision}, {n} windows of 160x240")
    print(f"blur2vid evaluate (batched, with the blur copy): {n / batched:.1f} windows/s")
    print(f"the same with --no-ssim:                         {n / no_ssim:.1f} windows/s")
    print(f"per window (predict_frames, the same scores):    {n / single:.1f} windows/s")


if __name__ == "__main__":
    main()
