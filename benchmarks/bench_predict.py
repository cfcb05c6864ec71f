"""Latency of ``blur2vid predict`` on one photograph (default: 1280x720, the shipped model).

    python benchmarks/bench_predict.py                    # CPU (and CUDA when available)
    python benchmarks/bench_predict.py --size 720 1280 --tile 1280 --repeats 3 --checkpoint MODEL.pt
    python benchmarks/bench_predict.py --scale auto       # as blur2vid predict runs by default
    python benchmarks/bench_predict.py --scale auto --noise 4   # held to the denoised photograph

Times :func:`blur2vid.models.inference.predict_frames` after one warm-up call, with CUDA synchronisation,
at fp32 and bf16, and reports megapixels of input per second.  ``--scale`` defaults to 1 (the
network on every pixel: the measure that compares models); ``blur2vid predict`` runs ``auto``.
Name the processor beside any time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from blur2vid.app.predict import load_denoiser, load_predictor
from blur2vid.models.inference import predict_frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs=2, default=(720, 1280), metavar=("H", "W"))
    parser.add_argument("--tile", type=int, default=1280)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", default="1", help="the network sees the photograph shrunk by this (or auto)")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--noise", type=float, default=0.0,
                        help="a noise level in 8-bit levels: the shipped denoiser runs on every pixel too")
    parser.add_argument("--match-blur", action=argparse.BooleanOptionalAction, default=None,
                        help="hold the frames to the photograph (default: as the model file says)")
    parser.add_argument("--device", action="append", help="cpu, cuda (repeatable; default cpu and cuda if present)")
    parser.add_argument("--precision", action="append", choices=["fp32", "bf16"],
                        help="repeatable; default fp32 and bf16")
    args = parser.parse_args()
    devices = args.device or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    model, notes = load_predictor(args.checkpoint, args.match_blur)
    image = torch.rand(3, *args.size, generator=torch.Generator().manual_seed(0))
    print(f"model: {notes.get('arch')} ({sum(p.numel() for p in model.parameters()):,} parameters); "
          f"image {args.size[0]}x{args.size[1]}, tile {args.tile}, scale {args.scale}, noise {args.noise:g}")
    denoiser = load_denoiser() if args.noise > 0 else None
    scale = args.scale if args.scale == "auto" else float(args.scale)
    megapixels = args.size[0] * args.size[1] / 1e6
    for name in devices:
        device = torch.device(name)
        for precision in args.precision or ["fp32", "bf16"]:
            run = dict(device=device, tile=args.tile, progress=False, precision=precision, scale=scale,
                       noise=args.noise / 255, denoiser=denoiser)
            predict_frames(model, image, **run)  # warm-up
            times = []
            for _ in range(args.repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                predict_frames(model, image, **run)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times.append(time.perf_counter() - t0)
            median = statistics.median(times)
            print(f"{name:5s} {precision}: best {min(times):.3f} s, median {median:.3f} s per photograph, "
                  f"{megapixels / median:.2f} MP/s")


if __name__ == "__main__":
    main()
