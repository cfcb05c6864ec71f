"""Windows per second of ``blur2vid evaluate``: the shipped model and the blur copy on 160x240 crops.

    python benchmarks/bench_evaluate.py [--windows 96] [--precision auto] [--repeats 3] [--threads N]
                                        [--device cpu|cuda] [--csv FILE]

A video of a camera panning over a scikit-image photograph (200x300, written once into a temporary
folder) is cut into windows of 7 frames, one frame apart, centre-cropped to 160x240.  Reported, in
one process on this machine, as windows per second:

* the network alone (its working-scale input, a batch at a time), with channels-last input (as
  ``predict_batch`` runs it) and, beside it, contiguous input (before);
* the network with the hold (``predict_batch``, as ``blur2vid predict`` runs the model);
* the scoring of one batch (every convention, re-blur PSNR, SSIM) of the model's frames and of
  the blur copy, and beside SSIM and the conventions (the CPU's kernels) torch's versions of them
  (before, and still on a GPU);
* ``evaluate`` with every convention and with ``--no-ssim``: its own rate (reading, the network,
  every metric, the table written after each batch) and, beside it, end to end (the summary with
  its intervals and the figures too, a fixed cost).

Each part is timed ``--repeats`` times, interleaved, and its best time kept: a busy machine slows
every part alike only on average.  With ``--device cuda`` the network and its hold run on the GPU
and the scores stay on the CPU, as ``evaluate`` computes them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from blur2vid.app.evaluate import EvalConfig, evaluate, open_footage, score_windows  # noqa: E402
from blur2vid.app.predict import load_predictor  # noqa: E402
from blur2vid.core import metrics  # noqa: E402
from blur2vid.core.precision import autocast, resolve_precision  # noqa: E402
from blur2vid.models.inference import predict_batch, working_scale  # noqa: E402
from blur2vid.models.timing import _sync, device_name  # noqa: E402


def panning_video(path: Path, n_frames: int) -> Path:
    import imageio.v3 as iio
    import skimage.data

    scene = skimage.data.chelsea()  # 300x451
    frames = np.stack([scene[40:240, 20 + k: 320 + k] for k in range(n_frames)])
    iio.imwrite(path, frames, fps=30, codec="libx264", plugin="FFMPEG", macro_block_size=1)
    return path


def best(parts: dict, repeats: int, device: torch.device) -> dict[str, float]:
    """The best of ``repeats`` interleaved timings of each part, in seconds (the device synchronised),
    after one untimed call of each (the kernels' first call loads or compiles them)."""
    for f in parts.values():
        f()
    times = {k: [] for k in parts}
    for _ in range(repeats):
        for k, f in parts.items():
            t0 = time.perf_counter()
            f()
            _sync(device)
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=96)
    parser.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"])
    parser.add_argument("--device", default="cpu", help="where the network runs (the scores are computed on the CPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch's threads (default: its own); 1 where another job shares the cores")
    parser.add_argument("--csv", type=Path, default=None, help="also write the rates to this CSV")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precision = resolve_precision(args.precision, device.type)
    with tempfile.TemporaryDirectory() as tmp:
        video = panning_video(Path(tmp) / "pan.mp4", args.windows + 6)
        cfg = EvalConfig(stride=1, crop=(160, 240), precision=precision, device=str(device))
        footage = open_footage(str(video), cfg)
        loaded = [footage.load(j) for j in range(min(cfg.batch, len(footage.windows)))]
        blur, frames = torch.stack([b for b, _ in loaded]), torch.stack([f for _, f in loaded]).contiguous()
        n = len(blur)
        model, _ = load_predictor()
        net = model.net.to(device).eval()
        factor = working_scale(*blur.shape[-2:], "auto")
        small = F.interpolate(blur, size=[round(s / factor) for s in blur.shape[-2:]], mode="area").to(device)

        def network(layout):
            with autocast(precision, device):
                return net(small.contiguous(memory_format=layout))

        predict = lambda: predict_batch(model, blur, device=device, scale="auto", precision=precision,  # noqa: E731
                                        batch_size=cfg.batch)
        pred = predict()
        copy = blur[:, None].expand_as(frames)
        with torch.no_grad():
            parts = {
                "network (channels-last)": lambda: network(torch.channels_last),
                "network (contiguous, before)": lambda: network(torch.contiguous_format),
                "network + hold (predict_batch)": predict,
                "scoring, model and blur copy": lambda: (score_windows(pred, frames, blur, cfg.crf),
                                                         score_windows(copy, frames, blur, cfg.crf)),
                "scoring without SSIM": lambda: (score_windows(pred, frames, blur, cfg.crf, ssim=False),
                                                 score_windows(copy, frames, blur, cfg.crf, ssim=False)),
                "SSIM, model and blur copy": lambda: (metrics.ssim(pred, frames), metrics.ssim(copy, frames)),
                "SSIM by torch's maps (before)": lambda: (metrics.ssim_maps(pred, frames), metrics.ssim_maps(copy, frames)),
                "conventions, model and blur copy": lambda: (metrics.conventions(pred, frames),
                                                             metrics.conventions(copy, frames)),
                "conventions' errors by torch (before)": lambda: (metrics._squared_errors(pred, frames),
                                                                  metrics._squared_errors(copy, frames)),
            }
            times = best(parts, args.repeats, device)
        evaluate(str(video), ["default"], Path(tmp) / "warm", replace(cfg, max_windows=16), progress=False)  # imports
        whole = {}
        for label, run_cfg in (("evaluate, every convention", cfg), ("evaluate --no-ssim", replace(cfg, ssim=False))):
            t0 = time.perf_counter()
            result = evaluate(str(video), ["default"], Path(tmp) / label.replace(" ", "_"), run_cfg, progress=False)
            whole[label] = (time.perf_counter() - t0, result.info["windows"], result.info["windows_per_second_this_run"])
    where = f"{device_name(device)}, {torch.get_num_threads()} CPU thread(s)"
    print(f"{where}, torch {torch.__version__}, {precision}, 160x240 windows of 7 frames")
    rows = []
    for label, seconds in times.items():
        print(f"{label:34s} {n / seconds:7.1f} windows/s")
        rows.append({"part": label, "windows_per_second": n / seconds})
    for label, (seconds, windows, loop) in whole.items():  # the loop: what evaluate reports, before its tables
        print(f"{label:34s} {loop:7.1f} windows/s  ({windows} windows, with the blur copy; "
              f"{windows / seconds:.1f} with the summary and figures)")
        rows += [{"part": label, "windows_per_second": loop},
                 {"part": f"{label}, with the summary and figures", "windows_per_second": windows / seconds}]
    table = pd.DataFrame(rows).assign(device=where, precision=precision, windows=args.windows)
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
    return table


if __name__ == "__main__":
    main()
