"""At what size should the shipped model see a photograph?

The shipped model was trained on 64 px crops.  For held-out capture scenes of several sizes
(their motion in pixels as given, so a larger scene can blur as much of its frame as a small one
or as many pixels), this runs :func:`blur2vid.inference.predict_frames` at each ``scale`` (the
photograph shrunk by that factor for the network, its frames enlarged back and held to the
photograph at full size) and prints the middle frame over the blurry input and the mean pPSNR
over the blur copied to every frame, each with a 95% interval over the scenes, and ``auto``
(:func:`blur2vid.inference.working_scale`) paired against full size.  ``sideN`` in ``--scales`` is
the factor that brings the shorter side to N pixels (``auto`` is ``side128``).

    python benchmarks/scale_probe.py                       # the shipped model, 32 scenes a size
    python benchmarks/scale_probe.py --checkpoint results/train/RUN/model.pt --scenes 64
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from blur2vid.benchmark import device_name
from blur2vid.experiments.intervals import hierarchical_bootstrap
from blur2vid.inference import working_scale
from blur2vid.predict import load_predictor
from blur2vid.shipping import held_out_at_scales

CASES = ((64, 12), (64, 24), (128, 24), (128, 48), (192, 24), (192, 72), (256, 24), (256, 96), (384, 48))


def scores(model, size: int, motion: float, scales: list, n: int) -> dict:
    """Per scale: the middle frame over the blurry input and the mean over the blur copy, per scene."""
    factors = [max(1.0, size / float(s[4:])) if str(s).startswith("side") else s for s in scales]
    table = held_out_at_scales(model, size, motion, factors, n)
    return {s: (torch.tensor(table[f"middle s={f}"].to_numpy()), torch.tensor(table[f"mean s={f}"].to_numpy()))
            for s, f in zip(scales, factors, strict=True)}


def _interval(values: torch.Tensor) -> str:
    iv = hierarchical_bootstrap([values.double().numpy()])
    return f"{iv.estimate:+.2f} [{iv.low:+.2f}, {iv.high:+.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="a model file (default: the shipped model)")
    ap.add_argument("--scenes", type=int, default=32)
    ap.add_argument("--scales", default="1,2,4,auto", help="comma-separated factors, auto, or sideN")
    ap.add_argument("--cases", default=None, help="size:motion pairs, comma-separated (default: a spread of nine)")
    ap.add_argument("--out", default=None, help="write the table as CSV here too")
    args = ap.parse_args()
    torch.manual_seed(0)
    model, _ = load_predictor(args.checkpoint)
    scales = [s if s == "auto" or s.startswith("side") else float(s) for s in args.scales.split(",")]
    cases = CASES if args.cases is None else [tuple(float(v) for v in c.split(":")) for c in args.cases.split(",")]
    print(f"{device_name('cpu')}, {args.scenes} held-out capture scenes a size; middle frame over the blurry input (dB)")
    rows = []
    for size, motion in cases:
        size = int(size)
        t0 = time.perf_counter()
        got = scores(model, size, motion, scales, args.scenes)
        row = {"size": size, "motion_px": motion, "auto_scale": round(working_scale(size, size), 2)}
        row.update({f"middle s={s}": _interval(got[s][0]) for s in scales})
        row.update({f"mean s={s}": _interval(got[s][1]) for s in scales})
        if "auto" in got and 1.0 in got:
            row["middle auto - s=1 (paired)"] = _interval(got["auto"][0] - got[1.0][0])
        rows.append(row)
        print(" | ".join(f"{k}: {v}" for k, v in row.items()), f"({time.perf_counter() - t0:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
