"""Throughput of the procedural scene renderer (blur2vid.data.scenes), in scenes per second.

    python benchmarks/bench_scenes.py                      # CPU, and CUDA when available
    python benchmarks/bench_scenes.py --device cpu --batch 64 --repeats 5 --threads 1

Renders default scenes (7 frames, 3 sub-frames each, 1-4 sprites, camera pan) at 64x64 and 256x256.
Each measurement follows a warm-up render (texture bank built, caches filled); CUDA timings are
bracketed by ``torch.cuda.synchronize``.  Reports the best and the median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from blur2vid.data.scenes import SceneConfig, render_scenes


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench(config: SceneConfig, batch: int, repeats: int, device: str) -> tuple[float, float]:
    """Scenes per second (best, median) of ``render_scenes(config, batch, seed, device)``."""
    render_scenes(config, batch, seed=0, device=device)  # warm-up
    _sync(device)
    rates = []
    for r in range(repeats):
        _sync(device)
        start = time.perf_counter()
        render_scenes(config, batch, seed=r + 1, device=device)
        _sync(device)
        rates.append(batch / (time.perf_counter() - start))
    return max(rates), statistics.median(rates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", action="append", help="cpu, cuda, cuda:1 ... (repeatable; default: cpu and cuda if available)")
    parser.add_argument("--batch", type=int, default=64, help="scenes per render call at 64x64 (default 64)")
    parser.add_argument("--batch-large", type=int, default=None, help="scenes per call at 256x256 (default batch/4)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    print(f"{'device':<8} {'size':>9} {'batch':>6} {'best scenes/s':>14} {'median':>9}")
    for device in devices:
        for size in args.sizes:
            config = SceneConfig(height=size, width=size)
            batch = args.batch if size <= 64 else (args.batch_large or max(1, args.batch // 4))
            best, median = bench(config, batch, args.repeats, device)
            print(f"{device:<8} {f'{size}x{size}':>9} {batch:>6} {best:>14.1f} {median:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
