"""At what size should the shipped model see a photograph?

The shipped model was trained on 64 px crops.  For held-out capture scenes of several sizes
(their motion in pixels as given, so a larger scene can blur as much of its frame as a small one
or as many pixels), this runs :func:`blur2vid.models.inference.predict_frames` at each ``scale`` (the
photograph shrunk by that factor for the network, its frames enlarged back and held to the
photograph at full size) and prints the middle frame over the blurry input and the mean pPSNR
over the blur copied to every frame, each with a 95% interval over the scenes, and ``auto``
(:func:`blur2vid.models.inference.working_scale`) paired against full size.  ``sideN`` in ``--scales`` is
the factor that brings the shorter side to N pixels (``auto`` is ``side128``).

    python benchmarks/scale_probe.py                       # the shipped model, 32 scenes a size
    python benchmarks/scale_probe.py --checkpoint results/train/RUN/model.pt --scenes 64
    python benchmarks/scale_probe.py --why                 # why full size fails (256 px, 24 px motion)
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from blur2vid.app.predict import load_predictor
from blur2vid.app.shipping import held_out_at_scales, intervals
from blur2vid.data.config import CAPTURES, DataConfig
from blur2vid.models.inference import predict_frames, working_scale
from blur2vid.models.timing import device_name

CASES = ((64, 12), (64, 24), (128, 24), (128, 48), (192, 24), (192, 72), (256, 24), (256, 96), (384, 48))


def scores(model, size: int, motion: float, scales: list, n: int) -> pd.DataFrame:
    """:func:`blur2vid.app.shipping.held_out_at_scales` per scene, its columns named by the ``scales``
    asked for (``sideN`` turned into the factor for this size)."""
    factors = [max(1.0, size / float(s[4:])) if str(s).startswith("side") else s for s in scales]
    table = held_out_at_scales(model, size, motion, list(dict.fromkeys(factors)), n)  # each factor once
    return pd.DataFrame({f"{kind} s={s}": table[f"{kind} s={f}"] for kind in ("middle", "mean")
                         for s, f in zip(scales, factors, strict=True)})


def why_full_size(model, size: int = 256, motion: float = 24.0, n: int = 32, block: int = 64) -> dict:
    """What the network at full size gets wrong on larger scenes: how smooth and how blurred they
    are against scenes of 64 px, its middle frame (no order to get wrong) over the blurry input and
    the share of pixels where it is worse, and its mean over the blur copy with the direction of
    time picked once per scene or once per ``block`` px block."""
    def mse(a, b):
        return ((a - b) ** 2).mean(dim=(-3, -2, -1))

    def db(e):
        return -10 * torch.log10(e)

    out = {}
    for s in (64, size):
        t = DataConfig(family=CAPTURES, size=s, max_shift=motion).test_set(n, "cpu", "shipping")
        middle = t.frames[:, t.frames.shape[1] // 2].float()
        out[f"{s} px: mean horizontal gradient"] = float((middle[..., 1:] - middle[..., :-1]).abs().mean())
        out[f"{s} px: blur copy, middle frame (dB)"] = float(db(mse(t.blur.float(), middle)).mean())
    frames, blur = t.frames.float(), t.blur.float()
    pred = torch.stack([predict_frames(model, b, progress=False) for b in blur])
    mid = frames.shape[1] // 2
    out["middle over the blurry input (dB)"] = float((db(mse(pred[:, mid], frames[:, mid]))
                                                      - db(mse(blur, frames[:, mid]))).mean())
    out["pixels where the middle frame is worse"] = float((((pred[:, mid] - frames[:, mid]) ** 2).mean(1)
                                                           > ((blur - frames[:, mid]) ** 2).mean(1)).float().mean())

    def best(p, f):
        return torch.minimum(mse(p, f).mean(1), mse(p.flip(1), f).mean(1))

    copy = db(mse(blur[:, None].expand_as(frames), frames).mean(1))
    per_block = torch.stack([best(pred[..., y:y + block, x:x + block], frames[..., y:y + block, x:x + block])
                             for y in range(0, size, block) for x in range(0, size, block)], 1).mean(1)
    out["mean over the blur copy, one direction per scene (dB)"] = float((db(best(pred, frames)) - copy).mean())
    out[f"same, one direction per {block} px block (dB)"] = float((db(per_block) - copy).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="a model file (default: the shipped model)")
    ap.add_argument("--scenes", type=int, default=32)
    ap.add_argument("--scales", default="1,2,4,auto", help="comma-separated factors, auto, or sideN")
    ap.add_argument("--cases", default=None, help="size:motion pairs, comma-separated (default: a spread of nine)")
    ap.add_argument("--out", default=None, help="write the table as CSV here too")
    ap.add_argument("--why", action="store_true", help="only say what the network gets wrong at full size")
    args = ap.parse_args()
    torch.manual_seed(0)
    model, _ = load_predictor(args.checkpoint)
    if args.why:
        for key, value in why_full_size(model, n=args.scenes).items():
            print(f"{key}: {value:.3f}")
        return
    scales = [s if s == "auto" or s.startswith("side") else float(s) for s in args.scales.split(",")]
    cases = CASES if args.cases is None else [tuple(float(v) for v in c.split(":")) for c in args.cases.split(",")]
    print(f"{device_name('cpu')}, {args.scenes} held-out capture scenes a size; middle frame over the blurry input (dB)")
    rows = []
    for size, motion in cases:
        size = int(size)
        t0 = time.perf_counter()
        got = scores(model, size, motion, scales, args.scenes)
        if "auto" in scales and 1.0 in scales:
            got["middle auto - s=1 (paired)"] = got["middle s=auto"] - got["middle s=1.0"]
        row = {"size": size, "motion_px": motion, "auto_scale": round(working_scale(size, size), 2)}
        row.update({c: f"{iv['mean']:+.2f} [{iv['low']:+.2f}, {iv['high']:+.2f}]" for c, iv in intervals(got).iterrows()})
        rows.append(row)
        print(" | ".join(f"{k}: {v}" for k, v in row.items()), f"({time.perf_counter() - t0:.0f} s)", flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
